"""Orders placed for the management API's tests the way shoppers place them: a cart through
the Storefront API, paid by invoice with the inline checkout (initialize, confirm)."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.tables import order_statuses, orders, stores
from kasse.demo import DEMO_STORE_FILE
from kasse.services.store_import import import_store
from tests.api.conftest import BASE
from tests.conftest import API_KEY

BILLING_DE = {"line1": "Hauptstraße 5", "city": "Berlin", "zipCode": "10115", "country": "DE"}


@dataclass(frozen=True)
class Placed:
    id: str
    number: str
    total: Decimal
    """What the order came to (its total price with tax)."""


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def place(client: TestClient, *, first: str = "Ada", last: str = "Lovelace",
          email: str = "ada@example.com", reference: str | None = None,
          product: str = "camp-mug", quantity: int = 1, status: str = "Authorized",
          code: str | None = None, tags: list[str] | None = None, store: str = "demo"
          ) -> Placed:
    """An order placed through the Storefront API, paid by invoice."""
    headers = {"Api-Key": API_KEY, "Store": store}
    cart = _ok(client.post(f"{BASE}/v1/orders", headers=headers,
                           json={"customerReference": reference} if reference else {}))
    order_url = f"{BASE}/v1/order/{cart['id']}"
    _ok(client.post(order_url, headers=headers,
                    json={"productReference": product, "quantity": quantity}))
    change: dict[str, Any] = {
        "customer": {"firstName": first, "lastName": last, "email": email},
        "billingAddress": BILLING_DE, "shippingAddress": {"sameAsBilling": True},
        "paymentMethod": "invoicing", "shippingMethod": "standard"}
    if code:
        change["redeem"] = [code]
    if tags:
        change["tags"] = tags
    priced = _ok(client.patch(order_url, headers=headers, json=change))
    _ok(client.get(f"{BASE}/v1/checkout/{cart['id']}/initialize", headers=headers))
    amount = priced["transactionAmount"]["value"]["value"]
    confirmed = _ok(client.post(f"{BASE}/v1/checkout/{cart['id']}/confirm", headers=headers,
                                json={"amount": amount, "transactionId": f"tx-{cart['id']}",
                                      "paymentStatus": status}))
    total = Decimal(str(priced["totalPrice"]["value"]["withTax"]))
    return Placed(cart["id"], confirmed["orderNumber"], total)


def open_cart(client: TestClient) -> str:
    cart = _ok(client.post(f"{BASE}/v1/orders", headers={"Api-Key": API_KEY, "Store": "demo"},
                           json={}))
    return str(cart["id"])


def _run(db_url: str, work: Any) -> Any:
    async def go() -> Any:
        db = Database.from_url(db_url)
        try:
            async with db.transaction() as conn:
                return await work(conn)
        finally:
            await db.dispose()

    return asyncio.run(go())


def set_columns(db_url: str, order_id: str, **values: Any) -> None:
    """Change an order's columns (e.g. as an order placed before a column was kept)."""
    async def work(conn: Any) -> None:
        await conn.execute(update(orders).where(orders.c.id == UUID(order_id))
                           .values(**values))

    _run(db_url, work)


def store_id(db_url: str, alias: str = "demo") -> UUID:
    async def work(conn: Any) -> UUID:
        found: UUID = (await conn.execute(select(stores.c.id).where(
            stores.c.alias == alias))).scalar_one()
        return found

    result: UUID = _run(db_url, work)
    return result


def status_id(db_url: str, alias: str, store: str = "demo") -> UUID:
    """The id of one of the store's order statuses."""
    async def work(conn: Any) -> UUID:
        found: UUID = (await conn.execute(
            select(order_statuses.c.id).join(stores, stores.c.id == order_statuses.c.store_id)
            .where(stores.c.alias == store, order_statuses.c.alias == alias))).scalar_one()
        return found

    result: UUID = _run(db_url, work)
    return result


def import_second_store(db_url: str, alias: str = "outlet") -> UUID:
    """Another store, a copy of the demo store under ``alias``."""
    data = copy.deepcopy(read_config_file(DEMO_STORE_FILE).data)
    data["store"]["alias"] = alias
    data["store"]["name"] = f"Kasse {alias.capitalize()}"

    async def go() -> None:
        db = Database.from_url(db_url)
        try:
            await import_store(SqlStorage(db), data)
        finally:
            await db.dispose()

    asyncio.run(go())
    return store_id(db_url, alias)


def utc_now() -> datetime:
    return datetime.now(UTC)
