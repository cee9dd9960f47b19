"""``kasse stock list|adjust`` as an operator uses it: what is on hand, held and available,
and changes with their reason, each one a ledger entry (on hand = the ledger's sum), an
audit entry and a ``stock.adjusted`` event, as through the management API."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from kasse.adapters.db.database import Database
from tests.integration.test_webhook_cli import Kasse, kasse  # noqa: F401 (a fixture)


def row(out: str, item: str) -> list[str]:
    (found,) = [line.split() for line in out.splitlines() if line.split()[:1] == [item]]
    return found


def rows(url: str, sql: str) -> list[Any]:
    async def read() -> list[Any]:
        db = Database.from_url(url)
        try:
            async with db.read() as conn:
                return list((await conn.execute(text(sql))).all())
        finally:
            await db.dispose()
    return asyncio.run(read())


def test_list_adjust_and_the_ledger_agree(kasse: Kasse, demo_db_url: str) -> None:  # noqa: F811
    status, out, _ = kasse("stock", "list")
    assert status == 0
    assert out.splitlines()[0].split() == ["ITEM", "SKU", "ON", "HAND", "HELD", "AVAILABLE",
                                           "LEDGER"]
    # trail map: 60 on hand, nothing held, its ledger the import's 60
    assert row(out, "trail-map")[2:] == ["60", "0", "60", "60"]
    assert row(out, "rain-jacket:rain-jacket-m")[2:] == ["5", "0", "5", "5"]

    status, out, _ = kasse("stock", "adjust", "trail-map", "+12", "--reason", "received",
                           "--note", "delivery 4711")
    assert status == 0, out
    assert "trail-map: +12 (received), now 72 on hand" in out
    status, out, _ = kasse("stock", "adjust", "rain-jacket:rain-jacket-m", "-2",
                           "--reason", "damaged", "--note", "two in the shop window")
    assert status == 0, out
    status, out, _ = kasse("stock", "adjust", "trail-map", "=70", "--reason", "counted")
    assert status == 0, out
    assert "trail-map: -2 (counted), now 70 on hand" in out  # 72 on hand, 70 counted
    status, out, _ = kasse("stock", "list")
    assert row(out, "trail-map")[2:] == ["70", "0", "70", "70"]  # 60 + 12 - 2
    assert row(out, "rain-jacket:rain-jacket-m")[2:] == ["3", "0", "3", "3"]  # 5 - 2

    ledger = rows(demo_db_url, "SELECT cause, reason, actor FROM stock_ledger "
                               "WHERE cause <> 'import' ORDER BY created_at")
    assert [tuple(r) for r in ledger] == [
        ("received", "delivery 4711", "command line"),
        ("damaged", "two in the shop window", "command line"),
        ("counted", None, "command line")]
    audit = rows(demo_db_url, "SELECT action, actor_kind FROM audit_entries")
    assert [tuple(r) for r in audit] == [("stock.adjusted", "cli")] * 3
    events = rows(demo_db_url, "SELECT topic FROM outbox_events")
    assert [r[0] for r in events] == ["stock.adjusted"] * 3


@pytest.mark.parametrize(("args", "words"), [
    (("trail-map", "-61", "--reason", "counted"), "cannot go below 0"),
    (("trail-map", "0", "--reason", "other"), "other than 0"),
    (("trail-map", "=-1", "--reason", "counted"), "0 or more"),
    (("trail-map", "lots", "--reason", "other"), "not a number"),
    (("trail-map", "+1", "--reason", "delivery"), "reason must be one of received"),
    (("trail-map", "+1", "--reason", "other", "--note", "a\x00b"), "printable"),
    (("no-such-thing", "+1", "--reason", "other"), "no product or variant"),
    (("rain-jacket", "+1", "--reason", "other"), "kept per variant: rain-jacket:"),
])
def test_bad_adjustments_are_refused_and_change_nothing(
        kasse: Kasse, args: tuple[str, ...], words: str, demo_db_url: str) -> None:  # noqa: F811
    status, _, err = kasse("stock", "adjust", *args)
    assert status == 2 and words in err, err
    _, out, _ = kasse("stock", "list")
    assert row(out, "trail-map")[2:] == ["60", "0", "60", "60"]
    assert rows(demo_db_url, "SELECT count(*) FROM audit_entries")[0][0] == 0
    assert rows(demo_db_url, "SELECT count(*) FROM outbox_events")[0][0] == 0
