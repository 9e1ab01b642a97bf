"""The rest of the demo: wallets, an AutoPay schedule, a scheduled payment and three disputes.

Everything here is made through the real services (``payment_method_add``, ``autopay_create``,
``payment_create``, ``dispute_file``, ``dispute_decide``), so the audit trail, the dispute
timelines and the credit line on the invoice are what the portal itself would have written.
Each item is looked up by a natural key first (wallet: company, type, brand and last four;
AutoPay: the account; scheduled payment: its idempotency key; disputes: the filer's comment), so a
second run creates nothing.

The services stamp "now" on what they create. A demo where every wallet entry, schedule and
dispute was made a second ago reads oddly, so after each service call a clearly marked data step
moves the creation times (and the matching audit events) back, as if the user had done it earlier.
Nothing else is changed behind the services' backs.

Wallet entries, AutoPay and the scheduled payment need the offline (simulated) gateway, whose
tokens are made here without a browser; with Stripe configured they are skipped (Stripe tokenises
in the browser) and only the disputes are seeded.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import AuditEvent, Company, ShippingAccount, User
from core.money import quantize
from disputes.models import Dispute, DisputeEvent, DisputeMessage, DisputeReason, DisputeStatus
from disputes.services import Decision, DisputeItemInput, dispute_decide, dispute_file
from invoices.models import Invoice, InvoiceStatus, LineKind
from payments.autopay import autopay_create
from payments.gateways.simulated import SimulatedGateway
from payments.models import AutoPaySchedule, MethodKind, Payment, PaymentMethod
from payments.services import PaymentSource, gateway_customer_get_or_create, payment_create, payment_method_add

HANBIT = "한빛물산 주식회사"
SEOUL = "서울로지스 주식회사"

AUTOPAY_ACCOUNT = "4X7R21"
AUTOPAY_LIMIT = Decimal("1000000")
AUTOPAY_DAYS_BEFORE_DUE = 3
# The schedule was set up this many days ago, before the account's latest invoice was issued, so
# My AutoPay shows that invoice in the preview with its run date (AutoPay pays invoices issued
# from its start on).
AUTOPAY_SET_UP_DAYS_AGO = 40

SCHEDULED_ACCOUNT = "8K3W59"
SCHEDULED_KEY = "seed-demo-scheduled"  # payment_create appends ":<currency>"
SCHEDULED_DAYS_BEFORE_DUE = 2


def _seoul(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=timezone.get_current_timezone())


def _backdate_audit(target, when: datetime.datetime, *, actions: tuple[str, ...] | None = None) -> None:
    events = AuditEvent.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk))
    if actions:
        events = events.filter(action__in=actions)
    events.update(created_at=when)


# --- Wallets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WalletSpec:
    company: str
    actor: str
    kind: str
    nickname: str
    added_days_ago: int
    # Card: number (a gateway test number; only the tokeniser sees it) and expiry (months from today).
    card_number: str = ""
    expiry_months: int = 0
    # Bank direct debit / online payment service.
    bank_account: str = ""
    bank: str = ""
    service: str = ""
    login: str = ""
    holder: str = ""
    default: bool = False


WALLETS = [
    WalletSpec(
        HANBIT,
        "hanbit_admin",
        MethodKind.CREDIT_CARD,
        "법인카드 (본사)",
        200,
        card_number="4242 4242 4242 4242",  # Visa test card: charges succeed
        expiry_months=50,
        holder="HANBIT TRADING CO LTD",
        default=True,
    ),
    WalletSpec(
        HANBIT,
        "hanbit_admin",
        MethodKind.CREDIT_CARD,
        "구 법인카드",
        1100,
        card_number="5555 5555 5555 4444",  # Mastercard test card
        # Expired last month. The wallet form refuses a past expiry for a NEW card, but neither the
        # tokeniser nor payment_method_add checks it: this stands for a card saved three years ago,
        # while it was valid, whose expiry month has since passed (its creation time is back-dated
        # below). The wallet's grid view shows it in the expired group with Edit.
        expiry_months=-1,
        holder="KIM MINJUN",
    ),
    WalletSpec(
        HANBIT,
        "hanbit_admin",
        MethodKind.BANK_DEBIT,
        "국민은행 자동이체",
        150,
        bank_account="000123456789",  # simulated gateway: succeeds
        bank="KB국민은행",
        holder="한빛물산 주식회사",
    ),
    WalletSpec(
        HANBIT,
        "hanbit_admin",
        MethodKind.ONLINE_SERVICE,
        "카카오페이",
        90,
        service="KakaoPay",
        login="hanbit-finance",
    ),
    WalletSpec(
        SEOUL,
        "seoul_admin",
        MethodKind.CREDIT_CARD,
        "서울로지스 법인카드",
        120,
        card_number="4242 4242 4242 4242",
        expiry_months=30,
        holder="SEOUL LOGIS CO LTD",
        default=True,
    ),
]


def _expiry(today: datetime.date, months: int) -> tuple[int, int]:
    year, month0 = divmod(today.month - 1 + months, 12)
    return month0 + 1, today.year + year


def _tokenise(gateway: SimulatedGateway, spec: WalletSpec, today: datetime.date):
    if spec.kind in (MethodKind.CREDIT_CARD, MethodKind.DEBIT_CARD):
        exp_month, exp_year = _expiry(today, spec.expiry_months)
        return gateway.tokenize_card(
            number=spec.card_number, exp_month=exp_month, exp_year=exp_year, cvc="123", holder_name=spec.holder
        )
    if spec.kind == MethodKind.BANK_DEBIT:
        return gateway.tokenize_bank_account(
            account_number=spec.bank_account, bank_code=spec.bank, holder_name=spec.holder
        )
    return gateway.tokenize_online_service(service=spec.service, login=spec.login)


def _wallets(*, today, companies, users) -> tuple[int, dict[tuple[str, str], PaymentMethod]]:
    gateway = SimulatedGateway()
    created = 0
    methods = {}
    for spec in WALLETS:
        company = companies[spec.company]
        saved = _tokenise(gateway, spec, today)  # only the token and display facts come back
        method = PaymentMethod.objects.filter(
            company=company, kind=spec.kind, brand=saved.brand, last4=saved.last4, nickname=spec.nickname
        ).first()
        if method is None:
            actor = users[spec.actor]
            gateway_customer_get_or_create(company=company)  # as the wallet page does before tokenising
            method = payment_method_add(
                actor=actor,
                company=company,
                kind=spec.kind,
                saved=saved,
                nickname=spec.nickname,
                make_default=spec.default,
            )
            # Data step: the entry was added ``added_days_ago`` days ago, not during the seed run.
            when = _seoul(today - datetime.timedelta(days=spec.added_days_ago), 9, 30)
            PaymentMethod.objects.filter(pk=method.pk).update(created_at=when)
            _backdate_audit(method, when)
            created += 1
        methods[(spec.company, spec.nickname)] = method
    return created, methods


# --- AutoPay and a scheduled one-time payment -----------------------------------------------------


def _autopay(*, today, users, method) -> int:
    account = ShippingAccount.objects.get(number=AUTOPAY_ACCOUNT)
    if AutoPaySchedule.objects.filter(account=account).exists():
        return 0
    schedule = autopay_create(
        actor=users["hanbit_admin"],
        billable=account,
        method=method,
        amount_mode=AutoPaySchedule.AmountMode.UP_TO_LIMIT,
        limit_amount=AUTOPAY_LIMIT,
        timing=AutoPaySchedule.Timing.DAYS_BEFORE_DUE,
        days_before_due=AUTOPAY_DAYS_BEFORE_DUE,
        weekday=None,
        until_date=None,
        consent=True,
    )
    # Data step: the administrator set the schedule up (and agreed to the terms) before the
    # account's latest invoice was issued, so that invoice is one the schedule pays.
    set_up = today - datetime.timedelta(days=AUTOPAY_SET_UP_DAYS_AGO)
    when = _seoul(set_up, 16, 10)
    AutoPaySchedule.objects.filter(pk=schedule.pk).update(start_date=set_up, consent_at=when, created_at=when)
    _backdate_audit(schedule, when)
    return 1


def _scheduled_payment(*, today, users, companies, method) -> int:
    if Payment.objects.filter(idempotency_key__startswith=f"{SCHEDULED_KEY}:").exists():
        return 0
    invoice = (
        Invoice.objects.filter(account__number=SCHEDULED_ACCOUNT, status=InvoiceStatus.OPEN, amount_paid=0)
        .filter(due_date__gt=today + datetime.timedelta(days=SCHEDULED_DAYS_BEFORE_DUE))
        .order_by("-due_date")
        .first()
    )
    if invoice is None:  # e.g. paid meanwhile on a long-lived demo database
        return 0
    admin = users["hanbit_admin"]
    # Scheduled for a later day: payment_create stores it as "scheduled" and calls no gateway.
    outcome = payment_create(
        actor=admin,
        invoice_ids=[invoice.pk],
        source=PaymentSource.from_method(method),
        idempotency_key=SCHEDULED_KEY,
        company=companies[HANBIT],
        scheduled_for=invoice.due_date - datetime.timedelta(days=SCHEDULED_DAYS_BEFORE_DUE),
        payer_email=admin.email,
    )
    return len(outcome.payments)


# --- Disputes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputeSpec:
    account: str
    filer: str
    # Which invoice: the latest open one, or the latest paid one.
    invoice: str
    line_kind: str
    reason: str
    share: Decimal  # of the charge that is disputed
    comment: str
    filed_days_ago: int
    decision: str = ""
    credit_share: Decimal = Decimal(0)  # of the disputed amount (a partial approval)
    decision_reason: str = ""
    reply: str = ""
    decided_days_ago: int = 0


DISPUTES = [
    DisputeSpec(
        account="US5A81",
        filer="hanbit_payer",
        invoice="open",
        line_kind=LineKind.SHIPMENT,
        reason=DisputeReason.WEIGHT,
        share=Decimal("0.35"),
        comment=(
            "청구서의 중량이 출고 당시 계량한 중량보다 큽니다. 창고 계량 기록으로는 실제 중량이 "
            "청구 중량의 약 3분의 2입니다. 중량 기준으로 운임을 다시 계산해 주십시오."
        ),
        filed_days_ago=1,
    ),
    DisputeSpec(
        account="4X7R21",
        filer="hanbit_admin",
        invoice="open",
        line_kind=LineKind.SHIPMENT,
        reason=DisputeReason.RATE,
        share=Decimal("0.20"),
        comment=(
            "계약서상 본사 발송에는 20% 할인이 적용되어야 하는데, 이 운송 건에는 할인 없이 정가가 "
            "청구되었습니다. 할인분을 크레딧으로 처리해 주시기 바랍니다."
        ),
        filed_days_ago=9,
        decision=Decision.PARTIAL,
        credit_share=Decimal("0.5"),
        decision_reason=(
            "계약 할인율 확인 결과 할인 대상은 기본 운임에 한하며, 중량 추가 요금에는 할인이 적용되지 "
            "않습니다. 기본 운임분에 대해서만 크레딧을 지급합니다."
        ),
        reply=(
            "안녕하세요, 청구 담당 윤도현입니다. 계약 조건을 확인하여 기본 운임의 할인분을 크레딧으로 "
            "청구서에 반영했습니다. 남은 금액은 기존 결제 일정대로 처리됩니다. 감사합니다."
        ),
        decided_days_ago=3,
    ),
    DisputeSpec(
        account="8K3W59",
        filer="hanbit_manager",
        invoice="paid",
        line_kind=LineKind.SHIPMENT,
        reason=DisputeReason.NOT_MINE,
        share=Decimal("1"),
        comment=(
            "이 운송장은 저희 부산물류센터에서 발송한 기록이 없습니다. 다른 회사의 발송이 저희 고객번호로 "
            "잘못 청구된 것 같습니다. 확인 부탁드립니다."
        ),
        filed_days_ago=16,
        decision=Decision.REJECT,
        decision_reason=(
            "운송장의 발송인 고객번호가 8K3W59이며, 부산물류센터 주소에서 픽업 스캔이 확인되었습니다. "
            "고객번호의 정상 발송 건이므로 요금을 조정하지 않습니다."
        ),
        reply=(
            "확인 결과 해당 발송은 고객님의 고객번호로 만들어진 운송장이며 부산물류센터에서 픽업되었습니다. "
            "운송장별 픽업·배송 기록은 발송 내역에서 확인하실 수 있습니다. 추가 자료가 있으시면 새로 "
            "이의를 제기해 주십시오."
        ),
        decided_days_ago=12,
    ),
]


def _dispute_invoice(spec: DisputeSpec) -> Invoice | None:
    invoices = Invoice.objects.filter(account__number=spec.account).select_related("account", "plan")
    if spec.invoice == "open":
        invoices = invoices.filter(status=InvoiceStatus.OPEN)
    else:
        invoices = invoices.filter(status=InvoiceStatus.PAID)
    # Not the invoice another dispute of this seed already uses.
    return (
        invoices.filter(lines__kind=spec.line_kind)
        .exclude(disputes__isnull=False)
        .distinct()
        .order_by("-invoice_date", "-number")
        .first()
    )


def _dispute_backdate(dispute: Dispute, spec: DisputeSpec, today: datetime.date) -> None:
    """Data step: filed and decided on earlier days, so the timeline reads as it would have."""
    filed = _seoul(today - datetime.timedelta(days=spec.filed_days_ago), 14, 25)
    Dispute.objects.filter(pk=dispute.pk).update(created_at=filed)
    DisputeEvent.objects.filter(dispute=dispute, to_status=DisputeStatus.SUBMITTED).update(created_at=filed)
    _backdate_audit(dispute, filed, actions=("dispute.filed",))
    if not spec.decision:
        return
    decided = _seoul(today - datetime.timedelta(days=spec.decided_days_ago), 11, 5)
    Dispute.objects.filter(pk=dispute.pk).update(decided_at=decided)
    DisputeEvent.objects.filter(dispute=dispute).exclude(to_status=DisputeStatus.SUBMITTED).update(created_at=decided)
    DisputeMessage.objects.filter(dispute=dispute).update(created_at=decided)
    AuditEvent.objects.filter(
        Q(target_type=dispute._meta.label_lower, target_id=str(dispute.pk)) & ~Q(action="dispute.filed")
        | Q(action="invoice.adjustment_posted", data__dispute=dispute.reference)
    ).update(created_at=decided)


def _disputes(*, today, users) -> int:
    created = 0
    staff = users["billing_staff"]
    for spec in DISPUTES:
        if Dispute.objects.filter(comment=spec.comment).exists():
            continue
        invoice = _dispute_invoice(spec)
        if invoice is None:
            continue
        line = invoice.lines.filter(kind=spec.line_kind).order_by("-amount", "position").first()
        amount = quantize(line.amount * spec.share, invoice.currency)
        if invoice.currency == "KRW":
            amount = max(amount // 100 * 100, Decimal(100))  # round won amounts to ₩100
        dispute = dispute_file(
            invoice=invoice,
            items=[DisputeItemInput(line_id=line.pk, reason=spec.reason, amount=amount)],
            comment=spec.comment,
            actor=users[spec.filer],
        )
        if spec.decision:
            credit = None
            if spec.decision == Decision.PARTIAL:
                credit = quantize(dispute.disputed_amount * spec.credit_share, invoice.currency)
            dispute_decide(
                dispute=dispute,
                decision=spec.decision,
                amount=credit,
                reason=spec.decision_reason,
                reply=spec.reply,
                actor=staff,
            )
        _dispute_backdate(dispute, spec, today)
        created += 1
    return created


# --- Entry point ----------------------------------------------------------------------------------


def seed_extras(*, today: datetime.date) -> int:
    """Add the wallets, AutoPay, scheduled payment and disputes if missing; return how many were made.

    Runs inside ``seed_demo``'s transaction, after the invoices exist. Disputes come before the
    scheduled payment, so a credit never lowers a balance a scheduled payment has reserved.
    """
    companies = {c.name: c for c in Company.objects.filter(name__in=[HANBIT, SEOUL])}
    users = {
        u.username: u
        for u in User.objects.filter(
            username__in=["hanbit_admin", "hanbit_manager", "hanbit_payer", "seoul_admin", "billing_staff"]
        )
    }
    created = _disputes(today=today, users=users)
    if settings.PAYMENT_GATEWAY != "simulated":
        return created
    wallet_created, methods = _wallets(today=today, companies=companies, users=users)
    created += wallet_created
    visa = methods[(HANBIT, "법인카드 (본사)")]
    created += _autopay(today=today, users=users, method=visa)
    created += _scheduled_payment(today=today, users=users, companies=companies, method=visa)
    return created
