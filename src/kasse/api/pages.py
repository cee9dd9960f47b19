"""HTML pages of the hosted checkout, rendered with auto-escaping templates.

Every page carries a strict Content-Security-Policy: scripts and styles run only with the
page's nonce, and ``frame-ancestors`` lets only the registered origin frame a Framed
checkout (no one frames a Redirect one).
"""

from __future__ import annotations

import secrets
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

_env = Environment(loader=PackageLoader("kasse.api", "templates"),
                   autoescape=select_autoescape(["html"]), auto_reload=False)


def _headers(nonce: str, frame_origin: str | None) -> dict[str, str]:
    ancestors = frame_origin if frame_origin else "'none'"
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            f"img-src 'self' data:; base-uri 'none'; frame-ancestors {ancestors}"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def render(template: str, *, status_code: int = 200, frame_origin: str | None = None,
           **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = _env.get_template(template).render(nonce=nonce, **context)
    return HTMLResponse(body, status_code=status_code, headers=_headers(nonce, frame_origin))
