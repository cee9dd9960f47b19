"""The demo's server-side client of kasse's Storefront API.

The demo talks to kasse the way a real storefront's server does: over HTTP, with the
``Api-Key`` that only the server knows. Calls go through ``httpx.ASGITransport`` straight
into the kasse app serving the demo (no socket), addressed to the origin shoppers reach
kasse at, so that the pay URLs kasse builds are ones the shopper's browser can open.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
from starlette.types import ASGIApp

PREFIX = "/umbraco/commerce/storefront/api"
STORE = "demo"
ORDER_EXPAND = ("$prices,orderLines,paymentInfo[country,region,paymentMethod],"
                "shippingInfo[country,region,shippingMethod]")

Json = Any


class ApiError(Exception):
    """A problem document from the Storefront API: its status, type and ``detail``."""

    def __init__(self, status: int, detail: str, kind: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind

    @property
    def store_missing(self) -> bool:
        return self.status == 404 and self.kind.endswith("store-not-found")


def encode_json(value: Any) -> bytes:
    """JSON text in which ``Decimal`` amounts stay exact numbers (never floats)."""
    return _encode(value).encode()


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_encode(v)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value)


class StorefrontApi:
    def __init__(self, http: httpx.AsyncClient, api_key: str) -> None:
        self._http = http
        self._key = {"Api-Key": api_key}

    @classmethod
    @asynccontextmanager
    async def connect(cls, app: ASGIApp, base_url: str, api_key: str,
                      client: tuple[str, int] | None = None) -> AsyncIterator[StorefrontApi]:
        """A client for one shopper's request. ``client`` is the shopper's address, so that
        kasse sees (and limits, and logs) each shopper rather than one in-process caller."""
        transport = httpx.ASGITransport(app=app, client=client or ("127.0.0.1", 123))
        async with httpx.AsyncClient(transport=transport, base_url=base_url + PREFIX,
                                     headers={"Store": STORE}, timeout=30) as http:
            yield cls(http, api_key)

    async def _call(self, method: str, path: str, *, body: Any = None,
                    params: Mapping[str, str] | None = None,
                    headers: Mapping[str, str] | None = None, key: bool = True) -> Json:
        sent = {**(self._key if key else {}), **(headers or {})}
        content = None
        if body is not None:
            content = encode_json(body)
            sent["Content-Type"] = "application/json"
        response = await self._http.request(method, path, params=params, headers=sent,
                                            content=content)
        # Amounts are read as Decimal: the demo never computes with floats.
        data = json.loads(response.content, parse_float=Decimal) if response.content else None
        if response.status_code >= 400:
            problem = data if isinstance(data, dict) else {}
            raise ApiError(response.status_code,
                           str(problem.get("detail") or problem.get("title") or
                               f"the Storefront API answered {response.status_code}"),
                           str(problem.get("type") or ""))
        return data

    # --- catalog -------------------------------------------------------------------------

    async def store(self) -> Json:
        return await self._call("GET", f"/v1/store/{STORE}",
                                params={"expand": "baseCurrency"})

    async def currencies(self) -> list[Json]:
        result: list[Json] = await self._call("GET", "/v1/currencies")
        return result

    async def countries(self) -> list[Json]:
        result: list[Json] = await self._call("GET", "/v1/countries",
                                              params={"expand": "regions"})
        return result

    async def products(self, currency: str | None) -> list[Json]:
        headers = {"Currency": currency} if currency else {}
        result: list[Json] = await self._call(
            "GET", "/v1/products", params={"take": "100", "includeVariants": "true"},
            headers=headers)
        return result

    # --- the cart ------------------------------------------------------------------------

    async def create_order(self, currency: str | None) -> Json:
        return await self._call("POST", "/v1/orders",
                                body={"currency": currency} if currency else {})

    async def order(self, order_id: str) -> Json:
        return await self._call("GET", f"/v1/order/{order_id}",
                                params={"expand": ORDER_EXPAND})

    async def add_product(self, order_id: str, product: str, variant: str | None,
                          quantity: int) -> Json:
        body: dict[str, Any] = {"productReference": product, "quantity": quantity}
        if variant:
            body["productVariantReference"] = variant
        return await self._call("POST", f"/v1/order/{order_id}", body=body)

    async def set_quantity(self, order_id: str, line_id: str, quantity: int) -> Json:
        return await self._call("PATCH", f"/v1/order/{order_id}/item/{line_id}",
                                body={"quantity": quantity})

    async def remove_line(self, order_id: str, line_id: str) -> Json:
        return await self._call("DELETE", f"/v1/order/{order_id}/item/{line_id}")

    async def update_order(self, order_id: str, changes: Mapping[str, Any]) -> Json:
        return await self._call("PATCH", f"/v1/order/{order_id}", body=changes)

    # --- checkout ------------------------------------------------------------------------

    async def shipping_methods(self, order_id: str) -> list[Json]:
        result: list[Json] = await self._call("GET", f"/v1/checkout/{order_id}/shippingmethods")
        return result

    async def payment_methods(self, order_id: str) -> list[Json]:
        result: list[Json] = await self._call("GET", f"/v1/checkout/{order_id}/paymentmethods")
        return result

    async def hosted_token(self, order_id: str, mode: str, origin: str) -> Json:
        """``{token, orderNumber, payUrl}``; like a browser would, this sends no key."""
        return await self._call("GET", f"/v1/checkout/{order_id}/token", key=False,
                                headers={"Mode": mode, "Origin": origin})

    async def initialize(self, order_id: str) -> Json:
        return await self._call("GET", f"/v1/checkout/{order_id}/initialize")

    async def confirm(self, order_id: str, amount: Decimal, transaction_id: str,
                      payment_status: str) -> Json:
        return await self._call("POST", f"/v1/checkout/{order_id}/confirm", body={
            "amount": amount, "transactionId": transaction_id,
            "paymentStatus": payment_status})
