"""The messages of an order's news after checkout (shipped, refunded, canceled), made of
outbox events in the shapes the order's actions record (``order.fulfilled``,
``payment.refunded``, ``order.canceled``), sent to a real SMTP server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from kasse.adapters.db.email_repository import SqlEmailStorage
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.email.smtp import SmtpTransport
from kasse.services.catalog import StoreDirectory
from kasse.services.emails import EmailDeliveries
from tests.integration.mail_server import MailServer, Received
from tests.integration.test_shopper_email_delivery import placed_order
from tests.integration.test_webhook_delivery import database

NBSP = "\u00a0"


async def record(db_url: str, order: dict[str, Any], topic: str, data: dict[str, Any],
                 at: datetime) -> None:
    async with database(db_url) as db, SqlStorage(db).ordering(write=True) as unit:
        await unit.checkout.add_outbox_event(
            store_id=UUID(order["storeId"]), topic=topic, aggregate_id=UUID(order["id"]),
            payload={"orderId": order["id"], "orderNumber": order["orderNumber"], **data},
            at=at)


async def send_all(db_url: str, port: int) -> None:
    async with database(db_url) as db:
        storage = SqlStorage(db)
        deliveries = EmailDeliveries(SqlEmailStorage(db), storage, StoreDirectory(storage),
                                     SmtpTransport("127.0.0.1", port, security="none"),
                                     worker="test")
        while await deliveries.run_once():
            pass


def text_of(received: Received) -> tuple[str, str]:
    text, html = received.message.iter_parts()
    return text.get_content(), html.get_content()


def test_shipped_refunded_and_canceled_reach_the_shopper(demo_db_url: str,
                                                         tmp_path: Path) -> None:
    order = placed_order(demo_db_url, tmp_path)
    order["storeId"] = order.get("storeId") or order["store"]["id"]
    backpack, maps = order["orderLines"][0], order["orderLines"][1]
    line = lambda item, quantity: {"lineId": item["id"], "sku": item["sku"],  # noqa: E731
                                   "quantity": quantity}
    now = datetime.now(UTC)
    asyncio.run(record(demo_db_url, order, "order.fulfilled", {
        "fulfilmentId": str(uuid4()), "lines": [line(backpack, "1")], "carrier": "DHL",
        "trackingNumber": "00340434", "fulfilmentStatus": "partial",
        "trackingUrl": "https://track.example/parcel?id=00340434&lang=en"}, now))
    asyncio.run(record(demo_db_url, order, "payment.refunded", {
        "refundId": str(uuid4()), "amount": "25.80", "currency": "EUR", "manual": False,
        "reason": "the maps arrived torn", "lines": [line(maps, "2")],
        "refundedTotal": "25.80", "paymentStatus": "PartiallyRefunded"},
        now + timedelta(seconds=1)))
    # A cancel refunds the rest in the same unit of work: one message tells both.
    canceled_at = now + timedelta(seconds=2)
    asyncio.run(record(demo_db_url, order, "payment.refunded", {
        "refundId": str(uuid4()), "amount": "94.90", "currency": "EUR", "manual": False,
        "reason": None, "lines": [], "refundedTotal": "120.70", "paymentStatus": "Refunded"},
        canceled_at))
    asyncio.run(record(demo_db_url, order, "order.canceled", {
        "reason": "out of stock", "payment": "refunded", "refunded": "94.90",
        "currency": "EUR", "restocked": []}, canceled_at))

    with MailServer().running() as mail:
        asyncio.run(send_all(demo_db_url, mail.port))
        received = {r.message["Subject"]: r for r in mail.messages()}
    number = order["orderNumber"]
    assert sorted(received) == sorted([
        f"Your order {number} at Kasse Outfitters", f"Your order {number} is on its way",
        f"Refund for your order {number}", f"Your order {number} was canceled"])

    text, html = text_of(received[f"Your order {number} is on its way"])
    assert "with DHL" in text and "1 × Trail Backpack 30 L (BAG-TRAIL-30)" in text
    assert "Alps Trail Map" not in text  # not in this parcel
    assert "Tracking number: 00340434" in text
    assert "https://track.example/parcel?id=00340434&lang=en" in text
    assert 'href="https://track.example/parcel?id=00340434&amp;lang=en"' in html

    text, html = text_of(received[f"Refund for your order {number}"])
    # the order's currency as its culture writes it (de-DE), in an English message
    assert f"We have refunded 25,80{NBSP}€ for your order {number} (the maps arrived torn)" \
        in text.replace("\r\n", " ").replace("Ada, we", "We")
    assert "2 × Alps Trail Map (MAP-ALPS)" in text

    text, _ = text_of(received[f"Your order {number} was canceled"])
    assert "(out of stock)" in text and f"We have refunded 94,90{NBSP}€" in text
