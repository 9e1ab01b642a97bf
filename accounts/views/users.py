"""Users and roles (R28-R30): the member list, add, invite, edit, remove, and open invitations."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views import View

from core.client_ip import client_ip
from core.exceptions import ApplicationError, form_add_application_error

from .. import selectors
from ..access import Action, require
from ..forms import InvitationForm, MembershipAddForm, MembershipEditForm
from ..models import Invitation, Role
from ..services.invitations import invitation_cancel, invitation_create, invitation_resend
from ..services.memberships import manager_scope, membership_add, membership_remove, membership_update
from .base import ManageView, manage_url


class UserListView(ManageView):
    """R28-R30: Administrators see every member; Managers the users within their accounts."""

    def get(self, request):
        scope = manager_scope(actor=request.user, company=self.company)
        memberships = list(selectors.membership_list_company(company=self.company))
        admin_count = sum(1 for m in memberships if m.role == Role.ADMINISTRATOR)
        rows = []
        for membership in memberships:
            manageable = scope.may_manage(membership, actor=request.user)
            if manageable or membership.user_id == request.user.id or scope.is_administrator:
                rows.append({"membership": membership, "manageable": manageable})
        invitations = [
            invitation
            for invitation in selectors.invitation_list_pending(company=self.company)
            if scope.may_handle_invitation(invitation)
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
        scope = manager_scope(actor=self.request.user, company=self.company)
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
                return HttpResponseRedirect(manage_url("manage:users", self.company))
        return self.show(form)

    def save(self, data):
        membership = membership_add(
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
        invitation = invitation_create(
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
        self.membership = selectors.membership_get(pk=pk)
        if self.membership is None:
            raise Http404
        self.company = self.membership.company
        require(request.user, Action.MANAGE_USERS, company=self.company)
        self.scope = manager_scope(actor=request.user, company=self.company)
        if not self.scope.may_manage(self.membership, actor=request.user):
            raise Http404
        return super().dispatch(request, pk, *args, **kwargs)

    def back_url(self):
        return manage_url("manage:users", self.company)

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
                membership_update(
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
            membership_remove(actor=request.user, membership=self.membership, ip_address=client_ip(request))
        except ApplicationError as error:
            return render(request, self.template_name, self.context(error=error.message), status=409)
        messages.success(
            request, _("%(user)s was removed from the company.") % {"user": self.membership.user.get_username()}
        )
        return HttpResponseRedirect(self.back_url())


def _open_invitation(request, pk) -> Invitation:
    """An open invitation of a company the user manages users of: 404 outside, 403 by role."""
    invitation = selectors.invitation_get_open(pk=pk)
    if invitation is None:
        raise Http404
    require(request.user, Action.MANAGE_USERS, company=invitation.company)
    return invitation


class InvitationCancelView(LoginRequiredMixin, View):
    """POST: withdraw a pending invitation (404 outside the actor's companies)."""

    def post(self, request, pk):
        invitation = _open_invitation(request, pk)
        try:
            invitation_cancel(actor=request.user, invitation=invitation, ip_address=client_ip(request))
        except ApplicationError as error:
            if error.code == "forbidden":
                raise Http404 from error
            messages.error(request, error.message)
        else:
            messages.success(request, _("The invitation to %(email)s was withdrawn.") % {"email": invitation.email})
        return HttpResponseRedirect(manage_url("manage:users", invitation.company))


class InvitationResendView(LoginRequiredMixin, View):
    """POST: send a new invitation (with a new expiry) in place of an open or expired one."""

    def post(self, request, pk):
        invitation = _open_invitation(request, pk)
        try:
            new = invitation_resend(actor=request.user, invitation=invitation, ip_address=client_ip(request))
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
        return HttpResponseRedirect(manage_url("manage:users", invitation.company))
