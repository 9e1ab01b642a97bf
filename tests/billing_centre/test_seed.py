"""manage.py seed_demo and seed_bench create what the demo and the benchmarks rely on."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import AuditEvent, BillingPlan, Company, InvoiceDelivery, Membership, Role, ShippingAccount, User
from billing_centre.seed import DEMO_PASSWORD
from billing_centre.seed.bench import BENCH_ADMIN, BENCH_COMPANY
from disputes.models import Dispute, DisputeEvent, DisputeStatus
from invoices.models import Invoice, InvoiceLine, InvoiceStatus, LineKind, Shipment
from invoices.selectors import invoice_list_visible
from payments.autopay import autopay_preview
from payments.models import AutoPaySchedule, MethodKind, Payment, PaymentAllocation, PaymentMethod, PaymentStatus
from payments.selectors import wallet_split

pytestmark = pytest.mark.django_db

COMPANY = "한빛물산 주식회사"
SECOND_COMPANY = "서울로지스 주식회사"


@pytest.fixture
def demo(capsys):
    call_command("seed_demo")
    return capsys.readouterr().out


def _all_counts() -> dict[str, int]:
    models = [
        model
        for label in ("accounts", "invoices", "payments", "disputes", "auth", "account")
        for model in apps.get_app_config(label).get_models()
    ]
    counts = {model._meta.label: model.objects.count() for model in models}
    counts["membership.accounts"] = Membership.accounts.through.objects.count()
    counts["membership.plans"] = Membership.plans.through.objects.count()
    counts["group.permissions"] = Group.permissions.through.objects.count()
    return counts


def test_seed_demo_creates_two_companies_with_korean_names_and_addresses(demo):
    companies = Company.objects.filter(name__in=[COMPANY, SECOND_COMPANY])
    assert companies.count() == 2
    for company in companies:
        assert re.search(r"[가-힣]", company.name) and re.search(r"[가-힣]", company.address)


def test_seed_demo_accounts_have_valid_numbers_and_billing_contacts(demo):
    accounts = ShippingAccount.objects.all()
    assert accounts.count() >= 5
    for account in accounts:
        assert re.fullmatch(r"[A-Z0-9]{6}|[0-9]{10}", account.number)
        assert account.billing_contact_phone and account.billing_contact_email


def test_seed_demo_has_a_temporary_account_owned_by_a_company(demo):
    temporary = [a for a in ShippingAccount.objects.select_related("company") if a.is_temporary]
    assert len(temporary) == 1
    assert re.fullmatch(r"[0-9]{10}", temporary[0].number)
    assert temporary[0].company.name == COMPANY
    assert temporary[0].invoices.exists()


def test_seed_demo_has_one_paper_account_and_the_others_paperless_since_a_date(demo):
    paper = ShippingAccount.objects.filter(invoice_delivery=InvoiceDelivery.PAPER)
    assert paper.count() == 1
    assert paper.get().paperless_since is None
    paperless = ShippingAccount.objects.filter(invoice_delivery=InvoiceDelivery.PAPERLESS)
    assert paperless.exists()
    assert not paperless.filter(paperless_since__isnull=True).exists()


def test_seed_demo_has_a_us_account_billed_in_usd(demo):
    account = ShippingAccount.objects.get(country="US")
    assert account.currency == "USD"
    assert account.company.name == COMPANY
    invoices = account.invoices.all()
    assert invoices.exists()
    assert set(invoices.values_list("currency", flat=True)) == {"USD"}
    assert not InvoiceLine.objects.filter(invoice__account=account, kind=LineKind.TAX).exists()


def test_seed_demo_has_a_plan_grouping_two_accounts_with_its_own_invoices(demo):
    plan = BillingPlan.objects.annotate(n=Count("accounts")).get(n__gte=2)
    assert re.fullmatch(r"P[0-9]{7}", plan.number)
    assert plan.company.name == COMPANY
    assert plan.invoices.count() >= 12
    # Plan invoices bill shipments of the plan's accounts.
    shipment_accounts = set(Shipment.objects.filter(lines__invoice__plan=plan).values_list("account__plan", flat=True))
    assert shipment_accounts == {plan.pk}


def test_seed_demo_invoices_cover_about_fourteen_months_with_shipments(demo):
    today = timezone.localdate()
    account = ShippingAccount.objects.get(number="4X7R21")
    regular = account.invoices.exclude(status=InvoiceStatus.CREDIT)
    assert regular.count() == 14
    dates = sorted(regular.values_list("invoice_date", flat=True))
    assert (today - dates[0]).days > 365
    assert dates[-1] <= today
    for invoice in Invoice.objects.exclude(status=InvoiceStatus.CREDIT).prefetch_related("lines__shipment"):
        shipments = {line.shipment for line in invoice.lines.all() if line.kind == LineKind.SHIPMENT}
        assert 2 <= len(shipments) <= 6
        month_end = invoice.invoice_date.replace(day=1) - datetime.timedelta(days=1)
        for shipment in shipments:
            assert re.fullmatch(r"1Z[0-9A-Z]{16}", shipment.tracking_number)
            assert (shipment.ship_date.year, shipment.ship_date.month) == (month_end.year, month_end.month)
            assert shipment.service in Shipment.Service.values
            assert shipment.weight_kg > 0
            assert shipment.origin and shipment.destination
        assert invoice.due_date - invoice.invoice_date in (datetime.timedelta(14), datetime.timedelta(30))
        assert re.fullmatch(r"[A-Z0-9]{8}", invoice.control_id)


def test_seed_demo_invoice_totals_equal_the_sum_of_their_lines(demo):
    invoices = Invoice.objects.annotate(line_sum=Sum("lines__amount"))
    assert invoices.count() > 100
    for invoice in invoices:
        assert invoice.total == invoice.line_sum, invoice.number


def test_seed_demo_amount_paid_equals_the_succeeded_allocations(demo):
    invoices = Invoice.objects.annotate(
        allocated=Sum("allocations__amount", filter=Q(allocations__payment__status=PaymentStatus.SUCCEEDED))
    )
    for invoice in invoices:
        assert invoice.amount_paid == (invoice.allocated or Decimal(0)), invoice.number
    # The historical payments (settled); the demo's scheduled payment is tested on its own.
    payments = Payment.objects.filter(idempotency_key__startswith="seed-demo:")
    assert payments.exists()
    assert not payments.exclude(status=PaymentStatus.SUCCEEDED, gateway="simulated").exists()
    assert not Payment.objects.exclude(status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.SCHEDULED]).exists()
    assert payments.values("reference").distinct().count() == payments.count()
    assert payments.values("idempotency_key").distinct().count() == payments.count()
    for payment in payments.annotate(allocated=Sum("allocations__amount")):
        assert payment.amount == payment.allocated


def test_seed_demo_has_paid_partly_paid_credit_open_and_past_due_invoices(demo):
    today = timezone.localdate()
    assert Invoice.objects.filter(status=InvoiceStatus.PAID).count() > 50
    assert Invoice.objects.filter(status=InvoiceStatus.OPEN, amount_paid__gt=0).exists()
    assert Invoice.objects.filter(status=InvoiceStatus.CREDIT, balance__lt=0).exists()
    assert Invoice.objects.past_due(today).count() >= 2
    due_soon = Invoice.objects.filter(
        status=InvoiceStatus.OPEN, due_date__gte=today, due_date__lte=today + datetime.timedelta(days=7)
    )
    assert due_soon.exists()
    # The latest invoice of every account and plan is open (unpaid or partly paid).
    for billable in [*ShippingAccount.objects.all(), *BillingPlan.objects.all()]:
        latest = billable.invoices.exclude(status=InvoiceStatus.CREDIT).order_by("-invoice_date").first()
        assert latest.status == InvoiceStatus.OPEN, billable.number


def test_seed_demo_adds_late_fees_and_korean_surcharges_and_vat(demo):
    today = timezone.localdate()
    late = Invoice.objects.filter(lines__kind=LineKind.LATE_FEE).distinct()
    assert late.count() >= 3
    assert set(InvoiceLine.objects.filter(kind=LineKind.LATE_FEE).values_list("description", flat=True)) == {
        "연체 요금"
    }
    # Every late fee is on an invoice that is past due or was paid after its due date.
    for invoice in late.prefetch_related("allocations__payment"):
        settled = [a.payment.settled_at for a in invoice.allocations.all()]
        past_due = invoice.status == InvoiceStatus.OPEN and invoice.due_date < today
        paid_late = bool(settled) and max(timezone.localtime(s).date() for s in settled) > invoice.due_date
        assert past_due or paid_late, invoice.number
    assert InvoiceLine.objects.filter(kind=LineKind.SURCHARGE, description="유류할증료").exists()
    assert InvoiceLine.objects.filter(kind=LineKind.SURCHARGE, description__startswith="도서산간 지역 할증").exists()
    kr_invoices = Invoice.objects.filter(currency="KRW").exclude(status=InvoiceStatus.CREDIT)
    for invoice in kr_invoices.prefetch_related("lines"):
        taxes = [line for line in invoice.lines.all() if line.kind == LineKind.TAX]
        assert len(taxes) == 1
        taxable = sum(
            line.amount for line in invoice.lines.all() if line.kind in (LineKind.SHIPMENT, LineKind.SURCHARGE)
        )
        assert abs(taxes[0].amount - taxable * Decimal("0.1")) <= 1


def test_seed_demo_print_fees_only_on_paper_invoices_from_2024_12_29(demo):
    fees = InvoiceLine.objects.filter(kind=LineKind.PRINT_FEE).select_related("invoice__account")
    assert fees.exists()
    for fee in fees:
        assert fee.description == "청구서 인쇄 수수료"
        assert fee.amount == Decimal("13000")
        assert fee.invoice.account.invoice_delivery == InvoiceDelivery.PAPER
        assert fee.invoice.invoice_date >= datetime.date(2024, 12, 29)
    paper = ShippingAccount.objects.get(invoice_delivery=InvoiceDelivery.PAPER)
    on_or_after = paper.invoices.filter(invoice_date__gte=datetime.date(2024, 12, 29))
    assert on_or_after.count() == fees.count()


def test_seed_demo_invoice_numbers_are_unique_and_stable(demo):
    numbers = list(Invoice.objects.order_by("number").values_list("number", flat=True))
    assert len(numbers) == len(set(numbers))
    # Numbers come from the account number and the month only, so a re-seed reproduces them.
    account = ShippingAccount.objects.get(number="4X7R21")
    latest = account.invoices.exclude(status=InvoiceStatus.CREDIT).order_by("-invoice_date").first()
    assert latest.number == f"00004X7R21{latest.invoice_date:%y%m}1"


def test_seed_demo_creates_one_user_per_role_a_second_admin_and_billing_staff(demo):
    company = Company.objects.get(name=COMPANY)
    roles = list(Membership.objects.filter(company=company).values_list("role", flat=True))
    assert roles.count(Role.ADMINISTRATOR) == 2
    for role in (Role.MANAGER, Role.PAYER, Role.VIEWER):
        assert roles.count(role) == 1
        membership = Membership.objects.get(company=company, role=role)
        assert membership.accounts.exists()
        assert membership.accounts.count() < company.shippingaccounts.count()
    assert Membership.objects.filter(
        company=company, role__in=[Role.MANAGER, Role.VIEWER], plans__isnull=False
    ).exists()
    assert Membership.objects.get(company__name=SECOND_COMPANY).role == Role.ADMINISTRATOR
    staff = User.objects.get(username="billing_staff")
    assert staff.is_staff and not staff.is_superuser
    group = staff.groups.get(name="Billing staff")
    codenames = set(group.permissions.values_list("content_type__app_label", "codename"))
    for app in ("accounts", "invoices", "payments", "disputes"):
        for model in apps.get_app_config(app).get_models():
            for action in ("view", "change"):
                assert (app, f"{action}_{model._meta.model_name}") in codenames
    assert not any(code.startswith("delete_") for _, code in codenames)
    for user in User.objects.all():
        assert re.search(r"[가-힣]", user.name)


def test_seed_demo_users_can_log_in_with_the_demo_password(demo, client):
    users = list(User.objects.all())
    assert len(users) >= 7
    for user in users:
        assert EmailAddress.objects.filter(user=user, email=user.email, verified=True).exists()
        assert client.login(username=user.username, password=DEMO_PASSWORD), user.username
        client.logout()


def test_seed_demo_staff_user_can_open_the_admin(demo, client):
    assert client.login(username="billing_staff", password=DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_seed_demo_prints_the_demo_logins(demo):
    assert DEMO_PASSWORD in demo
    for username in (
        "hanbit_admin",
        "hanbit_admin2",
        "hanbit_manager",
        "hanbit_payer",
        "hanbit_viewer",
        "seoul_admin",
        "billing_staff",
    ):
        assert username in demo
    assert COMPANY in demo


def test_seed_demo_second_run_changes_nothing(demo, capsys):
    before = _all_counts()
    snapshot = list(Invoice.objects.order_by("number").values_list("number", "total", "amount_paid", "control_id"))
    call_command("seed_demo")
    assert "nothing changed" in capsys.readouterr().out
    assert _all_counts() == before
    assert (
        list(Invoice.objects.order_by("number").values_list("number", "total", "amount_paid", "control_id")) == snapshot
    )


def test_seed_demo_wallet_has_a_default_card_an_expired_card_a_bank_debit_and_kakaopay(demo):
    today = timezone.localdate()
    company = Company.objects.get(name=COMPANY)
    methods = list(PaymentMethod.objects.filter(company=company))
    current, expired = wallet_split(methods, today=today)
    assert [(m.brand, m.last4) for m in expired] == [("Mastercard", "4444")]
    default = PaymentMethod.objects.get(company=company, is_default=True)
    assert (default.kind, default.brand, default.last4) == (MethodKind.CREDIT_CARD, "Visa", "4242")
    assert default in current and (default.exp_year, default.exp_month) >= (today.year + 3, today.month)
    kinds = {(m.kind, m.brand) for m in current}
    assert (MethodKind.BANK_DEBIT, "KB국민은행") in kinds
    assert (MethodKind.ONLINE_SERVICE, "KakaoPay") in kinds
    for method in methods:
        # Simulated gateway tokens only; never a card number.
        assert method.gateway == "simulated" and method.gateway_token.startswith("simtok_ok_")
        assert len(method.last4) <= 4
    # Added through the wallet service: one audit event each, by the Administrator.
    added = AuditEvent.objects.filter(action="wallet.method_added", company=company)
    assert added.count() == len(methods)
    assert set(added.values_list("actor__username", flat=True)) == {"hanbit_admin"}
    second = PaymentMethod.objects.filter(company__name=SECOND_COMPANY)
    assert [(m.kind, m.is_default) for m in second] == [(MethodKind.CREDIT_CARD, True)]


def test_seed_demo_autopay_schedule_is_live_with_a_next_run(demo):
    today = timezone.localdate()
    schedule = AutoPaySchedule.objects.select_related("account", "method", "created_by").get(account__number="4X7R21")
    assert schedule.status == AutoPaySchedule.Status.ACTIVE
    assert schedule.amount_mode == AutoPaySchedule.AmountMode.UP_TO_LIMIT and schedule.limit_amount > 0
    assert (schedule.timing, schedule.days_before_due) == (AutoPaySchedule.Timing.DAYS_BEFORE_DUE, 3)
    assert schedule.created_by.username == "hanbit_admin" and schedule.consent_at and schedule.terms_version
    assert schedule.method.is_default
    preview = autopay_preview(schedule, today=today)
    assert preview.to_pay, "the account's latest open invoice is paid by the schedule"
    assert preview.next_run is not None and today <= preview.next_run <= today + datetime.timedelta(days=7)
    assert AuditEvent.objects.filter(action="autopay.created", target_id=str(schedule.pk)).count() == 1


def test_seed_demo_has_a_scheduled_one_time_payment_for_an_open_invoice(demo):
    today = timezone.localdate()
    payment = Payment.objects.get(status=PaymentStatus.SCHEDULED)
    allocation = payment.allocations.select_related("invoice").get()
    assert allocation.invoice.status == InvoiceStatus.OPEN
    assert today < payment.scheduled_for <= allocation.invoice.due_date
    assert payment.amount == allocation.amount == allocation.invoice.balance
    assert payment.method.is_default and payment.created_by.username == "hanbit_admin"
    assert payment.settled_at is None and not payment.gateway_reference


def test_seed_demo_has_submitted_partly_approved_and_rejected_disputes(demo, client):
    disputes = {d.status: d for d in Dispute.objects.select_related("invoice", "filed_by", "credit_line")}
    assert set(disputes) == {DisputeStatus.SUBMITTED, DisputeStatus.PARTLY_APPROVED, DisputeStatus.REJECTED}

    submitted = disputes[DisputeStatus.SUBMITTED]
    assert submitted.filed_by.username == "hanbit_payer" and submitted.comment
    assert submitted.invoice.status == InvoiceStatus.OPEN
    assert submitted.items.get().line.kind == LineKind.SHIPMENT
    assert invoice_list_visible(user=submitted.filed_by).filter(pk=submitted.invoice_id).exists()

    partial = disputes[DisputeStatus.PARTLY_APPROVED]
    assert 0 < partial.credit_granted < partial.disputed_amount
    assert partial.decided_by.username == "billing_staff" and partial.decision_reason
    line = partial.credit_line
    assert line.invoice_id == partial.invoice_id and line.kind == LineKind.ADJUSTMENT
    assert line.amount == -partial.credit_granted
    invoice = partial.invoice
    invoice.refresh_from_db()
    assert invoice.total == invoice.lines.aggregate(s=Sum("amount"))["s"]
    assert list(DisputeEvent.objects.filter(dispute=partial).values_list("to_status", flat=True)) == [
        DisputeStatus.SUBMITTED,
        DisputeStatus.UNDER_REVIEW,
        DisputeStatus.PARTLY_APPROVED,
    ]

    rejected = disputes[DisputeStatus.REJECTED]
    assert rejected.credit_granted == 0 and rejected.credit_line is None and rejected.decision_reason
    for decided in (partial, rejected):
        reply = decided.messages.get()
        assert reply.author.is_staff and not reply.internal
        assert decided.created_at < decided.decided_at
    # The customer sees the decision, the credit and the staff reply on the dispute page.
    assert client.login(username="hanbit_admin", password=DEMO_PASSWORD)
    page = client.get(f"/disputes/{partial.reference}/")
    assert page.status_code == 200
    assert partial.messages.get().body in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_writes_no_e_mail_to_its_output_even_with_the_console_backend(capsys, settings):
    # A real transaction, so the services' after-commit e-mails (dispute notices) are really sent.
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert Dispute.objects.count() == 3
    assert "Subject:" not in out and "Content-Type:" not in out
    assert "hanbit_admin" in out


def test_seed_bench_creates_invoices_with_lines_and_shipments(capsys):
    call_command("seed_bench", invoices=300, accounts=50, batch=120)
    bench = Invoice.objects.filter(number__startswith="BN")
    assert bench.count() == 300
    assert InvoiceLine.objects.filter(invoice__in=bench).count() == 900
    assert Shipment.objects.filter(lines__invoice__in=bench).distinct().count() == 600
    for invoice in bench.annotate(line_sum=Sum("lines__amount")):
        assert invoice.total == invoice.line_sum
    paid = bench.filter(status=InvoiceStatus.PAID)
    assert paid.exists() and bench.filter(status=InvoiceStatus.OPEN).exists()
    allocated = PaymentAllocation.objects.filter(invoice__in=bench).aggregate(s=Sum("amount"))["s"]
    assert allocated == bench.aggregate(s=Sum("amount_paid"))["s"]
    assert "Added 300 invoices" in capsys.readouterr().out


def test_seed_bench_admin_sees_a_fifth_of_the_invoices():
    call_command("seed_bench", invoices=300, verbosity=0)
    admin = User.objects.get(username=BENCH_ADMIN)
    assert Membership.objects.get(user=admin).company.name == BENCH_COMPANY
    visible = invoice_list_visible(user=admin).count()
    assert visible == 60


def test_seed_bench_second_run_adds_invoices_without_collisions():
    call_command("seed_bench", invoices=100, accounts=10, verbosity=0)
    accounts = ShippingAccount.objects.count()
    call_command("seed_bench", invoices=100, accounts=10, verbosity=0)
    assert Invoice.objects.filter(number__startswith="BN").count() == 200
    assert ShippingAccount.objects.count() == accounts
    assert User.objects.filter(username=BENCH_ADMIN).count() == 1


def test_seed_bench_leaves_the_id_sequences_usable_for_ordinary_inserts():
    from tests.invoices.factories import InvoiceLineFactory, ShipmentFactory

    call_command("seed_bench", invoices=50, accounts=10, verbosity=0)
    line = InvoiceLineFactory(shipment=ShipmentFactory())
    assert line.pk > InvoiceLine.objects.exclude(pk=line.pk).order_by("-pk").first().pk
    assert line.invoice.pk > Invoice.objects.exclude(pk=line.invoice.pk).order_by("-pk").first().pk
