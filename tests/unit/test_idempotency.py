"""When a repeated Idempotency-Key replays, is refused, waits, or may act again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kasse.domain.idempotency import (
    ABANDONED_AFTER,
    KeptAnswer,
    KeyInUse,
    KeyReused,
    Verdict,
    judge,
    request_fingerprint,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
REFUND = request_fingerprint("POST", "/orders/1/refunds", b'{"amount": "5.00"}')


def kept(status: int | None, started: datetime = NOW, request: str = REFUND) -> KeptAnswer:
    return KeptAnswer(request_hash=request, status_code=status, body="{}", headers={},
                      started_at=started)


def test_the_same_request_gets_the_kept_answer() -> None:
    assert judge(kept(201), REFUND, NOW) is Verdict.REPLAY
    assert judge(kept(409), REFUND, NOW) is Verdict.REPLAY  # a refusal is an answer too


def test_another_request_under_the_same_key_is_refused() -> None:
    other = request_fingerprint("POST", "/orders/1/refunds", b'{"amount": "6.00"}')
    with pytest.raises(KeyReused):
        judge(kept(201), other, NOW)
    with pytest.raises(KeyReused):  # another order is another request
        judge(kept(201), request_fingerprint("POST", "/orders/2/refunds",
                                             b'{"amount": "5.00"}'), NOW)


def test_a_running_action_makes_the_retry_wait_until_it_is_abandoned() -> None:
    with pytest.raises(KeyInUse):
        judge(kept(None, NOW - timedelta(seconds=30)), REFUND, NOW)
    assert judge(kept(None, NOW - ABANDONED_AFTER), REFUND, NOW) is Verdict.TAKE_OVER


def test_fingerprints_do_not_run_parts_together() -> None:
    assert request_fingerprint("POST", "/a", b"bc") != request_fingerprint("POST", "/ab", b"c")
