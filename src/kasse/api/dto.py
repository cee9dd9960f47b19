"""Response and request shapes of the Storefront API, named as in the reference contract.

These models are the one declaration of each response's shape: the OpenAPI document is
generated from them, and the bodies ``serializers.View`` and the routes send take their
keys from them (``api.wire``) without a model validated per response; the fuzzing tests
check the bodies against the document.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Dto(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


def _type(name: str) -> Any:
    return Field(None, alias="$type", description=f"Discriminator: {name}")


# --- references ---------------------------------------------------------------


class StoreReferenceDto(Dto):
    type_: Literal["StoreRef"] | None = _type("StoreRef")
    id: UUID
    alias: str


class StoreNamedReferenceDto(StoreReferenceDto):
    name: str | None = None


class CountryReferenceDto(Dto):
    type_: Literal["CountryRef"] | None = _type("CountryRef")
    id: UUID
    code: str


class CountryNamedReferenceDto(CountryReferenceDto):
    name: str | None = None


class RegionReferenceDto(Dto):
    type_: Literal["RegionRef"] | None = _type("RegionRef")
    id: UUID
    code: str


class RegionNamedReferenceDto(RegionReferenceDto):
    name: str | None = None


class CurrencyReferenceDto(Dto):
    type_: Literal["CurrencyRef"] | None = _type("CurrencyRef")
    id: UUID
    code: str


class CurrencyNamedReferenceDto(CurrencyReferenceDto):
    name: str | None = None


class TaxClassReferenceDto(Dto):
    type_: Literal["TaxClassRef"] | None = _type("TaxClassRef")
    id: UUID
    alias: str


class TaxClassNamedReferenceDto(TaxClassReferenceDto):
    name: str | None = None


class PaymentMethodReferenceDto(Dto):
    type_: Literal["PaymentMethodRef"] | None = _type("PaymentMethodRef")
    id: UUID
    alias: str


class PaymentMethodNamedReferenceDto(PaymentMethodReferenceDto):
    name: str | None = None


class ShippingMethodReferenceDto(Dto):
    type_: Literal["ShippingMethodRef"] | None = _type("ShippingMethodRef")
    id: UUID
    alias: str


class ShippingMethodNamedReferenceDto(ShippingMethodReferenceDto):
    name: str | None = None


# --- prices -------------------------------------------------------------------


class FormattedPriceDto(Dto):
    withoutTax: str | None = None
    tax: str | None = None
    withTax: str | None = None


class PriceDto(Dto):
    currency: CurrencyReferenceDto | None = None
    withoutTax: float | None = None
    tax: float | None = None
    withTax: float | None = None
    formatted: FormattedPriceDto | None = None


# --- entities -----------------------------------------------------------------



class StoreDto(Dto):
    type_: Literal["Store"] | None = _type("Store")
    id: UUID
    alias: str
    name: str | None = None
    defaultCountry: CountryDto | CountryNamedReferenceDto | CountryReferenceDto | None = None
    defaultTaxClass: TaxClassDto | TaxClassNamedReferenceDto | TaxClassReferenceDto | None = None
    baseCurrency: CurrencyDto | CurrencyNamedReferenceDto | CurrencyReferenceDto | None = None
    pricesIncludeTax: bool | None = None


class AllowedCountryDto(Dto):
    country: CountryDto | CountryNamedReferenceDto | CountryReferenceDto | None = None


class CurrencyDto(Dto):
    type_: Literal["Currency"] | None = _type("Currency")
    id: UUID
    code: str
    name: str | None = None
    store: StoreDto | StoreNamedReferenceDto | StoreReferenceDto | None = None
    culture: str | None = None
    symbol: str | None = None
    decimalPlaces: int | None = None
    decimalSeparator: str | None = None
    groupSeparator: str | None = None
    formatTemplate: str | None = None
    allowedCountries: list[AllowedCountryDto] | None = None


class PaymentMethodBaseDto(Dto):
    type_: Literal["PaymentMethod"] | None = _type("PaymentMethod")
    id: UUID
    alias: str
    name: str | None = None
    store: StoreDto | StoreNamedReferenceDto | StoreReferenceDto | None = None
    sku: str | None = None
    taxClass: TaxClassDto | TaxClassNamedReferenceDto | TaxClassReferenceDto | None = None
    paymentProviderAlias: str | None = None
    imageUrl: str | None = None


class PaymentMethodDto(PaymentMethodBaseDto):
    price: PriceDto | None = Field(None, deprecated=True)


class PaymentMethodV2Dto(PaymentMethodBaseDto):
    pass


class PaymentMethodWithFeeDto(PaymentMethodBaseDto):
    fee: PriceDto | None = None


class ShippingMethodBaseDto(Dto):
    type_: Literal["ShippingMethod"] | None = _type("ShippingMethod")
    id: UUID
    alias: str
    name: str | None = None
    store: StoreDto | StoreNamedReferenceDto | StoreReferenceDto | None = None
    sku: str | None = None
    taxClass: TaxClassDto | TaxClassNamedReferenceDto | TaxClassReferenceDto | None = None
    imageUrl: str | None = None


class ShippingMethodDto(ShippingMethodBaseDto):
    price: PriceDto | None = Field(None, deprecated=True)


class ShippingMethodV2Dto(ShippingMethodBaseDto):
    pass


class ShippingOptionDto(Dto):
    id: str | None = None
    name: str | None = None


class ShippingRateDto(Dto):
    option: ShippingOptionDto | None = None
    packageId: UUID | None = None
    value: PriceDto | None = None


class ShippingMethodWithRatesDto(ShippingMethodBaseDto):
    rates: list[ShippingRateDto] | None = None


PaymentMethodField = (PaymentMethodBaseDto | PaymentMethodDto | PaymentMethodNamedReferenceDto
                      | PaymentMethodReferenceDto | PaymentMethodV2Dto | PaymentMethodWithFeeDto
                      | None)
ShippingMethodField = (ShippingMethodBaseDto | ShippingMethodDto | ShippingMethodNamedReferenceDto
                       | ShippingMethodReferenceDto | ShippingMethodV2Dto
                       | ShippingMethodWithRatesDto | None)


class RegionDto(Dto):
    type_: Literal["Region"] | None = _type("Region")
    id: UUID
    code: str
    name: str | None = None
    store: StoreDto | StoreNamedReferenceDto | StoreReferenceDto | None = None
    country: CountryDto | CountryNamedReferenceDto | CountryReferenceDto | None = None
    defaultPaymentMethod: PaymentMethodField = None
    defaultShippingMethod: ShippingMethodField = None


class CountryDto(Dto):
    type_: Literal["Country"] | None = _type("Country")
    id: UUID
    code: str
    name: str | None = None
    store: StoreDto | StoreNamedReferenceDto | StoreReferenceDto | None = None
    defaultCurrency: CurrencyDto | CurrencyNamedReferenceDto | CurrencyReferenceDto | None = None
    defaultPaymentMethod: PaymentMethodField = None
    defaultShippingMethod: ShippingMethodField = None
    regions: list[RegionDto | RegionNamedReferenceDto | RegionReferenceDto] | None = None


class CountryRegionTaxClassDto(Dto):
    store: StoreDto | StoreNamedReferenceDto | StoreReferenceDto | None = None
    country: CountryDto | CountryNamedReferenceDto | CountryReferenceDto | None = None
    region: RegionDto | RegionNamedReferenceDto | RegionReferenceDto | None = None
    taxRate: float | None = None
    taxCode: str | None = None


class TaxClassDto(Dto):
    type_: Literal["TaxClass"] | None = _type("TaxClass")
    id: UUID
    alias: str
    name: str | None = None
    store: StoreDto | StoreNamedReferenceDto | StoreReferenceDto | None = None
    defaultTaxRate: float | None = None
    defaultTaxCode: str | None = None
    taxRate: float | None = None
    taxCode: str | None = None
    countryRegionTaxClasses: list[CountryRegionTaxClassDto] | None = None


# --- products -----------------------------------------------------------------


class AttributeNameDto(Dto):
    alias: str | None = None
    name: str | None = None


class AttributeValueDto(Dto):
    alias: str | None = None
    name: str | None = None


class AttributeCombinationDto(Dto):
    name: AttributeNameDto | None = None
    value: AttributeValueDto | None = None


class DiscountType(StrEnum):
    Automatic = "Automatic"
    Code = "Code"


class DiscountReferenceDto(Dto):
    type_: Literal["DiscountRef"] | None = _type("DiscountRef")
    id: UUID
    alias: str


class DiscountNamedReferenceDto(DiscountReferenceDto):
    name: str | None = None


class DiscountDto(Dto):
    type_: Literal["Discount"] | None = _type("Discount")
    id: UUID
    alias: str
    name: str | None = None
    store: StoreDto | StoreNamedReferenceDto | StoreReferenceDto | None = None
    type: DiscountType
    expiryDate: datetime | None = None
    startDate: datetime | None = None


class OrderAppliedDiscountCodeDto(Dto):
    discount: DiscountDto | DiscountNamedReferenceDto | DiscountReferenceDto | None = None
    code: str | None = None
    isFulfilled: bool | None = None


class PriceAdjustmentDto(Dto):
    name: str | None = None
    type: str | None = None
    price: PriceDto | None = None
    originalPrice: PriceDto | None = None
    metaData: dict[str, object] | None = None


class AdjustedPriceDto(Dto):
    adjustments: list[PriceAdjustmentDto] | None = None
    withoutAdjustments: PriceDto | None = None
    adjustment: PriceDto | None = None
    value: PriceDto | None = None


class AdjustedProductPriceDto(Dto):
    unitPrice: PriceDto | None = None
    quantity: float | None = None
    adjustedUnitPrice: AdjustedPriceDto | None = None
    adjustedLineTotalPrice: AdjustedPriceDto | None = None
    effectiveUnitPrice: PriceDto | None = None
    totalDiscountPerUnit: PriceDto | None = None
    totalDiscountPercentage: float | None = None
    discountCodes: list[OrderAppliedDiscountCodeDto] | None = None
    discounts: list[DiscountReferenceDto] | None = None


class ProductDto(Dto):
    productReference: str
    sku: str
    name: str | None = None
    productVariantReference: str | None = None
    imageUrl: str | None = None
    price: PriceDto | None = None
    priceWithAdjustments: AdjustedProductPriceDto | None = None
    stock: float | None = None
    attributes: list[AttributeCombinationDto] | None = None
    taxClass: TaxClassDto | TaxClassNamedReferenceDto | TaxClassReferenceDto | None = None
    properties: dict[str, str] | None = None
    isGiftCard: bool | None = None


class ProblemDetails(Dto):
    """RFC 9457 problem document: every error kasse answers with."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


for _model in list(globals().values()):
    if isinstance(_model, type) and issubclass(_model, Dto) and _model is not Dto:
        _model.model_rebuild()
