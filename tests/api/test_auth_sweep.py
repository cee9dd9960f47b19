"""Every route kasse serves, as its router lists it, refuses a caller without the right
``Api-Key``, and a caller with the key and another store's ``Store`` never reaches this
store's orders.

The sweep walks ``app.routes`` (and the routes of the apps mounted in it). Each method of
each route is probed, unless the route is named in ``PUBLIC`` with the reason it takes no
key: a route added later is probed without anyone listing it, and a ``PUBLIC`` entry whose
route is gone fails the sweep.

A probe fills the path with real records of the demo store made for it (an order with a
line and a bundle holding an item, the store's country, currency and method ids) and
sends the body that succeeds: the same request with the key and ``Store: demo`` is a 2xx,
so a missing check would show as a 2xx, not as a 404 of a made-up id. Before that:

- no ``Api-Key`` (with and without ``Store``), or a wrong one: 401;
- the right key with ``Store: other`` (the demo store file imported again under the alias
  ``other``): a record of the demo store named in the path is not found there (404), and
  no answer shows anything of the demo store.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import BaseRoute, Mount

from kasse.adapters.config_file import read_config_file
from kasse.adapters.db.database import Database
from kasse.adapters.db.storage import SqlStorage
from kasse.adapters.db.tables import products
from kasse.api.app import create_app
from kasse.api.management import MANAGEMENT_PREFIX
from kasse.demo import DEMO_STORE_FILE
from kasse.payments.testgateway_provider import MOUNT_PATH
from kasse.services.store_import import import_store
from kasse.storefront_demo import DEMO_PATH
from tests.api.conftest import BASE, make_settings
from tests.api.test_access_and_errors import PROBLEM_JSON
from tests.api.test_inline_verification import pay_at_gateway, reference_of
from tests.conftest import API_KEY

ORDER = f"{BASE}/v1/order/{{orderId}}"
CHECKOUT = f"{BASE}/v1/checkout/{{orderId}}"
CALLBACK = "/umbraco/commerce/payment/callback/{providerAlias}/{paymentMethodId}"
PAY = f"{CHECKOUT}/pay/{{token}}"

PUBLIC: dict[str, str] = {
    f"{CHECKOUT}/token": "hosted checkout: a browser or WebView asks for it with Store "
                         "only, as the contract says; the order id is the authority",
    PAY: "the pay page a shopper's browser opens; the signed token authorizes it",
    f"{PAY}/completed": "where the gateway sends the shopper back; the token authorizes it",
    f"{PAY}/canceled": "where the gateway sends the shopper back; the token authorizes it",
    f"{PAY}/errored": "where the gateway sends the shopper back; the token authorizes it",
    CALLBACK: "gateways' notifications, verified by each provider's signature over the body",
    f"{CALLBACK}/{{orderId}}": "an inline checkout's urls.callback: the browser asks it for "
                               "a client secret (rate limited), gateways notify it (signed)",
    "/health": "the load balancer's liveness probe; it answers nothing but ok",
    "/openapi.json": "the API's description, public like the reference's",
    "/docs": "the API's documentation page, rendered from openapi.json",
    "/docs/oauth2-redirect": "part of the documentation page",
    DEMO_PATH: "the demo storefront, a shop's website: it keeps its key server-side and "
               "reaches only the visitor's own cart (a signed session cookie)",
    MOUNT_PATH: "the simulated payment gateway, an outside service served only with "
                "KASSE_TEST_GATEWAY: its own pages and API, not kasse's",
}
"""Routes anyone may call, by path (a mounted app's path covers all of its routes)."""

NOT_STORE_SCOPED: dict[str, str] = {
    "/metrics": "server-wide figures: no store is asked for",
    f"{BASE}/v1/store/{{idOrAlias}}": "names its store in the path, not in Store",
    "/umbraco/delivery/api/v1/content/item/{id}/variant":
        "the contract's content API has no Store header: the product id says it all",
}
"""Probed routes that read no ``Store`` header, so that a foreign store is no question."""

SURNAME = "Sweepington"
"""The demo store's customer; a foreign store's answer must never show it."""
CUSTOMER = {"firstName": "Ada", "lastName": SURNAME, "email": "ada@sweep.example"}
BILLING = {"line1": "Hauptstraße 5", "city": "Berlin", "zipCode": "10115", "country": "DE"}
WRONG_KEY = API_KEY[:-1] + ("0" if API_KEY[-1] != "0" else "1")


# --- the routes the app serves ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    mount: str | None = None
    """The path of the mounted app serving it, if any."""


def served(routes: list[BaseRoute], prefix: str = "", mount: str | None = None
           ) -> Iterator[Endpoint]:
    """Each method of each route, also inside mounted apps (``*``: any method)."""
    for context in iter_route_contexts(routes):
        route = context.original_route
        path = prefix + (context.path or "")
        if isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            if inner is None:
                yield Endpoint("*", path, mount or path)
            else:
                yield from served(list(inner), path, mount or path)
            continue
        for method in sorted(context.methods or {"*"}):
            yield Endpoint(method, path, mount)


def public(endpoint: Endpoint) -> bool:
    return endpoint.path in PUBLIC or endpoint.mount in PUBLIC


def management_api(endpoint: Endpoint) -> bool:
    """The management API takes management tokens, never the Api-Key: its routes are
    tried with every kind of caller by tests/api/test_management_access.py instead."""
    return endpoint.path.startswith(MANAGEMENT_PREFIX)


def probed(app: FastAPI) -> list[Endpoint]:
    return [e for e in served(list(app.routes)) if not public(e) and not management_api(e)]


# --- the demo store's records a probe names ---------------------------------------------------


@dataclass
class Cart:
    """An open cart of the demo store, ready for checkout: a bundle holding an item, a line."""

    order_id: str
    line_id: str
    bundle_id: str
    bundle_item_id: str
    total: float
    ids: set[str] = field(default_factory=set)
    """Every id of it, to look for in a foreign store's answers."""


@dataclass
class World:
    """The demo store's ids, and a finalized order of its customer."""

    store_id: str
    by_segment: dict[str, str]
    country_id: str
    region_id: str
    product_id: str
    finalized_order_id: str


class Api:
    """Requests as the demo store's storefront makes them (right key, ``Store: demo``)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.headers = {"Api-Key": API_KEY, "Store": "demo"}

    def ok(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.client.request(method, url, headers=self.headers, **kwargs)
        assert 200 <= response.status_code < 300, f"{method} {url}: {response.text}"
        return response.json()

    def cart(self, payment: str = "invoicing") -> Cart:
        order_id = self.ok("POST", f"{BASE}/v1/orders", json={})["id"]
        url = f"{BASE}/v1/order/{order_id}"
        self.ok("POST", url, json={"productReference": "trekking-poles", "quantity": 1,
                                   "bundleId": "kit"})
        self.ok("POST", f"{url}/bundle/kit", json={"productReference": "first-aid-kit",
                                                   "quantity": 1})
        self.ok("POST", url, json={"productReference": "camp-mug", "quantity": 1})
        order = self.ok("PATCH", url, json={
            "customer": CUSTOMER, "billingAddress": BILLING,
            "shippingAddress": {"sameAsBilling": True}, "shippingMethod": "standard",
            "paymentMethod": payment})
        bundle = next(line for line in order["orderLines"] if line["bundleId"] == "kit")
        mug = next(line for line in order["orderLines"] if line["bundleId"] != "kit")
        item = bundle["orderLines"][0]
        return Cart(order_id, mug["id"], "kit", item["id"],
                    order["totalPrice"]["value"]["withTax"],
                    {order_id, mug["id"], bundle["id"], item["id"]})

    def initialized(self) -> Cart:
        cart = self.cart()
        self.ok("GET", f"{BASE}/v1/checkout/{cart.order_id}/initialize")
        return cart

    def confirmed(self, cart: Cart, transaction_id: str) -> Cart:
        self.ok("POST", f"{BASE}/v1/checkout/{cart.order_id}/confirm", json={
            "amount": cart.total, "transactionId": transaction_id,
            "paymentStatus": "Authorized"})
        return cart

    def paid_by_card(self, db_url: str) -> Cart:
        """A finalized order whose card payment the test gateway holds (authorized)."""
        cart = self.cart(payment="card")
        self.ok("GET", f"{BASE}/v1/checkout/{cart.order_id}/initialize")
        payment = pay_at_gateway(self.client, reference_of(db_url, cart.order_id),
                                 Decimal(str(cart.total)))
        return self.confirmed(cart, payment)

    def world(self, db_url: str) -> World:
        store = self.ok("GET", f"{BASE}/v1/store/demo")
        countries = {c["code"]: c["id"] for c in self.ok("GET", f"{BASE}/v1/countries")}
        us = self.ok("GET", f"{BASE}/v1/country/US")
        currencies = {c["code"]: c["id"] for c in self.ok("GET", f"{BASE}/v1/currencies")}
        payment = {m["alias"]: m["id"] for m in self.ok("GET", f"{BASE}/v2/paymentmethods")}
        shipping = {m["alias"]: m["id"] for m in self.ok("GET", f"{BASE}/v2/shippingmethods")}
        finalized = self.confirmed(self.initialized(), "sweep-finalized")
        return World(
            store_id=store["id"],
            by_segment={"store": store["id"], "country": countries["DE"],
                        "currency": currencies["EUR"], "paymentmethod": payment["invoicing"],
                        "shippingmethod": shipping["standard"]},
            country_id=us["id"],
            region_id=next(r["id"] for r in us["regions"] if r["code"] == "CA"),
            product_id=product_id(db_url, store["id"], "merino-tee"),
            finalized_order_id=finalized.order_id)


def product_id(db_url: str, store_id: str, reference: str) -> str:
    """The id the content API knows a product by (the Storefront API does not show it)."""
    async def query() -> str:
        db = Database.from_url(db_url)
        try:
            async with db.read() as conn:
                return str((await conn.execute(select(products.c.id).where(
                    products.c.store_id == UUID(store_id),
                    products.c.reference == reference))).scalar_one())
        finally:
            await db.dispose()

    return asyncio.run(query())


# --- how each route is asked ------------------------------------------------------------------

NO_CART = Cart("", "", "", "", 0)
"""What a body is made from on a route that names no order."""
Body = Callable[[Cart], Any]
BODIES: dict[tuple[str, str], Body] = {
    ("POST", f"{BASE}/v1/orders"): lambda cart: {},
    ("POST", ORDER): lambda cart: {"productReference": "water-bottle", "quantity": 1},
    ("PATCH", ORDER): lambda cart: {"tags": ["swept"]},
    ("PATCH", f"{ORDER}/items"): lambda cart: [{"id": cart.line_id, "quantity": 2}],
    ("PATCH", f"{ORDER}/item/{{orderLineId}}"): lambda cart: {"quantity": 2},
    ("POST", f"{ORDER}/bundle/{{bundleId}}"):
        lambda cart: {"productReference": "water-bottle", "quantity": 1},
    ("PATCH", f"{ORDER}/bundle/{{bundleId}}/items"):
        lambda cart: [{"id": cart.bundle_item_id, "quantity": 2}],
    ("PATCH", f"{ORDER}/bundle/{{bundleId}}/item/{{orderLineId}}"):
        lambda cart: {"quantity": 2},
    ("POST", f"{CHECKOUT}/confirm"): lambda cart: {
        "amount": cart.total, "transactionId": "sweep-confirm", "paymentStatus": "Authorized"},
}
"""The body that succeeds, per route that takes one."""

QUERIES: dict[str, dict[str, Any]] = {
    "/umbraco/delivery/api/v1/content/item/{id}/variant":
        {"attribute": ["size:m", "colour:forest-green"]},
}

CARTS: dict[tuple[str, str], Callable[[Api, str], Cart]] = {
    ("POST", f"{CHECKOUT}/confirm"): lambda api, db_url: api.initialized(),
}
"""The order a route needs, where an open cart will not do."""

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    params: dict[str, Any]
    body: Any
    names_a_record: bool
    """Whether the path names a record of the demo store (a foreign store must not find it)."""
    marks: frozenset[str]
    """What of the demo store a foreign store's answer must not show."""


def request_for(endpoint: Endpoint, api: Api, world: World, db_url: str) -> Request:
    key = (endpoint.method, endpoint.path)
    cart = None
    if "{orderId}" in endpoint.path:
        cart = CARTS.get(key, lambda api, db_url: api.cart())(api, db_url)
    names_a_record = False

    def value(match: re.Match[str]) -> str:
        nonlocal names_a_record
        name, before = match.group(1), endpoint.path[:match.start()]
        if name == "customerReferenceOrEmail":
            return CUSTOMER["email"]
        if name == "operation":
            return "capture"
        names_a_record = True
        if cart is not None and name == "orderId":
            return cart.order_id
        if cart is not None and name == "bundleId":
            return cart.bundle_id
        if cart is not None and name == "orderLineId":
            return cart.bundle_item_id if "{bundleId}" in endpoint.path else cart.line_id
        if name == "idOrAlias":
            return world.by_segment[before.rstrip("/").rsplit("/", 1)[-1]]
        if name == "countryIdOrAlias":
            return world.country_id
        if name == "regionIdOrAlias":
            return world.region_id
        if name == "id" and "/content/item/" in before:
            return world.product_id
        raise LookupError(f"no plausible value for {{{name}}}: teach the sweep one")

    url = _PARAM.sub(value, endpoint.path)
    body = BODIES[key](cart or NO_CART) if key in BODIES else None
    marks = {world.store_id, SURNAME, world.finalized_order_id}
    if cart is not None:
        marks |= cart.ids
    return Request(endpoint.method, url, QUERIES.get(endpoint.path, {}), body, names_a_record,
                   frozenset(m for m in marks if m not in url))


def send(client: TestClient, request: Request, headers: dict[str, str]) -> httpx.Response:
    kwargs: dict[str, Any] = {"params": request.params, "headers": headers}
    if request.body is not None:
        kwargs["json"] = request.body
    return client.request(request.method, request.url, **kwargs)


def refused(response: httpx.Response, status: int, headers: dict[str, str]) -> None:
    """A problem document of ``status``; the failure names the headers sent."""
    sent = {k: ("<right key>" if v == API_KEY else v) for k, v in headers.items()}
    assert response.status_code == status, (
        f"{response.status_code} instead of {status} with {sent}: {response.text[:200]}")
    assert response.headers["content-type"].startswith(PROBLEM_JSON), sent
    assert response.json()["status"] == status, sent


def refused_without_the_key(client: TestClient, request: Request) -> None:
    for headers in ({"Store": "demo"}, {}, {"Api-Key": WRONG_KEY, "Store": "demo"},
                    {"Api-Key": "", "Store": "demo"}):
        response = send(client, request, headers)
        refused(response, 401, headers)
        assert WRONG_KEY not in response.text, "the key sent is echoed back"


def refused_to_another_store(client: TestClient, request: Request) -> None:
    headers = {"Api-Key": API_KEY, "Store": "other"}
    response = send(client, request, headers)
    if request.names_a_record:
        refused(response, 404, headers)
    shown = [mark for mark in request.marks if mark in response.text]
    assert not shown, f"with Store: other, the demo store's {shown} show: {response.text[:200]}"


# --- fixtures ---------------------------------------------------------------------------------


def import_other_store(db_url: str) -> None:
    """The demo store file again, as a second store with the alias ``other``."""
    data = copy.deepcopy(read_config_file(DEMO_STORE_FILE).data)
    data["store"]["alias"] = "other"
    data["store"]["name"] = "Other Outfitters"

    async def run() -> None:
        db = Database.from_url(db_url)
        try:
            await import_store(SqlStorage(db), data)
        finally:
            await db.dispose()

    asyncio.run(run())


@pytest.fixture
def sweep(demo_db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """The app with every route it can serve (the test gateway too), over two stores;
    requests carry only the headers a test gives them."""
    import_other_store(demo_db_url)
    app = create_app(make_settings(demo_db_url, tmp_path, test_gateway=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, demo_db_url


# --- the sweep --------------------------------------------------------------------------------


def test_every_public_route_is_still_served(sweep: tuple[TestClient, str]) -> None:
    client, _ = sweep
    endpoints = list(served(list(client.app.routes)))  # type: ignore[attr-defined]
    paths = {e.path for e in endpoints} | {e.mount for e in endpoints if e.mount}
    gone = sorted(set(PUBLIC) - paths)
    assert not gone, f"PUBLIC names routes no longer served: {gone}"
    probed_paths = {e.path for e in probed(client.app)}  # type: ignore[arg-type]
    gone = sorted(set(NOT_STORE_SCOPED) - probed_paths)
    assert not gone, f"NOT_STORE_SCOPED names routes not probed: {gone}"
    # the cart read is probed, whatever PUBLIC says
    assert ("GET", ORDER) in {(e.method, e.path) for e in probed(client.app)}  # type: ignore[arg-type]


def test_every_route_refuses_callers_without_the_key_or_of_another_store(
        sweep: tuple[TestClient, str]) -> None:
    client, db_url = sweep
    api = Api(client)
    world = api.world(db_url)
    endpoints = probed(client.app)  # type: ignore[arg-type]
    assert len(endpoints) >= 40, endpoints
    failures: list[str] = []
    for endpoint in endpoints:
        where = f"{endpoint.method} {endpoint.path}"
        try:
            request = request_for(endpoint, api, world, db_url)
            refused_without_the_key(client, request)
            if endpoint.path not in NOT_STORE_SCOPED:
                refused_to_another_store(client, request)
            # the same request with the key succeeds: the refusals above were the checks'
            answer = send(client, request, {"Api-Key": API_KEY, "Store": "demo"})
            assert 200 <= answer.status_code < 300, (
                f"with the key: {answer.status_code} {answer.text[:300]} (teach the sweep "
                "this route's body, query or order)")
        except (AssertionError, LookupError) as failure:
            failures.append(f"{where}: {str(failure)[:400]}")
    assert not failures, "\n".join(failures)


def test_a_checkout_token_is_not_issued_for_another_stores_order(
        sweep: tuple[TestClient, str]) -> None:
    """The keyless token endpoint still reads Store: another store does not find the order."""
    client, _ = sweep
    cart = Api(client).cart()
    url = f"{BASE}/v1/checkout/{cart.order_id}/token"
    response = client.get(url, headers={"Store": "other"})
    refused(response, 404, {"Store": "other"})
    assert SURNAME not in response.text
    assert client.get(url, headers={"Store": "demo"}).status_code == 200
