"""Payment statuses and what a payment's news may change."""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    """As they travel on the wire (strings, as the reference sends them)."""

    INITIALIZED = "Initialized"
    AUTHORIZED = "Authorized"
    CAPTURED = "Captured"
    CANCELLED = "Cancelled"
    REFUNDED = "Refunded"
    PARTIALLY_REFUNDED = "PartiallyRefunded"
    PENDING_EXTERNAL_SYSTEM = "PendingExternalSystem"
    ERROR = "Error"

    @property
    def finalizes(self) -> bool:
        """A payment in this state means the shopper has paid (or will, for invoices)."""
        return self in FINALIZING

    @property
    def fails(self) -> bool:
        return self in (PaymentStatus.CANCELLED, PaymentStatus.ERROR)


FINALIZING = frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED,
                        PaymentStatus.PENDING_EXTERNAL_SYSTEM})

# After finalization only these moves are real progress; anything else is late news.
_FORWARD = {
    PaymentStatus.PENDING_EXTERNAL_SYSTEM: {PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED},
    PaymentStatus.AUTHORIZED: {PaymentStatus.CAPTURED, PaymentStatus.CANCELLED},
    PaymentStatus.CAPTURED: {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED},
    PaymentStatus.PARTIALLY_REFUNDED: {PaymentStatus.PARTIALLY_REFUNDED,
                                       PaymentStatus.REFUNDED},
}


def moves_forward(current: PaymentStatus, news: PaymentStatus) -> bool:
    """Whether news about a finalized order's payment changes its status.

    A "failed" event arriving after "succeeded" is late news: it never downgrades.
    """
    return news in _FORWARD.get(current, set())
