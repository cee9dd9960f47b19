"""The schema of a store configuration file (``kasse import FILE``).

Field names are camelCase like the Storefront API. Money is ``Decimal``; a number
with more than six decimal places, a negative price or an unknown key is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal
from uuid import UUID

from babel import Locale
from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from kasse.domain.money import decimal_places_of

_ALIAS = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def _exact(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if decimal_places_of(value) > 6:
        raise ValueError(f"{value} has more than 6 decimal places")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(f"must not be negative, got {value}")
    return value


def _rate(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= Decimal(1):
        raise ValueError(f"a tax rate is a fraction between 0 and 1 (0.2 for 20 %), got {value}")
    return value


Amount = Annotated[Decimal, Field(allow_inf_nan=False), AfterValidator(_exact),
                   AfterValidator(_non_negative)]
Rate = Annotated[Decimal, Field(allow_inf_nan=False), AfterValidator(_exact),
                 AfterValidator(_rate)]
Alias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                         pattern=_ALIAS)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CurrencyCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                                pattern=r"^[A-Za-z]{3}$")]
CountryCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                               pattern=r"^[A-Za-z]{2}$")]
# CLDR names these two-letter regions too, but nobody lives or ships there.
_NOT_COUNTRIES = frozenset({
    "EU", "EZ", "UN",  # the European Union, the Eurozone, the United Nations
    "QO",              # Outlying Oceania, a grouping
    "XA", "XB",        # pseudo-locales for testing translations
    "ZZ",              # unknown region
})


@cache
def iso_currencies() -> frozenset[str]:
    """ISO 4217 currency codes, as CLDR (shipped with Babel) knows them."""
    return frozenset(str(code) for code in list_currencies())


@cache
def iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 country codes, as CLDR (shipped with Babel) knows them."""
    codes = (str(code) for code in Locale("en").territories)
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha()) - _NOT_COUNTRIES


def _iso_currency(code: str) -> str:
    if code not in iso_currencies():
        raise ValueError(f"{code!r} is not an ISO 4217 currency code (such as EUR or USD)")
    return code


def _iso_country(code: str) -> str:
    if code not in iso_countries():
        raise ValueError(f"{code!r} is not an ISO 3166 country code (such as DE or US)")
    return code


# Where a currency or country is defined, its code must be a real one; everywhere else a
# code must name one defined in the file, which the import checks.
IsoCurrencyCode = Annotated[CurrencyCode, AfterValidator(_iso_currency)]
IsoCountryCode = Annotated[CountryCode, AfterValidator(_iso_country)]
RegionCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                              min_length=1, max_length=20, pattern=_ALIAS)]
Prices = dict[CurrencyCode, Amount]
# "DE" (the whole country) or "US:CA" (one region).
Destination = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                               pattern=r"^[A-Za-z]{2}(:[A-Za-z0-9_.-]+)?$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StoreSection(_Model):
    id: UUID | None = None
    alias: Alias
    name: Name
    pricesIncludeTax: bool = True
    baseCurrency: CurrencyCode
    defaultCountry: CountryCode
    defaultTaxClass: Alias
    defaultOrderStatus: Alias | None = None
    cartNumberTemplate: str = "CART-{0}"
    orderNumberTemplate: str = "ORDER-{0}"
    roundingMethod: Literal["unit", "line", "total"] = "unit"
    stockHoldMinutes: int = Field(15, ge=1, le=1440)
    """How long a hosted token or initialize holds the order's stock."""

    @field_validator("cartNumberTemplate", "orderNumberTemplate")
    @classmethod
    def _template(cls, value: str) -> str:
        if value.count("{0}") != 1 or len(value) > 60:
            raise ValueError("a number template holds the placeholder {0} exactly once, "
                             "e.g. ORDER-{0}")
        return value


class CurrencyEntry(_Model):
    id: UUID | None = None
    code: IsoCurrencyCode
    name: Name
    culture: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
    decimalPlaces: Annotated[int, Field(ge=0, le=6)] = 2
    formatTemplate: str | None = None
    allowedCountries: list[CountryCode] = Field(default_factory=list)


class RegionEntry(_Model):
    id: UUID | None = None
    code: RegionCode
    name: Name
    defaultPaymentMethod: Alias | None = None
    defaultShippingMethod: Alias | None = None


class CountryEntry(_Model):
    id: UUID | None = None
    code: IsoCountryCode
    name: Name
    defaultCurrency: CurrencyCode | None = None
    defaultPaymentMethod: Alias | None = None
    defaultShippingMethod: Alias | None = None
    regions: list[RegionEntry] = Field(default_factory=list)


class TaxRateEntry(_Model):
    country: CountryCode
    region: RegionCode | None = None
    rate: Rate
    taxCode: str | None = None


class TaxClassEntry(_Model):
    id: UUID | None = None
    alias: Alias
    name: Name
    defaultRate: Rate = Decimal(0)
    defaultTaxCode: str | None = None
    rates: list[TaxRateEntry] = Field(default_factory=list)


class OrderStatusEntry(_Model):
    id: UUID | None = None
    alias: Alias
    name: Name
    color: str | None = None


class SettingEntry(_Model):
    """A payment method setting; ``secret`` ones never leave the server."""

    value: str | None = None
    env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    secret: bool = False


class PaymentMethodEntry(_Model):
    id: UUID | None = None
    alias: Alias
    name: Name
    provider: Alias
    sku: str | None = None
    taxClass: Alias | None = None
    imageUrl: str | None = None
    settings: dict[str, str | Decimal | bool | SettingEntry] = Field(default_factory=dict)
    fees: Prices = Field(default_factory=dict)
    allowedCountries: list[Destination] = Field(default_factory=list)

    @field_validator("settings")
    @classmethod
    def _keys(cls, value: dict[str, object]) -> dict[str, object]:
        for key in value:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,99}", key):
                raise ValueError(f"setting name {key!r} must be letters, digits, _ . -")
        return value


class ShippingOptionEntry(_Model):
    id: UUID | None = None
    alias: Alias
    name: Name
    prices: Prices = Field(default_factory=dict)


class ShippingMethodEntry(_Model):
    id: UUID | None = None
    alias: Alias
    name: Name
    sku: str | None = None
    taxClass: Alias | None = None
    imageUrl: str | None = None
    prices: Prices = Field(default_factory=dict)
    options: list[ShippingOptionEntry] = Field(default_factory=list)
    allowedCountries: list[Destination] = Field(default_factory=list)


Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=200, pattern=r"^[^:\s,]+$")]
Stock = Annotated[Decimal, Field(allow_inf_nan=False), AfterValidator(_exact),
                  AfterValidator(_non_negative)]


class VariantEntry(_Model):
    id: UUID | None = None
    reference: Reference
    sku: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    name: Name
    attributes: dict[Name, Name] = Field(default_factory=dict)
    prices: Prices = Field(default_factory=dict)
    stock: Stock | None = None
    properties: dict[str, str] = Field(default_factory=dict)


class ProductEntry(_Model):
    id: UUID | None = None
    reference: Reference
    sku: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    name: Name
    taxClass: Alias | None = None
    prices: Prices = Field(default_factory=dict)
    stock: Stock | None = None
    isGiftCard: bool = False
    properties: dict[str, str] = Field(default_factory=dict)
    variants: list[VariantEntry] = Field(default_factory=list)


Code = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1,
                                        max_length=100, pattern=r"^[^\s,]+$")]
Percentage = Annotated[Decimal, Field(allow_inf_nan=False, gt=0, le=100),
                       AfterValidator(_exact)]


class CodeEntry(_Model):
    code: Code
    usageLimit: Annotated[int, Field(ge=1)] | None = None


class DiscountRules(_Model):
    """All must hold: a minimum subtotal in the order's currency, a shipping country."""

    minSubtotal: Prices = Field(default_factory=dict)
    countries: list[CountryCode] = Field(default_factory=list)


class RewardEntry(_Model):
    """A percentage (10 = 10 %) or an amount per currency off the target. For ``lines``
    the amount is per unit of each matching line."""

    target: Literal["subtotal", "shipping", "total", "lines"]
    percentage: Percentage | None = None
    amounts: Prices = Field(default_factory=dict)
    products: list[Reference] = Field(default_factory=list)


class DiscountEntry(_Model):
    id: UUID | None = None
    alias: Alias
    name: Name
    type: Literal["Automatic", "Code"]
    codes: list[Code | CodeEntry] = Field(default_factory=list)
    active: bool = True
    startDate: AwareDatetime | None = None
    expiryDate: AwareDatetime | None = None
    blockFurtherDiscounts: bool = False
    rules: DiscountRules = Field(default_factory=DiscountRules)
    rewards: Annotated[list[RewardEntry], Field(min_length=1)]


class GiftCardEntry(_Model):
    code: Code
    currency: CurrencyCode
    amount: Amount
    expiryDate: AwareDatetime | None = None
    active: bool = True


LanguageCode = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                                pattern=r"^[a-z]{2,3}$")]


class EmailsSection(_Model):
    """The shopper's emails: who they come from, who gets a copy, which language an order
    without one of the store's languages gets, and the templates the store overrides."""

    sender: str | None = None
    """``Shop <shop@example.com>``; without it the store sends no emails."""
    replyTo: str | None = None
    bcc: list[str] = Field(default_factory=list, max_length=10)
    defaultLanguage: LanguageCode = "en"
    templates: str | None = None
    """A folder, relative to the store file, whose templates replace kasse's own
    (``de/confirmation.html``, ``layout.html`` …); read and checked at import."""
    paymentInstructions: dict[Alias, dict[LanguageCode, Annotated[
        str, StringConstraints(min_length=1, max_length=2000)]]] = Field(default_factory=dict)
    """Payment method alias -> language -> what the confirmation asks the shopper to do
    (``{orderNumber}`` and ``{amount}`` are filled in)."""


class StoreFile(_Model):
    """A whole store: the file is the truth for everything in the store it names."""

    store: StoreSection
    currencies: Annotated[list[CurrencyEntry], Field(min_length=1)]
    countries: Annotated[list[CountryEntry], Field(min_length=1)]
    taxClasses: Annotated[list[TaxClassEntry], Field(min_length=1)]
    orderStatuses: list[OrderStatusEntry] = Field(default_factory=list)
    paymentMethods: list[PaymentMethodEntry] = Field(default_factory=list)
    shippingMethods: list[ShippingMethodEntry] = Field(default_factory=list)
    products: list[ProductEntry] = Field(default_factory=list)
    discounts: list[DiscountEntry] = Field(default_factory=list)
    giftCards: list[GiftCardEntry] = Field(default_factory=list)
    """Issued gift cards: an import adds or updates them but never withdraws one."""
    emails: EmailsSection = Field(default_factory=EmailsSection)
