"""Checkout use cases: prepare an order for payment, hand the shopper to the gateway, and
take the gateway's news (browser returns and webhooks) to the one finalization path.

Never is a database transaction held open while a gateway is called: preparing,
rendering the hand-over and recording results are separate units of work.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from kasse.domain.checkout import (
    AmountMismatch,
    AttemptStatus,
    CartChanged,
    CheckoutAttempt,
    CheckoutInvalid,
    Mode,
    TokenInvalid,
    fingerprint,
    token_hash,
    validate_for_payment,
)
from kasse.domain.errors import DomainError, InvalidInput, NotFound
from kasse.domain.order import Order
from kasse.domain.order_calculation import calculate
from kasse.domain.payment import PaymentStatus, moves_forward
from kasse.domain.store import PaymentMethod, StoreConfig
from kasse.payments.provider import (
    HostedForm,
    PaymentProvider,
    PaymentRefused,
    PaymentRequest,
    PaymentResult,
    PaymentUrls,
    ProviderError,
    missing_settings,
)
from kasse.payments.registry import ProviderRegistry, UnknownProvider
from kasse.services import telemetry
from kasse.services.catalog import StoreDirectory
from kasse.services.finalization import finalize
from kasse.services.orders import utcnow
from kasse.services.payment_status import record_payment_status
from kasse.services.ports import OrderUnit, Storage
from kasse.services.retry import retrying

PAYMENT_NOT_APPLIED = "payment.not_applied"
PAYMENT_FAILED = "order.payment_failed"
HOSTED = "hosted"
INLINE = "inline"
CALLBACK_PATH = "/umbraco/commerce/payment/callback"
PAY_PATH = "/umbraco/commerce/storefront/api/v1/checkout/{order_id}/pay/{token}"


@dataclass(frozen=True, slots=True)
class Prepared:
    order: Order
    attempt: CheckoutAttempt
    token: str | None


@dataclass(frozen=True, slots=True)
class PayPage:
    order: Order
    attempt: CheckoutAttempt
    form: HostedForm
    amount_text: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where a browser return leaves the shopper."""

    status: str  # completed, canceled or errored
    order: Order
    attempt: CheckoutAttempt
    settings: Mapping[str, str]


def method_settings(method: PaymentMethod) -> dict[str, str]:
    """All settings, secret ones included: for providers only, never for responses."""
    return {s.key: s.value for s in method.settings}


def pay_url(base_url: str, order_id: UUID, token: str) -> str:
    return base_url.rstrip("/") + PAY_PATH.format(order_id=order_id, token=token)


def callback_url(base_url: str, provider: PaymentProvider, method: PaymentMethod) -> str:
    return f"{base_url.rstrip('/')}{CALLBACK_PATH}/{provider.alias}/{method.id}"


class ReturnUnverified(InvalidInput):
    code = "return_unverified"


class GatewayUnavailable(DomainError):
    """The payment gateway failed technically (a retry may work); nothing was changed."""

    code = "gateway_unavailable"



class Checkout:
    def __init__(self, storage: Storage, stores: StoreDirectory, registry: ProviderRegistry,
                 *, clock: Callable[[], datetime] = utcnow,
                 token_ttl: timedelta = timedelta(minutes=60)) -> None:
        self.storage = storage
        self.stores = stores
        self.registry = registry
        self.clock = clock
        self.token_ttl = token_ttl

    def provider_for(self, method: PaymentMethod) -> PaymentProvider:
        try:
            provider = self.registry.get(method.provider_alias)
        except UnknownProvider as exc:
            raise CheckoutInvalid(f"payment method {method.alias!r}: {exc}") from None
        problems = missing_settings(provider, method_settings(method))
        if problems:
            raise CheckoutInvalid(f"payment method {method.alias!r} is not set up: "
                                  + "; ".join(problems))
        return provider

    # --- preparing ---------------------------------------------------------------------

    async def prepare(self, config: StoreConfig, order_id: UUID, kind: str, *,
                      mode: Mode | None = None, origin: str | None = None) -> Prepared:
        """Validate, number the order, initialize its transaction and record the attempt."""
        async def work() -> Prepared:
            async with self.storage.ordering(write=True) as unit:
                order = await unit.orders.get(config.store.id, order_id, for_update=True)
                if order is None:
                    raise NotFound(f"no order with id {order_id}")
                calculation = calculate(order, config)
                references = sorted({line.product_reference for line, _ in order.all_lines()})
                products = {p.reference: p for p in await unit.catalog.products_by_reference(
                    config.store, references)} if references else {}
                validate_for_payment(order, calculation, config, products)
                method = config.payment_method_by_id(order.payment_method_id)
                assert method is not None  # noqa: S101 (validated above)
                self.provider_for(method)
                if order.order_number is None:
                    number = await unit.orders.next_number(config.store.id, "order")
                    order.initialize_transaction(
                        config.store.order_number_template.replace("{0}", f"{number:05d}"))
                else:
                    order.initialize_transaction(order.order_number)
                now = self.clock()
                order.updated_at = now
                token = secrets.token_urlsafe(32) if kind == HOSTED else None
                attempt = CheckoutAttempt(
                    id=uuid4(), order_id=order.id, store_id=order.store_id, kind=kind,
                    payment_method_id=method.id, amount=calculation.transaction_amount,
                    currency_id=order.currency_id,
                    fingerprint=fingerprint(order, calculation), created_at=now,
                    expires_at=now + self.token_ttl,
                    token_hash=token_hash(token) if token else None, mode=mode,
                    origin=origin)
                await unit.orders.save(order)
                await unit.checkout.add_attempt(attempt)
                unit.on_commit(lambda: telemetry.count("checkouts_started", kind=kind))
            return Prepared(order, attempt, token)

        return await retrying(work, f"order {order_id}")

    # --- the hosted pages --------------------------------------------------------------

    async def _by_token(self, unit: OrderUnit, order_id: UUID, token: str
                        ) -> tuple[CheckoutAttempt, StoreConfig, Order]:
        attempt = await unit.checkout.attempt_by_token(token_hash(token))
        if attempt is None or attempt.order_id != order_id:
            raise TokenInvalid("the checkout token is not valid for this order; get a new "
                               "token")
        config = await self.stores.get(str(attempt.store_id))
        order = await unit.orders.get(attempt.store_id, order_id, for_update=True)
        if order is None:
            raise NotFound(f"no order with id {order_id}")
        return attempt, config, order

    async def pay_page(self, order_id: UUID, token: str, base_url: str) -> PayPage:
        async with self.storage.ordering(write=False) as unit:
            attempt, config, order = await self._by_token(unit, order_id, token)
        if attempt.expired(self.clock()):
            raise TokenInvalid("the checkout token has expired; get a new token")
        if attempt.status is not AttemptStatus.OPEN or order.is_finalized:
            raise TokenInvalid(f"this checkout is {attempt.status.value}; get a new token to "
                               "pay again" if not order.is_finalized
                               else "the order is already paid")
        calculation = calculate(order, config)
        if fingerprint(order, calculation) != attempt.fingerprint:
            raise CartChanged("the order changed after this token was issued; get a new "
                              "token")
        method = config.payment_method_by_id(attempt.payment_method_id)
        if method is None:
            raise CheckoutInvalid("the payment method of this checkout no longer exists")
        provider = self.provider_for(method)
        currency = config.currency_by_id(order.currency_id)
        assert currency is not None  # noqa: S101 (an order's currency is the store's)
        url = pay_url(base_url, order_id, token)
        request = PaymentRequest(
            reference=attempt.reference, order_number=order.order_number or "",
            amount=attempt.amount, currency_code=currency.code,
            decimal_places=currency.decimal_places,
            description=f"{config.store.name} order {order.order_number}",
            settings=method_settings(method),
            urls=PaymentUrls(continue_url=f"{url}/completed", cancel_url=f"{url}/canceled",
                             error_url=f"{url}/errored",
                             callback_url=callback_url(base_url, provider, method)),
            customer_email=order.properties.get("email"))
        try:
            handed = provider.hosted_form(request)
            # A coroutine when the provider asks its gateway first (no transaction is open).
            form = handed if isinstance(handed, HostedForm) else await handed
        except ProviderError as exc:
            raise GatewayUnavailable(f"the payment gateway is not available: {exc}") from None
        except PaymentRefused as exc:
            raise CheckoutInvalid(f"the payment gateway refused this payment: {exc}") from None
        return PayPage(order, attempt, form, f"{attempt.amount:f} {currency.code}")

    async def returned(self, order_id: UUID, token: str, status: str,
                       query: Mapping[str, str]) -> Outcome:
        """The shopper is back from the gateway on ``completed``, ``canceled`` or ``errored``.

        On ``completed`` a provider that can prove the payment finalizes here, whichever of
        this return and the webhook comes first.
        """
        async def work() -> Outcome:
            async with self.storage.ordering(write=True) as unit:
                attempt, config, order = await self._by_token(unit, order_id, token)
                method = config.payment_method_by_id(attempt.payment_method_id)
                settings = method_settings(method) if method else {}
                outcome = status
                if status == "completed" and method is not None and order.is_finalized \
                        and attempt.status is not AttemptStatus.COMPLETED:
                    # Paid again with another token although the order was already paid.
                    provider = self.provider_for(method)
                    result = provider.verify_return(settings, query, attempt.reference)
                    if result is not None and result.status.finalizes:
                        await self._not_applied(unit, order, result)
                elif status == "completed" and method is not None and not order.is_finalized:
                    provider = self.provider_for(method)
                    result = provider.verify_return(settings, query, attempt.reference) \
                        if provider.finalizes_at_continue else None
                    if result is None and provider.finalizes_at_continue:
                        raise ReturnUnverified("the payment return could not be verified; "
                                               "if you paid, the order completes when the "
                                               "gateway confirms it")
                    if result is not None and result.status.finalizes:
                        await finalize(unit, config, order, attempt, result, self.clock())
                    elif result is not None and result.status.fails:
                        outcome = "errored"
                        await self._failed(unit, order, attempt, result.status)
                elif status in ("canceled", "errored") and not order.is_finalized:
                    failure = PaymentStatus.CANCELLED if status == "canceled" \
                        else PaymentStatus.ERROR
                    await self._failed(unit, order, attempt, failure)
                if order.is_finalized and attempt.status is AttemptStatus.COMPLETED:
                    outcome = "completed"
            return Outcome(outcome, order, attempt, settings)

        return await retrying(work, f"order {order_id}")

    async def _failed(self, unit: OrderUnit, order: Order, attempt: CheckoutAttempt,
                      status: PaymentStatus) -> None:
        """Cancel is not a dead end: the cart stays open and a new token pays."""
        if attempt.status is AttemptStatus.OPEN:
            attempt.status = (AttemptStatus.CANCELLED if status is PaymentStatus.CANCELLED
                              else AttemptStatus.ERRORED)
            await unit.checkout.save_attempt(attempt)
        latest = await unit.checkout.latest_attempt(order.id, attempt.kind)
        current = latest is None or latest.id == attempt.id
        # News about an older attempt must not paint a payment under way as failed.
        if current and not order.is_finalized and order.payment_status != status.value:
            order.payment_failed(status.value)
            order.updated_at = self.clock()
            await unit.orders.save(order)
            # For the merchant, through the outbox: once per attempt and status however
            # often the gateway and the browser report it.
            await unit.checkout.add_outbox_event(
                store_id=order.store_id, topic=PAYMENT_FAILED, aggregate_id=order.id,
                payload={"orderId": str(order.id), "orderNumber": order.order_number,
                         "paymentStatus": status.value, "reference": attempt.reference,
                         "checkout": attempt.kind, "amount": f"{attempt.amount:f}"},
                at=order.updated_at,
                dedupe_key=f"{PAYMENT_FAILED}:{attempt.reference}:{status.value}")

    async def _not_applied(self, unit: OrderUnit, order: Order, result: PaymentResult
                           ) -> None:
        """A successful payment for an order already paid by another: the shop must refund
        it, so it is reported (once per transaction) through the outbox."""
        transaction = result.transaction_id or result.reference
        await unit.checkout.add_outbox_event(
            store_id=order.store_id, topic=PAYMENT_NOT_APPLIED, aggregate_id=order.id,
            payload={"orderId": str(order.id), "orderNumber": order.order_number,
                     "transactionId": transaction, "reference": result.reference,
                     "amount": None if result.amount is None else f"{result.amount:f}",
                     "reason": "the order was already paid by another transaction"},
            at=self.clock(), dedupe_key=f"{PAYMENT_NOT_APPLIED}:{transaction}")

    # --- gateway webhooks --------------------------------------------------------------

    async def callback(self, provider_alias: str, method_id: UUID, body: bytes,
                       headers: Mapping[str, str]) -> str:
        """Verify before any work, record once in the inbox, apply idempotently.

        Returns what happened (for the log and the gateway's response).
        """
        found = await self.stores.payment_method(method_id)
        if found is None or found[1].provider_alias.lower() != provider_alias.lower():
            raise NotFound(f"no {provider_alias} payment method {method_id}")
        config, method = found
        provider = self.registry.get(method.provider_alias)
        result = provider.parse_callback(method_settings(method), body, headers)
        if result is None:
            return "ignored"

        async def work() -> str:
            async with self.storage.ordering(write=True) as unit:
                event_id = result.event_id or f"{result.reference}:{result.status.value}"
                fresh = await unit.checkout.record_event(
                    provider.alias, event_id, reference=result.reference,
                    status=result.status.value, outcome="received",
                    payload={"transactionId": result.transaction_id,
                             "amount": None if result.amount is None else f"{result.amount:f}"},
                    at=self.clock())
                if not fresh:
                    return "duplicate"
                outcome = await self._apply(unit, config, result)
                await unit.checkout.set_event_outcome(provider.alias, event_id, outcome)
                return outcome

        return await retrying(work, f"payment {result.reference}")

    async def _apply(self, unit: OrderUnit, config: StoreConfig, result: PaymentResult
                     ) -> str:
        try:
            attempt = await unit.checkout.attempt(UUID(hex=result.reference))
        except ValueError:
            attempt = None
        if attempt is None or attempt.store_id != config.store.id:
            return "unknown_reference"
        order = await unit.orders.get(attempt.store_id, attempt.order_id, for_update=True)
        if order is None:
            return "unknown_order"
        if result.status.finalizes and not order.is_finalized:
            try:
                await finalize(unit, config, order, attempt, result, self.clock())
            except (CartChanged, AmountMismatch):
                return "not_applied_order_changed"
            return "finalized"
        if order.is_finalized:
            current = PaymentStatus(order.payment_status or PaymentStatus.AUTHORIZED.value)
            same = order.transaction_id == (result.transaction_id or attempt.reference)
            if same and result.status is current:
                return "already_finalized"
            if same and moves_forward(current, result.status):
                currency = config.currency_by_id(order.currency_id)
                await record_payment_status(
                    unit, order, result.status, self.clock(),
                    cause=f"event:{result.event_id or result.status.value}",
                    amount=result.amount, currency_code=currency.code if currency else None)
                return "status_updated"
            if not same and result.status.finalizes:
                await self._not_applied(unit, order, result)
                return "not_applied_other_transaction_finalized"
            return "late_news_recorded"
        if result.status.fails:
            await self._failed(unit, order, attempt, result.status)
            return "payment_failed"
        return "ignored"
