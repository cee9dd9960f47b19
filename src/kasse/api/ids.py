"""Ids in paths: one typed path parameter per kind of id.

An id that is not a UUID names nothing, so it is "not found" (404) like an id that names
no row, not a malformed request. FastAPI validates path parameters together with the
query and the body, and reports what fails all at once; a malformed id is reported as
such (``MALFORMED_ID``) and ``api.problems`` answers it with the 404 when nothing else
in the request failed validation (a bad body is still the 400 it always was).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Path
from pydantic import PlainValidator
from pydantic_core import PydanticCustomError

from kasse.domain.errors import NotFound

MALFORMED_ID = "malformed_id"
"""The validation error type of an id that is not a UUID."""


class IdKind:
    """What an id names (``"order"``), and how a path's text becomes one."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.validator = PlainValidator(self._validate, json_schema_input_type=str)
        """For ``Annotated[UUID, kind.validator, Path(...)]``: documented as a string."""

    def parse(self, value: str) -> UUID:
        """The id in ``value`` (spaces around it aside), or ``NotFound``."""
        try:
            return UUID(value.strip())
        except ValueError:
            raise NotFound(f"no {self.what} with id {value.strip()[:100]!r}") from None

    def _validate(self, value: str) -> UUID:
        try:
            return self.parse(value)
        except NotFound as exc:  # "{detail}": the id's text is no template
            raise PydanticCustomError(MALFORMED_ID, "{detail}", {"detail": exc.detail}) from None


ORDER = IdKind("order")
ORDER_LINE = IdKind("order line")
PRODUCT = IdKind("product")
PAYMENT_METHOD = IdKind("payment method")
STAFF_MEMBER = IdKind("staff member")
TOKEN = IdKind("token")
EMAIL = IdKind("email")
DELIVERY = IdKind("delivery")

DeliveryId = Annotated[UUID, DELIVERY.validator, Path(description="A webhook delivery's id")]

_UUID = {"format": "uuid"}

OrderId = Annotated[UUID, ORDER.validator, Path(description="The ID of the order",
                                                json_schema_extra=_UUID)]
OrderLineId = Annotated[UUID, ORDER_LINE.validator, Path(
    description="The ID of the order line", json_schema_extra=_UUID)]
PaymentMethodId = Annotated[UUID, PAYMENT_METHOD.validator, Path(
    description="The ID of the payment method", json_schema_extra=_UUID)]
ProductId = Annotated[UUID, PRODUCT.validator, Path()]
"""Documented as the contract's content item id: a string, without a format."""
