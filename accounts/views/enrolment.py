"""/enroll/: enrolment with an invoice (R25), the access request, and opening a new account (R26, R4)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from core.client_ip import client_ip
from core.exceptions import ApplicationError, form_add_application_error

from .. import selectors
from ..forms import AccessRequestForm, AccountOpenForm, EnrolmentForm
from ..models import BillingPlan, EnrolmentOutcome, ShippingAccount
from ..services.enrolment import EnrolmentRefused, enrolment_access_request, enrolment_enrol
from ..services.opening import account_open

ACCESS_REQUEST_SESSION_KEY = "enrolment_access_request"


def enrol_with_form(request, form, *, company):
    """``enrolment_enrol`` with a valid ``EnrolmentForm``'s values (/enroll/ and Add account)."""
    data = form.cleaned_data
    return enrolment_enrol(
        user=request.user,
        number=data["number"],
        invoice_number=data["invoice_number"],
        invoice_date=data["invoice_date"],
        amount=data["amount"],
        control_id=data["control_id"],
        company=company,
        company_name=data.get("company_name", ""),
        ip_address=client_ip(request),
    )


class EnrolView(LoginRequiredMixin, View):
    """/enroll/: enrol with an invoice from the last 45 days, or open a new account."""

    template_name = "accounts/enrolment_form.html"

    def get(self, request):
        # The access-request offer belongs to the refusal just shown, not to later visits.
        request.session.pop(ACCESS_REQUEST_SESSION_KEY, None)
        form = EnrolmentForm(user=request.user)
        return self.render(form)

    def render(self, form, *, access_request=None, status=200):
        pending = self.request.session.get(ACCESS_REQUEST_SESSION_KEY) or {}
        if access_request is None and pending:
            access_request = AccessRequestForm()
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "access_request_form": access_request,
                "access_request_number": pending.get("number", ""),
            },
            status=status,
        )

    def post(self, request):
        form = EnrolmentForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render(form)
        try:
            result = enrol_with_form(request, form, company=form.target_company)
        except EnrolmentRefused as refusal:
            request.session.pop(ACCESS_REQUEST_SESSION_KEY, None)
            form.add_error(None, refusal.message)
            if refusal.code == EnrolmentOutcome.ALREADY_ENROLLED and refusal.billable is not None:
                # The user proved they hold the invoice: they may ask for access.
                request.session[ACCESS_REQUEST_SESSION_KEY] = {
                    "model": "plan" if isinstance(refusal.billable, BillingPlan) else "account",
                    "pk": refusal.billable.pk,
                    "number": refusal.billable.number,
                }
            return self.render(form)
        except ApplicationError as error:
            form_add_application_error(form, error)
            return self.render(form)
        request.session.pop(ACCESS_REQUEST_SESSION_KEY, None)
        extra = len(result.accounts)
        if extra:
            messages.success(
                request,
                _("%(number)s and its %(count)d accounts are enrolled in %(company)s. Paper invoices are declined.")
                % {"number": result.billable.number, "count": extra, "company": result.company.name},
            )
        else:
            messages.success(
                request,
                _("%(number)s is enrolled in %(company)s. Paper invoices are declined.")
                % {"number": result.billable.number, "company": result.company.name},
            )
        return redirect("dashboard")


class AccessRequestView(LoginRequiredMixin, View):
    """POST: e-mail the Administrators of the company that enrolled the account the user
    proved to hold an invoice of (kept in the session by EnrolView)."""

    def post(self, request):
        pending = request.session.get(ACCESS_REQUEST_SESSION_KEY)
        if not pending:
            messages.error(request, _("Enter the invoice values first."))
            return redirect("enroll")
        model = BillingPlan if pending.get("model") == "plan" else ShippingAccount
        billable = selectors.billable_get(model=model, pk=pending.get("pk"))
        form = AccessRequestForm(request.POST)
        if billable is None or not form.is_valid():
            request.session.pop(ACCESS_REQUEST_SESSION_KEY, None)
            messages.error(request, _("The access request could not be sent. Please try again."))
            return redirect("enroll")
        try:
            enrolment_access_request(
                user=request.user,
                billable=billable,
                message=form.cleaned_data["message"],
                ip_address=client_ip(request),
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Your request was sent to the company's Administrators by e-mail."))
        request.session.pop(ACCESS_REQUEST_SESSION_KEY, None)
        return redirect("enroll")


class AccountOpenView(LoginRequiredMixin, View):
    """/enroll/new-account/: open a new account without an invoice (R26, R4)."""

    template_name = "accounts/account_open_form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": AccountOpenForm(user=request.user)})

    def post(self, request):
        form = AccountOpenForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                account = account_open(
                    user=request.user,
                    company_name=data["company_name"],
                    address=data["address"],
                    country=data["country"],
                    contact_phone=data["contact_phone"],
                    contact_email=data["contact_email"],
                    company=data.get("company"),
                    ip_address=client_ip(request),
                )
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(
                    request,
                    _("Your new account number is %(number)s. It is enrolled and paperless.")
                    % {"number": account.number},
                )
                return redirect("dashboard")
        return render(request, self.template_name, {"form": form})
