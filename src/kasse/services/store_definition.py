"""From a store file to the ``StoreDefinition`` it describes: pure, no I/O.

Ids are derived from the store id and each entity's alias (or reference, or code), so
the same file gives the same ids on every machine and every run; an explicit ``id:`` in
the file wins.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from uuid import UUID

from kasse.domain.discounts import (
    Discount,
    DiscountCode,
    DiscountKind,
    GiftCard,
    Reward,
    RewardTarget,
)
from kasse.domain.emails import EmailSettings
from kasse.domain.money import RoundingMethod
from kasse.domain.store import (
    AllowedCountry,
    Country,
    Currency,
    OrderStatus,
    PaymentMethod,
    PaymentMethodSetting,
    Product,
    ProductVariant,
    Region,
    ShippingMethod,
    ShippingOption,
    Store,
    StoreConfig,
    TaxClass,
    TaxRate,
)
from kasse.domain.store_definition import StoreDefinition
from kasse.services.store_checks import CheckedStoreFile
from kasse.services.store_file import (
    PaymentMethodEntry,
    ProductEntry,
    SettingEntry,
    ShippingMethodEntry,
    StoreFile,
)

NAMESPACE = UUID("5b0f4c1e-9d3a-4e59-8f1e-6a2c0b7d9e41")


def new_store_id(alias: str) -> UUID:
    """The id of a store first imported from a file that names none."""
    return uuid.uuid5(NAMESPACE, f"store:{alias.lower()}")


def define_store(checked: CheckedStoreFile, store_id: UUID,
                 templates: Mapping[str, str] | None = None) -> StoreDefinition:
    """The store a checked store file defines, with id ``store_id`` (``templates``: those
    of its email templates folder, checked with the file). The checks
    (``validate_store_file``) are what make it a valid ``StoreDefinition``."""
    builder = _Builder(checked, store_id)
    builder.templates = dict(templates or {})
    return builder.definition()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "value"


def _frozen(values: Mapping[UUID, Decimal]) -> Mapping[UUID, Decimal]:
    return MappingProxyType(dict(values))


class _Builder:
    """Resolves the codes and aliases of a checked file into ids, once."""

    def __init__(self, f: StoreFile, store_id: UUID) -> None:
        self.f = f
        self.store_id = store_id
        self.templates: dict[str, str] = {}
        self.currency_id = {c.code: self.id("currency", c.code, given=c.id)
                            for c in f.currencies}
        self.country_id = {c.code: self.id("country", c.code, given=c.id)
                           for c in f.countries}
        self.region_id = {(c.code, r.code): self.id("region", c.code, r.code, given=r.id)
                          for c in f.countries for r in c.regions}
        self.tax_id = {t.alias.lower(): self.id("taxclass", t.alias, given=t.id)
                       for t in f.taxClasses}
        self.status_id = {s.alias.lower(): self.id("orderstatus", s.alias, given=s.id)
                          for s in f.orderStatuses}
        self.pm_id = {m.alias.lower(): self.id("paymentmethod", m.alias, given=m.id)
                      for m in f.paymentMethods}
        self.sm_id = {m.alias.lower(): self.id("shippingmethod", m.alias, given=m.id)
                      for m in f.shippingMethods}

    def id(self, kind: str, *keys: str, given: UUID | None = None) -> UUID:
        if given is not None:
            return given
        return uuid.uuid5(self.store_id, ":".join((kind, *(k.lower() for k in keys))))

    @staticmethod
    def _opt(mapping: Mapping[str, UUID], key: str | None) -> UUID | None:
        return mapping[key.lower()] if key else None

    def prices(self, values: Mapping[str, Decimal]) -> Mapping[UUID, Decimal]:
        return _frozen({self.currency_id[code]: value for code, value in values.items()})

    def allowed(self, values: list[str]) -> tuple[AllowedCountry, ...]:
        found = []
        for value in dict.fromkeys(values):
            code, _, region = value.partition(":")
            found.append(AllowedCountry(
                country_id=self.country_id[code],
                region_id=self.region_id[(code, region)] if region else None))
        return tuple(found)

    def definition(self) -> StoreDefinition:
        f = self.f
        return StoreDefinition(
            config=StoreConfig(
                store=self.store(), currencies=self.currencies(), countries=self.countries(),
                tax_classes=self.tax_classes(),
                order_statuses=tuple(
                    OrderStatus(id=self.status_id[s.alias.lower()], store_id=self.store_id,
                                alias=s.alias, name=s.name, color=s.color, sort_order=order)
                    for order, s in enumerate(f.orderStatuses)),
                payment_methods=tuple(self.payment_method(order, m)
                                      for order, m in enumerate(f.paymentMethods)),
                shipping_methods=tuple(self.shipping_method(order, m)
                                       for order, m in enumerate(f.shippingMethods)),
                discounts=self.discounts()),
            products=tuple(self.product(order, p) for order, p in enumerate(f.products)),
            gift_cards=tuple(
                GiftCard(id=self.id("giftcard", card.code), code=card.code,
                         currency_id=self.currency_id[card.currency], amount=card.amount,
                         expires_at=card.expiryDate, active=card.active)
                for card in f.giftCards))

    def store(self) -> Store:
        s = self.f.store
        first_status = self.f.orderStatuses[0].alias if self.f.orderStatuses else None
        return Store(
            id=self.store_id, alias=s.alias, name=s.name, prices_include_tax=s.pricesIncludeTax,
            base_currency_id=self.currency_id[s.baseCurrency],
            default_country_id=self.country_id[s.defaultCountry],
            default_tax_class_id=self.tax_id[s.defaultTaxClass.lower()],
            default_order_status_id=self._opt(self.status_id,
                                              s.defaultOrderStatus or first_status),
            cart_number_template=s.cartNumberTemplate,
            order_number_template=s.orderNumberTemplate,
            rounding_method=RoundingMethod(s.roundingMethod),
            stock_hold_minutes=s.stockHoldMinutes, emails=self.emails())

    def emails(self) -> EmailSettings:
        e = self.f.emails
        methods = {m.alias.lower(): m.alias for m in self.f.paymentMethods}
        return EmailSettings(
            sender=e.sender, reply_to=e.replyTo, bcc=tuple(e.bcc),
            default_language=e.defaultLanguage,
            templates=MappingProxyType(dict(sorted(self.templates.items()))),
            payment_instructions=MappingProxyType({
                methods.get(alias.lower(), alias): MappingProxyType(dict(texts))
                for alias, texts in e.paymentInstructions.items()}))

    def currencies(self) -> tuple[Currency, ...]:
        return tuple(
            Currency(id=self.currency_id[c.code], store_id=self.store_id, code=c.code,
                     name=c.name, culture=c.culture, decimal_places=c.decimalPlaces,
                     format_template=c.formatTemplate,
                     allowed_country_ids=tuple(self.country_id[code]
                                               for code in dict.fromkeys(c.allowedCountries)),
                     sort_order=order)
            for order, c in enumerate(self.f.currencies))

    def countries(self) -> tuple[Country, ...]:
        return tuple(
            Country(
                id=self.country_id[c.code], store_id=self.store_id, code=c.code, name=c.name,
                default_currency_id=self.currency_id[c.defaultCurrency]
                if c.defaultCurrency else None,
                default_payment_method_id=self._opt(self.pm_id, c.defaultPaymentMethod),
                default_shipping_method_id=self._opt(self.sm_id, c.defaultShippingMethod),
                regions=tuple(
                    Region(id=self.region_id[(c.code, r.code)],
                           country_id=self.country_id[c.code], code=r.code, name=r.name,
                           default_payment_method_id=self._opt(self.pm_id,
                                                               r.defaultPaymentMethod),
                           default_shipping_method_id=self._opt(self.sm_id,
                                                                r.defaultShippingMethod),
                           sort_order=r_order)
                    for r_order, r in enumerate(c.regions)),
                sort_order=order)
            for order, c in enumerate(self.f.countries))

    def tax_classes(self) -> tuple[TaxClass, ...]:
        return tuple(
            TaxClass(
                id=self.tax_id[tc.alias.lower()], store_id=self.store_id, alias=tc.alias,
                name=tc.name, default_rate=tc.defaultRate, default_tax_code=tc.defaultTaxCode,
                rates=tuple(
                    TaxRate(country_id=self.country_id[rate.country],
                            region_id=self.region_id[(rate.country, rate.region)]
                            if rate.region else None,
                            rate=rate.rate, tax_code=rate.taxCode)
                    for rate in tc.rates),
                sort_order=order)
            for order, tc in enumerate(self.f.taxClasses))

    def payment_method(self, order: int, m: PaymentMethodEntry) -> PaymentMethod:
        return PaymentMethod(
            id=self.pm_id[m.alias.lower()], store_id=self.store_id, alias=m.alias,
            name=m.name, provider_alias=m.provider, sku=m.sku or m.alias,
            tax_class_id=self._opt(self.tax_id, m.taxClass), image_url=m.imageUrl,
            settings=tuple(_setting(key, value) for key, value in m.settings.items()),
            fees=self.prices(m.fees), allowed_countries=self.allowed(m.allowedCountries),
            sort_order=order)

    def shipping_method(self, order: int, m: ShippingMethodEntry) -> ShippingMethod:
        return ShippingMethod(
            id=self.sm_id[m.alias.lower()], store_id=self.store_id, alias=m.alias,
            name=m.name, sku=m.sku or m.alias, tax_class_id=self._opt(self.tax_id, m.taxClass),
            image_url=m.imageUrl, prices=self.prices(m.prices),
            options=tuple(
                ShippingOption(id=self.id("shippingoption", m.alias, o.alias, given=o.id),
                               alias=o.alias, name=o.name, prices=self.prices(o.prices),
                               sort_order=o_order)
                for o_order, o in enumerate(m.options)),
            allowed_countries=self.allowed(m.allowedCountries), sort_order=order)

    def product(self, order: int, p: ProductEntry) -> Product:
        return Product(
            id=self.id("product", p.reference, given=p.id), store_id=self.store_id,
            reference=p.reference, sku=p.sku, name=p.name,
            tax_class_id=self._opt(self.tax_id, p.taxClass), prices=self.prices(p.prices),
            stock=p.stock, is_gift_card=p.isGiftCard,
            properties=MappingProxyType(dict(p.properties)),
            variants=tuple(
                ProductVariant(
                    id=self.id("variant", p.reference, v.reference, given=v.id),
                    reference=v.reference, sku=v.sku, name=v.name,
                    attributes=tuple((_slug(name), name, _slug(value), value)
                                     for name, value in v.attributes.items()),
                    prices=self.prices(v.prices), stock=v.stock,
                    properties=MappingProxyType(dict(v.properties)))
                for v in p.variants),
            sort_order=order)

    def discounts(self) -> tuple[Discount, ...]:
        found = []
        for d in self.f.discounts:
            codes = [(entry, None) if isinstance(entry, str) else (entry.code, entry.usageLimit)
                     for entry in d.codes]
            found.append(Discount(
                id=self.id("discount", d.alias, given=d.id), alias=d.alias, name=d.name,
                kind=DiscountKind(d.type),
                rewards=tuple(
                    Reward(target=RewardTarget(r.target),
                           percentage=r.percentage / 100 if r.percentage is not None else None,
                           amounts=self.prices(r.amounts), products=frozenset(r.products))
                    for r in d.rewards),
                active=d.active, starts_at=d.startDate, expires_at=d.expiryDate,
                block_further=d.blockFurtherDiscounts,
                min_subtotal=self.prices(d.rules.minSubtotal),
                countries=frozenset(self.country_id[c] for c in d.rules.countries),
                codes=tuple(DiscountCode(self.id("discountcode", code), code, limit)
                            for code, limit in codes)))
        return tuple(found)


def _setting(key: str, setting: str | Decimal | bool | SettingEntry) -> PaymentMethodSetting:
    if isinstance(setting, bool):
        return PaymentMethodSetting(key, "true" if setting else "false", is_secret=False)
    if isinstance(setting, (str, Decimal)):
        return PaymentMethodSetting(key, str(setting), is_secret=False)
    if setting.env is not None:
        # From the environment: only the variable's name is kept; the value is read where
        # the store is loaded for use, and never lands in the database.
        return PaymentMethodSetting(key, "", is_secret=setting.secret, env=setting.env)
    return PaymentMethodSetting(key, setting.value or "", is_secret=setting.secret)
