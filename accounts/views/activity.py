"""/manage/activity/: the company's audit trail."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render

from .. import selectors
from ..access import Action
from ..forms import ActivityFilterForm
from .base import ManageView


class ActivityView(ManageView):
    """/manage/activity/: the company's audit trail for its Administrators."""

    action = Action.VIEW_ACTIVITY
    per_page = 25

    def get(self, request):
        users = selectors.user_list_company(company=self.company)
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
