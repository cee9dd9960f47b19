"""Checking what the merchant's page and the shopper send to the test gateway."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.datastructures import FormData

from kasse.payments.testgateway.cards import card_outcome

MAX_REFERENCE_LENGTH: Final = 200
MAX_DESCRIPTION_LENGTH: Final = 1000
MAX_URL_LENGTH: Final = 2000
MAX_HOLDER_LENGTH: Final = 100

_AMOUNT = re.compile(r"(?:0|[1-9][0-9]{0,11})(?:\.([0-9]{1,3}))?")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_EXPIRY = re.compile(r"([0-9]{1,2})\s*/\s*([0-9]{2}|[0-9]{4})")
_CVC = re.compile(r"[0-9]{3,4}")
_RETURN_URL_FIELDS: Final = ("success_url", "cancel_url", "error_url", "webhook_url")
_REQUIRED_FIELDS: Final = ("merchant", "reference", "amount", "currency", *_RETURN_URL_FIELDS)



def _with_query(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` added to its query (replacing any of the same name)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*kept, *params.items()])))


def _parse_amount(value: str) -> tuple[Decimal, int] | None:
    """(amount, number of decimals) of a positive decimal string, else None."""
    match = _AMOUNT.fullmatch(value)
    if match is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
        return None
    if amount <= 0:
        return None
    return amount, len(match.group(1) or "")


def _url_problem(name: str, value: str) -> str | None:
    if len(value) > MAX_URL_LENGTH:
        return f"{name} is longer than {MAX_URL_LENGTH} characters"
    if any(char.isspace() for char in value):
        return f"{name} must not contain spaces"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name} must be an absolute http(s) URL"
    return None


def _pay_form_problems(fields: Mapping[str, str]) -> list[str]:
    problems = [f"{name} is missing" for name in _REQUIRED_FIELDS if not fields.get(name)]
    reference = fields.get("reference", "")
    if len(reference) > MAX_REFERENCE_LENGTH:
        problems.append(f"reference is longer than {MAX_REFERENCE_LENGTH} characters")
    amount = fields.get("amount")
    if amount and _parse_amount(amount) is None:
        problems.append("amount must be a decimal number greater than 0 with at most "
                        "3 decimals, like 123.45")
    currency = fields.get("currency")
    if currency and not _CURRENCY.fullmatch(currency):
        problems.append("currency must be a three-letter code, like EUR")
    if len(fields.get("description", "")) > MAX_DESCRIPTION_LENGTH:
        problems.append(f"description is longer than {MAX_DESCRIPTION_LENGTH} characters")
    for name in _RETURN_URL_FIELDS:
        value = fields.get(name)
        if value:
            problem = _url_problem(name, value)
            if problem:
                problems.append(problem)
    return problems


def _form_strings(form: FormData) -> tuple[dict[str, str], list[str]]:
    fields: dict[str, str] = {}
    problems: list[str] = []
    for key, value in form.multi_items():
        if not isinstance(value, str):
            problems.append(f"{key} must be a text field, not a file")
        elif key in fields:
            problems.append(f"{key} is given more than once")
        else:
            fields[key] = value
    return fields, problems


def _card_problems(fields: Mapping[str, str], today: datetime.date) -> list[str]:
    problems: list[str] = []
    number = fields.get("card_number", "").strip()
    if not number:
        problems.append("Enter a card number.")
    elif card_outcome(number) is None:
        problems.append("The card number is not valid: it must be 12 to 19 digits passing "
                        "the Luhn check (spaces and dashes are ignored).")
    expiry = fields.get("expiry", "").strip()
    if expiry:
        match = _EXPIRY.fullmatch(expiry)
        if match is None:
            problems.append("The expiry date must look like MM/YY.")
        else:
            month, year = int(match.group(1)), int(match.group(2))
            year += 2000 if year < 100 else 0
            if not 1 <= month <= 12:
                problems.append("The expiry month must be between 01 and 12.")
            elif (year, month) < (today.year, today.month):
                problems.append("The card has expired.")
    cvc = fields.get("cvc", "").strip()
    if cvc and not _CVC.fullmatch(cvc):
        problems.append("The CVC must be 3 or 4 digits.")
    if len(fields.get("holder", "")) > MAX_HOLDER_LENGTH:
        problems.append(f"The card holder name is longer than {MAX_HOLDER_LENGTH} characters.")
    return problems

