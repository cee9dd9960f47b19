"""Reading stores and their catalogs."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from kasse.domain.errors import InvalidInput, NotFound, StoreNotFound
from kasse.domain.store import PaymentMethod, Product, ProductVariant, StoreConfig
from kasse.domain.text import has_control_characters
from kasse.services.ports import Storage

log = logging.getLogger("kasse.stores")

MAX_REFERENCES = 100
MAX_TAKE = 100


class StoreDirectory:
    """Finds a store by id or alias and keeps its configuration per ``config_version``.

    Whether an import (in any process) has bumped the version is checked with one small
    query at most once per ``recheck_seconds`` for each name a store is asked for by, so
    a busy shop does not pay a query per request and an import is seen within that time.
    """

    def __init__(self, storage: Storage, recheck_seconds: float = 1.0,
                 environ: Mapping[str, str] | None = None) -> None:
        self._storage = storage
        self._cache: dict[UUID, StoreConfig] = {}
        self._checked: dict[str, tuple[float, UUID]] = {}
        self._recheck = recheck_seconds
        self._environ = os.environ if environ is None else environ
        """Where settings given as ``{env: NAME}`` get their values (the database has
        only their names)."""

    async def get(self, id_or_alias: str) -> StoreConfig:
        if not id_or_alias or not id_or_alias.strip():
            raise InvalidInput("the Store header is required (a store id or alias)")
        key = id_or_alias.strip().lower()
        checked = self._checked.get(key)
        if checked is not None and time.monotonic() - checked[0] < self._recheck:
            cached = self._cache.get(checked[1])
            if cached is not None:
                return cached
        async with self._storage.reading() as reader:
            found = await reader.find_store(id_or_alias)
            if found is None:
                raise StoreNotFound(f"no store with id or alias {id_or_alias.strip()!r}")
            store_id, version = found
            cached = self._cache.get(store_id)
            if cached is not None and cached.store.config_version == version:
                self._remember(key, store_id)
                return cached
            config = await reader.load_store_config(store_id)
        if config is None:
            raise StoreNotFound(f"no store with id or alias {id_or_alias.strip()!r}")
        config = config.from_environment(self._environ)
        _warn_about_unset_settings(config)
        self._cache[store_id] = config
        self._remember(key, store_id)
        return config

    def _remember(self, key: str, store_id: UUID) -> None:
        if len(self._checked) > 1000:  # names are what clients send: keep the map small
            self._checked.clear()
        self._checked[key] = (time.monotonic(), store_id)

    async def payment_method(self, method_id: UUID) -> tuple[StoreConfig, PaymentMethod] | None:
        """The store and payment method with this id (for gateway callbacks, which name
        the method but not the store)."""
        for config in await self.warm_up():
            method = config.payment_method_by_id(method_id)
            if method is not None:
                return config, method
        return None

    async def warm_up(self) -> list[StoreConfig]:
        """Load every store's configuration now rather than on a shopper's first request."""
        async with self._storage.reading() as reader:
            aliases = await reader.store_aliases()
        return [await self.get(alias) for alias in aliases]


def _warn_about_unset_settings(config: StoreConfig) -> None:
    for method in config.payment_methods:
        for setting in method.unset_settings():
            log.warning("store %r, payment method %r: setting %s comes from the "
                        "environment variable %s, which is not set; checkouts with this "
                        "method fail until it is", config.store.alias, method.alias,
                        setting.key, setting.env)


@dataclass(frozen=True, slots=True)
class CatalogItem:
    product: Product
    variant: ProductVariant | None


def parse_references(raw: list[str]) -> list[tuple[str, str | None]]:
    """``["p1", "p2:v1", "p3,p4"]`` into (product, variant) pairs, in order, no repeats."""
    pairs: list[tuple[str, str | None]] = []
    for item in raw:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            product, _, variant = part.partition(":")
            if not product.strip() or (_ and not variant.strip()):
                raise InvalidInput(f"productReference {part!r} is not 'product' or "
                                   "'product:variant'")
            pair = (product.strip(), variant.strip() or None)
            if pair not in pairs:
                pairs.append(pair)
    if len(pairs) > MAX_REFERENCES:
        raise InvalidInput(f"at most {MAX_REFERENCES} product references per request")
    return pairs


async def get_products(storage: Storage, config: StoreConfig, references: list[str]
                       ) -> list[CatalogItem]:
    """The products (or variants) named; an unknown reference is a 404 naming it."""
    pairs = parse_references(references)
    async with storage.reading() as reader:
        products = await reader.products_by_reference(config.store, [p for p, _ in pairs])
    by_reference = {p.reference: p for p in products}
    items: list[CatalogItem] = []
    for product_ref, variant_ref in pairs:
        product = by_reference.get(product_ref)
        if product is None:
            raise NotFound(f"no product with reference {product_ref!r}")
        variant = None
        if variant_ref is not None:
            variant = product.variant(variant_ref)
            if variant is None:
                raise NotFound(f"product {product_ref!r} has no variant {variant_ref!r}")
        items.append(CatalogItem(product, variant))
    return items


async def browse_products(storage: Storage, config: StoreConfig, *, skip: int, take: int,
                          text: str | None, include_variants: bool
                          ) -> tuple[list[CatalogItem], int]:
    """A page of the catalog (an extension: the reference needs a CMS for this)."""
    if skip < 0:
        raise InvalidInput("skip must be 0 or more")
    if not 1 <= take <= MAX_TAKE:
        raise InvalidInput(f"take must be between 1 and {MAX_TAKE}")
    if text and has_control_characters(text):
        raise InvalidInput("q must not contain control characters")
    async with storage.reading() as reader:
        products, total = await reader.list_products(config.store.id, skip=skip, take=take,
                                                     text=text.strip() if text else None)
    items: list[CatalogItem] = []
    for product in products:
        items.append(CatalogItem(product, None))
        if include_variants:
            items.extend(CatalogItem(product, v) for v in product.variants)
    return items, total


def adjusted_quantity(value: float | None) -> Decimal:
    """The quantity for adjusted price previews: a positive whole number, default 1."""
    if value is None:
        return Decimal(1)
    quantity = Decimal(str(value))
    if not quantity.is_finite() or quantity <= 0 or quantity > 1_000_000:
        raise InvalidInput("AdjustedPriceCalculationQuantity must be between 0 and 1000000")
    return quantity


def _attribute_pairs(raw: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in raw:
        for part in item.split(","):
            name, sep, value = part.partition(":")
            if not sep or not name.strip() or not value.strip():
                raise InvalidInput(f"attribute {part.strip()[:60]!r} is not 'attribute:value'")
            pairs[name.strip().lower()] = value.strip().lower()
    if not pairs:
        raise InvalidInput("name at least one attribute, e.g. attribute=size:m")
    return pairs


def _matches(variant: ProductVariant, wanted: dict[str, str]) -> bool:
    """A variant matches when each named attribute has the value (by alias or by name)."""
    have = {}
    for alias, name, value_alias, value_name in variant.attributes:
        for key in (alias.lower(), name.lower()):
            have[key] = {value_alias.lower(), value_name.lower()}
    return all(value in have.get(key, set()) for key, value in wanted.items())


async def variant_by_attributes(storage: Storage, product_id: UUID, attributes: list[str]
                                ) -> tuple[Product, ProductVariant]:
    """The variant of a product with the given attribute values (the variants endpoint of
    the reference's content delivery API)."""
    wanted = _attribute_pairs(attributes)
    async with storage.reading() as reader:
        product = await reader.product_by_id(product_id)
    if product is None:
        raise NotFound(f"no product with id {product_id}")
    matches = [v for v in product.variants if _matches(v, wanted)]
    if not matches:
        raise NotFound(f"{product.name} has no variant with "
                       + ", ".join(f"{k}:{v}" for k, v in wanted.items()))
    return product, matches[0]
