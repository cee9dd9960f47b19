"""Checkout use cases: prepare an order for payment, hand the shopper to the gateway, and
take the gateway's news (browser returns and webhooks) to the one finalization path.

Never is a database transaction held open while a gateway is called: preparing,
rendering the hand-over and recording results are separate units of work.
"""

from __future__ import annotations

import logging
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
from kasse.domain.events import (
    DomainEvent,
    PaymentFailed,
    PaymentGiveBackFailed,
    PaymentGivenBack,
    PaymentNotApplied,
)
from kasse.domain.order import InsufficientStock, Order
from kasse.domain.order_calculation import calculate
from kasse.domain.payment import PaymentStatus
from kasse.domain.settlement import PaymentNews, Settlement, advance, settle
from kasse.domain.stock import name_of, needs_of
from kasse.domain.store import PaymentMethod, Product, StoreConfig
from kasse.payments.provider import (
    CANCEL,
    REFUND,
    HostedForm,
    ManagesPayments,
    PaymentOperation,
    PaymentProvider,
    PaymentRefused,
    PaymentRequest,
    PaymentResult,
    PaymentUrls,
    ProviderError,
    missing_settings,
    reports_amount,
)
from kasse.payments.registry import ProviderRegistry, UnknownProvider
from kasse.services import telemetry
from kasse.services.catalog import StoreDirectory
from kasse.services.finalization import finalize
from kasse.services.orders import utcnow
from kasse.services.ports import OrderUnit, Storage
from kasse.services.retry import retrying

PAYMENT_NOT_APPLIED = PaymentNotApplied.topic
PAYMENT_GIVEN_BACK = PaymentGivenBack.topic
PAYMENT_GIVE_BACK_FAILED = PaymentGiveBackFailed.topic
ALREADY_PAID = "the order was already paid by another transaction"
PAYMENT_FAILED = PaymentFailed.topic
HOSTED = "hosted"
INLINE = "inline"
CALLBACK_PATH = "/umbraco/commerce/payment/callback"
PAY_PATH = "/umbraco/commerce/storefront/api/v1/checkout/{order_id}/pay/{token}"
log = logging.getLogger("kasse.checkout")


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


@dataclass(frozen=True, slots=True)
class Unapplied:
    """A payment taken that could not be applied, to give back once committed."""

    config: StoreConfig
    method: PaymentMethod
    order: Order
    result: PaymentResult
    event: PaymentNotApplied
    """What the merchant was told: transaction, amount, currency and reason."""


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
                 token_ttl: timedelta = timedelta(minutes=60),
                 reservation_time: timedelta | None = None) -> None:
        self.reservation_time = reservation_time
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
        unset = method.unset_settings()
        if unset:  # the variable's name stays in the server's log, out of answers
            raise CheckoutInvalid(f"payment method {method.alias!r} is not set up: "
                                  + "; ".join(f"setting {s.key} has no value on this server"
                                              for s in unset))
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
                    config.store, references, order_id=order.id)} if references else {}
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
                await self._reserve(unit, config, order, products, now)
                unit.on_commit(lambda: telemetry.count("checkouts_started", kind=kind))
            return Prepared(order, attempt, token)

        return await retrying(work, f"order {order_id}")

    async def _reserve(self, unit: OrderUnit, config: StoreConfig, order: Order,
                       products: Mapping[str, Product], now: datetime) -> None:
        """Hold the stock the order needs while it is paid, for the store's hold time (a
        new token or initialize holds it anew, for the full time); refuse, naming the
        item, what is not there."""
        hold = self.reservation_time or timedelta(minutes=config.store.stock_hold_minutes)
        short = await unit.stock.reserve(order.store_id, order.id,
                                         needs_of(order, products), now + hold)
        if short:
            item = short[0]
            raise InsufficientStock(
                f"only {item.available.normalize():f} of {name_of(item.item_id, products)} "
                "available: other shoppers are paying for the rest")

    # --- the hosted pages --------------------------------------------------------------

    async def _by_token(self, unit: OrderUnit, order_id: UUID, token: str
                        ) -> tuple[CheckoutAttempt, StoreConfig, Order]:
        """The token's attempt, its store and its order (locked for update), with the
        attempt read again once the order is locked: whatever finished the checkout
        meanwhile (a webhook in another process) is what decisions are made on."""
        found = await unit.checkout.attempt_by_token(token_hash(token))
        if found is None or found.order_id != order_id:
            raise TokenInvalid("the checkout token is not valid for this order; get a new "
                               "token")
        config = await self.stores.get(str(found.store_id))
        order = await unit.orders.get(found.store_id, order_id, for_update=True)
        if order is None:
            raise NotFound(f"no order with id {order_id}")
        attempt = await unit.checkout.attempt(found.id) or found
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

        On ``completed`` a provider that can prove the payment settles it here, whichever
        of this return and the webhook comes first. A proven payment that cannot be
        applied (the cart changed while the shopper was at the gateway, or another payment
        placed the order first) is reported once and given back where the provider can,
        and the shopper lands on the error route.
        """
        async def work() -> tuple[Outcome, list[Unapplied]]:
            pending: list[Unapplied] = []
            async with self.storage.ordering(write=True) as unit:
                attempt, config, order = await self._by_token(unit, order_id, token)
                method = config.payment_method_by_id(attempt.payment_method_id)
                settings = method_settings(method) if method else {}
                outcome = status
                if status == "completed" and method is not None:
                    outcome = await self._completed(unit, config, order, attempt, method,
                                                    query, pending)
                elif status in ("canceled", "errored") and not order.is_finalized:
                    failure = PaymentStatus.CANCELLED if status == "canceled" \
                        else PaymentStatus.ERROR
                    await self._settle(unit, config, method, order, attempt, PaymentResult(
                        reference=attempt.reference, status=failure), pending)
                if order.is_finalized and attempt.status is AttemptStatus.COMPLETED:
                    outcome = "completed"
            return Outcome(outcome, order, attempt, settings), given_back_once(unit, pending)

        outcome, unapplied = await retrying(work, f"order {order_id}")
        await self._give_back_all(unapplied)
        return outcome

    async def _completed(self, unit: OrderUnit, config: StoreConfig, order: Order,
                         attempt: CheckoutAttempt, method: PaymentMethod,
                         query: Mapping[str, str], pending: list[Unapplied]) -> str:
        """A return on the continue URL; the order and the attempt were read under lock."""
        provider = self.provider_for(method)
        if order.is_finalized and attempt.status is AttemptStatus.COMPLETED:
            return "completed"  # this attempt's payment placed the order
        if not order.is_finalized and not reports_amount(provider) \
                and attempt.expired(self.clock()):
            # The token alone proves this kind of payment: an expired one proves nothing.
            raise TokenInvalid("the checkout token has expired; get a new token")
        result = provider.verify_return(method_settings(method), query, attempt.reference) \
            if provider.finalizes_at_continue or order.is_finalized else None
        if result is None:
            if provider.finalizes_at_continue and not order.is_finalized:
                raise ReturnUnverified("the payment return could not be verified; if you "
                                       "paid, the order completes when the gateway "
                                       "confirms it")
            return "completed"  # the webhook settles it
        outcome = await self._settle(unit, config, method, order, attempt, result, pending)
        if order.is_finalized:
            return "completed"  # by this payment, or already by another one
        return "errored" if result.status.fails or outcome.startswith("not_applied") \
            else "completed"

    async def _settle(self, unit: OrderUnit, config: StoreConfig, method: PaymentMethod | None,
                      order: Order, attempt: CheckoutAttempt, result: PaymentResult,
                      pending: list[Unapplied]) -> str:
        """Carry out what the settlement machine decides for ``result`` (a browser return
        or a webhook); returns what happened, for the inbox and the log."""
        if result.status.fails and attempt.status is AttemptStatus.OPEN \
                and not order.is_finalized:
            attempt.status = (AttemptStatus.CANCELLED
                              if result.status is PaymentStatus.CANCELLED
                              else AttemptStatus.ERRORED)
            await unit.checkout.save_attempt(attempt)
        news = PaymentNews(result.transaction_id or attempt.reference, result.status,
                           result.amount)
        current = True
        if result.status.fails and not order.is_finalized:
            latest = await unit.checkout.latest_attempt(order.id, attempt.kind)
            current = latest is None or latest.id == attempt.id
        decision = settle(order, news, current_attempt=current)
        now = self.clock()
        if decision is Settlement.FINALIZE:
            assert method is not None  # noqa: S101 (only proven payments finalize)
            refused = await self._finalize(unit, config, method, order, attempt, result,
                                           pending)
            return "finalized" if refused is None else f"not_applied_{refused}"
        if decision is Settlement.REPEAT:
            return "already_finalized"
        if decision is Settlement.ADVANCE:
            currency = config.currency_by_id(order.currency_id)
            advance(order, news, now, cause=f"event:{result.event_id or result.status.value}",
                    currency_code=currency.code if currency else None)
            await unit.orders.save(order)
            return "status_updated"
        if decision is Settlement.NOT_APPLIED:
            assert method is not None  # noqa: S101
            self._not_applied(config, method, order, attempt, result, ALREADY_PAID, pending)
            return "not_applied_other_transaction_finalized"
        if decision is Settlement.FAIL:
            if order.payment_failed(result.status, now, reference=attempt.reference,
                                    checkout=attempt.kind, amount=attempt.amount):
                await unit.orders.save(order)
            await unit.stock.release(order.id)  # a new checkout holds it anew
            return "payment_failed"
        if result.status.fails and not order.is_finalized:
            return "payment_failed"  # an older attempt's failure: recorded on it only
        return "late_news_recorded" if order.is_finalized else "ignored"

    async def _finalize(self, unit: OrderUnit, config: StoreConfig, method: PaymentMethod,
                        order: Order, attempt: CheckoutAttempt, result: PaymentResult,
                        pending: list[Unapplied]) -> str | None:
        """Finalize for a proven payment. When the order changed since the payment was
        started, or the payment is of another amount or currency, nothing of it is kept,
        the payment is reported as not applied, and what was wrong is returned."""
        try:
            async with unit.savepoint():
                await finalize(unit, config, order, attempt, result, self.clock(),
                               amount_reported=reports_amount(self.provider_for(method)))
        except (CartChanged, AmountMismatch) as exc:
            if attempt.status is AttemptStatus.OPEN:
                attempt.status = AttemptStatus.ERRORED
                await unit.checkout.save_attempt(attempt)
            self._not_applied(config, method, order, attempt, result, str(exc), pending)
            return "amount_mismatch" if isinstance(exc, AmountMismatch) else "order_changed"
        return None

    def _not_applied(self, config: StoreConfig, method: PaymentMethod, order: Order,
                     attempt: CheckoutAttempt, result: PaymentResult, reason: str,
                     pending: list[Unapplied]) -> None:
        """A payment taken that cannot be applied to its order: reported to the merchant
        once per transaction (through the outbox), and given back after the commit where
        the provider can. Never called for the payment that finalized the order."""
        if not reports_amount(self.provider_for(method)):
            return  # no gateway took money (invoicing): there is nothing to give back
        currency = config.currency_by_id(order.currency_id)
        amount = result.amount if result.amount is not None else attempt.amount
        event = order.payment_not_applied(
            self.clock(), transaction_id=result.transaction_id or result.reference,
            reference=result.reference, status=result.status, amount=amount,
            currency_code=result.currency_code or (currency.code if currency else None),
            reason=reason)
        pending.append(Unapplied(config, method, order, result, event))

    async def _give_back_all(self, unapplied: list[Unapplied]) -> None:
        for item in unapplied:
            await self._give_back(item)

    async def _give_back(self, item: Unapplied) -> None:
        """Void (authorized) or refund (captured) a payment that was not applied, with no
        transaction open, and record what the gateway answered."""
        provider = self.provider_for(item.method)
        status = item.result.status
        kind = CANCEL if status is PaymentStatus.AUTHORIZED else \
            REFUND if status is PaymentStatus.CAPTURED else None
        if kind is None or kind not in provider.capabilities \
                or not isinstance(provider, ManagesPayments):
            return  # the merchant has the payment.not_applied event to act on
        currency = item.config.currency_by_id(item.order.currency_id)
        transaction = item.event.transaction_id
        async with self.storage.ordering(write=False) as unit:
            now = await unit.orders.get(item.order.store_id, item.order.id)
        if now is not None and now.is_finalized and now.transaction_id == transaction:
            # Never give back the payment that placed the order, whatever decided otherwise.
            log.error("payment %s placed order %s; it is not given back", transaction,
                      now.order_number)
            return
        operation = PaymentOperation(
            transaction_id=transaction, reference=item.result.reference,
            operation_id=f"{item.result.reference}-not-applied-{kind}",
            currency_code=currency.code if currency else "", amount=None,
            settings=method_settings(item.method), metadata=item.result.metadata)
        event: DomainEvent
        order = item.order
        try:
            given = await (provider.cancel(operation) if kind == CANCEL
                           else provider.refund(operation))
            event = PaymentGivenBack(order.store_id, order.id, order.order_number,
                                     self.clock(), transaction, kind, item.event.amount,
                                     item.event.currency, given.status, item.event.reason)
        except (ProviderError, PaymentRefused) as exc:
            log.warning("payment %s of order %s was not applied and could not be given "
                        "back: %s", transaction, order.order_number, exc)
            event = PaymentGiveBackFailed(order.store_id, order.id, order.order_number,
                                          self.clock(), transaction, kind,
                                          item.event.amount, item.event.currency,
                                          str(exc)[:300], item.event.reason)

        async def record() -> None:
            async with self.storage.ordering(write=True) as unit:
                unit.record(event)

        await retrying(record, f"payment {transaction}")

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

        async def work() -> tuple[str, list[Unapplied]]:
            pending: list[Unapplied] = []
            async with self.storage.ordering(write=True) as unit:
                event_id = result.event_id or f"{result.reference}:{result.status.value}"
                fresh = await unit.checkout.record_event(
                    provider.alias, event_id, reference=result.reference,
                    status=result.status.value, outcome="received",
                    payload={"transactionId": result.transaction_id,
                             "amount": None if result.amount is None else f"{result.amount:f}",
                             "currency": result.currency_code},
                    at=self.clock())
                if not fresh:
                    return "duplicate", []
                outcome = await self._apply(unit, config, method, result, pending)
                await unit.checkout.set_event_outcome(provider.alias, event_id, outcome)
            return outcome, given_back_once(unit, pending)

        outcome, unapplied = await retrying(work, f"payment {result.reference}")
        await self._give_back_all(unapplied)
        return outcome

    async def _apply(self, unit: OrderUnit, config: StoreConfig, method: PaymentMethod,
                     result: PaymentResult, pending: list[Unapplied]) -> str:
        try:
            reference = UUID(hex=result.reference)
        except ValueError:
            return "unknown_reference"
        found = await unit.checkout.attempt(reference)
        if found is None or found.store_id != config.store.id:
            return "unknown_reference"
        order = await unit.orders.get(found.store_id, found.order_id, for_update=True)
        if order is None:
            return "unknown_order"
        # Read again under the order's lock: decisions are made on what is true now.
        attempt = await unit.checkout.attempt(reference) or found
        return await self._settle(unit, config, method, order, attempt, result, pending)


def given_back_once(unit: OrderUnit, pending: list[Unapplied]) -> list[Unapplied]:
    """The payments reported as not applied for the first time by this (committed) unit:
    only those are given back, however often the gateway and the browser report them."""
    fresh = {id(event) for event, new in unit.published if new}
    return [item for item in pending if id(item.event) in fresh]
