"""The HTTP/1.1 connection as ``kasse serve`` runs it: uvicorn's httptools protocol with
limits on the request head, which uvicorn itself does not limit.

A head (request line and header fields) over ``MAX_HEAD_BYTES``, or with more than
``MAX_HEADERS`` fields, is answered 431 and the connection closed, before the rest of it
is read: otherwise the parser would gather a header of any size in memory.
"""

from __future__ import annotations

import asyncio

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 32 * 1024
MAX_HEADERS = 100

_STATUS_LINE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing; the 431 is sent instead of a 400."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that refuses oversized request heads with a 431."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._reading_head = True
        self._heads_read = 0
        self._head_bytes = 0  # of the head being read, counted in whole reads
        self._fields = 0
        self._refused: str | None = None

    def data_received(self, data: bytes) -> None:
        if self._refused is not None:
            return  # answered and closing: the rest is not read
        reading_head, heads_read = self._reading_head, self._heads_read
        super().data_received(data)
        if self._refused is not None or self.transport.is_closing():
            return
        if reading_head and self._reading_head and self._heads_read == heads_read:
            # All of this read belonged to a head that is not complete yet. (A read in which
            # one request ends and the next begins is not counted: the count never exceeds
            # the true size, so a head is never refused for bytes that are not its own.)
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(f"the request's header fields are larger than {MAX_HEAD_BYTES} "
                             "bytes")
                self.send_400_response("")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._fields = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        if self._fields > MAX_HEADERS:
            self._refuse(f"the request has more than {MAX_HEADERS} header fields")
            raise HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        # A head that arrived in one read is measured here, as the parser saw it.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEAD_BYTES:
            self._refuse(f"the request's header fields are larger than {MAX_HEAD_BYTES} bytes")
            raise HeadTooLarge
        self._reading_head = False
        self._heads_read += 1
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True

    def _refuse(self, detail: str) -> None:
        self._refused = detail

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse; a 431 when a limit stopped it."""
        if self._refused is None:
            super().send_400_response(msg)
            return
        self.logger.warning("431 for %s: %s", self.client[0] if self.client else "a client",
                            self._refused)
        body = orjson.dumps({"type": "urn:kasse:problem:request-header-fields-too-large",
                             "title": "Request Header Fields Too Large", "status": 431,
                             "detail": self._refused})
        content = [_STATUS_LINE]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([b"content-type: application/problem+json\r\n",
                        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                        b"connection: close\r\n", b"\r\n", body])
        self.transport.write(b"".join(content))
        self.transport.close()
