"""The key files kasse generates into its data folder when no key is configured: made
once, readable by the owner only, and the same for every worker starting at once."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kasse.bootstrap import api_keys, secret_key
from kasse.config import Settings
from tests.integration.conftest import serving

WORKERS = 8
ROUNDS = 10


def _api_key(settings: Settings) -> bytes:
    keys, _generated = api_keys(settings)
    assert len(keys) == 1
    return keys[0]


def _all_at_once(call: Callable[[], bytes]) -> tuple[list[bytes], list[BaseException]]:
    """``call`` run by several threads released at the same moment."""
    start = threading.Barrier(WORKERS)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            results.append(call())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.parametrize("read, file_name", [
    (_api_key, "api-key"),
    (secret_key, "secret-key"),
])
def test_workers_starting_at_once_share_one_generated_key(
        read: Callable[[Settings], bytes], file_name: str, tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        settings = Settings(data_dir=tmp_path / f"fresh-{round_}")
        results, errors = _all_at_once(lambda: read(settings))  # noqa: B023
        assert errors == []
        assert len(results) == WORKERS
        assert len(set(results)) == 1 and results[0], results
        path = settings.data_dir / file_name
        assert path.read_text(encoding="utf-8").strip().encode() == results[0]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_only_the_worker_that_made_the_api_key_file_says_it_generated_it(
        tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    generated = []
    for _ in range(3):
        _keys, made = api_keys(settings)
        generated.append(made)
    assert generated == [True, False, False]


@pytest.mark.parametrize("read, file_name", [
    (_api_key, "api-key"),
    (secret_key, "secret-key"),
])
def test_a_key_file_another_worker_is_still_writing_is_waited_for(
        read: Callable[[Settings], bytes], file_name: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    path = tmp_path / file_name
    path.touch(mode=0o600)  # created by another worker, not written yet

    def write_late() -> None:
        time.sleep(0.2)
        path.write_text("kasse_written-by-the-other-worker\n", encoding="utf-8")

    writer = threading.Thread(target=write_late)
    writer.start()
    try:
        assert read(settings) == b"kasse_written-by-the-other-worker"
    finally:
        writer.join()


def test_an_empty_api_key_file_is_refused_not_taken_as_the_key(tmp_path: Path) -> None:
    (tmp_path / "api-key").touch(mode=0o600)
    with pytest.raises(RuntimeError, match="api-key is empty.*KASSE_API_KEYS"):
        api_keys(Settings(data_dir=tmp_path))


def test_a_first_start_with_two_workers_and_no_configured_key_generates_one(
        demo_db_url: str, tmp_path: Path) -> None:
    with serving(demo_db_url, tmp_path, KASSE_API_KEYS="") as url:
        key = (tmp_path / "api-key").read_text(encoding="utf-8").strip()
        assert key.startswith("kasse_")
        for _ in range(8):  # over new connections, so both workers answer some
            listed = httpx.get(f"{url}/umbraco/commerce/storefront/api/v1/countries",
                               headers={"Api-Key": key, "Store": "demo"}, timeout=10)
            assert listed.status_code == 200, listed.text
    assert "Traceback" not in (tmp_path / "server.log").read_text()
    assert [p.name for p in sorted(tmp_path.glob("*-key"))] == ["api-key", "secret-key"]
