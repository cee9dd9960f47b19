"""The ``stripe-checkout`` payment provider.

Hosted: each payment attempt gets a Stripe Checkout Session (one line: the order's
transaction amount) and the pay page sends the shopper to it. Inline: the storefront asks
``{urls.callback}?create=paymentIntent`` for a PaymentIntent's client secret, confirms it
with Stripe.js and then calls kasse's ``confirm``. In both flows the signed webhook alone
is enough to finalize the order, so a shopper who never comes back still has an order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from kasse.domain.payment import PaymentStatus
from kasse.payments.builtin import RETURN_SETTINGS
from kasse.payments.provider import (
    CANCEL,
    CAPTURE,
    FETCH_STATUS,
    REFUND,
    ClientPayment,
    HostedForm,
    MetaDataDefinition,
    PaymentOperation,
    PaymentRefused,
    PaymentRequest,
    PaymentResult,
    ProviderError,
    SettingDefinition,
)
from kasse.payments.stripe.amounts import AmountNotAccepted, from_minor_units, to_minor_units
from kasse.payments.stripe.client import Params, idempotency_key, stripe_api
from kasse.payments.stripe.webhooks import REFERENCE_KEY, read_event, verified_event

ALIAS = "stripe-checkout"
PAYMENT_INTENT = "paymentIntent"
CLIENT_SECRET = "clientSecret"  # noqa: S105 (the response field name, not a secret)


def _flag(value: str) -> str | None:
    return None if value.strip().lower() in ("true", "false") else "must be true or false"


def _prefixed(*prefixes: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if value.startswith(prefixes):
            return None
        return "must start with " + " or ".join(prefixes)
    return check


# Test keys only in the Test settings and live keys only in the Live ones: test mode must
# never charge real money.
SETTINGS = (
    *RETURN_SETTINGS,
    SettingDefinition("TestSecretKey", "Test secret key", secret=True,
                      check=_prefixed("sk_test_", "rk_test_"),
                      description="sk_test_… (or a restricted rk_test_… key)"),
    SettingDefinition("TestPublicKey", "Test publishable key", check=_prefixed("pk_test_"),
                      description="pk_test_…; given to the storefront for Stripe.js"),
    SettingDefinition("TestWebhookSigningSecret", "Test webhook signing secret",
                      secret=True, check=_prefixed("whsec_")),
    SettingDefinition("LiveSecretKey", "Live secret key", secret=True,
                      check=_prefixed("sk_live_", "rk_live_")),
    SettingDefinition("LivePublicKey", "Live publishable key", check=_prefixed("pk_live_")),
    SettingDefinition("LiveWebhookSigningSecret", "Live webhook signing secret",
                      secret=True, check=_prefixed("whsec_")),
    SettingDefinition("TestMode", "Test mode", check=_flag,
                      description="true (the default): use the Test keys; false: Live"),
    SettingDefinition("Capture", "Capture", check=_flag,
                      description="true: capture at once; false (the default): authorize "
                                  "only and capture later (kasse payment capture)"),
)


@dataclass(frozen=True, slots=True)
class _Account:
    secret_key: str
    webhook_secret: str
    test: bool


def _is_on(settings: Mapping[str, str], key: str, default: bool) -> bool:
    value = settings.get(key, "").strip().lower()
    return default if not value else value == "true"


def _account(settings: Mapping[str, str]) -> _Account:
    test = _is_on(settings, "TestMode", True)
    prefix = "Test" if test else "Live"
    return _Account(settings.get(f"{prefix}SecretKey", "").strip(),
                    settings.get(f"{prefix}WebhookSigningSecret", "").strip(), test)


def _capture_at_once(settings: Mapping[str, str]) -> bool:
    return _is_on(settings, "Capture", False)


def _minor(amount: Decimal, currency_code: str) -> int:
    try:
        return to_minor_units(amount, currency_code)
    except AmountNotAccepted as exc:
        raise PaymentRefused(str(exc)) from None


def _metadata_of(item: Params) -> Params:
    metadata = item.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _intent_status(intent: Params) -> PaymentStatus:
    return {
        "requires_capture": PaymentStatus.AUTHORIZED,
        "succeeded": PaymentStatus.CAPTURED,
        "canceled": PaymentStatus.CANCELLED,
        "processing": PaymentStatus.PENDING_EXTERNAL_SYSTEM,
    }.get(str(intent.get("status")), PaymentStatus.INITIALIZED)


@dataclass(frozen=True)
class StripeCheckoutProvider:
    """Stripe through its official SDK; ``api_base`` points it at a Stripe-compatible
    server instead of Stripe (tests)."""

    api_base: str | None = None
    alias: str = ALIAS
    settings: tuple[SettingDefinition, ...] = SETTINGS
    metadata: tuple[MetaDataDefinition, ...] = (
        MetaDataDefinition("stripeSessionId", "Stripe checkout session id"),
        MetaDataDefinition("stripePaymentIntentId", "Stripe payment intent id"),
        MetaDataDefinition("stripeChargeId", "Stripe charge id"),
        MetaDataDefinition("stripeCustomerId", "Stripe customer id"),
    )
    capabilities: frozenset[str] = field(
        default_factory=lambda: frozenset({CAPTURE, CANCEL, REFUND, FETCH_STATUS}))
    # Stripe's return to the success URL proves nothing; the signed webhook finalizes.
    finalizes_at_continue: bool = False
    client_payment_kinds: frozenset[str] = frozenset({PAYMENT_INTENT})

    def setting_problems(self, values: Mapping[str, str]) -> list[str]:
        """The keys that the chosen mode (test or live) needs must be there."""
        prefix = "Test" if _is_on(values, "TestMode", True) else "Live"
        return [f"setting {prefix}{key} is required when TestMode is "
                f"{'true' if prefix == 'Test' else 'false'}"
                for key in ("SecretKey", "WebhookSigningSecret")
                if not values.get(f"{prefix}{key}", "").strip()]

    # --- hosted ------------------------------------------------------------------------

    async def hosted_form(self, request: PaymentRequest) -> HostedForm:
        """A Checkout Session for this payment attempt; the pay page goes to its URL.

        The same attempt asks again with the same idempotency key, so a reloaded pay page
        gets the same session rather than a second one.
        """
        metadata = self._metadata(request)
        params: Params = {
            "mode": "payment",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": request.currency_code.lower(),
                "unit_amount": _minor(request.amount, request.currency_code),
                "product_data": {"name": request.description}}}],
            "client_reference_id": request.reference,
            "metadata": metadata,
            "payment_intent_data": {
                "capture_method": self._capture_method(request.settings),
                "description": request.description, "metadata": metadata},
            "success_url": request.urls.continue_url,
            "cancel_url": request.urls.cancel_url,
        }
        if request.customer_email:
            params["customer_email"] = request.customer_email
        account = _account(request.settings)
        async with stripe_api(account.secret_key, self.api_base) as api:
            session = await api.create_checkout_session(
                params, idempotency_key(f"{request.reference}-checkout-session", params))
        url = session.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ProviderError("Stripe answered without a checkout page URL")
        return HostedForm(action=url, method="GET")

    def verify_return(self, settings: Mapping[str, str], query: Mapping[str, str],
                      reference: str) -> PaymentResult | None:
        return None

    def parse_callback(self, settings: Mapping[str, str], body: bytes,
                       headers: Mapping[str, str]) -> PaymentResult | None:
        event = verified_event(body, headers, _account(settings).webhook_secret)
        return read_event(event, manual_capture=not _capture_at_once(settings))

    # --- inline ------------------------------------------------------------------------

    async def create_client_payment(self, request: PaymentRequest, kind: str,
                                    existing: str | None) -> ClientPayment:
        """A PaymentIntent of the attempt's amount, and its client secret for Stripe.js."""
        if kind != PAYMENT_INTENT:
            raise PaymentRefused(f"stripe-checkout cannot create {kind!r}")
        account = _account(request.settings)
        async with stripe_api(account.secret_key, self.api_base) as api:
            if existing:
                intent = await api.retrieve_payment_intent(existing)
            else:
                params: Params = {
                    "amount": _minor(request.amount, request.currency_code),
                    "currency": request.currency_code.lower(),
                    "capture_method": self._capture_method(request.settings),
                    "metadata": self._metadata(request),
                }
                intent = await api.create_payment_intent(
                    params, idempotency_key(f"{request.reference}-payment-intent", params))
        secret = intent.get("client_secret")
        if not isinstance(secret, str) or not intent.get("id"):
            raise ProviderError("Stripe answered without a payment intent client secret")
        return ClientPayment(str(intent["id"]), {CLIENT_SECRET: secret})

    async def fetch_payment(self, settings: Mapping[str, str], transaction_id: str
                            ) -> PaymentResult | None:
        """The PaymentIntent ``transaction_id``: the kasse payment it belongs to, its
        status, amount and currency."""
        if not transaction_id.startswith("pi_"):
            return None
        async with stripe_api(_account(settings).secret_key, self.api_base) as api:
            try:
                intent = await api.retrieve_payment_intent(transaction_id)
            except PaymentRefused:  # Stripe has no such intent (a 4xx)
                return None
        currency = intent.get("currency")
        units = intent.get("amount")
        return PaymentResult(
            reference=str(_metadata_of(intent).get(REFERENCE_KEY, "")),
            status=_intent_status(intent), transaction_id=transaction_id,
            amount=from_minor_units(units, currency) if isinstance(units, int)
            and isinstance(currency, str) else None,
            currency_code=currency.upper() if isinstance(currency, str) else None,
            metadata={"stripePaymentIntentId": transaction_id})

    # --- managing a payment ------------------------------------------------------------

    async def capture(self, operation: PaymentOperation) -> PaymentResult:
        intent_id = self._intent_id(operation)
        params: Params = {}
        if operation.amount is not None:
            params["amount_to_capture"] = _minor(operation.amount, operation.currency_code)
        async with stripe_api(_account(operation.settings).secret_key, self.api_base) as api:
            intent = await api.capture_payment_intent(
                intent_id, params, idempotency_key(operation.operation_id, params))
        received = intent.get("amount_received")
        amount = (from_minor_units(received, operation.currency_code)
                  if isinstance(received, int) and received else operation.amount)
        return self._result(operation, _intent_status(intent), amount)

    async def cancel(self, operation: PaymentOperation) -> PaymentResult:
        intent_id = self._intent_id(operation)
        async with stripe_api(_account(operation.settings).secret_key, self.api_base) as api:
            intent = await api.cancel_payment_intent(
                intent_id, idempotency_key(operation.operation_id, {}))
        return self._result(operation, _intent_status(intent), None)

    async def refund(self, operation: PaymentOperation) -> PaymentResult:
        intent_id = self._intent_id(operation)
        params: Params = {"payment_intent": intent_id,
                          "metadata": {REFERENCE_KEY: operation.reference}}
        if operation.amount is not None:
            params["amount"] = _minor(operation.amount, operation.currency_code)
        async with stripe_api(_account(operation.settings).secret_key, self.api_base) as api:
            refund = await api.create_refund(
                params, idempotency_key(operation.operation_id, params))
            if refund.get("status") in ("failed", "canceled"):
                raise PaymentRefused(f"Stripe did not refund: the refund is "
                                     f"{refund.get('status')}")
            intent = await api.retrieve_payment_intent(intent_id, expand=["latest_charge"])
        charge = intent.get("latest_charge")
        fully = isinstance(charge, dict) and charge.get("refunded") is True
        units = refund.get("amount")
        amount = (from_minor_units(units, operation.currency_code) if isinstance(units, int)
                  else operation.amount)
        return self._result(operation, PaymentStatus.REFUNDED if fully
                            else PaymentStatus.PARTIALLY_REFUNDED, amount)

    # --- helpers -----------------------------------------------------------------------

    @staticmethod
    def _capture_method(settings: Mapping[str, str]) -> str:
        return "automatic" if _capture_at_once(settings) else "manual"

    @staticmethod
    def _metadata(request: PaymentRequest) -> dict[str, str]:
        return {REFERENCE_KEY: request.reference, "orderNumber": request.order_number}

    @staticmethod
    def _intent_id(operation: PaymentOperation) -> str:
        intent_id = operation.metadata.get("stripePaymentIntentId") or operation.transaction_id
        if not intent_id.startswith("pi_"):
            raise PaymentRefused(f"transaction {intent_id!r} is not a Stripe payment intent")
        return intent_id

    @staticmethod
    def _result(operation: PaymentOperation, status: PaymentStatus, amount: Decimal | None
                ) -> PaymentResult:
        return PaymentResult(reference=operation.reference, status=status,
                             transaction_id=operation.transaction_id, amount=amount)
