"""OpenAPI links in kasse's document: which answer's ids the next calls take.

An answer holding an order leads to the operations on that order, its first line, its
store and currency, its customer's orders and its first line's product; the answer to
adding a product with a ``bundleId``, or to an operation on a bundle, leads to the
operations on that bundle; any other operation on an order (a checkout's) to reading that
order. A list leads to reading its first item, a country to its first region, a checkout
token to its pay page. Client generators and stateful testers follow them.

Each link is defined once under ``components/links``; responses refer to it.
"""

from __future__ import annotations

from typing import Any

from kasse.api.deps import PREFIX

ORDER_SCHEMA = "#/components/schemas/OrderDto"
ID = "$response.body#/id"
FIRST_LINE = "$response.body#/orderLines/0/id"
FIRST_LINE_FIRST_ITEM = "$response.body#/orderLines/0/orderLines/0/id"
FIRST_ITEM = "$response.body#/0/id"
ORDER_PARAMETERS = {"orderId", "orderLineId", "bundleId"}
NO_LINES = {"createOrder", "deleteAllOrderLines"}
"""Operations whose answer is an order without lines."""

LIST_ITEMS = {
    "searchCountries": ("getCountryByIdOrAlias", "getCurrenciesByCountryIdOrAlias",
                        "getPaymentMethodsByCountryIdOrAlias",
                        "getShippingMethodsByCountryIdOrAlias"),
    "searchCurrencies": ("getCurrencyByIdOrAlias",),
    "searchPaymentMethods": ("getPaymentMethodByIdOrAlias", "getPaymentMethodByIdOrAliasV2"),
    "searchPaymentMethodsV2": ("getPaymentMethodByIdOrAlias", "getPaymentMethodByIdOrAliasV2"),
    "searchShippingMethods": ("getShippingMethodByIdOrAlias", "getShippingMethodByIdOrAliasV2"),
    "searchShippingMethodsV2": ("getShippingMethodByIdOrAlias",
                                "getShippingMethodByIdOrAliasV2"),
}
"""A list operation, and the operations that read one of its items by id."""
REGION_OPERATIONS = ("getPaymentMethodsByCountryAndRegionIdOrAlias",
                     "getShippingMethodsByCountryAndRegionIdOrAlias")
ORDER_RELATED = {
    "getProducts": ("query", "productReference", "$response.body#/orderLines/0/productReference",
                    "The product of the order's first line"),
    "getStoreByIdOrAlias": ("path", "idOrAlias", "$response.body#/store/id",
                            "The order's store"),
    "getCurrencyByIdOrAlias": ("path", "idOrAlias", "$response.body#/currency/id",
                               "The order's currency"),
    "getCustomerOrders": ("path", "customerReferenceOrEmail",
                          "$response.body#/customerInfo/email",
                          "The finalized orders of the order's customer"),
}
"""Operations an order's answer leads to beyond the order: (location, parameter,
expression, description)."""

Operation = dict[str, Any]


class _Links:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.operations: dict[str, tuple[str, Operation]] = {
            operation["operationId"]: (path, operation)
            for path, item in schema.get("paths", {}).items() for operation in item.values()
            if "operationId" in operation}
        self.deleting = {operation["operationId"] for item in schema.get("paths", {}).values()
                         for method, operation in item.items()
                         if method == "delete" and "operationId" in operation}
        self.defined: dict[str, dict[str, Any]] = {}

    def add(self, source: str, name: str, target: str, parameters: dict[str, str],
            description: str) -> None:
        """``parameters``: ``location.name`` to a runtime expression."""
        if source not in self.operations or target not in self.operations:
            return
        self.defined.setdefault(name, {"operationId": target, "parameters": parameters,
                                       "description": description})
        ok = self.operations[source][1].get("responses", {}).get("200")
        if ok is not None:
            ok.setdefault("links", {})[name] = {"$ref": f"#/components/links/{name}"}

    def order_sources(self) -> list[str]:
        return [op_id for op_id, (_, operation) in self.operations.items()
                if _answers(operation, ORDER_SCHEMA)]

    def order_targets(self) -> list[tuple[str, set[str]]]:
        """Operations on an order (its id in the path; maybe a line and a bundle too)."""
        found = []
        for op_id, (path, operation) in self.operations.items():
            params = _path_parameters(operation)
            if path.startswith(PREFIX) and "orderId" in params and params <= ORDER_PARAMETERS:
                found.append((op_id, params))
        return found

    def bundle_source(self, source: str) -> tuple[str, str] | None:
        """(flavour, expression) naming the bundle a source's request was about, if any."""
        path, operation = self.operations[source]
        if "bundleId" in _path_parameters(operation):
            return "bundle", "$request.path.bundleId"
        if "bundleId" in self._body_properties(operation):
            return "newBundle", "$request.body#/bundleId"
        return None

    def _body_properties(self, operation: Operation) -> set[str]:
        content = operation.get("requestBody", {}).get("content", {})
        ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
        body = self.schema.get("components", {}).get("schemas", {}).get(
            ref.rsplit("/", 1)[-1], {})
        return set(body.get("properties", {}))


def add_links(schema: dict[str, Any]) -> None:
    """Add the links (see the module) to ``schema``, an OpenAPI document."""
    links = _Links(schema)
    for source in links.order_sources():
        bundle = links.bundle_source(source)
        for target, params in links.order_targets():
            parameters = {"path.orderId": ID}
            flavour, description = "order", "The order answered"
            if "bundleId" in params:
                if bundle is None:
                    continue
                flavour, expression = bundle
                parameters["path.bundleId"] = expression
                description = "The bundle the request was about, in the order answered"
            if "orderLineId" in params:
                if source in NO_LINES:
                    continue
                parameters["path.orderLineId"] = (FIRST_LINE_FIRST_ITEM if "bundleId" in params
                                                  else FIRST_LINE)
                description += (" (the first item of its first line)" if "bundleId" in params
                                else " (its first line)")
            links.add(source, f"{flavour}.{target}", target, parameters, description)
        for target, (location, name, expression, description) in ORDER_RELATED.items():
            links.add(source, f"order.{target}", target, {f"{location}.{name}": expression},
                      description)
    for source, _ in links.order_targets():
        if source not in links.order_sources() and source not in links.deleting:
            links.add(source, "about.getOrderById", "getOrderById",
                      {"path.orderId": "$request.path.orderId"},
                      "The order the request was about")
    for source, targets in LIST_ITEMS.items():
        for target in targets:
            links.add(source, f"first.{target}", target, {"path.idOrAlias": FIRST_ITEM},
                      "The first item of the list")
    for target in REGION_OPERATIONS:
        links.add("getCountryByIdOrAlias", f"region.{target}", target,
                  {"path.countryIdOrAlias": ID,
                   "path.regionIdOrAlias": "$response.body#/regions/0/id"},
                  "The country answered and its first region")
    links.add("token", "token.pay", "pay", {"path.orderId": "$request.path.orderId",
                                             "path.token": "$response.body#/token"},
              "The pay page of the token answered")
    if links.defined:
        schema.setdefault("components", {})["links"] = dict(sorted(links.defined.items()))


def _path_parameters(operation: Operation) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}


def _answers(operation: Operation, schema_ref: str) -> bool:
    ok = operation.get("responses", {}).get("200", {})
    schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref") == schema_ref)
