"""The shopper's session defaults (headers ``Currency``, ``Shipping-Country`` …) resolved
against a store's configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kasse.domain.errors import InvalidInput
from kasse.domain.pricing import Destination, PricingPolicy, tax_destination
from kasse.domain.store import Country, Currency, Region, StoreConfig, TaxClass


@dataclass(frozen=True, slots=True)
class SessionHeaders:
    """Raw header values as sent (all optional)."""

    currency: str | None = None
    tax_class: str | None = None
    billing_country: str | None = None
    billing_region: str | None = None
    shipping_country: str | None = None
    shipping_region: str | None = None
    language: str | None = None
    customer_reference: str | None = None
    current_order: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    config: StoreConfig
    currency: Currency | None
    tax_class: TaxClass | None
    billing_country: Country | None
    billing_region: Region | None
    shipping_country: Country | None
    shipping_region: Region | None
    language: str | None
    customer_reference: str | None
    currency_from_header: bool = False

    @property
    def destination(self) -> Destination:
        """Where the session's prices are taxed (see ``pricing.tax_destination``)."""
        return tax_destination(self.config, self.shipping_country, self.shipping_region,
                               self.billing_country, self.billing_region)

    def pricing(self) -> PricingPolicy:
        """The pricing policy for this session's currency, destination and tax class."""
        return PricingPolicy.of(self.config, self.currency.id if self.currency else None,
                                self.destination, self.tax_class)


LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}([-_][A-Za-z0-9]{1,8})*$")


def parse_language(value: str | None, what: str = "Accept-Language") -> str | None:
    """The preferred language of an ``Accept-Language`` value (``*`` means no preference)."""
    if value is None:
        return None
    first = value.split(",")[0].split(";")[0].strip()
    if not first or first == "*":
        return None
    if len(first) > 35 or not LANGUAGE_TAG.match(first):
        raise InvalidInput(f"{what}: {first[:40]!r} is not a language tag such as 'en-GB'")
    return first.replace("_", "-")


def _lookup_country(config: StoreConfig, value: str | None, header: str) -> Country | None:
    if value is None or not value.strip():
        return None
    country = config.country(value)
    if country is None:
        raise InvalidInput(f"{header} header: the store has no country {value.strip()!r}")
    return country


def _lookup_region(country: Country | None, value: str | None, header: str) -> Region | None:
    if value is None or not value.strip():
        return None
    if country is None:
        raise InvalidInput(f"{header} header needs a country header to go with it")
    region = country.region(value)
    if region is None:
        raise InvalidInput(f"{header} header: {country.code} has no region {value.strip()!r}")
    return region


def resolve_session(config: StoreConfig, headers: SessionHeaders) -> Session:
    """Resolve ids and aliases; an unknown value is an error naming the header."""
    billing = _lookup_country(config, headers.billing_country, "Billing-Country")
    shipping = _lookup_country(config, headers.shipping_country, "Shipping-Country")
    billing_region = _lookup_region(billing, headers.billing_region, "Billing-Region")
    shipping_region = _lookup_region(shipping, headers.shipping_region, "Shipping-Region")

    currency: Currency | None = None
    if headers.currency and headers.currency.strip():
        currency = config.currency(headers.currency)
        if currency is None:
            raise InvalidInput(
                f"Currency header: the store has no currency {headers.currency.strip()!r}")
    else:
        destination = shipping or billing or config.country_by_id(config.store.default_country_id)
        currency = (config.currency_by_id(destination.default_currency_id) if destination else None
                    ) or config.currency_by_id(config.store.base_currency_id)

    tax_class: TaxClass | None = None
    if headers.tax_class and headers.tax_class.strip():
        tax_class = config.tax_class(headers.tax_class)
        if tax_class is None:
            raise InvalidInput(
                f"Tax-Class header: the store has no tax class {headers.tax_class.strip()!r}")

    return Session(
        config=config, currency=currency, tax_class=tax_class, billing_country=billing,
        billing_region=billing_region, shipping_country=shipping or billing,
        shipping_region=shipping_region if shipping else billing_region,
        language=parse_language(headers.language),
        customer_reference=headers.customer_reference,
        currency_from_header=bool(headers.currency and headers.currency.strip()),
    )
