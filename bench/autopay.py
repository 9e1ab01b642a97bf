"""AutoPay run over N due invoices with the simulated gateway (called by bench/run.py).

Creates a scratch company (its own name per run, so reruns never collide and the bench
Administrator's scope is untouched) with N / 100 accounts of 100 open invoices each, due in
two days, and one AutoPay schedule per account ("3 days before the due date", full amount,
a simulated card). Then:

1. ``autopay_schedule_run`` of the first schedule alone (100 invoices): queries per invoice;
2. ``autopay_run`` of the day (every other schedule): wall time and queries per invoice.

Prints one JSON line. E-mail goes to Django's in-memory backend (no SMTP from a benchmark).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_centre.settings")

PER_ACCOUNT = 100


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The run queues its receipts and notices for Celery workers, as in production; without
    # REDIS_URL Celery would run each task inline (a receipt PDF per payment) inside the run.
    from billing_centre.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = "memory://"

    from django.db import connection
    from django.utils import timezone

    from accounts.models import Role, ShippingAccount
    from invoices.models import Invoice
    from payments.autopay import autopay_run, autopay_schedule_run
    from payments.gateways.simulated import SimulatedGateway
    from payments.models import AutoPaySchedule
    from tests.accounts.factories import CompanyFactory, MembershipFactory, ShippingAccountFactory, UserFactory
    from tests.invoices.factories import InvoiceFactory
    from tests.payments.factories import AutoPayScheduleFactory, PaymentMethodFactory

    run_id = time.strftime("%Y%m%d%H%M%S")
    today = timezone.localdate()
    # Earlier runs' scratch companies (one interrupted midway still owes its invoices) must not
    # be paid by this run's daily job: their schedules are cancelled first.
    AutoPaySchedule.objects.filter(company__name__startswith="AutoPay 벤치 ").update(
        status=AutoPaySchedule.Status.CANCELLED
    )
    accounts_needed = max(1, args.count // PER_ACCOUNT)
    company = CompanyFactory(name=f"AutoPay 벤치 {run_id}", country="KR", address="서울특별시 중구 세종대로 110")
    admin = UserFactory(
        username=f"autopay_bench_{run_id}", email=f"autopay_{run_id}@bench.example.com", name="AutoPay 벤치"
    )
    MembershipFactory(user=admin, company=company, role=Role.ADMINISTRATOR)
    saved = SimulatedGateway().tokenize_card(
        number="4242424242424242", exp_month=12, exp_year=today.year + 3, cvc="123", holder_name="홍길동"
    )
    # A card the simulated gateway can charge: its real token, not the factory's made-up one.
    method = PaymentMethodFactory(
        company=company,
        nickname="",
        holder_name=saved.holder_name,
        brand=saved.brand,
        last4=saved.last4,
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
        gateway_token=saved.token,
        is_default=True,
    )
    # Account numbers: "Y" + two base-36 characters unused so far + a three-digit index.
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    used = {
        number[1:3]
        for number in ShippingAccount.objects.filter(number__startswith="Y").values_list("number", flat=True)
    }
    prefix = next(a + b for a in digits for b in digits if a + b not in used)
    accounts = ShippingAccount.objects.bulk_create(
        [
            ShippingAccountFactory.build(
                number=f"Y{prefix}{index:03d}",
                name=f"AutoPay 벤치 {index}",
                company=company,
                paperless_since=today,
                billing_contact_phone="080-687-6886",
                billing_contact_email="billing@carrier.example.com",
            )
            for index in range(accounts_needed)
        ]
    )
    due = today + datetime.timedelta(days=2)
    Invoice.objects.bulk_create(
        [
            InvoiceFactory.build(
                number=f"AP{run_id[2:]}{a:03d}{i:03d}"[:20],
                control_id=f"{a:06d}{i:06d}",
                account=account,
                invoice_date=today,
                due_date=due,
                total=Decimal(10000 + i),
            )
            for a, account in enumerate(accounts)
            for i in range(PER_ACCOUNT)
        ],
        batch_size=5000,
    )
    schedules = [
        # The factory's schedule: the full amount, three days before the due date.
        AutoPayScheduleFactory(company=company, account=account, method=method, start_date=today, created_by=admin)
        for account in accounts
    ]
    total_invoices = accounts_needed * PER_ACCOUNT

    counter = QueryCounter()
    start = time.perf_counter()
    with connection.execute_wrapper(counter):
        small = autopay_schedule_run(schedule_id=schedules[0].id, today=today)
    small_seconds = time.perf_counter() - start
    small_queries = counter.count

    counter = QueryCounter()
    start = time.perf_counter()
    with connection.execute_wrapper(counter):
        rest = autopay_run(today=today)
    rest_seconds = time.perf_counter() - start
    outcomes = Counter(small) + Counter({k: v for k, v in rest.items() if isinstance(v, int)})
    paid = Invoice.objects.filter(account__company=company, status="paid").count()
    print(
        json.dumps(
            {
                "invoices": total_invoices,
                "paid": paid,
                "seconds": small_seconds + rest_seconds,
                "per_invoice_small": small_queries / PER_ACCOUNT,
                "per_invoice": counter.count / max(1, total_invoices - PER_ACCOUNT),
                "outcomes": {k: v for k, v in outcomes.items() if v},
                "loadavg": open("/proc/loadavg").read().split()[:3],
            }
        )
    )


if __name__ == "__main__":
    main()
