"""Request guards: a cap on body size (413), no NUL bytes in the URL or headers (400), JSON
for API bodies (415) and no lone surrogates in JSON text (400)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kasse.api.problems import invalid_fields, problem


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        chunked = False
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and not declared:  # no body at all (RFC 9112, 6.3)
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than {self.max_bytes} bytes"
        if declared is not None and declared > self.max_bytes:
            await problem(413, detail, "body-too-large")(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await problem(413, detail, "body-too-large")(scope, receive, send)


class RejectNulBytes:
    """NUL is never meaningful in a URL or header and PostgreSQL text cannot hold it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            query = scope.get("query_string", b"")
            if (b"\x00" in unquote_to_bytes(raw_path)
                    or (query and b"\x00" in unquote_to_bytes(query))
                    or any(b"\x00" in value for _, value in scope.get("headers", []))):
                response = problem(400, "the request URL or a header contains a NUL character",
                                   "nul-character")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


JSON_TYPES = (b"application/json", b"application/problem+json")


class RequireJson:
    """Storefront API requests with a body must send JSON (415 otherwise), so a wrong
    content type gets a clear answer rather than a confusing validation message. The
    hosted pages (form posts from gateways) are not part of this."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH")
                and scope["path"].startswith(self.prefix) and "/pay/" not in scope["path"]):
            headers = dict(scope.get("headers", []))
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            has_body = headers.get(b"content-length", b"0") not in (b"0", b"") or (
                b"transfer-encoding" in headers)
            if has_body and content_type not in JSON_TYPES and not (
                    content_type.startswith(b"application/") and content_type.endswith(b"+json")):
                shown = content_type.decode("latin-1")[:80] or "none"
                response = problem(415, f"the request body must be JSON "
                                        f"(Content-Type: application/json), not {shown}",
                                   "unsupported-media-type")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


_SURROGATE_IN_UTF8 = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
"""A ``\\uD800``-``\\uDFFF`` escape, or such a code point in UTF-8's shape."""


def _may_hold_surrogate(body: bytes) -> bool:
    """Whether the body could parse to a string holding a surrogate: it has an escape or
    the bytes of one, or it is in UTF-16 or UTF-32 (which JSON parsing detects and accepts)."""
    return (_SURROGATE_IN_UTF8.search(body) is not None or b"\x00" in body[:4]
            or body[:2] in (b"\xff\xfe", b"\xfe\xff"))

_SURROGATE = re.compile("[\ud800-\udfff]")
LONE_SURROGATE = "contains a lone UTF-16 surrogate, which is not a character"


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return media in JSON_TYPES or (media.startswith(b"application/")
                                          and media.endswith(b"+json"))
    return False


def surrogate_locations(document: Any) -> list[tuple[str, str]]:
    """Each place in a parsed JSON document where a string (a value or a name) holds a
    surrogate, in document order, as ``(location, message)``: ``body customer.firstName``."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[tuple[str, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        where = "body " + ".".join(path) if path else "body"
        if isinstance(value, str):
            if _SURROGATE.search(value):
                found.append((where, LONE_SURROGATE))
        elif isinstance(value, dict):
            if any(_SURROGATE.search(name) for name in value):
                found.append((where, f"a name {LONE_SURROGATE}"))
            stack.extend(((*path, name), item) for name, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*path, str(i)), item) for i, item in reversed(list(enumerate(value))))
    return found


class RejectLoneSurrogates:
    """A JSON string may escape half of a UTF-16 surrogate pair (``"\\ud800"``), which
    parses to text that is no Unicode character: it cannot be stored, encoded as UTF-8 or
    sent back. Such a body is refused with a 400 naming the field, before any route sees it.
    Surrogate pairs (an escaped emoji) parse to one character and pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH")
                or not _is_json(scope.get("headers", []))):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:  # the body is small: BodySizeLimit, outside this guard, caps it
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if _may_hold_surrogate(body):
            try:
                document = json.loads(body)  # as the app will read it
            except (ValueError, RecursionError):
                document = None  # the app answers what is wrong with it
            found = surrogate_locations(document)
            if found:
                await invalid_fields(scope["method"], found)(scope, receive, send)
                return
        pending = iter(messages)

        async def replay() -> Message:
            for message in pending:
                return message
            return await receive()

        await self.app(scope, replay, send)
