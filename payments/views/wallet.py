"""The digital wallet (R10) and, in the profile, the card that pays an account's shipping charges (R11)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accounts.access import Action
from core.exceptions import ApplicationError, form_add_application_error

from .. import selectors
from ..forms import MethodEditForm, PaymentOptionForm, WalletAddForm
from ..models import CARD_KINDS
from ..services.wallet import (
    autopay_using,
    payment_method_delete,
    payment_method_save,
    payment_method_set_default,
    payment_method_update,
    payment_option_set,
)
from .common import hide_secrets, no_store, stripe_context


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
            {"company": company, "form": form, "next": request.GET.get("next", ""), **stripe_context()},
        )

    def post(self, request):
        company, companies = self.company(request)
        form = WalletAddForm(request.POST, country=company.country)
        if not form.is_valid():
            return self.show(request, company, form)
        try:
            method = payment_method_save(
                actor=request.user,
                company=company,
                details=form.cleaned_data,
                stripe_mode=form.stripe_mode,
                nickname=form.cleaned_data["nickname"],
                make_default=form.cleaned_data["make_default"],
            )
        except ApplicationError as exc:  # the details refused by the gateway, or the type by the country
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
        payment_method_update(
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
        payment_method_set_default(actor=request.user, method=method)
        messages.success(request, _("%(method)s is now the default payment method.") % {"method": method})
        return HttpResponseRedirect(self.wallet_url(method.company))


@no_store
class WalletDeleteView(WalletMixin, View):
    def get(self, request, pk):
        method = self.method(request, pk)
        return render(
            request,
            "payments/paymentmethod_confirm_delete.html",
            {"method": method, "autopays": list(autopay_using(method))},
        )

    def post(self, request, pk):
        method = self.method(request, pk)
        company = method.company
        label = str(method)
        stopped = payment_method_delete(actor=request.user, method=method)
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
        return accounts, selectors.cards_by_company(company_ids={a.company_id for a in accounts})

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
            if selectors.account_visible(user=request.user, number=number):
                raise PermissionDenied
            raise Http404
        form = PaymentOptionForm(request.POST, cards=cards[account.company_id])
        if not form.is_valid():
            return self.get(request, form=form, editing=number)
        method = next(m for m in cards[account.company_id] if str(m.id) == form.cleaned_data["method"])
        try:
            payment_option_set(actor=request.user, account=account, method=method)
        except ApplicationError as exc:
            form_add_application_error(form, exc)
            return self.get(request, form=form, editing=number)
        messages.success(
            request, _("The card for shipping charges of %(account)s was updated.") % {"account": account.number}
        )
        return redirect("payment_options")
