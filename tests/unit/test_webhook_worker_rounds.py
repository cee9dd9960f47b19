"""The webhook worker's rhythm: events committed in quick succession are relayed in one
round, and a stop is not delayed by that wait."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from kasse.services.webhooks import WebhookDeliveries, WebhookWorker


class Rounds:
    """Stands in for the delivery use cases: records when each round ran."""

    def __init__(self) -> None:
        self.at: list[float] = []

    async def run_once(self) -> bool:
        self.at.append(time.monotonic())
        return False


def worker(rounds: Rounds, *, settle: float, poll: float = 60.0) -> WebhookWorker:
    return WebhookWorker(cast(WebhookDeliveries, rounds), poll_interval=poll, settle=settle)


async def _wakes(settle: float, wakes: int, gap: float) -> list[float]:
    rounds = Rounds()
    subject = worker(rounds, settle=settle)
    task = asyncio.create_task(subject.run())
    await asyncio.sleep(0.05)  # the first round is over; it waits for a wake-up
    for _ in range(wakes):
        subject.wake()
        await asyncio.sleep(gap)
    await asyncio.sleep(settle + 0.1)
    subject.stop()
    await asyncio.wait_for(task, 5)
    return rounds.at


def test_a_burst_of_commits_is_relayed_in_one_round() -> None:
    # Five commits 10 ms apart, as in one shopper's checkout: one round after the
    # start-up round, not five.
    at = asyncio.run(_wakes(settle=0.2, wakes=5, gap=0.01))
    assert len(at) == 2, at
    assert at[1] - at[0] >= 0.2  # it let the burst gather before relaying


def test_without_settling_every_wake_up_is_a_round() -> None:
    at = asyncio.run(_wakes(settle=0.0, wakes=3, gap=0.05))
    assert len(at) == 4, at


def test_stopping_does_not_wait_for_the_settle_time() -> None:
    async def go() -> float:
        subject = worker(Rounds(), settle=30.0, poll=60.0)
        task = asyncio.create_task(subject.run())
        await asyncio.sleep(0.05)
        started = time.monotonic()
        subject.stop()
        await asyncio.wait_for(task, 5)
        return time.monotonic() - started

    assert asyncio.run(go()) < 1.0


def test_settling_never_outlasts_the_poll_interval() -> None:
    subject: Any = worker(Rounds(), settle=5.0, poll=0.5)
    assert subject.settle == 0.5
