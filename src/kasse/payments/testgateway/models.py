"""What the test gateway remembers: its configuration, payments and webhook events."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class GatewayConfig:
    """How a test gateway behaves.

    ``merchants`` maps merchant ids to their shared signing secrets. Webhooks are sent
    ``webhook_delay`` seconds after the outcome (``late_delay`` for the "late" behaviour);
    a delivery answered with a non-2xx status or failing to connect is retried after each
    of ``retry_delays`` in turn. One attempt gives up after ``webhook_timeout`` seconds.
    ``frame_ancestors`` is the CSP source list of the pages that may show the card page in
    a frame (a Framed checkout); ``'none'`` lets nobody.
    """

    merchants: dict[str, str]
    webhook_delay: float = 0.0
    late_delay: float = 2.0
    retry_delays: tuple[float, ...] = (0.5, 1, 2, 4, 8, 16)
    webhook_timeout: float = 10
    frame_ancestors: str = "'none'"


@dataclass
class Payment:
    """One payment as the gateway remembers it."""

    payment_id: str
    merchant: str
    reference: str
    amount: str
    currency: str
    description: str
    success_url: str
    cancel_url: str
    error_url: str
    webhook_url: str
    created: float
    places: int
    status: str = "created"
    outcome: str | None = None
    behaviour: str = "normal"
    captured_amount: Decimal = Decimal(0)
    refunded_amount: Decimal = Decimal(0)
    webhook_attempts: list[dict[str, Any]] = field(default_factory=list)

    def format(self, value: Decimal) -> str:
        """``value`` with as many decimals as the payment amount has."""
        return f"{value.quantize(Decimal(1).scaleb(-self.places)):f}"

    def as_json(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "reference": self.reference,
            "merchant": self.merchant,
            "amount": self.amount,
            "currency": self.currency,
            "description": self.description,
            "status": self.status,
            "created": int(self.created),
            "captured_amount": self.format(self.captured_amount),
            "refunded_amount": self.format(self.refunded_amount),
            "webhook_attempts": [dict(attempt) for attempt in self.webhook_attempts],
        }


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    type: str
    created: int
    body: bytes


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)

