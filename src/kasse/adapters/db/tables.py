"""Table definitions (SQLAlchemy Core). Migrations in ``migrations/`` create them.

Ids are UUIDs chosen by kasse. Money and quantities use ``ScaledDecimal``. Catalog
prices of every kind (product, variant, payment fee, shipping rate, shipping option)
live in one ``prices`` table keyed by owner, so that "what does X cost in EUR" is a
single indexed lookup.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

from kasse.adapters.db.types import ScaledDecimal

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

stores = Table(
    "stores",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("alias", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("prices_include_tax", Boolean, nullable=False),
    Column("base_currency_id", Uuid),
    Column("default_country_id", Uuid),
    Column("default_tax_class_id", Uuid),
    Column("default_order_status_id", Uuid),
    Column("cart_number_template", String(100), nullable=False),
    Column("order_number_template", String(100), nullable=False),
    Column("rounding_method", String(10), nullable=False),
    Column("stock_hold_minutes", Integer, nullable=False, server_default="15"),
    # The store file's ``emails`` section: sender, reply-to, BCC, default language,
    # payment instructions and the templates it overrides (their text, read at import).
    Column("emails", JSON),
    # Bumped by every import: processes cache a store's configuration per version.
    Column("config_version", Integer, nullable=False, default=1),
)

currencies = Table(
    "currencies",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(3), nullable=False),
    Column("name", String(200), nullable=False),
    Column("culture", String(20), nullable=False),
    Column("decimal_places", Integer, nullable=False),
    Column("format_template", String(100)),
    Column("allowed_country_codes", JSON, nullable=False, default=list),
    Column("sort_order", Integer, nullable=False, default=0),
    UniqueConstraint("store_id", "code", name="uq_currencies_store_code"),
)

countries = Table(
    "countries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(10), nullable=False),
    Column("name", String(200), nullable=False),
    Column("default_currency_id", Uuid),
    Column("default_payment_method_id", Uuid),
    Column("default_shipping_method_id", Uuid),
    Column("sort_order", Integer, nullable=False, default=0),
    UniqueConstraint("store_id", "code", name="uq_countries_store_code"),
)

regions = Table(
    "regions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("country_id", Uuid, ForeignKey("countries.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("default_payment_method_id", Uuid),
    Column("default_shipping_method_id", Uuid),
    Column("sort_order", Integer, nullable=False, default=0),
    UniqueConstraint("country_id", "code", name="uq_regions_country_code"),
)

tax_classes = Table(
    "tax_classes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("default_rate", ScaledDecimal, nullable=False),
    Column("default_tax_code", String(50)),
    Column("sort_order", Integer, nullable=False, default=0),
    UniqueConstraint("store_id", "alias", name="uq_tax_classes_store_alias"),
)

tax_rates = Table(
    "tax_rates",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tax_class_id", Uuid, ForeignKey("tax_classes.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("country_id", Uuid, ForeignKey("countries.id", ondelete="CASCADE"), nullable=False),
    Column("region_id", Uuid, ForeignKey("regions.id", ondelete="CASCADE")),
    Column("rate", ScaledDecimal, nullable=False),
    Column("tax_code", String(50)),
)

order_statuses = Table(
    "order_statuses",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("color", String(30)),
    Column("sort_order", Integer, nullable=False, default=0),
    UniqueConstraint("store_id", "alias", name="uq_order_statuses_store_alias"),
)

payment_methods = Table(
    "payment_methods",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("provider_alias", String(100), nullable=False),
    Column("sku", String(100)),
    Column("tax_class_id", Uuid),
    Column("image_url", String(2000)),
    Column("sort_order", Integer, nullable=False, default=0),
    UniqueConstraint("store_id", "alias", name="uq_payment_methods_store_alias"),
)

payment_method_settings = Table(
    "payment_method_settings",
    metadata,
    Column("payment_method_id", Uuid, ForeignKey("payment_methods.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("is_secret", Boolean, nullable=False),
    # {env: NAME} in the store file: the variable's name only, never its value (which is
    # read from the serving process's environment; ``value`` stays empty).
    Column("env", String(100), nullable=True),
)

shipping_methods = Table(
    "shipping_methods",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("sku", String(100)),
    Column("tax_class_id", Uuid),
    Column("image_url", String(2000)),
    Column("sort_order", Integer, nullable=False, default=0),
    UniqueConstraint("store_id", "alias", name="uq_shipping_methods_store_alias"),
)

shipping_options = Table(
    "shipping_options",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("shipping_method_id", Uuid, ForeignKey("shipping_methods.id", ondelete="CASCADE"),
           nullable=False),
    Column("alias", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("sort_order", Integer, nullable=False, default=0),
    UniqueConstraint("shipping_method_id", "alias", name="uq_shipping_options_method_alias"),
)

# Where a payment or shipping method may be used. No rows: everywhere.
allowed_countries = Table(
    "allowed_countries",
    metadata,
    Column("owner_id", Uuid, primary_key=True),
    Column("country_id", Uuid, ForeignKey("countries.id", ondelete="CASCADE"), primary_key=True),
    # An empty string, not NULL, stands for "the whole country" so it can be in the key.
    Column("region_code", String(20), primary_key=True, default=""),
)

products = Table(
    "products",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("sku", String(100), nullable=False),
    Column("name", String(300), nullable=False),
    Column("tax_class_id", Uuid),
    Column("stock", ScaledDecimal),
    Column("is_gift_card", Boolean, nullable=False, default=False),
    Column("properties", JSON, nullable=False, default=dict),
    Column("sort_order", Integer, nullable=False, default=0),
    UniqueConstraint("store_id", "reference", name="uq_products_store_reference"),
    Index("ix_products_store_sort", "store_id", "sort_order"),
)

product_variants = Table(
    "product_variants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("product_id", Uuid, ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("sku", String(100), nullable=False),
    Column("name", String(300), nullable=False),
    Column("attributes", JSON, nullable=False, default=list),
    Column("stock", ScaledDecimal),
    Column("properties", JSON, nullable=False, default=dict),
    Column("sort_order", Integer, nullable=False, default=0),
    UniqueConstraint("product_id", "reference", name="uq_product_variants_product_reference"),
)

# Every change to stock on hand, with its cause: on hand = the sum of an item's ledger.
# An item is a product, or a variant (where a product's stock is kept per variant).
stock_ledger = Table(
    "stock_ledger",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", Uuid, nullable=False),
    Column("delta", ScaledDecimal, nullable=False),
    Column("cause", String(20), nullable=False),
    Column("reason", String(300)),
    Column("order_id", Uuid),
    Column("actor", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_stock_ledger_item", "item_id", "created_at"),
)

# Stock held for an order between the start of its payment and its finalization (or the
# reservation's expiry): available to sell = on hand - active reservations.
stock_reservations = Table(
    "stock_reservations",
    metadata,
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", Uuid, primary_key=True),
    Column("store_id", Uuid, nullable=False),
    Column("quantity", ScaledDecimal, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_stock_reservations_item", "item_id", "expires_at"),
    Index("ix_stock_reservations_expires", "expires_at"),
)

# Catalog prices per currency of products, variants, payment fees, shipping methods and
# shipping options (owner_id is the id of any of those).
prices = Table(
    "prices",
    metadata,
    Column("owner_id", Uuid, primary_key=True),
    Column("currency_id", Uuid, ForeignKey("currencies.id", ondelete="CASCADE"),
           primary_key=True),
    Column("value", ScaledDecimal, nullable=False),
)

CONFIG_TABLES = (
    stores, currencies, countries, regions, tax_classes, tax_rates, order_statuses,
    payment_methods, payment_method_settings, shipping_methods, shipping_options,
    allowed_countries, products, product_variants, prices,
)

# --- orders (carts are orders that are not finalized) -------------------------------

# Counters behind cart and order numbers, one row per store and kind ("cart", "order").
number_sequences = Table(
    "number_sequences",
    metadata,
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("last_value", BigInteger, nullable=False),
)

# Configuration ids on an order (currency, country, methods …) are not foreign keys: an
# order keeps what it was placed with even if a later import removes that entity.
orders = Table(
    "orders",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id"), nullable=False),
    Column("cart_number", String(100), nullable=False),
    Column("order_number", String(100)),
    Column("currency_id", Uuid, nullable=False),
    Column("tax_class_id", Uuid),
    Column("language", String(35)),
    Column("customer_reference", String(200)),
    # Lower-cased copy of the "email" property, for finding a customer's orders.
    Column("customer_email", String(320)),
    Column("order_status_id", Uuid),
    Column("billing_country_id", Uuid),
    Column("billing_region_id", Uuid),
    Column("shipping_country_id", Uuid),
    Column("shipping_region_id", Uuid),
    Column("shipping_same_as_billing", Boolean, nullable=False, default=False),
    Column("shipping_method_id", Uuid),
    Column("shipping_option_id", Uuid),
    Column("payment_method_id", Uuid),
    Column("properties", JSON, nullable=False, default=dict),
    # Properties only the server sees (e.g. a payment provider's metadata).
    Column("server_properties", JSON, nullable=False, default=dict, server_default="{}"),
    Column("tags", JSON, nullable=False, default=list),
    # Redeemed codes (upper case), in the order they were redeemed.
    Column("discount_codes", JSON, nullable=False, default=list, server_default="[]"),
    Column("gift_card_codes", JSON, nullable=False, default=list, server_default="[]"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finalized_at", DateTime(timezone=True)),
    Column("payment_status", String(30)),
    Column("transaction_id", String(200)),
    Column("authorized_amount", ScaledDecimal),
    Column("fee_amount", ScaledDecimal),
    # What the order came to when it was placed (fixed from then on; for lists and filters).
    Column("total_price", ScaledDecimal),
    # Lower-cased "firstName lastName" of the billing address, for the staff's free text.
    Column("customer_name", String(300)),
    # Money moved after placement: captured in total, refunded, and refunds asked of the
    # gateway whose answer is not recorded yet (they count against what is refundable).
    Column("captured_amount", ScaledDecimal),
    Column("refunded_amount", ScaledDecimal),
    Column("refund_pending_amount", ScaledDecimal),
    # unfulfilled, partial or fulfilled (NULL for carts).
    Column("fulfilment_status", String(20)),
    Column("canceled_at", DateTime(timezone=True)),
    # Optimistic concurrency: every update is "... WHERE version = :loaded".
    Column("version", Integer, nullable=False),
    UniqueConstraint("store_id", "cart_number", name="uq_orders_store_cart_number"),
    UniqueConstraint("store_id", "order_number", name="uq_orders_store_order_number"),
    # A customer's orders (by reference or email), newest first.
    Index("ix_orders_store_reference_finalized", "store_id", "customer_reference",
          "finalized_at", "id"),
    Index("ix_orders_store_email_finalized", "store_id", "customer_email", "finalized_at",
          "id"),
    # The staff's order lists: placed orders newest first, by store and by each status,
    # and by total. The first also holds what free text is looked for in, so that a search
    # reads the index rather than every order's row (about ten times faster on SQLite).
    Index("ix_orders_store_finalized", "store_id", "finalized_at", "id", "order_number",
          "customer_name", "customer_email"),
    Index("ix_orders_store_total", "store_id", "total_price", "id"),
    Index("ix_orders_store_status_finalized", "store_id", "order_status_id", "finalized_at",
          "id"),
    Index("ix_orders_store_payment_finalized", "store_id", "payment_status", "finalized_at",
          "id"),
    Index("ix_orders_store_fulfilment_finalized", "store_id", "fulfilment_status",
          "finalized_at", "id"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    # Bundle items point at their bundle's line.
    Column("parent_id", Uuid),
    Column("position", Integer, nullable=False),
    Column("product_reference", String(200), nullable=False),
    Column("variant_reference", String(200)),
    Column("sku", String(100), nullable=False),
    Column("name", String(300), nullable=False),
    Column("quantity", ScaledDecimal, nullable=False),
    Column("unit_price", ScaledDecimal, nullable=False),
    Column("product_tax_class_id", Uuid),
    Column("tax_class_id", Uuid),
    Column("properties", JSON, nullable=False, default=dict),
    Column("attributes", JSON, nullable=False, default=list),
    Column("bundle_id", String(100)),
    Column("is_gift_card", Boolean, nullable=False, default=False),
    # After placement: how much of the line was shipped, how much refunded, and how much
    # put back into stock (by a refund with restock, or a cancel).
    Column("fulfilled_quantity", ScaledDecimal, nullable=False, default=Decimal(0),
           server_default="0"),
    Column("refunded_quantity", ScaledDecimal, nullable=False, default=Decimal(0),
           server_default="0"),
    Column("restocked_quantity", ScaledDecimal, nullable=False, default=Decimal(0),
           server_default="0"),
    Index("ix_order_lines_order", "order_id", "position"),
)

# --- checkout -------------------------------------------------------------------------

# One row per token/initialize: what was asked to be paid, and how it ended. The token
# itself is never stored, only its SHA-256.
checkout_attempts = Table(
    "checkout_attempts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("store_id", Uuid, nullable=False),
    Column("token_hash", String(64), unique=True),
    Column("kind", String(10), nullable=False),  # hosted or inline
    Column("mode", String(10)),
    Column("origin", String(300)),
    Column("payment_method_id", Uuid, nullable=False),
    Column("amount", ScaledDecimal, nullable=False),
    Column("currency_id", Uuid, nullable=False),
    # Hash of what was priced (lines, currency, methods, amount): a change means a new token.
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("transaction_id", String(200)),
    Index("ix_checkout_attempts_order", "order_id"),
)

# The inbox: every verified gateway event, once. The unique key makes duplicates no-ops.
payment_events = Table(
    "payment_events",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("provider_alias", String(100), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("reference", String(200)),
    Column("status", String(30)),
    Column("outcome", String(40), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSON, nullable=False, default=dict),
    UniqueConstraint("provider_alias", "event_id", name="uq_payment_events_provider_event"),
)

# The outbox: events recorded in the same transaction as the change they report.
outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, nullable=False),
    Column("topic", String(100), nullable=False),
    Column("aggregate_id", Uuid, nullable=False),
    Column("payload", JSON, nullable=False, default=dict),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    # One event per topic and aggregate where it must happen once (e.g. order.finalized).
    Column("dedupe_key", String(200), unique=True),
    # When the shopper's emails were made of it (relayed apart from the webhooks).
    Column("emailed_at", DateTime(timezone=True)),
    Index("ix_outbox_events_pending", "delivered_at", "created_at"),
    Index("ix_outbox_events_unemailed", "emailed_at", "created_at"),
    # An order's events (and through them its webhook deliveries, for its timeline).
    Index("ix_outbox_events_aggregate", "aggregate_id", "created_at"),
)


# --- discounts and gift cards ------------------------------------------------------------

# Configuration (from the store file): rules and rewards are small JSON documents whose
# amounts are decimal strings, so they stay exact.
discounts = Table(
    "discounts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("starts_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("block_further", Boolean, nullable=False),
    Column("rules", JSON, nullable=False),
    Column("rewards", JSON, nullable=False),
    Column("sort_order", Integer, nullable=False),
    UniqueConstraint("store_id", "alias", name="uq_discounts_store_alias"),
)

# ``used`` is counted by finalized orders and never written by an import.
discount_codes = Table(
    "discount_codes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("discount_id", Uuid, ForeignKey("discounts.id", ondelete="CASCADE"),
           nullable=False),
    Column("code", String(100), nullable=False),
    Column("usage_limit", Integer),
    Column("used", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("store_id", "code", name="uq_discount_codes_store_code"),
)

# Issued cards: an import adds or updates them but never removes one; ``debited`` grows
# with every finalized order paid with the card.
gift_cards = Table(
    "gift_cards",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("code", String(100), nullable=False),
    Column("currency_id", Uuid, nullable=False),
    Column("amount", ScaledDecimal, nullable=False),
    Column("debited", ScaledDecimal, nullable=False, default=Decimal(0), server_default="0"),
    Column("expires_at", DateTime(timezone=True)),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("store_id", "code", name="uq_gift_cards_store_code"),
)

# What each finalized order used: one row per order and code, so a use is counted and a
# card debited once however often finalization is attempted.
redemptions = Table(
    "redemptions",
    metadata,
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("code", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("amount", ScaledDecimal),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The orders that used a code (the staff's order lists filter by it).
    Index("ix_redemptions_code", "code"),
)

# Merchant webhooks. The secret signs deliveries; it never leaves the server.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("events", JSON, nullable=False),
    Column("store_id", Uuid),  # NULL: every store
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # How requests are signed (``WebhookFormat``): endpoints from before the choice
    # existed are in kasse's own format.
    Column("format", String(20), nullable=False, server_default="kasse"),
)

# One outbox event on its way to one endpoint. A worker leases a row before sending it
# (lease_owner, lease_until) so that two workers never send it at the same time; a lease
# that runs out belongs to a worker that died, and the delivery is due again.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("event_id", Uuid, ForeignKey("outbox_events.id", ondelete="CASCADE"),
           nullable=False),
    Column("endpoint_id", Uuid, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
           nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("first_attempt_at", DateTime(timezone=True)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    Index("ix_webhook_deliveries_created", "created_at", "id"),  # newest first
)

# Every attempt of a delivery, with what the receiver answered.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("delivery_id", Uuid, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
           nullable=False),
    Column("number", Integer, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer),
    Column("error", String(500)),
    Column("response_body", Text),
    Column("worker", String(100), nullable=False),
    Index("ix_webhook_attempts_delivery", "delivery_id", "number"),
)


# --- the merchant's side -------------------------------------------------------------------

# Staff who sign in to the back office. Passwords are stored as argon2 hashes only.
staff = Table(
    "staff",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # lower case
    Column("name", String(200), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("role", String(20), nullable=False),
    # Store ids the account may act on; NULL: every store.
    Column("store_ids", JSON),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
    Column("last_sign_in_at", DateTime(timezone=True)),
)

# Management API tokens: shown once when created, stored as their SHA-256 only.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    # The first characters of the token, so that staff can tell tokens apart.
    Column("prefix", String(20), nullable=False),
    Column("role", String(20), nullable=False),
    Column("store_ids", JSON),  # NULL: every store
    Column("staff_id", Uuid, ForeignKey("staff.id", ondelete="SET NULL")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    # A name is held by one token not revoked (an expired one is revoked when its name
    # is given again), so that staff can revoke by name.
    Index("uq_api_tokens_live_name", "name", unique=True,
          sqlite_where=text("revoked_at IS NULL"),
          postgresql_where=text("revoked_at IS NULL")),
)

# Who changed what through the management API, with the order's version before and after.
audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid),  # NULL: what belongs to no store (staff, tokens)
    Column("order_id", Uuid),
    Column("actor_kind", String(20), nullable=False),  # token, staff or cli
    Column("actor_id", String(100)),
    Column("actor_name", String(320), nullable=False),
    Column("action", String(60), nullable=False),
    Column("detail", JSON, nullable=False, default=dict),
    Column("version_before", Integer),
    Column("version_after", Integer),
    Column("request_id", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_audit_entries_store", "store_id", "created_at"),
    Index("ix_audit_entries_order", "order_id", "created_at"),
)

# Answers to management actions by (caller, Idempotency-Key): a retry with the same body
# gets the stored answer; a NULL status is an action still running.
idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("principal", String(100), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response_body", Text),
    Column("response_headers", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    UniqueConstraint("principal", "key", name="uq_idempotency_records_principal_key"),
    Index("ix_idempotency_records_created", "created_at"),
)

# Every movement of an order's money after checkout: captures, recorded (manual) payments,
# refunds and voids, through the provider or recorded by staff. A refund is written as
# pending before the gateway is asked, so two refunds can never both take the same money.
order_payments = Table(
    "order_payments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("store_id", Uuid, nullable=False),
    Column("kind", String(20), nullable=False),  # capture, payment, refund, void
    Column("status", String(20), nullable=False),  # pending, succeeded, failed
    Column("amount", ScaledDecimal),
    Column("currency_code", String(3), nullable=False),
    Column("provider_alias", String(100)),
    Column("transaction_id", String(200)),
    # The gateway's idempotency key for this operation.
    Column("operation_id", String(200), unique=True),
    Column("manual", Boolean, nullable=False, default=False),
    Column("reference", String(200)),
    Column("reason", String(500)),
    # Refunds by lines: [{"lineId", "quantity"}].
    Column("lines", JSON, nullable=False, default=list),
    Column("actor", String(320)),
    Column("error", String(500)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Index("ix_order_payments_order", "order_id", "created_at"),
)

# Shipments: which lines and quantities went, with whom, and how to track them.
fulfilments = Table(
    "fulfilments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("store_id", Uuid, nullable=False),
    Column("lines", JSON, nullable=False),  # [{"lineId", "quantity"}]
    Column("carrier", String(100)),
    Column("tracking_number", String(200)),
    Column("tracking_url", String(2000)),
    Column("actor", String(320)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_fulfilments_order", "order_id", "created_at"),
)

# Staff notes on an order.
order_notes = Table(
    "order_notes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("store_id", Uuid, nullable=False),
    Column("body", Text, nullable=False),
    Column("actor", String(320)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_order_notes_order", "order_id", "created_at"),
)

# Every change of an order's status (the store's order statuses), with who made it.
order_status_changes = Table(
    "order_status_changes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("order_id", Uuid, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("store_id", Uuid, nullable=False),
    Column("from_status_id", Uuid),
    Column("to_status_id", Uuid),
    Column("actor", String(320)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_order_status_changes_order", "order_id", "created_at"),
)


# --- the shopper's emails --------------------------------------------------------------

# One message per outbox event and type, rendered once (``mime``) and handed to the mail
# server over as many attempts as it takes; ``handing_over_since`` is set, and committed,
# just before an attempt hands the message over (see domain/emails.py).
email_messages = Table(
    "email_messages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("store_id", Uuid, nullable=False),
    Column("order_id", Uuid, nullable=False),
    Column("event_id", Uuid, ForeignKey("outbox_events.id", ondelete="CASCADE"),
           nullable=False),
    Column("type", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("resends", Integer, nullable=False, default=0, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("handing_over_since", DateTime(timezone=True)),
    Column("first_attempt_at", DateTime(timezone=True)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_error", String(500)),
    Column("sent_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("message_id", String(250)),
    Column("language", String(20)),
    Column("subject", String(500)),
    Column("recipient", String(320)),
    Column("mail_from", String(320)),
    Column("rcpt_to", JSON),
    Column("mime", Text),
    UniqueConstraint("event_id", "type", name="uq_email_messages_event_type"),
    Index("ix_email_messages_due", "status", "next_attempt_at"),
    Index("ix_email_messages_order", "order_id", "created_at"),
)

# Every attempt of a message, with what the mail server answered.
email_attempts = Table(
    "email_attempts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email_id", Uuid, ForeignKey("email_messages.id", ondelete="CASCADE"),
           nullable=False),
    Column("number", Integer, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("code", Integer),
    Column("detail", String(500)),
    Column("worker", String(100), nullable=False),
    Column("via", String(300), nullable=False),
    Index("ix_email_attempts_email", "email_id", "number"),
)
