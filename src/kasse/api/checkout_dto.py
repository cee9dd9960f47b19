"""Checkout request and response shapes, named as in the reference contract."""

from __future__ import annotations

from enum import StrEnum

from kasse.api.dto import Dto


class HostedCheckoutMode(StrEnum):
    Framed = "Framed"
    Redirect = "Redirect"


class CheckoutTokenDto(Dto):
    token: str
    orderNumber: str
    payUrl: str | None = None


CheckoutTokenDto.model_rebuild()
