"""Property-based fuzzing of the running server with schemathesis, twice: with kasse's own
OpenAPI document and with the reference contract (valid `Api-Key` and `Store` supplied).

Checks: no 5xx; every status, content type, header and body as declared; errors are
problem documents (declared as the `default` response); unsupported methods answer 405
with a correct `Allow` header; schema-violating requests are refused. The server must
still be healthy afterwards, with no unhandled error in its log.

What is adjusted before fuzzing, and why:
- `fields` is not fuzzed: trimming a response to the fields asked for drops required
  properties by design (tested by hand elsewhere).
- `v1/order/{paymentLinkToken}` is not fuzzed on its own: the contract gives the order
  read's path a second name; fuzzing `v1/order/{orderId}` covers the route.
- Semantically wrong but schema-valid values (an unknown country code in a header) are a
  clear 400 by design, so the "schema-valid request accepted" check is off.
- For the reference document only: its `oneOf` alternatives overlap (a reference object
  is valid under all three), so they are read as `anyOf`; its objects forbid extra
  properties, so the `$type` discriminator the product brief adds is allowed; it declares
  no error bodies and a header as an array, so kasse's problem documents are declared as
  the `default` response and `Umb-Notifications` as the JSON text it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, _fresh
from tests.integration.hosted import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "contract" / "umbraco-commerce-storefront-openapi.json"
ARTIFACTS = ROOT / "test-artifacts" / "fuzzing"
PROBLEM = {"$ref": "#/components/schemas/ProblemDetails"}
PROBLEM_SCHEMA = {"type": "object", "required": ["type", "title", "status"],
                  "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                                 "status": {"type": "integer"}, "detail": {"type": "string"}}}
MAX_EXAMPLES = "20"


@pytest.fixture(scope="module")
def server(_database_templates: dict[str, str], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("fuzz")
    db_url = _fresh(_database_templates, folder, with_demo=True)
    port = free_port()
    env = {**os.environ, "KASSE_DATABASE_URL": db_url, "KASSE_API_KEYS": API_KEY,
           "KASSE_DATA_DIR": str(folder / "data"), "KASSE_LOG_LEVEL": "warning",
           "KASSE_TEST_GATEWAY": "true", "KASSE_PUBLIC_URL": f"http://127.0.0.1:{port}",
           # Thousands of requests from one address: the per-client limit (tested on its
           # own) would answer most of them 429 and hide what the fuzzing is after.
           "KASSE_CHECKOUT_RATE_PER_MINUTE": "0"}
    log_path = folder / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kasse", "serve", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _healthy(url) or None, "kasse to start", timeout=60)
            yield url, log_path
        finally:
            process.terminate()
            process.wait(timeout=30)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _drop_fields_and_alias(document: dict[str, Any]) -> None:
    document["paths"] = {path: item for path, item in document["paths"].items()
                         if "{paymentLinkToken}" not in path}
    for item in document["paths"].values():
        for operation in item.values():
            operation["parameters"] = [p for p in operation.get("parameters", [])
                                       if p.get("name") != "fields"]


def _as_kasse_answers(document: dict[str, Any]) -> None:
    """The reference's defects read the way the product brief decides (see the module)."""
    document.setdefault("components", {}).setdefault("schemas", {})[
        "ProblemDetails"] = PROBLEM_SCHEMA
    for item in document["paths"].values():
        for operation in item.values():
            for code, response in operation.get("responses", {}).items():
                for header in response.get("headers", {}).values():
                    header["schema"] = {"type": "string"}
                if code[0] in "45":
                    response["content"] = {"application/problem+json": {"schema": PROBLEM}}
            operation["responses"]["default"] = {
                "description": "A problem document",
                "content": {"application/problem+json": {"schema": PROBLEM}}}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("additionalProperties") is False and "properties" in node:
                node["properties"].setdefault("$type", {"type": "string"})
            if "oneOf" in node:
                node["anyOf"] = node.pop("oneOf")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


def _fuzz(url: str, document: dict[str, Any], name: str, log_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    schema_file = ARTIFACTS / f"{name}-openapi.json"
    schema_file.write_text(json.dumps(document), encoding="utf-8")
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", str(schema_file),
        "--url", url, "-H", f"Api-Key: {API_KEY}", "-H", "Store: demo",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--phases", "examples,coverage,fuzzing", "--max-examples", MAX_EXAMPLES,
        "--seed", "20261127", "--workers", "1", "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            check=False)
    (ARTIFACTS / f"{name}-report.txt").write_text(result.stdout + result.stderr,
                                                 encoding="utf-8")
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    assert _healthy(url), "kasse stopped answering after fuzzing"
    unhandled = [line for line in log_path.read_text().splitlines()
                 if "unhandled error" in line or "Traceback" in line]
    assert not unhandled, "\n".join(unhandled[:20])


def test_fuzzing_with_kasse_own_document(server: tuple[str, Path]) -> None:
    url, log_path = server
    document = httpx.get(f"{url}/openapi.json", timeout=30).json()
    assert len([op for item in document["paths"].values() for op in item]) >= 43
    _drop_fields_and_alias(document)
    _fuzz(url, document, "kasse", log_path)


def test_fuzzing_with_the_reference_contract(server: tuple[str, Path]) -> None:
    url, log_path = server
    document = json.loads(REFERENCE.read_text(encoding="utf-8"))
    _drop_fields_and_alias(document)
    _as_kasse_answers(document)
    _fuzz(url, document, "reference", log_path)
