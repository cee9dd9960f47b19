"""Request guards: a cap on body size (413) and no NUL bytes in the URL or headers (400)."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kasse.api.problems import problem


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
