"""Payment gateways: one interface (``base.Gateway``), two backends chosen by settings."""

from __future__ import annotations

from django.conf import settings

from .base import ChargeResult, DeclineKind, Gateway, Outcome, SavedMethod, TokenizeError

__all__ = ["ChargeResult", "DeclineKind", "Gateway", "Outcome", "SavedMethod", "TokenizeError", "get_gateway"]

_override: Gateway | None = None


def get_gateway(name: str | None = None) -> Gateway:
    """The configured backend (``settings.PAYMENT_GATEWAY``), or the one that made a payment."""
    if _override is not None:
        return _override
    name = name or settings.PAYMENT_GATEWAY
    if name == "stripe":
        from .stripe_backend import StripeGateway

        return StripeGateway(settings.STRIPE_SECRET_KEY)
    from .simulated import SimulatedGateway

    return SimulatedGateway()


def set_gateway_override(gateway: Gateway | None) -> None:
    """Tests: use this gateway instance everywhere (e.g. Stripe over a fake HTTP client)."""
    global _override
    _override = gateway
