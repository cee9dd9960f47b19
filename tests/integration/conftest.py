"""Fixtures for tests that need a real kasse server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import API_KEY
from tests.integration.hosted import wait_healthy


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(db_url: str, folder: Path, workers: int = 2, **env: str) -> Iterator[str]:
    """``kasse serve`` as a real process on a free port; its output goes to server.log."""
    port = _free_port()
    environment = {**os.environ, "KASSE_DATABASE_URL": db_url, "KASSE_API_KEYS": API_KEY,
                   "KASSE_DATA_DIR": str(folder), "KASSE_LOG_LEVEL": "warning", **env}
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "kasse", "serve", "--port", str(port), "--workers",
         str(workers)], env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{url}/health", process, "kasse serve", folder / "server.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def server(demo_db_url: str, tmp_path: Path) -> Iterator[str]:
    with serving(demo_db_url, tmp_path) as url:
        yield url
