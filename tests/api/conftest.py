from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kasse.api.app import create_app
from kasse.config import Settings
from tests.conftest import API_KEY, OLD_API_KEY

BASE = "/umbraco/commerce/storefront/api"


def make_settings(db_url: str, tmp_path: Path, **extra: object) -> Settings:
    return Settings(database_url=db_url, api_keys=f"{API_KEY},{OLD_API_KEY}",  # type: ignore[arg-type]
                    data_dir=tmp_path / "data", auto_migrate=False, **extra)


@pytest.fixture
def client(demo_db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The app over HTTP (in process) on a database holding the demo store.

    Requests carry the Api-Key and ``Store: demo`` unless a test overrides them.
    """
    app = create_app(make_settings(demo_db_url, tmp_path))
    with TestClient(app, headers={"Api-Key": API_KEY, "Store": "demo"},
                    raise_server_exceptions=False) as test_client:
        yield test_client
