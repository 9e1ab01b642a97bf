"""My Accounts / My Plans (R17-R18, R27): the tables, Add account, and each row's Actions menu."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View

from core.client_ip import client_ip
from core.exceptions import ApplicationError

from .. import selectors
from ..access import Action, require
from ..forms import EnrolmentForm, XmlEnrolmentForm
from ..models import BillingPlan, ShippingAccount
from ..services.billables import billable_removal_blockers, billable_remove, billable_xml_set
from .base import BILLABLE_NUMBER_RE, ManageView, manage_url
from .enrolment import enrol_with_form


class AccountListView(ManageView):
    """Administrators: every account with actions; Managers: their accounts, read-only."""

    def get(self, request):
        accounts = selectors.account_list_managed(user=request.user, company=self.company)
        return render(request, "accounts/shippingaccount_list.html", self.context(accounts=accounts))


class PlanListView(ManageView):
    def get(self, request):
        plans = selectors.plan_list_managed(user=request.user, company=self.company)
        return render(request, "accounts/billingplan_list.html", self.context(plans=plans))


class AccountAddView(ManageView):
    """Admin › My Accounts › Add account: an invoice of the account from the last 45 days (R27)."""

    action = Action.MANAGE_ACCOUNTS
    template_name = "accounts/shippingaccount_add.html"

    def get(self, request):
        form = EnrolmentForm(user=request.user, fixed_company=self.company)
        return render(request, self.template_name, self.context(form=form))

    def post(self, request):
        form = EnrolmentForm(request.POST, user=request.user, fixed_company=self.company)
        if form.is_valid():
            try:
                result = enrol_with_form(request, form, company=self.company)
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request, _("%(number)s is added to your company.") % {"number": result.billable.number}
                )
                name = "manage:plans" if isinstance(result.billable, BillingPlan) else "manage:accounts"
                return HttpResponseRedirect(manage_url(name, self.company))
        return render(request, self.template_name, self.context(form=form))


class BillableActionView(LoginRequiredMixin, View):
    """Base for the Actions menu of a row: the account or plan must be visible (else 404)
    and the role must allow managing accounts (else 403)."""

    model = ShippingAccount
    list_name = "manage:accounts"

    def dispatch(self, request, number, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not BILLABLE_NUMBER_RE.match(number):
            raise Http404
        self.object = selectors.billable_get_visible(user=request.user, model=self.model, number=number)
        if self.object is None or self.object.company is None:
            raise Http404
        if self.model is BillingPlan:
            require(request.user, Action.MANAGE_ACCOUNTS, plan=self.object)
        else:
            require(request.user, Action.MANAGE_ACCOUNTS, account=self.object)
        self.company = self.object.company
        return super().dispatch(request, number, *args, **kwargs)

    def back_url(self) -> str:
        return manage_url(self.list_name, self.company)

    def context(self, **extra):
        return {
            "object": self.object,
            "company": self.company,
            "back_url": self.back_url(),
            "is_plan": self.model is BillingPlan,
            **extra,
        }


class BillableXmlView(BillableActionView):
    """Edit XML enrolment (R17-R18): a confirmation, then on or off."""

    template_name = "accounts/billable_xml_confirm.html"

    def get(self, request, number):
        form = XmlEnrolmentForm(initial={"enabled": not self.object.xml_enrolled})
        return render(request, self.template_name, self.context(form=form))

    def post(self, request, number):
        form = XmlEnrolmentForm(request.POST)
        if not form.is_valid():  # pragma: no cover - a boolean is always valid
            return render(request, self.template_name, self.context(form=form))
        enabled = form.cleaned_data["enabled"]
        try:
            billable_xml_set(actor=request.user, billable=self.object, enabled=enabled, ip_address=client_ip(request))
        except ApplicationError as error:
            form.add_error(None, error.message)
            return render(request, self.template_name, self.context(form=form))
        if enabled:
            messages.success(request, _("XML invoices are on for %(number)s.") % {"number": self.object.number})
        else:
            messages.success(request, _("XML invoices are off for %(number)s.") % {"number": self.object.number})
        return HttpResponseRedirect(self.back_url())


class BillableRemoveView(BillableActionView):
    """Remove from company: a confirmation; refused while AutoPay or an open dispute depends on it."""

    template_name = "accounts/billable_remove_confirm.html"

    def get(self, request, number):
        blockers = billable_removal_blockers(self.object)
        return render(request, self.template_name, self.context(blockers=blockers))

    def post(self, request, number):
        try:
            billable_remove(actor=request.user, billable=self.object, ip_address=client_ip(request))
        except ApplicationError as error:
            blockers = billable_removal_blockers(self.object)
            return render(request, self.template_name, self.context(blockers=blockers, error=error.message), status=409)
        messages.success(request, _("%(number)s was removed from the company.") % {"number": self.object.number})
        return HttpResponseRedirect(self.back_url())


class PlanXmlView(BillableXmlView):
    model = BillingPlan
    list_name = "manage:plans"


class PlanRemoveView(BillableRemoveView):
    model = BillingPlan
    list_name = "manage:plans"
