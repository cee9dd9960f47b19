"""What a gateway reports must be the order's amount, in the order's currency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kasse.domain.checkout import AmountMismatch, check_amount
from kasse.payments.builtin import INVOICING, ZERO_VALUE
from kasse.payments.provider import reports_amount
from kasse.payments.stripe import create_provider
from kasse.payments.testgateway_provider import TEST_GATEWAY


def test_the_amount_to_the_currencys_precision_in_the_orders_currency_passes() -> None:
    check_amount(Decimal("95.40"), Decimal("95.4000"), 2, "EUR", paid_currency="eur",
                 amount_reported=True)


@pytest.mark.parametrize(("paid", "currency", "words"), [
    (Decimal("95.40"), "JPY", "'JPY'"),
    (Decimal("95.41"), "EUR", "95.41"),
    (None, "EUR", "did not report"),
    (None, None, "did not report"),
])
def test_another_currency_amount_or_none_at_all_is_refused(
        paid: Decimal | None, currency: str | None, words: str) -> None:
    with pytest.raises(AmountMismatch, match=words):
        check_amount(paid, Decimal("95.40"), 2, "EUR", paid_currency=currency,
                     amount_reported=True)


def test_a_provider_that_reports_no_amount_is_taken_on_the_checkouts_amount() -> None:
    check_amount(None, Decimal("95.40"), 2, "EUR", amount_reported=False)


def test_which_providers_report_the_amount() -> None:
    assert not reports_amount(INVOICING) and not reports_amount(ZERO_VALUE)
    assert reports_amount(TEST_GATEWAY) and reports_amount(create_provider())
