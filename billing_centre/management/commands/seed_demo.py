"""``manage.py seed_demo``: deterministic Korean demo data (see billing_centre/seed/demo.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from billing_centre.seed import DEMO_PASSWORD
from billing_centre.seed.demo import seed_demo


class Command(BaseCommand):
    help = (
        "Create deterministic Korean demo data: two companies, shipping accounts (one temporary "
        "10-digit, one on paper invoices, one in USD), a billing plan, about 14 months of invoices "
        "with shipments, lines and payments, wallets, an AutoPay schedule, a scheduled payment, "
        "disputes (submitted, partly approved, rejected), and one user per role plus billing staff. "
        f'Every demo user\'s password is "{DEMO_PASSWORD}". Running it again changes nothing.'
    )

    def handle(self, *args, **options):
        # The seed files disputes and decides them through the real services, which e-mail the
        # filer after commit. The default console backend would print those e-mails into this
        # command's output; keep them in memory (discarded) so the output stays the login list.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            result = seed_demo()
        if result.created:
            self.stdout.write(self.style.SUCCESS("Demo data created."))
        else:
            self.stdout.write("Demo data already present; nothing changed.")
        self.stdout.write("")
        self.stdout.write("Demo logins (user ID / role / company / password):")
        width = max(len(login[0]) for login in result.logins)
        role_width = max(len(login[1]) for login in result.logins)
        for username, role, company, password in result.logins:
            self.stdout.write(f"  {username:<{width}}  {role:<{role_width}}  {company or '-'}  {password}")
