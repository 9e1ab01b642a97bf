"""Enrolment (R25, R26) and the administration pages (R17-R18, R27-R30).

Views are thin: a form parses, one service or selector does the work, and a
domain refusal (``ApplicationError``) becomes a form error. Scope comes from
``accounts.access``: outside it 404, where the role forbids 403.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views import View

from core.client_ip import client_ip
from core.exceptions import ApplicationError, form_add_application_error

from . import selectors, services
from .access import Action, require, user_can
from .forms import (
    AccessRequestForm,
    AccountOpenForm,
    ActivityFilterForm,
    EnrolmentForm,
    InvitationForm,
    MembershipAddForm,
    MembershipEditForm,
    XmlEnrolmentForm,
)
from .models import BillingPlan, Company, EnrolmentOutcome, Invitation, Membership, Role, ShippingAccount, User

ACCESS_REQUEST_SESSION_KEY = "enrolment_access_request"
# Account and plan numbers in URLs: anything else is 404 before it reaches the database.
BILLABLE_NUMBER_RE = re.compile(r"^[A-Za-z0-9]{1,12}$")


def _manage_url(name: str, company: Company) -> str:
    return f"{reverse(name)}?{urlencode({'company': company.pk})}"


def _company_for(request, action: Action) -> Company:
    """The company a manage page works on: ``?company=<id>`` among the user's companies,
    else the first one whose role allows ``action``. 404 outside the user's companies,
    403 where the role forbids."""
    companies = selectors.company_list_visible(user=request.user).order_by("name", "id")
    raw = request.GET.get("company", "")
    if raw:
        if not raw.isdigit():
            raise Http404
        company = companies.filter(pk=int(raw)).first()
    else:
        company = next(
            (c for c in companies if user_can(request.user, action, company=c)),
            companies.first(),
        )
    if company is None:
        raise Http404
    require(request.user, action, company=company)
    return company


class ManageView(LoginRequiredMixin, View):
    """A page of /manage/ about one company the user may manage."""

    action = Action.MANAGE_USERS

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.memberships.exists():
            messages.info(request, _("Enrol an account first to manage your company."))
            return redirect("enroll")
        self.company = _company_for(request, self.action)
        return super().dispatch(request, *args, **kwargs)

    def context(self, **extra):
        managed = selectors.company_list_managed(user=self.request.user)
        return {
            "company": self.company,
            "companies": managed if managed.count() > 1 else [],
            "can_manage_accounts": user_can(self.request.user, Action.MANAGE_ACCOUNTS, company=self.company),
            "can_view_activity": user_can(self.request.user, Action.VIEW_ACTIVITY, company=self.company),
            "company_query": urlencode({"company": self.company.pk}),
            **extra,
        }


# --- Enrolment ------------------------------------------------------------------------------


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
        data = form.cleaned_data
        try:
            result = services.enrolment_enrol(
                user=request.user,
                number=data["number"],
                invoice_number=data["invoice_number"],
                invoice_date=data["invoice_date"],
                amount=data["amount"],
                control_id=data["control_id"],
                company=form.target_company,
                company_name=data.get("company_name", ""),
                ip_address=client_ip(request),
            )
        except services.EnrolmentRefused as refusal:
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
        billable = model.objects.select_related("company").filter(pk=pending.get("pk")).first()
        form = AccessRequestForm(request.POST)
        if billable is None or not form.is_valid():
            request.session.pop(ACCESS_REQUEST_SESSION_KEY, None)
            messages.error(request, _("The access request could not be sent. Please try again."))
            return redirect("enroll")
        try:
            services.enrolment_access_request(
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
                account = services.account_open(
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


# --- My Accounts / My Plans -----------------------------------------------------------------


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
            data = form.cleaned_data
            try:
                result = services.enrolment_enrol(
                    user=request.user,
                    number=data["number"],
                    invoice_number=data["invoice_number"],
                    invoice_date=data["invoice_date"],
                    amount=data["amount"],
                    control_id=data["control_id"],
                    company=self.company,
                    ip_address=client_ip(request),
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request, _("%(number)s is added to your company.") % {"number": result.billable.number}
                )
                name = "manage:plans" if isinstance(result.billable, BillingPlan) else "manage:accounts"
                return HttpResponseRedirect(_manage_url(name, self.company))
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
        if self.model is BillingPlan:
            visible = selectors.plan_list_visible(user=request.user)
        else:
            visible = selectors.account_list_visible(user=request.user)
        self.object = visible.select_related("company").filter(number=number).first()
        if self.object is None or self.object.company is None:
            raise Http404
        if self.model is BillingPlan:
            require(request.user, Action.MANAGE_ACCOUNTS, plan=self.object)
        else:
            require(request.user, Action.MANAGE_ACCOUNTS, account=self.object)
        self.company = self.object.company
        return super().dispatch(request, number, *args, **kwargs)

    def back_url(self) -> str:
        return _manage_url(self.list_name, self.company)

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
            services.billable_xml_set(
                actor=request.user, billable=self.object, enabled=enabled, ip_address=client_ip(request)
            )
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
        blockers = services.billable_removal_blockers(self.object)
        return render(request, self.template_name, self.context(blockers=blockers))

    def post(self, request, number):
        try:
            services.billable_remove(actor=request.user, billable=self.object, ip_address=client_ip(request))
        except ApplicationError as error:
            blockers = services.billable_removal_blockers(self.object)
            return render(request, self.template_name, self.context(blockers=blockers, error=error.message), status=409)
        messages.success(request, _("%(number)s was removed from the company.") % {"number": self.object.number})
        return HttpResponseRedirect(self.back_url())


class PlanXmlView(BillableXmlView):
    model = BillingPlan
    list_name = "manage:plans"


class PlanRemoveView(BillableRemoveView):
    model = BillingPlan
    list_name = "manage:plans"


# --- Users and roles ------------------------------------------------------------------------


class UserListView(ManageView):
    """R28-R30: Administrators see every member; Managers the users within their accounts."""

    def get(self, request):
        scope = services.manager_scope(actor=request.user, company=self.company)
        memberships = list(selectors.membership_list_company(company=self.company))
        admin_count = sum(1 for m in memberships if m.role == Role.ADMINISTRATOR)
        rows = []
        for membership in memberships:
            manageable = scope.may_manage(membership, actor=request.user)
            if manageable or membership.user_id == request.user.id or scope.is_administrator:
                rows.append({"membership": membership, "manageable": manageable})
        invitations = selectors.invitation_list_pending(company=self.company)
        if not scope.is_administrator:
            invitations = [
                i
                for i in invitations
                if scope.covers(account_ids=[a.id for a in i.accounts.all()], plan_ids=[p.id for p in i.plans.all()])
                and i.role != Role.ADMINISTRATOR
            ]
        return render(
            request,
            "accounts/membership_list.html",
            self.context(
                rows=rows,
                invitations=invitations,
                admin_count=admin_count,
                is_administrator=scope.is_administrator,
            ),
        )


class UserAddView(ManageView):
    template_name = "accounts/membership_form.html"
    form_class = MembershipAddForm
    title = ""

    def form(self, data=None):
        scope = services.manager_scope(actor=self.request.user, company=self.company)
        return self.form_class(data, company=self.company, scope=scope)

    def get(self, request):
        return self.show(self.form())

    def show(self, form):
        return render(
            request=self.request,
            template_name=self.template_name,
            context=self.context(form=form, mode="add" if self.form_class is MembershipAddForm else "invite"),
        )

    def post(self, request):
        form = self.form(request.POST)
        if form.is_valid():
            try:
                self.save(form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                return HttpResponseRedirect(_manage_url("manage:users", self.company))
        return self.show(form)

    def save(self, data):
        membership = services.membership_add(
            actor=self.request.user,
            company=self.company,
            username=data["username"],
            email=data["email"],
            role=data["role"],
            accounts=data["accounts"],
            plans=data["plans"],
            ip_address=client_ip(self.request),
        )
        messages.success(
            self.request, _("%(user)s was added to the company.") % {"user": membership.user.get_username()}
        )


class UserInviteView(UserAddView):
    form_class = InvitationForm

    def save(self, data):
        invitation = services.invitation_create(
            actor=self.request.user,
            company=self.company,
            email=data["email"],
            role=data["role"],
            accounts=data["accounts"],
            plans=data["plans"],
            ip_address=client_ip(self.request),
        )
        messages.success(
            self.request,
            _("An invitation was sent to %(email)s. They join when they sign up with this address.")
            % {"email": invitation.email},
        )


class MembershipActionView(LoginRequiredMixin, View):
    """Edit or remove a member: 404 unless the actor may manage that member."""

    def dispatch(self, request, pk, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.membership = (
            Membership.objects.select_related("user", "company")
            .prefetch_related("accounts", "plans")
            .filter(pk=pk)
            .first()
        )
        if self.membership is None:
            raise Http404
        self.company = self.membership.company
        require(request.user, Action.MANAGE_USERS, company=self.company)
        self.scope = services.manager_scope(actor=request.user, company=self.company)
        if not self.scope.may_manage(self.membership, actor=request.user):
            raise Http404
        return super().dispatch(request, pk, *args, **kwargs)

    def back_url(self):
        return _manage_url("manage:users", self.company)

    def context(self, **extra):
        return {"membership": self.membership, "company": self.company, "back_url": self.back_url(), **extra}


class UserEditView(MembershipActionView):
    template_name = "accounts/membership_form.html"

    def form(self, data=None):
        return MembershipEditForm(data, company=self.company, scope=self.scope, membership=self.membership)

    def get(self, request, pk):
        return render(request, self.template_name, self.context(form=self.form(), mode="edit"))

    def post(self, request, pk):
        form = self.form(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.membership_update(
                    actor=request.user,
                    membership=self.membership,
                    role=data["role"],
                    accounts=data["accounts"],
                    plans=data["plans"],
                    ip_address=client_ip(request),
                )
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("%(user)s was updated.") % {"user": self.membership.user.get_username()})
                return HttpResponseRedirect(self.back_url())
        return render(request, self.template_name, self.context(form=form, mode="edit"))


class UserRemoveView(MembershipActionView):
    template_name = "accounts/membership_remove_confirm.html"

    def get(self, request, pk):
        return render(request, self.template_name, self.context())

    def post(self, request, pk):
        try:
            services.membership_remove(actor=request.user, membership=self.membership, ip_address=client_ip(request))
        except ApplicationError as error:
            return render(request, self.template_name, self.context(error=error.message), status=409)
        messages.success(
            request, _("%(user)s was removed from the company.") % {"user": self.membership.user.get_username()}
        )
        return HttpResponseRedirect(self.back_url())


def _open_invitation(request, pk) -> Invitation:
    """An open invitation of a company the user manages users of: 404 outside, 403 by role."""
    invitation = Invitation.objects.select_related("company").filter(pk=pk, accepted_at__isnull=True).first()
    if invitation is None:
        raise Http404
    require(request.user, Action.MANAGE_USERS, company=invitation.company)
    return invitation


class InvitationCancelView(LoginRequiredMixin, View):
    """POST: withdraw a pending invitation (404 outside the actor's companies)."""

    def post(self, request, pk):
        invitation = _open_invitation(request, pk)
        try:
            services.invitation_cancel(actor=request.user, invitation=invitation, ip_address=client_ip(request))
        except ApplicationError as error:
            if error.code == "forbidden":
                raise Http404 from error
            messages.error(request, error.message)
        else:
            messages.success(request, _("The invitation to %(email)s was withdrawn.") % {"email": invitation.email})
        return HttpResponseRedirect(_manage_url("manage:users", invitation.company))


class InvitationResendView(LoginRequiredMixin, View):
    """POST: send a new invitation (with a new expiry) in place of an open or expired one."""

    def post(self, request, pk):
        invitation = _open_invitation(request, pk)
        try:
            new = services.invitation_resend(actor=request.user, invitation=invitation, ip_address=client_ip(request))
        except ApplicationError as error:
            if error.code == "forbidden":
                raise Http404 from error
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("A new invitation was sent to %(email)s. It is valid until %(date)s.")
                % {"email": new.email, "date": formats.date_format(timezone.localtime(new.expires_at), "Y-m-d")},
            )
        return HttpResponseRedirect(_manage_url("manage:users", invitation.company))


# --- Activity ---------------------------------------------------------------------------------


class ActivityView(ManageView):
    """/manage/activity/: the company's audit trail for its Administrators."""

    action = Action.VIEW_ACTIVITY
    per_page = 25

    def get(self, request):
        users = User.objects.filter(memberships__company=self.company).order_by("username")
        actions = selectors.audit_action_list(company=self.company)
        form = ActivityFilterForm(request.GET or None, users=users, actions=actions)
        filters = {}
        if form.is_bound and form.is_valid():
            filters = {
                "actor": form.cleaned_data.get("user"),
                "action": form.cleaned_data.get("action") or "",
                "date_from": form.cleaned_data.get("date_from"),
                "date_to": form.cleaned_data.get("date_to"),
            }
        events = selectors.audit_event_list_filtered(company=self.company, **filters)
        page = Paginator(events, self.per_page).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        query["company"] = str(self.company.pk)
        return render(
            request,
            "accounts/auditevent_list.html",
            self.context(form=form, page_obj=page, events=page.object_list, filter_query=query.urlencode()),
        )
