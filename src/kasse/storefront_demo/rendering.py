"""HTML of the demo storefront: auto-escaping templates and a strict security policy.

Every page carries a Content-Security-Policy: scripts run only with the page's nonce,
styles and images come from the demo itself, forms post to the demo (or on to kasse's pay
page), and only kasse's pay page may be framed. Nobody may frame the shop.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

_env = Environment(loader=PackageLoader("kasse.storefront_demo", "templates"),
                   autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                   auto_reload=False, trim_blocks=True, lstrip_blocks=True)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(nonce: str, pay_origin: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; "
            f"img-src 'self' data:; frame-src {pay_origin}; "
            f"form-action 'self' {pay_origin}; base-uri 'none'; frame-ancestors 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def render(template: str, *, pay_origin: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = _env.get_template(template).render(nonce=nonce, **context)
    return HTMLResponse(body, status_code=status_code,
                        headers=security_headers(nonce, pay_origin))
