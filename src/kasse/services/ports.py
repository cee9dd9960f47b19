"""What the use cases need from storage, as protocols; ``adapters.db`` implements them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from kasse.domain.access import Principal
from kasse.domain.audit import AuditEntry
from kasse.domain.checkout import CheckoutAttempt
from kasse.domain.discounts import CodeUsage, GiftCard
from kasse.domain.emails import EmailAttempt, EmailMessage, Outgoing, SendOutcome
from kasse.domain.events import Event
from kasse.domain.fulfilment import Shipment
from kasse.domain.idempotency import KeptAnswer
from kasse.domain.order import Order
from kasse.domain.order_management import OrderNote, StatusChange
from kasse.domain.payment_operations import PaymentRecord
from kasse.domain.staff import ApiToken, StaffMember
from kasse.domain.stock import LedgerEntry, Needs, Shortage, StockLevel
from kasse.domain.store import Product, Store, StoreConfig
from kasse.domain.store_definition import SavedDefinition, StoreDefinition
from kasse.domain.webhooks import (
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
    OutboxEvent,
    WebhookEndpoint,
    WebhookMessage,
)
from kasse.services.order_records import (
    OrderCriteria,
    OrderHistory,
    OrderSort,
    OrderSummary,
    SortKey,
)


class CatalogReader(Protocol):
    async def find_store(self, id_or_alias: str) -> tuple[UUID, int] | None:
        """(id, config version) of the store with this id or alias."""

    async def load_store_config(self, store_id: UUID) -> StoreConfig | None: ...

    async def store_aliases(self) -> list[str]: ...

    async def products_by_reference(self, store: Store, references: Sequence[str], *,
                                    order_id: UUID | None = None) -> list[Product]:
        """The store's products with these references (unknown ones are left out), with
        the stock available to sell now (on hand less what other orders than
        ``order_id`` hold). What the reader loaded before for the store's
        ``config_version`` may be reused."""

    async def list_products(self, store_id: UUID, *, skip: int, take: int, text: str | None
                            ) -> tuple[list[Product], int]: ...

    async def product_by_id(self, product_id: UUID) -> Product | None: ...


class StoreWriter(Protocol):
    async def store_id_for(self, alias: str, given: UUID | None) -> UUID | None: ...

    async def save(self, definition: StoreDefinition, *, set_stock: bool = False
                   ) -> SavedDefinition:
        """Make the store's configuration match ``definition``, leaving its live state
        alone: stock on hand is set for the products and variants created now, and for
        the others only with ``set_stock``; code uses and card debits are kept. Raises
        ``Conflict`` when it clashes with data stored for another store."""


class OrderRepository(Protocol):
    async def get(self, store_id: UUID, order_id: UUID, *, for_update: bool = False
                  ) -> Order | None: ...

    async def store_of(self, order_id: UUID) -> UUID | None:
        """The store an order belongs to (``None``: no such order)."""

    async def add(self, order: Order) -> None: ...

    async def save(self, order: Order) -> None:
        """Write a loaded order; raises ``Conflict`` if it was saved by someone else since."""

    async def delete(self, order: Order) -> None: ...

    async def next_number(self, store_id: UUID, kind: str) -> int:
        """The next value of a store's counter, unique across processes."""

    async def finalized_for_customer(self, store_id: UUID, reference_or_email: str
                                     ) -> list[Order]: ...


class CheckoutRepository(Protocol):
    async def add_attempt(self, attempt: CheckoutAttempt) -> None: ...

    async def attempt_by_token(self, token_hash: str) -> CheckoutAttempt | None: ...

    async def attempt(self, attempt_id: UUID) -> CheckoutAttempt | None: ...

    async def latest_attempt(self, order_id: UUID, kind: str) -> CheckoutAttempt | None: ...

    async def save_attempt(self, attempt: CheckoutAttempt) -> None: ...

    async def record_event(self, provider_alias: str, event_id: str, *, reference: str | None,
                           status: str | None, outcome: str, payload: dict[str, Any],
                           at: datetime) -> bool:
        """Store a gateway event once; False when it was already recorded."""

    async def set_event_outcome(self, provider_alias: str, event_id: str, outcome: str
                                ) -> None: ...

    async def add_outbox_event(self, *, store_id: UUID, topic: str, aggregate_id: UUID,
                               payload: dict[str, Any], at: datetime,
                               dedupe_key: str | None = None) -> bool: ...


class RedemptionRepository(Protocol):
    async def usage(self, store_id: UUID, codes: Sequence[str]) -> dict[str, CodeUsage]: ...

    async def gift_cards(self, store_id: UUID, codes: Sequence[str]
                         ) -> dict[str, GiftCard]: ...

    async def count_use(self, store_id: UUID, code: str, order_id: UUID, at: datetime
                        ) -> bool:
        """Count one use of a discount code by an order (once per order); False when the
        code has no use left."""

    async def debit(self, store_id: UUID, code: str, amount: Decimal, order_id: UUID,
                    at: datetime) -> bool:
        """Debit a gift card for an order (once per order); False when its balance is
        short."""


class StockRepository(Protocol):
    async def reserve(self, store_id: UUID, order_id: UUID, needs: Needs,
                      expires_at: datetime) -> list[Shortage]:
        """Hold ``needs`` for the order until ``expires_at`` (replacing what it held);
        the items that cannot be held (nothing is held then: roll back)."""

    async def release(self, order_id: UUID) -> None: ...

    async def expire(self, now: datetime) -> int:
        """Delete the reservations that ran out; how many."""

    async def take(self, store_id: UUID, order_id: UUID, product_reference: str,
                   variant_reference: str | None, quantity: Decimal, at: datetime) -> bool:
        """A sale (with its ledger entry), never below what other orders hold; False
        when not enough is left. Untracked stock always succeeds."""

    async def adjust(self, store_id: UUID, item_id: UUID, is_variant: bool, delta: Decimal,
                     cause: str, at: datetime, *, reason: str | None = None,
                     actor: str | None = None, order_id: UUID | None = None
                     ) -> Decimal | None:
        """Change stock on hand with a ledger entry (about ``order_id``, e.g. units
        returned); ``None`` if it would go negative."""

    async def on_hand(self, item_id: UUID, is_variant: bool) -> Decimal | None:
        """Stock on hand, the item locked until the unit of work ends (``None``: unknown
        or untracked): an adjustment is decided on it."""

    async def apply(self, store_id: UUID, item_id: UUID, is_variant: bool, delta: Decimal,
                    cause: str, at: datetime, *, note: str | None, actor: str | None
                    ) -> LedgerEntry:
        """Change stock on hand by ``delta`` (decided under ``on_hand``'s lock) with its
        ledger entry."""

    async def ledger(self, store_id: UUID, item_id: UUID, *,
                     before: tuple[datetime, UUID] | None = None, limit: int = 50
                     ) -> list[LedgerEntry]:
        """Newest first, older than the ``before`` (time, id) key when given."""

    async def levels(self, store_id: UUID) -> list[StockLevel]: ...

    async def item(self, store_id: UUID, product_reference: str,
                   variant_reference: str | None) -> StockLevel | None: ...


class AuditLog(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...

    async def entries(self, *, store_ids: list[UUID] | None, order_id: UUID | None = None,
                      before: datetime | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first: an order's entries, or those of the stores (``None``: all)."""


class OrderRecords(Protocol):
    """What the shop did with placed orders: payments, shipments, notes, status changes."""

    async def add_payment(self, record: PaymentRecord) -> None: ...

    async def save_payment(self, record: PaymentRecord) -> None: ...

    async def payment(self, record_id: UUID) -> PaymentRecord | None: ...

    async def payments(self, order_id: UUID) -> list[PaymentRecord]:
        """Oldest first."""

    async def add_shipment(self, shipment: Shipment) -> None: ...

    async def add_note(self, note: OrderNote) -> None: ...

    async def add_status_change(self, change: StatusChange) -> None: ...


class AccessRepository(Protocol):
    """Staff accounts and management API tokens, with the audit log of their changes in
    the same transaction."""

    @property
    def audit(self) -> AuditLog: ...

    async def principal_for_token(self, digest: str, now: datetime) -> Principal | None:
        """Whom a token with this digest acts as: ``None`` when it is unknown, revoked,
        expired, or belongs to a disabled staff member."""

    async def any_staff(self) -> bool: ...

    async def add_staff(self, member: StaffMember, password_hash: str) -> None:
        """Raises ``Conflict`` when the email is taken."""

    async def staff_member(self, *, staff_id: UUID | None = None, email: str | None = None
                           ) -> tuple[StaffMember, str] | None:
        """A member by id or (normalised) email, with their password hash."""

    async def all_staff(self) -> list[StaffMember]: ...

    async def active_owners(self) -> list[UUID]:
        """The enabled owners, locked until the transaction ends where the database can."""

    async def set_disabled(self, staff_id: UUID, disabled: bool) -> None: ...

    async def set_password(self, staff_id: UUID, password_hash: str, at: datetime) -> None: ...

    async def signed_in(self, staff_id: UUID, at: datetime,
                        password_hash: str | None = None) -> None:
        """Record a sign-in (and the password's new hash, when it was rehashed)."""

    async def add_token(self, token: ApiToken, digest: str) -> None:
        """Store a token by its digest. An expired token holding the name is revoked;
        raises ``Conflict`` when a working token holds it."""

    async def tokens(self) -> list[ApiToken]:
        """Every token, working ones first, newest first."""

    async def token(self, *, token_id: UUID | None = None, name: str | None = None
                    ) -> ApiToken | None:
        """A token by id, or the token not revoked that holds ``name``."""

    async def revoke_token(self, token_id: UUID, at: datetime) -> bool:
        """False when it was revoked already."""


class PasswordHasher(Protocol):
    """Staff passwords: a maintained password-hashing library behind three calls. They
    are slow on purpose (CPU and memory): the use cases run them in a worker thread."""

    def hash(self, password: str) -> str:
        """A salted hash of ``password``."""

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; with ``None`` (no such account) False, after
        about as long as a real check takes."""

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than today's."""


class IdempotencyStore(Protocol):
    async def claim(self, principal: str, key: str, request_hash: str, at: datetime
                    ) -> KeptAnswer | None:
        """Start an action under ``key``; ``None`` if it is new, else what is kept."""

    async def complete(self, principal: str, key: str, status_code: int, body: str,
                       headers: dict[str, str], at: datetime) -> None: ...

    async def release(self, principal: str, key: str) -> None:
        """Forget an action that ended without an answer to keep (e.g. a 5xx)."""

    async def take_over(self, principal: str, key: str, started_before: datetime,
                        at: datetime) -> bool:
        """Restart an action whose first attempt died; False if another holds it."""

    async def forget_older_than(self, before: datetime) -> int: ...


class OrderUnit(Protocol):
    """What one order use case works with, inside one transaction."""

    @property
    def audit(self) -> AuditLog: ...

    @property
    def records(self) -> OrderRecords: ...

    @property
    def stock(self) -> StockRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def catalog(self) -> CatalogReader: ...

    @property
    def checkout(self) -> CheckoutRepository: ...

    @property
    def redemptions(self) -> RedemptionRepository: ...

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this unit of work has committed (never if it rolls back)."""

    def record(self, event: Event) -> None:
        """An event to write to the outbox with this unit of work (the events the orders
        of the unit record are written too)."""

    @property
    def published(self) -> list[tuple[Event, bool]]:
        """After the unit: each event written to the outbox, and whether it was new."""

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A block whose writes are undone if it raises, while the unit of work goes on
        (e.g. to record why a payment could not be applied)."""


class Storage(Protocol):
    def reading(self) -> AbstractAsyncContextManager[CatalogReader]: ...

    def writing(self) -> AbstractAsyncContextManager[StoreWriter]:
        """One transaction: committed when the block ends, rolled back on error."""

    def ordering(self, *, write: bool) -> AbstractAsyncContextManager[OrderUnit]:
        """Orders and catalog in one transaction (committed at the end when ``write``)."""

    def access(self, *, write: bool) -> AbstractAsyncContextManager[AccessRepository]:
        """Staff and tokens in one transaction (committed at the end when ``write``)."""

    def idempotency(self) -> AbstractAsyncContextManager[IdempotencyStore]:
        """One short transaction over the kept answers of idempotent actions."""

    async def order_version(self, store_id: UUID, order_id: UUID) -> int | None:
        """An order's current version (``None``: no such order in that store); cheap."""

    async def delete_abandoned_carts(self, *, untouched_since: datetime,
                                     checkouts_expired_before: datetime) -> int:
        """Delete open carts not updated since ``untouched_since`` whose every checkout
        expired before ``checkouts_expired_before``; returns how many."""


class WebhookRepository(Protocol):
    """Merchant webhook endpoints, the relay of outbox events into deliveries, and the
    deliveries with their attempts."""

    async def find_store(self, id_or_alias: str) -> UUID | None: ...

    async def store_aliases(self) -> dict[UUID, str]: ...

    async def add_endpoint(self, endpoint: WebhookEndpoint, secret: str) -> None: ...

    async def endpoints(self, *, active_only: bool = False) -> list[WebhookEndpoint]: ...

    async def set_endpoint_active(self, endpoint_id: UUID, active: bool) -> bool: ...

    async def remove_endpoint(self, endpoint_id: UUID) -> bool:
        """Delete an endpoint with its deliveries and their attempts; False if unknown."""

    async def has_pending_events(self) -> bool:
        """Whether an outbox event waits to be relayed (a cheap read)."""

    async def pending_events(self, limit: int) -> list[OutboxEvent]:
        """The oldest events not relayed yet (locked against other relays where the
        database can)."""

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Insert deliveries; one that exists already (same event and endpoint) is kept."""

    async def mark_relayed(self, event_ids: Sequence[UUID], at: datetime) -> None: ...

    async def due_deliveries(self, now: datetime, limit: int) -> list[UUID]:
        """Deliveries that may be claimed now (``Delivery.claimable``), oldest due first."""

    async def claim(self, delivery_id: UUID, lease: str, now: datetime, until: datetime
                    ) -> bool:
        """Lease a claimable delivery to ``lease`` until ``until``; False when another
        worker holds it or it is not due any more."""

    async def messages(self, delivery_ids: Sequence[UUID]) -> list[WebhookMessage]: ...

    async def delivery(self, delivery_id: UUID) -> Delivery | None:
        """A delivery to update (row-locked where the database can)."""

    async def save_delivery(self, delivery: Delivery) -> None: ...

    async def add_attempt(self, attempt: DeliveryAttempt) -> None: ...

    async def deliveries(self, *, endpoint_id: UUID | None, failed_only: bool, limit: int
                         ) -> list[tuple[Delivery, str]]:
        """Newest first, each with its event's topic."""

    async def attempts(self, delivery_ids: Sequence[UUID]) -> list[DeliveryAttempt]: ...

    @property
    def audit(self) -> AuditLog: ...

    async def records(self, *, store_ids: Sequence[UUID] | None, topic: str | None = None,
                      endpoint_id: UUID | None = None, status: DeliveryStatus | None = None,
                      aggregate_id: UUID | None = None,
                      before: tuple[datetime, UUID] | None = None, limit: int = 50
                      ) -> list[DeliveryRecord]:
        """Newest first, without payloads, of the events of ``store_ids`` (``None``:
        all), older than the ``before`` (created, id) key when given."""

    async def record(self, delivery_id: UUID) -> DeliveryRecord | None:
        """One delivery with its event's payload (row-locked where the database can)."""

    async def redeliver_failing(self, *, store_ids: Sequence[UUID] | None,
                                endpoint_id: UUID | None, now: datetime
                                ) -> tuple[dict[UUID, list[UUID]], int]:
        """Every failing delivery of an active endpoint due now: the ids by store, and
        how many wait for a paused endpoint."""


class WebhookStorage(Protocol):
    def webhooks(self, *, write: bool) -> AbstractAsyncContextManager[WebhookRepository]:
        """One transaction (committed at the end when ``write``)."""


class WebhookSender(Protocol):
    async def send(self, message: WebhookMessage) -> AttemptOutcome:
        """POST the signed event; never raises for the receiver's failures."""


class OrderSearch(Protocol):
    """Reads of placed orders for the staff (never carts), each in its own short read."""

    async def page(self, criteria: OrderCriteria, sort: OrderSort, after: SortKey | None,
                   limit: int) -> list[OrderSummary]:
        """Up to ``limit`` matching orders in ``sort`` order, starting after ``after``."""

    async def count(self, criteria: OrderCriteria) -> int: ...

    async def placed(self, order_id: UUID) -> OrderSummary | None:
        """The placed order with this id, in whichever store (``None``: no such order, or
        a cart)."""

    async def history(self, order_id: UUID) -> OrderHistory:
        """What was recorded about the order after its checkout, oldest first."""

    async def audit(self, *, store_id: UUID | None, order_id: UUID | None,
                    before: tuple[datetime, UUID] | None, limit: int) -> list[AuditEntry]:
        """Audit entries of a store or of an order, newest first, from before ``before``
        (a time and the id of the entry there)."""


class EmailRepository(Protocol):
    """The shopper's emails: the relay of outbox events into messages, the messages with
    their leases, and their attempts."""

    async def has_unemailed_events(self) -> bool:
        """Whether an outbox event waits to be made into emails (a cheap read)."""

    async def unemailed_events(self, limit: int) -> list[OutboxEvent]:
        """The oldest such events (locked against other relays where the database can)."""

    async def add_messages(self, messages: Sequence[EmailMessage]) -> None:
        """Insert messages; one that exists already (same event and type) is kept."""

    async def mark_emailed(self, event_ids: Sequence[UUID], at: datetime) -> None: ...

    async def due(self, now: datetime, limit: int) -> list[UUID]:
        """Messages that may be claimed now (``EmailMessage.claimable``), oldest first."""

    async def cut_off(self, now: datetime, limit: int) -> list[UUID]:
        """Messages whose attempt was cut off mid hand-over (``EmailMessage.cut_off``)."""

    async def claim(self, email_id: UUID, lease: str, now: datetime, until: datetime
                    ) -> bool:
        """Lease a claimable message; False when another worker has it or it is not due."""

    async def message(self, email_id: UUID) -> EmailMessage | None:
        """A message to update (row-locked where the database can)."""

    async def save(self, message: EmailMessage) -> None: ...

    async def add_attempt(self, attempt: EmailAttempt) -> None: ...

    async def event(self, event_id: UUID) -> OutboxEvent | None: ...

    async def latest_event(self, order_id: UUID, topic: str) -> OutboxEvent | None:
        """The order's newest outbox event of ``topic``."""

    async def order_by_number(self, store_id: UUID, number: str) -> UUID | None: ...

    async def order_store(self, order_id: UUID) -> UUID | None:
        """The store of an order (``None``: no such order)."""

    async def messages(self, *, order_id: UUID | None = None,
                       store_ids: Sequence[UUID] | None = None,
                       statuses: Sequence[str] | None = None, limit: int = 100
                       ) -> list[EmailMessage]:
        """Newest first."""

    async def attempts(self, email_ids: Sequence[UUID]) -> list[EmailAttempt]: ...


class EmailStorage(Protocol):
    def emails(self, *, write: bool) -> AbstractAsyncContextManager[EmailRepository]:
        """One transaction (committed at the end when ``write``)."""


class EmailTransport(Protocol):
    """Where messages go: a mail server, or files."""

    @property
    def via(self) -> str:
        """``smtp://host:port`` or the folder of the files, for the attempt records."""

    async def send(self, outgoing: Outgoing, handing_over: Callable[[], Awaitable[bool]]
                   ) -> SendOutcome:
        """Hand the message over once. ``handing_over`` is awaited right before the
        message itself is sent (after connecting and naming sender and recipients); when
        it answers False nothing is sent. Never raises for the server's failures."""
