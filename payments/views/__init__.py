"""Payment pages, one module per family: ``pay`` (one-time payment, receipts, history), ``wallet``
(wallet and payment options), ``pay_now`` (Pay Now and the webhook), ``autopay`` (My AutoPay).

Views are thin: a form parses, a selector reads within the user's scope, a service writes. The
URL configurations use the names re-exported here.
"""

from .autopay import AutoPayCreateView, AutoPayEditView, AutoPayListView, AutoPayStatusView
from .pay import HistoryView, PayIndexView, PaymentAttemptView, PayView, ReceiptPdfView, ReceiptView
from .pay_now import PayNowView, StripeWebhookView
from .wallet import (
    PaymentOptionsView,
    WalletAddView,
    WalletDefaultView,
    WalletDeleteView,
    WalletEditView,
    WalletView,
)

__all__ = [
    "AutoPayCreateView",
    "AutoPayEditView",
    "AutoPayListView",
    "AutoPayStatusView",
    "HistoryView",
    "PayIndexView",
    "PayNowView",
    "PayView",
    "PaymentAttemptView",
    "PaymentOptionsView",
    "ReceiptPdfView",
    "ReceiptView",
    "StripeWebhookView",
    "WalletAddView",
    "WalletDefaultView",
    "WalletDeleteView",
    "WalletEditView",
    "WalletView",
]
