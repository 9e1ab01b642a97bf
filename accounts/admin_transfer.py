"""R31: billing staff transfer a company's administrator rights in Django admin.

Staff enter the previous Administrator's user ID and e-mail and the new one's;
``services.transfer.administrator_transfer`` checks both pairs, makes the new user an
Administrator, demotes or removes the previous one, e-mails both and audits the
staff member. The page lives at /admin/accounts/company/transfer-administrator/
(registered from ``billing_centre/urls.py`` before the admin site's own URLs)
and Company admin can offer it as an action on one selected company.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from core.exceptions import ApplicationError, form_add_application_error

from .models import Company
from .services.transfer import administrator_transfer

PERMISSION = "accounts.change_membership"


class AdministratorTransferForm(forms.Form):
    company = forms.ModelChoiceField(label=_("Company"), queryset=Company.objects.order_by("name"))
    previous_username = forms.CharField(label=_("Previous Administrator's user ID"), max_length=150)
    previous_email = forms.EmailField(label=_("Previous Administrator's e-mail"))
    new_username = forms.CharField(label=_("New Administrator's user ID"), max_length=150)
    new_email = forms.EmailField(label=_("New Administrator's e-mail"))
    previous_outcome = forms.ChoiceField(
        label=_("The previous Administrator then"),
        choices=[
            ("manager", _("becomes a Manager of every account and plan")),
            ("payer", _("may view, pay and dispute every account and plan")),
            ("viewer", _("may view every account and plan")),
            ("remove", _("is removed from the company")),
        ],
        initial="manager",
        widget=forms.RadioSelect,
    )


def administrator_transfer_view(request):
    """The staff page: a form; on success back to the company in admin with a message."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    initial = {}
    if request.GET.get("company", "").isdigit():
        initial["company"] = request.GET["company"]
    form = AdministratorTransferForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = administrator_transfer(
                company=data["company"],
                previous_username=data["previous_username"],
                previous_email=data["previous_email"],
                new_username=data["new_username"],
                new_email=data["new_email"],
                previous_outcome=data["previous_outcome"],
                actor=request.user,
            )
        except ApplicationError as error:
            form_add_application_error(form, error)
        else:
            messages.success(
                request,
                _("%(user)s is now an Administrator of %(company)s. Both users were e-mailed.")
                % {"user": membership.user.get_username(), "company": data["company"].name},
            )
            return HttpResponseRedirect(reverse("admin:accounts_company_change", args=[data["company"].pk]))
    context = {
        **admin.site.each_context(request),
        "title": _("Transfer administrator rights"),
        "form": form,
        "opts": Company._meta,
    }
    return render(request, "accounts/admin/administrator_transfer.html", context)


@admin.action(description=_("Transfer administrator rights"), permissions=["change"])
def transfer_administrator_action(modeladmin, request, queryset):
    """Company admin action: open the transfer page for the one selected company."""
    if queryset.count() != 1:
        modeladmin.message_user(request, _("Select exactly one company."), level=messages.WARNING)
        return None
    url = reverse("admin_administrator_transfer")
    return HttpResponseRedirect(f"{url}?company={queryset.get().pk}")


urlpatterns = [
    path(
        "admin/accounts/company/transfer-administrator/",
        admin.site.admin_view(administrator_transfer_view),
        name="admin_administrator_transfer",
    ),
]
