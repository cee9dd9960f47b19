"""What may be asked of the staff's order lists: each parameter checked, with a detail
that names it when it is wrong, and the cursors that say where a page starts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from uuid import UUID

from kasse.domain.discounts import normalize_code
from kasse.domain.errors import DomainError, InvalidInput
from kasse.domain.money import decimal_places_of
from kasse.domain.payment import PaymentStatus
from kasse.domain.store import StoreConfig
from kasse.services import cursors
from kasse.services.order_records import (
    PLACED_AT,
    SORTS,
    TOTAL_PRICE,
    OrderSort,
    OrderSummary,
    SortKey,
)

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
FULFILMENT_STATUSES = ("unfulfilled", "partial", "fulfilled")
MAX_TEXT = 200
MAX_TOTAL = Decimal(10) ** 12
TOTAL_PLACES = 6
"""The finest amount stored (a millionth)."""


# --- parameters -------------------------------------------------------------------------------


def checked_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: {limit} is not between 1 and {MAX_LIMIT}")
    return limit


def checked_sort(by: str, direction: str) -> OrderSort:
    wanted = next((s for s in SORTS if s.lower() == by.strip().lower()), None)
    if wanted is None:
        raise InvalidInput(f"sort: {by.strip()[:40]!r} is not one of {', '.join(SORTS)}")
    order = direction.strip().lower()
    if order not in ("asc", "desc"):
        raise InvalidInput(f"direction: {direction.strip()[:40]!r} is not asc or desc")
    return OrderSort(wanted, order == "desc")


def checked_text(value: str | None, name: str, longest: int, lower: bool = False) -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if len(cleaned) > longest:
        raise InvalidInput(f"{name}: longer than {longest} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in cleaned):
        raise InvalidInput(f"{name}: holds control characters")
    return cleaned.lower() if lower else cleaned


def checked_choice(value: str | None, choices: tuple[str, ...], name: str) -> str | None:
    if value is None or not value.strip():
        return None
    for choice in choices:
        if choice.lower() == value.strip().lower():
            return choice
    raise InvalidInput(f"{name}: {value.strip()[:40]!r} is not one of {', '.join(choices)}")


def payment_status(value: str | None) -> str | None:
    return checked_choice(value, tuple(s.value for s in PaymentStatus), "paymentStatus")


def order_statuses(scope: list[StoreConfig], value: str | None) -> tuple[UUID, ...] | None:
    """The ids of the order statuses named ``value`` (an id or alias) in the stores."""
    wanted = checked_text(value, "orderStatus", 100)
    if wanted is None:
        return None
    found = tuple(status.id for config in scope for status in config.order_statuses
                  if str(status.id) == wanted.lower() or status.alias.lower() == wanted.lower())
    if not found:
        raise InvalidInput(f"orderStatus: no order status {wanted!r}")
    return found


def used_code(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalize_code(value)
    except DomainError as exc:
        raise InvalidInput(f"code: {exc.detail}") from None


def utc_time(value: datetime | None, name: str) -> datetime | None:
    """A time with its zone, in UTC; one without a zone is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"{name}: out of range") from None


def total_amount(value: Decimal | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        if not value.is_finite() or value < 0 or value >= MAX_TOTAL:
            raise InvalidInput(f"{name}: {value} is not an amount from 0 to {MAX_TOTAL:,}")
    except InvalidOperation:
        raise InvalidInput(f"{name}: not a number") from None
    if decimal_places_of(value) > TOTAL_PLACES:
        raise InvalidInput(f"{name}: {value} has more than {TOTAL_PLACES} decimal places")
    return value


# --- cursors --------------------------------------------------------------------------------


def sort_key(summary: OrderSummary, sort: OrderSort) -> SortKey:
    if sort.by == TOTAL_PRICE:
        return SortKey(summary.total_price, summary.id)
    return SortKey(summary.placed_at, summary.id)


def encode_cursor(summary: OrderSummary, sort: OrderSort) -> str:
    key = sort_key(summary, sort)
    value = key.value
    text = (value.astimezone(UTC).isoformat() if isinstance(value, datetime)
            else None if value is None else f"{value:f}")
    return cursors.encode("orders", [sort.by, sort.descending, text, str(key.id)])


def decode_cursor(cursor: str, sort: OrderSort) -> SortKey:
    values = cursors.decode("orders", cursor)
    if len(values) != 4:
        raise InvalidInput("cursor: not a cursor this list gave out; start again without it")
    by, descending, text, order_id = values
    if by != sort.by or descending != sort.descending:
        raise InvalidInput("cursor: belongs to a list in another order (sort and direction "
                           "must stay as they were)")
    value: datetime | Decimal | None
    if by == PLACED_AT:
        value = parse_time(text)
    elif text is None:
        value = None
    else:
        try:
            value = Decimal(str(text))
        except InvalidOperation:
            raise InvalidInput("cursor: not a cursor this list gave out") from None
    return SortKey(value, parse_id(order_id))


def parse_time(text: object) -> datetime:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise InvalidInput("cursor: not a cursor this list gave out") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_id(text: object) -> UUID:
    try:
        return UUID(str(text))
    except ValueError:
        raise InvalidInput("cursor: not a cursor this list gave out") from None

