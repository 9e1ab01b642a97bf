"""A fixture world for the security suites: two companies, every role, every kind of object.

Company A ("ours") has two accounts and a plan. Its Manager, Payer and Viewer are assigned the
first account and the plan only, so the second account (and its invoice) is out of their scope
though it belongs to their company. Company B ("theirs") has one Administrator, the outsider.
Each company has an invoice of an account and of a plan, a payment with its receipt, a dispute
with an attachment, a wallet card, an AutoPay schedule and a finished export (a ZIP of CSVs).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import Invitation, Membership, Role
from disputes.services import DisputeItemInput, dispute_file
from invoices.models import ExportJob, LineKind
from invoices.services import export_job_run
from payments import services as payment_services
from payments.gateways.simulated import SimulatedGateway
from payments.models import AutoPaySchedule, MethodKind, PaymentMethod
from tests.accounts.factories import (
    BillingPlanFactory,
    CompanyFactory,
    MembershipFactory,
    ShippingAccountFactory,
    UserFactory,
)
from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory, ShipmentFactory

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
ROLES = ("administrator", "manager", "payer", "viewer")


@dataclass
class Side:
    """One company's objects, and the strings that must never reach anyone outside its scope."""

    company: object
    account: object
    plan: object
    invoice: object
    plan_invoice: object
    paid_invoice: object
    payment: object
    method: object
    schedule: object
    dispute: object
    attachment: object
    export: object
    users: dict
    memberships: dict
    invitation: object
    # Account B2 and its invoice: same company, outside the assigned scope of non-administrators.
    unassigned_account: object = None
    unassigned_invoice: object = None
    attempt_key: str = ""
    secrets: list[str] = field(default_factory=list)


def _card(company, user) -> PaymentMethod:
    saved = SimulatedGateway().tokenize_card(
        number="4242424242424242", exp_month=12, exp_year=2030, cvc="123", holder_name="홍길동"
    )
    return PaymentMethod.objects.create(
        company=company,
        kind=MethodKind.CREDIT_CARD,
        nickname="법인카드",
        holder_name=saved.holder_name,
        brand=saved.brand,
        last4=saved.last4,
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
        gateway="simulated",
        gateway_token=saved.token,
        is_default=True,
        created_by=user,
    )


def build_side(tag: str, *, full_staff: bool) -> Side:
    """``tag`` is one letter; every number of this side carries it so leaks are unambiguous."""
    today = timezone.localdate()
    company = CompanyFactory(name=f"보안상사 {tag}")
    account = ShippingAccountFactory(company=company, number=f"S{tag}1001")
    unassigned_account = ShippingAccountFactory(company=company, number=f"S{tag}1002")
    plan = BillingPlanFactory(company=company, number=f"PLN{tag}0001")
    account.plan = plan
    account.save(update_fields=["plan"])

    def invoice(number, **kwargs):
        inv = InvoiceFactory(
            number=number,
            control_id=f"C{tag}{number[-6:]}",
            invoice_date=today - datetime.timedelta(days=5),
            due_date=today + datetime.timedelta(days=25),
            total=Decimal("55000"),
            **kwargs,
        )
        shipment = None
        if inv.account_id:
            shipment = ShipmentFactory(account=inv.account, tracking_number=f"1Z{tag}{number[-6:]:0>15}")
        InvoiceLineFactory(invoice=inv, position=1, kind=LineKind.SHIPMENT, amount=Decimal("50000"), shipment=shipment)
        InvoiceLineFactory(invoice=inv, position=2, kind=LineKind.SURCHARGE, amount=Decimal("5000"))
        return inv

    account_invoice = invoice(f"INV{tag}00000001", account=account)
    plan_invoice = invoice(f"INV{tag}00000002", account=None, plan=plan)
    paid_invoice = invoice(f"INV{tag}00000003", account=account)
    unassigned_invoice = invoice(f"INV{tag}00000004", account=unassigned_account)

    users, memberships = {}, {}
    admin = UserFactory(username=f"sec_{tag.lower()}_administrator")
    memberships["administrator"] = MembershipFactory(user=admin, company=company, role=Role.ADMINISTRATOR)
    users["administrator"] = admin
    if full_staff:
        for role in ("manager", "payer", "viewer"):
            user = UserFactory(username=f"sec_{tag.lower()}_{role}")
            memberships[role] = MembershipFactory(
                user=user, company=company, role=role, accounts=[account], plans=[plan]
            )
            users[role] = user

    method = _card(company, admin)
    outcome = payment_services.payment_create(
        actor=admin,
        invoice_ids=[paid_invoice.id],
        source=payment_services.PaymentSource.from_method(method),
        idempotency_key=f"sec-{tag}-key",
        payer_email=admin.email,
    )
    payment = outcome.payments[0]
    schedule = AutoPaySchedule.objects.create(
        company=company,
        account=account,
        method=method,
        amount_mode=AutoPaySchedule.AmountMode.FULL,
        timing=AutoPaySchedule.Timing.DAYS_BEFORE_DUE,
        days_before_due=3,
        start_date=today,
        consent_at=timezone.now(),
        terms_version="2024-1",
        created_by=admin,
    )
    line = account_invoice.lines.order_by("position").first()
    dispute = dispute_file(
        invoice=account_invoice,
        items=[DisputeItemInput(line_id=line.id, reason="weight", amount=Decimal("1000"))],
        comment=f"무게 확인 {tag}",
        attachments=[SimpleUploadedFile(f"evidence-{tag}.pdf", PDF, content_type="application/pdf")],
        actor=admin,
    )
    attachment = dispute.attachments.get()
    export = ExportJob.objects.create(
        owner=admin,
        format="csv",
        invoice_ids=[account_invoice.id, plan_invoice.id],
        total=2,
    )
    export = export_job_run(job_id=export.id)
    invitation = Invitation.objects.create(
        company=company, email=f"invitee-{tag.lower()}@example.com", role=Role.VIEWER, invited_by=admin
    )
    side = Side(
        company=company,
        account=account,
        plan=plan,
        invoice=account_invoice,
        plan_invoice=plan_invoice,
        paid_invoice=paid_invoice,
        payment=payment,
        method=method,
        schedule=schedule,
        dispute=dispute,
        attachment=attachment,
        export=export,
        users=users,
        memberships=memberships,
        invitation=invitation,
        unassigned_account=unassigned_account,
        unassigned_invoice=unassigned_invoice,
        attempt_key=f"sec-{tag}-key",
    )
    side.secrets = [
        company.name,
        account.number,
        unassigned_account.number,
        plan.number,
        account_invoice.number,
        plan_invoice.number,
        paid_invoice.number,
        unassigned_invoice.number,
        payment.reference,
        dispute.reference,
    ]
    return side


def membership_of(user) -> Membership:
    return Membership.objects.get(user=user)
