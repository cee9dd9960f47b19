"""Customer and address data, kept as order properties under the reference product's names.

Storefronts written for the reference API read ``firstName``, ``billingCity``,
``shippingSameAsBilling`` … back from an order's properties, so that is where kasse
keeps them. The structured parts (countries, regions, methods) are columns on the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kasse.domain.errors import InvalidInput
from kasse.domain.text import has_control_characters

MAX_PROPERTY_LENGTH = 4000
MAX_KEY_LENGTH = 100
MAX_PROPERTIES = 200

CUSTOMER_PROPERTIES = {
    "firstName": "firstName",
    "lastName": "lastName",
    "email": "email",
    "telephone": "telephone",
    "mobile": "mobile",
    "company": "billingCompany",
    "taxCode": "billingCompanyTaxCode",
}
BILLING_PROPERTIES = {
    "line1": "billingAddressLine1",
    "line2": "billingAddressLine2",
    "city": "billingCity",
    "zipCode": "billingZipCode",
}
SHIPPING_PROPERTIES = {
    "line1": "shippingAddressLine1",
    "line2": "shippingAddressLine2",
    "city": "shippingCity",
    "zipCode": "shippingZipCode",
}
CONTACT_PROPERTIES = {
    "firstName": "shippingFirstName",
    "lastName": "shippingLastName",
    "company": "shippingCompany",
    "email": "shippingEmail",
    "telephone": "shippingTelephone",
    "mobile": "shippingMobile",
}
SAME_AS_BILLING = "shippingSameAsBilling"


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    customer_reference: str | None
    first_name: str | None
    last_name: str | None
    email: str | None


def _check_text(value: str, what: str, limit: int, *, multiline: bool = True) -> str:
    """``value`` trimmed, if it has no control characters (tab, line feed and carriage
    return aside in ``multiline`` text) and fits in ``limit`` characters."""
    text = value.strip()
    if len(text) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    if has_control_characters(value, multiline=multiline):
        raise InvalidInput(f"{what} contains control characters")
    return text


def clean_properties(values: Mapping[str, str], what: str) -> dict[str, str]:
    """Check property names and values; values are kept as given (trimmed)."""
    if len(values) > MAX_PROPERTIES:
        raise InvalidInput(f"{what}: at most {MAX_PROPERTIES} properties")
    cleaned: dict[str, str] = {}
    for key, value in values.items():
        name = key.strip()
        if not name:
            raise InvalidInput(f"{what}: a property name must not be empty")
        _check_text(key, f"{what} name {name[:40]!r}", MAX_KEY_LENGTH, multiline=False)
        cleaned[name] = _check_text(value, f"{what}.{name}", MAX_PROPERTY_LENGTH)
    return cleaned


def mirror(values: Mapping[str, str | None], names: Mapping[str, str], what: str
           ) -> dict[str, str]:
    """The properties for the fields given (``None`` = unchanged, ``""`` = remove)."""
    updates: dict[str, str] = {}
    for field_name, property_name in names.items():
        value = values.get(field_name)
        if value is not None:
            updates[property_name] = _check_text(value, f"{what}.{field_name}",
                                                 MAX_PROPERTY_LENGTH)
    return updates


def shipping_follows_billing(properties: Mapping[str, str]) -> dict[str, str]:
    """With ``sameAsBilling`` the shipping address and contact copy billing's."""
    copied = {ship: properties.get(bill, "") for (key, bill), ship in zip(
        BILLING_PROPERTIES.items(), SHIPPING_PROPERTIES.values(), strict=True) if key}
    copied.update({
        "shippingFirstName": properties.get("firstName", ""),
        "shippingLastName": properties.get("lastName", ""),
        "shippingCompany": properties.get("billingCompany", ""),
        "shippingEmail": properties.get("email", ""),
        "shippingTelephone": properties.get("telephone", ""),
        "shippingMobile": properties.get("mobile", ""),
    })
    return copied


def customer_info(properties: Mapping[str, str], customer_reference: str | None
                  ) -> CustomerInfo:
    return CustomerInfo(customer_reference, properties.get("firstName"),
                        properties.get("lastName"), properties.get("email"))
