"""One-time payment (R5, R20): choose invoices, review, confirm; the attempt, receipts and history.

``PayView`` parses the forms, reads the review (``selectors.pay_review``) and submits through one
service (``services.pay.payment_submit``): the rules, the gateway and the attempt's claim live
there. A second submit of the same attempt goes to the attempt's page, which shows it in
progress until it is done.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accounts.access import Action, require
from core.client_ip import client_ip
from core.exceptions import ApplicationError, form_add_application_error

from .. import selectors
from ..forms import NEW_METHOD, MethodDetailsForm, PayForm
from ..models import PaymentStatus
from ..services.attempts import attempt_exists, idempotency_key_new
from ..services.pay import AttemptTaken, payment_submit
from ..services.settlement import payment_cancel, payment_reconcile
from ..services.wallet import DetailsRefused
from .common import hide_secrets, no_store, pdf_response, stripe_context, without_nul


@no_store
class PayIndexView(LoginRequiredMixin, View):
    def get(self, request):
        return redirect("payments:pay")


@no_store
@hide_secrets
class PayView(LoginRequiredMixin, View):
    """Review the selected invoices, choose a method and a date, confirm (R5, R20)."""

    def get(self, request):
        numbers = without_nul(request.GET.getlist("invoice"))
        if not numbers:
            invoices = list(selectors.invoice_list_payable(user=request.user)[:200])
            return render(request, "payments/payment_pick.html", {"invoices": invoices, "today": timezone.localdate()})
        return self.show(request, self.review(request, numbers))

    def review(self, request, numbers) -> selectors.PayReview:
        review = selectors.pay_review(user=request.user, numbers=numbers)
        if review is None:
            raise Http404
        return review

    def show(self, request, review, *, form=None, method_form=None):
        if form is None:
            form = PayForm(
                initial={"idempotency_key": idempotency_key_new(), "invoice": review.numbers},
                methods=review.methods,
                latest_date=review.latest_date,
            )
        if method_form is None:
            method_form = MethodDetailsForm(prefix="new", country=review.country)
        context = {
            "review": review,
            "checks": review.checks,
            "payable": review.payable,
            "unpayable": review.unpayable,
            "company": review.company,
            "mixed_companies": review.mixed_companies,
            "totals": review.totals,
            "methods": review.methods,
            "form": form,
            "method_form": method_form,
            "latest_date": review.latest_date,
            "may_schedule": review.may_schedule,
            "credit_invoices": review.credit_invoices,
            "may_save": review.may_save,
            "numbers": review.numbers,
            **stripe_context(),
        }
        return render(request, "payments/payment_review.html", context)

    def post(self, request):
        numbers = without_nul(request.POST.getlist("invoice"))
        if not numbers:
            return redirect("payments:pay")
        review = self.review(request, numbers)
        if attempt_exists(request.POST.get("idempotency_key", "")):
            return redirect("payments:attempt", key=request.POST["idempotency_key"])  # a second click or tab
        new_method = request.POST.get("method") == NEW_METHOD
        form = PayForm(request.POST, methods=review.methods, latest_date=review.latest_date)
        method_form = MethodDetailsForm(request.POST if new_method else None, prefix="new", country=review.country)
        if not form.is_valid() or (new_method and not method_form.is_valid()):
            return self.show_errors(request, review, form, method_form)
        key = form.cleaned_data["idempotency_key"]
        try:
            payment_submit(
                actor=request.user,
                review=review,
                idempotency_key=key,
                method_id=None if new_method else form.cleaned_data["method"],
                details=method_form.cleaned_data if new_method else None,
                stripe_mode=method_form.stripe_mode,
                save_to_wallet=bool(form.cleaned_data.get("save_to_wallet")),
                scheduled_for=form.cleaned_data.get("pay_on") if form.cleaned_data.get("when") == "later" else None,
                ip_address=client_ip(request),
            )
        except AttemptTaken:
            return redirect("payments:attempt", key=key)  # in progress in another request, or done
        except DetailsRefused as exc:
            form_add_application_error(method_form, exc)
            return self.show_errors(request, review, form, method_form)
        except ApplicationError as exc:
            form_add_application_error(form, exc)
            return self.show_errors(request, review, form, method_form)
        return redirect("payments:attempt", key=key)

    def show_errors(self, request, review, form, method_form):
        # A failed attempt gets a new key: the next submit is a new attempt.
        data = form.data.copy()
        if "idempotency_key" in form.errors or attempt_exists(data.get("idempotency_key", "")):
            data["idempotency_key"] = idempotency_key_new()
        form.data = data
        return self.show(request, review, form=form, method_form=method_form)


@no_store
class PaymentAttemptView(LoginRequiredMixin, View):
    """Where a confirmed attempt lands: its receipt, or its payments when there were several currencies."""

    def get(self, request, key):
        result = selectors.attempt_result(user=request.user, key=key)
        if result is None:
            raise Http404
        if result.in_progress:
            # A double click or a resubmit while the first request still works: it refreshes itself.
            return render(request, "payments/payment_attempt_in_progress.html", {"key": key})
        if len(result.payments) == 1:
            return redirect("payments:receipt", reference=result.payments[0].reference)
        return render(
            request, "payments/payment_attempt.html", {"payments": result.payments, "credits": result.credits}
        )


def _payment_or_404(request, reference):
    payment = selectors.payment_get_visible(user=request.user, reference=reference)
    if payment is None:
        raise Http404
    return payment


@no_store
class ReceiptView(LoginRequiredMixin, View):
    def get(self, request, reference):
        payment = _payment_or_404(request, reference)
        retry_url = ""
        if payment.status == PaymentStatus.FAILED:
            retry_url = (
                reverse("payments:pay")
                + "?"
                + "&".join(f"invoice={a.invoice.number}" for a in payment.allocations.all())
            )
        return render(
            request,
            "payments/payment_receipt.html",
            {
                "payment": payment,
                "allocations": payment.allocations.all(),
                "credits": selectors.payment_credits(payment),
                "retry_url": retry_url,
            },
        )

    def post(self, request, reference):
        """Check again on a processing payment (asks the gateway, never charges again), or cancel a scheduled one."""
        payment = _payment_or_404(request, reference)
        if request.POST.get("action") == "cancel" and payment.status == PaymentStatus.SCHEDULED:
            for allocation in payment.allocations.all():
                require(request.user, Action.PAY, account=allocation.invoice.account, plan=allocation.invoice.plan)
            payment_cancel(payment=payment, actor=request.user)
            messages.success(request, _("The scheduled payment was cancelled."))
        elif payment.status == PaymentStatus.PROCESSING:
            payment_reconcile(payment=payment)
        return redirect("payments:receipt", reference=reference)


@no_store
class ReceiptPdfView(LoginRequiredMixin, View):
    def get(self, request, reference):
        payment = _payment_or_404(request, reference)
        if payment.status != PaymentStatus.SUCCEEDED:
            raise Http404
        return pdf_response(payment)


@no_store
class HistoryView(LoginRequiredMixin, View):
    def get(self, request):
        status = request.GET.get("status", "")
        if status not in PaymentStatus.values:
            status = ""
        page = Paginator(selectors.payment_history(user=request.user, status=status), 25).get_page(
            request.GET.get("page")
        )
        return render(
            request,
            "payments/payment_history.html",
            {"page": page, "payments": page.object_list, "status": status, "statuses": PaymentStatus.choices},
        )
