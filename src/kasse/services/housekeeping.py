"""Work nobody asks for: deleting carts that shoppers abandoned, and stock reservations
that ran out.

A cart is abandoned when nobody touched it for the configured time. A cart with a
checkout that a gateway could still report as paid is kept: the gateway may retry its
webhook for days, and a paid cart must become an order. Deleting a cart lets go of the
stock it held. Reservations that ran out are ignored by every read already; deleting
them only keeps the table small.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from kasse.services import telemetry
from kasse.services.ports import Storage

log = logging.getLogger("kasse.housekeeping")

GATEWAY_RETRY_WINDOW = timedelta(days=3)
"""How long after a checkout expired a gateway may still report its payment."""


async def delete_abandoned_carts(storage: Storage, now: datetime, untouched_for: timedelta
                                 ) -> int:
    """Delete open carts untouched since ``now - untouched_for``; returns how many."""
    deleted = await storage.delete_abandoned_carts(
        untouched_since=now - untouched_for, checkouts_expired_before=now - GATEWAY_RETRY_WINDOW)
    if deleted:
        telemetry.count("carts_abandoned_deleted")
        log.info("deleted %d abandoned carts", deleted, extra={"carts": deleted})
    return deleted


async def expire_reservations(storage: Storage, now: datetime) -> int:
    """Delete the stock reservations that ran out; returns how many."""
    async with storage.ordering(write=True) as unit:
        expired = await unit.stock.expire(now)
    if expired:
        log.info("let go of %d expired stock reservations", expired,
                 extra={"reservations": expired})
    return expired


async def run_periodically(storage: Storage, clock: Callable[[], datetime],
                           untouched_for: timedelta, every: timedelta) -> None:
    """Until cancelled: clean up now and then (jittered, so workers do not go together)."""
    while True:
        await asyncio.sleep(every.total_seconds() * random.uniform(0.5, 1.5))  # noqa: S311
        try:
            await delete_abandoned_carts(storage, clock(), untouched_for)
            await expire_reservations(storage, clock())
        except Exception:  # a failed round must not end housekeeping
            log.exception("abandoned cart cleanup failed; trying again later")
