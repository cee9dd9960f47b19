"""The management API's ground rules: tokens, not storefront keys; roles; idempotent,
version-checked actions; its own OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kasse.api.app import create_app
from tests.api.conftest import make_settings
from tests.conftest import API_KEY
from tests.management import MANAGEMENT, bearer, issue_token


@pytest.fixture
def api(demo_db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings(demo_db_url, tmp_path)),
                    raise_server_exceptions=False) as client:
        yield client


def test_a_token_says_who_it_acts_as(api: TestClient, demo_db_url: str) -> None:
    token = issue_token(demo_db_url, "fulfilment", name="warehouse")
    answer = api.get(f"{MANAGEMENT}/me", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["name"], body["role"], body["stores"]) == ("warehouse", "fulfilment", None)
    assert "orders:fulfil" in body["permissions"]
    assert "payments:write" not in body["permissions"]


@pytest.mark.parametrize("headers", [
    {}, {"Api-Key": API_KEY}, {"Authorization": f"Bearer {API_KEY}"},
    {"Authorization": "Basic b3duZXI6c2VjcmV0"}, {"Authorization": "Bearer kmt_forged"},
])
def test_only_a_management_token_gets_in(api: TestClient, headers: dict[str, str]) -> None:
    answer = api.get(f"{MANAGEMENT}/me", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["detail"]


def test_revoked_and_expired_tokens_are_refused(api: TestClient, demo_db_url: str) -> None:
    revoked = issue_token(demo_db_url, "owner", revoked=True)
    expired = issue_token(demo_db_url, "owner",
                          expires_at=datetime.now(UTC) - timedelta(seconds=1))
    for token in (revoked, expired):
        assert api.get(f"{MANAGEMENT}/me", headers=bearer(token)).status_code == 401


def test_the_management_api_has_its_own_document(api: TestClient) -> None:
    storefront = api.get("/openapi.json").json()
    assert not [p for p in storefront["paths"] if p.startswith(MANAGEMENT)]
    document = api.get(f"{MANAGEMENT}/openapi.json").json()
    assert f"{MANAGEMENT}/me" in document["paths"]
    assert document["components"]["securitySchemes"]["managementToken"]["scheme"] == "bearer"
    for item in document["paths"].values():
        for operation in item.values():
            assert "x-kasse-permission" in operation
    docs = api.get(f"{MANAGEMENT}/docs")
    assert docs.status_code == 200 and f"{MANAGEMENT}/openapi.json" in docs.text
