"""The demo storefront as its own small Starlette app, mounted by kasse at ``/demo``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from kasse.api.public_url import PublicAddress
from kasse.storefront_demo import checkout, shop
from kasse.storefront_demo.session import SessionCodec
from kasse.storefront_demo.visit import DemoConfig, message

DEMO_PATH = "/demo"
"""Where kasse serves the demo; the demo store's return URLs point below it."""


def create_demo_app() -> Starlette:
    """The demo storefront; it serves once :func:`open_demo` told it which kasse to call
    and with which key."""
    routes = [
        Route("/", shop.catalog, methods=["GET"]),
        Route("/currency", shop.choose_currency, methods=["POST"]),
        Route("/cart", shop.cart, methods=["GET"]),
        Route("/cart/add", shop.add_to_cart, methods=["POST"]),
        Route("/cart/update", shop.update_line, methods=["POST"]),
        Route("/cart/remove", shop.remove_line, methods=["POST"]),
        Route("/cart/redeem", shop.redeem, methods=["POST"]),
        Route("/cart/unredeem", shop.unredeem, methods=["POST"]),
        Route("/checkout", checkout.details, methods=["GET"]),
        Route("/checkout", checkout.save_details, methods=["POST"]),
        Route("/checkout/methods", checkout.methods, methods=["GET"]),
        Route("/checkout/methods", checkout.save_methods, methods=["POST"]),
        Route("/checkout/pay", checkout.review, methods=["GET"]),
        Route("/checkout/pay", checkout.pay, methods=["POST"]),
        Route("/checkout/framed", checkout.framed, methods=["GET"]),
        Route("/confirmation", checkout.confirmation, methods=["GET"]),
        Route("/error", checkout.payment_error, methods=["GET"]),
        Mount("/static", StaticFiles(packages=[("kasse.storefront_demo", "static")])),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        config: DemoConfig = request.app.state.demo
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            return message(request, config, 405, "Not here",
                           "This address does not take that kind of request.")
        return message(request, config, status, "Page not found",
                       "There is no such page in the demo shop.")

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


def open_demo(demo: Starlette, kasse: ASGIApp, *, api_key: str, secret: bytes,
              address: PublicAddress | None = None, test_gateway: bool = False) -> None:
    """Let the demo serve, calling the Storefront API of ``kasse`` with ``api_key`` (kasse
    does when it starts: the key comes from its composition root).

    ``secret`` signs the shopper's session cookie. The key is used on the server side only:
    no page the demo serves contains it. ``address`` says where shoppers reach kasse (its
    configured public URL, allowed hosts, or else the address it listens on).
    """
    demo.state.demo = DemoConfig(kasse=kasse, api_key=api_key, codec=SessionCodec(secret),
                                 address=address or PublicAddress(), test_gateway=test_gateway)
