"""A storefront key may serve some stores only (``KASSE_API_KEYS=KEY@store+store``): it
reaches every Storefront API operation of those stores and none of another's."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kasse.api.app import create_app
from kasse.config import Settings
from tests.api.conftest import BASE
from tests.api.test_auth_sweep import import_other_store

EVERY_STORE = "key-for-every-store-0123"
DEMO_ONLY = "key-for-the-demo-0123"
OTHER_ONLY = "key-for-the-other-0123"


@pytest.fixture
def api(demo_db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    import_other_store(demo_db_url)
    settings = Settings(database_url=demo_db_url, data_dir=tmp_path / "data",
                        auto_migrate=False,
                        api_keys=f"{EVERY_STORE},{DEMO_ONLY}@demo,{OTHER_ONLY}@Other+nowhere")  # type: ignore[arg-type]
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def call(api: TestClient, key: str, store: str) -> int:
    created = api.post(f"{BASE}/v1/orders", json={},
                       headers={"Api-Key": key, "Store": store})
    return created.status_code


def test_a_key_for_some_stores_serves_those_and_no_other(api: TestClient) -> None:
    assert call(api, DEMO_ONLY, "demo") == 200
    assert call(api, OTHER_ONLY, "other") == 200  # aliases match whatever their case
    assert call(api, EVERY_STORE, "demo") == call(api, EVERY_STORE, "other") == 200
    refused = api.post(f"{BASE}/v1/orders", json={},
                       headers={"Api-Key": DEMO_ONLY, "Store": "other"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "does not serve store 'other'" in refused.json()["detail"]
    assert call(api, OTHER_ONLY, "demo") == 403


def test_an_order_of_another_store_stays_out_of_reach(api: TestClient) -> None:
    order = api.post(f"{BASE}/v1/orders", json={},
                     headers={"Api-Key": OTHER_ONLY, "Store": "other"}).json()
    for store in ("demo", "other"):
        answer = api.get(f"{BASE}/v1/order/{order['id']}",
                         headers={"Api-Key": DEMO_ONLY, "Store": store})
        assert answer.status_code in (403, 404)
        assert "id" not in answer.json()


def test_a_store_named_in_the_path_is_checked_too(api: TestClient) -> None:
    headers = {"Api-Key": DEMO_ONLY, "Store": "demo"}
    assert api.get(f"{BASE}/v1/store/demo", headers=headers).status_code == 200
    assert api.get(f"{BASE}/v1/store/other", headers=headers).status_code == 403


def test_a_key_entry_names_at_least_one_store() -> None:
    with pytest.raises(ValueError, match="KEY@store") as refused:
        Settings(api_keys="fine-key,secret-key@")  # type: ignore[arg-type]
    assert "secret-key" not in str(refused.value)  # the key is never echoed
