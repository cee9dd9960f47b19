"""Response bodies take their keys from their DTO (``api.wire``): the keys the OpenAPI
document declares, in its order, and nothing else."""

from __future__ import annotations

import pytest

from kasse.api import checkout_dto as cdto
from kasse.api import dto
from kasse.api import order_dto as odto
from kasse.api.wire import shape


def test_a_body_has_the_dtos_keys_in_its_order_with_aliases() -> None:
    urls = shape(cdto.CheckoutPaymentMethodUrlsDto)(
        callback="c", error="e", cancel="x", continue_="k")
    assert list(urls) == ["continue", "cancel", "error", "callback"]
    assert urls == {"continue": "k", "cancel": "x", "error": "e", "callback": "c"}


def test_a_discriminator_with_one_value_is_always_sent() -> None:
    ref = shape(dto.StoreReferenceDto)(id="1", alias="demo")
    assert ref == {"$type": "StoreRef", "id": "1", "alias": "demo"}
    assert list(ref) == ["$type", "id", "alias"]


def test_a_key_the_dto_does_not_declare_or_one_left_out_is_refused() -> None:
    token = shape(cdto.CheckoutTokenDto)
    with pytest.raises(TypeError):
        token(token="t", orderNumber="ORDER-1", payUrl=None, extra=1)
    with pytest.raises(TypeError):
        token(token="t", orderNumber="ORDER-1")


def test_shorter_bodies_name_fields_of_the_dto() -> None:
    assert shape(dto.AdjustedPriceDto, only={"value"})(value=None) == {"value": None}
    product = shape(dto.ProductDto, exclude={"priceWithAdjustments"})
    assert "priceWithAdjustments" not in product.__code__.co_varnames
    with pytest.raises(ValueError, match="no field"):
        shape(odto.AmountDto, only={"amount"})
