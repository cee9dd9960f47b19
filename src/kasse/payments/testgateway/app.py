"""The test gateway: a simulated hosted-payment service, as its own ASGI app.

It behaves like a small hosted payment page: the merchant's page posts a signed form to
``POST /pay``, the shopper types a test card on ``GET /pay/{payment_id}``, the gateway
decides the outcome, sends the shopper back to the merchant with a signed query and tells
the merchant's server in signed webhooks. A bearer-authenticated JSON API captures,
refunds, cancels and looks payments up.

Payments live in memory (``app.state.payments``); this is a simulator for tests and demos.
The app works standalone and mounted under a prefix: every URL it emits is built from the
request it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping, Sequence
from decimal import Decimal
from importlib import resources
from typing import Any, Final

import httpx
import jinja2
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kasse.payments.testgateway.cards import TEST_CARDS, card_outcome
from kasse.payments.testgateway.forms import (
    _card_problems,
    _form_strings,
    _parse_amount,
    _pay_form_problems,
    _with_query,
)
from kasse.payments.testgateway.models import GatewayConfig, Payment, WebhookEvent, _new_id
from kasse.payments.testgateway.signing import (
    WEBHOOK_SIGNATURE_HEADER,
    sign_return,
    sign_webhook,
    verify_fields,
)

__all__ = ["BEHAVIOURS", "GatewayConfig", "Payment", "create_gateway_app"]

logger = logging.getLogger(__name__)

PACKAGE: Final = "kasse.payments.testgateway"

BEHAVIOURS: Final[tuple[tuple[str, str], ...]] = (
    ("normal", "Normal: one webhook"),
    ("late", "Late: the webhook arrives after the shopper is back"),
    ("twice", "Twice: the same event is delivered twice"),
    ("before-return", "Before return: the webhook arrives before the redirect"),
    ("out-of-order", "Out of order: authorized, then a stale declined event"),
    ("none", "None: no webhook, the return is the only news"),
)
"""Webhook behaviours a shopper can pick on the card page: (value, label)."""
_BEHAVIOUR_VALUES: Final = frozenset(value for value, _label in BEHAVIOURS)

_OUTCOME_TITLES: Final = {
    "authorized": "Payment authorized",
    "declined": "Payment declined",
    "error": "Payment failed with a technical error",
    "cancelled": "Payment cancelled",
}

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' http: https:; "
    "base-uri 'none'; frame-ancestors {frame_ancestors}")


def security_headers(config: GatewayConfig) -> tuple[tuple[str, str], ...]:
    return (
        ("Content-Security-Policy",
         CONTENT_SECURITY_POLICY.format(frame_ancestors=config.frame_ancestors)),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    )

MAX_BODY_SIZE: Final = 64 * 1024


class _SecurityHeaders:
    """Adds the security headers to every response that does not set them itself."""

    def __init__(self, app: ASGIApp, headers: tuple[tuple[str, str], ...]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _json_error(status_code: int, message: str,
                headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code, headers=headers)


class _Gateway:
    """State and request handlers of one gateway app."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.payments: dict[str, Payment] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader(PACKAGE, "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        stylesheet = resources.files(PACKAGE).joinpath("templates", "gateway.css")
        self.stylesheet = stylesheet.read_text(encoding="utf-8")
        # Compared against when a bearer names an unknown merchant, so that answering
        # takes about as long as for a known one.
        self._decoy_secret = secrets.token_hex(16)
        self.app: Starlette | None = None

    # -- URLs ---------------------------------------------------------------------------

    def url(self, request: Request, name: str, /, **params: str) -> str:
        """Absolute URL of one of the gateway's routes, under whatever prefix it is served."""
        assert self.app is not None
        path = str(self.app.router.url_path_for(name, **params))
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return str(request.url.replace(path=root + path, query="", fragment=""))

    def return_url(self, payment: Payment) -> str:
        """Where the shopper goes back to for the recorded outcome, with a signed query."""
        outcome = payment.outcome or "error"
        base = {"authorized": payment.success_url,
                "cancelled": payment.cancel_url}.get(outcome, payment.error_url)
        timestamp = int(time.time())
        secret = self.config.merchants.get(payment.merchant, "")
        return _with_query(base, {
            "payment_id": payment.payment_id,
            "status": outcome,
            "reference": payment.reference,
            "amount": payment.amount,
            "currency": payment.currency,
            "t": str(timestamp),
            "sig": sign_return(secret, payment.payment_id, outcome, payment.reference,
                               timestamp, payment.amount, payment.currency),
        })

    # -- HTML ---------------------------------------------------------------------------

    def render(self, request: Request, template: str, context: Mapping[str, Any],
               status_code: int = 200) -> HTMLResponse:
        html = self.templates.get_template(template).render(
            {"stylesheet_url": self.url(request, "stylesheet"), **context})
        return HTMLResponse(html, status_code=status_code,
                            headers={"Cache-Control": "no-store"})

    def error_page(self, request: Request, status_code: int, title: str, message: str,
                   problems: Sequence[str] = ()) -> HTMLResponse:
        return self.render(request, "error.html",
                           {"title": title, "message": message, "problems": list(problems)},
                           status_code=status_code)

    def not_found_page(self, request: Request) -> HTMLResponse:
        return self.error_page(request, 404, "Payment not found",
                               "There is no payment with this id. It may have been made "
                               "on a gateway that has restarted since.")

    def card_page(self, request: Request, payment: Payment, *, errors: Sequence[str] = (),
                  values: Mapping[str, str] | None = None,
                  status_code: int = 200) -> HTMLResponse:
        entered = values or {}
        webhook = entered.get("webhook", "normal")
        context = {
            "payment": payment,
            "outcome": payment.outcome,
            "outcome_title": _OUTCOME_TITLES.get(payment.outcome or "", ""),
            "return_url": self.return_url(payment) if payment.outcome else "",
            "form_action": self.url(request, "submit", payment_id=payment.payment_id),
            "errors": list(errors),
            "values": {
                "card_number": entered.get("card_number", ""),
                "expiry": entered.get("expiry", ""),
                "holder": entered.get("holder", ""),
                "webhook": webhook if webhook in _BEHAVIOUR_VALUES else "normal",
            },
            "behaviours": BEHAVIOURS,
            "test_cards": TEST_CARDS,
        }
        return self.render(request, "card.html", context, status_code=status_code)

    # -- Webhooks -----------------------------------------------------------------------

    def event(self, payment: Payment, status: str, created: int | None = None) -> WebhookEvent:
        event_id = _new_id("evt_")
        stamp = int(time.time()) if created is None else created
        body = {
            "id": event_id,
            "type": f"payment.{status}",
            "created": stamp,
            "data": {
                "payment_id": payment.payment_id,
                "reference": payment.reference,
                "merchant": payment.merchant,
                "amount": payment.amount,
                "currency": payment.currency,
                "status": status,
                "fee": "0.00",
                "captured_amount": payment.format(payment.captured_amount),
                "refunded_amount": payment.format(payment.refunded_amount),
            },
        }
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return WebhookEvent(event_id=event_id, type=f"payment.{status}", created=stamp,
                            body=raw)

    async def attempt(self, payment: Payment, event: WebhookEvent, number: int) -> bool:
        """Sends ``event`` once; records and returns whether the receiver took it (2xx)."""
        timestamp = int(time.time())
        secret = self.config.merchants.get(payment.merchant, "")
        headers = {
            "Content-Type": "application/json",
            WEBHOOK_SIGNATURE_HEADER: sign_webhook(secret, event.body, timestamp),
            "User-Agent": "kasse-test-gateway",
        }
        record: dict[str, Any] = {"event_id": event.event_id, "type": event.type,
                                  "attempt": number, "at": time.time(),
                                  "status_code": None, "error": None}
        delivered = False
        try:
            async with httpx.AsyncClient(timeout=self.config.webhook_timeout) as client:
                response = await client.post(payment.webhook_url, content=event.body,
                                             headers=headers)
        except Exception as exc:  # any failure to deliver is recorded and retried
            record["error"] = f"{type(exc).__name__}: {exc}".rstrip(": ")
        else:
            record["status_code"] = response.status_code
            delivered = 200 <= response.status_code < 300
        payment.webhook_attempts.append(record)
        if not delivered:
            logger.info("webhook %s to %s not delivered (attempt %d): %s", event.event_id,
                        payment.webhook_url, number,
                        record["error"] or f"HTTP {record['status_code']}")
        return delivered

    async def deliver(self, payment: Payment, event: WebhookEvent,
                      first_attempt: int = 1) -> bool:
        """Sends ``event`` until the receiver takes it or the retries run out."""
        for number in range(first_attempt, len(self.config.retry_delays) + 2):
            if number > 1:
                await asyncio.sleep(self.config.retry_delays[number - 2])
            if await self.attempt(payment, event, number):
                return True
        return False

    async def deliver_all(self, payment: Payment, events: Iterable[WebhookEvent],
                          delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        for event in events:
            await self.deliver(payment, event)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("webhook delivery crashed", exc_info=task.exception())

    async def notify_outcome(self, payment: Payment) -> None:
        """Sends the webhooks for a payment's outcome the way its behaviour asks for."""
        behaviour = payment.behaviour
        if behaviour == "none":
            return
        event = self.event(payment, payment.status)
        if behaviour == "before-return":
            if not await self.attempt(payment, event, 1):
                self.spawn(self._retry(payment, event))
            return
        events = [event]
        if behaviour == "twice":
            events.append(event)
        elif behaviour == "out-of-order" and payment.status == "authorized":
            events.append(self.event(payment, "declined", created=event.created - 1))
        delay = self.config.late_delay if behaviour == "late" else self.config.webhook_delay
        self.spawn(self.deliver_all(payment, events, delay))

    async def _retry(self, payment: Payment, event: WebhookEvent) -> None:
        await self.deliver(payment, event, first_attempt=2)

    def notify(self, payment: Payment) -> None:
        """One ordinary webhook for a change made through the API."""
        event = self.event(payment, payment.status)
        self.spawn(self.deliver_all(payment, [event], self.config.webhook_delay))

    async def aclose(self) -> None:
        """Cancels the webhooks still pending and waits for them to stop."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- Shopper pages ------------------------------------------------------------------

    async def create_payment(self, request: Request) -> Response:
        form = await request.form()
        fields, problems = _form_strings(form)
        if problems:
            return self.error_page(request, 400, "Invalid payment request",
                                   "The payment form could not be read.", problems)
        merchant = fields.get("merchant", "")
        secret = self.config.merchants.get(merchant)
        if secret is None:
            message = (f"The merchant {merchant!r} is not known to this gateway."
                       if merchant else "The payment request names no merchant.")
            return self.error_page(request, 400, "Unknown merchant", message)
        if not verify_fields(secret, fields):
            return self.error_page(
                request, 400, "Invalid signature",
                "The signature field is missing or does not match the other fields. The "
                "merchant signs all fields except signature with its shared secret; fields "
                "must not contain line breaks.")
        problems = _pay_form_problems(fields)
        if problems:
            return self.error_page(request, 400, "Invalid payment request",
                                   "The payment request has problems:", problems)
        parsed = _parse_amount(fields["amount"])
        assert parsed is not None
        payment = Payment(
            payment_id=_new_id("pay_"),
            merchant=merchant,
            reference=fields["reference"],
            amount=fields["amount"],
            currency=fields["currency"].upper(),
            description=fields.get("description", ""),
            success_url=fields["success_url"],
            cancel_url=fields["cancel_url"],
            error_url=fields["error_url"],
            webhook_url=fields["webhook_url"],
            created=time.time(),
            places=parsed[1],
        )
        self.payments[payment.payment_id] = payment
        return RedirectResponse(self.url(request, "card_page", payment_id=payment.payment_id),
                                status_code=303)

    async def show_card_page(self, request: Request) -> Response:
        payment = self.payments.get(str(request.path_params["payment_id"]))
        if payment is None:
            return self.not_found_page(request)
        return self.card_page(request, payment)

    async def submit(self, request: Request) -> Response:
        payment = self.payments.get(str(request.path_params["payment_id"]))
        if payment is None:
            return self.not_found_page(request)
        form = await request.form()
        fields, problems = _form_strings(form)
        # No awaiting between this check and recording the outcome: two submits racing
        # each other cannot both decide.
        if payment.outcome is not None:
            return RedirectResponse(self.return_url(payment), status_code=303)
        if problems:
            return self.card_page(request, payment, errors=problems, values=fields,
                                  status_code=400)
        action = fields.get("action", "pay")
        behaviour = fields.get("webhook", "normal") or "normal"
        if behaviour not in _BEHAVIOUR_VALUES:
            problems.append("Choose one of the listed webhook behaviours.")
        if action == "cancel":
            outcome: str | None = "cancelled"
        elif action == "pay":
            problems.extend(_card_problems(fields, datetime.date.today()))
            outcome = card_outcome(fields.get("card_number", ""))
        else:
            problems.append("Use the Pay or Cancel button.")
            outcome = None
        if problems or outcome is None:
            return self.card_page(request, payment, errors=problems, values=fields,
                                  status_code=400)
        payment.status = outcome
        payment.outcome = outcome
        payment.behaviour = behaviour
        await self.notify_outcome(payment)
        return RedirectResponse(self.return_url(payment), status_code=303)

    async def stylesheet_response(self, request: Request) -> Response:
        return Response(self.stylesheet, media_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    # -- Merchant API -------------------------------------------------------------------

    def authenticate(self, request: Request) -> str | None:
        """The merchant id a valid ``Authorization: Bearer <id>:<secret>`` names, else None."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        merchant, separator, given = credentials.strip().partition(":")
        expected = self.config.merchants.get(merchant)
        same = hmac.compare_digest((expected or self._decoy_secret).encode("utf-8"),
                                   given.encode("utf-8"))
        if not separator or expected is None or not same:
            return None
        return merchant

    def _unauthorized(self) -> JSONResponse:
        return _json_error(401, "missing or invalid bearer credentials (merchant:secret)",
                           headers={"WWW-Authenticate": 'Bearer realm="test gateway"'})

    def _own_payment(self, request: Request) -> Payment | JSONResponse:
        merchant = self.authenticate(request)
        if merchant is None:
            return self._unauthorized()
        payment = self.payments.get(str(request.path_params["payment_id"]))
        if payment is None or payment.merchant != merchant:
            return _json_error(404, "payment not found")
        return payment

    @staticmethod
    async def _requested_amount(request: Request,
                                payment: Payment) -> Decimal | None | JSONResponse:
        """The optional ``{"amount": "x"}`` of an API call (None when not given)."""
        raw = await request.body()
        if not raw.strip():
            return None
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _json_error(400, "the body must be JSON")
        if not isinstance(body, dict):
            return _json_error(400, "the body must be a JSON object")
        value = body.get("amount")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return _json_error(400, "amount must be a decimal string")
        parsed = _parse_amount(str(value))
        if parsed is None:
            return _json_error(400, "amount must be a decimal number greater than 0")
        amount, places = parsed
        if places > payment.places:
            return _json_error(400, f"amount must have at most {payment.places} decimals, "
                                    "like the payment amount")
        return amount

    async def api_get(self, request: Request) -> Response:
        payment = self._own_payment(request)
        if isinstance(payment, Response):
            return payment
        return JSONResponse(payment.as_json())

    async def api_list(self, request: Request) -> Response:
        merchant = self.authenticate(request)
        if merchant is None:
            return self._unauthorized()
        reference = request.query_params.get("reference")
        found = [payment.as_json() for payment in self.payments.values()
                 if payment.merchant == merchant
                 and (reference is None or payment.reference == reference)]
        return JSONResponse({"payments": found})

    async def api_capture(self, request: Request) -> Response:
        payment = self._own_payment(request)
        if isinstance(payment, Response):
            return payment
        amount = await self._requested_amount(request, payment)
        if isinstance(amount, Response):
            return amount
        if payment.status != "authorized":
            return _json_error(409, f"only authorized payments can be captured; this one "
                                    f"is {payment.status}")
        authorized = Decimal(payment.amount)
        capture = authorized if amount is None else amount
        if capture > authorized:
            return _json_error(400, f"cannot capture more than the authorized "
                                    f"{payment.amount} {payment.currency}")
        payment.captured_amount = capture
        payment.status = "captured"
        self.notify(payment)
        return JSONResponse(payment.as_json())

    async def api_refund(self, request: Request) -> Response:
        payment = self._own_payment(request)
        if isinstance(payment, Response):
            return payment
        amount = await self._requested_amount(request, payment)
        if isinstance(amount, Response):
            return amount
        if payment.status not in ("captured", "partially_refunded"):
            return _json_error(409, f"only captured payments can be refunded; this one "
                                    f"is {payment.status}")
        remaining = payment.captured_amount - payment.refunded_amount
        refund = remaining if amount is None else amount
        if refund > remaining:
            return _json_error(400, f"cannot refund more than the remaining "
                                    f"{payment.format(remaining)} {payment.currency}")
        payment.refunded_amount += refund
        fully = payment.refunded_amount >= payment.captured_amount
        payment.status = "refunded" if fully else "partially_refunded"
        self.notify(payment)
        return JSONResponse(payment.as_json())

    async def api_cancel(self, request: Request) -> Response:
        payment = self._own_payment(request)
        if isinstance(payment, Response):
            return payment
        if payment.status != "authorized":
            return _json_error(409, f"only authorized, uncaptured payments can be "
                                    f"cancelled; this one is {payment.status}")
        payment.status = "cancelled"
        self.notify(payment)
        return JSONResponse(payment.as_json())


def create_gateway_app(config: GatewayConfig) -> Starlette:
    """A new gateway app with its own, empty, in-memory payment store.

    Its lifespan cancels webhooks still pending on shutdown. When the app is mounted in
    another one, that app's lifespan should enter this one's
    (``gateway.router.lifespan_context(gateway)``).
    """
    gateway = _Gateway(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await gateway.aclose()

    routes = [
        Route("/health", gateway.health, methods=["GET"], name="health"),
        Route("/assets/gateway.css", gateway.stylesheet_response, methods=["GET"],
              name="stylesheet"),
        Route("/pay", gateway.create_payment, methods=["POST"], name="pay"),
        Route("/pay/{payment_id}", gateway.show_card_page, methods=["GET"], name="card_page"),
        Route("/pay/{payment_id}/submit", gateway.submit, methods=["POST"], name="submit"),
        Route("/api/payments", gateway.api_list, methods=["GET"], name="api_list"),
        Route("/api/payments/{payment_id}", gateway.api_get, methods=["GET"], name="api_get"),
        Route("/api/payments/{payment_id}/capture", gateway.api_capture, methods=["POST"],
              name="api_capture"),
        Route("/api/payments/{payment_id}/refund", gateway.api_refund, methods=["POST"],
              name="api_refund"),
        Route("/api/payments/{payment_id}/cancel", gateway.api_cancel, methods=["POST"],
              name="api_cancel"),
    ]
    middleware = [Middleware(_SecurityHeaders, headers=security_headers(config))]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    max_body_size=MAX_BODY_SIZE)
    gateway.app = app
    app.state.gateway = gateway
    app.state.config = config
    app.state.payments = gateway.payments
    app.state.tasks = gateway.tasks
    return app
