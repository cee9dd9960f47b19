"""Checkout request and response shapes, named as in the reference contract."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from kasse.api.dto import Dto
from kasse.api.order_dto import Number, OrderTransactionInfoDto, PaymentStatus


class HostedCheckoutMode(StrEnum):
    Framed = "Framed"
    Redirect = "Redirect"


class CheckoutTokenDto(Dto):
    token: str
    orderNumber: str
    payUrl: str | None = None


CheckoutTokenDto.model_rebuild()


class CheckoutPaymentMethodUrlsDto(Dto):
    continue_: str = Field(alias="continue")
    cancel: str
    error: str
    callback: str


class CheckoutPaymentMethodDto(Dto):
    settings: dict[str, str]
    metaDataDefinitions: dict[str, str] | None = None
    urls: CheckoutPaymentMethodUrlsDto


class CheckoutInitializedDto(Dto):
    orderNumber: str
    paymentMethod: CheckoutPaymentMethodDto


class CheckoutConfirmRequestDto(BaseModel):
    model_config = ConfigDict(extra="ignore")
    amount: Number
    fee: Number | None = None
    transactionId: str
    paymentStatus: PaymentStatus
    metaData: dict[str, str] | None = None


class CheckoutConfirmDto(Dto):
    orderNumber: str
    transactionInfo: OrderTransactionInfoDto


for _model in (CheckoutPaymentMethodUrlsDto, CheckoutPaymentMethodDto, CheckoutInitializedDto,
               CheckoutConfirmRequestDto, CheckoutConfirmDto):
    _model.model_rebuild()
