"""Domain objects to the Storefront API's JSON shapes (DTO names and camelCase fields).

Related entities are references (``{"$type": "CurrencyRef", "id", "code"}``) unless the
request's ``expand`` names them, in which case the full object (``"$type": "Currency"``)
is rendered, expanding further by the nested part of ``expand``. Numbers are converted
from ``Decimal`` to JSON numbers here, at the edge, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from kasse.api import dto
from kasse.api.formatting import currency_symbols, format_amount
from kasse.api.order_dto import OrderStatusDto
from kasse.api.shaping import Tree, sub
from kasse.api.wire import shape
from kasse.domain.pricing import Price
from kasse.domain.store import (
    Country,
    Currency,
    OrderStatus,
    PaymentMethod,
    Product,
    ProductVariant,
    Region,
    ShippingMethod,
    Store,
    StoreConfig,
    TaxClass,
)

Json = dict[str, Any]

# Each body's keys come from its DTO (see ``api.wire``).
_STORE_REF = shape(dto.StoreReferenceDto)
_CURRENCY_REF = shape(dto.CurrencyReferenceDto)
_STORE = shape(dto.StoreDto)
_CURRENCY = shape(dto.CurrencyDto)
_ALLOWED_COUNTRY = shape(dto.AllowedCountryDto)
_COUNTRY = shape(dto.CountryDto)
_REGION = shape(dto.RegionDto)
_TAX_CLASS = shape(dto.TaxClassDto)
_TAX_RATE = shape(dto.CountryRegionTaxClassDto)
_ORDER_STATUS = shape(OrderStatusDto)
_PAYMENT_METHOD = shape(dto.PaymentMethodV2Dto)
_PAYMENT_METHOD_PRICED = shape(dto.PaymentMethodDto)
_PAYMENT_METHOD_WITH_FEE = shape(dto.PaymentMethodWithFeeDto)
_SHIPPING_METHOD = shape(dto.ShippingMethodV2Dto)
_SHIPPING_METHOD_PRICED = shape(dto.ShippingMethodDto)
_SHIPPING_METHOD_WITH_RATES = shape(dto.ShippingMethodWithRatesDto)
_PRICE = shape(dto.PriceDto)
_FORMATTED_PRICE = shape(dto.FormattedPriceDto)
_PRODUCT = shape(dto.ProductDto, exclude={"priceWithAdjustments"})
_PRODUCT_ADJUSTED = shape(dto.ProductDto)
_ATTRIBUTE = shape(dto.AttributeCombinationDto)
_ATTRIBUTE_NAME = shape(dto.AttributeNameDto)
_ATTRIBUTE_VALUE = shape(dto.AttributeValueDto)


def number(value: Decimal | None) -> float | int | None:
    """A JSON number for an exact Decimal (shortest form that reads back the same)."""
    if value is None:
        return None
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(value)


def _currency_ref(currency: Currency) -> Json:
    return _CURRENCY_REF(id=str(currency.id), code=currency.code)


def attributes(combination: tuple[tuple[str, str, str, str], ...]) -> list[Json]:
    """An item's attribute combination: ``(name alias, name, value alias, value)`` each."""
    return [_ATTRIBUTE(name=_ATTRIBUTE_NAME(alias=a[0], name=a[1]),
                       value=_ATTRIBUTE_VALUE(alias=a[2], name=a[3])) for a in combination]


@dataclass(frozen=True, slots=True)
class View:
    """What a response is rendered against: the store and the request's expand tree."""

    config: StoreConfig

    # --- references -------------------------------------------------------------

    def store_ref(self) -> Json:
        s = self.config.store
        return _STORE_REF(id=str(s.id), alias=s.alias)

    def _related(self, entity: Any, expand: Tree | None, ref_type: str, key: str,
                 full: Callable[[Any, Tree], Json]) -> Json | None:
        if entity is None:
            return None
        subtree = sub(expand, key)
        if subtree is not None:
            return full(entity, subtree)
        code_or_alias = "code" if hasattr(entity, "code") else "alias"
        return {"$type": ref_type, "id": str(entity.id),
                code_or_alias: getattr(entity, code_or_alias)}

    def store_field(self, expand: Tree | None) -> Json:
        if sub(expand, "store") is not None:
            return self.store(self.config.store, sub(expand, "store") or {})
        return self.store_ref()

    # --- full objects -----------------------------------------------------------

    def store(self, store: Store, expand: Tree) -> Json:
        c = self.config
        return _STORE(
            id=str(store.id),
            alias=store.alias,
            name=store.name,
            defaultCountry=self._related(c.country_by_id(store.default_country_id), expand,
                                         "CountryRef", "defaultCountry", self.country),
            defaultTaxClass=self._related(c.tax_class_by_id(store.default_tax_class_id),
                                          expand, "TaxClassRef", "defaultTaxClass",
                                          self.tax_class),
            baseCurrency=self._related(c.currency_by_id(store.base_currency_id), expand,
                                       "CurrencyRef", "baseCurrency", self.currency),
            pricesIncludeTax=store.prices_include_tax,
        )

    def currency(self, currency: Currency, expand: Tree) -> Json:
        symbol, decimal_sep, group_sep = currency_symbols(currency)
        allowed_tree = sub(expand, "allowedCountries")
        return _CURRENCY(
            id=str(currency.id),
            code=currency.code,
            name=currency.name,
            store=self.store_field(expand),
            culture=currency.culture,
            symbol=symbol,
            decimalPlaces=currency.decimal_places,
            decimalSeparator=decimal_sep,
            groupSeparator=group_sep,
            formatTemplate=currency.format_template,
            allowedCountries=[
                _ALLOWED_COUNTRY(country=self._related(
                    self.config.country_by_id(cid), allowed_tree, "CountryRef", "country",
                    self.country))
                for cid in currency.allowed_country_ids
            ],
        )

    def country(self, country: Country, expand: Tree) -> Json:
        c = self.config
        return _COUNTRY(
            id=str(country.id),
            code=country.code,
            name=country.name,
            store=self.store_field(expand),
            defaultCurrency=self._related(c.currency_by_id(country.default_currency_id),
                                          expand, "CurrencyRef", "defaultCurrency",
                                          self.currency),
            defaultPaymentMethod=self._related(
                c.payment_method_by_id(country.default_payment_method_id), expand,
                "PaymentMethodRef", "defaultPaymentMethod", self.payment_method),
            defaultShippingMethod=self._related(
                c.shipping_method_by_id(country.default_shipping_method_id), expand,
                "ShippingMethodRef", "defaultShippingMethod", self.shipping_method),
            regions=[
                self._related(region, expand, "RegionRef", "regions", self.region)
                for region in country.regions
            ],
        )

    def region(self, region: Region, expand: Tree) -> Json:
        c = self.config
        return _REGION(
            id=str(region.id),
            code=region.code,
            name=region.name,
            store=self.store_field(expand),
            country=self._related(c.country_by_id(region.country_id), expand, "CountryRef",
                                  "country", self.country),
            defaultPaymentMethod=self._related(
                c.payment_method_by_id(region.default_payment_method_id), expand,
                "PaymentMethodRef", "defaultPaymentMethod", self.payment_method),
            defaultShippingMethod=self._related(
                c.shipping_method_by_id(region.default_shipping_method_id), expand,
                "ShippingMethodRef", "defaultShippingMethod", self.shipping_method),
        )

    def tax_class(self, tax_class: TaxClass, expand: Tree) -> Json:
        c = self.config
        rate_tree = sub(expand, "countryRegionTaxClasses")
        return _TAX_CLASS(
            id=str(tax_class.id),
            alias=tax_class.alias,
            name=tax_class.name,
            store=self.store_field(expand),
            defaultTaxRate=number(tax_class.default_rate),
            defaultTaxCode=tax_class.default_tax_code,
            taxRate=number(tax_class.default_rate),
            taxCode=tax_class.default_tax_code,
            countryRegionTaxClasses=[
                _TAX_RATE(
                    store=self.store_ref(),
                    country=self._related(c.country_by_id(rate.country_id), rate_tree,
                                          "CountryRef", "country", self.country),
                    region=self._related(c.region_by_id(rate.region_id), rate_tree,
                                         "RegionRef", "region", self.region),
                    taxRate=number(rate.rate),
                    taxCode=rate.tax_code,
                )
                for rate in tax_class.rates
            ],
        )

    def order_status(self, status: OrderStatus, expand: Tree) -> Json:
        return _ORDER_STATUS(id=str(status.id), alias=status.alias, name=status.name,
                             store=self.store_field(expand), color=status.color)

    def _method_base(self, method: PaymentMethod | ShippingMethod, expand: Tree) -> Json:
        """The fields every payment and shipping method body starts with."""
        return {
            "id": str(method.id),
            "alias": method.alias,
            "name": method.name,
            "store": self.store_field(expand),
            "sku": method.sku,
            "taxClass": self._related(self.config.tax_class_by_id(method.tax_class_id), expand,
                                      "TaxClassRef", "taxClass", self.tax_class),
        }

    def payment_method(self, method: PaymentMethod, expand: Tree,
                       price: Price | None = None, include_price: bool = False) -> Json:
        """A ``PaymentMethodV2Dto``; with ``include_price`` the v1 ``PaymentMethodDto``."""
        base = self._method_base(method, expand)
        if include_price:
            return _PAYMENT_METHOD_PRICED(**base, paymentProviderAlias=method.provider_alias,
                                          imageUrl=method.image_url, price=self.price(price))
        return _PAYMENT_METHOD(**base, paymentProviderAlias=method.provider_alias,
                               imageUrl=method.image_url)

    def payment_method_with_fee(self, method: PaymentMethod, expand: Tree, fee: Price | None
                                ) -> Json:
        """A ``PaymentMethodWithFeeDto``: a method an order can use, with its fee."""
        return _PAYMENT_METHOD_WITH_FEE(**self._method_base(method, expand),
                                        paymentProviderAlias=method.provider_alias,
                                        imageUrl=method.image_url, fee=self.price(fee))

    def shipping_method(self, method: ShippingMethod, expand: Tree,
                        price: Price | None = None, include_price: bool = False) -> Json:
        """A ``ShippingMethodV2Dto``; with ``include_price`` the v1 ``ShippingMethodDto``."""
        base = self._method_base(method, expand)
        if include_price:
            return _SHIPPING_METHOD_PRICED(**base, imageUrl=method.image_url,
                                           price=self.price(price))
        return _SHIPPING_METHOD(**base, imageUrl=method.image_url)

    def shipping_method_with_rates(self, method: ShippingMethod, expand: Tree,
                                   rates: list[Json]) -> Json:
        """A ``ShippingMethodWithRatesDto``: a method an order can use, a rate per option."""
        return _SHIPPING_METHOD_WITH_RATES(**self._method_base(method, expand),
                                           imageUrl=method.image_url, rates=rates)

    # --- prices -----------------------------------------------------------------

    def currency_ref(self, currency_id: UUID) -> Json | None:
        currency = self.config.currency_by_id(currency_id)
        if currency is None:
            return None
        return _currency_ref(currency)

    def price(self, price: Price | None) -> Json | None:
        if price is None:
            return None
        currency = self.config.currency_by_id(price.currency_id)
        formatted = None
        if currency is not None:
            formatted = _FORMATTED_PRICE(
                withoutTax=format_amount(price.without_tax, currency),
                tax=format_amount(price.tax, currency),
                withTax=format_amount(price.with_tax, currency),
            )
        return _PRICE(
            currency=_currency_ref(currency) if currency is not None else None,
            withoutTax=number(price.without_tax),
            tax=number(price.tax),
            withTax=number(price.with_tax),
            formatted=formatted,
        )

    # --- products ---------------------------------------------------------------

    def product(self, product: Product, variant: ProductVariant | None, price: Price | None,
                tax_class: TaxClass | None, expand: Tree,
                adjusted: Callable[[], Json | None] | None = None) -> Json:
        """A ``ProductDto``; with ``priceWithAdjustments`` (what ``adjusted`` makes) only
        when it is given, as the request asked for adjusted prices."""
        properties = dict(product.properties)
        if variant is not None:
            properties.update(variant.properties)
        stock = variant.stock if variant is not None else product.stock
        fields: Json = dict(
            productReference=product.reference,
            sku=variant.sku if variant else product.sku,
            name=variant.name if variant else product.name,
            productVariantReference=variant.reference if variant else None,
            imageUrl=properties.get("imageUrl"),
            price=self.price(price),
            stock=number(stock),
            attributes=attributes(variant.attributes if variant else ()),
            taxClass=self._related(tax_class, expand, "TaxClassRef", "taxClass",
                                   self.tax_class),
            properties=properties,
            isGiftCard=product.is_gift_card,
        )
        if adjusted is not None:
            return _PRODUCT_ADJUSTED(**fields, priceWithAdjustments=adjusted())
        return _PRODUCT(**fields)
