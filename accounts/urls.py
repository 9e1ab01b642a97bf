from django.urls import path
from django.utils.translation import gettext_lazy as _

from billing_centre.views import ComingSoonView

app_name = "manage"

urlpatterns = [
    path("accounts/", ComingSoonView.as_view(title=_("My Accounts")), name="accounts"),
    path("plans/", ComingSoonView.as_view(title=_("My Plans")), name="plans"),
    path("users/", ComingSoonView.as_view(title=_("User management")), name="users"),
    path("activity/", ComingSoonView.as_view(title=_("Activity")), name="activity"),
]
