"""Re-running a unit of work that lost an optimistic-concurrency race."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from kasse.domain.errors import ConcurrentUpdate, Conflict

T = TypeVar("T")
ATTEMPTS = 30


async def retrying(work: Callable[[], Awaitable[T]], what: str, attempts: int = ATTEMPTS) -> T:
    """Run ``work`` (one whole transaction) again while another request wins the race."""
    for attempt in range(attempts):
        try:
            return await work()
        except ConcurrentUpdate:
            await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # noqa: S311
    raise Conflict(f"{what} is being changed by many requests at once; try again")
