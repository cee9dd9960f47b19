"""Importing the store file again, after the shop has sold: the file's changes apply, the
shop's live state (stock on hand, code uses, gift card balances) stays as the sales left it.

Figures follow the demo store (EUR prices include tax, shipped to DE, standard 4.95).
"""

from __future__ import annotations

import asyncio
import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db import tables as t
from kasse.adapters.db.database import Database
from kasse.demo import DEMO_STORE_FILE
from tests.api.test_discounts_and_gift_cards import (
    card_payments,
    due,
    import_data,
    pay,
    priced,
    redeem,
    serve,
)
from tests.api.test_inline_checkout import cart

# One mug 9.90 with WELCOME10: 9.90 x 0.1 = 0.99 off -> 8.91; + standard 4.95 = 13.86,
# all paid by GIFT-DEMO-25: 25.00 - 13.86 = 11.14 left on the card.
MUG_ORDER = Decimal("13.86")
CARD_LEFT = Decimal("11.14")
# The backpack's price goes from 89.95 to 99.95 in the changed file: + 4.95 = 104.90;
# the card's 11.14 off leaves 93.76.
NEW_BACKPACK_DUE = Decimal("93.76")


async def _live_state(url: str) -> dict[str, Any]:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            stock = {r.reference: r.stock for r in [
                *await conn.execute(select(t.products.c.reference, t.products.c.stock)),
                *await conn.execute(select(t.product_variants.c.reference,
                                           t.product_variants.c.stock))]}
            used = {r.code: r.used for r in await conn.execute(
                select(t.discount_codes.c.code, t.discount_codes.c.used))}
            cards = {r.code: (r.amount, r.debited) for r in await conn.execute(
                select(t.gift_cards.c.code, t.gift_cards.c.amount, t.gift_cards.c.debited))}
        return {"stock": stock, "used": used, "cards": cards}
    finally:
        await db.dispose()


def live_state(url: str) -> dict[str, Any]:
    return asyncio.run(_live_state(url))


def changed_demo() -> dict[str, Any]:
    """The demo store file with one price changed."""
    data: dict[str, Any] = copy.deepcopy(read_config_file(DEMO_STORE_FILE).data)
    backpack = next(p for p in data["products"] if p["reference"] == "trail-backpack")
    backpack["prices"]["EUR"] = Decimal("99.95")
    return data


def test_importing_a_changed_file_keeps_stock_uses_and_balances(
        client: TestClient, demo_db_url: str, tmp_path: Path) -> None:
    mugs = cart(client, ("camp-mug", 1, None), payment="zero-value")
    order = redeem(client, mugs, "WELCOME10", "GIFT-DEMO-25")
    assert card_payments(priced(client, mugs)) == [("GiftCard", -MUG_ORDER)]
    assert due(order) == 0
    pay(client, mugs)
    pay(client, cart(client, ("merino-tee", 2, "merino-tee-m-black")))
    sold = live_state(demo_db_url)
    # 200 - 1 mugs, 12 - 2 tees; one use of WELCOME10; 13.86 paid by the card
    assert (sold["stock"]["camp-mug"], sold["stock"]["merino-tee-m-black"]) == (199, 10)
    assert sold["used"]["WELCOME10"] == 1
    assert sold["cards"]["GIFT-DEMO-25"] == (Decimal("25.00"), MUG_ORDER)

    result = import_data(demo_db_url, changed_demo())

    assert (result.created, result.updated, result.deleted) == (0, 1, 0)  # the price
    assert live_state(demo_db_url) == sold
    assert sorted(k.label for k in result.stock_kept) == [
        "camp-mug", "merino-tee [merino-tee-m-black]"]
    assert (result.codes_used, result.cards_debited) == (1, 1)
    with serve(demo_db_url, tmp_path) as fresh:
        later = cart(fresh, ("trail-backpack", 1, None))
        assert card_payments(priced(fresh, redeem(fresh, later, "GIFT-DEMO-25")["id"])) == [
            ("GiftCard", -CARD_LEFT)]
        assert due(priced(fresh, later)) == NEW_BACKPACK_DUE
