"""A store's configuration: what a shop sells, where, in which currencies, at which tax.

Everything here is an immutable snapshot. ``StoreConfig`` bundles one store's settings
so that a request can resolve ids, aliases and codes without further queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import TypeVar
from uuid import UUID

from kasse.domain.discounts import Discount, DiscountCode
from kasse.domain.emails import EmailSettings
from kasse.domain.money import RoundingMethod


@dataclass(frozen=True, slots=True)
class Store:
    id: UUID
    alias: str
    name: str
    prices_include_tax: bool
    base_currency_id: UUID | None
    default_country_id: UUID | None
    default_tax_class_id: UUID | None
    default_order_status_id: UUID | None
    cart_number_template: str
    order_number_template: str
    rounding_method: RoundingMethod
    config_version: int = 1
    stock_hold_minutes: int = 15
    """How long a checkout holds the order's stock."""
    emails: EmailSettings = field(default_factory=EmailSettings)
    """Sender, reply-to, BCC, languages and templates of the shopper's emails."""


@dataclass(frozen=True, slots=True)
class Currency:
    id: UUID
    store_id: UUID
    code: str
    name: str
    culture: str
    decimal_places: int
    format_template: str | None = None
    allowed_country_ids: tuple[UUID, ...] = ()
    sort_order: int = 0

    @property
    def alias(self) -> str:
        return self.code


@dataclass(frozen=True, slots=True)
class Region:
    id: UUID
    country_id: UUID
    code: str
    name: str
    default_payment_method_id: UUID | None = None
    default_shipping_method_id: UUID | None = None
    sort_order: int = 0

    @property
    def alias(self) -> str:
        return self.code


@dataclass(frozen=True, slots=True)
class Country:
    id: UUID
    store_id: UUID
    code: str
    name: str
    default_currency_id: UUID | None = None
    default_payment_method_id: UUID | None = None
    default_shipping_method_id: UUID | None = None
    regions: tuple[Region, ...] = ()
    sort_order: int = 0

    @property
    def alias(self) -> str:
        return self.code

    def region(self, id_or_code: str) -> Region | None:
        return _find(self.regions, id_or_code, by="code")


@dataclass(frozen=True, slots=True)
class TaxRate:
    country_id: UUID
    region_id: UUID | None
    rate: Decimal
    tax_code: str | None = None


@dataclass(frozen=True, slots=True)
class TaxClass:
    id: UUID
    store_id: UUID
    alias: str
    name: str
    default_rate: Decimal
    default_tax_code: str | None = None
    rates: tuple[TaxRate, ...] = ()
    sort_order: int = 0

    _rate_index: Mapping[tuple[UUID, UUID | None], TaxRate] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Every priced line asks for its rate; index (country, region) once.
        index: dict[tuple[UUID, UUID | None], TaxRate] = {}
        for rate in self.rates:
            if rate.region_id is None:
                index[(rate.country_id, None)] = rate
            else:
                index.setdefault((rate.country_id, rate.region_id), rate)
        object.__setattr__(self, "_rate_index", index)

    def rate_for(self, country_id: UUID | None, region_id: UUID | None) -> TaxRate | None:
        """The most specific rate: region, then country; ``None`` means the default rate."""
        if country_id is None:
            return None
        index = self._rate_index
        if region_id is not None and (country_id, region_id) in index:
            return index[(country_id, region_id)]
        return index.get((country_id, None))


@dataclass(frozen=True, slots=True)
class OrderStatus:
    id: UUID
    store_id: UUID
    alias: str
    name: str
    color: str | None = None
    sort_order: int = 0


@dataclass(frozen=True, slots=True)
class AllowedCountry:
    country_id: UUID
    region_id: UUID | None = None


def _allows(allowed: tuple[AllowedCountry, ...], country_id: UUID, region_id: UUID | None) -> bool:
    """An empty list allows every country; a country entry allows all of its regions."""
    if not allowed:
        return True
    for entry in allowed:
        if entry.country_id != country_id:
            continue
        if entry.region_id is None or entry.region_id == region_id:
            return True
    return False


@dataclass(frozen=True, slots=True)
class PaymentMethodSetting:
    key: str
    value: str
    is_secret: bool
    env: str | None = None
    """The environment variable the value comes from (``{env: NAME}`` in the store file).
    Only the name is stored; the value is read from the environment of the process that
    loads the store, so a copy of the database holds no live secret."""

    def from_environment(self, environ: Mapping[str, str]) -> PaymentMethodSetting:
        """This setting with its value read from ``environ`` (empty when not set there)."""
        if self.env is None:
            return self
        return replace(self, value=environ.get(self.env, ""))

    @property
    def unset(self) -> bool:
        """Its environment variable was not set (or empty) where the store was loaded."""
        return self.env is not None and not self.value


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    id: UUID
    store_id: UUID
    alias: str
    name: str
    provider_alias: str
    sku: str | None = None
    tax_class_id: UUID | None = None
    image_url: str | None = None
    settings: tuple[PaymentMethodSetting, ...] = ()
    fees: Mapping[UUID, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    allowed_countries: tuple[AllowedCountry, ...] = ()
    sort_order: int = 0

    def allowed_in(self, country_id: UUID, region_id: UUID | None = None) -> bool:
        return _allows(self.allowed_countries, country_id, region_id)

    def public_settings(self) -> dict[str, str]:
        """Settings safe to show a storefront; secret ones never leave the server."""
        return {s.key: s.value for s in self.settings if not s.is_secret}

    def unset_settings(self) -> list[PaymentMethodSetting]:
        """Settings whose environment variable the loading process does not have."""
        return [s for s in self.settings if s.unset]

    def from_environment(self, environ: Mapping[str, str]) -> PaymentMethod:
        """This method with the settings named ``{env: NAME}`` read from ``environ``."""
        if all(s.env is None for s in self.settings):
            return self
        return replace(self, settings=tuple(s.from_environment(environ)
                                            for s in self.settings))

    def fee_in(self, currency_id: UUID) -> Decimal | None:
        return self.fees.get(currency_id)


@dataclass(frozen=True, slots=True)
class ShippingOption:
    id: UUID
    alias: str
    name: str
    prices: Mapping[UUID, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    sort_order: int = 0


@dataclass(frozen=True, slots=True)
class ShippingMethod:
    id: UUID
    store_id: UUID
    alias: str
    name: str
    sku: str | None = None
    tax_class_id: UUID | None = None
    image_url: str | None = None
    prices: Mapping[UUID, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    options: tuple[ShippingOption, ...] = ()
    allowed_countries: tuple[AllowedCountry, ...] = ()
    sort_order: int = 0

    def allowed_in(self, country_id: UUID, region_id: UUID | None = None) -> bool:
        return _allows(self.allowed_countries, country_id, region_id)

    def price_in(self, currency_id: UUID) -> Decimal | None:
        return self.prices.get(currency_id)


@dataclass(frozen=True, slots=True)
class ProductVariant:
    id: UUID
    reference: str
    sku: str
    name: str
    attributes: tuple[tuple[str, str, str, str], ...] = ()
    """(attribute alias, attribute name, value alias, value name) pairs."""
    prices: Mapping[UUID, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    stock: Decimal | None = None
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Product:
    id: UUID
    store_id: UUID
    reference: str
    sku: str
    name: str
    tax_class_id: UUID | None = None
    prices: Mapping[UUID, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    stock: Decimal | None = None
    """``None`` means stock is not tracked (always available)."""
    is_gift_card: bool = False
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    variants: tuple[ProductVariant, ...] = ()
    sort_order: int = 0

    def variant(self, reference: str) -> ProductVariant | None:
        for variant in self.variants:
            if variant.reference == reference:
                return variant
        return None

    def price_in(self, currency_id: UUID, variant_reference: str | None = None
                 ) -> Decimal | None:
        """The configured price of the product or its variant (falling back to the product's)."""
        variant = self.variant(variant_reference) if variant_reference else None
        value = variant.prices.get(currency_id) if variant is not None else None
        return value if value is not None else self.prices.get(currency_id)



T = TypeVar("T", Currency, Country, TaxClass, OrderStatus, PaymentMethod, ShippingMethod, Region)


def _find(items: Iterable[T], id_or_alias: str, by: str = "alias") -> T | None:
    """Find by id (a UUID string) or by alias/code, case-insensitively."""
    key = id_or_alias.strip()
    try:
        wanted: UUID | None = UUID(key)
    except ValueError:
        wanted = None
    lowered = key.lower()
    for item in items:
        if wanted is not None and item.id == wanted:
            return item
        if str(getattr(item, by)).lower() == lowered:
            return item
    return None


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """One store with everything it is configured with, except its products."""

    store: Store
    currencies: tuple[Currency, ...]
    countries: tuple[Country, ...]
    tax_classes: tuple[TaxClass, ...]
    order_statuses: tuple[OrderStatus, ...]
    payment_methods: tuple[PaymentMethod, ...]
    shipping_methods: tuple[ShippingMethod, ...]
    discounts: tuple[Discount, ...] = ()
    # Every priced amount of a response looks its currency, tax class … up by id: the
    # lookups are indexed once per configuration instead of scanned on every call.
    _by_id: Mapping[UUID, object] = field(init=False, repr=False, compare=False)
    _codes: Mapping[str, tuple[Discount, DiscountCode]] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regions = (r for c in self.countries for r in c.regions)
        everything: tuple[Currency | Country | Region | TaxClass | OrderStatus | PaymentMethod
                          | ShippingMethod, ...] = (
            *self.currencies, *self.countries, *regions, *self.tax_classes,
            *self.order_statuses, *self.payment_methods, *self.shipping_methods)
        object.__setattr__(self, "_by_id", {item.id: item for item in everything})
        object.__setattr__(self, "_codes", {c.code: (d, c) for d in self.discounts
                                            for c in d.codes})

    def from_environment(self, environ: Mapping[str, str]) -> StoreConfig:
        """This configuration with the payment method settings named ``{env: NAME}`` read
        from ``environ``: done once when a process loads the store for use."""
        methods = tuple(m.from_environment(environ) for m in self.payment_methods)
        if all(new is old for new, old in zip(methods, self.payment_methods, strict=True)):
            return self
        return replace(self, payment_methods=methods)

    def discount_code(self, code: str) -> tuple[Discount, DiscountCode] | None:
        """The discount a (normalized) code belongs to, with the code's own settings."""
        return self._codes.get(code)

    @property
    def has_timed_discounts(self) -> bool:
        """Whether some discount starts or ends at a date (prices then depend on time)."""
        return any(d.timed for d in self.discounts)

    def _lookup(self, kind: type[T], item_id: UUID | None) -> T | None:
        item = self._by_id.get(item_id) if item_id is not None else None
        return item if isinstance(item, kind) else None

    def currency(self, id_or_code: str) -> Currency | None:
        return _find(self.currencies, id_or_code, by="code")

    def country(self, id_or_code: str) -> Country | None:
        return _find(self.countries, id_or_code, by="code")

    def tax_class(self, id_or_alias: str) -> TaxClass | None:
        return _find(self.tax_classes, id_or_alias)

    def payment_method(self, id_or_alias: str) -> PaymentMethod | None:
        return _find(self.payment_methods, id_or_alias)

    def shipping_method(self, id_or_alias: str) -> ShippingMethod | None:
        return _find(self.shipping_methods, id_or_alias)

    def currency_by_id(self, currency_id: UUID | None) -> Currency | None:
        return self._lookup(Currency, currency_id)

    def country_by_id(self, country_id: UUID | None) -> Country | None:
        return self._lookup(Country, country_id)

    def region_by_id(self, region_id: UUID | None) -> Region | None:
        return self._lookup(Region, region_id)

    def tax_class_by_id(self, tax_class_id: UUID | None) -> TaxClass | None:
        return self._lookup(TaxClass, tax_class_id)

    def payment_method_by_id(self, method_id: UUID | None) -> PaymentMethod | None:
        return self._lookup(PaymentMethod, method_id)

    def shipping_method_by_id(self, method_id: UUID | None) -> ShippingMethod | None:
        return self._lookup(ShippingMethod, method_id)

    def order_status_by_id(self, status_id: UUID | None) -> OrderStatus | None:
        return self._lookup(OrderStatus, status_id)

    def payment_methods_in(self, country: Country, region: Region | None = None
                           ) -> list[PaymentMethod]:
        region_id = region.id if region else None
        return [m for m in self.payment_methods if m.allowed_in(country.id, region_id)]

    def shipping_methods_in(self, country: Country, region: Region | None = None
                            ) -> list[ShippingMethod]:
        region_id = region.id if region else None
        return [m for m in self.shipping_methods if m.allowed_in(country.id, region_id)]

    def currencies_in(self, country: Country) -> list[Currency]:
        return [
            c for c in self.currencies
            if not c.allowed_country_ids or country.id in c.allowed_country_ids
        ]
