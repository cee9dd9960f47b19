"""Order request and response shapes, named as in the reference contract.

Request models ignore unknown fields (the wire convention); numbers that are money or
quantities are read into ``Decimal`` and documented as the reference declares them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
)

from kasse.api.dto import (
    AdjustedPriceDto,
    AttributeCombinationDto,
    CountryDto,
    CountryNamedReferenceDto,
    CountryReferenceDto,
    CurrencyDto,
    CurrencyNamedReferenceDto,
    CurrencyReferenceDto,
    DiscountReferenceDto,
    Dto,
    OrderAppliedDiscountCodeDto,
    PaymentMethodBaseDto,
    PaymentMethodDto,
    PaymentMethodNamedReferenceDto,
    PaymentMethodReferenceDto,
    PaymentMethodV2Dto,
    PaymentMethodWithFeeDto,
    PriceAdjustmentDto,
    PriceDto,
    RegionDto,
    RegionNamedReferenceDto,
    RegionReferenceDto,
    ShippingMethodBaseDto,
    ShippingMethodDto,
    ShippingMethodNamedReferenceDto,
    ShippingMethodReferenceDto,
    ShippingMethodV2Dto,
    ShippingMethodWithRatesDto,
    ShippingOptionDto,
    StoreDto,
    StoreNamedReferenceDto,
    StoreReferenceDto,
    TaxClassDto,
    TaxClassNamedReferenceDto,
    TaxClassReferenceDto,
)


def _json_number(value: Any) -> Any:
    """A JSON number, not text or a boolean that happens to convert to one."""
    if isinstance(value, (str, bool)):
        raise ValueError("must be a number")
    return value


Number = Annotated[Decimal, BeforeValidator(_json_number),
                   WithJsonSchema({"type": "number", "format": "double"})]


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- requests -------------------------------------------------------------------


class CreateOrderRequestDto(Request):
    language: str | None = None
    currency: str | None = None
    taxClass: str | None = None
    customerReference: str | None = None


class AddProductRequestDto(Request):
    productReference: str
    productVariantReference: str | None = None
    quantity: Number
    properties: dict[str, str] | None = None
    bundleId: str | None = Field(None, max_length=100)


class UpdateOrderLineRequestDto(Request):
    quantityIncrement: Number | None = None
    quantityDecrement: Number | None = None
    quantity: Number | None = None
    taxClass: str | None = None
    properties: dict[str, str] | None = None


class UpdateOrderLineWithIdRequestDto(UpdateOrderLineRequestDto):
    id: UUID


class UpdateContactRequestDto(Request):
    firstName: str | None = None
    lastName: str | None = None
    company: str | None = None
    email: str | None = None
    telephone: str | None = None
    mobile: str | None = None


class UpdateCustomerRequestDto(UpdateContactRequestDto):
    taxCode: str | None = None


class UpdateAddressRequestDto(Request):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    zipCode: str | None = None
    country: str | None = None
    region: str | None = None


class UpdateShippingAddressRequestDto(UpdateAddressRequestDto):
    contact: UpdateContactRequestDto | None = None
    sameAsBilling: StrictBool


class UpdateOrderRequestDto(Request):
    language: str | None = None
    currency: str | None = None
    taxClass: str | None = None
    customerReference: str | None = None
    customer: UpdateCustomerRequestDto | None = None
    billingAddress: UpdateAddressRequestDto | None = None
    shippingAddress: UpdateShippingAddressRequestDto | None = None
    shippingMethod: str | None = None
    shippingOption: str | None = None
    paymentMethod: str | None = None
    redeem: list[str] | None = None
    unredeem: list[str] | None = None
    properties: dict[str, str] | None = None
    tags: list[str] | None = None


# --- responses ------------------------------------------------------------------


class PaymentStatus(StrEnum):
    Initialized = "Initialized"
    Authorized = "Authorized"
    Captured = "Captured"
    Cancelled = "Cancelled"
    Refunded = "Refunded"
    PendingExternalSystem = "PendingExternalSystem"
    Error = "Error"
    PartiallyRefunded = "PartiallyRefunded"


class FormattedAmountDto(Dto):
    value: str | None = None


class AmountDto(Dto):
    currency: CurrencyReferenceDto | None = None
    value: float | None = None
    formatted: FormattedAmountDto | None = None


class AmountAdjustmentDto(Dto):
    name: str | None = None
    type: str | None = None
    amount: AmountDto | None = None
    originalAmount: AmountDto | None = None
    metaData: dict[str, Any] | None = None


class AdjustedAmountDto(Dto):
    adjustments: list[AmountAdjustmentDto] | None = None
    withoutAdjustments: AmountDto | None = None
    adjustment: AmountDto | None = None
    value: AmountDto | None = None


class AdjustedPriceWithPreviousAdjustmentsDto(Dto):
    adjustments: list[PriceAdjustmentDto] | None = None
    withoutAdjustments: PriceDto | None = None
    adjustment: PriceDto | None = None
    value: PriceDto | None = None
    previousAdjustments: PriceDto | None = None
    withPreviousAdjustments: PriceDto | None = None
    totalAdjustment: PriceDto | None = None


class OrderCustomerInfoDto(Dto):
    customerReference: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None


CountryAny = CountryDto | CountryNamedReferenceDto | CountryReferenceDto | None
RegionAny = RegionDto | RegionNamedReferenceDto | RegionReferenceDto | None


class OrderPaymentInfoDto(Dto):
    country: CountryAny = None
    region: RegionAny = None
    paymentMethod: (PaymentMethodBaseDto | PaymentMethodDto | PaymentMethodNamedReferenceDto
                    | PaymentMethodReferenceDto | PaymentMethodV2Dto | PaymentMethodWithFeeDto
                    | None) = None
    taxRate: float | None = None
    totalPrice: AdjustedPriceDto | None = None


class OrderShippingInfoDto(Dto):
    country: CountryAny = None
    region: RegionAny = None
    shippingMethod: (ShippingMethodBaseDto | ShippingMethodDto | ShippingMethodNamedReferenceDto
                     | ShippingMethodReferenceDto | ShippingMethodV2Dto | ShippingMethodWithRatesDto
                     | None) = None
    shippingOption: ShippingOptionDto | None = None
    taxRate: float | None = None
    totalPrice: AdjustedPriceDto | None = None


class OrderTransactionInfoDto(Dto):
    transactionId: str | None = None
    authorizedAmount: AmountDto | None = None
    feeAmount: AmountDto | None = None
    baseCurrencyExchangeRate: float | None = None
    paymentStatus: PaymentStatus


class GiftCardReferenceDto(Dto):
    type_: Literal["GiftCardRef"] | None = Field(None, alias="$type")
    id: UUID
    code: str


class OrderLineDto(Dto):
    id: UUID
    productReference: str | None = None
    productVariantReference: str | None = None
    sku: str | None = None
    name: str | None = None
    quantity: float | None = None
    taxClass: TaxClassDto | TaxClassNamedReferenceDto | TaxClassReferenceDto | None = None
    bundleId: str | None = None
    orderLines: list[OrderLineDto] | None = None
    properties: dict[str, str] | None = None
    attributes: list[AttributeCombinationDto] | None = None
    basePrice: AdjustedPriceDto | None = None
    unitPrice: AdjustedPriceDto | None = None
    taxRate: float | None = None
    totalPrice: AdjustedPriceWithPreviousAdjustmentsDto | None = None


class OrderStatusReferenceDto(Dto):
    type_: Literal["OrderStatusRef"] | None = Field(None, alias="$type")
    id: UUID
    alias: str


class OrderStatusNamedReferenceDto(OrderStatusReferenceDto):
    name: str | None = None


class OrderStatusDto(Dto):
    type_: Literal["OrderStatus"] | None = Field(None, alias="$type")
    id: UUID
    alias: str
    name: str | None = None
    store: StoreDto | StoreNamedReferenceDto | StoreReferenceDto | None = None
    color: str | None = None


class OrderDto(Dto):
    id: UUID
    orderNumber: str | None = None
    store: StoreDto | StoreNamedReferenceDto | StoreReferenceDto | None = None
    cartNumber: str | None = None
    languageIsoCode: str | None = None
    currency: CurrencyDto | CurrencyNamedReferenceDto | CurrencyReferenceDto | None = None
    taxClass: TaxClassDto | TaxClassNamedReferenceDto | TaxClassReferenceDto | None = None
    taxRate: float | None = None
    orderStatus: (OrderStatusDto | OrderStatusNamedReferenceDto | OrderStatusReferenceDto
                  | None) = None
    customerInfo: OrderCustomerInfoDto | None = None
    paymentInfo: OrderPaymentInfoDto | None = None
    shippingInfo: OrderShippingInfoDto | None = None
    transactionInfo: OrderTransactionInfoDto | None = None
    discountCodes: list[OrderAppliedDiscountCodeDto] | None = None
    discounts: list[DiscountReferenceDto] | None = None
    giftCards: list[GiftCardReferenceDto] | None = None
    totalQuantity: float | None = None
    subtotalPrice: AdjustedPriceWithPreviousAdjustmentsDto | None = None
    totalPrice: AdjustedPriceWithPreviousAdjustmentsDto | None = None
    transactionAmount: AdjustedAmountDto | None = None
    orderLines: list[OrderLineDto] | None = None
    properties: dict[str, str] | None = None
    tags: list[str] | None = None
    createDate: datetime | None = None
    updateDate: datetime | None = None
    finalizedDate: datetime | None = None
    isFinalized: bool | None = None


class NotificationHeaderModel(Dto):
    message: str
    category: str
    type: Literal["Default", "Info", "Error", "Success", "Warning"]


for _model in list(globals().values()):
    if isinstance(_model, type) and issubclass(_model, BaseModel) and _model.__module__ == __name__:
        _model.model_rebuild()
