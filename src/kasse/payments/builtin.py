"""Providers that need no gateway: pay by invoice, and nothing to pay."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kasse.domain.payment import PaymentStatus
from kasse.payments.provider import (
    HostedForm,
    MetaDataDefinition,
    PaymentRequest,
    PaymentResult,
    SettingDefinition,
)


def _url(value: str) -> str | None:
    if value.startswith(("http://", "https://", "/")):
        return None
    return "must be an absolute http(s) URL or a path starting with /"


RETURN_SETTINGS = (
    SettingDefinition("ContinueUrl", "Continue URL", check=_url,
                      description="Where the shopper goes after paying (Redirect mode)"),
    SettingDefinition("CancelUrl", "Cancel URL", check=_url,
                      description="Where the shopper goes after cancelling (Redirect mode)"),
    SettingDefinition("ErrorUrl", "Error URL", check=_url,
                      description="Where the shopper goes after an error (Redirect mode)"),
)


@dataclass(frozen=True)
class _Direct:
    """The pay page goes straight to kasse's own continue URL; the token is the proof."""

    alias: str
    transaction_prefix: str
    settings: tuple[SettingDefinition, ...] = RETURN_SETTINGS
    metadata: tuple[MetaDataDefinition, ...] = ()
    capabilities: frozenset[str] = field(default_factory=frozenset)
    finalizes_at_continue: bool = True
    # No gateway reports on the money: the checkout's amount is taken on trust and the
    # token alone proves the payment (so its expiry applies).
    reports_amount: bool = False

    def hosted_form(self, request: PaymentRequest) -> HostedForm:
        return HostedForm(action=request.urls.continue_url, method="POST")

    def verify_return(self, settings: Mapping[str, str], query: Mapping[str, str],
                      reference: str) -> PaymentResult | None:
        return PaymentResult(reference=reference, status=PaymentStatus.AUTHORIZED,
                             transaction_id=f"{self.transaction_prefix}-{reference}")

    def parse_callback(self, settings: Mapping[str, str], body: bytes,
                       headers: Mapping[str, str]) -> PaymentResult | None:
        return None


INVOICING = _Direct(alias="invoicing", transaction_prefix="invoice")
"""Pay later: the order goes through as ``Authorized``."""

ZERO_VALUE = _Direct(alias="zeroValue", transaction_prefix="zero")
"""For orders with nothing to pay (kasse allows it only at a zero transaction amount)."""
