"""Pay Now without logging in (R3, R7, R1), and the gateway's webhook."""

from __future__ import annotations

from decimal import Decimal

from django import forms as django_forms
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from core.client_ip import client_ip
from core.exceptions import ApplicationError

from .. import selectors, webhooks
from ..forms import PayNowConfirmForm, PayNowDetailsForm, PayNowLookupForm
from ..models import MethodKind, PaymentStatus
from ..services.attempts import idempotency_key_new
from ..services.charge import PaymentSource
from ..services.checkout import payment_create
from ..services.checks import decline_message, invoice_checks
from ..services.pay_now import PayNowRefusal, pay_now_lookup
from ..services.receipt_delivery import payment_receipt_send
from ..services.wallet import method_tokenize, one_time_label
from .common import hide_secrets, no_store, pdf_response, stripe_context

PAY_NOW = "pay_now"
STEPS = ("lookup", "details", "review", "done")


@no_store
@hide_secrets
class PayNowView(View):
    """Four steps at one address; the server's session decides which step shows and which POST counts."""

    def state(self, request) -> dict:
        return request.session.get(PAY_NOW) or {"step": "lookup"}

    def save(self, request, state: dict) -> None:
        request.session[PAY_NOW] = state
        request.session.modified = True

    def invoice(self, state):
        return selectors.pay_now_invoice(invoice_id=state.get("invoice_id"))

    def get(self, request):
        state = self.state(request)
        if state["step"] == "done" and request.GET.get("pdf"):
            payment = selectors.payment_get_public(reference=state.get("reference", ""))
            if payment is None or payment.status != PaymentStatus.SUCCEEDED:
                raise Http404
            return pdf_response(payment)
        return self.show(request, state)

    def show(self, request, state, *, form=None, refusal=None, status=200):
        step = state["step"]
        context = {"step": step, "steps": STEPS, "step_number": STEPS.index(step) + 1, "refusal": refusal}
        invoice = self.invoice(state) if step != "lookup" else None
        if step != "lookup" and invoice is None:
            request.session.pop(PAY_NOW, None)
            return self.show(request, {"step": "lookup"})
        context["invoice"] = invoice
        if step == "lookup":
            context["form"] = form or PayNowLookupForm()
        elif step == "details":
            context["form"] = form or PayNowDetailsForm(
                prefix="pm", country=invoice.account.country, initial={"email": state.get("email", "")}
            )
            context.update(stripe_context())
        elif step == "review":
            context["amount"] = Decimal(state["amount"])
            context["source"] = state["source"]
            context["email"] = state.get("email", "")
            context["form"] = form or PayNowConfirmForm(initial={"idempotency_key": state["key"]})
        else:
            payment = selectors.payment_get_public(reference=state.get("reference", ""))
            if payment is None:
                request.session.pop(PAY_NOW, None)
                return self.show(request, {"step": "lookup"})
            context["payment"] = payment
            context["allocations"] = payment.allocations.all()
            context["emailed_to"] = state.get("emailed_to", "")
        return render(request, f"payments/paynow_{step}.html", context, status=status)

    def post(self, request):
        state = self.state(request)
        action = request.POST.get("action", "")
        if action == "restart":
            request.session.pop(PAY_NOW, None)
            return redirect("pay_now")
        if action == "back":
            if state["step"] == "details":
                state["step"] = "lookup"
            elif state["step"] == "review":
                state["step"] = "details"
            self.save(request, state)
            return redirect("pay_now")
        handler = {"lookup": self.lookup, "details": self.details, "confirm": self.confirm, "email": self.email}.get(
            action
        )
        expected = {"lookup": "lookup", "details": "details", "confirm": "review", "email": "done"}.get(action)
        if handler is None or state["step"] != expected:
            # Out of order (a skipped step, a stale tab, a finished payment): show where the visitor is.
            return redirect("pay_now")
        return handler(request, state)

    def lookup(self, request, state):
        form = PayNowLookupForm(request.POST)
        if not form.is_valid():
            return self.show(request, state, form=form)
        try:
            invoice = pay_now_lookup(
                account_number=form.cleaned_data["account_number"],
                invoice_number=form.cleaned_data["invoice_number"],
                amount=form.cleaned_data["amount"],
                ip_address=client_ip(request),
            )
        except PayNowRefusal as exc:
            if exc.invoice is None:
                form.add_error(None, exc.message)
            return self.show(request, state, form=form, refusal=exc if exc.invoice is not None else None)
        check = invoice_checks([invoice])[0]
        self.save(
            request,
            {"step": "details", "invoice_id": invoice.id, "amount": str(check.amount), "currency": invoice.currency},
        )
        return redirect("pay_now")

    def details(self, request, state):
        invoice = self.invoice(state)
        form = PayNowDetailsForm(request.POST, prefix="pm", country=invoice.account.country)
        if not form.is_valid():
            return self.show(request, state, form=form)
        kind = form.cleaned_data["kind"]
        email = form.cleaned_data.get("email", "")
        gateway_token = form.cleaned_data.get("gateway_token", "")
        try:
            saved = method_tokenize(details=form.cleaned_data, stripe_mode=form.stripe_mode)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.show(request, state, form=form)
        state.update(
            step="review",
            source={
                "kind": kind,
                "token": saved.token if saved is not None else gateway_token,
                "label": one_time_label(kind, saved),
                "kind_label": str(MethodKind(kind).label),
            },
            email=email,
            key=idempotency_key_new(),
        )
        self.save(request, state)
        return redirect("pay_now")

    def confirm(self, request, state):
        form = PayNowConfirmForm(request.POST)
        if not form.is_valid() or form.cleaned_data["idempotency_key"] != state.get("key"):
            return redirect("pay_now")
        source = state["source"]
        try:
            outcome = payment_create(
                actor=None,
                invoice_ids=[state["invoice_id"]],
                source=PaymentSource(kind=source["kind"], token=source["token"], label=source["label"]),
                idempotency_key=state["key"],
                payer_email=state.get("email", ""),
                ip_address=client_ip(request),
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.show(request, state, form=form)
        payment = outcome.payments[0]
        if payment.status == PaymentStatus.FAILED:
            # Nothing was charged: back to the payment details with the reason; a new attempt gets a new key.
            state.update(step="details", key="", source=None)
            self.save(request, state)
            messages.error(request, payment.failure_message or decline_message(payment.failure_code))
            return redirect("pay_now")
        state.update(step="done", reference=payment.reference, source=None)
        if payment.payer_email:
            state["emailed_to"] = payment.payer_email
        self.save(request, state)
        return redirect("pay_now")

    def email(self, request, state):
        try:
            address = django_forms.EmailField().clean(request.POST.get("email", ""))
        except django_forms.ValidationError:
            messages.error(request, _("Enter a valid e-mail address."))
            return redirect("pay_now")
        sent = state.get("emails_sent", 0)
        payment = selectors.payment_get_public(reference=state.get("reference", ""))
        if sent >= 3 or payment is None or payment.status != PaymentStatus.SUCCEEDED:
            messages.error(request, _("The receipt cannot be e-mailed now."))
            return redirect("pay_now")
        payment_receipt_send(payment=payment, to=address, language=translation.get_language())
        state.update(emails_sent=sent + 1, emailed_to=address)
        self.save(request, state)
        messages.success(request, _("The receipt was sent to %(email)s.") % {"email": address})
        return redirect("pay_now")


# --- Webhooks ----------------------------------------------------------------------------------


@no_store
@method_decorator(csrf_exempt, name="dispatch")
class StripeWebhookView(View):
    http_method_names = ["post"]

    def post(self, request):
        try:
            event, processed = webhooks.webhook_receive(
                payload=request.body, signature=request.META.get("HTTP_STRIPE_SIGNATURE", "")
            )
        except webhooks.WebhookRejected:
            return HttpResponseBadRequest("invalid payload or signature")
        return HttpResponse("ok" if processed else "duplicate", content_type="text/plain")
