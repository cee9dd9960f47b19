"""Request heads have a size limit (32 KiB) and a header count limit (100), enforced by
``kasse serve`` with a 431 before an oversized head is read in full: tested over a raw
socket to a real server process. The limits are the server's, whatever the database."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import API_KEY
from tests.integration.conftest import serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One worker on a database without a store: ``/health`` and a 401 are enough here."""
    folder = tmp_path_factory.mktemp("served")
    with serving(f"sqlite:///{folder / 'kasse.db'}", folder, workers=1) as url:
        yield url


KIB = 1024


def _exchange(url: str, head: bytes, body_chunk: bytes = b"", repeat: int = 0,
              timeout: float = 10) -> tuple[bytes, float]:
    """Send ``head`` (then ``body_chunk`` ``repeat`` times, as long as the server reads)
    and read the answer until the server closes; (answer, seconds until its first bytes)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(head)
            for _ in range(repeat):
                sock.sendall(body_chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole head was sent
        answer = b""
        first = None
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            first = first or time.monotonic()
            answer += data
            if b"\r\n\r\n" in answer and b"connection: close" not in answer.lower():
                break  # a keep-alive answer: enough of it is here
    return answer, (first or time.monotonic()) - started


def _status_and_body(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), headers, body


def _still_serving(url: str) -> None:
    response = httpx.get(f"{url}/health", timeout=10)
    assert response.status_code == 200
    assert httpx.get(f"{url}/umbraco/commerce/storefront/api/v1/countries",
                     headers={"Api-Key": API_KEY}, timeout=10).status_code == 400  # no Store


def test_an_oversized_header_is_431_without_being_read_in_full(server: str) -> None:
    # 32 MiB of one header, sent in 64 KiB pieces while the server still reads
    head = b"GET /health HTTP/1.1\r\nHost: kasse\r\nX-Big: "
    answer, seconds = _exchange(server, head, b"a" * 65536, repeat=512)
    status, headers, body = _status_and_body(answer)
    assert status == 431, answer[:300]
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["status"] == 431 and "32768 bytes" in problem["detail"]
    assert seconds < 2
    _still_serving(server)


def test_a_head_over_the_limit_is_431_and_one_within_it_is_served(server: str) -> None:
    def head(size: int) -> bytes:
        return (b"GET /health HTTP/1.1\r\nHost: kasse\r\nX-Big: " + b"a" * size
                + b"\r\nConnection: close\r\n\r\n")

    assert _status_and_body(_exchange(server, head(24 * KIB))[0])[0] == 200
    # sent at once, so that the whole head arrives in one read
    assert _status_and_body(_exchange(server, head(40 * KIB))[0])[0] == 431
    _still_serving(server)


def test_too_many_headers_are_431(server: str) -> None:
    def head(count: int) -> bytes:
        fields = b"".join(b"X-H%d: v\r\n" % i for i in range(count))
        return b"GET /health HTTP/1.1\r\nHost: kasse\r\n" + fields + b"Connection: close\r\n\r\n"

    assert _status_and_body(_exchange(server, head(90))[0])[0] == 200
    status, _, body = _status_and_body(_exchange(server, head(200))[0])
    assert status == 431
    assert "100 header fields" in json.loads(body)["detail"]
    _still_serving(server)


def test_a_long_body_is_no_head(server: str) -> None:
    """Bodies keep their own limit (413 over 1 MiB); the head limit does not count them."""
    body = json.dumps({"properties": {"note": "x" * 200_000}}).encode()
    head = (b"POST /umbraco/commerce/storefront/api/v1/orders HTTP/1.1\r\nHost: kasse\r\n"
            b"Content-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    status, _, _ = _status_and_body(_exchange(server, head + body)[0])
    assert status == 401  # the key is checked, so the request got through the server
