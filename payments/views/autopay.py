"""My AutoPay (R6): the schedules with what their next run does, set-up, change, pause, resume, cancel."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accounts.access import Action, user_can
from core.client_ip import client_ip
from core.exceptions import ApplicationError, form_add_application_error

from ..autopay.rules import WEEKDAYS, AutoPayTerms
from ..autopay.selectors import (
    autopay_billable_get,
    autopay_billables_available,
    autopay_get_changeable,
    autopay_list_visible,
    autopay_method_initial,
    autopay_methods_for,
    autopay_previews,
)
from ..autopay.services import autopay_cancel, autopay_create, autopay_pause, autopay_resume, autopay_update
from ..forms import AutoPayForm
from .common import no_store


class AutoPayMixin(LoginRequiredMixin):
    def schedule(self, request, pk):
        """A live schedule in the user's scope that the user may change (404 outside, 403 by role)."""
        schedule = autopay_get_changeable(user=request.user, pk=pk)
        if schedule is None:
            raise Http404
        return schedule

    def submit(self, request, form, *, billable, schedule=None):
        """Set up (no ``schedule``) or change AutoPay from the posted form: back to My AutoPay, or the
        form again with the refusal."""
        if form.is_valid():
            terms = AutoPayTerms.of(form.cleaned_data)
            consent = form.cleaned_data["consent"]
            try:
                if schedule is None:
                    autopay_create(
                        actor=request.user,
                        billable=billable,
                        terms=terms,
                        consent=consent,
                        ip_address=client_ip(request),
                    )
                    done = _("AutoPay is set up for %(billable)s.")
                else:
                    autopay_update(
                        actor=request.user,
                        schedule=schedule,
                        terms=terms,
                        consent=consent,
                        ip_address=client_ip(request),
                    )
                    done = _("AutoPay for %(billable)s was changed.")
            except ApplicationError as exc:
                form_add_application_error(form, exc)
            else:
                messages.success(request, done % {"billable": billable})
                return redirect("payments:autopay")
        return render(
            request,
            "payments/autopayschedule_form.html",
            self.form_context(request, billable=billable, form=form, schedule=schedule),
        )

    def form_context(self, request, *, billable, form, schedule=None):
        return {
            "billable": billable,
            "form": form,
            "schedule": schedule,
            "has_methods": form.fields["method"].queryset.exists(),
            "wallet_add_url": reverse("payments:wallet_add")
            + f"?company={billable.company_id}&next={request.get_full_path()}",
        }


@no_store
class AutoPayListView(AutoPayMixin, View):
    """Each schedule with its next run, what it will pay and skip, and its history of attempts."""

    def get(self, request):
        today = timezone.localdate()
        schedules = list(autopay_list_visible(user=request.user))
        previews = autopay_previews(schedules, today=today)
        for preview in previews:
            schedule = preview.schedule
            preview.may_manage = user_can(request.user, Action.AUTOPAY, account=schedule.account, plan=schedule.plan)
            preview.attempts = list(schedule.attempts.all()[:20])
            preview.billable = schedule.account or schedule.plan
            preview.weekday_label = dict(WEEKDAYS).get(schedule.weekday, "")
        available = autopay_billables_available(user=request.user, schedules=schedules)
        return render(
            request,
            "payments/autopayschedule_list.html",
            {"previews": previews, "available": available, "today": today},
        )


@no_store
class AutoPayCreateView(AutoPayMixin, View):
    def billable(self, request):
        """The account or plan of ``?account=`` / ``?plan=``; 404 when it is not the user's to see."""
        account = request.GET.get("account") or ""
        plan = request.GET.get("plan") or ""
        billable = autopay_billable_get(user=request.user, account_number=account, plan_number=plan)
        if billable is None and (account.strip() or plan.strip()):
            raise Http404
        return billable

    def get(self, request):
        billable = self.billable(request)
        if billable is None:
            return redirect("payments:autopay")
        methods = autopay_methods_for(billable)
        form = AutoPayForm(
            methods=methods,
            currency=billable.currency,
            initial={
                "method": autopay_method_initial(methods),
                "amount_mode": "full",
                "timing": "days_before_due",
                "days_before_due": 3,
            },
        )
        return render(
            request, "payments/autopayschedule_form.html", self.form_context(request, billable=billable, form=form)
        )

    def post(self, request):
        billable = self.billable(request)
        if billable is None:
            raise Http404
        form = AutoPayForm(request.POST, methods=autopay_methods_for(billable), currency=billable.currency)
        return self.submit(request, form, billable=billable)


@no_store
class AutoPayEditView(AutoPayMixin, View):
    def get(self, request, pk):
        schedule = self.schedule(request, pk)
        billable = schedule.account or schedule.plan
        methods = autopay_methods_for(billable)
        form = AutoPayForm(
            methods=methods,
            currency=billable.currency,
            initial={
                "method": autopay_method_initial(methods, schedule=schedule),
                "amount_mode": schedule.amount_mode,
                "limit_amount": schedule.limit_amount,
                "timing": schedule.timing,
                "days_before_due": schedule.days_before_due,
                "weekday": schedule.weekday,
                "until_date": schedule.until_date,
            },
        )
        return render(
            request,
            "payments/autopayschedule_form.html",
            self.form_context(request, billable=billable, form=form, schedule=schedule),
        )

    def post(self, request, pk):
        schedule = self.schedule(request, pk)
        billable = schedule.account or schedule.plan
        form = AutoPayForm(request.POST, methods=autopay_methods_for(billable), currency=billable.currency)
        return self.submit(request, form, billable=billable, schedule=schedule)


@no_store
class AutoPayStatusView(AutoPayMixin, View):
    """POST only: pause, resume or cancel a schedule."""

    action = ""

    def post(self, request, pk):
        schedule = self.schedule(request, pk)
        billable = schedule.account or schedule.plan
        service = {"pause": autopay_pause, "resume": autopay_resume, "cancel": autopay_cancel}[self.action]
        try:
            service(actor=request.user, schedule=schedule)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            text = {
                "pause": _("AutoPay for %(billable)s is paused."),
                "resume": _("AutoPay for %(billable)s is on again."),
                "cancel": _("AutoPay for %(billable)s was cancelled."),
            }[self.action]
            messages.success(request, text % {"billable": billable})
        return redirect("payments:autopay")
