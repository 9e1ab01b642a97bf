"""What every /manage/ page shares: the company it works on and the links back to its lists.

Views are thin: a form parses, one service or selector does the work, and a domain refusal
(``ApplicationError``) becomes a form error. Scope comes from ``accounts.access``: outside it 404,
where the role forbids 403.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from .. import selectors
from ..access import Action, require, user_can
from ..models import Company

# Account and plan numbers in URLs: anything else is 404 before it reaches the database.
BILLABLE_NUMBER_RE = re.compile(r"^[A-Za-z0-9]{1,12}$")


def manage_url(name: str, company: Company) -> str:
    return f"{reverse(name)}?{urlencode({'company': company.pk})}"


def company_for(request, action: Action) -> Company:
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
        self.company = company_for(request, self.action)
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
