"""How much of the reference contract kasse's served OpenAPI document covers: every
operation, every parameter, and at least 95 % of the request and response property paths.

Measured here against the copy of the contract kept in the repository. Where the
workplace's own coverage tool is available (beside the checkout, or named by
``KASSE_SPEC_COVERAGE``), it is run as well and must agree.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "contract" / "umbraco-commerce-storefront-openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")
DEPTH = 4


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = subprocess.run([sys.executable, "-m", "kasse", "openapi"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    path = tmp_path_factory.mktemp("contract") / "kasse-openapi.json"
    path.write_text(result.stdout, encoding="utf-8")
    return path


def _key(method: str, path: str) -> tuple[str, str]:
    """Operations are the same when method and path agree; parameter names do not matter."""
    return method, re.sub(r"\{[^}]+\}", "{}", path.rstrip("/")).lower()


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                found[_key(method, path)] = {**item[method], "_shared": item.get("parameters",
                                                                                  [])}
    return found


def _resolve(document: dict[str, Any], schema: Any) -> dict[str, Any]:
    while isinstance(schema, dict) and "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node.get(part, {})
        schema = node
    return schema if isinstance(schema, dict) else {}


def _paths(document: dict[str, Any], schema: Any, prefix: str = "", depth: int = 0
           ) -> Iterator[str]:
    """Every property path a schema declares (through references, unions and arrays)."""
    schema = _resolve(document, schema)
    if depth > DEPTH:
        return
    for union in ("oneOf", "anyOf", "allOf"):
        for option in schema.get(union, []):
            yield from _paths(document, option, prefix, depth)
    if schema.get("type") == "array" or "items" in schema:
        yield from _paths(document, schema.get("items"), f"{prefix}[]", depth)
    for name, sub in schema.get("properties", {}).items():
        if name == "$type":
            continue
        path = f"{prefix}.{name}".lstrip(".").lower()
        yield path
        yield from _paths(document, sub, path, depth + 1)


def _body(document: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema") if content else None
    return set(_paths(document, schema)) if schema else set()


def _response(document: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    json_content = content.get("application/json") or next(iter(content.values()), {})
    schema = json_content.get("schema") if json_content else None
    return set(_paths(document, schema)) if schema else set()


def _parameters(document: dict[str, Any], operation: dict[str, Any]) -> set[tuple[str, str]]:
    declared = set()
    for parameter in [*operation.get("_shared", []), *operation.get("parameters", [])]:
        parameter = _resolve(document, parameter)
        if parameter.get("in") in ("header", "query"):
            declared.add((parameter["in"], parameter["name"].lower()))
    return declared


def test_every_operation_parameter_and_nearly_every_property_is_served(served: Path) -> None:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    ours = json.loads(served.read_text(encoding="utf-8"))
    theirs, mine = _operations(reference), _operations(ours)
    count = sum(1 for item in reference["paths"].values() for m in item if m in METHODS)
    # 42 operations; the payment-link lookup and the order read share one route
    assert count == 42 and len(theirs) == 41

    missing_operations = sorted(f"{m.upper()} {p}" for m, p in set(theirs) - set(mine))
    assert not missing_operations, missing_operations

    missing_parameters, wanted, declared = [], 0, 0
    for key, operation in theirs.items():
        candidate = mine[key]
        lacking = _parameters(reference, operation) - _parameters(ours, candidate)
        missing_parameters += [f"{key[0].upper()} {key[1]}: {where} {name}"
                               for where, name in sorted(lacking)]
        for measure in (_body, _response):
            expected = measure(reference, operation)
            wanted += len(expected)
            declared += len(expected & measure(ours, candidate))
    assert not missing_parameters, missing_parameters
    coverage = 100 * declared / wanted
    assert coverage >= 95, f"property coverage {coverage:.1f} %"

    tool = _workplace_tool()
    if tool is not None:
        _check_with(tool, served)


def _workplace_tool() -> Path | None:
    named = os.environ.get("KASSE_SPEC_COVERAGE")
    candidate = Path(named) if named else ROOT.parent / "shared" / "tools" / "spec_coverage.py"
    return candidate if candidate.is_file() else None


def _check_with(tool: Path, served: Path) -> None:
    """The workplace's own measurement must agree with the one above."""
    result = subprocess.run(
        [sys.executable, str(tool), str(served), "--reference", str(REFERENCE),
         "--min-ops", "42", "--min-props", "95", "--json"],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary["present"] == summary["operations"] == 42
    assert summary["missing_params_on_present_ops"] == 0
    assert summary["property_coverage_pct"] >= 95
