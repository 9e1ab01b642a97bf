from django.urls import path
from django.utils.translation import gettext_lazy as _

from billing_centre.views import ComingSoonView

app_name = "disputes"

urlpatterns = [
    path("", ComingSoonView.as_view(title=_("Disputes")), name="list"),
]
