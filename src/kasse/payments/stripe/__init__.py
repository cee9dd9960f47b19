"""Stripe (``stripe-checkout``): hosted Checkout Sessions, inline PaymentIntents, signed
webhooks, capture, cancel and refund. The ``stripe`` SDK is used in this package only."""

from __future__ import annotations

from kasse.payments.stripe.provider import ALIAS, StripeCheckoutProvider


def create_provider(api_base: str | None = None) -> StripeCheckoutProvider:
    """The provider (registered under the ``kasse.payment_providers`` entry point)."""
    return StripeCheckoutProvider(api_base=api_base or None)


__all__ = ["ALIAS", "StripeCheckoutProvider", "create_provider"]
