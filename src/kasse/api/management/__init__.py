"""The management API: the merchant's side of kasse (orders after checkout, money, shipping,
stock, webhooks, staff and tokens), under its own prefix and OpenAPI document.

Its callers are staff tools holding a management API token (``Authorization: Bearer
kmt_…``); storefront keys never reach it. Every operation declares the permission it
needs (``auth.allowed``), and every change is idempotent (``actions``) and audited.
"""

from __future__ import annotations

MANAGEMENT_PREFIX = "/kasse/management/v1"
"""A stable prefix of kasse's own: the reference product's back-office API is not a
public contract."""
