"""The bare baseline: a plain ASGI app on the same server stack as kasse (uvicorn with the
same options) answering each call with the response kasse gave it, recorded earlier: the
same status, headers and body bytes. It reads the request body, as kasse does, and does
nothing else; what kasse costs above it is kasse's own work.

    BENCH_CANNED=canned.json python -m bench.baseline --port 8099 --workers 1
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from bench.loadgen import CALL_HEADER, Recorded

CANNED_ENV = "BENCH_CANNED"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
_CALL = CALL_HEADER.lower().encode()
_HEALTH = (200, [(b"content-type", b"application/json")], b'{"status":"ok"}')


def write_canned(path: Path, calls: list[Recorded]) -> None:
    """Saves the answers of recorded calls, by call name, for ``create_app``."""
    canned = {call.name: {"status": call.status, "headers": call.response_headers,
                          "body": base64.b64encode(call.response_body).decode()}
              for call in calls}
    path.write_text(json.dumps(canned), encoding="utf-8")


def _load(path: Path) -> dict[bytes, tuple[int, list[tuple[bytes, bytes]], bytes]]:
    canned = json.loads(path.read_text(encoding="utf-8"))
    return {name.encode(): (entry["status"],
                            [(k.lower().encode("latin-1"), v.encode("latin-1"))
                             for k, v in entry["headers"]],
                            base64.b64decode(entry["body"]))
            for name, entry in canned.items()}


def create_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    responses = _load(Path(os.environ[CANNED_ENV]))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        name = next((v for k, v in scope["headers"] if k == _CALL), b"")
        status, headers, body = responses.get(name, _HEALTH)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> int:
    import uvicorn

    from kasse.api.http_protocol import LimitedHttpToolsProtocol

    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    # The options kasse's own `serve` passes to uvicorn.
    uvicorn.run("bench.baseline:create_app", factory=True, host="127.0.0.1", port=args.port,
                workers=args.workers, log_level="warning", proxy_headers=True,
                server_header=False, http=LimitedHttpToolsProtocol)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
