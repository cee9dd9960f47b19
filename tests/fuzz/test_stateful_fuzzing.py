"""Stateful fuzzing: schemathesis chains calls along the links of kasse's OpenAPI document
(``kasse.api.openapi_links``: an order's answer to the operations on that order and its
first line, an added bundle to its items, a checkout to its order, a token to its pay
page, a list to its first item), so that generated requests reach real carts, lines,
bundles and checkouts instead of 404s.

Every response passes the checks of the stateless fuzzing (``test_contract_fuzzing``): no
5xx; statuses, content types, headers and bodies as declared; errors as problem
documents. The server is healthy afterwards, with nothing unhandled in its log.

What the fuzzer is told, and why:
- Generated data is positive only, and speaks the demo store's language: its product
  references, currencies, countries, method aliases and codes stand in for free text
  where kasse looks a value up, and free text is printable. Refusing everything else is
  what the stateless fuzzing and ``tests/api/test_robustness.py`` test; here the point is
  to get deep.
- Links carry what a storefront takes from an answer besides ids: the amount it
  confirms, the lines it changes (``LINK_BODIES``).
- Scenarios follow walks (``WALKS``): all of kasse's links from a new cart; the links of
  a checkout; the links of bundles; the catalog's. Each starts where no id is needed and
  has a fixed budget, with a fixed seed.

The test counts the answers per operation and asserts a floor: nine in ten of the
operations that can (``NO_2XX_EXPECTED`` names the few that cannot, and why) answered a
2xx at least once, every step of a storefront's ``JOURNEY`` among them, and six in ten
requests in all. The figures are written to ``test-artifacts/fuzzing/stateful-report.txt``.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.generation import GenerationMode
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.generation.stateful.state_machine import normalize_name
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import API_KEY
from tests.fuzz.test_contract_fuzzing import (
    ARTIFACTS,
    _drop_fields_and_alias,
    _healthy,
    server,  # noqa: F401 (the fixture: a kasse server of its own for this module)
)

SEED = 20261127

# --- the demo store's language ----------------------------------------------------------------

PRINTABLE = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9 .-]{0,19}$"}
UUID = {"type": "string", "format": "uuid"}
DEMO = {
    "products": ["trail-backpack", "water-bottle", "trail-map", "guide-book",
                 "trekking-poles", "camp-mug", "first-aid-kit"],  # in stock, no variants
    "countries": ["DE", "FR", "GB", "US"],
    "regions": ["CA", "NY", "TX"],
    "currencies": ["EUR", "USD", "GBP"],
    "languages": ["*", "de-DE", "en-GB", "en-US", "fr-FR"],
    "tax classes": ["standard", "reduced", "exempt"],
    "payment methods": ["invoicing", "card"],
    "shipping methods": ["standard", "express", "courier"],
    "codes": ["WELCOME10", "FREESHIP", "GIFT-DEMO-25"],
}


def one_of(values: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": values}


def optional(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def list_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": schema, "maxItems": 3}


STRINGS = {"type": "object", "additionalProperties": PRINTABLE, "maxProperties": 3,
           "propertyNames": {"pattern": "^[a-z][A-Za-z]{0,11}$"}}

PARAMETERS: dict[str, dict[str, Any]] = {
    "Currency": one_of(DEMO["currencies"]),
    "Billing-Country": one_of(DEMO["countries"]),
    "Shipping-Country": one_of(DEMO["countries"]),
    "Tax-Class": one_of(DEMO["tax classes"]),
    "Accept-Language": one_of(DEMO["languages"]),
    "LanguageIsoCode": one_of(DEMO["languages"]),
    "Customer-Reference": PRINTABLE,
    "Current-Order": UUID,
    "Origin": one_of(["https://shop.example"]),
    "Mode": one_of(["Redirect", "Framed"]),
    "expand": one_of(["$prices", "$all", "paymentInfo[country,paymentMethod]"]),
    "filter": one_of([f"allowedInCountry:{code}" for code in DEMO["countries"]]),
    "productReference": list_of(one_of(DEMO["products"])),
    "AdjustedPriceCalculationDiscountCodes": list_of(one_of(DEMO["codes"])),
    "AdjustedPriceCalculationQuantity": {"type": "integer", "minimum": 1, "maximum": 5},
    "take": {"type": "integer", "minimum": 1, "maximum": 100},
    "skip": {"type": "integer", "minimum": 0, "maximum": 20},
    "q": PRINTABLE,
    "countryIdOrAlias": one_of(["US"]),
    "regionIdOrAlias": one_of(DEMO["regions"]),
    "bundleId": UUID,
    "customerReferenceOrEmail": PRINTABLE,
}
"""Query, header and path parameters, by name."""

BY_SEGMENT = {"store": ["demo"], "country": DEMO["countries"],
              "currency": DEMO["currencies"], "paymentmethod": DEMO["payment methods"],
              "shippingmethod": DEMO["shipping methods"]}
"""``{idOrAlias}`` by the path segment before it."""

UNSENT = {"Billing-Region", "Shipping-Region"}
"""Not sent: a region header needs a country header naming the region's country."""

PROPERTIES: dict[str, dict[str, Any]] = {
    "productReference": one_of(DEMO["products"]),
    "productVariantReference": {"type": "null"},
    "quantity": {"type": "integer", "minimum": 1, "maximum": 3},
    "quantityIncrement": optional({"type": "integer", "minimum": 1, "maximum": 2}),
    "quantityDecrement": optional({"type": "integer", "minimum": 1, "maximum": 2}),
    "bundleId": optional(UUID),
    "properties": optional(STRINGS),
    "metaData": optional(STRINGS),
    "taxClass": optional(one_of(DEMO["tax classes"])),
    "currency": optional(one_of(DEMO["currencies"])),
    "language": optional(one_of(DEMO["languages"][1:])),
    "customerReference": optional(PRINTABLE),
    "country": optional(one_of(DEMO["countries"])),
    "region": {"type": "null"},
    "email": optional(one_of(["erika@example.com", "ada@example.org"])),
    "shippingMethod": optional(one_of(DEMO["shipping methods"])),
    "shippingOption": {"type": "null"},
    "paymentMethod": optional(one_of(DEMO["payment methods"])),
    "redeem": optional(list_of(one_of(DEMO["codes"]))),
    "unredeem": optional(list_of(one_of(DEMO["codes"]))),
    "tags": optional(list_of(PRINTABLE)),
    "transactionId": PRINTABLE,
    "paymentStatus": one_of(["Authorized", "Captured", "PendingExternalSystem"]),
    "fee": {"type": "null"},
    **{name: optional(PRINTABLE) for name in (
        "firstName", "lastName", "company", "telephone", "mobile", "taxCode", "line1",
        "line2", "city", "zipCode")},
}
"""Request body properties, by name."""

LINK_BODIES = {
    "order.confirm": {"amount": "$response.body#/transactionAmount/value/value"},
    "order.updateOrderLines": [{"id": "$response.body#/orderLines/0/id", "quantity": 2}],
    "bundle.updateBundleOrderLines": [
        {"id": "$response.body#/orderLines/0/orderLines/0/id", "quantity": 2}],
}
"""Bodies the links carry: the amount a storefront confirms, the lines it changes."""


def speak_the_demo_store(document: dict[str, Any]) -> None:
    """Narrow the document's free text to what the demo store knows (see the module)."""
    for path, item in document["paths"].items():
        for operation in item.values():
            parameters = []
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                if name in UNSENT:
                    continue
                if name == "idOrAlias":
                    segment = path.split("/{idOrAlias}")[0].rsplit("/", 1)[-1]
                    parameter["schema"] = one_of(BY_SEGMENT[segment])
                elif name in PARAMETERS:
                    parameter["schema"] = PARAMETERS[name]
                if name == "Origin":  # a Framed checkout needs it
                    parameter["required"] = True
                parameters.append(parameter)
            operation["parameters"] = parameters
            body = operation.get("requestBody", {}).get("content", {}).get(
                "application/json", {}).get("schema", {})
            if body.get("type") == "array":  # the lines to change: at least one
                body["minItems"] = 1
    schemas = document["components"]["schemas"]
    for name, schema in schemas.items():
        if name.endswith("RequestDto"):
            schema["additionalProperties"] = False  # unknown fields: test_robustness
            for prop in schema.get("properties", {}):
                if prop in PROPERTIES:
                    schema["properties"][prop] = PROPERTIES[prop]
    add = schemas["AddProductRequestDto"]
    add["required"] = [*add["required"], "bundleId"]  # null or an id: half are bundles
    into_bundle = copy.deepcopy(add)  # an item of a bundle is no bundle itself
    into_bundle["properties"]["bundleId"] = {"type": "null"}
    body_of(document, "addProductToBundle")["schema"] = into_bundle
    update = schemas["UpdateOrderRequestDto"]
    update["required"] = ["paymentMethod"]  # a checkout needs one
    # invoicing: a card payment's inline confirm is checked with the test gateway, which
    # knows no made-up transaction
    update["properties"]["paymentMethod"] = one_of(["invoicing"])
    links = document["components"]["links"]
    for name, link_body in LINK_BODIES.items():
        links[name]["requestBody"] = link_body
        if isinstance(link_body, list):
            links[name]["x-schemathesis"] = {"merge_body": False}
    for name, link in links.items():
        if name.startswith("region."):  # the first country has no regions; US has
            del link["parameters"]["path.countryIdOrAlias"]


def body_of(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    """The JSON request body of an operation."""
    for item in document["paths"].values():
        for operation in item.values():
            if operation["operationId"] == operation_id:
                body: dict[str, Any] = operation["requestBody"]["content"]["application/json"]
                return body
    raise LookupError(operation_id)


# --- the walks --------------------------------------------------------------------------------

Links = dict[str, tuple[str, ...]]
"""Link names (``components/links``) to follow, by source operation."""

FOLLOWED_SELDOM = {"order.deleteOrder": ("createOrder",)}
"""Links followed from these sources only, not from every answer holding the order: a
deleted cart ends the rest of its scenario."""

CHECKOUT_LINKS: Links = {
    "createOrder": ("order.addProductToOrder",),
    "addProductToOrder": ("order.addProductToOrder", "order.updateOrderLine",
                          "order.updateOrderLines", "order.updateOrder"),
    "updateOrder": ("order.initialize", "order.token"),
    "initialize": ("about.getOrderById",),
    "getOrderById": ("order.confirm",),
    "token": ("token.pay",),
}
"""A storefront's checkout: products and their quantities, the shopper's details (a
payment method among them), then inline (initialize, read the order, confirm its amount)
or hosted (token, pay page)."""

BUNDLE_OPERATIONS = ("addProductToBundle", "updateBundleOrderLine", "deleteBundleOrderLine",
                     "updateBundleOrderLines", "deleteAllBundleOrderLines")
BUNDLE_LINKS: Links = {
    "createOrder": ("order.addProductToOrder",),
    "addProductToOrder": tuple(f"newBundle.{op}" for op in BUNDLE_OPERATIONS),
    **{source: tuple(f"bundle.{op}" for op in BUNDLE_OPERATIONS)
       for source in BUNDLE_OPERATIONS},
}
"""A bundle added to a new cart (its first line), then its items added, changed, removed."""

CATALOG_LISTS = ("searchCountries", "searchCurrencies", "searchPaymentMethods",
                 "searchPaymentMethodsV2", "searchShippingMethods", "searchShippingMethodsV2")


def every_product_a_bundle(document: dict[str, Any]) -> None:
    add = copy.deepcopy(document["components"]["schemas"]["AddProductRequestDto"])
    add["properties"]["bundleId"] = UUID
    body_of(document, "addProductToOrder")["schema"] = add


@dataclass(frozen=True)
class Walk:
    """Scenarios starting with one of ``starts`` (where no id is needed: an id made up for a
    first call names nothing), following ``links`` (``None``: all of kasse's)."""

    starts: tuple[str, ...]
    links: Links | None
    scenarios: int
    steps: int
    """At most this many calls per scenario."""
    adjust: Callable[[dict[str, Any]], None] | None = None
    """A change to the document for this walk only."""


WALKS = {
    "carts": Walk(("createOrder",), None, scenarios=15, steps=30),
    "checkouts": Walk(("createOrder",), CHECKOUT_LINKS, scenarios=20, steps=16),
    "bundles": Walk(("createOrder",), BUNDLE_LINKS, scenarios=15, steps=12,
                    adjust=every_product_a_bundle),
    "catalog": Walk(CATALOG_LISTS, None, scenarios=10, steps=15),
}
"""The budget: at most 15 x 30 + 20 x 16 + 15 x 12 + 10 x 15 = 1,100 calls."""

JOURNEY = ("createOrder", "addProductToOrder", "updateOrderLine", "updateOrder", "initialize",
           "getOrderById", "confirm", "token", "pay")
"""A storefront's way to a placed order: each must have answered a 2xx."""

NO_2XX_EXPECTED = {
    "paymentCallback": "a gateway's notification: only a signed one is taken",
    "paymentCallbackForOrder": "a gateway's notification: only a signed one is taken",
    "createClientPayment": "needs an inline checkout with a gateway that creates payments",
    "getVariant": "no answer links to a product's id (the stateless fuzzing reaches it)",
}


def follow(document: dict[str, Any], walk: Walk) -> None:
    """Keep the links ``walk`` follows."""
    for item in document["paths"].values():
        for operation in item.values():
            source = operation["operationId"]
            ok = operation["responses"].get("200", {})
            links = ok.get("links", {})
            if walk.links is not None:
                kept = walk.links.get(source, ())
                ok["links"] = {name: link for name, link in links.items() if name in kept}
            for name, sources in FOLLOWED_SELDOM.items():
                if source not in sources:
                    links.pop(name, None)


# --- running them -----------------------------------------------------------------------------


class Tally:
    """Answers per operation and status class."""

    def __init__(self) -> None:
        self.answers: dict[str, Counter[int]] = defaultdict(Counter)

    def add(self, operation: str, status: int) -> None:
        self.answers[operation][status // 100] += 1

    def succeeded(self, operation: str) -> int:
        return self.answers[operation][2]

    def report(self, operations: list[str]) -> str:
        total = sum(sum(c.values()) for c in self.answers.values())
        ok = sum(c[2] for c in self.answers.values())
        reached = [op for op in operations if self.succeeded(op)]
        lines = [f"{len(reached)} of {len(operations)} operations answered a 2xx; "
                 f"{ok} of {total} requests were 2xx ({ok / max(total, 1):.0%})"]
        for op in operations:
            counts = self.answers.get(op, Counter())
            lines.append(f"  {op:48} " + " ".join(
                f"{status}xx:{counts[status]}" for status in sorted(counts)))
        return "\n".join(lines)


def state_machine(url: str, document: dict[str, Any], walk: Walk) -> type[Any]:
    """The state machine schemathesis builds from ``document`` for ``walk``."""
    document = copy.deepcopy(document)
    if walk.adjust is not None:
        walk.adjust(document)
    follow(document, walk)
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=url, headers={"Api-Key": API_KEY, "Store": "demo"})
    schema.config.generation.update(modes=[GenerationMode.POSITIVE], allow_x00=False)
    schema.config.phases.stateful.inference.algorithms = []  # kasse's own links only
    machine: type[Any] = schema.as_state_machine()
    return machine


def explore(machine: type[Any], walk: Walk, tally: Tally, by_label: dict[str, str]) -> None:
    """Run ``walk``'s scenarios; every response is checked, and counted in ``tally``."""

    class Walker(machine):  # type: ignore[misc,valid-type]
        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            tally.add(by_label[case.operation.label], response.status_code)

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            # As the stateless fuzzing: every check but "schema-valid data is accepted"
            # (a valid string can name nothing the store knows).
            case.validate_response(response, excluded_checks=[positive_data_acceptance],
                                   transport_kwargs=kwargs or None, recorder=self.recorder)

    starts = {normalize_name(f"RANDOM -> {label}") for label, op in by_label.items()
              if op in walk.starts}
    for name in machine.root_rules - starts:  # the walk does not start there
        setattr(Walker, name, None)
    run_state_machine_as_test(hypothesis.seed(SEED)(Walker), settings=hypothesis.settings(
        max_examples=walk.scenarios, stateful_step_count=walk.steps, deadline=None,
        database=None, phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck)))


@pytest.fixture(scope="module")
def document(server: tuple[str, Path]) -> dict[str, Any]:  # noqa: F811
    """kasse's own document, speaking the demo store's language."""
    url, _ = server
    served: dict[str, Any] = httpx.get(f"{url}/openapi.json", timeout=30).json()
    _drop_fields_and_alias(served)
    speak_the_demo_store(served)
    return served


def test_stateful_fuzzing_reaches_carts_lines_bundles_and_checkouts(
        server: tuple[str, Path], document: dict[str, Any]) -> None:  # noqa: F811
    url, log_path = server
    operations = sorted(op["operationId"] for item in document["paths"].values()
                        for op in item.values())
    by_label = {f"{method.upper()} {path}": op["operationId"]
                for path, item in document["paths"].items() for method, op in item.items()}
    tally = Tally()
    try:
        for walk in WALKS.values():
            explore(state_machine(url, document, walk), walk, tally, by_label)
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "stateful-report.txt").write_text(tally.report(operations) + "\n",
                                                      encoding="utf-8")

    assert _healthy(url), "kasse stopped answering after fuzzing"
    unhandled = [line for line in log_path.read_text().splitlines()
                 if "unhandled error" in line or "Traceback" in line]
    assert not unhandled, "\n".join(unhandled[:20])
    assert set(NO_2XX_EXPECTED) <= set(operations), "NO_2XX_EXPECTED names a lost operation"
    report = tally.report(operations)
    reachable = [op for op in operations if op not in NO_2XX_EXPECTED]
    reached = [op for op in reachable if tally.succeeded(op)]
    assert len(reached) >= 0.9 * len(reachable), report
    missed = [op for op in JOURNEY if not tally.succeeded(op)]
    assert not missed, f"no 2xx for {missed}\n{report}"
    total = sum(sum(c.values()) for c in tally.answers.values())
    assert sum(c[2] for c in tally.answers.values()) >= 0.6 * total, report
