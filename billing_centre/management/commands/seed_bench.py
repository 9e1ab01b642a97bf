"""``manage.py seed_bench --invoices N``: bulk benchmark data (see billing_centre/seed/bench.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing_centre.seed import DEMO_PASSWORD
from billing_centre.seed.bench import BENCH_ADMIN, BENCH_COMPANY, seed_bench


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Add N benchmark invoices (two shipments and three lines each, older ones paid) spread over "
        f"the bench accounts. Accounts are owned in turn by five companies; {BENCH_COMPANY}'s "
        f'Administrator "{BENCH_ADMIN}" (password "{DEMO_PASSWORD}") sees one invoice in five. '
        "Re-runnable: each run ADDS N invoices, numbered after the highest existing bench invoice "
        "(BN + 12 digits), so nothing collides; existing accounts and users are kept. Each batch "
        "commits on its own."
    )

    def add_arguments(self, parser):
        parser.add_argument("--invoices", type=_positive, required=True, help="How many invoices to add.")
        parser.add_argument(
            "--accounts",
            type=_positive,
            default=2000,
            help="How many bench accounts to spread them over (default 2000, max 60,000,000).",
        )
        parser.add_argument(
            "--batch",
            type=_positive,
            default=20000,
            help="Invoices per transaction and bulk insert round (default 20000).",
        )

    def handle(self, *args, invoices, accounts, batch, **options):
        if accounts > 36**5:
            raise CommandError("--accounts must be at most 60,466,176.")
        result = seed_bench(
            invoices=invoices,
            account_count=accounts,
            batch=batch,
            progress=(lambda msg: self.stdout.write(msg)) if options["verbosity"] >= 1 else None,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {result['invoices']:,} invoices ({result['first_number']} … {result['last_number']}) "
                f"over {result['accounts']:,} accounts in {result['seconds']:.1f} s. "
                f'Log in as "{BENCH_ADMIN}" / "{DEMO_PASSWORD}".'
            )
        )
