"""``kasse webhook …`` as an operator uses it: register, list (never a secret), pause,
remove, and read deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from kasse.adapters.db.webhook_repository import SqlWebhookStorage
from kasse.cli import main
from kasse.services.webhooks import WebhookDeliveries
from tests.integration.test_webhook_delivery import (
    Clock,
    FakeSender,
    database,
    demo_store_id,
    record_events,
)

Kasse = Callable[..., tuple[int, str, str]]


@pytest.fixture
def kasse(demo_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> Kasse:
    """Runs ``kasse ARGS…``; returns (exit status, stdout, stderr)."""
    monkeypatch.setenv("KASSE_DATABASE_URL", demo_db_url)
    monkeypatch.setenv("KASSE_DATA_DIR", str(tmp_path))

    def run(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_register_list_pause_and_remove(kasse: Kasse) -> None:
    status, out, _ = kasse("webhook", "add", "--url", "https://shop.example/hooks",
                           "--events", "order.finalized,order.payment_failed",
                           "--store", "demo")
    assert status == 0
    generated = out.split("signing secret (shown once; keep it with the receiver): ")[1].strip()
    assert generated.startswith("whsec_") and len(generated) > 30
    first = out.split()[2]

    chosen = "my-own-secret-0123456789"
    status, out, _ = kasse("webhook", "add", "--url", "http://127.0.0.1:9000/k",
                           "--events", "*", "--secret", chosen)
    assert status == 0 and chosen not in out and "signing secret" not in out
    second = out.split()[2]

    status, out, _ = kasse("webhook", "add", "--url", "https://erp.example/std",
                           "--events", "order.finalized", "--format", "standard")
    assert status == 0 and "; standard format)" in out
    standard_secret = out.split("keep it with the receiver): ")[1].strip()
    assert standard_secret.startswith("whsec_")
    Webhook(standard_secret)  # a key a receiver's library reads
    third = out.split()[2]

    status, out, _ = kasse("webhook", "list")
    assert status == 0
    assert generated not in out and chosen not in out and standard_secret not in out
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["ID", "ACTIVE", "STORE", "EVENTS", "FORMAT", "URL"]
    assert lines[1].split()[:6] == [first, "yes", "demo",
                                    "order.finalized,order.payment_failed", "kasse",
                                    "https://shop.example/hooks"]
    assert lines[2].split()[:6] == [second, "yes", "*", "*", "kasse",
                                    "http://127.0.0.1:9000/k"]
    assert lines[3].split()[:6] == [third, "yes", "*", "order.finalized", "standard",
                                    "https://erp.example/std"]

    assert kasse("webhook", "disable", first)[0] == 0
    assert kasse("webhook", "list")[1].splitlines()[1].split()[1] == "no"
    assert kasse("webhook", "enable", first)[0] == 0
    assert kasse("webhook", "list")[1].splitlines()[1].split()[1] == "yes"

    status, out, _ = kasse("webhook", "remove", first)
    assert status == 0 and "removed" in out
    assert first not in kasse("webhook", "list")[1]
    status, _, err = kasse("webhook", "remove", first)
    assert status == 2 and "no webhook endpoint" in err


@pytest.mark.parametrize("args, complaint", [
    (["--url", "ftp://shop.example", "--events", "*"], "http"),
    (["--url", "https://shop.example", "--events", "order.shipped"], "unknown event type"),
    (["--url", "https://shop.example", "--events", "*", "--store", "nope"], "no store"),
    (["--url", "https://shop.example", "--events", "*", "--secret", "short"], "16 to 200"),
    (["--url", "https://shop.example", "--events", "*", "--format", "standard",
      "--secret", "my-own-secret-0123456789"], "whsec_ followed by the base64"),
])
def test_bad_registrations_are_refused_and_change_nothing(
        kasse: Kasse, args: list[str], complaint: str) -> None:
    status, _, err = kasse("webhook", "add", *args)
    assert status == 2 and complaint in err and err.startswith("error: ")
    assert "no webhook endpoints" in kasse("webhook", "list")[1]


def test_an_unknown_format_is_refused(kasse: Kasse, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    with pytest.raises(SystemExit) as exited:
        kasse("webhook", "add", "--url", "https://shop.example", "--events", "*",
              "--format", "svix")
    assert exited.value.code == 2 and "invalid choice: 'svix'" in capsys.readouterr().err
    assert "no webhook endpoints" in kasse("webhook", "list")[1]


def test_not_an_id(kasse: Kasse) -> None:
    for action in ("remove", "disable", "enable"):
        status, _, err = kasse("webhook", action, "42")
        assert status == 2 and "not an endpoint id" in err
    assert kasse("webhook", "deliveries", "--endpoint", "x")[0] == 2


def test_deliveries_show_their_attempts_and_failures(kasse: Kasse, demo_db_url: str) -> None:
    status, out, _ = kasse("webhook", "add", "--url", "http://127.0.0.1:9/hooks",
                           "--events", "*", "--secret", "s" * 16)
    endpoint = out.split()[2]
    assert kasse("webhook", "deliveries")[1].strip() == "no deliveries"

    async def deliver() -> None:
        async with database(demo_db_url) as db:
            clock = Clock(datetime.now(UTC))
            await record_events(db, await demo_store_id(db), 2, at=clock())
            service = WebhookDeliveries(SqlWebhookStorage(db),
                                        FakeSender(answers=[200, 500, None]),
                                        worker="cli-test", clock=clock, rand=lambda: 0.0)
            await service.run_once()
            # The failing one fails again after a day: it is given up.
            clock.advance(hours=25)
            await service.run_once()

    asyncio.run(deliver())
    status, out, _ = kasse("webhook", "deliveries")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["DELIVERY", "STATUS", "ATTEMPTS"]
    assert sorted(line.split()[1] for line in lines[1:]) == ["failed", "succeeded"]
    assert all(endpoint in line for line in lines[1:])

    status, out, _ = kasse("webhook", "deliveries", "--failed", "--attempts",
                           "--endpoint", endpoint)
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == 3 and "failed" in lines[0] and "ConnectError" in lines[0]
    assert lines[1].strip().startswith("#1 ") and "500 in 7 ms by cli-test: answer 500" in lines[1]
    assert lines[2].strip().startswith("#2 ") and "ConnectError: refused" in lines[2]
