"""Reading a store's configuration and catalog into domain objects."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from uuid import UUID

from sqlalchemy import Row, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db import tables as t
from kasse.adapters.db.stock_repository import available_of, reserved_of
from kasse.adapters.db.types import utc
from kasse.domain.discounts import Discount, DiscountCode, DiscountKind, Reward, RewardTarget
from kasse.domain.emails import EmailSettings
from kasse.domain.money import RoundingMethod
from kasse.domain.store import (
    AllowedCountry,
    Country,
    Currency,
    OrderStatus,
    PaymentMethod,
    PaymentMethodSetting,
    Product,
    ProductVariant,
    Region,
    ShippingMethod,
    ShippingOption,
    Store,
    StoreConfig,
    TaxClass,
    TaxRate,
)

# Statements of the per-request paths, built once (see order_repository).
_STORE_BY_ALIAS = (select(t.stores.c.id, t.stores.c.config_version)
                   .where(func.lower(t.stores.c.alias) == bindparam("b_alias")).limit(1))
_STORE_BY_ALIAS_OR_ID = (select(t.stores.c.id, t.stores.c.config_version)
                         .where(or_(func.lower(t.stores.c.alias) == bindparam("b_alias"),
                                    t.stores.c.id == bindparam("b_id"))).limit(1))
_PRODUCTS_BY_REFERENCE = select(t.products).where(
    t.products.c.store_id == bindparam("b_store_id"),
    t.products.c.reference.in_(bindparam("b_references", expanding=True)))
_VARIANTS_OF = (select(t.product_variants)
                .where(t.product_variants.c.product_id.in_(
                    bindparam("b_product_ids", expanding=True)))
                .order_by(t.product_variants.c.sort_order, t.product_variants.c.reference))
_PRICES_OF = (select(t.prices.c.owner_id, t.prices.c.currency_id, t.prices.c.value)
              .where(t.prices.c.owner_id.in_(bindparam("b_owner_ids", expanding=True))))


def _as_uuid(text: str) -> UUID | None:
    try:
        return UUID(text.strip())
    except ValueError:
        return None


def _store(row: Row[Any]) -> Store:
    return Store(
        id=row.id, alias=row.alias, name=row.name, prices_include_tax=row.prices_include_tax,
        base_currency_id=row.base_currency_id, default_country_id=row.default_country_id,
        default_tax_class_id=row.default_tax_class_id,
        default_order_status_id=row.default_order_status_id,
        cart_number_template=row.cart_number_template,
        order_number_template=row.order_number_template,
        rounding_method=RoundingMethod(row.rounding_method), config_version=row.config_version,
        stock_hold_minutes=row.stock_hold_minutes,
        emails=email_settings(row.emails),
    )


def email_settings(stored: Any) -> EmailSettings:
    """The ``stores.emails`` document as the store's email settings."""
    if not stored:
        return EmailSettings()
    return EmailSettings(
        sender=stored.get("sender"), reply_to=stored.get("replyTo"),
        bcc=tuple(stored.get("bcc") or ()),
        default_language=stored.get("defaultLanguage") or "en",
        templates=MappingProxyType(dict(stored.get("templates") or {})),
        payment_instructions=MappingProxyType({
            alias: MappingProxyType(dict(texts))
            for alias, texts in (stored.get("paymentInstructions") or {}).items()}))


def email_document(settings: EmailSettings) -> dict[str, Any] | None:
    """The store's email settings as kept in ``stores.emails`` (``None``: none set)."""
    if settings == EmailSettings():
        return None
    return {"sender": settings.sender, "replyTo": settings.reply_to,
            "bcc": list(settings.bcc), "defaultLanguage": settings.default_language,
            "templates": dict(sorted(settings.templates.items())),
            "paymentInstructions": {alias: dict(texts) for alias, texts
                                    in sorted(settings.payment_instructions.items())}}


async def find_store_row(conn: AsyncConnection, id_or_alias: str) -> tuple[UUID, int] | None:
    """(id, config_version) of the store with this id or alias (aliases ignore case)."""
    wanted = _as_uuid(id_or_alias)
    alias = id_or_alias.strip().lower()
    if wanted is None:
        result = await conn.execute(_STORE_BY_ALIAS, {"b_alias": alias})
    else:
        result = await conn.execute(_STORE_BY_ALIAS_OR_ID, {"b_alias": alias, "b_id": wanted})
    row = result.first()
    return (row.id, row.config_version) if row else None


async def store_aliases(conn: AsyncConnection) -> list[str]:
    return list((await conn.execute(select(t.stores.c.alias).order_by(t.stores.c.alias)))
                .scalars())


async def _prices_of(conn: AsyncConnection, owner_ids: Sequence[UUID]
                     ) -> dict[UUID, Mapping[UUID, Decimal]]:
    found: dict[UUID, dict[UUID, Decimal]] = defaultdict(dict)
    if owner_ids:
        rows = await conn.execute(_PRICES_OF, {"b_owner_ids": list(owner_ids)})
        for owner_id, currency_id, value in rows:
            found[owner_id][currency_id] = value
    return {k: MappingProxyType(v) for k, v in found.items()}


async def load_store_config(conn: AsyncConnection, store_id: UUID) -> StoreConfig | None:
    """The whole configuration of one store (products excluded), in a handful of queries."""
    store_row = (await conn.execute(select(t.stores).where(t.stores.c.id == store_id))).first()
    if store_row is None:
        return None
    store = _store(store_row)

    country_rows = (await conn.execute(
        select(t.countries).where(t.countries.c.store_id == store_id)
        .order_by(t.countries.c.sort_order, t.countries.c.name)
    )).all()
    region_rows = (await conn.execute(
        select(t.regions).join(t.countries, t.regions.c.country_id == t.countries.c.id)
        .where(t.countries.c.store_id == store_id)
        .order_by(t.regions.c.sort_order, t.regions.c.name)
    )).all()
    regions_by_country: dict[UUID, list[Region]] = defaultdict(list)
    region_ids: dict[tuple[UUID, str], UUID] = {}
    for r in region_rows:
        regions_by_country[r.country_id].append(Region(
            id=r.id, country_id=r.country_id, code=r.code, name=r.name,
            default_payment_method_id=r.default_payment_method_id,
            default_shipping_method_id=r.default_shipping_method_id, sort_order=r.sort_order))
        region_ids[(r.country_id, r.code)] = r.id
    countries = tuple(
        Country(id=c.id, store_id=c.store_id, code=c.code, name=c.name,
                default_currency_id=c.default_currency_id,
                default_payment_method_id=c.default_payment_method_id,
                default_shipping_method_id=c.default_shipping_method_id,
                regions=tuple(regions_by_country.get(c.id, ())), sort_order=c.sort_order)
        for c in country_rows
    )
    country_ids = {c.code.upper(): c.id for c in countries}

    currencies = tuple(
        Currency(id=c.id, store_id=c.store_id, code=c.code, name=c.name, culture=c.culture,
                 decimal_places=c.decimal_places, format_template=c.format_template,
                 allowed_country_ids=tuple(country_ids[code.upper()]
                                           for code in c.allowed_country_codes
                                           if code.upper() in country_ids),
                 sort_order=c.sort_order)
        for c in (await conn.execute(
            select(t.currencies).where(t.currencies.c.store_id == store_id)
            .order_by(t.currencies.c.sort_order, t.currencies.c.code)
        ))
    )

    rates_by_class: dict[UUID, list[TaxRate]] = defaultdict(list)
    for r in await conn.execute(
        select(t.tax_rates).join(t.tax_classes, t.tax_rates.c.tax_class_id == t.tax_classes.c.id)
        .where(t.tax_classes.c.store_id == store_id)
    ):
        rates_by_class[r.tax_class_id].append(
            TaxRate(country_id=r.country_id, region_id=r.region_id, rate=r.rate,
                    tax_code=r.tax_code))
    tax_classes = tuple(
        TaxClass(id=c.id, store_id=c.store_id, alias=c.alias, name=c.name,
                 default_rate=c.default_rate, default_tax_code=c.default_tax_code,
                 rates=tuple(rates_by_class.get(c.id, ())), sort_order=c.sort_order)
        for c in await conn.execute(
            select(t.tax_classes).where(t.tax_classes.c.store_id == store_id)
            .order_by(t.tax_classes.c.sort_order, t.tax_classes.c.name))
    )

    statuses = tuple(
        OrderStatus(id=s.id, store_id=s.store_id, alias=s.alias, name=s.name, color=s.color,
                    sort_order=s.sort_order)
        for s in await conn.execute(
            select(t.order_statuses).where(t.order_statuses.c.store_id == store_id)
            .order_by(t.order_statuses.c.sort_order, t.order_statuses.c.name))
    )

    pm_rows = (await conn.execute(
        select(t.payment_methods).where(t.payment_methods.c.store_id == store_id)
        .order_by(t.payment_methods.c.sort_order, t.payment_methods.c.name)
    )).all()
    sm_rows = (await conn.execute(
        select(t.shipping_methods).where(t.shipping_methods.c.store_id == store_id)
        .order_by(t.shipping_methods.c.sort_order, t.shipping_methods.c.name)
    )).all()
    option_rows = (await conn.execute(
        select(t.shipping_options).where(
            t.shipping_options.c.shipping_method_id.in_([m.id for m in sm_rows]))
        .order_by(t.shipping_options.c.sort_order, t.shipping_options.c.name)
    )).all() if sm_rows else []
    owners = [m.id for m in pm_rows] + [m.id for m in sm_rows] + [o.id for o in option_rows]
    prices = await _prices_of(conn, owners)
    allowed = await _allowed_countries(conn, owners, region_ids)

    settings: dict[UUID, list[PaymentMethodSetting]] = defaultdict(list)
    if pm_rows:
        for s in await conn.execute(
            select(t.payment_method_settings)
            .where(t.payment_method_settings.c.payment_method_id.in_([m.id for m in pm_rows]))
            .order_by(t.payment_method_settings.c.key)
        ):
            settings[s.payment_method_id].append(
                PaymentMethodSetting(key=s.key, value=s.value, is_secret=s.is_secret,
                                     env=s.env))
    empty: Mapping[UUID, Decimal] = MappingProxyType({})
    payment_methods = tuple(
        PaymentMethod(id=m.id, store_id=m.store_id, alias=m.alias, name=m.name,
                      provider_alias=m.provider_alias, sku=m.sku, tax_class_id=m.tax_class_id,
                      image_url=m.image_url, settings=tuple(settings.get(m.id, ())),
                      fees=prices.get(m.id, empty), allowed_countries=allowed.get(m.id, ()),
                      sort_order=m.sort_order)
        for m in pm_rows
    )
    options_by_method: dict[UUID, list[ShippingOption]] = defaultdict(list)
    for o in option_rows:
        options_by_method[o.shipping_method_id].append(
            ShippingOption(id=o.id, alias=o.alias, name=o.name, prices=prices.get(o.id, empty),
                           sort_order=o.sort_order))
    shipping_methods = tuple(
        ShippingMethod(id=m.id, store_id=m.store_id, alias=m.alias, name=m.name, sku=m.sku,
                       tax_class_id=m.tax_class_id, image_url=m.image_url,
                       prices=prices.get(m.id, empty),
                       options=tuple(options_by_method.get(m.id, ())),
                       allowed_countries=allowed.get(m.id, ()), sort_order=m.sort_order)
        for m in sm_rows
    )
    return StoreConfig(store=store, currencies=currencies, countries=countries,
                       tax_classes=tax_classes, order_statuses=statuses,
                       payment_methods=payment_methods, shipping_methods=shipping_methods,
                       discounts=await _discounts(conn, store_id))


def _amounts(values: Mapping[str, str]) -> Mapping[UUID, Decimal]:
    return MappingProxyType({UUID(k): Decimal(v) for k, v in values.items()})


async def _discounts(conn: AsyncConnection, store_id: UUID) -> tuple[Discount, ...]:
    codes: dict[UUID, list[DiscountCode]] = defaultdict(list)
    for c in await conn.execute(
        select(t.discount_codes).where(t.discount_codes.c.store_id == store_id)
        .order_by(t.discount_codes.c.code)
    ):
        codes[c.discount_id].append(DiscountCode(c.id, c.code, c.usage_limit))
    found = []
    for d in await conn.execute(
        select(t.discounts).where(t.discounts.c.store_id == store_id)
        .order_by(t.discounts.c.sort_order, t.discounts.c.alias)
    ):
        rules = d.rules or {}
        found.append(Discount(
            id=d.id, alias=d.alias, name=d.name, kind=DiscountKind(d.kind),
            rewards=tuple(
                Reward(target=RewardTarget(r["target"]),
                       percentage=Decimal(r["percentage"]) if r.get("percentage") else None,
                       amounts=_amounts(r.get("amounts") or {}),
                       products=frozenset(r.get("products") or ()))
                for r in d.rewards or ()),
            active=d.active, starts_at=utc(d.starts_at), expires_at=utc(d.expires_at),
            block_further=d.block_further,
            min_subtotal=_amounts(rules.get("minSubtotal") or {}),
            countries=frozenset(UUID(c) for c in rules.get("countries") or ()),
            codes=tuple(codes.get(d.id, ()))))
    return tuple(found)



async def _allowed_countries(conn: AsyncConnection, owner_ids: Sequence[UUID],
                             region_ids: Mapping[tuple[UUID, str], UUID]
                             ) -> dict[UUID, tuple[AllowedCountry, ...]]:
    found: dict[UUID, list[AllowedCountry]] = defaultdict(list)
    if owner_ids:
        for row in await conn.execute(
            select(t.allowed_countries).where(t.allowed_countries.c.owner_id.in_(owner_ids))
        ):
            region_id = (region_ids.get((row.country_id, row.region_code))
                         if row.region_code else None)
            found[row.owner_id].append(
                AllowedCountry(country_id=row.country_id, region_id=region_id))
    return {k: tuple(v) for k, v in found.items()}


def _product(row: Row[Any], variants: Iterable[ProductVariant],
             prices: Mapping[UUID, Mapping[UUID, Decimal]]) -> Product:
    return Product(
        id=row.id, store_id=row.store_id, reference=row.reference, sku=row.sku, name=row.name,
        tax_class_id=row.tax_class_id, prices=prices.get(row.id, MappingProxyType({})),
        stock=row.stock, is_gift_card=row.is_gift_card,
        properties=MappingProxyType(dict(row.properties or {})), variants=tuple(variants),
        sort_order=row.sort_order,
    )


async def _hydrate_products(conn: AsyncConnection, rows: Sequence[Row[Any]],
                            order_id: UUID | None = None) -> list[Product]:
    """Products with their variants and prices; their stock is what is available to sell
    now (on hand less what other orders than ``order_id`` hold)."""
    if not rows:
        return []
    product_ids = [r.id for r in rows]
    variant_rows = (await conn.execute(_VARIANTS_OF, {"b_product_ids": product_ids})).all()
    prices = await _prices_of(conn, product_ids + [v.id for v in variant_rows])
    held = await reserved_of(conn, [r.id for r in (*rows, *variant_rows)
                                    if r.stock is not None], order_id)
    variants: dict[UUID, list[ProductVariant]] = defaultdict(list)
    for v in variant_rows:
        variants[v.product_id].append(ProductVariant(
            id=v.id, reference=v.reference, sku=v.sku, name=v.name,
            attributes=tuple((a["alias"], a["name"], a["valueAlias"], a["valueName"])
                             for a in v.attributes),
            prices=prices.get(v.id, MappingProxyType({})),
            stock=_available(v.stock, held.get(v.id)),
            properties=MappingProxyType(dict(v.properties or {}))))
    return [replace(product, stock=_available(product.stock, held.get(product.id)))
            if product.id in held else product
            for product in (_product(r, variants.get(r.id, ()), prices) for r in rows)]


def _available(on_hand: Decimal | None, held: Decimal | None) -> Decimal | None:
    return on_hand if on_hand is None or held is None else on_hand - held


async def products_by_reference(conn: AsyncConnection, store_id: UUID,
                                references: Sequence[str], order_id: UUID | None = None
                                ) -> list[Product]:
    rows = (await conn.execute(_PRODUCTS_BY_REFERENCE, {
        "b_store_id": store_id, "b_references": list(references)})).all()
    return await _hydrate_products(conn, rows, order_id)


async def stock_of(conn: AsyncConnection, product_ids: Sequence[UUID],
                   order_id: UUID | None = None) -> dict[UUID, Decimal | None]:
    """Available to sell now of these products and their variants, by id (what
    ``order_id`` holds counts as available to it; ``None``: untracked)."""
    return await available_of(conn, product_ids, order_id)


async def product_by_id(conn: AsyncConnection, product_id: UUID) -> Product | None:
    rows = (await conn.execute(select(t.products).where(t.products.c.id == product_id))).all()
    found = await _hydrate_products(conn, rows)
    return found[0] if found else None


async def list_products(conn: AsyncConnection, store_id: UUID, *, skip: int, take: int,
                        text: str | None) -> tuple[list[Product], int]:
    """A page of the store's products in catalog order, and how many match in all."""
    condition = t.products.c.store_id == store_id
    if text:
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        condition = condition & or_(
            func.lower(t.products.c.name).like(pattern, escape="\\"),
            func.lower(t.products.c.sku).like(pattern, escape="\\"),
            func.lower(t.products.c.reference).like(pattern, escape="\\"),
        )
    total = (await conn.execute(select(func.count()).select_from(t.products).where(condition))
             ).scalar_one()
    rows = (await conn.execute(
        select(t.products).where(condition)
        .order_by(t.products.c.sort_order, t.products.c.name, t.products.c.id)
        .offset(skip).limit(take)
    )).all()
    return await _hydrate_products(conn, rows), total
