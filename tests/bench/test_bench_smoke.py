"""Keeps the bench harness working: every scenario for a moment against SQLite, against
kasse and the bare baseline, with its end check. No timing is asserted: figures on a
shared test machine mean nothing, and the bench's own runs are where numbers come from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.run import main
from bench.scenarios import SCENARIOS, WEBHOOK_CALL


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    path = tmp_path_factory.mktemp("bench") / "report.json"
    status = main(["--engines", "sqlite", "--duration", "2", "--warmup", "0.3",
                   "--concurrency", "2", "--growth", "", "--json", str(path)])
    loaded: dict = json.loads(Path(path).read_text())  # type: ignore[type-arg]
    loaded["exit_status"] = status
    return loaded


def test_every_scenario_ran_against_kasse_and_the_baseline(report: dict) -> None:  # type: ignore[type-arg]
    (engine,) = report["engines"]
    assert engine["engine"] == "sqlite" and engine["workers"] == 1
    phases = {p["scenario"]: p for p in engine["phases"]}
    assert set(phases) == set(SCENARIOS)
    for name, phase in phases.items():
        for side in ("kasse", "baseline"):
            figures = phase[side]
            assert figures["journeys"] > 0, (name, side, figures["error_samples"])
            assert figures["errors"] == 0, (name, side, figures["error_samples"])
            assert figures["journeys_per_s"] > 0
            for call in figures["calls"].values():
                assert {"count", "errors", "p50_ms", "p95_ms", "p99_ms"} <= set(call)
        # The baseline replays kasse's calls, the gateway's webhook included (kasse gets
        # it from the gateway, out of the shopper's sight).
        assert set(phase["baseline"]["calls"]) - {WEBHOOK_CALL} <= set(phase["kasse"]["calls"])
        assert phase["cost_ratio"] is not None
    assert engine["worker_rss_mb"] and all(mb > 0 for mb in engine["worker_rss_mb"])


def test_the_end_checks_count_the_finalized_orders(report: dict) -> None:  # type: ignore[type-arg]
    (engine,) = report["engines"]
    assert report["exit_status"] == 0
    checks = {c["scenario"]: c for c in engine["end_checks"]}
    assert set(checks) == set(SCENARIOS)
    for name, check in checks.items():
        assert check["passed"], check
        finalizing = SCENARIOS[name].finalizes
        assert (check["new_finalized"] > 0) == finalizing, check
    assert "one_webhook_each" in checks["hosted-checkout"]["checks"]


@pytest.fixture(scope="module")
def staff_report(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    path = tmp_path_factory.mktemp("bench-staff") / "report.json"
    status = main(["--engines", "sqlite", "--scenarios", "order-search,order-export",
                   "--orders", "300", "--growth", "", "--staff-duration", "1",
                   "--warmup", "0.2", "--json", str(path)])
    loaded: dict = json.loads(Path(path).read_text())  # type: ignore[type-arg]
    loaded["exit_status"] = status
    return loaded


def test_the_staff_scenarios_search_and_export_the_stored_orders(
        staff_report: dict) -> None:  # type: ignore[type-arg]
    assert staff_report["exit_status"] == 0
    (engine,) = staff_report["engines"]
    assert engine["phases"] == []  # no storefront scenario was asked for
    staff = engine["staff"]
    assert staff["stored_orders"] >= 300
    search = staff["search"]
    assert search["errors"] == 0, search["error_samples"]
    for name, call in search["calls"].items():
        assert call["count"] > 0 and call["p50_ms"] > 0, name
    export = staff["export"]
    assert export["orders"] == staff["stored_orders"]  # every order placed, one line each
    assert all(mb > 0 for mb in export["peak_rss_mb"])
    assert export["seconds"] >= 0 and export["bytes"] > 0
