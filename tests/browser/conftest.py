"""Fixtures for the browser tests: a real ``kasse serve`` and a real headless Chromium.

kasse serves the demo store, the demo storefront at /demo and the simulated test gateway
at /testgateway (one worker: the gateway keeps its payments in memory). Chromium is the
system's own (``/usr/bin/chromium``, or ``KASSE_CHROMIUM``), driven by Playwright.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.storefront import ARTIFACTS, StorefrontApi, screenshot
from tests.conftest import API_KEY
from tests.integration.hosted import running

CHROMIUM = Path(os.environ.get("KASSE_CHROMIUM", "/usr/bin/chromium"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def kasse_url(demo_db_url: str, tmp_path: Path) -> Iterator[str]:
    """A kasse server process on a free loopback port, with the demo store loaded."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "KASSE_DATABASE_URL": demo_db_url, "KASSE_API_KEYS": API_KEY,
           "KASSE_DATA_DIR": str(tmp_path), "KASSE_TEST_GATEWAY": "true",
           "KASSE_LOG_LEVEL": "warning"}
    env.pop("KASSE_PUBLIC_URL", None)
    with running([sys.executable, "-m", "kasse", "serve", "--port", str(port), "--workers",
                  "1"], env, tmp_path / "kasse.log", f"{url}/health", "kasse serve"):
        yield url


@pytest.fixture
def browser(kasse_url: str) -> Iterator[Browser]:
    # Started per test, after the server and its database: while Playwright's sync API is
    # running it keeps an event loop on this thread, and the database fixtures need theirs.
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: run 'python3 tasks.py test' (it installs "
                    "Debian's chromium) or set KASSE_CHROMIUM to a Chromium binary")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, kasse_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser profile on the demo shop; a failing test leaves a screenshot."""
    context = browser.new_context(base_url=kasse_url, viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    try:
        yield opened
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            screenshot(opened, f"{request.node.name}-failed")
            print(f"screenshot of the failure: {ARTIFACTS}")
        context.close()


@pytest.fixture
def api(kasse_url: str) -> Iterator[StorefrontApi]:
    client = StorefrontApi(kasse_url)
    try:
        yield client
    finally:
        client.close()
