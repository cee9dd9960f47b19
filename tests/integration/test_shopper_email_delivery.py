"""The shopper's emails against real processes and a real SMTP server: a ``kasse worker``
killed after the mail server has the message but before it recorded the answer never
sends it again (it is ``unconfirmed`` until a person resends it), a worker that died before
the hand-over is replaced and the message goes out once, STARTTLS with a login, and
``.eml`` files without a mail server."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from kasse.adapters.db.email_repository import SqlEmailStorage
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.tables import email_attempts, email_messages
from kasse.adapters.email.smtp import SmtpTransport
from kasse.api.app import create_app
from kasse.services.catalog import StoreDirectory
from kasse.services.emails import EmailDeliveries
from tests.api.conftest import make_settings
from tests.api.test_shopper_emails import place_order
from tests.conftest import API_KEY
from tests.integration.hosted import wait_for
from tests.integration.mail_server import MailServer
from tests.integration.test_webhook_delivery import database, rows
from tests.integration.test_webhooks_over_http import cli, kasse_env, worker


def placed_order(db_url: str, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """An order placed over the Storefront API by an app that sends no emails itself."""
    settings = make_settings(db_url, tmp_path, email_worker=False, webhook_worker=False,
                             **extra)
    with TestClient(create_app(settings), headers={"Api-Key": API_KEY, "Store": "demo"},
                    raise_server_exceptions=False) as api:
        return place_order(api, language="en")


def table(db_url: str, which: Any) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with database(db_url) as db:
            return await rows(db, which)
    return asyncio.run(go())


def expire_leases(db_url: str) -> None:
    """What time does to the lease of a worker that died: it runs out."""
    async def go() -> None:
        async with database(db_url) as db, db.transaction() as conn:
            await conn.execute(update(email_messages)
                               .where(email_messages.c.lease_owner.is_not(None))
                               .values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    asyncio.run(go())


def smtp_env(db_url: str, folder: Path, port: int, **extra: str) -> dict[str, str]:
    return kasse_env(db_url, folder, KASSE_SMTP_HOST="127.0.0.1", KASSE_SMTP_PORT=str(port),
                     KASSE_SMTP_SECURITY="none", KASSE_EMAIL_POLL_SECONDS="0.2", **extra)


def test_a_worker_killed_between_hand_over_and_record_never_sends_twice(
        demo_db_url: str, tmp_path: Path) -> None:
    order = placed_order(demo_db_url, tmp_path)
    with MailServer(hold=True).running() as mail:
        env = smtp_env(demo_db_url, tmp_path, mail.port)
        with worker(env, tmp_path / "first.log") as first:
            assert mail.holding.wait(30), (tmp_path / "first.log").read_text()
            # The server has the whole message and holds its answer: the worst moment.
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        mail.release.set()
        (message,) = table(demo_db_url, email_messages)
        assert message["status"] == "pending" and message["handing_over_since"] is not None
        expire_leases(demo_db_url)

        with worker(env, tmp_path / "second.log"):
            wait_for(lambda: table(demo_db_url, email_messages)[0]["status"] == "unconfirmed",
                     "the cut-off message to be called unconfirmed", timeout=30)
            time.sleep(1.0)  # several rounds of the second worker
            assert len(mail.messages()) == 1  # at most once: not sent again on its own
            listed = cli(env, "email", "list", "--order", order["orderNumber"], "--attempts")
            assert "unconfirmed" in listed and "cut off" in listed

            resent = cli(env, "email", "resend", str(message["id"]))
            assert "sent again" in resent
            second, again = mail.wait_for(2)
    assert second.raw == again.raw  # the same message, the same Message-ID: a duplicate
    # that a mail program can recognise
    (message,) = table(demo_db_url, email_messages)
    assert (message["status"], message["resends"]) == ("sent", 1)
    kinds = [a["kind"] for a in sorted(table(demo_db_url, email_attempts),
                                       key=lambda a: a["number"])]
    assert kinds == ["uncertain", "sent"]


def test_a_worker_that_dies_before_the_hand_over_is_replaced_and_sends_once(
        demo_db_url: str, tmp_path: Path) -> None:
    placed_order(demo_db_url, tmp_path)

    async def go(port: int) -> list[Any]:
        async with database(demo_db_url) as db:
            storage = SqlStorage(db)
            transport = SmtpTransport("127.0.0.1", port, security="none", timeout=5)

            def deliveries(name: str) -> EmailDeliveries:
                return EmailDeliveries(SqlEmailStorage(db), storage, StoreDirectory(storage),
                                       transport, worker=name)

            first = deliveries("first")
            await first.relay()
            assert len(await first.claim(10)) == 1  # claimed, then the worker dies
            second = deliveries("second")
            await second.run_once()
            assert mail.messages() == []  # leased by the dead worker: not yet
            expire_leases_now = update(email_messages).values(
                lease_until=datetime.now(UTC) - timedelta(seconds=1))
            async with db.transaction() as conn:
                await conn.execute(expire_leases_now)
            assert await second.run_once()
            await second.run_once()
            return await rows(db, email_messages)

    with MailServer().running() as mail:
        (message,) = asyncio.run(go(mail.port))
        assert len(mail.wait_for(1)) == 1
    assert (message["status"], message["attempts"]) == ("sent", 1)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_starttls_with_a_login(demo_db_url: str, tmp_path: Path,
                               certificate: tuple[Path, Path]) -> None:
    import ssl

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    placed_order(demo_db_url, tmp_path)
    with MailServer(tls_context=context, login=("shop", "s3cret-pass")).running() as mail:
        for password, expected in (("wrong", "temporary"), ("s3cret-pass", "sent")):
            settings = make_settings(
                demo_db_url, tmp_path, smtp_host="127.0.0.1", smtp_port=mail.port,
                smtp_security="starttls", smtp_username="shop", smtp_password=password,
                smtp_ca_file=str(cert), email_poll_seconds=0.1, webhook_worker=False)
            with TestClient(create_app(settings)):
                wait_for(lambda e=expected: any(a["kind"] == e for a in table(  # type: ignore[misc]
                    demo_db_url, email_attempts)), f"an attempt {expected}", timeout=20)
            if expected == "temporary":
                (failed,) = table(demo_db_url, email_attempts)
                assert "535" in failed["detail"] and "s3cret" not in failed["detail"]

                async def due_now() -> None:
                    async with database(demo_db_url) as db, db.transaction() as conn:
                        await conn.execute(update(email_messages).values(
                            next_attempt_at=datetime.now(UTC)))
                asyncio.run(due_now())
        (received,) = mail.wait_for(1)
    assert received.rcpt_tos == ["ada@example.com"]


def test_without_a_mail_server_messages_are_eml_files(
        demo_db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kasse")
    settings = make_settings(demo_db_url, tmp_path, email_poll_seconds=0.1,
                             webhook_worker=False)
    with TestClient(create_app(settings), headers={"Api-Key": API_KEY, "Store": "demo"},
                    raise_server_exceptions=False) as api:
        order = place_order(api, language="de")
        folder = settings.email_dir
        (written,) = wait_for(lambda: list(folder.glob("*.eml")), "an .eml file")
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert message["Subject"] == f"Ihre Bestellung {order['orderNumber']} bei Kasse Outfitters"
    assert message.get_content_type() == "multipart/alternative"
    assert str(written) in caplog.text  # the log says where it went
    (row,) = table(demo_db_url, email_messages)
    assert row["status"] == "sent"

