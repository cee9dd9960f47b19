"""``python -m bench``: the scenarios against kasse and against the bare baseline, on
SQLite (one worker) and PostgreSQL (two workers), then the growth runs.

    python -m bench                                  # both engines, growth to 10,000
    python -m bench --engines sqlite --growth 10000,1000000
    python -m bench --engines sqlite --duration 2 --warmup 0.5 --concurrency 2 --growth ""
    python -m bench --scenarios order-search,order-export --orders 1000000 --growth ""

The staff's scenarios (``order-search``, ``order-export``) run when named, over a
database filled to ``--orders`` placed orders, after the storefront's.

Prints a table; the whole report is written as JSON (``--json``; ``-`` prints it too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import checks
from bench.baseline import CANNED_ENV, write_canned
from bench.load_orders import load
from bench.loadgen import PhaseResult, Recorded, Shopper, record_journey, run_phase
from bench.order_search import issue_token, measure_export, measure_search
from bench.report import ratio, summarize, table
from bench.scenarios import API_HEADERS, SCENARIOS, Scenario, webhook_call
from bench.stack import (
    API,
    bench_store_file,
    free_port,
    gateway_args,
    kasse_args,
    kasse_env,
    postgres_database,
    prepare_database,
    serve,
    sqlite_database,
    worker_rss_mb,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
WORKERS = {"sqlite": 1, "postgresql": 2}
GROWTH_SCENARIOS = ("cart-read", "inline-checkout")
STAFF_SCENARIOS = ("order-search", "order-export")


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = ""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory": memory,
            "python": platform.python_version(), "platform": platform.platform()}


def replay(calls: list[Recorded], scenario: str) -> Callable[[Shopper], Any]:
    """A journey that sends the recorded calls as they were sent to kasse."""
    async def journey(shopper: Shopper) -> bool:
        for call in calls:
            await shopper.call(call.name, call.method, call.path, expect=call.status,
                               headers=call.request_headers, content=call.request_body,
                               call_id=f"{scenario}/{call.name}")
        return False

    return journey


@contextmanager
def _database(engine: str, folder: Path, postgres_url: str) -> Iterator[str]:
    if engine == "sqlite":
        with sqlite_database(folder) as url:
            yield url
    else:
        with postgres_database(postgres_url) as url:
            yield url


def _card_method_id(kasse_url: str) -> str:
    response = httpx.get(f"{kasse_url}{API}/v1/paymentmethod/card", headers=API_HEADERS)
    response.raise_for_status()
    return str(response.json()["id"])


class EngineRun:
    """The servers of one engine, started once, and the phases run against them."""

    def __init__(self, engine: str, args: argparse.Namespace, folder: Path) -> None:
        self.engine = engine
        self.args = args
        self.folder = folder
        self.workers = WORKERS[engine]
        self.result: dict[str, Any] = {"engine": engine, "workers": self.workers,
                                       "phases": [], "end_checks": []}

    def log(self, text: str) -> None:
        print(f"[{self.engine}] {text}", file=sys.stderr, flush=True)

    def run(self) -> dict[str, Any]:
        args = self.args
        with ExitStack() as stack:
            url = stack.enter_context(_database(self.engine, self.folder, args.postgres))
            self.url = url
            gateway_port, kasse_port, baseline_port = free_port(), free_port(), free_port()
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            gateway = stack.enter_context(serve("gateway", gateway_args(gateway_port), env,
                                                gateway_port, self.folder))
            self.log("migrating and importing the bench store")
            prepare_database(url, self.folder, bench_store_file(self.folder, gateway.url))
            kasse_url = f"http://127.0.0.1:{kasse_port}"
            self.kasse = stack.enter_context(serve(
                "kasse", kasse_args(kasse_port, self.workers),
                kasse_env(url, self.folder, kasse_url), kasse_port, self.folder))
            storefront = [name for name in args.scenarios if name in SCENARIOS]
            if storefront:
                recorded = self.record(storefront)
                canned = self.folder / "canned.json"
                write_canned(canned, [call for scenario, calls in recorded.items()
                                      for call in _prefixed(scenario, calls)])
                baseline = stack.enter_context(serve(
                    "baseline", [sys.executable, "-m", "bench.baseline", "--port",
                                 str(baseline_port), "--workers", str(self.workers)],
                    {**env, CANNED_ENV: str(canned)}, baseline_port, self.folder))
                for concurrency in args.concurrency:
                    for name in storefront:
                        self.phase(SCENARIOS[name], concurrency, baseline.url,
                                   baseline.cpu, recorded[name])
            self.result["worker_rss_mb"] = worker_rss_mb(self.kasse.pid)
            if args.growth:
                self.growth(args.growth)
                self.result["worker_rss_mb_after_growth"] = worker_rss_mb(self.kasse.pid)
            staff = [name for name in args.scenarios if name in STAFF_SCENARIOS]
            if staff:
                self.staff(staff, args.orders)
        return self.result

    def record(self, names: list[str]) -> dict[str, list[Recorded]]:
        recorded = {}
        for name in names:
            scenario = SCENARIOS[name]
            calls = asyncio.run(record_journey(scenario.journey, scenario.setup,
                                               self.kasse.url))
            if scenario.webhooks:
                calls.append(webhook_call(_card_method_id(self.kasse.url)))
            recorded[name] = calls
        return recorded

    def measure(self, scenario: Scenario, concurrency: int, duration: float
                ) -> tuple[dict[str, Any], dict[str, Any]]:
        before = checks.counts(self.url)
        result: PhaseResult = asyncio.run(run_phase(
            scenario.journey, scenario.setup, self.kasse.url, concurrency, duration,
            self.args.warmup, self.kasse.cpu))
        summary = summarize(result, 1 if scenario.webhooks else 0)
        expected = result.stats.finalized if scenario.finalizes else 0
        check = checks.end_check(self.url, before, expected, scenario.webhooks)
        check.update(scenario=scenario.name, concurrency=concurrency)
        self.result["end_checks"].append(check)
        summary["end_check"] = check["passed"]
        return summary, check

    def phase(self, scenario: Scenario, concurrency: int, baseline_url: str,
              baseline_cpu: Callable[[], float], calls: list[Recorded]) -> None:
        self.log(f"{scenario.name} @ {concurrency}: kasse")
        kasse, _ = self.measure(scenario, concurrency, self.args.duration)
        self.log(f"{scenario.name} @ {concurrency}: baseline")
        result = asyncio.run(run_phase(replay(calls, scenario.name), None, baseline_url,
                                       concurrency, self.args.duration, self.args.warmup,
                                       baseline_cpu))
        base = summarize(result)
        self.result["phases"].append({
            "scenario": scenario.name, "concurrency": concurrency, "kasse": kasse,
            "baseline": base,
            "cost_ratio": ratio(kasse["server_cpu_ms_per_call"],
                                base["server_cpu_ms_per_call"]),
            "latency_ratio_p50": _latency_ratio(kasse, base)})

    def growth(self, targets: list[int]) -> None:
        runs = []
        for target in targets:
            self.log(f"loading orders until {target:,} are stored")
            started = time.monotonic()
            added = load(self.url, target)
            loaded_in = round(time.monotonic() - started, 1)
            stored = checks.counts(self.url).orders
            for name in GROWTH_SCENARIOS:
                self.log(f"growth: {name} with {stored:,} orders stored")
                summary, _ = self.measure(SCENARIOS[name], 1, self.args.growth_duration)
                runs.append({"scenario": name, "stored_orders": stored, "added": added,
                             "load_seconds": loaded_in,
                             "server_cpu_ms_per_call": summary["server_cpu_ms_per_call"],
                             "journey_p50_ms": summary["journey_p50_ms"],
                             "journeys_per_s": summary["journeys_per_s"],
                             "errors": summary["errors"], "calls": summary["calls"]})
        ratios = {}
        for name in GROWTH_SCENARIOS:
            mine = [r for r in runs if r["scenario"] == name]
            if len(mine) >= 2:
                first, last = mine[0], mine[-1]
                ratios[name] = {
                    "from_orders": first["stored_orders"], "to_orders": last["stored_orders"],
                    "cpu_per_call": ratio(last["server_cpu_ms_per_call"],
                                          first["server_cpu_ms_per_call"]),
                    "journey_p50": ratio(last["journey_p50_ms"], first["journey_p50_ms"])}
        self.result["growth"] = {"runs": runs, "ratios": ratios}


    def staff(self, names: list[str], orders: int) -> None:
        """The staff's scenarios over ``orders`` stored orders."""
        self.log(f"loading orders until {orders:,} are stored")
        started = time.monotonic()
        added = load(self.url, orders)
        run: dict[str, Any] = {"stored_orders": checks.counts(self.url).orders,
                               "added": added,
                               "load_seconds": round(time.monotonic() - started, 1)}
        token = issue_token(self.url, self.folder)
        if "order-search" in names:
            self.log(f"order-search over {run['stored_orders']:,} orders")
            run["search"] = measure_search(self.kasse.url, token, self.args.staff_duration,
                                           self.args.warmup, self.kasse.cpu)
        if "order-export" in names:
            self.log(f"order-export of {run['stored_orders']:,} orders")
            run["export"] = measure_export(self.kasse.url, token, self.kasse.pid)
        self.result["staff"] = run


def _prefixed(scenario: str, calls: list[Recorded]) -> Iterator[Recorded]:
    for call in calls:
        yield Recorded(f"{scenario}/{call.name}", call.method, call.path,
                       call.request_headers, call.request_body, call.status,
                       call.response_headers, call.response_body)


def _latency_ratio(kasse: dict[str, Any], base: dict[str, Any]) -> float | None:
    """Sum of kasse's per-call p50 over the baseline's, for the calls both answered."""
    names = [n for n in kasse["calls"] if n in base["calls"]
             and kasse["calls"][n]["p50_ms"] and base["calls"][n]["p50_ms"]]
    return ratio(sum(kasse["calls"][n]["p50_ms"] for n in names),
                 sum(base["calls"][n]["p50_ms"] for n in names)) if names else None


def _ints(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated, of: {', '.join(SCENARIOS)} (the "
                             f"storefront's, the default) and "
                             f"{', '.join(STAFF_SCENARIOS)} (the staff's)")
    parser.add_argument("--concurrency", type=_ints, default=[1, 8],
                        help="virtual shoppers, comma-separated for several runs (1,8)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="measured seconds per scenario and concurrency (10)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="seconds walked before measuring (2)")
    parser.add_argument("--growth", type=_ints, default=[10_000],
                        help="stored-order counts for the growth runs, e.g. "
                             "10000,1000000; empty to skip (10000)")
    parser.add_argument("--growth-duration", type=float, default=10.0,
                        help="measured seconds per growth run (10)")
    parser.add_argument("--orders", type=lambda text: int(text.replace("_", "")),
                        default=1_000_000,
                        help="stored orders the staff's scenarios run over (1000000)")
    parser.add_argument("--staff-duration", type=float, default=10.0,
                        help="measured seconds of order-search (10)")
    parser.add_argument("--postgres", default=os.environ.get("KASSE_BENCH_POSTGRES_URL",
                                                             DEFAULT_POSTGRES),
                        help="a PostgreSQL server; a fresh database is created on it and "
                             "dropped afterwards")
    parser.add_argument("--json", default=None,
                        help="where to write the JSON report (default var/bench/"
                             "report-<time>.json); '-' prints it after the table")
    args = parser.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for engine in args.engines:
        if engine not in WORKERS:
            parser.error(f"unknown engine {engine!r}")
    for name in args.scenarios:
        if name not in SCENARIOS and name not in STAFF_SCENARIOS:
            parser.error(f"unknown scenario {name!r}")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "settings": {"duration_s": args.duration, "warmup_s": args.warmup,
                     "concurrency": args.concurrency, "growth": args.growth,
                     "orders": args.orders, "staff_duration_s": args.staff_duration},
        "engines": []}
    for engine in args.engines:
        with tempfile.TemporaryDirectory(prefix=f"kasse-bench-{engine}-") as folder:
            report["engines"].append(EngineRun(engine, args, Path(folder)).run())
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    print(table(report))
    text = json.dumps(report, indent=2)
    if args.json == "-":
        print(text)
    else:
        path = Path(args.json) if args.json else (
            ROOT / "var" / "bench" / f"report-{datetime.now():%Y%m%d-%H%M%S}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        print(f"\nJSON report: {path}")
    passed = all(c["passed"] for e in report["engines"] for c in e["end_checks"])
    return 0 if passed else 1
