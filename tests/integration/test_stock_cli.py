"""``kasse stock list|adjust`` as an operator uses it: what is on hand, held and available,
and changes with their reason, each one a ledger entry (on hand = the ledger's sum)."""

from __future__ import annotations

import pytest

from tests.integration.test_webhook_cli import Kasse, kasse  # noqa: F401 (a fixture)


def row(out: str, item: str) -> list[str]:
    (found,) = [line.split() for line in out.splitlines() if line.split()[:1] == [item]]
    return found


def test_list_adjust_and_the_ledger_agree(kasse: Kasse) -> None:  # noqa: F811
    status, out, _ = kasse("stock", "list")
    assert status == 0
    assert out.splitlines()[0].split() == ["ITEM", "SKU", "ON", "HAND", "HELD", "AVAILABLE",
                                           "LEDGER"]
    # trail map: 60 on hand, nothing held, its ledger the import's 60
    assert row(out, "trail-map")[2:] == ["60", "0", "60", "60"]
    assert row(out, "rain-jacket:rain-jacket-m")[2:] == ["5", "0", "5", "5"]

    status, out, _ = kasse("stock", "adjust", "trail-map", "+12", "--reason", "delivery 4711")
    assert status == 0, out
    assert "+12, now 72 on hand" in out
    status, out, _ = kasse("stock", "adjust", "rain-jacket:rain-jacket-m", "-2",
                           "--reason", "two damaged in the shop window")
    assert status == 0, out
    status, out, _ = kasse("stock", "list")
    assert row(out, "trail-map")[2:] == ["72", "0", "72", "72"]  # 60 + 12
    assert row(out, "rain-jacket:rain-jacket-m")[2:] == ["3", "0", "3", "3"]  # 5 - 2


@pytest.mark.parametrize(("args", "words"), [
    (("trail-map", "-61", "--reason", "count"), "cannot go below 0"),
    (("trail-map", "0", "--reason", "nothing"), "other than 0"),
    (("trail-map", "lots", "--reason", "x"), "not a number"),
    (("trail-map", "+1", "--reason", "  "), "a reason is required"),
    (("no-such-thing", "+1", "--reason", "x"), "no product or variant"),
])
def test_bad_adjustments_are_refused_and_change_nothing(
        kasse: Kasse, args: tuple[str, ...], words: str) -> None:  # noqa: F811
    status, _, err = kasse("stock", "adjust", *args)
    assert status == 2 and words in err, err
    _, out, _ = kasse("stock", "list")
    assert row(out, "trail-map")[2:] == ["60", "0", "60", "60"]
