"""Configuration as code: load or update a whole store from a validated file.

The file is the truth for the store it names: what it lists is created or updated,
what it no longer lists is removed. Ids are derived from the store id and each
entity's alias, so importing the same file twice changes nothing and every machine
gets the same ids. Everything is validated before the first write; a bad file
changes nothing.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from kasse.domain.errors import Conflict, DomainError
from kasse.services.ports import Storage
from kasse.services.store_file import SettingEntry, StoreFile

Loc = tuple[str | int, ...]
Row = dict[str, Any]

NAMESPACE = UUID("5b0f4c1e-9d3a-4e59-8f1e-6a2c0b7d9e41")


class StoreFileInvalid(DomainError):
    """A store file that fails validation; ``problems`` pairs locations with reasons."""

    code = "store_file_invalid"

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{dotted_location(loc)}: {msg}" for loc, msg in problems))


@dataclass
class ImportResult:
    store_id: UUID
    store_alias: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    per_table: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


def dotted_location(loc: Loc) -> str:
    """``('products', 0, 'prices', 'EUR')`` as ``products[0].prices.EUR``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"


def validate_store_file(data: Any) -> StoreFile:
    """Parse and cross-check a store file; raises ``StoreFileInvalid`` listing every problem."""
    if not isinstance(data, dict):
        raise StoreFileInvalid([((), "the file must hold a mapping with a 'store' section")])
    try:
        parsed = StoreFile.model_validate(data)
    except ValidationError as exc:
        raise StoreFileInvalid([
            (tuple(err["loc"]), _message(err)) for err in exc.errors(include_url=False)
        ]) from None
    problems = _cross_check(parsed)
    if problems:
        raise StoreFileInvalid(problems)
    return parsed


def _message(err: Mapping[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    return str(err["msg"]).removeprefix("Value error, ")


def _duplicates(items: list[Any], key: Callable[[Any], str], loc: Loc
                ) -> list[tuple[Loc, str]]:
    seen: set[str] = set()
    problems: list[tuple[Loc, str]] = []
    for index, item in enumerate(items):
        value = key(item).lower()
        if value in seen:
            problems.append(((*loc, index), f"duplicate {key(item)!r}"))
        seen.add(value)
    return problems


def _cross_check(f: StoreFile) -> list[tuple[Loc, str]]:
    p: list[tuple[Loc, str]] = []
    currencies = {c.code for c in f.currencies}
    countries = {c.code: {r.code for r in c.regions} for c in f.countries}
    tax_classes = {t.alias.lower() for t in f.taxClasses}
    payment = {m.alias.lower() for m in f.paymentMethods}
    shipping = {m.alias.lower() for m in f.shippingMethods}
    statuses = {s.alias.lower() for s in f.orderStatuses}

    p += _duplicates(f.currencies, lambda c: c.code, ("currencies",))
    p += _duplicates(f.countries, lambda c: c.code, ("countries",))
    p += _duplicates(f.taxClasses, lambda c: c.alias, ("taxClasses",))
    p += _duplicates(f.orderStatuses, lambda c: c.alias, ("orderStatuses",))
    p += _duplicates(f.paymentMethods, lambda c: c.alias, ("paymentMethods",))
    p += _duplicates(f.shippingMethods, lambda c: c.alias, ("shippingMethods",))
    p += _duplicates(f.products, lambda c: c.reference, ("products",))

    def need(ok: bool, loc: Loc, message: str) -> None:
        if not ok:
            p.append((loc, message))

    s = f.store
    need(s.baseCurrency in currencies, ("store", "baseCurrency"),
         f"currency {s.baseCurrency!r} is not in currencies")
    need(s.defaultCountry in countries, ("store", "defaultCountry"),
         f"country {s.defaultCountry!r} is not in countries")
    need(s.defaultTaxClass.lower() in tax_classes, ("store", "defaultTaxClass"),
         f"tax class {s.defaultTaxClass!r} is not in taxClasses")
    if s.defaultOrderStatus is not None:
        need(s.defaultOrderStatus.lower() in statuses, ("store", "defaultOrderStatus"),
             f"order status {s.defaultOrderStatus!r} is not in orderStatuses")

    def check_destinations(values: list[str], loc: Loc) -> None:
        for i, value in enumerate(values):
            code, _, region = value.partition(":")
            if code not in countries:
                p.append(((*loc, i), f"country {code!r} is not in countries"))
            elif region and region not in countries[code]:
                p.append(((*loc, i), f"region {region!r} is not a region of {code}"))

    def check_prices(prices: Mapping[str, Decimal], loc: Loc) -> None:
        for code in prices:
            need(code in currencies, (*loc, code), f"currency {code!r} is not in currencies")

    for i, c in enumerate(f.currencies):
        for j, code in enumerate(c.allowedCountries):
            need(code in countries, ("currencies", i, "allowedCountries", j),
                 f"country {code!r} is not in countries")
    for i, country in enumerate(f.countries):
        loc: Loc = ("countries", i)
        if country.defaultCurrency:
            need(country.defaultCurrency in currencies, (*loc, "defaultCurrency"),
                 f"currency {country.defaultCurrency!r} is not in currencies")
        p += _duplicates(country.regions, lambda r: r.code, (*loc, "regions"))
        for owner_loc, owner in [(loc, country)] + [
            ((*loc, "regions", j), r) for j, r in enumerate(country.regions)
        ]:
            pm, sm = owner.defaultPaymentMethod, owner.defaultShippingMethod
            if pm:
                need(pm.lower() in payment, (*owner_loc, "defaultPaymentMethod"),
                     f"payment method {pm!r} is not in paymentMethods")
            if sm:
                need(sm.lower() in shipping, (*owner_loc, "defaultShippingMethod"),
                     f"shipping method {sm!r} is not in shippingMethods")
    for i, tc in enumerate(f.taxClasses):
        for j, rate in enumerate(tc.rates):
            rloc: Loc = ("taxClasses", i, "rates", j)
            if rate.country not in countries:
                p.append(((*rloc, "country"), f"country {rate.country!r} is not in countries"))
            elif rate.region and rate.region not in countries[rate.country]:
                p.append(((*rloc, "region"),
                          f"region {rate.region!r} is not a region of {rate.country}"))
        destinations = [(r.country, r.region or "") for r in tc.rates]
        for j, destination in enumerate(destinations):
            if destination in destinations[:j]:
                p.append((("taxClasses", i, "rates", j), "duplicate rate for this destination"))

    def check_tax_class(alias: str | None, loc: Loc) -> None:
        if alias:
            need(alias.lower() in tax_classes, loc, f"tax class {alias!r} is not in taxClasses")

    for i, m in enumerate(f.paymentMethods):
        loc = ("paymentMethods", i)
        check_tax_class(m.taxClass, (*loc, "taxClass"))
        check_prices(m.fees, (*loc, "fees"))
        check_destinations(m.allowedCountries, (*loc, "allowedCountries"))
        for name, setting in m.settings.items():
            if isinstance(setting, SettingEntry):
                env, value = setting.env, setting.value
                if (env is None) == (value is None):
                    p.append(((*loc, "settings", name), "give either 'value' or 'env'"))
                elif env is not None and env not in os.environ:
                    p.append(((*loc, "settings", name, "env"),
                              f"environment variable {env} is not set"))
    for i, sm_entry in enumerate(f.shippingMethods):
        loc = ("shippingMethods", i)
        check_tax_class(sm_entry.taxClass, (*loc, "taxClass"))
        check_prices(sm_entry.prices, (*loc, "prices"))
        check_destinations(sm_entry.allowedCountries, (*loc, "allowedCountries"))
        p += _duplicates(sm_entry.options, lambda o: o.alias, (*loc, "options"))
        for j, option in enumerate(sm_entry.options):
            check_prices(option.prices, (*loc, "options", j, "prices"))
    for i, product in enumerate(f.products):
        loc = ("products", i)
        check_tax_class(product.taxClass, (*loc, "taxClass"))
        check_prices(product.prices, (*loc, "prices"))
        p += _duplicates(product.variants, lambda v: v.reference, (*loc, "variants"))
        for j, variant in enumerate(product.variants):
            check_prices(variant.prices, (*loc, "variants", j, "prices"))
    return p + _check_discounts(f)


def _check_discounts(f: StoreFile) -> list[tuple[Loc, str]]:
    p: list[tuple[Loc, str]] = []
    countries = {c.code for c in f.countries}
    currencies = {c.code for c in f.currencies}

    def need(ok: bool, loc: Loc, message: str) -> None:
        if not ok:
            p.append((loc, message))

    def check_prices(prices: Mapping[str, Decimal], loc: Loc) -> None:
        for code in prices:
            need(code in currencies, (*loc, code), f"currency {code!r} is not in currencies")
    sold = {x for product in f.products for x in (
        product.reference, product.sku, *(v.sku for v in product.variants))}
    p += _duplicates(f.discounts, lambda d: d.alias, ("discounts",))
    all_codes = [(i, j, c if isinstance(c, str) else c.code)
                 for i, d in enumerate(f.discounts) for j, c in enumerate(d.codes)]
    seen: set[str] = set()
    for i, j, code in all_codes:
        need(code not in seen, ("discounts", i, "codes", j), f"code {code!r} is used twice")
        seen.add(code)
    for i, d in enumerate(f.discounts):
        loc: Loc = ("discounts", i)
        if d.type == "Code":
            need(bool(d.codes), (*loc, "codes"), "a Code discount needs at least one code")
        else:
            need(not d.codes, (*loc, "codes"), "an Automatic discount has no codes")
        if d.startDate and d.expiryDate:
            need(d.startDate < d.expiryDate, (*loc, "expiryDate"),
                 "expiryDate must come after startDate")
        check_prices(d.rules.minSubtotal, (*loc, "rules", "minSubtotal"))
        for j, code in enumerate(d.rules.countries):
            need(code in countries, (*loc, "rules", "countries", j),
                 f"country {code!r} is not in countries")
        for j, reward in enumerate(d.rewards):
            rloc: Loc = (*loc, "rewards", j)
            need((reward.percentage is None) != (not reward.amounts), rloc,
                 "a reward takes either a percentage or amounts per currency off")
            check_prices(reward.amounts, (*rloc, "amounts"))
            if reward.target == "lines":
                need(bool(reward.products), (*rloc, "products"),
                     "a lines reward names the products (references or SKUs) it applies to")
            else:
                need(not reward.products, (*rloc, "products"),
                     "only a lines reward names products")
            for k, product in enumerate(reward.products):
                need(product in sold, (*rloc, "products", k),
                     f"no product or SKU {product!r} in products")
    p += _duplicates(f.giftCards, lambda g: g.code, ("giftCards",))
    for i, card in enumerate(f.giftCards):
        need(card.currency in currencies, ("giftCards", i, "currency"),
             f"currency {card.currency!r} is not in currencies")
    return p


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "value"


class _Ids:
    def __init__(self, store_id: UUID) -> None:
        self.store_id = store_id

    def __call__(self, kind: str, *keys: str, given: UUID | None = None) -> UUID:
        if given is not None:
            return given
        return uuid.uuid5(self.store_id, ":".join((kind, *(k.lower() for k in keys))))


def build_plan(f: StoreFile, store_id: UUID) -> dict[str, list[Row]]:
    """The rows every configuration table should hold for this store."""
    ids = _Ids(store_id)
    currency_id = {c.code: ids("currency", c.code, given=c.id) for c in f.currencies}
    country_id = {c.code: ids("country", c.code, given=c.id) for c in f.countries}
    region_id = {(c.code, r.code): ids("region", c.code, r.code, given=r.id)
                 for c in f.countries for r in c.regions}
    tax_id = {t.alias.lower(): ids("taxclass", t.alias, given=t.id) for t in f.taxClasses}
    status_id = {s.alias.lower(): ids("orderstatus", s.alias, given=s.id)
                 for s in f.orderStatuses}
    pm_id = {m.alias.lower(): ids("paymentmethod", m.alias, given=m.id)
             for m in f.paymentMethods}
    sm_id = {m.alias.lower(): ids("shippingmethod", m.alias, given=m.id)
             for m in f.shippingMethods}

    def opt(mapping: Mapping[str, UUID], key: str | None) -> UUID | None:
        return mapping[key.lower()] if key else None

    plan: dict[str, list[Row]] = {name: [] for name in (
        "stores", "currencies", "countries", "regions", "tax_classes", "tax_rates",
        "order_statuses", "payment_methods", "payment_method_settings", "shipping_methods",
        "shipping_options", "allowed_countries", "products", "product_variants", "prices",
        "discounts", "discount_codes", "gift_cards")}

    def prices(owner: UUID, values: Mapping[str, Decimal]) -> None:
        plan["prices"].extend(
            {"owner_id": owner, "currency_id": currency_id[code], "value": value}
            for code, value in values.items())

    def allowed(owner: UUID, values: list[str]) -> None:
        for value in dict.fromkeys(values):
            code, _, region = value.partition(":")
            plan["allowed_countries"].append(
                {"owner_id": owner, "country_id": country_id[code], "region_code": region})

    s = f.store
    first_status = f.orderStatuses[0].alias if f.orderStatuses else None
    plan["stores"].append({
        "id": store_id, "alias": s.alias, "name": s.name,
        "prices_include_tax": s.pricesIncludeTax,
        "base_currency_id": currency_id[s.baseCurrency],
        "default_country_id": country_id[s.defaultCountry],
        "default_tax_class_id": tax_id[s.defaultTaxClass.lower()],
        "default_order_status_id": opt(status_id, s.defaultOrderStatus or first_status),
        "cart_number_template": s.cartNumberTemplate,
        "order_number_template": s.orderNumberTemplate,
        "rounding_method": s.roundingMethod,
    })
    for order, c in enumerate(f.currencies):
        plan["currencies"].append({
            "id": currency_id[c.code], "store_id": store_id, "code": c.code, "name": c.name,
            "culture": c.culture, "decimal_places": c.decimalPlaces,
            "format_template": c.formatTemplate,
            "allowed_country_codes": list(dict.fromkeys(c.allowedCountries)),
            "sort_order": order})
    for order, country in enumerate(f.countries):
        plan["countries"].append({
            "id": country_id[country.code], "store_id": store_id, "code": country.code,
            "name": country.name,
            "default_currency_id": currency_id[country.defaultCurrency]
            if country.defaultCurrency else None,
            "default_payment_method_id": opt(pm_id, country.defaultPaymentMethod),
            "default_shipping_method_id": opt(sm_id, country.defaultShippingMethod),
            "sort_order": order})
        for r_order, region in enumerate(country.regions):
            plan["regions"].append({
                "id": region_id[(country.code, region.code)],
                "country_id": country_id[country.code], "code": region.code,
                "name": region.name,
                "default_payment_method_id": opt(pm_id, region.defaultPaymentMethod),
                "default_shipping_method_id": opt(sm_id, region.defaultShippingMethod),
                "sort_order": r_order})
    for order, tc in enumerate(f.taxClasses):
        tc_id = tax_id[tc.alias.lower()]
        plan["tax_classes"].append({
            "id": tc_id, "store_id": store_id, "alias": tc.alias, "name": tc.name,
            "default_rate": tc.defaultRate, "default_tax_code": tc.defaultTaxCode,
            "sort_order": order})
        for rate in tc.rates:
            plan["tax_rates"].append({
                "id": ids("taxrate", tc.alias, rate.country, rate.region or ""),
                "tax_class_id": tc_id, "country_id": country_id[rate.country],
                "region_id": region_id[(rate.country, rate.region)] if rate.region else None,
                "rate": rate.rate, "tax_code": rate.taxCode})
    for order, status in enumerate(f.orderStatuses):
        plan["order_statuses"].append({
            "id": status_id[status.alias.lower()], "store_id": store_id,
            "alias": status.alias, "name": status.name, "color": status.color,
            "sort_order": order})
    for order, m in enumerate(f.paymentMethods):
        m_id = pm_id[m.alias.lower()]
        plan["payment_methods"].append({
            "id": m_id, "store_id": store_id, "alias": m.alias, "name": m.name,
            "provider_alias": m.provider, "sku": m.sku or m.alias,
            "tax_class_id": opt(tax_id, m.taxClass), "image_url": m.imageUrl,
            "sort_order": order})
        for key, setting in m.settings.items():
            env: str | None = None
            if isinstance(setting, bool):
                value, secret = ("true" if setting else "false"), False
            elif isinstance(setting, (str, Decimal)):
                value, secret = str(setting), False
            else:
                # From the environment: only the variable's name is stored; the value is
                # read where the store is loaded for use, and never lands in the database.
                value, env = ("", setting.env) if setting.env is not None \
                    else (setting.value or "", None)
                secret = setting.secret
            plan["payment_method_settings"].append(
                {"payment_method_id": m_id, "key": key, "value": value, "is_secret": secret,
                 "env": env})
        prices(m_id, m.fees)
        allowed(m_id, m.allowedCountries)
    for order, sm in enumerate(f.shippingMethods):
        s_id = sm_id[sm.alias.lower()]
        plan["shipping_methods"].append({
            "id": s_id, "store_id": store_id, "alias": sm.alias, "name": sm.name,
            "sku": sm.sku or sm.alias, "tax_class_id": opt(tax_id, sm.taxClass),
            "image_url": sm.imageUrl, "sort_order": order})
        prices(s_id, sm.prices)
        allowed(s_id, sm.allowedCountries)
        for o_order, option in enumerate(sm.options):
            o_id = ids("shippingoption", sm.alias, option.alias, given=option.id)
            plan["shipping_options"].append({
                "id": o_id, "shipping_method_id": s_id, "alias": option.alias,
                "name": option.name, "sort_order": o_order})
            prices(o_id, option.prices)
    for order, product in enumerate(f.products):
        p_id = ids("product", product.reference, given=product.id)
        plan["products"].append({
            "id": p_id, "store_id": store_id, "reference": product.reference,
            "sku": product.sku, "name": product.name,
            "tax_class_id": opt(tax_id, product.taxClass), "stock": product.stock,
            "is_gift_card": product.isGiftCard, "properties": dict(product.properties),
            "sort_order": order})
        prices(p_id, product.prices)
        for v_order, variant in enumerate(product.variants):
            v_id = ids("variant", product.reference, variant.reference, given=variant.id)
            plan["product_variants"].append({
                "id": v_id, "product_id": p_id, "reference": variant.reference,
                "sku": variant.sku, "name": variant.name,
                "attributes": [
                    {"alias": _slug(name), "name": name, "valueAlias": _slug(value),
                     "valueName": value}
                    for name, value in variant.attributes.items()],
                "stock": variant.stock, "properties": dict(variant.properties),
                "sort_order": v_order})
            prices(v_id, variant.prices)
    _plan_discounts(f, store_id, ids, currency_id, country_id, plan)
    return plan


def _plan_discounts(f: StoreFile, store_id: UUID, ids: _Ids, currency_id: Mapping[str, UUID],
                    country_id: Mapping[str, UUID], plan: dict[str, list[Row]]) -> None:
    """Discounts with rules and rewards as JSON (amounts as exact decimal strings), their
    codes, and the gift cards to issue or update."""

    def amounts(values: Mapping[str, Decimal]) -> dict[str, str]:
        return {str(currency_id[code]): f"{value:f}" for code, value in values.items()}

    for order, d in enumerate(f.discounts):
        d_id = ids("discount", d.alias, given=d.id)
        plan["discounts"].append({
            "id": d_id, "store_id": store_id, "alias": d.alias, "name": d.name,
            "kind": d.type, "active": d.active, "starts_at": d.startDate,
            "expires_at": d.expiryDate, "block_further": d.blockFurtherDiscounts,
            "rules": {"minSubtotal": amounts(d.rules.minSubtotal),
                      "countries": [str(country_id[c]) for c in d.rules.countries]},
            "rewards": [{"target": r.target,
                         "percentage": f"{r.percentage / 100:f}"
                         if r.percentage is not None else None,
                         "amounts": amounts(r.amounts), "products": list(r.products)}
                        for r in d.rewards],
            "sort_order": order})
        for entry in d.codes:
            code, limit = (entry, None) if isinstance(entry, str) else (entry.code,
                                                                         entry.usageLimit)
            plan["discount_codes"].append({
                "id": ids("discountcode", code), "store_id": store_id, "discount_id": d_id,
                "code": code, "usage_limit": limit})
    for card in f.giftCards:
        plan["gift_cards"].append({
            "id": ids("giftcard", card.code), "store_id": store_id, "code": card.code,
            "currency_id": currency_id[card.currency], "amount": card.amount,
            "expires_at": card.expiryDate, "active": card.active})


async def import_store(storage: Storage, data: Any) -> ImportResult:
    """Validate ``data`` (a parsed store file) and make the store match it, atomically."""
    parsed = validate_store_file(data)
    try:
        async with storage.writing() as writer:
            store_id = await writer.store_id_for(parsed.store.alias, parsed.store.id)
            if store_id is None:
                store_id = uuid.uuid5(NAMESPACE, f"store:{parsed.store.alias.lower()}")
            counts = await writer.apply_plan(store_id, build_plan(parsed, store_id))
    except Conflict as exc:
        raise StoreFileInvalid([((), exc.detail)]) from None
    result = ImportResult(store_id=store_id, store_alias=parsed.store.alias, per_table=counts)
    for created, updated, deleted in counts.values():
        result.created += created
        result.updated += updated
        result.deleted += deleted
    return result
