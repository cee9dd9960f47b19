"""Stock adjustments that race: 20 staff requests through the management API, in two
kasse processes, change the same item at the same moment (deliveries of +2, breakage of
-13 that cannot all fit, and three counts), held at a gate (race_gate.py) so that they
really race.

Whatever order they run in, each one is decided on what is on hand at that moment: every
answer is a 201 or a 409 naming what was on hand, every count leaves exactly what was
counted, the accepted ones form one unbroken chain from the first on-hand figure to the
last (none was decided on a figure another had already changed), stock never goes below
zero, and on hand equals the sum of its ledger, with one ledger entry, one audit entry
and one stock.adjusted event per accepted change.
"""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from sqlalchemy import text

from kasse.adapters.db.database import Database
from tests.integration.conftest import serving
from tests.integration.race_gate import gate
from tests.management import MANAGEMENT, bearer, issue_token

ITEM, ON_HAND = "trail-map", Decimal(60)
ADJUSTMENTS = 20


COUNTS = {3: 25, 9: 40, 15: 31}
"""Racer -> the units it counted."""


def body(n: int) -> dict[str, Any]:
    """Three counts; the others deliveries of 2 and breakage of 13 (10 x -13 cannot all
    fit in what there is)."""
    if n in COUNTS:
        return {"setTo": COUNTS[n], "reason": "counted", "note": f"racer {n}"}
    if n % 2:
        return {"change": 2, "reason": "received", "note": f"racer {n}"}
    return {"change": -13, "reason": "damaged", "note": f"racer {n}"}


def chain(start: Decimal, steps: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The accepted answers in an order where each began with what the one before left
    (their figures may repeat, hence the search); ``None`` if there is none."""
    if not steps:
        return []
    for i, step in enumerate(steps):
        after = Decimal(step["item"]["onHand"])
        if after - Decimal(step["entry"]["change"]) == start:
            rest = chain(after, steps[:i] + steps[i + 1:])
            if rest is not None:
                return [step, *rest]
    return None


async def _race(server: str, db_url: str, token: str) -> list[httpx.Response]:
    url = f"{MANAGEMENT}/stores/demo/stock/{ITEM}/adjustments"
    async with httpx.AsyncClient(base_url=server, headers=bearer(token), timeout=60,
                                 limits=httpx.Limits(max_connections=40)) as http:
        # The token is known (its last use written) before the race.
        assert (await http.get(f"{MANAGEMENT}/me")).status_code == 200
        requests = [http.post(url, headers={"Idempotency-Key": str(uuid4())}, json=body(n))
                    for n in range(ADJUSTMENTS)]
        async with gate(db_url, row=("products", "reference", ITEM)) as held:
            answers = await held.contend(requests, expected_waiters=ADJUSTMENTS // 2)
        held.assert_overlapped()
    return answers


async def _rows(url: str, sql: str) -> list[Any]:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await db.dispose()


def test_twenty_adjustments_at_once_keep_on_hand_equal_to_the_ledger(
        demo_db_url: str, tmp_path: Path) -> None:
    token = issue_token(demo_db_url, "manager", name="racer")
    with serving(demo_db_url, tmp_path) as server:
        answers = asyncio.run(_race(server, demo_db_url, token))

    accepted = [a.json() for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    for answer in refused:
        assert answer.status_code == 409, answer.text
        assert "cannot go below 0" in answer.json()["detail"], answer.text
    assert accepted and refused  # the breakage cannot all fit
    for n, answer in enumerate(answers):
        if n in COUNTS:  # a count is never refused, and leaves what was counted
            assert answer.status_code == 201, answer.text
            assert Decimal(answer.json()["item"]["onHand"]) == COUNTS[n]

    # One chain: each accepted change started from what the one before it left.
    steps = chain(ON_HAND, accepted)
    assert steps is not None, "a change was decided on a figure another had changed"
    final = Decimal(steps[-1]["item"]["onHand"])
    assert all(Decimal(step["item"]["onHand"]) >= 0 for step in steps)
    # A refusal named what was on hand then: a figure of the chain, too little for -13.
    figures = {ON_HAND} | {Decimal(a["item"]["onHand"]) for a in accepted}
    for answer in refused:
        found = re.search(r"has ([0-9.]+) on hand", answer.json()["detail"])
        assert found and Decimal(found[1]) in figures and Decimal(found[1]) < 13

    (stock,) = asyncio.run(_rows(demo_db_url, f"SELECT stock FROM products "  # noqa: S608
                                              f"WHERE reference = '{ITEM}'"))[0]
    ledger = asyncio.run(_rows(demo_db_url, (
        "SELECT cause, delta FROM stock_ledger WHERE item_id = (SELECT id FROM products "
        f"WHERE reference = '{ITEM}')")))  # noqa: S608
    scale = Decimal(10) ** 6
    assert Decimal(stock) / scale == final >= 0
    assert sum(Decimal(delta) for _, delta in ledger) == stock  # on hand = the ledger
    assert len([c for c, _ in ledger if c != "import"]) == len(accepted)
    audit = asyncio.run(_rows(demo_db_url, "SELECT count(*) FROM audit_entries "
                                           "WHERE action = 'stock.adjusted'"))
    events = asyncio.run(_rows(demo_db_url, "SELECT count(*) FROM outbox_events "
                                            "WHERE topic = 'stock.adjusted'"))
    assert audit[0][0] == events[0][0] == len(accepted)
