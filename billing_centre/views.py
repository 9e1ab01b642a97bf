from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.views.generic import TemplateView


def home(request):
    return render(request, "home.html")


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
