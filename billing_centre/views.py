from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.utils import timezone
from django.views.generic import TemplateView

from invoices.selectors.dashboard import dashboard_summary


def home(request):
    """``/``: the dashboard for a logged-in user, the landing page (Log in, Pay Now) otherwise."""
    if not request.user.is_authenticated:
        return render(request, "landing.html")
    summary = dashboard_summary(user=request.user, today=timezone.localdate())
    return render(request, "dashboard.html", {"summary": summary})


class ComingSoonView(TemplateView):
    template_name = "coming_soon.html"
    title = ""
    login_required = True

    def dispatch(self, request, *args, **kwargs):
        if self.login_required and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(title=self.title, **kwargs)
