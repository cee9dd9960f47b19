"""One request to the demo: the shopper's session, the Storefront API client, the cart.

``page`` and ``form`` wrap the demo's endpoints: they read the signed session cookie,
refuse a form without the session's CSRF token, open the API client, turn an API problem
into something the shopper can read, and write the session back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp

from kasse.api.public_url import PublicAddress
from kasse.storefront_demo.presenters import CartView, cart_view
from kasse.storefront_demo.rendering import origin_of, render
from kasse.storefront_demo.session import CSRF_FIELD, DemoSession, SessionCodec
from kasse.storefront_demo.storefront_api import ApiError, Json, StorefrontApi

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[["Visit"], Awaitable[Response]]


@dataclass(frozen=True)
class DemoConfig:
    """What the demo needs from kasse; the key stays on the server side."""

    kasse: ASGIApp
    api_key: str = field(repr=False)  # never in a log line or an error page either
    codec: SessionCodec
    address: PublicAddress
    """Where shoppers reach kasse, by kasse's own rule (never an unlisted Host header)."""
    test_gateway: bool


class Visit:
    """What a demo endpoint works with while it answers one request."""

    def __init__(self, request: Request, config: DemoConfig, session: DemoSession,
                 api: StorefrontApi, origin: str, form: FormData | None) -> None:
        self.request = request
        self.config = config
        self.session = session
        self.api = api
        self.origin = origin
        """Where shoppers reach kasse's pay pages (the origin their messages come from)."""
        self.page_origin = page_origin(config, request)
        """The origin of the demo's pages as the shopper opened them: the Framed Origin."""
        self.form = form
        self.root = str(request.scope.get("root_path", "")).rstrip("/")
        self._store: Json | None = None
        self._cart: Json | None = None

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    async def store(self) -> Json:
        if self._store is None:
            self._store = await self.api.store()
        return self._store

    async def cart(self) -> Json | None:
        """The shopper's open cart; a cart that was paid (or vanished) is let go here."""
        if self._cart is not None:
            return self._cart
        order_id = self.session.cart_id
        if order_id is None:
            return None
        try:
            order = await self.api.order(order_id)
        except ApiError as exc:
            if exc.status not in (400, 404) or exc.store_missing:
                raise
            self.session.cart_id = None
            return None
        if order.get("isFinalized"):
            self.placed(order_id)
            return None
        self._cart = order
        return order

    async def cart_or_new(self) -> Json:
        order = await self.cart()
        if order is None:
            store = await self.store()
            currency = self.session.currency or _code(store.get("baseCurrency"))
            order = await self.api.create_order(currency)
            self.session.cart_id = str(order["id"])
            self._cart = order
        return order

    def placed(self, order_id: str) -> None:
        self.session.placed_id = order_id
        self.session.cart_id = None
        self.session.hosted = None
        self._cart = None

    async def currency(self) -> str:
        order = await self.cart()
        if order is not None:
            return _code(order.get("currency"))
        return self.session.currency or _code((await self.store()).get("baseCurrency"))

    def url(self, path: str) -> str:
        return f"{self.root}{path}"

    def redirect(self, path: str) -> Response:
        return RedirectResponse(self.url(path), status_code=303)

    async def page(self, template: str, *, status_code: int = 200, **context: Any
                   ) -> Response:
        order = await self.cart()
        store = await self.store()
        return render(template, pay_origin=self.origin, status_code=status_code,
                      root=self.root, csrf=self.session.csrf, csrf_field=CSRF_FIELD,
                      store_name=str(store.get("name") or "Demo store"),
                      cart_count=cart_view(order).item_count if order else 0,
                      flash=self.session.take_flash(), **context)

    async def cart_view(self) -> CartView | None:
        order = await self.cart()
        return cart_view(order) if order is not None else None


def _code(reference: Json) -> str:
    return str((reference or {}).get("code") or "")


def _origin(config: DemoConfig, request: Request) -> str:
    return origin_of(config.address.base_url(request.scope))


def page_origin(config: DemoConfig, request: Request) -> str:
    # The shopper's browser knows which origin it shows; a Framed checkout's messages go
    # there. Only the pay pages' origin must not come from the Host header.
    return origin_of(config.address.configured or str(request.base_url))


def message(request: Request, config: DemoConfig, status_code: int, heading: str,
            text: str) -> Response:
    """A page outside the shop's flow (no store or cart needed to show it)."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return render("message.html", pay_origin=_origin(config, request),
                  status_code=status_code, root=root, heading=heading, text=text)


def not_loaded(request: Request, config: DemoConfig) -> Response:
    return message(request, config, 404, "The demo store is not loaded",
                   "This kasse has no store with the alias “demo”. Load it with "
                   "“kasse demo” (python3 tasks.py run does), then reload this page.")


async def _serve(request: Request, handler: Handler, back: str | None) -> Response:
    config: DemoConfig = request.app.state.demo
    session = config.codec.read(request)
    form = None
    if request.method == "POST":
        form = await request.form()
        if not session.csrf_matches(form.get(CSRF_FIELD)):
            return message(request, config, 403, "This form has expired",
                           "The page was open too long or came from elsewhere. Go back, "
                           "reload the page and try again.")
    origin = _origin(config, request)
    # Requests go to kasse's app in process, addressed to kasse's public origin: kasse
    # sees that host as the one it is asked on, so its pay URLs land on the same origin.
    shopper = (request.client.host, request.client.port) if request.client else None
    async with StorefrontApi.connect(config.kasse, origin, config.api_key, shopper) as api:
        visit = Visit(request, config, session, api, origin, form)
        try:
            response = await handler(visit)
        except ApiError as exc:
            if exc.store_missing:
                return not_loaded(request, config)
            if back is None:
                status = exc.status if 400 <= exc.status < 500 else 502
                response = message(request, config, status, "Something went wrong",
                                   exc.detail)
            else:
                session.say(exc.detail)
                response = visit.redirect(back)
    config.codec.write(response, session, secure=request.url.scheme == "https")
    return response


def page(handler: Handler) -> Endpoint:
    """A page the shopper looks at (GET)."""
    async def endpoint(request: Request) -> Response:
        return await _serve(request, handler, None)
    endpoint.__name__ = handler.__name__
    return endpoint


def form(back: str) -> Callable[[Handler], Endpoint]:
    """A form post; on an API problem the shopper is sent ``back`` with its detail shown."""
    def wrap(handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            return await _serve(request, handler, back)
        endpoint.__name__ = handler.__name__
        return endpoint
    return wrap
