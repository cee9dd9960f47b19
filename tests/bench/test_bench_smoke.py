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
