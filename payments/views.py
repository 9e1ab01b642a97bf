"""Payment pages: one-time payment, receipts, history, wallet, Pay Now, payment options, webhooks.

Views are thin: a form parses, a selector reads within the user's scope, a service writes.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from accounts.access import Action, require, user_can
from core.client_ip import client_ip
from core.exceptions import ApplicationError, form_add_application_error
from invoices.selectors import invoice_list_visible

from . import selectors, services, webhooks
from .forms import (
    NEW_METHOD,
    AutoPayForm,
    MethodDetailsForm,
    MethodEditForm,
    PayForm,
    PaymentOptionForm,
    PayNowConfirmForm,
    PayNowDetailsForm,
    PayNowLookupForm,
    WalletAddForm,
)
from .gateways import TokenizeError, get_gateway
from .models import CARD_KINDS, MethodKind, Payment, PaymentStatus

# Error reports (the debug page, e-mails to ADMINS) never show these POST fields.
SECRET_FIELDS = [
    f"{prefix}{name}" for prefix in ("", "new-", "pm-") for name in ("card_number", "cvc", "account_number")
]
hide_secrets = method_decorator(sensitive_post_parameters(*SECRET_FIELDS), name="post")

# Every payment page (invoices to pay, receipts and their PDFs, wallet, history, AutoPay, payment
# options, Pay Now) answers ``Cache-Control: no-store``: no browser cache, back button or shared
# proxy keeps a copy after log-out. Every view class of this module carries it
# (tests/security/test_payments_no_store.py crawls them all).
no_store = method_decorator(never_cache, name="dispatch")

TOKENIZE_MESSAGES = {
    "invalid_number": gettext_lazy("The card number is not valid. Check it and try again."),
    "invalid_cvc": gettext_lazy("The security code is not valid."),
    "invalid_account": gettext_lazy("The bank account number is not valid."),
}


def _stripe_context() -> dict:
    """Stripe.js is loaded only on pages that take card details, and only when Stripe is configured."""
    if settings.PAYMENT_GATEWAY == "stripe" and settings.STRIPE_PUBLISHABLE_KEY:
        return {"stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY}
    return {}


@sensitive_variables("data")
def tokenize(*, form: MethodDetailsForm, company=None):
    """Hand the details to the gateway's tokenizer; only the token and display facts come back.

    The card number and CVC are dropped from ``cleaned_data`` as soon as they have been used.
    """
    data = form.cleaned_data
    gateway = get_gateway()
    kind = data["kind"]
    customer = services.gateway_customer_get_or_create(company=company) if company is not None else ""
    try:
        if form.stripe_mode:
            return gateway.save_method(token=data["gateway_token"], customer=customer) if customer else None
        if kind in CARD_KINDS:
            return gateway.tokenize_card(
                number=data["card_number"],
                exp_month=data["exp_month"],
                exp_year=data["exp_year"],
                cvc=data["cvc"],
                holder_name=data["holder_name"],
                customer=customer,
            )
        if kind == MethodKind.BANK_DEBIT:
            return gateway.tokenize_bank_account(
                account_number=data["account_number"],
                bank_code=data["bank_code"],
                holder_name=data["holder_name"],
                customer=customer,
            )
        return gateway.tokenize_online_service(service=data["service"], login=data["service_login"], customer=customer)
    finally:
        for secret in ("card_number", "cvc", "account_number"):
            data.pop(secret, None)


def _one_time_label(kind: str, saved) -> str:
    parts = [saved.brand or str(MethodKind(kind).label)]
    if saved.last4:
        parts.append(f"····{saved.last4}")
    return " ".join(parts)


# --- One-time payment --------------------------------------------------------------------------


@no_store
class PayIndexView(LoginRequiredMixin, View):
    def get(self, request):
        return redirect("payments:pay")


def _without_nul(numbers: list[str]) -> list[str]:
    """Invoice numbers from the query or the form, less any holding NUL (no invoice has one, and
    PostgreSQL refuses to compare text holding it)."""
    return [number for number in numbers if "\x00" not in number]


@no_store
@hide_secrets
class PayView(LoginRequiredMixin, View):
    """Review the selected invoices, choose a method and a date, confirm (R5, R20)."""

    def get(self, request):
        numbers = _without_nul(request.GET.getlist("invoice"))
        if not numbers:
            return self.pick(request)
        return self.review(request, numbers)

    def pick(self, request):
        invoices = list(selectors.invoice_list_payable(user=request.user)[:200])
        return render(
            request,
            "payments/payment_pick.html",
            {"invoices": invoices, "today": timezone.localdate()},
        )

    def load(self, request, numbers):
        numbers = list(dict.fromkeys(n.strip().upper() for n in numbers if n.strip()))[:100]
        invoices = list(selectors.invoice_list_selected(user=request.user, numbers=numbers))
        if len(invoices) != len(numbers):
            raise Http404
        for invoice in invoices:
            require(request.user, Action.PAY, account=invoice.account, plan=invoice.plan)
        return invoices

    def context(self, request, invoices, *, form=None, method_form=None):
        checks = services.invoice_checks(invoices)
        payable = [c for c in checks if c.payable]
        unpayable = [c for c in checks if not c.payable]
        companies = {c.billable.company_id for c in payable}
        company = payable[0].billable.company if len(companies) == 1 else None
        countries = sorted({c.billable.country for c in payable})
        allowed = set(MethodKind.values)
        for country in countries:
            allowed &= set(services.payment_kinds_for_country(country))
        methods = [m for m in selectors.payment_method_list(company=company) if m.kind in allowed] if company else []
        today = timezone.localdate()
        methods = [m for m in methods if not (m.exp_year and (m.exp_year, m.exp_month) < (today.year, today.month))]
        latest = min((c.invoice.due_date for c in payable), default=None)
        if form is None:
            form = PayForm(
                initial={"idempotency_key": services.idempotency_key_new(), "invoice": [i.number for i in invoices]},
                methods=methods,
                latest_date=latest,
            )
        if method_form is None:
            method_form = MethodDetailsForm(prefix="new", country=countries[0] if countries else "KR")
        return {
            "checks": checks,
            "payable": payable,
            "unpayable": unpayable,
            "company": company,
            "mixed_companies": len(companies) > 1,
            "totals": services.totals_by_currency(checks),
            "methods": methods,
            "form": form,
            "method_form": method_form,
            "latest_date": latest,
            "may_schedule": latest is not None and latest > today,
            "credit_invoices": selectors.credit_invoices_for([c.invoice for c in payable]),
            "may_save": company is not None and user_can(request.user, Action.WALLET, company=company),
            "numbers": [i.number for i in invoices],
            **_stripe_context(),
        }

    def review(self, request, numbers, **kwargs):
        invoices = self.load(request, numbers)
        return render(request, "payments/payment_review.html", self.context(request, invoices, **kwargs))

    def post(self, request):
        numbers = _without_nul(request.POST.getlist("invoice"))
        if not numbers:
            return redirect("payments:pay")
        invoices = self.load(request, numbers)
        key = request.POST.get("idempotency_key", "")
        if services.attempt_exists(key):
            return redirect("payments:attempt", key=key)  # a second click or tab: the first result
        ctx = self.context(request, invoices)
        form = PayForm(request.POST, methods=ctx["methods"], latest_date=ctx["latest_date"])
        countries = sorted({c.billable.country for c in ctx["payable"]}) or ["KR"]
        method_form = MethodDetailsForm(
            request.POST if request.POST.get("method") == NEW_METHOD else None, prefix="new", country=countries[0]
        )
        if not form.is_valid() or (request.POST.get("method") == NEW_METHOD and not method_form.is_valid()):
            return self.render_errors(request, invoices, form, method_form)
        key = form.cleaned_data["idempotency_key"]
        # One request per attempt works at a time (a row with the key, unique in the database); a
        # concurrent duplicate goes to the attempt's page, which shows it in progress until it is done.
        if not services.attempt_claim(idempotency_key=key, user=request.user):
            return redirect("payments:attempt", key=key)
        try:
            if services.attempt_exists(key):
                return redirect("payments:attempt", key=key)  # finished while this request was validating
            return self.pay(request, invoices, ctx, form, method_form)
        finally:
            services.attempt_release(idempotency_key=key)

    def pay(self, request, invoices, ctx, form, method_form):
        data = form.cleaned_data
        company = ctx["company"]
        if company is None:
            form.add_error(None, _("Pay the invoices of one company at a time."))
            return self.render_errors(request, invoices, form, method_form)
        if data["method"] == NEW_METHOD:
            try:
                saved = tokenize(form=method_form, company=company)
            except TokenizeError as exc:
                method_form.add_error(None, TOKENIZE_MESSAGES.get(exc.code, _("The payment details were refused.")))
                return self.render_errors(request, invoices, form, method_form)
            kind = method_form.cleaned_data["kind"]
            if data.get("save_to_wallet") and ctx["may_save"]:
                try:
                    method = services.payment_method_add(actor=request.user, company=company, kind=kind, saved=saved)
                except ApplicationError as exc:
                    form_add_application_error(method_form, exc)
                    return self.render_errors(request, invoices, form, method_form)
                source = services.PaymentSource.from_method(method)
            else:
                source = services.PaymentSource(kind=kind, token=saved.token, label=_one_time_label(kind, saved))
        else:
            method = next((m for m in ctx["methods"] if str(m.id) == data["method"]), None)
            if method is None:
                form.add_error("method", _("Choose a payment method."))
                return self.render_errors(request, invoices, form, method_form)
            source = services.PaymentSource.from_method(method)
        try:
            services.payment_create(
                actor=request.user,
                company=company,
                invoice_ids=[c.invoice.id for c in ctx["payable"]],
                source=source,
                idempotency_key=data["idempotency_key"],
                scheduled_for=data.get("pay_on") if data.get("when") == "later" else None,
                payer_email=request.user.email,
                ip_address=client_ip(request),
            )
        except ApplicationError as exc:
            form_add_application_error(form, exc)
            return self.render_errors(request, invoices, form, method_form)
        return redirect("payments:attempt", key=data["idempotency_key"])

    def render_errors(self, request, invoices, form, method_form):
        # A failed attempt gets a new key: the next submit is a new attempt.
        data = form.data.copy()
        if "idempotency_key" in form.errors or services.attempt_exists(data.get("idempotency_key", "")):
            data["idempotency_key"] = services.idempotency_key_new()
        form.data = data
        ctx = self.context(request, invoices, form=form, method_form=method_form)
        return render(request, "payments/payment_review.html", ctx, status=200)


@no_store
class PaymentAttemptView(LoginRequiredMixin, View):
    """Where a confirmed attempt lands: its receipt, or its payments when there were several currencies."""

    def get(self, request, key):
        visible = selectors.payment_list_visible(user=request.user).values("id")
        payments = list(services.payments_for_attempt(key).filter(id__in=visible))
        credits = list(
            services.credits_for_attempt(key)
            .filter(target_invoice__in=invoice_list_visible(user=request.user).values("id"))
            .select_related("source_invoice", "target_invoice")
        )
        if not payments and not credits:
            if services.attempt_in_progress(idempotency_key=key, user=request.user):
                # A double click or a resubmit while the first request still works: it refreshes itself.
                return render(request, "payments/payment_attempt_in_progress.html", {"key": key})
            raise Http404
        if len(payments) == 1:
            return redirect("payments:receipt", reference=payments[0].reference)
        return render(request, "payments/payment_attempt.html", {"payments": payments, "credits": credits})


@no_store
class ReceiptView(LoginRequiredMixin, View):
    def get(self, request, reference):
        payment = selectors.payment_get_visible(user=request.user, reference=reference)
        if payment is None:
            raise Http404
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
                "credits": payment.credit_applications.select_related("source_invoice", "target_invoice"),
                "retry_url": retry_url,
            },
        )

    def post(self, request, reference):
        """Check again on a processing payment (asks the gateway, never charges again), or cancel a scheduled one."""
        payment = selectors.payment_get_visible(user=request.user, reference=reference)
        if payment is None:
            raise Http404
        if request.POST.get("action") == "cancel" and payment.status == PaymentStatus.SCHEDULED:
            for allocation in payment.allocations.all():
                require(request.user, Action.PAY, account=allocation.invoice.account, plan=allocation.invoice.plan)
            services.payment_cancel(payment=payment, actor=request.user)
            messages.success(request, _("The scheduled payment was cancelled."))
        elif payment.status == PaymentStatus.PROCESSING:
            services.payment_reconcile(payment=payment)
        return redirect("payments:receipt", reference=reference)


def _pdf_response(payment: Payment, request) -> HttpResponse:
    from .receipts import render_receipt_pdf

    pdf = render_receipt_pdf(payment, language=translation.get_language() or settings.LANGUAGE_CODE)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{payment.reference}.pdf"'
    return response


@no_store
class ReceiptPdfView(LoginRequiredMixin, View):
    def get(self, request, reference):
        payment = selectors.payment_get_visible(user=request.user, reference=reference)
        if payment is None or payment.status != PaymentStatus.SUCCEEDED:
            raise Http404
        return _pdf_response(payment, request)


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


# --- Wallet (R10) ------------------------------------------------------------------------------


class WalletMixin(LoginRequiredMixin):
    def company(self, request):
        companies = selectors.company_list_for_action(user=request.user, action=Action.WALLET)
        if not companies:
            if selectors.company_list_for_action(user=request.user, action=Action.VIEW):
                raise PermissionDenied
            raise Http404
        wanted = request.GET.get("company") or request.POST.get("company")
        chosen = next((c for c in companies if str(c.id) == wanted), companies[0])
        return chosen, companies

    def method(self, request, pk):
        method = selectors.payment_method_get(user=request.user, method_id=pk)
        if method is None:
            # A method of the user's own company that the role may not manage (a Viewer's): 403,
            # like the wallet page; any other: 404 (README: outside the scope 404, by role 403).
            if selectors.payment_method_get(user=request.user, method_id=pk, action=Action.VIEW) is not None:
                raise PermissionDenied
            raise Http404
        return method

    def wallet_url(self, company) -> str:
        return reverse("payments:wallet") + f"?company={company.id}"


@no_store
class WalletView(WalletMixin, View):
    def get(self, request):
        company, companies = self.company(request)
        view = request.GET.get("view")
        if view in ("grid", "list"):
            request.session["wallet_view"] = view
        view = request.session.get("wallet_view", "grid")
        methods = list(selectors.payment_method_list(company=company))
        current, expired = selectors.wallet_split(methods, today=timezone.localdate())
        return render(
            request,
            "payments/paymentmethod_wallet.html",
            {
                "company": company,
                "companies": companies,
                "view": view,
                "methods": methods,
                "current": current,
                "expired": expired,
                "expired_ids": {m.id for m in expired},
            },
        )


@no_store
@hide_secrets
class WalletAddView(WalletMixin, View):
    def get(self, request):
        company, companies = self.company(request)
        form = WalletAddForm(country=company.country)
        return self.show(request, company, form)

    def show(self, request, company, form):
        return render(
            request,
            "payments/paymentmethod_form.html",
            {"company": company, "form": form, "next": request.GET.get("next", ""), **_stripe_context()},
        )

    def post(self, request):
        company, companies = self.company(request)
        form = WalletAddForm(request.POST, country=company.country)
        if not form.is_valid():
            return self.show(request, company, form)
        try:
            saved = tokenize(form=form, company=company)
            method = services.payment_method_add(
                actor=request.user,
                company=company,
                kind=form.cleaned_data["kind"],
                saved=saved,
                nickname=form.cleaned_data["nickname"],
                make_default=form.cleaned_data["make_default"],
            )
        except TokenizeError as exc:
            form.add_error(None, TOKENIZE_MESSAGES.get(exc.code, _("The payment details were refused.")))
            return self.show(request, company, form)
        except ApplicationError as exc:
            form_add_application_error(form, exc)
            return self.show(request, company, form)
        messages.success(request, _("%(method)s was added to the wallet.") % {"method": method})
        next_url = request.POST.get("next", "")
        if next_url.startswith("/") and not next_url.startswith("//"):
            return HttpResponseRedirect(next_url)
        return HttpResponseRedirect(self.wallet_url(company))


@no_store
class WalletEditView(WalletMixin, View):
    def get(self, request, pk):
        method = self.method(request, pk)
        form = MethodEditForm(
            initial={"nickname": method.nickname, "exp_month": method.exp_month, "exp_year": method.exp_year},
            is_card=method.kind in CARD_KINDS,
        )
        return render(request, "payments/paymentmethod_edit.html", {"method": method, "form": form})

    def post(self, request, pk):
        method = self.method(request, pk)
        form = MethodEditForm(request.POST, is_card=method.kind in CARD_KINDS)
        if not form.is_valid():
            return render(request, "payments/paymentmethod_edit.html", {"method": method, "form": form})
        services.payment_method_update(
            actor=request.user,
            method=method,
            nickname=form.cleaned_data["nickname"],
            exp_month=form.cleaned_data.get("exp_month"),
            exp_year=form.cleaned_data.get("exp_year"),
        )
        messages.success(request, _("The payment method was updated."))
        return HttpResponseRedirect(self.wallet_url(method.company))


@no_store
class WalletDefaultView(WalletMixin, View):
    def post(self, request, pk):
        method = self.method(request, pk)
        services.payment_method_set_default(actor=request.user, method=method)
        messages.success(request, _("%(method)s is now the default payment method.") % {"method": method})
        return HttpResponseRedirect(self.wallet_url(method.company))


@no_store
class WalletDeleteView(WalletMixin, View):
    def get(self, request, pk):
        method = self.method(request, pk)
        return render(
            request,
            "payments/paymentmethod_confirm_delete.html",
            {"method": method, "autopays": list(services.autopay_using(method))},
        )

    def post(self, request, pk):
        method = self.method(request, pk)
        company = method.company
        label = str(method)
        stopped = services.payment_method_delete(actor=request.user, method=method)
        messages.success(request, _("%(method)s was deleted from the wallet.") % {"method": label})
        if stopped:
            messages.warning(
                request,
                _("AutoPay stopped for %(billables)s. The administrators were told by e-mail.")
                % {"billables": ", ".join(str(s.account or s.plan) for s in stopped)},
            )
        return HttpResponseRedirect(self.wallet_url(company))


# --- Payment options in the profile (R11) ------------------------------------------------------


@no_store
@hide_secrets  # it takes a wallet card, never card details; any posted anyway stay out of reports
class PaymentOptionsView(LoginRequiredMixin, View):
    def rows(self, request):
        accounts = list(selectors.account_list_administered(user=request.user))
        company_ids = {a.company_id for a in accounts}
        cards: dict[int, list] = {cid: [] for cid in company_ids}
        for method in selectors.PaymentMethod.objects.filter(company_id__in=company_ids, kind__in=CARD_KINDS).order_by(
            "-is_default", "nickname", "id"
        ):
            cards[method.company_id].append(method)
        return accounts, cards

    def get(self, request, form=None, editing=""):
        accounts, cards = self.rows(request)
        editing = editing or request.GET.get("edit", "")
        rows = []
        for account in accounts:
            option = selectors.payment_option_for(account)
            row = {"account": account, "method": option.method if option else None, "form": None}
            if account.number == editing:
                row["form"] = form or PaymentOptionForm(
                    cards=cards[account.company_id],
                    initial={"method": str(option.method_id) if option and option.method_id else ""},
                )
            rows.append(row)
        return render(request, "payments/paymentoption_list.html", {"rows": rows, "editing": editing})

    def post(self, request):
        number = request.POST.get("account", "")
        accounts, cards = self.rows(request)
        account = next((a for a in accounts if a.number == number), None)
        if account is None:
            # An account the user sees but does not administer (a Payer's or Viewer's): 403.
            visible = selectors.account_list_visible(user=request.user)
            if "\x00" not in number and visible.filter(number=number).exists():
                raise PermissionDenied
            raise Http404
        form = PaymentOptionForm(request.POST, cards=cards[account.company_id])
        if not form.is_valid():
            return self.get(request, form=form, editing=number)
        method = next(m for m in cards[account.company_id] if str(m.id) == form.cleaned_data["method"])
        try:
            services.payment_option_set(actor=request.user, account=account, method=method)
        except ApplicationError as exc:
            form_add_application_error(form, exc)
            return self.get(request, form=form, editing=number)
        messages.success(
            request, _("The card for shipping charges of %(account)s was updated.") % {"account": account.number}
        )
        return redirect("payment_options")


# --- Pay Now without logging in (R3, R7, R1) ---------------------------------------------------

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
        from invoices.models import Invoice

        return Invoice.objects.select_related("account").filter(pk=state.get("invoice_id")).first()

    def get(self, request):
        state = self.state(request)
        if state["step"] == "done" and request.GET.get("pdf"):
            payment = selectors.payment_get_public(reference=state.get("reference", ""))
            if payment is None or payment.status != PaymentStatus.SUCCEEDED:
                raise Http404
            return _pdf_response(payment, request)
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
            context.update(_stripe_context())
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
            invoice = services.pay_now_lookup(
                account_number=form.cleaned_data["account_number"],
                invoice_number=form.cleaned_data["invoice_number"],
                amount=form.cleaned_data["amount"],
                ip_address=client_ip(request),
            )
        except services.PayNowRefusal as exc:
            if exc.invoice is None:
                form.add_error(None, exc.message)
            return self.show(request, state, form=form, refusal=exc if exc.invoice is not None else None)
        check = services.invoice_checks([invoice])[0]
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
        try:
            saved = tokenize(form=form)
        except TokenizeError as exc:
            form.add_error(None, TOKENIZE_MESSAGES.get(exc.code, _("The payment details were refused.")))
            return self.show(request, state, form=form)
        token = saved.token if saved is not None else form.cleaned_data.get("gateway_token", "")
        label = _one_time_label(kind, saved) if saved is not None else str(MethodKind(kind).label)
        state.update(
            step="review",
            source={"kind": kind, "token": token, "label": label, "kind_label": str(MethodKind(kind).label)},
            email=form.cleaned_data.get("email", ""),
            key=services.idempotency_key_new(),
        )
        self.save(request, state)
        return redirect("pay_now")

    def confirm(self, request, state):
        form = PayNowConfirmForm(request.POST)
        if not form.is_valid() or form.cleaned_data["idempotency_key"] != state.get("key"):
            return redirect("pay_now")
        source = state["source"]
        try:
            outcome = services.payment_create(
                actor=None,
                invoice_ids=[state["invoice_id"]],
                source=services.PaymentSource(kind=source["kind"], token=source["token"], label=source["label"]),
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
            messages.error(request, payment.failure_message or services.decline_message(payment.failure_code))
            return redirect("pay_now")
        state.update(step="done", reference=payment.reference, source=None)
        if payment.payer_email:
            state["emailed_to"] = payment.payer_email
        self.save(request, state)
        return redirect("pay_now")

    def email(self, request, state):
        from django import forms as django_forms

        field = django_forms.EmailField()
        try:
            address = field.clean(request.POST.get("email", ""))
        except django_forms.ValidationError:
            messages.error(request, _("Enter a valid e-mail address."))
            return redirect("pay_now")
        sent = state.get("emails_sent", 0)
        payment = selectors.payment_get_public(reference=state.get("reference", ""))
        if sent >= 3 or payment is None or payment.status != PaymentStatus.SUCCEEDED:
            messages.error(request, _("The receipt cannot be e-mailed now."))
            return redirect("pay_now")
        services.payment_receipt_send(payment=payment, to=address, language=translation.get_language())
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


# --- My AutoPay (R6) ---------------------------------------------------------------------------


class AutoPayMixin(LoginRequiredMixin):
    def schedule(self, request, pk):
        """A live schedule in the user's scope that the user may change (404 outside, 403 by role)."""
        from .autopay import LIVE
        from .models import AutoPaySchedule

        schedule = (
            AutoPaySchedule.objects.filter(LIVE)
            .select_related("company", "account", "plan", "method")
            .filter(pk=pk)
            .first()
        )
        if schedule is None:
            raise Http404
        require(request.user, Action.AUTOPAY, account=schedule.account, plan=schedule.plan)
        return schedule

    def form_context(self, request, *, billable, form, schedule=None):
        return {
            "billable": billable,
            "form": form,
            "schedule": schedule,
            "has_methods": form.fields["method"].queryset.exists(),
            "wallet_add_url": reverse("payments:wallet_add")
            + f"?company={billable.company_id}&next={request.get_full_path()}",
        }

    def methods(self, billable):
        from .autopay import method_usable

        today = timezone.localdate()
        allowed = services.payment_kinds_for_country(billable.country)
        ids = [
            m.id
            for m in selectors.payment_method_list(company=billable.company)
            if m.kind in allowed and method_usable(m, today)
        ]
        return selectors.payment_method_list(company=billable.company).filter(id__in=ids)

    def cleaned(self, form) -> dict:
        data = form.cleaned_data
        return {
            "method": data["method"],
            "amount_mode": data["amount_mode"],
            "limit_amount": data.get("limit_amount"),
            "timing": data["timing"],
            "days_before_due": data.get("days_before_due"),
            "weekday": data.get("weekday"),
            "until_date": data.get("until_date"),
            "consent": data["consent"],
        }


@no_store
class AutoPayListView(AutoPayMixin, View):
    """Each schedule with its next run, what it will pay and skip, and its history of attempts."""

    def get(self, request):
        from . import autopay

        today = timezone.localdate()
        schedules = list(autopay.autopay_list_visible(user=request.user))
        previews = autopay.autopay_previews(schedules, today=today)
        for preview in previews:
            schedule = preview.schedule
            preview.may_manage = user_can(request.user, Action.AUTOPAY, account=schedule.account, plan=schedule.plan)
            preview.attempts = list(schedule.attempts.all()[:20])
            preview.billable = schedule.account or schedule.plan
            preview.weekday_label = dict(autopay.WEEKDAYS).get(schedule.weekday, "")
        scheduled = {(s.account_id, s.plan_id) for s in schedules}
        available = []
        for billable in autopay.billables_for_autopay(user=request.user):
            is_account = isinstance(billable, autopay.ShippingAccount)
            if ((billable.id, None) if is_account else (None, billable.id)) not in scheduled:
                available.append({"billable": billable, "param": "account" if is_account else "plan"})
        return render(
            request,
            "payments/autopayschedule_list.html",
            {"previews": previews, "available": available, "today": today},
        )


@no_store
class AutoPayCreateView(AutoPayMixin, View):
    def billable(self, request):
        from accounts.selectors import account_list_visible, plan_list_visible

        number = (request.GET.get("account") or "").strip().upper()
        plan_number = (request.GET.get("plan") or "").strip().upper()
        if "\x00" in number + plan_number:  # PostgreSQL cannot compare NUL: no such account or plan
            raise Http404
        if number:
            billable = account_list_visible(user=request.user).select_related("company").filter(number=number).first()
            if billable is None:
                raise Http404
            require(request.user, Action.AUTOPAY, account=billable)
        elif plan_number:
            billable = plan_list_visible(user=request.user).select_related("company").filter(number=plan_number).first()
            if billable is None:
                raise Http404
            require(request.user, Action.AUTOPAY, plan=billable)
        else:
            return None
        return billable

    def get(self, request):
        billable = self.billable(request)
        if billable is None:
            return redirect("payments:autopay")
        methods = self.methods(billable)
        default = methods.filter(is_default=True).first() or methods.first()
        form = AutoPayForm(
            methods=methods,
            currency=billable.currency,
            initial={
                "method": default.id if default else None,
                "amount_mode": "full",
                "timing": "days_before_due",
                "days_before_due": 3,
            },
        )
        return render(
            request, "payments/autopayschedule_form.html", self.form_context(request, billable=billable, form=form)
        )

    def post(self, request):
        from . import autopay

        billable = self.billable(request)
        if billable is None:
            raise Http404
        form = AutoPayForm(request.POST, methods=self.methods(billable), currency=billable.currency)
        if form.is_valid():
            try:
                autopay.autopay_create(
                    actor=request.user, billable=billable, ip_address=client_ip(request), **self.cleaned(form)
                )
            except ApplicationError as exc:
                form_add_application_error(form, exc)
            else:
                messages.success(request, _("AutoPay is set up for %(billable)s.") % {"billable": billable})
                return redirect("payments:autopay")
        return render(
            request, "payments/autopayschedule_form.html", self.form_context(request, billable=billable, form=form)
        )


@no_store
class AutoPayEditView(AutoPayMixin, View):
    def get(self, request, pk):
        schedule = self.schedule(request, pk)
        billable = schedule.account or schedule.plan
        methods = self.methods(billable)
        form = AutoPayForm(
            methods=methods,
            currency=billable.currency,
            initial={
                "method": schedule.method_id if methods.filter(pk=schedule.method_id).exists() else None,
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
        from . import autopay

        schedule = self.schedule(request, pk)
        billable = schedule.account or schedule.plan
        form = AutoPayForm(request.POST, methods=self.methods(billable), currency=billable.currency)
        if form.is_valid():
            try:
                autopay.autopay_update(
                    actor=request.user, schedule=schedule, ip_address=client_ip(request), **self.cleaned(form)
                )
            except ApplicationError as exc:
                form_add_application_error(form, exc)
            else:
                messages.success(request, _("AutoPay for %(billable)s was changed.") % {"billable": billable})
                return redirect("payments:autopay")
        return render(
            request,
            "payments/autopayschedule_form.html",
            self.form_context(request, billable=billable, form=form, schedule=schedule),
        )


@no_store
class AutoPayStatusView(AutoPayMixin, View):
    """POST only: pause, resume or cancel a schedule."""

    action = ""

    def post(self, request, pk):
        from . import autopay

        schedule = self.schedule(request, pk)
        billable = schedule.account or schedule.plan
        service = {"pause": autopay.autopay_pause, "resume": autopay.autopay_resume, "cancel": autopay.autopay_cancel}[
            self.action
        ]
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
