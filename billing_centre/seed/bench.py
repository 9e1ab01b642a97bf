"""Bulk benchmark data for ``manage.py seed_bench`` (the performance issue).

Shape: N invoices spread round-robin over the bench accounts (numbers ``Z`` +
five base-36 digits), each with two shipments, two shipment-charge lines and
a VAT line. Accounts are owned in turn by five companies; the first,
"벤치마크 주식회사", has the Administrator ``bench_admin``, so that user sees
one invoice in five. Older invoices are paid (a payment per account per
batch, one allocation per invoice, so amount paid always equals the
allocations); recent ones are open.

Re-running adds more: invoice numbers (``BN`` + 12 digits), tracking numbers
and payment references continue after the highest bench invoice number, so
nothing collides. Every batch commits on its own; an interrupted run keeps
the complete batches it made and the next run continues after them.

The world is built with the test factories (tests/<app>/factories.py), so the
bench and the tests agree on what a company, an account or an invoice is: the
companies, the administrator and the accounts come from the factories directly;
the bulk rows (invoices, shipments, lines, payments, allocations) take every
column from a factory-built prototype and set only what varies per row. Rows are
written with COPY on PostgreSQL (ids reserved from the sequences first) and with
bulk_create elsewhere; 100,000 invoices took 43 s with bulk_create and far less
with COPY on the development machine. Building every row through the factory
would add its per-object cost a few million times over.

A development command: it needs the dev extras (factory_boy) and the checkout's
``tests`` package, imported when the command runs, not when this module loads.
"""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Callable
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Company, Membership, Role, ShippingAccount, User
from invoices.models import Invoice, InvoiceLine, LineKind, Shipment
from payments.models import MethodKind, Payment, PaymentAllocation, PaymentStatus

from . import DEMO_PASSWORD

BENCH_COMPANY = "벤치마크 주식회사"
OTHER_COMPANIES = [f"벤치마크 고객사 {n}" for n in range(1, 5)]
BENCH_ADMIN = "bench_admin"
ACCOUNT_PREFIX = "Z"
INVOICE_PREFIX = "BN"
PAYMENT_PREFIX = "BP"
DIGITS36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CITIES = [
    "서울특별시",
    "부산광역시",
    "인천광역시",
    "대구광역시",
    "대전광역시",
    "광주광역시",
    "울산광역시",
    "제주특별자치도",
]
SERVICES = [choice for choice, _ in Shipment.Service.choices]
HISTORY_DAYS = 425  # about fourteen months


def bench_account_number(index: int) -> str:
    digits = []
    for _ in range(5):
        index, rest = divmod(index, 36)
        digits.append(DIGITS36[rest])
    return ACCOUNT_PREFIX + "".join(reversed(digits))


def _companies() -> list[Company]:
    from tests.accounts.factories import CompanyFactory

    return [
        Company.objects.filter(name=name).first()
        or CompanyFactory(name=name, country="KR", address="서울특별시 영등포구 여의대로 24")
        for name in [BENCH_COMPANY, *OTHER_COMPANIES]
    ]


@transaction.atomic
def bench_setup(*, account_count: int) -> list[ShippingAccount]:
    """The companies, ``account_count`` accounts and the bench administrator (kept if present)."""
    from tests.accounts.factories import MembershipFactory, ShippingAccountFactory, UserFactory

    companies = _companies()
    numbers = [bench_account_number(i) for i in range(account_count)]
    existing = set(ShippingAccount.objects.filter(number__in=numbers).values_list("number", flat=True))
    ShippingAccount.objects.bulk_create(
        [
            ShippingAccountFactory.build(
                number=number,
                name=f"벤치마크 발송 {number}",
                company=companies[i % len(companies)],
                paperless_since=datetime.date(2024, 1, 1),
                billing_contact_phone="080-687-6886",
                billing_contact_email="billing@carrier.example.com",
            )
            for i, number in enumerate(numbers)
            if number not in existing
        ],
        batch_size=5000,
    )
    # The factory's user is verified (allauth lets them log in) and found again by user name.
    admin = User.objects.filter(username=BENCH_ADMIN).first() or UserFactory(
        username=BENCH_ADMIN, email="bench_admin@bench.example.com", name="벤치 관리자", password=DEMO_PASSWORD
    )
    if not Membership.objects.filter(user=admin, company=companies[0]).exists():
        MembershipFactory(user=admin, company=companies[0], role=Role.ADMINISTRATOR)
    by_number = ShippingAccount.objects.in_bulk(numbers, field_name="number")
    return [by_number[number] for number in numbers]


def _next_sequence() -> int:
    last = (
        Invoice.objects.filter(number__startswith=INVOICE_PREFIX, number__regex=r"^BN[0-9]{12}$")
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return int(last[len(INVOICE_PREFIX) :]) + 1 if last else 1


class _Table:
    """Writes rows (dicts keyed by attname) of one model: COPY on PostgreSQL, bulk_create elsewhere.

    A column a row leaves out takes the value of ``prototype``, an unsaved instance a factory built
    (``InvoiceFactory.build(...)``): what the tests call an invoice is what the bench writes, and a
    field added later is filled the way the factory fills it. Database-generated columns (an
    invoice's balance and status) are left to the database.
    """

    def __init__(self, prototype):
        self.model = type(prototype)
        self.fields = [f for f in self.model._meta.concrete_fields if not f.generated]
        self.defaults = {f.attname: getattr(prototype, f.attname) for f in self.fields}

    def reserve_ids(self, count: int) -> list[int]:
        """``count`` primary keys nobody else will get (inside the caller's transaction)."""
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
                )
                return [row[0] for row in cursor.fetchall()]
            # SQLite and others: writers are serialised by the transaction, so max(id) is safe.
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
            first = cursor.fetchone()[0] + 1
        return list(range(first, first + count))

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        if connection.vendor == "postgresql":
            self._copy(rows)
        else:
            self.model.objects.bulk_create([self.model(**{**self.defaults, **row}) for row in rows], batch_size=2000)

    def _copy(self, rows: list[dict]) -> None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in self.fields)
        names = [f.attname for f in self.fields]
        defaults = self.defaults
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {quote(self.model._meta.db_table)} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[name] if name in row else defaults[name] for name in names])


def _tables(account: ShippingAccount, *, created_at: datetime.datetime) -> dict[type, _Table]:
    """One writer per bulk model, its constant columns from a factory-built prototype."""
    from tests.invoices.factories import InvoiceFactory, InvoiceLineFactory, ShipmentFactory
    from tests.payments.factories import PaymentAllocationFactory, PaymentFactory

    invoice = InvoiceFactory.build(account=account, currency="KRW", amount_paid=Decimal(0), created_at=created_at)
    payment = PaymentFactory.build(
        company=account.company,
        currency="KRW",
        status=PaymentStatus.SUCCEEDED,
        method_kind=MethodKind.BANK_DEBIT,
        method_label="자동이체",
        gateway="simulated",
        created_at=created_at,
        settled_at=created_at,
    )
    prototypes = [
        invoice,
        ShipmentFactory.build(account=account),
        InvoiceLineFactory.build(invoice=invoice, kind=LineKind.SHIPMENT, description="운송 요금"),
        payment,
        PaymentAllocationFactory.build(payment=payment, invoice=invoice),
    ]
    return {type(prototype): _Table(prototype) for prototype in prototypes}


@transaction.atomic
def _insert_batch(
    accounts, start: int, count: int, *, today: datetime.date, rng: random.Random, created_at: datetime.datetime
) -> None:
    tables = _tables(accounts[0], created_at=created_at)
    invoice_ids = tables[Invoice].reserve_ids(count)
    shipment_ids = iter(tables[Shipment].reserve_ids(2 * count))
    line_ids = iter(tables[InvoiceLine].reserve_ids(3 * count))
    invoices, shipments, lines = [], [], []
    to_pay: dict[int, list[dict]] = {}
    n_accounts = len(accounts)
    vat_rate = Decimal("0.1")
    paid_before = today - datetime.timedelta(days=14)
    for seq, invoice_id in zip(range(start, start + count), invoice_ids, strict=True):
        account = accounts[seq % n_accounts]
        invoice_date = today - datetime.timedelta(days=3 + (seq * 7919) % HISTORY_DAYS)
        due_date = invoice_date + datetime.timedelta(days=30)
        number = f"{INVOICE_PREFIX}{seq:012d}"
        subtotal = 0
        for k in range(2):
            amount = rng.randrange(5000, 300000, 100)
            subtotal += amount
            shipment_id = next(shipment_ids)
            shipments.append(
                {
                    "id": shipment_id,
                    "tracking_number": f"1Z{number}{k:02d}",
                    "account_id": account.id,
                    "ship_date": invoice_date - datetime.timedelta(days=1 + k * 9),
                    "service": SERVICES[(seq + k) % len(SERVICES)],
                    "weight_kg": Decimal(rng.randint(50, 3000)) / 100,
                    "origin": CITIES[seq % len(CITIES)],
                    "destination": CITIES[(seq + k + 1) % len(CITIES)],
                }
            )
            lines.append(  # kind and description: the factory's shipment charge
                {
                    "id": next(line_ids),
                    "invoice_id": invoice_id,
                    "position": k + 1,
                    "amount": Decimal(amount),
                    "shipment_id": shipment_id,
                }
            )
        vat = Decimal(subtotal) * vat_rate
        lines.append(
            {
                "id": next(line_ids),
                "invoice_id": invoice_id,
                "position": 3,
                "kind": LineKind.TAX.value,
                "description": "부가가치세 (10%)",
                "amount": vat,
                "shipment_id": None,
            }
        )
        total = Decimal(subtotal) + vat
        invoice = {
            "id": invoice_id,
            "number": number,
            "control_id": f"{seq:08X}"[-8:],
            "account_id": account.id,
            "invoice_date": invoice_date,
            "due_date": due_date,
            "total": total,
        }
        # Invoices due more than two weeks ago are paid, nine in ten of them.
        if due_date < paid_before and seq % 10:
            invoice["amount_paid"] = total
            to_pay.setdefault(seq % n_accounts, []).append(invoice)
        invoices.append(invoice)

    payment_ids = iter(tables[Payment].reserve_ids(len(to_pay)))
    allocation_ids = iter(tables[PaymentAllocation].reserve_ids(sum(len(paid) for paid in to_pay.values())))
    payments, allocations = [], []
    for index, paid in to_pay.items():
        payment_id = next(payment_ids)
        reference = f"{PAYMENT_PREFIX}{paid[0]['number'][len(INVOICE_PREFIX) :]}"
        payments.append(
            {
                "id": payment_id,
                "reference": reference,
                "idempotency_key": f"seed-bench:{reference}",
                "company_id": accounts[index].company_id,
                "amount": sum(invoice["total"] for invoice in paid),
            }
        )
        allocations.extend(
            {"id": next(allocation_ids), "payment_id": payment_id, "invoice_id": i["id"], "amount": i["total"]}
            for i in paid
        )
    tables[Invoice].write(invoices)
    tables[Shipment].write(shipments)
    tables[InvoiceLine].write(lines)
    tables[Payment].write(payments)
    tables[PaymentAllocation].write(allocations)


def seed_bench(
    *,
    invoices: int,
    account_count: int = 2000,
    batch: int = 20000,
    today: datetime.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Add ``invoices`` bench invoices; return what was made and how long it took."""
    today = today or timezone.localdate()
    started = time.monotonic()
    accounts = bench_setup(account_count=account_count)
    first = _next_sequence()
    rng = random.Random(f"seed-bench:{first}")
    created_at = timezone.now()
    done = 0
    while done < invoices:
        count = min(batch, invoices - done)
        _insert_batch(accounts, first + done, count, today=today, rng=rng, created_at=created_at)
        done += count
        if progress:
            progress(f"{done:,}/{invoices:,} invoices ({time.monotonic() - started:.1f} s)")
    return {
        "invoices": done,
        "first_number": f"{INVOICE_PREFIX}{first:012d}",
        "last_number": f"{INVOICE_PREFIX}{first + done - 1:012d}" if done else None,
        "accounts": len(accounts),
        "seconds": time.monotonic() - started,
    }
