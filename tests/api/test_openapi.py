"""The served OpenAPI document (``kasse openapi``) against the reference contract.

``reference_contract.json`` holds the facts of the reference's operations that kasse
serves so far (method, path, operation id, parameters, response codes, DTO names), so these
tests need nothing outside the repository.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = Path(__file__).resolve().parent / "reference_contract.json"
DTOS = ["CountryDto", "CurrencyDto", "StoreDto", "PaymentMethodV2Dto", "ShippingMethodV2Dto",
        "ProductDto", "PriceDto", "OrderDto", "OrderLineDto", "AddProductRequestDto",
        "UpdateOrderRequestDto", "CreateOrderRequestDto", "UpdateOrderLineWithIdRequestDto"]

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "kasse", "openapi"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"kasse openapi failed:\n{result.stderr}"
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def contract_operations() -> list[Operation]:
    """(method, path, operation) of every operation the contract table lists."""
    contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
    found = []
    for op in contract["operations"]:
        operation = {
            "tags": op["tags"], "deprecated": op["deprecated"], "operationId": op["operationId"],
            "responses": {code: ({"$ref": f"#/components/schemas/{op['okSchemas'][0]}"}
                                 if code == "200" and op["okSchemas"] else {})
                          for code in op["responses"]},
            "parameters": [{"in": p["in"], "name": p["name"], "required": p["required"],
                            "schema": {"type": p["type"], "items": {"type": p["items"]}}
                            if p["items"] else {"type": p["type"]}}
                           for p in op["parameters"]],
        }
        found.append((op["method"], op["path"], operation))
    tags = {tag for _, _, op in found for tag in op["tags"]}
    assert tags >= {"Store", "Country", "Currency", "Payment Method", "Shipping Method",
                    "Product", "Order", "Customer"}
    return found


def served_operation(served: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    operation: dict[str, Any] | None = served["paths"].get(path, {}).get(method)
    return operation


def parameters(operation: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["in"], p["name"]): p for p in operation.get("parameters", [])}


def base_type(schema: dict[str, Any]) -> tuple[str | None, str | None]:
    """(type, item type) of a parameter schema, looking through ``anyOf [X, null]``."""
    options = schema.get("anyOf") or schema.get("oneOf") or [schema]
    for option in options:
        if option.get("type") not in (None, "null"):
            return option["type"], option.get("items", {}).get("type")
    return None, None


def name(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def served_pairs(served: dict[str, Any], problems: list[str]
                 ) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """Each contract operation with the served one; a missing one is recorded as a problem."""
    for method, path, ref_op in contract_operations():
        ours = served_operation(served, method, path)
        if ours is None:
            problems.append(f"{name(method, path)}: not served")
        else:
            yield method, path, ref_op, ours


def test_every_listed_operation_of_the_reference_is_served(
        served: dict[str, Any]) -> None:
    missing = [name(m, p) for m, p, _ in contract_operations()
               if served_operation(served, m, p) is None]
    assert not missing, "not served:\n" + "\n".join(missing)
    assert len(contract_operations()) >= 33


def test_operation_ids_are_the_references(served: dict[str, Any]) -> None:
    """The reference's ids, except where it gives two operations the same id: kasse keeps
    ids unique so generated clients compile."""
    ref_ids = [op["operationId"] for _, _, op in contract_operations()]
    problems = []
    for method, path, ref_op, ours in served_pairs(served, problems):
        if ref_ids.count(ref_op["operationId"]) > 1:
            continue
        if ours.get("operationId") != ref_op["operationId"]:
            problems.append(f"{name(method, path)}: operationId {ours.get('operationId')}, "
                            f"reference {ref_op['operationId']}")
    assert not problems, "\n".join(problems)
    served_ids = [op.get("operationId") for item in served["paths"].values()
                  for op in item.values()]
    assert len(served_ids) == len(set(served_ids))


def test_parameters_are_declared_as_in_the_reference(
        served: dict[str, Any]) -> None:
    problems = []
    for method, path, ref_op, ours in served_pairs(served, problems):
        declared = parameters(ours)
        for (where, param_name), ref_param in parameters(ref_op).items():
            label = f"{name(method, path)} {where} {param_name}"
            param = declared.get((where, param_name))
            if param is None:
                problems.append(f"{label}: missing")
                continue
            if bool(param.get("required")) != bool(ref_param.get("required")):
                problems.append(f"{label}: required={param.get('required')}, reference "
                                f"says {ref_param.get('required')}")
            ref_type, ref_items = base_type(ref_param.get("schema", {}))
            our_type, our_items = base_type(param.get("schema", {}))
            # a repeatable query parameter (array of X) still accepts a single X
            if ref_type and our_type != ref_type and not (
                    where == "query" and our_type == "array" and our_items == ref_type):
                problems.append(f"{label}: type {our_type}, reference says {ref_type}")
            if ref_items and our_items != ref_items:
                problems.append(f"{label}: items {our_items}, reference says {ref_items}")
    assert not problems, "\n".join(problems)


def test_api_key_and_store_headers_are_required(
        served: dict[str, Any]) -> None:
    problems = []
    store_checked = 0
    for method, path, ref_op, ours in served_pairs(served, problems):
        declared = parameters(ours)
        wanted = ["Api-Key"]
        if ("header", "Store") in parameters(ref_op):  # the store read names it in the path
            wanted.append("Store")
            store_checked += 1
        for header in wanted:
            if not declared.get(("header", header), {}).get("required"):
                problems.append(f"{name(method, path)}: header {header} is not required")
    assert not problems, "\n".join(problems)
    assert store_checked > 0


def schema_names(value: Any) -> set[str]:
    return set(re.findall(r"#/components/schemas/([A-Za-z0-9_]+)", json.dumps(value)))


def test_responses_are_declared_as_in_the_reference(
        served: dict[str, Any]) -> None:
    """Same DTO for 200, same deprecation, and every status the reference lists.

    A client generated from the served document must know, for example, that a list read
    answers 404 (it does, for an unknown Store header).
    """
    problems = []
    for method, path, ref_op, ours in served_pairs(served, problems):
        label = name(method, path)
        ref_ok = schema_names(ref_op["responses"].get("200"))
        our_ok = schema_names(ours["responses"].get("200"))
        if not ref_ok <= our_ok:
            problems.append(f"{label}: 200 returns {sorted(our_ok)}, reference {sorted(ref_ok)}")
        if bool(ours.get("deprecated")) != bool(ref_op.get("deprecated")):
            problems.append(f"{label}: deprecated={ours.get('deprecated')}, reference says "
                            f"{ref_op.get('deprecated')}")
        undeclared = sorted(set(ref_op["responses"]) - set(ours["responses"]))
        if undeclared:
            problems.append(f"{label}: does not declare responses {undeclared}")
    assert not problems, "\n".join(problems)


def test_dto_schemas_are_published(served: dict[str, Any]) -> None:
    schemas = served.get("components", {}).get("schemas", {})
    missing = [dto for dto in DTOS if dto not in schemas]
    assert not missing, f"components.schemas lacks {missing}"
    assert "price" not in schemas["PaymentMethodV2Dto"].get("properties", {})
    assert "price" not in schemas["ShippingMethodV2Dto"].get("properties", {})
    assert {"withoutTax", "tax", "withTax", "formatted"} <= set(
        schemas["PriceDto"].get("properties", {}))


def test_the_payment_callbacks_are_declared_as_served(served: dict[str, Any]) -> None:
    """Gateways POST to the callback; a storefront GETs ``{urls.callback}?create=KIND`` (the
    callback with the order id after it): the only GET served there."""
    base = "/umbraco/commerce/payment/callback/{providerAlias}/{paymentMethodId}"
    assert set(served["paths"][base]) == {"post"}
    for_order = served["paths"][f"{base}/{{orderId}}"]
    assert set(for_order) == {"get", "post"}
    create = parameters(for_order["get"])[("query", "create")]
    assert create["required"] is True
    assert "429" in for_order["get"]["responses"]  # browsers asking too often
    assert "429" not in for_order["post"]["responses"]  # gateways are never limited


def test_links_lead_from_answers_to_real_operations_and_parameters(
        served: dict[str, Any]) -> None:
    """Links say which ids of an answer the next calls take: each names a served operation
    and its real parameters; a new cart leads to the operations on it, an added product to
    its line and bundle, a token to its pay page."""
    operations = {op["operationId"]: op for item in served["paths"].values()
                  for op in item.values()}
    defined = served["components"]["links"]
    for name, link in defined.items():
        target = operations[link["operationId"]]
        for qualified in link["parameters"]:
            location, _, param = qualified.partition(".")
            assert (location, param) in parameters(target), f"{name}: no {qualified}"

    def followed(operation_id: str) -> dict[str, str]:
        links = operations[operation_id]["responses"]["200"]["links"]
        for link in links.values():
            assert link["$ref"].removeprefix("#/components/links/") in defined
        return {defined[ref["$ref"].rsplit("/", 1)[-1]]["operationId"]: name
                for name, ref in links.items()}

    from_cart = followed("createOrder")
    assert {"getOrderById", "addProductToOrder", "updateOrder", "deleteOrder", "initialize",
            "confirm", "token", "getValidPaymentMethodsByOrderId"} <= set(from_cart)
    assert "updateOrderLine" not in from_cart  # a new cart has no lines
    from_added = followed("addProductToOrder")
    assert {"updateOrderLine", "deleteOrderLine", "addProductToBundle",
            "deleteBundleOrderLine"} <= set(from_added)
    bundle = defined[from_added["addProductToBundle"]]
    assert bundle["parameters"]["path.bundleId"] == "$request.body#/bundleId"
    assert followed("token")["pay"] == "token.pay"
    assert "getOrderById" in followed("initialize")
    assert "getCountryByIdOrAlias" in followed("searchCountries")
