"""The URL map of DESIGN.md: stable, so bookmarks and e-mails keep working.

Pages that a later issue builds answer with a plain "coming soon" page until
then; none of them may 500.
"""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from . import health, views

urlpatterns = [
    path("", views.home, name="dashboard"),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("enroll/", views.ComingSoonView.as_view(title=_("Enrol in Billing Centre")), name="enroll"),
    path(
        "pay-now/",
        views.ComingSoonView.as_view(title=_("Pay Now"), login_required=False),
        name="pay_now",
    ),
    path("invoices/", include("invoices.urls")),
    path("shipments/", views.ComingSoonView.as_view(title=_("Shipping history")), name="shipments"),
    path("payments/", include("payments.urls")),
    path(
        "profile/payment-options/",
        views.ComingSoonView.as_view(title=_("Accounts and payment options")),
        name="payment_options",
    ),
    path("disputes/", include("disputes.urls")),
    path(
        "help/",
        views.ComingSoonView.as_view(title=_("Help & Support Center"), login_required=False),
        name="help",
    ),
    path("manage/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]
