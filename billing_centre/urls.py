"""The URL map of DESIGN.md: stable, so bookmarks and e-mails keep working.

Pages that a later issue builds answer with a plain "coming soon" page until
then; none of them may 500.
"""

from allauth.account.decorators import secure_admin_login
from allauth.account.utils import get_next_redirect_url
from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path, reverse

from accounts import admin_transfer as accounts_admin_transfer
from accounts import views as accounts_views
from disputes.views import HelpCenterView
from invoices.views import ShipmentListView
from payments import views as payments_views

from . import health, views
from .observability import metrics as observability_metrics


def _admin_login_never_shown(request, extra_context=None):
    """For a logged-in staff user: the admin, never Django's password form (which would log in
    whoever's password is posted, without MFA)."""
    return redirect(get_next_redirect_url(request) or reverse("admin:index"))


# The Django admin has no log-in form of its own: /admin/login/ sends people to allauth's log-in
# (``next`` kept), so billing staff meet the same MFA, rate limits, lock-out and audit as everyone
# (issue 13). A logged-in user who is not active staff gets 403 there; active staff go to the admin.
admin.site.login = secure_admin_login(_admin_login_never_shown)

urlpatterns = [
    path("", views.home, name="dashboard"),
    path("healthz", health.healthz, name="healthz"),
    path("healthz/live", health.live, name="healthz_live"),
    path("healthz/ready", health.ready, name="healthz_ready"),
    # Prometheus metrics, closed to the public (404 without the token or an allowed address).
    path("metrics", observability_metrics.metrics, name="metrics"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("enroll/", accounts_views.EnrolView.as_view(), name="enroll"),
    path("enroll/new-account/", accounts_views.AccountOpenView.as_view(), name="enroll_new_account"),
    path(
        "enroll/access-request/",
        accounts_views.AccessRequestView.as_view(),
        name="enroll_access_request",
    ),
    path("pay-now/", payments_views.PayNowView.as_view(), name="pay_now"),
    path("invoices/", include("invoices.urls")),
    path("shipments/", ShipmentListView.as_view(), name="shipments"),
    path("payments/", include("payments.urls")),
    path("profile/payment-options/", payments_views.PaymentOptionsView.as_view(), name="payment_options"),
    path("disputes/", include("disputes.urls")),
    path("help/", HelpCenterView.as_view(), name="help"),
    path("manage/", include("accounts.urls")),
    *accounts_admin_transfer.urlpatterns,  # R31, before the admin site's own URLs
    path("admin/", admin.site.urls),
]
