"""Discounts and gift cards: what they are and when they apply.

A **discount** is applied automatically or by a code. Its rules (all must hold) look at
the order: a minimum subtotal per currency, the shipping country, a date window. Its
rewards take a percentage or a fixed amount per currency off the subtotal, the shipping
fee, the total, or off the order lines of given products (by product reference or SKU).
Discounts are applied in their configured order; one that "blocks further discounts"
ends the list when it applies.

A **gift card** is a code with a balance in one currency. Redeemed on an order in that
currency it pays part of the order: the transaction amount is reduced (never below
zero) by what is left on the card.

A code's remaining uses and a card's balance are shared by every order, so they are
checked again, atomically, when an order is finalized.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from kasse.domain.errors import InvalidInput


class DiscountKind(StrEnum):
    AUTOMATIC = "Automatic"
    CODE = "Code"


class RewardTarget(StrEnum):
    SUBTOTAL = "subtotal"
    SHIPPING = "shipping"
    TOTAL = "total"
    LINES = "lines"


class CodeRejected(InvalidInput):
    """A code that cannot be redeemed (unknown, expired, used up …); the detail says why."""

    code = "code_rejected"


@dataclass(frozen=True, slots=True)
class Reward:
    target: RewardTarget
    percentage: Decimal | None = None
    """A fraction: 0.1 takes 10 % off."""
    amounts: Mapping[UUID, Decimal] = field(default_factory=dict)
    """A fixed amount per currency, on the side the store sets prices on (with tax when
    prices include tax)."""
    products: frozenset[str] = frozenset()
    """For ``lines``: product references or SKUs whose lines get the reward."""

    def matches(self, reference: str, sku: str) -> bool:
        return reference in self.products or sku in self.products


@dataclass(frozen=True, slots=True)
class DiscountCode:
    id: UUID
    code: str
    usage_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Discount:
    id: UUID
    alias: str
    name: str
    kind: DiscountKind
    rewards: tuple[Reward, ...]
    active: bool = True
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    block_further: bool = False
    min_subtotal: Mapping[UUID, Decimal] = field(default_factory=dict)
    """Per currency; an order in a currency not listed does not qualify."""
    countries: frozenset[UUID] = frozenset()
    """Shipping countries that qualify (empty: every country)."""
    codes: tuple[DiscountCode, ...] = ()

    @property
    def timed(self) -> bool:
        return self.starts_at is not None or self.expires_at is not None

    def open_at(self, at: datetime) -> bool:
        """Active and inside its date window."""
        if not self.active:
            return False
        if self.starts_at is not None and at < self.starts_at:
            return False
        return self.expires_at is None or at < self.expires_at

    def qualifies(self, currency_id: UUID, subtotal: Decimal, country_id: UUID | None,
                  at: datetime) -> bool:
        if not self.open_at(at):
            return False
        if self.min_subtotal:
            minimum = self.min_subtotal.get(currency_id)
            if minimum is None or subtotal < minimum:
                return False
        return not self.countries or country_id in self.countries

    def why_not(self, at: datetime) -> str | None:
        """Why a code of this discount cannot be redeemed now (``None``: it can)."""
        if not self.active:
            return "is not active"
        if self.starts_at is not None and at < self.starts_at:
            return f"is valid from {self.starts_at:%Y-%m-%d %H:%M} UTC"
        if self.expires_at is not None and at >= self.expires_at:
            return "has expired"
        return None


@dataclass(frozen=True, slots=True)
class GiftCard:
    """A gift card as stored: ``amount`` issued, ``debited`` used by finalized orders."""

    id: UUID
    code: str
    currency_id: UUID
    amount: Decimal
    debited: Decimal = Decimal(0)
    expires_at: datetime | None = None
    active: bool = True

    @property
    def remaining(self) -> Decimal:
        return max(self.amount - self.debited, Decimal(0))

    def why_not(self, currency_id: UUID, at: datetime) -> str | None:
        """Why this card cannot pay an order in ``currency_id`` now (``None``: it can)."""
        if not self.active:
            return "is not active"
        if self.expires_at is not None and at >= self.expires_at:
            return "has expired"
        if self.currency_id != currency_id:
            return "is in another currency than the order"
        if self.remaining <= 0:
            return "has no balance left"
        return None


@dataclass(frozen=True, slots=True)
class CodeUsage:
    """How often a discount code has been used by finalized orders."""

    code: str
    used: int
    usage_limit: int | None

    @property
    def exhausted(self) -> bool:
        return self.usage_limit is not None and self.used >= self.usage_limit


def normalize_code(code: str) -> str:
    """Codes are matched without regard to case or surrounding blanks."""
    cleaned = code.strip().upper()
    if not cleaned or len(cleaned) > 100:
        raise CodeRejected("a code has 1 to 100 characters")
    return cleaned
