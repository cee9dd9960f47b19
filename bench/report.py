"""Figures from a phase's raw timings, the JSON report and the readable table."""

from __future__ import annotations

import math
from typing import Any

from bench.loadgen import PhaseResult


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) by the nearest-rank method."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def _ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000, 2)


def summarize(result: PhaseResult, webhooks_per_journey: int = 0) -> dict[str, Any]:
    """The figures of one phase: journeys per second, latency per call, errors, cost."""
    stats = result.stats
    journeys = len(stats.journeys)
    server_calls = stats.server_calls + webhooks_per_journey * journeys
    calls = {}
    for name in sorted(set(stats.latencies) | set(stats.errors),
                       key=lambda n: stats.order.get(n, len(stats.order))):
        values = stats.latencies.get(name, [])
        calls[name] = {"count": len(values), "errors": stats.errors.get(name, 0),
                       "p50_ms": _ms(percentile(values, 0.50)),
                       "p95_ms": _ms(percentile(values, 0.95)),
                       "p99_ms": _ms(percentile(values, 0.99))}
    return {
        "journeys": journeys,
        "journeys_per_s": round(journeys / result.seconds, 2) if result.seconds else 0.0,
        "journey_p50_ms": _ms(percentile(stats.journeys, 0.50)),
        "journey_p95_ms": _ms(percentile(stats.journeys, 0.95)),
        "journey_p99_ms": _ms(percentile(stats.journeys, 0.99)),
        "failed_journeys": stats.failed_journeys,
        "errors": sum(stats.errors.values()),
        "error_samples": stats.error_samples,
        "seconds": round(result.seconds, 2),
        "server_calls": server_calls,
        "server_cpu_s": round(result.server_cpu, 3),
        "server_cpu_ms_per_call": round(result.server_cpu * 1000 / server_calls, 3)
        if server_calls else None,
        "client_cpu_s": round(result.client_cpu, 3),
        "calls": calls,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


# --- the table ------------------------------------------------------------------------------


def _f(value: Any, width: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:.2f}" if value < 100 else f"{value:.1f}"
    else:
        text = str(value)
    return text.rjust(width)


def table(report: dict[str, Any]) -> str:
    """The report as text a person reads: one block per engine and concurrency."""
    out: list[str] = []
    for engine in report["engines"]:
        out.append(f"\n== {engine['engine']} ({engine['workers']} worker"
                   f"{'s' if engine['workers'] > 1 else ''}) ==")
        for phase in engine["phases"]:
            out.extend(_phase_block(phase))
        if engine.get("growth"):
            out.extend(_growth_block(engine["growth"]))
        if engine.get("staff"):
            out.extend(_staff_block(engine["staff"]))
        out.append(f"resident memory per worker: {engine.get('worker_rss_mb')} MB"
                   + (f"; after the growth run: {engine.get('worker_rss_mb_after_growth')} MB"
                      if engine.get("worker_rss_mb_after_growth") else ""))
        out.append("end checks: " + ("all passed" if all(
            c["passed"] for c in engine["end_checks"]) else "FAILED"))
        for check in engine["end_checks"]:
            if not check["passed"]:
                out.append(f"  FAILED {check}")
    return "\n".join(out)


def _phase_block(phase: dict[str, Any]) -> list[str]:
    k, b = phase["kasse"], phase["baseline"]
    lines = [
        f"\n-- {phase['scenario']} @ concurrency {phase['concurrency']}: "
        f"{k['journeys_per_s']} journeys/s (baseline {b['journeys_per_s']}), "
        f"journey p50 {k['journey_p50_ms']} ms, {k['journeys']} journeys, "
        f"{k['errors']} errors; server CPU/call {k['server_cpu_ms_per_call']} ms vs "
        f"{b['server_cpu_ms_per_call']} ms = x{phase['cost_ratio']}",
        f"   {'call':<28}{'n':>7}{'err':>5}{'p50':>8}{'p95':>8}{'p99':>8}"
        f"{'base p50':>10}{'x':>7}",
    ]
    for name, c in k["calls"].items():
        base = b["calls"].get(name, {})
        lines.append(f"   {name[:27]:<28}{_f(c['count'], 7)}{_f(c['errors'], 5)}"
                     f"{_f(c['p50_ms'], 8)}{_f(c['p95_ms'], 8)}{_f(c['p99_ms'], 8)}"
                     f"{_f(base.get('p50_ms'), 10)}"
                     f"{_f(ratio(c['p50_ms'], base.get('p50_ms')), 7)}")
    return lines


def _growth_block(growth: dict[str, Any]) -> list[str]:
    lines = ["\n-- growth (concurrency 1): cost with orders already stored",
             f"   {'scenario':<18}{'orders':>10}{'CPU ms/call':>13}{'journey p50':>13}"
             f"{'journeys/s':>12}"]
    for row in growth["runs"]:
        lines.append(f"   {row['scenario']:<18}{row['stored_orders']:>10}"
                     f"{_f(row['server_cpu_ms_per_call'], 13)}{_f(row['journey_p50_ms'], 13)}"
                     f"{_f(row['journeys_per_s'], 12)}")
    for name, r in growth["ratios"].items():
        lines.append(f"   ratio {name}: CPU/call x{r['cpu_per_call']}, "
                     f"p50 x{r['journey_p50']}")
    return lines


def _staff_block(staff: dict[str, Any]) -> list[str]:
    lines = [f"\n-- the staff's side over {staff['stored_orders']:,} stored orders "
             f"(loaded {staff['added']:,} in {staff['load_seconds']} s)"]
    search = staff.get("search")
    if search:
        lines.append(f"   order-search (first page of 50, 1 user): "
                     f"{'met' if search['met'] else 'MISSED'} p50 < "
                     f"{search['target_p50_ms']} ms; {search['errors']} errors")
        for name, c in search["calls"].items():
            if c:
                lines.append(f"   {name:<28}{_f(c['count'], 7)}  p50 {_f(c['p50_ms'], 7)}"
                             f"  p95 {_f(c['p95_ms'], 7)} ms")
    export = staff.get("export")
    if export:
        lines.append(f"   order-export: {export['orders']:,} orders, {export['megabytes']} MB "
                     f"of CSV in {export['seconds']} s; server peak RSS "
                     f"{export['peak_rss_mb']} MB (before {export['rss_before_mb']} MB): "
                     f"{'met' if export['met'] else 'MISSED'} < {export['target_rss_mb']} MB")
    return lines


# --- markdown, for the README's performance section -----------------------------------------


def markdown(report: dict[str, Any]) -> str:
    """Summary tables of a JSON report, in Markdown."""
    m = report["machine"]
    out = [f"Machine: {m['cpus']} cores ({m['cpu_model']}), {m['memory']}, "
           f"Python {m['python']}. Command: `{report['command']}`.", ""]
    for engine in report["engines"]:
        out.append(f"**{engine['engine']}, {engine['workers']} worker"
                   f"{'s' if engine['workers'] > 1 else ''}**")
        out.append("")
        out.append("| scenario | shoppers | journeys/s | journey p50 / p95 / p99 ms | errors "
                   "| server CPU ms/call (baseline) | cost × baseline | end check |")
        out.append("|---|---:|---:|---|---:|---|---:|---|")
        for p in engine["phases"]:
            k, b = p["kasse"], p["baseline"]
            out.append(
                f"| {p['scenario']} | {p['concurrency']} | {k['journeys_per_s']} | "
                f"{k['journey_p50_ms']} / {k['journey_p95_ms']} / {k['journey_p99_ms']} | "
                f"{k['errors']} | {k['server_cpu_ms_per_call']} "
                f"({b['server_cpu_ms_per_call']}) | {p['cost_ratio']} | "
                f"{'passed' if k.get('end_check') else 'FAILED'} |")
        out.append("")
        growth = engine.get("growth")
        if growth:
            out.append("| growth (1 shopper) | orders stored | server CPU ms/call "
                       "| journey p50 ms | journeys/s |")
            out.append("|---|---:|---:|---:|---:|")
            for r in growth["runs"]:
                out.append(f"| {r['scenario']} | {r['stored_orders']:,} | "
                           f"{r['server_cpu_ms_per_call']} | {r['journey_p50_ms']} | "
                           f"{r['journeys_per_s']} |")
            out.append("")
            for name, r in growth["ratios"].items():
                out.append(f"- {name}: {r['to_orders']:,} vs {r['from_orders']:,} orders: "
                           f"CPU per call ×{r['cpu_per_call']}, journey p50 "
                           f"×{r['journey_p50']}")
            out.append("")
        out.append(f"Resident memory per worker: {engine.get('worker_rss_mb')} MB after the "
                   "scenarios" + (f", {engine['worker_rss_mb_after_growth']} MB after the "
                                  "growth runs" if engine.get("worker_rss_mb_after_growth")
                                  else "") + ".")
        out.append("")
    return "\n".join(out)


def per_call_markdown(report: dict[str, Any], engine_name: str, concurrency: int) -> str:
    """Per-call latency of every scenario of one engine at one concurrency."""
    out = ["| scenario | call | n | p50 | p95 | p99 ms | baseline p50 | × |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for engine in report["engines"]:
        if engine["engine"] != engine_name:
            continue
        for p in engine["phases"]:
            if p["concurrency"] != concurrency:
                continue
            for name, c in p["kasse"]["calls"].items():
                base = p["baseline"]["calls"].get(name, {})
                out.append(f"| {p['scenario']} | {name} | {c['count']} | {c['p50_ms']} | "
                           f"{c['p95_ms']} | {c['p99_ms']} | {base.get('p50_ms', '-')} | "
                           f"{ratio(c['p50_ms'], base.get('p50_ms')) or '-'} |")
    return "\n".join(out)


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    loaded = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    print(markdown(loaded))
    for engine in loaded["engines"]:
        for concurrency in loaded["settings"]["concurrency"]:
            print(f"\nPer call, {engine['engine']}, {concurrency} shopper(s):\n")
            print(per_call_markdown(loaded, engine["engine"], concurrency))
