"""The staff's side at scale: ``order-search`` and ``order-export`` over a database filled
with placed orders (``bench.load_orders``), through the management API with a real token.

- ``order-search``: one member of staff searches again and again: by a customer's email,
  by payment status, by order status (each the first page, 50 orders, no count), with
  values drawn from the loaded spread; p50 and p95 per search.
- ``order-export``: the CSV of every placed order, streamed; how long it takes and the
  server's peak resident memory (``VmHWM`` of its serving processes).
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from bench.load_orders import CUSTOMERS, PAYMENTS, STATUSES, customer
from bench.loadgen import Shopper, run_phase
from bench.report import summarize
from bench.stack import kasse_env, worker_peak_rss_mb, worker_rss_mb

ORDERS = "/kasse/management/v1/orders"
SEARCHES = ("search by email", "search by payment status", "search by order status")
TARGET_P50_MS = 50.0
TARGET_RSS_MB = 200.0


def issue_token(database_url: str, folder: Path, role: str = "manager") -> str:
    """A management API token made as an operator makes one (``kasse token create``)."""
    done = subprocess.run(  # noqa: S603 (our own command)
        [sys.executable, "-m", "kasse", "token", "create", f"bench-{uuid4().hex[:8]}",
         "--role", role], env=kasse_env(database_url, folder, "http://127.0.0.1"),
        capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r"\bkmt_[A-Za-z0-9_-]+", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"kasse token create failed:\n{done.stdout}\n{done.stderr}")
    return found.group(0)


def searches(token: str, seed: int = 11) -> Any:
    """The journey: three searches with values a shop's staff would type."""
    rng = random.Random(seed)  # noqa: S311 (test data, not security)
    headers = {"Authorization": f"Bearer {token}"}
    payments = [status for status, _ in PAYMENTS]

    async def journey(shopper: Shopper) -> bool:
        email = customer(rng.randrange(CUSTOMERS))[0]
        for name, params in (
                (SEARCHES[0], f"email={email}"),
                (SEARCHES[1], f"paymentStatus={rng.choice(payments)}"),
                (SEARCHES[2], f"orderStatus={rng.choice(STATUSES)}")):
            await shopper.call(name, "GET", f"{ORDERS}?{params}&limit=50", headers=headers)
        return False

    return journey


def measure_search(kasse_url: str, token: str, duration: float, warmup: float,
                   cpu: Any) -> dict[str, Any]:
    result = asyncio.run(run_phase(searches(token), None, kasse_url, 1, duration, warmup,
                                   cpu))
    summary = summarize(result)
    calls = summary["calls"]
    return {"calls": {name: calls.get(name) for name in SEARCHES},
            "errors": summary["errors"], "error_samples": summary["error_samples"],
            "server_cpu_ms_per_call": summary["server_cpu_ms_per_call"],
            "target_p50_ms": TARGET_P50_MS,
            "met": all(calls.get(name) and calls[name]["p50_ms"] is not None
                       and calls[name]["p50_ms"] < TARGET_P50_MS for name in SEARCHES)
            and summary["errors"] == 0}


def measure_export(kasse_url: str, token: str, server_pid: int) -> dict[str, Any]:
    """Streams the whole CSV, reading it as it comes, and reports the server's memory."""
    before = worker_rss_mb(server_pid)
    started = time.monotonic()
    size = lines = 0
    with httpx.stream("GET", f"{kasse_url}{ORDERS}/export.csv",
                      headers={"Authorization": f"Bearer {token}"},
                      timeout=httpx.Timeout(60.0, read=600.0)) as response:
        response.raise_for_status()
        last = b""
        for chunk in response.iter_bytes():
            size += len(chunk)
            # A line's \r\n may be cut between two chunks.
            lines += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
            last = chunk[-1:]
    seconds = time.monotonic() - started
    peak = worker_peak_rss_mb(server_pid)
    return {"orders": lines - 1, "bytes": size, "megabytes": round(size / 1024 / 1024, 1),
            "seconds": round(seconds, 1),
            "orders_per_s": round((lines - 1) / seconds) if seconds else None,
            "rss_before_mb": before, "peak_rss_mb": peak, "target_rss_mb": TARGET_RSS_MB,
            "met": max(peak) < TARGET_RSS_MB}
