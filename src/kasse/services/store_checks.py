"""Checking a store file: its schema (``store_file``) and the rules that tie its parts
together, each problem named by where it is in the file.

A file that passes is one ``define_store`` can turn into a ``StoreDefinition``: every
currency, country, region, tax class, method and product it refers to is defined in it,
and what must be unique is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, NewType

from pydantic import ValidationError

from kasse.domain.errors import DomainError
from kasse.services.store_email_checks import check_emails
from kasse.services.store_file import SettingEntry, StoreFile

Loc = tuple[str | int, ...]

CheckedStoreFile = NewType("CheckedStoreFile", StoreFile)
"""A store file that passed every check (only ``validate_store_file`` makes one)."""


class StoreFileInvalid(DomainError):
    """A store file that fails validation; ``problems`` pairs locations with reasons."""

    code = "store_file_invalid"

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{dotted_location(loc)}: {msg}" for loc, msg in problems))




def dotted_location(loc: Loc) -> str:
    """``('products', 0, 'prices', 'EUR')`` as ``products[0].prices.EUR``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"



def validate_store_file(data: Any, environ: Mapping[str, str] | None = None, *,
                        templates: Mapping[str, str] | None = None) -> CheckedStoreFile:
    """Parse and cross-check a store file; raises ``StoreFileInvalid`` listing every problem.

    A setting read from the environment (``{env: NAME}``) must be set in ``environ``
    (this process's environment unless given). ``templates``: the email templates of the
    folder the file names (``emails.templates``), by name, as read beside the file."""
    if not isinstance(data, dict):
        raise StoreFileInvalid([((), "the file must hold a mapping with a 'store' section")])
    try:
        parsed = StoreFile.model_validate(data)
    except ValidationError as exc:
        raise StoreFileInvalid([
            (tuple(err["loc"]), _message(err)) for err in exc.errors(include_url=False)
        ]) from None
    problems = _cross_check(parsed, os.environ if environ is None else environ)
    problems += check_emails(parsed, templates)
    if problems:
        raise StoreFileInvalid(problems)
    return CheckedStoreFile(parsed)


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


def _cross_check(f: StoreFile, environ: Mapping[str, str]) -> list[tuple[Loc, str]]:
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
                elif env is not None and env not in environ:
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
