"""The payment provider plugin contract.

A provider is chosen by alias on a payment method. It declares its settings, the
metadata it records on an order, its capabilities and when it finalizes; it renders the
hand-over to its gateway and turns the gateway's news (a browser return or a webhook)
into a provider-neutral :class:`PaymentResult`. Nothing gateway-specific leaves it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from kasse.domain.payment import PaymentStatus

CAPTURE = "capture"
CANCEL = "cancel"
REFUND = "refund"
FETCH_STATUS = "fetch_status"


class CallbackRejected(Exception):
    """A callback that failed verification: answered 401 and nothing is stored."""


class ProviderError(Exception):
    """The gateway failed technically (retry later); never the shopper's fault."""


class PaymentRefused(Exception):
    """The gateway refused a request as it was asked (e.g. refunding more than is left, or
    capturing twice): asking again the same way fails the same way."""


@dataclass(frozen=True, slots=True)
class SettingDefinition:
    key: str
    name: str
    secret: bool = False
    required: bool = False
    description: str = ""
    check: Callable[[str], str | None] | None = None
    """Returns a problem description for a bad value, ``None`` when the value is fine."""


@dataclass(frozen=True, slots=True)
class MetaDataDefinition:
    alias: str
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class PaymentUrls:
    continue_url: str
    cancel_url: str
    error_url: str
    callback_url: str


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What a provider needs to hand an order's payment to its gateway."""

    reference: str
    """Kasse's id of this payment attempt; gateways echo it back."""
    order_number: str
    amount: Decimal
    currency_code: str
    decimal_places: int
    description: str
    settings: Mapping[str, str]
    urls: PaymentUrls
    customer_email: str | None = None


@dataclass(frozen=True, slots=True)
class HostedForm:
    """Where the pay page sends the shopper: a form ``method`` to ``action`` with fields."""

    action: str
    method: str = "POST"
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """A provider-neutral outcome of a payment."""

    reference: str
    status: PaymentStatus
    transaction_id: str | None = None
    amount: Decimal | None = None
    fee: Decimal | None = None
    event_id: str | None = None
    """The gateway's id of the event (for webhooks); duplicates are recognised by it."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    currency_code: str | None = None
    """The currency the gateway says the amount is in (checked against the order's)."""


@runtime_checkable
class PaymentProvider(Protocol):
    @property
    def alias(self) -> str: ...

    @property
    def settings(self) -> tuple[SettingDefinition, ...]: ...

    @property
    def metadata(self) -> tuple[MetaDataDefinition, ...]: ...

    @property
    def capabilities(self) -> frozenset[str]:
        """Which of ``capture``, ``cancel``, ``refund``, ``fetch_status`` it offers."""

    @property
    def finalizes_at_continue(self) -> bool:
        """True: a verified browser return may finalize. False: wait for the webhook."""

    def hosted_form(self, request: PaymentRequest) -> HostedForm | Awaitable[HostedForm]:
        """The hand-over to the gateway's own payment page.

        A provider that must ask its gateway first (e.g. for a checkout session) makes this
        a coroutine; kasse calls it with no database transaction open.
        """

    def verify_return(self, settings: Mapping[str, str], query: Mapping[str, str],
                      reference: str) -> PaymentResult | None:
        """The outcome carried by the browser's return to the continue URL, if the provider
        can prove it (``None``: wait for the webhook)."""

    def parse_callback(self, settings: Mapping[str, str], body: bytes,
                       headers: Mapping[str, str]) -> PaymentResult | None:
        """Verify (raise ``CallbackRejected``) and read a webhook; ``None`` = not relevant."""


@dataclass(frozen=True, slots=True)
class ClientPayment:
    """A payment the storefront completes in the browser with the gateway's own script."""

    payment_id: str
    """The gateway's id of the payment; kasse keeps it on the checkout attempt."""
    response: Mapping[str, str]
    """What the storefront receives, e.g. ``{"clientSecret": ...}``."""


@runtime_checkable
class ClientPayments(Protocol):
    """Optional: answers ``GET {urls.callback}?create=KIND`` of an inline checkout."""

    @property
    def client_payment_kinds(self) -> frozenset[str]: ...

    async def create_client_payment(self, request: PaymentRequest, kind: str,
                                    existing: str | None) -> ClientPayment:
        """Create the payment for ``request`` (or, with ``existing``, fetch that one again).

        Called with no database transaction open.
        """


@dataclass(frozen=True, slots=True)
class PaymentOperation:
    """A capture, cancel or refund of the payment that finalized an order."""

    transaction_id: str
    reference: str
    """The checkout attempt the payment belongs to."""
    operation_id: str
    """Unique per operation and stable when the same operation is retried (an idempotency
    key at the gateway)."""
    currency_code: str
    amount: Decimal | None
    """``None``: the whole amount."""
    settings: Mapping[str, str]
    metadata: Mapping[str, str] = field(default_factory=dict)
    """What the provider recorded on the order when it was finalized."""


@runtime_checkable
class ManagesPayments(Protocol):
    """Optional: the operations listed in ``capabilities`` (``capture``, ``cancel``,
    ``refund``). Each returns the payment's status afterwards and raises
    ``PaymentRefused`` or ``ProviderError``; kasse calls them with no transaction open."""

    async def capture(self, operation: PaymentOperation) -> PaymentResult: ...

    async def cancel(self, operation: PaymentOperation) -> PaymentResult: ...

    async def refund(self, operation: PaymentOperation) -> PaymentResult: ...


@runtime_checkable
class FetchesPayments(Protocol):
    """Optional (capability ``fetch_status``): what the gateway knows of a payment, so that
    an inline ``confirm`` is checked with the gateway before it finalizes an order."""

    async def fetch_payment(self, settings: Mapping[str, str], transaction_id: str
                            ) -> PaymentResult | None:
        """The payment as the gateway knows it (its kasse reference, status, amount and
        currency), ``None`` when the gateway has no such payment. Raises
        ``ProviderError``; kasse calls it with no transaction open."""


def reports_amount(provider: PaymentProvider) -> bool:
    """Whether the provider's gateway reports the amount and currency of every payment.

    A provider declares ``reports_amount = False`` when no gateway reports on the money
    (invoicing, nothing to pay): kasse then takes the checkout's amount on trust and the
    checkout token alone proves the payment, so its expiry applies. Otherwise (the
    default, also for plugins that do not say) a result without an amount is refused.
    """
    return bool(getattr(provider, "reports_amount", True))


def missing_settings(provider: PaymentProvider, values: Mapping[str, str]) -> list[str]:
    """Problems with a payment method's settings for this provider (empty when fine)."""
    problems = []
    for definition in provider.settings:
        value = values.get(definition.key, "")
        if definition.required and not value.strip():
            problems.append(f"setting {definition.key} is required")
        elif value and definition.check is not None:
            problem = definition.check(value)
            if problem:
                problems.append(f"setting {definition.key}: {problem}")
    # Rules across settings (e.g. the keys of the chosen mode) come from the provider.
    more: Callable[[Mapping[str, str]], list[str]] | None = getattr(
        provider, "setting_problems", None)
    if more is not None:
        problems.extend(more(values))
    return problems
