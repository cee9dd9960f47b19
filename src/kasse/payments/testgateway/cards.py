"""Test card numbers and what the gateway does with them."""

from __future__ import annotations

from typing import Literal

__all__ = [
    "APPROVE",
    "DECLINE",
    "ERROR",
    "TEST_CARDS",
    "CardOutcome",
    "card_outcome",
    "luhn_valid",
    "normalize_card_number",
]

APPROVE = "4242424242424242"
"""Always authorized."""
DECLINE = "4000000000000002"
"""Always declined by the (simulated) issuer."""
ERROR = "4000000000000119"
"""Always fails with a technical error."""

CardOutcome = Literal["authorized", "declined", "error"]

TEST_CARDS: tuple[tuple[str, CardOutcome, str], ...] = (
    (APPROVE, "authorized", "Approved"),
    (DECLINE, "declined", "Declined by the issuer"),
    (ERROR, "error", "Technical error"),
)
"""(number, outcome, label) for every card with a fixed outcome."""

MIN_LENGTH = 12
MAX_LENGTH = 19


def normalize_card_number(value: str) -> str:
    """The number without the spaces and dashes people type between digit groups."""
    return value.replace(" ", "").replace("-", "")


def luhn_valid(number: str) -> bool:
    """Whether ``number`` (digits only, 12 to 19 of them) passes the Luhn check."""
    if not (MIN_LENGTH <= len(number) <= MAX_LENGTH) or not number.isascii():
        return False
    if not number.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_outcome(card_number: str) -> CardOutcome | None:
    """What paying with ``card_number`` leads to, or None when it is not a card number.

    Spaces and dashes are ignored. The test cards have fixed outcomes; any other number
    passing the Luhn check is declined.
    """
    number = normalize_card_number(card_number)
    if not luhn_valid(number):
        return None
    for test_number, outcome, _label in TEST_CARDS:
        if number == test_number:
            return outcome
    return "declined"
