"""Storing a ``StoreDefinition``: the one place that knows which tables and columns hold
a store's configuration, and which columns beside them are live state an import leaves
alone (stock on hand, ``discount_codes.used``, ``gift_cards.debited``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from kasse.adapters.db import tables as t
from kasse.adapters.db.stock_repository import IMPORT, SqlStockRepository
from kasse.adapters.db.store_repository import email_document
from kasse.domain.store import AllowedCountry, StoreConfig
from kasse.domain.store_definition import (
    SavedDefinition,
    StockChange,
    StockItem,
    StoreDefinition,
)

Row = dict[str, Any]

# Parents before children: inserts go in this order, deletes in the reverse.
ORDER = (
    "stores", "currencies", "countries", "regions", "tax_classes", "tax_rates",
    "order_statuses", "payment_methods", "payment_method_settings", "shipping_methods",
    "shipping_options", "allowed_countries", "products", "product_variants", "prices",
    "discounts", "discount_codes",
)
# Issued gift cards are added and updated by an import, never removed by one.
UPSERT_ONLY = ("gift_cards",)
STOCKED = ("products", "product_variants")


def _scope(table: Table, store_id: UUID) -> ColumnElement[bool]:
    """Which existing rows of ``table`` belong to the store."""
    if table is t.stores:
        return t.stores.c.id == store_id
    if "store_id" in table.c:
        return table.c.store_id == store_id
    parents = {
        "regions": ("country_id", t.countries),
        "tax_rates": ("tax_class_id", t.tax_classes),
        "payment_method_settings": ("payment_method_id", t.payment_methods),
        "shipping_options": ("shipping_method_id", t.shipping_methods),
        "product_variants": ("product_id", t.products),
        "allowed_countries": ("country_id", t.countries),
        "prices": ("currency_id", t.currencies),
    }
    column, parent = parents[table.name]
    return table.c[column].in_(select(parent.c.id).where(parent.c.store_id == store_id))


def _key(table: Table, row: Any) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _same(stored: Any, wanted: Any) -> bool:
    """SQLite gives datetimes back without their zone (they are stored in UTC)."""
    if isinstance(stored, datetime) and isinstance(wanted, datetime):
        if stored.tzinfo is None:
            stored = stored.replace(tzinfo=UTC)
        return bool(stored == wanted)
    return bool(stored == wanted)


@dataclass
class _Existing:
    rows: dict[str, dict[tuple[Any, ...], Row]]

    def stock(self, item_id: UUID) -> tuple[bool, Decimal | None]:
        """Whether the product or variant exists, and its stock on hand."""
        for name in STOCKED:
            row = self.rows[name].get((item_id,))
            if row is not None:
                return True, row["stock"]
        return False, None


async def save_definition(conn: AsyncConnection, definition: StoreDefinition, *,
                          set_stock: bool = False) -> SavedDefinition:
    """Insert, update and delete so the store's configuration matches ``definition``.

    Live state is left alone: stock on hand is set for the products and variants
    created now (to the file's figure) and, only with ``set_stock``, replaced for the
    others; code uses and card debits are never written. Bumps the store's
    ``config_version`` when anything changed so that every process drops its cached copy.
    """
    store_id = definition.store_id
    wanted = _rows(definition)
    tables = {name: t.metadata.tables[name] for name in ORDER}
    existing = _Existing({})
    for name in (*ORDER, *UPSERT_ONLY):
        table = t.metadata.tables[name]
        rows = await conn.execute(select(table).where(_scope(table, store_id)))
        existing.rows[name] = {_key(table, r._mapping): dict(r._mapping) for r in rows}

    counts: dict[str, tuple[int, int, int]] = {}
    for name in reversed(ORDER):
        table = tables[name]
        keep = {_key(table, row) for row in wanted[name]}
        gone = [key for key in existing.rows[name] if key not in keep]
        if gone:
            pk = list(table.primary_key.columns)
            await conn.execute(delete(table).where(tuple_(*pk).in_(gone)) if len(pk) > 1
                               else delete(table).where(pk[0].in_([k[0] for k in gone])))
        counts[name] = (0, 0, len(gone))
    for name in ORDER:
        created, updated = await _upsert(conn, tables[name], existing.rows[name], wanted[name])
        counts[name] = (created, updated, counts[name][2])
    for name in UPSERT_ONLY:
        created, updated = await _upsert(conn, t.metadata.tables[name], existing.rows[name],
                                         wanted[name], created_at=datetime.now(UTC))
        counts[name] = (created, updated, 0)

    kept, changed = await _stock(conn, definition, existing, set_stock)
    if any(sum(c) for c in counts.values()) or changed:
        await conn.execute(update(t.stores).where(t.stores.c.id == store_id)
                           .values(config_version=t.stores.c.config_version + 1))
    codes = {code.id for d in definition.config.discounts for code in d.codes}
    cards = {card.id for card in definition.gift_cards}
    return SavedDefinition(
        counts=counts, stock_kept=tuple(kept), stock_set=tuple(changed),
        codes_used=sum(1 for (code_id,), row in existing.rows["discount_codes"].items()
                       if code_id in codes and row["used"]),
        cards_debited=sum(1 for (card_id,), row in existing.rows["gift_cards"].items()
                          if card_id in cards and row["debited"]))


async def _upsert(conn: AsyncConnection, table: Table, existing: Mapping[tuple[Any, ...], Row],
                  rows: list[Row], **on_insert: Any) -> tuple[int, int]:
    """Insert the rows that are new and update those that differ; (created, updated)."""
    created = updated = 0
    for row in rows:
        key = _key(table, row)
        current = existing.get(key)
        if current is None:
            await conn.execute(insert(table).values(**on_insert, **row))
            created += 1
        elif not all(_same(current.get(col), value) for col, value in row.items()):
            await conn.execute(update(table).where(
                and_(*(c == v for c, v in zip(table.primary_key.columns, key, strict=True)))
            ).values(**row))
            updated += 1
    return created, updated


async def _stock(conn: AsyncConnection, definition: StoreDefinition, existing: _Existing,
                 set_stock: bool) -> tuple[list[StockChange], list[StockChange]]:
    """Give new products and variants the file's stock; for those that existed, keep
    stock on hand (or, with ``set_stock``, take the file's). Returns (kept, changed)."""
    kept: list[StockChange] = []
    changed: list[StockChange] = []
    store_id = definition.store_id
    for item in definition.stock_items():
        existed, on_hand = existing.stock(item.id)
        if not existed:
            if item.stock is not None:
                await _put_stock(conn, store_id, item, None, item.stock)
        elif on_hand != item.stock:
            change = StockChange(item.label, on_hand, item.stock)
            if set_stock:
                await _put_stock(conn, store_id, item, on_hand, item.stock)
                changed.append(change)
            else:
                kept.append(change)
    return kept, changed


async def _put_stock(conn: AsyncConnection, store_id: UUID, item: StockItem,
                     on_hand: Decimal | None, stock: Decimal | None) -> None:
    """Set a product's or variant's stock on hand, with its ledger entry: every stock an
    import writes is written here (untracked stock counts as none in the ledger)."""
    table = t.product_variants if item.is_variant else t.products
    await conn.execute(update(table).where(table.c.id == item.id).values(stock=stock))
    delta = (stock or Decimal(0)) - (on_hand or Decimal(0))
    if delta:
        await SqlStockRepository(conn).record(
            store_id, item.id, delta, IMPORT, datetime.now(UTC),
            reason="new in the store file" if on_hand is None and stock is not None
            else "stock taken from the store file")


def _rows(definition: StoreDefinition) -> dict[str, list[Row]]:
    """The rows every configuration table should hold for the store (stock aside)."""
    config = definition.config
    store_id = definition.store_id
    rows: dict[str, list[Row]] = {name: [] for name in (*ORDER, *UPSERT_ONLY)}

    def prices(owner: UUID, values: Mapping[UUID, Decimal]) -> None:
        rows["prices"].extend({"owner_id": owner, "currency_id": currency_id, "value": value}
                              for currency_id, value in values.items())

    def allowed(owner: UUID, values: tuple[AllowedCountry, ...]) -> None:
        rows["allowed_countries"].extend(
            {"owner_id": owner, "country_id": a.country_id,
             "region_code": _region_code(config, a.region_id)} for a in values)

    s = config.store
    rows["stores"].append({
        "id": store_id, "alias": s.alias, "name": s.name,
        "prices_include_tax": s.prices_include_tax, "base_currency_id": s.base_currency_id,
        "default_country_id": s.default_country_id,
        "default_tax_class_id": s.default_tax_class_id,
        "default_order_status_id": s.default_order_status_id,
        "cart_number_template": s.cart_number_template,
        "order_number_template": s.order_number_template,
        "rounding_method": s.rounding_method.value,
        "stock_hold_minutes": s.stock_hold_minutes,
        "emails": email_document(s.emails),
    })
    for c in config.currencies:
        rows["currencies"].append({
            "id": c.id, "store_id": store_id, "code": c.code, "name": c.name,
            "culture": c.culture, "decimal_places": c.decimal_places,
            "format_template": c.format_template,
            "allowed_country_codes": [_country_code(config, country_id)
                                      for country_id in c.allowed_country_ids],
            "sort_order": c.sort_order})
    for place in config.countries:
        rows["countries"].append({
            "id": place.id, "store_id": store_id, "code": place.code, "name": place.name,
            "default_currency_id": place.default_currency_id,
            "default_payment_method_id": place.default_payment_method_id,
            "default_shipping_method_id": place.default_shipping_method_id,
            "sort_order": place.sort_order})
        rows["regions"].extend({
            "id": r.id, "country_id": place.id, "code": r.code, "name": r.name,
            "default_payment_method_id": r.default_payment_method_id,
            "default_shipping_method_id": r.default_shipping_method_id,
            "sort_order": r.sort_order} for r in place.regions)
    for tc in config.tax_classes:
        rows["tax_classes"].append({
            "id": tc.id, "store_id": store_id, "alias": tc.alias, "name": tc.name,
            "default_rate": tc.default_rate, "default_tax_code": tc.default_tax_code,
            "sort_order": tc.sort_order})
        for rate in tc.rates:
            country, region = (_country_code(config, rate.country_id),
                               _region_code(config, rate.region_id))
            rows["tax_rates"].append({
                # A rate's row key is storage's own: derived as it always was.
                "id": uuid.uuid5(store_id, ":".join(
                    ("taxrate", tc.alias.lower(), country.lower(), region.lower()))),
                "tax_class_id": tc.id, "country_id": rate.country_id,
                "region_id": rate.region_id, "rate": rate.rate, "tax_code": rate.tax_code})
    rows["order_statuses"].extend({
        "id": status.id, "store_id": store_id, "alias": status.alias, "name": status.name,
        "color": status.color, "sort_order": status.sort_order}
        for status in config.order_statuses)
    for m in config.payment_methods:
        rows["payment_methods"].append({
            "id": m.id, "store_id": store_id, "alias": m.alias, "name": m.name,
            "provider_alias": m.provider_alias, "sku": m.sku, "tax_class_id": m.tax_class_id,
            "image_url": m.image_url, "sort_order": m.sort_order})
        rows["payment_method_settings"].extend({
            "payment_method_id": m.id, "key": setting.key, "value": setting.value,
            "is_secret": setting.is_secret, "env": setting.env} for setting in m.settings)
        prices(m.id, m.fees)
        allowed(m.id, m.allowed_countries)
    for sm in config.shipping_methods:
        rows["shipping_methods"].append({
            "id": sm.id, "store_id": store_id, "alias": sm.alias, "name": sm.name,
            "sku": sm.sku, "tax_class_id": sm.tax_class_id, "image_url": sm.image_url,
            "sort_order": sm.sort_order})
        prices(sm.id, sm.prices)
        allowed(sm.id, sm.allowed_countries)
        for option in sm.options:
            rows["shipping_options"].append({
                "id": option.id, "shipping_method_id": sm.id, "alias": option.alias,
                "name": option.name, "sort_order": option.sort_order})
            prices(option.id, option.prices)
    for product in definition.products:
        # Stock is live state: written by ``_put_stock`` only, never compared here.
        rows["products"].append({
            "id": product.id, "store_id": store_id, "reference": product.reference,
            "sku": product.sku, "name": product.name, "tax_class_id": product.tax_class_id,
            "is_gift_card": product.is_gift_card, "properties": dict(product.properties),
            "sort_order": product.sort_order})
        prices(product.id, product.prices)
        for v_order, variant in enumerate(product.variants):
            rows["product_variants"].append({
                "id": variant.id, "product_id": product.id, "reference": variant.reference,
                "sku": variant.sku, "name": variant.name,
                "attributes": [{"alias": alias, "name": name, "valueAlias": value_alias,
                                "valueName": value_name}
                               for alias, name, value_alias, value_name in variant.attributes],
                "properties": dict(variant.properties), "sort_order": v_order})
            prices(variant.id, variant.prices)
    _discount_rows(definition, rows)
    return rows


def _discount_rows(definition: StoreDefinition, rows: dict[str, list[Row]]) -> None:
    """Discounts with rules and rewards as JSON (amounts as exact decimal strings), their
    codes (``used`` aside), and the gift cards to issue or update (``debited`` aside)."""
    store_id = definition.store_id

    def amounts(values: Mapping[UUID, Decimal]) -> dict[str, str]:
        return {str(currency_id): f"{value:f}" for currency_id, value in values.items()}

    for order, d in enumerate(definition.config.discounts):
        rows["discounts"].append({
            "id": d.id, "store_id": store_id, "alias": d.alias, "name": d.name,
            "kind": d.kind.value, "active": d.active, "starts_at": d.starts_at,
            "expires_at": d.expires_at, "block_further": d.block_further,
            "rules": {"minSubtotal": amounts(d.min_subtotal),
                      "countries": sorted(str(c) for c in d.countries)},
            "rewards": [{"target": r.target.value,
                         "percentage": f"{r.percentage:f}" if r.percentage is not None
                         else None,
                         "amounts": amounts(r.amounts), "products": sorted(r.products)}
                        for r in d.rewards],
            "sort_order": order})
        rows["discount_codes"].extend({
            "id": code.id, "store_id": store_id, "discount_id": d.id, "code": code.code,
            "usage_limit": code.usage_limit} for code in d.codes)
    rows["gift_cards"].extend({
        "id": card.id, "store_id": store_id, "code": card.code,
        "currency_id": card.currency_id, "amount": card.amount,
        "expires_at": card.expires_at, "active": card.active}
        for card in definition.gift_cards)


def _country_code(config: StoreConfig, country_id: UUID) -> str:
    country = config.country_by_id(country_id)
    assert country is not None  # a StoreDefinition's references resolve
    return country.code


def _region_code(config: StoreConfig, region_id: UUID | None) -> str:
    region = config.region_by_id(region_id)
    return region.code if region is not None else ""


async def store_id_for(conn: AsyncConnection, alias: str, given: UUID | None) -> UUID | None:
    """The id of the store a file describes: by its explicit id, else by alias."""
    if given is not None:
        return given
    row = (await conn.execute(select(t.stores.c.id).where(t.stores.c.alias == alias))).first()
    return row.id if row else None
