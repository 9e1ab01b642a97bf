"""Deterministic Korean demo data for ``manage.py seed_demo``.

Everything is keyed by natural keys (company name, account/plan number, user
ID, invoice number, payment reference), so a second run finds what the first
one made and changes nothing. Invoice data is generated per account or plan
from a random generator seeded by its number, and only for an account or plan
that has no invoices yet.

Dates are relative to ``timezone.localdate()`` (Asia/Seoul): about fourteen
monthly invoices per account and plan, the latest ones open and due soon, a
couple past due with a late fee, one partly paid, one credit, the rest paid.
"""

from __future__ import annotations

import calendar
import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from accounts.models import BillingPlan, Company, InvoiceDelivery, Membership, Role, ShippingAccount, User
from core.money import quantize
from invoices.models import Invoice, InvoiceLine, LineKind, Shipment
from payments.models import MethodKind, Payment, PaymentAllocation, PaymentStatus

from . import DEMO_PASSWORD
from .extras import seed_extras

SEED = "billing-centre-demo"

# R13: paper invoices carry a print fee from this date (Korea).
PRINT_FEE_FROM = datetime.date(2024, 12, 29)
PRINT_FEE = {"KRW": Decimal("13000")}
VAT_RATE = Decimal("0.10")
FUEL_RATE = Decimal("0.175")
LATE_FEE_RATE = Decimal("0.02")
LATE_FEE_MINIMUM = {"KRW": Decimal("5000"), "USD": Decimal("5.00")}
REMOTE_SURCHARGE = {"KRW": Decimal("5000"), "USD": Decimal("4.00")}

FUEL_DESCRIPTION = "유류할증료"
REMOTE_DESCRIPTION = "도서산간 지역 할증"
VAT_DESCRIPTION = "부가가치세 (10%)"
LATE_FEE_DESCRIPTION = "연체 요금"
PRINT_FEE_DESCRIPTION = "청구서 인쇄 수수료"
CREDIT_DESCRIPTION = "운임 조정 크레딧 (이의 제기 승인)"

BILLING_STAFF_GROUP = "Billing staff"
STAFF_APPS = ("accounts", "invoices", "payments", "disputes")

SERVICE_NAMES = {
    Shipment.Service.EXPRESS: ("익스프레스", "01", Decimal("18000"), Decimal("2600")),
    Shipment.Service.EXPRESS_SAVER: ("익스프레스 세이버", "13", Decimal("15000"), Decimal("2100")),
    Shipment.Service.EXPEDITED: ("익스페디티드", "02", Decimal("11000"), Decimal("1500")),
    Shipment.Service.STANDARD: ("스탠다드", "03", Decimal("6000"), Decimal("900")),
}
USD_RATES = {
    Shipment.Service.EXPRESS: (Decimal("38.00"), Decimal("4.20")),
    Shipment.Service.EXPRESS_SAVER: (Decimal("31.00"), Decimal("3.60")),
    Shipment.Service.EXPEDITED: (Decimal("24.00"), Decimal("2.70")),
    Shipment.Service.STANDARD: (Decimal("14.00"), Decimal("1.80")),
}

CITIES = [
    "서울특별시 강남구",
    "서울특별시 마포구",
    "부산광역시 해운대구",
    "인천광역시 중구",
    "대구광역시 수성구",
    "대전광역시 유성구",
    "광주광역시 서구",
    "울산광역시 남구",
    "경기도 수원시 영통구",
    "경기도 성남시 분당구",
    "경상남도 창원시 성산구",
    "전북특별자치도 전주시 완산구",
    "충청북도 청주시 흥덕구",
]
REMOTE_CITIES = [
    "제주특별자치도 제주시",
    "제주특별자치도 서귀포시",
    "경상북도 울릉군",
    "인천광역시 옹진군 백령면",
]

METHODS = [
    (MethodKind.CREDIT_CARD, "신한카드 ····4242"),
    (MethodKind.BANK_DEBIT, "국민은행 자동이체 ····3011"),
    (MethodKind.DEBIT_CARD, "우리 체크카드 ····7780"),
    (MethodKind.ONLINE_SERVICE, "카카오페이"),
]
USD_METHODS = [(MethodKind.CREDIT_CARD, "Visa ····1881"), (MethodKind.BANK_DEBIT, "ACH ····6620")]


# --- The cast ---------------------------------------------------------------------------------

COMPANIES = {
    "hanbit": {"name": "한빛물산 주식회사", "country": "KR", "address": "서울특별시 중구 세종대로 110, 한빛빌딩 12층"},
    "seoul": {
        "name": "서울로지스 주식회사",
        "country": "KR",
        "address": "서울특별시 강서구 공항대로 247, 퀸즈파크나인 B동 8층",
    },
}


@dataclass
class BillableSpec:
    number: str
    name: str
    company: str | None
    origin: str
    address: str
    phone: str
    email: str
    country: str = "KR"
    currency: str = "KRW"
    paperless_since: datetime.date | None = datetime.date(2023, 5, 10)
    terms: int = 30  # due date = invoice date + terms
    latest_offset: int = 10  # the latest invoice is dated this many days before today
    months: int = 14
    plan: str | None = None
    # index (0 = latest) -> scenario: "past_due", "partial", "late_paid", "open"
    scenarios: dict[int, str] = field(default_factory=dict)
    credit_after: int | None = None  # add a credit invoice a few days after this index

    @property
    def delivery(self) -> str:
        return InvoiceDelivery.PAPERLESS if self.paperless_since else InvoiceDelivery.PAPER


PLANS = [
    BillableSpec(
        number="P2048173",
        name="한빛물산 통합 결제 플랜",
        company="hanbit",
        origin="서울특별시 중구",
        address="서울특별시 중구 세종대로 110, 한빛빌딩 12층",
        phone="080-687-6886",
        email="plan-billing@carrier.example.com",
        paperless_since=datetime.date(2023, 3, 2),
        terms=30,
        latest_offset=12,
        scenarios={0: "partial", 4: "late_paid"},
    ),
]

ACCOUNTS = [
    BillableSpec(
        number="4X7R21",
        name="한빛물산 본사",
        company="hanbit",
        plan="P2048173",
        origin="서울특별시 중구",
        address="서울특별시 중구 세종대로 110, 한빛빌딩 12층",
        phone="02-3456-7801",
        email="billing-seoul@carrier.example.com",
        terms=30,
        latest_offset=26,  # due in four days
        scenarios={3: "late_paid"},
        credit_after=2,
    ),
    BillableSpec(
        number="8K3W59",
        name="한빛물산 부산물류센터",
        company="hanbit",
        plan="P2048173",
        origin="부산광역시 강서구",
        address="부산광역시 강서구 녹산산업중로 333",
        phone="051-802-4410",
        email="billing-busan@carrier.example.com",
        paperless_since=datetime.date(2024, 11, 18),
        terms=14,
        latest_offset=9,  # due in five days
        scenarios={6: "late_paid"},
    ),
    BillableSpec(
        number="H7E2M6",
        name="한빛물산 대구지점",
        company="hanbit",
        origin="대구광역시 북구",
        address="대구광역시 북구 유통단지로 45",
        phone="053-604-2290",
        email="billing-daegu@carrier.example.com",
        paperless_since=None,  # still on paper invoices: print fee from 2024-12-29
        terms=30,
        latest_offset=15,
        scenarios={1: "past_due", 2: "past_due"},
    ),
    BillableSpec(
        number="US5A81",
        name="Hanbit Trading USA",
        company="hanbit",
        origin="Los Angeles, CA",
        address="3460 Wilshire Blvd, Suite 900, Los Angeles, CA 90010",
        phone="+1-800-742-5877",
        email="billing-us@carrier.example.com",
        country="US",
        currency="USD",
        paperless_since=datetime.date(2022, 9, 1),
        terms=30,
        latest_offset=20,
        scenarios={5: "late_paid"},
    ),
    BillableSpec(
        number="5012348876",  # 10 digits: a temporary account, not payable online (R1)
        name="한빛물산 평택 임시",
        company="hanbit",
        origin="경기도 평택시 포승읍",
        address="경기도 평택시 포승읍 평택항로 184",
        phone="031-686-3300",
        email="billing-temp@carrier.example.com",
        paperless_since=datetime.date(2026, 1, 5),
        terms=14,
        latest_offset=6,
        months=4,
    ),
    BillableSpec(
        number="S9L2X4",
        name="서울로지스 본점",
        company="seoul",
        origin="서울특별시 강서구",
        address="서울특별시 강서구 공항대로 247, 퀸즈파크나인 B동 8층",
        phone="02-2660-1100",
        email="billing-gangseo@carrier.example.com",
        paperless_since=datetime.date(2024, 6, 3),
        terms=14,
        latest_offset=11,
        scenarios={1: "past_due"},
    ),
    BillableSpec(
        number="7QJ3N8",
        name="서울로지스 인천공항센터",
        company="seoul",
        origin="인천광역시 중구",
        address="인천광역시 중구 공항동로 296번길 98",
        phone="032-743-5500",
        email="billing-icn@carrier.example.com",
        paperless_since=datetime.date(2024, 12, 20),
        terms=30,
        latest_offset=18,
        scenarios={4: "late_paid"},
    ),
    BillableSpec(
        number="R4N8T2",  # not enrolled by any company: Pay Now and enrolment demos
        name="그린마트 주식회사",
        company=None,
        origin="경기도 고양시 일산동구",
        address="경기도 고양시 일산동구 중앙로 1275",
        phone="031-900-2200",
        email="billing-goyang@carrier.example.com",
        paperless_since=datetime.date(2025, 2, 10),
        terms=14,
        latest_offset=5,
        months=6,
    ),
]


@dataclass(frozen=True)
class UserSpec:
    username: str
    name: str
    email: str
    company: str | None
    role: str | None
    label: str
    accounts: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    staff: bool = False
    superuser: bool = False


USERS = [
    UserSpec("hanbit_admin", "김민준", "minjun.kim@hanbit.example.com", "hanbit", Role.ADMINISTRATOR, "Administrator"),
    UserSpec(
        "hanbit_admin2",
        "이서연",
        "seoyeon.lee@hanbit.example.com",
        "hanbit",
        Role.ADMINISTRATOR,
        "Administrator (second)",
    ),
    UserSpec(
        "hanbit_manager",
        "박지훈",
        "jihoon.park@hanbit.example.com",
        "hanbit",
        Role.MANAGER,
        "Manager",
        accounts=("4X7R21", "8K3W59", "H7E2M6"),
        plans=("P2048173",),
    ),
    UserSpec(
        "hanbit_payer",
        "최수아",
        "sua.choi@hanbit.example.com",
        "hanbit",
        Role.PAYER,
        "Payer (view, pay, dispute)",
        accounts=("H7E2M6", "5012348876", "US5A81"),
    ),
    UserSpec(
        "hanbit_viewer",
        "정우진",
        "woojin.jung@hanbit.example.com",
        "hanbit",
        Role.VIEWER,
        "Viewer",
        accounts=("4X7R21",),
        plans=("P2048173",),
    ),
    UserSpec(
        "seoul_admin", "강하은", "haeun.kang@seoullogis.example.com", "seoul", Role.ADMINISTRATOR, "Administrator"
    ),
    UserSpec(
        "billing_staff", "윤도현", "dohyun.yoon@carrier.example.com", None, None, "Billing staff (/admin/)", staff=True
    ),
    UserSpec(
        "root",
        "시스템 관리자",
        "root@carrier.example.com",
        None,
        None,
        "Superuser (/admin/)",
        staff=True,
        superuser=True,
    ),
]


# --- Helpers ------------------------------------------------------------------------------------


def add_months(day: datetime.date, months: int) -> datetime.date:
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    month = month0 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def _alnum(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(length))


def _seoul_datetime(day: datetime.date, hour: int = 10, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=timezone.get_current_timezone())


def invoice_number(billable_number: str, invoice_date: datetime.date, suffix: str = "1") -> str:
    """The account number padded to ten (a plan number as is), the year-month and a kind digit."""
    prefix = billable_number if billable_number.startswith("P") else billable_number.rjust(10, "0")
    return f"{prefix}{invoice_date:%y%m}{suffix}"


# --- Users, companies, accounts, plans ---------------------------------------------------------


@dataclass
class DemoResult:
    created: bool
    logins: list[tuple[str, str, str, str]]  # user ID, role, company, password


def _companies() -> dict[str, Company]:
    companies = {}
    for key, data in COMPANIES.items():
        company, _ = Company.objects.get_or_create(
            name=data["name"], defaults={"country": data["country"], "address": data["address"]}
        )
        companies[key] = company
    return companies


def _billable_defaults(spec: BillableSpec, companies: dict[str, Company]) -> dict:
    return {
        "name": spec.name,
        "company": companies[spec.company] if spec.company else None,
        "country": spec.country,
        "currency": spec.currency,
        "address": spec.address,
        "invoice_delivery": spec.delivery,
        "paperless_since": spec.paperless_since,
        "billing_contact_phone": spec.phone,
        "billing_contact_email": spec.email,
    }


def _plans_and_accounts(companies):
    plans = {}
    for spec in PLANS:
        plan, _ = BillingPlan.objects.get_or_create(number=spec.number, defaults=_billable_defaults(spec, companies))
        plans[spec.number] = plan
    accounts = {}
    for spec in ACCOUNTS:
        defaults = _billable_defaults(spec, companies)
        defaults["plan"] = plans[spec.plan] if spec.plan else None
        account, _ = ShippingAccount.objects.get_or_create(number=spec.number, defaults=defaults)
        accounts[spec.number] = account
    return plans, accounts


def _staff_group() -> Group:
    group, _ = Group.objects.get_or_create(name=BILLING_STAFF_GROUP)
    permissions = Permission.objects.filter(
        content_type__app_label__in=STAFF_APPS,
        codename__regex=r"^(view|change)_",
    )
    group.permissions.set(permissions)
    return group


def _users(companies, plans, accounts) -> list[tuple[str, str, str, str]]:
    from allauth.account.models import EmailAddress

    password_hash = make_password(DEMO_PASSWORD)
    group = _staff_group()
    logins = []
    for spec in USERS:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "email": spec.email,
                "name": spec.name,
                "password": password_hash,
                "is_staff": spec.staff,
                "is_superuser": spec.superuser,
            },
        )
        EmailAddress.objects.get_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
        if spec.staff and not spec.superuser:
            user.groups.add(group)
        company_name = ""
        if spec.company:
            company = companies[spec.company]
            company_name = company.name
            membership, _ = Membership.objects.get_or_create(user=user, company=company, defaults={"role": spec.role})
            if spec.role != Role.ADMINISTRATOR and created:
                membership.accounts.set([accounts[n] for n in spec.accounts])
                membership.plans.set([plans[n] for n in spec.plans])
        logins.append((spec.username, spec.label, company_name, DEMO_PASSWORD))
    return logins


# --- Invoices, shipments, lines, payments ------------------------------------------------------


class _Batch:
    """Objects to insert with bulk_create, in dependency order."""

    def __init__(self):
        self.invoices: list[Invoice] = []
        self.invoice_dates: list[datetime.date] = []
        self.shipments: list[Shipment] = []
        self.lines: list[InvoiceLine] = []
        self.payments: list[Payment] = []
        self.payment_times: list[datetime.datetime] = []
        self.allocations: list[PaymentAllocation] = []


def _shipment_charge(rng, currency, service, weight):
    if currency == "USD":
        base, per_kg = USD_RATES[service]
        return quantize(base + per_kg * weight, "USD")
    _, _, base, per_kg = SERVICE_NAMES[service]
    # Tariffs are rounded to ₩100.
    return quantize((base + per_kg * weight) / 100, "KRW") * 100


def _generate_invoice(batch, rng, spec, billable, *, index, invoice_date, today, members, company):
    """One monthly invoice with its shipments, lines and (if paid) payment."""
    currency = spec.currency
    is_plan = isinstance(billable, BillingPlan)
    due_date = invoice_date + datetime.timedelta(days=spec.terms)
    scenario = spec.scenarios.get(index, "open" if index == 0 else "paid")
    if scenario == "past_due" and due_date >= today:
        scenario = "open"

    invoice = Invoice(
        number=invoice_number(spec.number, invoice_date),
        control_id=_alnum(rng, 8),
        account=None if is_plan else billable,
        plan=billable if is_plan else None,
        invoice_date=invoice_date,
        due_date=due_date,
        currency=currency,
    )
    lines: list[InvoiceLine] = []

    def line(kind, description, amount, shipment=None):
        lines.append(
            InvoiceLine(
                invoice=invoice,
                position=len(lines) + 1,
                kind=kind,
                description=description,
                amount=amount,
                shipment=shipment,
            )
        )

    # The billing month is the calendar month before the invoice date.
    month_end = invoice_date.replace(day=1) - datetime.timedelta(days=1)
    month_start = month_end.replace(day=1)
    taxable = Decimal(0)
    shipment_total = Decimal(0)
    remote_lines = []
    count = rng.randint(2, 6)
    days = sorted(rng.randint(0, (month_end - month_start).days) for _ in range(count))
    for position, day in enumerate(days):
        member = members[position % len(members)]
        service = rng.choice(list(Shipment.Service))
        weight = quantize(Decimal(rng.randint(30, 3000)) / 100, "USD")  # 0.30 to 30.00 kg
        if rng.random() < 0.2:
            destination = rng.choice(REMOTE_CITIES)
        else:
            destination = rng.choice([c for c in CITIES if c != member.origin])
        # 1Z + the shipper's number (6) + service code (2) + package number (8), as on real labels.
        package = f"{invoice_date:%y%m}{'2' if is_plan else '1'}{position:02d}{rng.randint(0, 9)}"
        shipment = Shipment(
            tracking_number=f"1Z{member.number[-6:]}{SERVICE_NAMES[service][1]}{package}",
            account=member.account,
            ship_date=month_start + datetime.timedelta(days=day),
            service=service,
            weight_kg=weight,
            origin=member.origin,
            destination=destination,
            reference=f"PO-{invoice_date:%y%m}-{rng.randint(100, 999)}",
        )
        batch.shipments.append(shipment)
        amount = _shipment_charge(rng, currency, service, weight)
        shipment_total += amount
        line(
            LineKind.SHIPMENT,
            f"운송 요금 · {SERVICE_NAMES[service][0]} · {member.origin} → {destination}",
            amount,
            shipment,
        )
        if destination in REMOTE_CITIES:
            remote_lines.append(shipment)
    fuel = quantize(shipment_total * FUEL_RATE, currency)
    line(LineKind.SURCHARGE, FUEL_DESCRIPTION, fuel)
    taxable = shipment_total + fuel
    for shipment in remote_lines:
        line(LineKind.SURCHARGE, f"{REMOTE_DESCRIPTION} · {shipment.destination}", REMOTE_SURCHARGE[currency], shipment)
        taxable += REMOTE_SURCHARGE[currency]
    if spec.country == "KR":
        line(LineKind.TAX, VAT_DESCRIPTION, quantize(taxable * VAT_RATE, currency))
    if spec.delivery == InvoiceDelivery.PAPER and invoice_date >= PRINT_FEE_FROM and currency in PRINT_FEE:
        line(LineKind.PRINT_FEE, PRINT_FEE_DESCRIPTION, PRINT_FEE[currency])
    if scenario in ("late_paid", "past_due"):
        subtotal = sum(item.amount for item in lines)
        fee = max(quantize(subtotal * LATE_FEE_RATE, currency), LATE_FEE_MINIMUM[currency])
        line(LineKind.LATE_FEE, LATE_FEE_DESCRIPTION, fee)

    invoice.total = sum(item.amount for item in lines)
    batch.invoices.append(invoice)
    batch.invoice_dates.append(invoice_date)
    batch.lines.extend(lines)

    if scenario == "paid":
        paid_on = invoice_date + datetime.timedelta(days=rng.randint(3, spec.terms - 1))
        _pay(batch, rng, spec, invoice, invoice.total, min(paid_on, today), company)
    elif scenario == "late_paid":
        _pay(batch, rng, spec, invoice, invoice.total, min(due_date + datetime.timedelta(days=9), today), company)
    elif scenario == "partial":
        part = quantize(invoice.total * Decimal("0.4"), currency)
        _pay(batch, rng, spec, invoice, part, min(invoice_date + datetime.timedelta(days=5), today), company)


def _pay(batch, rng, spec, invoice, amount, paid_on, company):
    kind, label = rng.choice(USD_METHODS if spec.currency == "USD" else METHODS)
    payment = Payment(
        reference=f"PM{invoice.number}",
        idempotency_key=f"seed-demo:{invoice.number}",
        company=company,
        currency=invoice.currency,
        amount=amount,
        status=PaymentStatus.SUCCEEDED,
        method_kind=kind,
        method_label=label,
        gateway="simulated",
        gateway_reference=f"sim_{_alnum(rng, 16).lower()}",
        payer_email="" if company else "ap@greenmart.example.com",
        settled_at=_seoul_datetime(paid_on, 14, rng.randint(0, 59)),
    )
    invoice.amount_paid = amount
    batch.payments.append(payment)
    batch.payment_times.append(payment.settled_at)
    batch.allocations.append(PaymentAllocation(payment=payment, invoice=invoice, amount=amount))


def _generate_credit(batch, rng, spec, billable, *, invoice_date):
    amount = -quantize(Decimal(25000) if spec.currency == "KRW" else Decimal("20.00"), spec.currency)
    invoice = Invoice(
        number=invoice_number(spec.number, invoice_date, "9"),
        control_id=_alnum(rng, 8),
        account=billable if isinstance(billable, ShippingAccount) else None,
        plan=billable if isinstance(billable, BillingPlan) else None,
        invoice_date=invoice_date,
        due_date=invoice_date + datetime.timedelta(days=spec.terms),
        currency=spec.currency,
        total=amount,
    )
    batch.invoices.append(invoice)
    batch.invoice_dates.append(invoice_date)
    batch.lines.append(
        InvoiceLine(
            invoice=invoice, position=1, kind=LineKind.ADJUSTMENT, description=CREDIT_DESCRIPTION, amount=amount
        )
    )


@dataclass
class _Member:
    account: ShippingAccount
    number: str
    origin: str


def _generate_billable(batch, spec, billable, *, today, members):
    rng = random.Random(f"{SEED}:{spec.number}")
    latest = today - datetime.timedelta(days=spec.latest_offset)
    for index in range(spec.months):
        invoice_date = add_months(latest, -index)
        _generate_invoice(
            batch,
            rng,
            spec,
            billable,
            index=index,
            invoice_date=invoice_date,
            today=today,
            members=members,
            company=billable.company,
        )
        if spec.credit_after == index:
            _generate_credit(batch, rng, spec, billable, invoice_date=invoice_date + datetime.timedelta(days=3))


def _insert(batch: _Batch) -> None:
    Invoice.objects.bulk_create(batch.invoices, batch_size=500)
    Shipment.objects.bulk_create(batch.shipments, batch_size=500)
    InvoiceLine.objects.bulk_create(batch.lines, batch_size=1000)
    Payment.objects.bulk_create(batch.payments, batch_size=500)
    PaymentAllocation.objects.bulk_create(batch.allocations, batch_size=500)
    # created_at is auto_now_add: back-date it so lists and admin read naturally.
    for invoice, day in zip(batch.invoices, batch.invoice_dates, strict=True):
        invoice.created_at = _seoul_datetime(day, 6)
    Invoice.objects.bulk_update(batch.invoices, ["created_at"], batch_size=500)
    for payment, when in zip(batch.payments, batch.payment_times, strict=True):
        payment.created_at = when
    Payment.objects.bulk_update(batch.payments, ["created_at"], batch_size=500)


@transaction.atomic
def seed_demo(*, today: datetime.date | None = None) -> DemoResult:
    """Create the demo data if missing; return the demo logins. Safe to run again."""
    today = today or timezone.localdate()
    companies = _companies()
    plans, accounts = _plans_and_accounts(companies)
    logins = _users(companies, plans, accounts)

    batch = _Batch()
    origin = {spec.number: spec.origin for spec in ACCOUNTS}
    for spec in PLANS:
        plan = plans[spec.number]
        if plan.invoices.exists():
            continue
        members = [
            _Member(a, a.number, origin.get(a.number, spec.origin))
            for a in sorted(plan.accounts.all(), key=lambda a: a.number)
        ]
        _generate_billable(batch, spec, plan, today=today, members=members)
    for spec in ACCOUNTS:
        account = accounts[spec.number]
        if account.invoices.exists():
            continue
        _generate_billable(batch, spec, account, today=today, members=[_Member(account, account.number, spec.origin)])
    _insert(batch)
    # Wallets, AutoPay, a scheduled payment and disputes, through the real services.
    extras = seed_extras(today=today)
    return DemoResult(created=bool(batch.invoices) or bool(extras), logins=logins)
