"""The one table the authorization crawl takes its expectations from.

Every URL pattern of the project has an entry, keyed by its route (``url_patterns()`` walks the
resolver; a route without an entry fails ``test_every_route_has_an_entry_in_the_table``, naming
it). Django admin's generated model pages are listed from ``admin.site``'s registry (one staff-only
gate answers them all); an admin view written by hand must be listed by hand.

Each entry gives, for the six actors in ``ACTORS`` order, the exact answer to a GET and to a POST of
the route filled with company A's objects (see world.py):

    ``200 400 403 404 405 409``  that status
    ``302``                      a redirect elsewhere than a log-in page
    ``login``                    a redirect to allauth's log-in page (anonymous visitors)
    ``admin``                    a redirect to the admin's log-in door (not billing staff)
    ``ok``                       POST only: the action was accepted (anything but 403, 404, 405, a
                                 log-in redirect or a 5xx); its effect is tested elsewhere

README: "Anything outside the user's scope answers 404; a role that may not act answers 403."
An assigned role (Manager, Payer, Viewer of company A) is assigned account A1 and the plan, not A2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin

ACTORS = ("administrator", "manager", "payer", "viewer", "outsider", "anonymous")
# The key of a pay form A's Payer confirmed and whose request still works (the crawl's fixture
# claims it): the attempt's page shows "in progress" to that user only.
IN_PROGRESS_KEY = "crawl-in-progress-000000001"
# The key of a payment of A's plan invoice scheduled for a later day (the crawl's fixture makes it):
# cancelling it is paying's business, so a Viewer is refused.
SCHEDULED_KEY = "crawl-scheduled-000000001"
REFUSALS = ("403", "404", "405", "login", "admin")


@dataclass(frozen=True)
class Case:
    get: str  # six tokens, ACTORS order
    post: str
    # Query string and POST body, from company A's side (world.Side): plausible data, so that a
    # refusal is the role's or the scope's, not the form's.
    query: Callable | None = None
    data: Callable | None = None
    # Parameter values other than urlmap's defaults (another object of the same side).
    values: Callable | None = None
    note: str = ""

    def expected(self, method: str) -> dict[str, str]:
        tokens = (self.get if method == "get" else self.post).split()
        assert len(tokens) == len(ACTORS), (method, tokens)
        return dict(zip(ACTORS, tokens, strict=True))

    @property
    def changes_state(self) -> bool:
        return "ok" in self.post.split()


def _pay(side):
    return {
        "invoice": side.invoice.number,
        "idempotency_key": "crawl-pay-0000000000000001",
        "method": str(side.method.id),
        "when": "today",
    }


def _card(side):
    return {
        "kind": "credit_card",
        "holder_name": "홍길동",
        "card_number": "4242424242424242",
        "exp_month": "12",
        "exp_year": "2031",
        "cvc": "123",
        "nickname": "crawl",
    }


def _autopay(side):
    return {
        "method": str(side.method.id),
        "amount_mode": "full",
        "timing": "days_before_due",
        "days_before_due": "3",
        "consent": "on",
    }


def _enrol(side):
    invoice = side.unassigned_invoice
    return {
        "number": invoice.account.number,
        "invoice_number": invoice.number,
        "invoice_date": invoice.invoice_date.isoformat(),
        "amount": str(invoice.total),
        "control_id": invoice.control_id,
    }


def _member(side):
    return {"username": "crawl_user", "email": "crawl@example.com", "role": "viewer", "accounts": [side.account.id]}


def _invite(side):
    return {"email": "crawl-invite@example.com", "role": "viewer", "accounts": [side.account.id]}


def _viewer_membership(side):
    return {"pk": str(side.memberships["viewer"].pk)}


def _unassigned_account(side):
    return {"number": side.unassigned_account.number}


def _unassigned_invoice(side):
    return {"number": side.unassigned_invoice.number}


def _scheduled(side):
    from payments.models import Payment

    return Payment.objects.get(idempotency_key__startswith=SCHEDULED_KEY)


def _dispute(side):
    return {"whole": "on", "whole_reason": "weight", "whole_amount": "1000", "comment": "crawl"}


#          administrator manager payer viewer outsider anonymous
ROUTES: dict[str, Case] = {
    # --- Public pages and the dashboard --------------------------------------------------------
    "": Case(get="200 200 200 200 200 200", post="200 200 200 200 200 200", note="dashboard or landing"),
    "healthz": Case(get="200 200 200 200 200 200", post="405 405 405 405 405 405"),
    "healthz/live": Case(get="200 200 200 200 200 200", post="405 405 405 405 405 405"),
    "healthz/ready": Case(get="200 200 200 200 200 200", post="405 405 405 405 405 405"),
    # Prometheus: closed to everyone without the scrape token or an allowed address (tests/billing_centre/
    # test_observability_metrics.py opens it), whatever the login; 404, so its existence is not told.
    "metrics": Case(get="404 404 404 404 404 404", post="404 404 404 404 404 404"),
    "i18n/setlang/": Case(get="302 302 302 302 302 302", post="ok ok ok ok ok ok", data=lambda s: {"language": "en"}),
    "help/": Case(get="200 200 200 200 200 200", post="405 405 405 405 405 405"),
    "shipments/": Case(get="200 200 200 200 200 200", post="405 405 405 405 405 405"),
    "pay-now/": Case(
        get="200 200 200 200 200 200",
        post="ok ok ok ok ok ok",
        data=lambda s: {
            "account_number": s.account.number,
            "invoice_number": s.invoice.number,
            "amount": str(s.invoice.total),
        },
    ),
    "payments/webhooks/stripe/": Case(get="405 405 405 405 405 405", post="400 400 400 400 400 400"),
    # --- allauth: the visitor's own log-in, password, e-mail and MFA (no company data) ----------
    "accounts/login/": Case(get="302 302 302 302 302 200", post="302 302 302 302 302 200"),
    "accounts/logout/": Case(get="200 200 200 200 200 302", post="ok ok ok ok ok 302"),
    "accounts/inactive/": Case(get="200 200 200 200 200 200", post="405 405 405 405 405 405"),
    "accounts/signup/": Case(get="302 302 302 302 302 200", post="302 302 302 302 302 ok"),
    "accounts/reauthenticate/": Case(get="200 200 200 200 200 login", post="ok ok ok ok ok login"),
    "accounts/reauthenticate/code/": Case(get="200 200 200 200 200 login", post="ok ok ok ok ok login"),
    "accounts/reauthenticate/code/confirm/": Case(get="302 302 302 302 302 login", post="302 302 302 302 302 login"),
    "accounts/email/": Case(get="200 200 200 200 200 login", post="ok ok ok ok ok login"),
    "accounts/confirm-email/": Case(get="200 200 200 200 200 200", post="405 405 405 405 405 405"),
    "accounts/password/change/": Case(get="200 200 200 200 200 login", post="ok ok ok ok ok login"),
    "accounts/password/set/": Case(get="302 302 302 302 302 login", post="302 302 302 302 302 login"),
    "accounts/password/reset/": Case(get="200 200 200 200 200 200", post="ok ok ok ok ok ok"),
    "accounts/login/code/confirm/": Case(get="302 302 302 302 302 login", post="302 302 302 302 302 login"),
    "accounts/confirm-email/(?P<key>[-:\\w]+)/": Case(
        get="200 200 200 200 200 200", post="404 404 404 404 404 404", note="an unknown key"
    ),
    "accounts/password/reset/key/done/": Case(get="200 200 200 200 200 200", post="405 405 405 405 405 405"),
    "accounts/password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/": Case(
        get="200 200 200 200 200 200", post="ok ok ok ok ok ok", note="an unknown key: the page says so"
    ),
    "accounts/password/reset/done/": Case(get="200 200 200 200 200 200", post="405 405 405 405 405 405"),
    "accounts/2fa/": Case(get="200 200 200 200 200 login", post="405 405 405 405 405 login"),
    "accounts/2fa/authenticate/": Case(get="302 302 302 302 302 login", post="302 302 302 302 302 login"),
    "accounts/2fa/reauthenticate/": Case(get="302 302 302 302 302 login", post="302 302 302 302 302 login"),
    "accounts/2fa/totp/activate/": Case(get="302 302 302 302 302 login", post="302 302 302 302 302 login"),
    # No TOTP yet: allauth answers 404 for the pages about an authenticator the user does not have.
    "accounts/2fa/totp/deactivate/": Case(get="404 404 404 404 404 login", post="404 404 404 404 404 login"),
    "accounts/2fa/recovery-codes/": Case(get="404 404 404 404 404 login", post="405 405 405 405 405 login"),
    "accounts/2fa/recovery-codes/generate/": Case(get="302 302 302 302 302 login", post="302 302 302 302 302 login"),
    "accounts/2fa/recovery-codes/download/": Case(get="404 404 404 404 404 login", post="404 404 404 404 404 login"),
    # --- Enrolment (R25-R27): any logged-in user may enrol or open an account -------------------
    "enroll/": Case(get="200 200 200 200 200 login", post="ok ok ok ok ok login", data=_enrol),
    "enroll/new-account/": Case(
        get="200 200 200 200 200 login",
        post="ok ok ok ok ok login",
        data=lambda s: {
            "company_name": "크롤상사",
            "address": "서울",
            "country": "KR",
            "contact_phone": "02-000-0000",
            "contact_email": "crawl@example.com",
        },
    ),
    "enroll/access-request/": Case(
        get="405 405 405 405 405 login", post="ok ok ok ok ok login", data=lambda s: {"message": "crawl"}
    ),
    # --- Invoices: every role views and downloads what it is assigned ---------------------------
    "invoices/accounts/": Case(get="200 200 200 200 200 login", post="405 405 405 405 405 login"),
    "invoices/plans/": Case(get="200 200 200 200 200 login", post="405 405 405 405 405 login"),
    "invoices/download/": Case(
        get="405 405 405 405 405 login",
        post="ok ok ok ok 404 login",
        data=lambda s: {"format": "csv", "invoice": [s.invoice.number], "kind": "account"},
    ),
    # An export belongs to its owner (A's Administrator) only.
    "invoices/exports/<uuid:job_id>/": Case(get="200 404 404 404 404 login", post="405 405 405 405 405 login"),
    "invoices/exports/<uuid:job_id>/status/": Case(get="200 404 404 404 404 login", post="405 405 405 405 405 login"),
    "invoices/exports/<uuid:job_id>/download/": Case(get="200 404 404 404 404 login", post="405 405 405 405 405 login"),
    "invoices/<ref:number>/": Case(get="200 200 200 200 404 login", post="405 405 405 405 405 login"),
    "invoices/<ref:number>/print/": Case(get="200 200 200 200 404 login", post="405 405 405 405 405 login"),
    "invoices/<ref:number>/pdf/": Case(get="200 200 200 200 404 login", post="405 405 405 405 405 login"),
    "invoices/<ref:number>/csv/": Case(get="200 200 200 200 404 login", post="405 405 405 405 405 login"),
    "invoices/<ref:number>/xml/": Case(
        get="200 200 200 200 404 login", post="405 405 405 405 405 login", note="A's account is XML-enrolled"
    ),
    # --- Payments -----------------------------------------------------------------------------
    "payments/": Case(get="302 302 302 302 302 login", post="405 405 405 405 405 login"),
    "payments/pay/": Case(
        get="200 200 200 403 404 login",
        post="ok ok ok 403 404 login",
        query=lambda s: f"invoice={s.invoice.number}",
        data=_pay,
    ),
    # The attempt's page: who may see one of its payments is sent to the receipt.
    "payments/pay/<ref:key>/": Case(get="302 302 302 302 404 login", post="405 405 405 405 405 login"),
    "payments/receipts/<ref:reference>/": Case(
        get="200 200 200 200 404 login",
        post="ok ok ok ok 404 login",
        data=lambda s: {"action": "cancel"},
        note="a succeeded payment: nothing to cancel, the POST only checks again",
    ),
    "payments/receipts/<ref:reference>/pdf/": Case(get="200 200 200 200 404 login", post="405 405 405 405 405 login"),
    "payments/history/": Case(get="200 200 200 200 200 login", post="405 405 405 405 405 login"),
    # The wallet is the company's: Administrator, Manager and Payer manage it; a Viewer may not.
    "payments/wallet/": Case(get="200 200 200 403 200 login", post="405 405 405 405 405 login"),
    "payments/wallet/add/": Case(get="200 200 200 403 200 login", post="ok ok ok 403 ok login", data=_card),
    "payments/wallet/<int:pk>/edit/": Case(
        get="200 200 200 403 404 login",
        post="ok ok ok 403 404 login",
        data=lambda s: {"nickname": "crawl", "exp_month": "1", "exp_year": "2035"},
    ),
    "payments/wallet/<int:pk>/default/": Case(get="405 405 405 405 405 login", post="ok ok ok 403 404 login"),
    "payments/wallet/<int:pk>/delete/": Case(get="200 200 200 403 404 login", post="ok ok ok 403 404 login"),
    # AutoPay: Administrator and Manager set it up and change it; everyone sees it.
    "payments/autopay/": Case(get="200 200 200 200 200 login", post="405 405 405 405 405 login"),
    "payments/autopay/new/": Case(
        get="200 200 403 403 404 login",
        post="ok ok 403 403 404 login",
        query=lambda s: f"plan={s.plan.number}",
        data=_autopay,
    ),
    "payments/autopay/<int:pk>/edit/": Case(
        get="200 200 403 403 404 login", post="ok ok 403 403 404 login", data=_autopay
    ),
    "payments/autopay/<int:pk>/pause/": Case(get="405 405 405 405 405 login", post="ok ok 403 403 404 login"),
    "payments/autopay/<int:pk>/resume/": Case(get="405 405 405 405 405 login", post="ok ok 403 403 404 login"),
    "payments/autopay/<int:pk>/cancel/": Case(get="405 405 405 405 405 login", post="ok ok 403 403 404 login"),
    # R11: the card for shipping charges, per account, set by its Administrator or Manager.
    "profile/payment-options/": Case(
        get="200 200 200 200 200 login",
        post="ok ok 403 403 404 login",
        data=lambda s: {"account": s.account.number, "method": str(s.method.id)},
        note="the page lists the accounts the user administers (none for a Payer or Viewer)",
    ),
    # --- Disputes: every role follows them; Administrator, Manager and Payer file and write ------
    "disputes/": Case(get="200 200 200 200 200 login", post="405 405 405 405 405 login"),
    "disputes/new/": Case(
        get="200 200 200 403 404 login",
        post="ok ok ok 403 404 login",
        query=lambda s: f"invoice={s.paid_invoice.number}",
        data=_dispute,
    ),
    "disputes/<ref:reference>/": Case(get="200 200 200 200 404 login", post="405 405 405 405 405 login"),
    "disputes/<ref:reference>/messages/": Case(
        get="302 302 302 302 302 login", post="ok ok ok 403 404 login", data=lambda s: {"body": "crawl"}
    ),
    "disputes/<ref:reference>/withdraw/": Case(get="302 302 302 302 302 login", post="ok ok ok 403 404 login"),
    # An attachment answers 404 to an anonymous visitor too (no log-in redirect: tests/disputes).
    "disputes/<ref:reference>/attachments/<int:pk>/": Case(
        get="200 200 200 200 404 404", post="405 405 405 405 405 405"
    ),
    # --- Administration (R27-R31) -------------------------------------------------------------
    "manage/accounts/": Case(get="200 200 403 403 200 login", post="405 405 403 403 405 login"),
    "manage/accounts/add/": Case(get="200 403 403 403 200 login", post="ok 403 403 403 ok login", data=_enrol),
    "manage/accounts/<ref:number>/xml/": Case(
        get="200 403 403 403 404 login", post="ok 403 403 403 404 login", data=lambda s: {"enabled": ""}
    ),
    "manage/accounts/<ref:number>/remove/": Case(
        get="200 403 403 403 404 login", post="ok 403 403 403 404 login", data=lambda s: {"confirm": "1"}
    ),
    "manage/plans/": Case(get="200 200 403 403 200 login", post="405 405 403 403 405 login"),
    "manage/plans/<ref:number>/xml/": Case(
        get="200 403 403 403 404 login", post="ok 403 403 403 404 login", data=lambda s: {"enabled": ""}
    ),
    "manage/plans/<ref:number>/remove/": Case(
        get="200 403 403 403 404 login", post="ok 403 403 403 404 login", data=lambda s: {"confirm": "1"}
    ),
    "manage/users/": Case(get="200 200 403 403 200 login", post="405 405 403 403 405 login"),
    "manage/users/add/": Case(get="200 200 403 403 200 login", post="ok ok 403 403 ok login", data=_member),
    "manage/users/invite/": Case(get="200 200 403 403 200 login", post="ok ok 403 403 ok login", data=_invite),
    # The Administrator's membership: outside what a Manager manages (not even listed to one): 404.
    "manage/users/<int:pk>/edit/": Case(
        get="200 404 403 403 404 login", post="ok 404 403 403 404 login", data=lambda s: {"role": "manager"}
    ),
    "manage/users/<int:pk>/remove/": Case(get="200 404 403 403 404 login", post="ok 404 403 403 404 login"),
    # An invitation to no account or plan is the Administrator's (a Manager does not see it).
    "manage/users/invitations/<int:pk>/cancel/": Case(get="405 405 405 405 405 login", post="ok 404 403 403 404 login"),
    "manage/users/invitations/<int:pk>/resend/": Case(get="405 405 405 405 405 login", post="ok 404 403 403 404 login"),
    "manage/activity/": Case(get="200 403 403 403 200 login", post="405 403 403 403 405 login"),
    # --- Django admin: billing staff only (none of the six actors is staff) ----------------------
    "admin/accounts/company/transfer-administrator/": Case(
        get="admin admin admin admin admin admin", post="admin admin admin admin admin admin"
    ),
    "admin/disputes/dispute/<int:pk>/decide/": Case(
        get="admin admin admin admin admin admin", post="admin admin admin admin admin admin"
    ),
    "admin/disputes/dispute/<int:pk>/reply/": Case(
        get="admin admin admin admin admin admin", post="admin admin admin admin admin admin"
    ),
    "admin/disputes/dispute/<int:pk>/take/": Case(
        get="admin admin admin admin admin admin", post="admin admin admin admin admin admin"
    ),
    "admin/accounts/user/<id>/password/": Case(
        get="admin admin admin admin admin admin", post="admin admin admin admin admin admin"
    ),
}

# The same routes filled with other objects of company A: the assigned roles' scope ends at their
# accounts, and a Manager manages the members within it.
VARIANTS: list[tuple[str, Case]] = [
    (
        "invoices/<ref:number>/",
        Case(get="200 404 404 404 404 login", post="405 405 405 405 405 login", values=_unassigned_invoice),
    ),
    (
        "manage/accounts/<ref:number>/xml/",
        Case(
            get="200 404 404 404 404 login",
            post="ok 404 404 404 404 login",
            values=_unassigned_account,
            data=lambda s: {"enabled": "on"},
        ),
    ),
    (
        "payments/pay/",
        Case(
            get="200 404 404 404 404 login",
            post="ok 404 404 404 404 login",
            query=lambda s: f"invoice={s.unassigned_invoice.number}",
            data=lambda s: {**_pay(s), "invoice": s.unassigned_invoice.number},
        ),
    ),
    (
        "payments/pay/<ref:key>/",
        Case(
            get="404 404 200 404 404 login",
            post="405 405 405 405 405 login",
            values=lambda s: {"key": IN_PROGRESS_KEY},
            note="the in-progress page (issue 13)",
        ),
    ),
    (
        "payments/receipts/<ref:reference>/",
        Case(
            get="200 200 200 200 404 login",
            post="ok ok ok 403 404 login",
            values=lambda s: {"reference": _scheduled(s).reference},
            data=lambda s: {"action": "cancel"},
            note="a scheduled payment: the POST cancels it",
        ),
    ),
    (
        "manage/users/<int:pk>/edit/",
        Case(
            get="200 200 403 403 404 login",
            post="ok ok 403 403 404 login",
            values=_viewer_membership,
            data=lambda s: {"role": "payer", "accounts": [s.account.id]},
        ),
    ),
    (
        "manage/users/<int:pk>/remove/",
        Case(get="200 200 403 403 404 login", post="ok ok 403 403 404 login", values=_viewer_membership),
    ),
]

_ADMIN_MODEL_PAGES = ("", "add/", "<path:object_id>/history/", "<path:object_id>/delete/", "<path:object_id>/change/")
_ADMIN_SITE_PAGES = (
    "admin/",
    "admin/password_change/",
    "admin/password_change/done/",
    "admin/autocomplete/",
    "admin/jsi18n/",
    "admin/r/<path:content_type_id>/<path:object_id>/",
    "admin/(?P<url>.*)",
)


def admin_routes() -> dict[str, Case]:
    """The admin site's own pages and each registered model's generated pages."""
    site: dict[str, Case] = {}
    staff_only = Case(get="admin admin admin admin admin admin", post="admin admin admin admin admin admin")
    labels = sorted({model._meta.app_label for model in admin.site._registry})
    for route in _ADMIN_SITE_PAGES:
        site[route] = staff_only
    # The admin's log-in door is allauth's (MFA, limits): a logged-in customer is refused there.
    site["admin/login/"] = Case(get="403 403 403 403 403 login", post="403 403 403 403 403 login")
    site["admin/logout/"] = Case(get="302 302 302 302 302 302", post="ok ok ok ok ok 302")
    site["admin/(?P<app_label>" + "|".join(_registry_order_labels()) + ")/"] = staff_only
    for model in admin.site._registry:
        base = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        for page in _ADMIN_MODEL_PAGES:
            site[base + page] = staff_only
        site[base + "<path:object_id>/"] = staff_only  # the redirect to …/change/
    assert labels  # the registry is loaded
    return site


def _registry_order_labels() -> list[str]:
    """The admin's app-list pattern names the labels in registry order, each once."""
    labels: list[str] = []
    for model in admin.site._registry:
        if model._meta.app_label not in labels:
            labels.append(model._meta.app_label)
    return labels


def table() -> dict[str, Case]:
    return {**admin_routes(), **ROUTES}
