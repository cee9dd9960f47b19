"""The order aggregate as a shopper meets it: lines, stock, methods, currency, finalization.

Everything here is in memory: a tiny store built from the frozen configuration records,
and an ``Order`` changed only through its own methods.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from uuid import UUID

import pytest

from kasse.domain.errors import InvalidInput, NotFound
from kasse.domain.money import RoundingMethod
from kasse.domain.order import (
    InsufficientStock,
    NotAllowedHere,
    Order,
    OrderFinalized,
    OrderLine,
)
from kasse.domain.payment import PaymentStatus
from kasse.domain.store import (
    AllowedCountry,
    Country,
    Currency,
    PaymentMethod,
    Product,
    ProductVariant,
    ShippingMethod,
    ShippingOption,
    Store,
    StoreConfig,
    TaxClass,
    TaxRate,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal


def _prices(**by_currency: str) -> Mapping[UUID, Decimal]:
    return MappingProxyType({CURRENCY_IDS[code]: D(v) for code, v in by_currency.items()})


CURRENCY_IDS = {"EUR": uuid.uuid4(), "USD": uuid.uuid4(), "CHF": uuid.uuid4()}


@dataclass(frozen=True)
class Shop:
    """One small store and the catalog items the tests use."""

    config: StoreConfig
    eur: Currency
    usd: Currency
    chf: Currency
    de: Country
    fr: Country
    ch: Country
    standard: TaxClass
    reduced: TaxClass
    dhl: ShippingMethod
    """Ships to Germany only, with an ``express`` option."""
    post: ShippingMethod
    """Ships everywhere."""
    invoice: PaymentMethod
    """Germany only."""
    card: PaymentMethod
    """Everywhere."""
    shirt: Product
    """5 in stock."""
    mug: Product
    """Stock not tracked; no USD price."""
    hoodie: Product
    """Variants S (1 in stock) and M (10 in stock)."""
    gift_box: Product
    """A bundle shell, stock not tracked."""


def make_shop() -> Shop:
    store_id = uuid.uuid4()
    de = Country(uuid.uuid4(), store_id, "DE", "Germany")
    fr = Country(uuid.uuid4(), store_id, "FR", "France")
    ch = Country(uuid.uuid4(), store_id, "CH", "Switzerland")
    eur = Currency(CURRENCY_IDS["EUR"], store_id, "EUR", "Euro", "de-DE", 2)
    usd = Currency(CURRENCY_IDS["USD"], store_id, "USD", "US Dollar", "en-US", 2)
    chf = Currency(CURRENCY_IDS["CHF"], store_id, "CHF", "Swiss Franc", "de-CH", 2)
    standard = TaxClass(uuid.uuid4(), store_id, "standard", "Standard", D("0.19"),
                        rates=(TaxRate(fr.id, None, D("0.2")), TaxRate(ch.id, None, D("0.081"))))
    reduced = TaxClass(uuid.uuid4(), store_id, "reduced", "Reduced", D("0.07"))
    dhl = ShippingMethod(
        uuid.uuid4(), store_id, "dhl", "DHL", prices=_prices(EUR="4.95", USD="5.50"),
        options=(ShippingOption(uuid.uuid4(), "express", "Express",
                                prices=_prices(EUR="9.95")),),
        allowed_countries=(AllowedCountry(de.id),))
    post = ShippingMethod(uuid.uuid4(), store_id, "post", "Post",
                          prices=_prices(EUR="6.90", USD="7.90"))
    invoice = PaymentMethod(uuid.uuid4(), store_id, "invoice", "Invoice", "invoice",
                            allowed_countries=(AllowedCountry(de.id),))
    card = PaymentMethod(uuid.uuid4(), store_id, "card", "Card", "stripe",
                         fees=_prices(EUR="0.35"))
    store = Store(store_id, "shop", "Shop", True, eur.id, de.id,
                  standard.id, None, "CART-{0}", "ORDER-{0}", RoundingMethod.UNIT)
    config = StoreConfig(store, (eur, usd, chf), (de, fr, ch), (standard, reduced), (),
                         (invoice, card), (dhl, post))
    shirt = Product(uuid.uuid4(), store_id, "shirt", "SHIRT", "T-Shirt",
                    prices=_prices(EUR="19.90", USD="21.00"), stock=D(5))
    mug = Product(uuid.uuid4(), store_id, "mug", "MUG", "Mug", tax_class_id=reduced.id,
                  prices=_prices(EUR="8.50"))
    hoodie = Product(
        uuid.uuid4(), store_id, "hoodie", "HOODIE", "Hoodie",
        prices=_prices(EUR="49.00", USD="55.00"), stock=D(0),
        variants=(
            ProductVariant(uuid.uuid4(), "hoodie-s", "HOODIE-S", "Hoodie S",
                           attributes=(("size", "Size", "s", "S"),), stock=D(1)),
            ProductVariant(uuid.uuid4(), "hoodie-m", "HOODIE-M", "Hoodie M",
                           attributes=(("size", "Size", "m", "M"),),
                           prices=_prices(EUR="52.00"), stock=D(10)),
        ))
    gift_box = Product(uuid.uuid4(), store_id, "gift-box", "BOX", "Gift box",
                       prices=_prices(EUR="5.00", USD="6.00"))
    return Shop(config, eur, usd, chf, de, fr, ch, standard, reduced, dhl, post, invoice, card,
                shirt, mug, hoodie, gift_box)


@pytest.fixture
def shop() -> Shop:
    return make_shop()


def new_order(shop: Shop, *, billing: Country | None = None) -> Order:
    country = billing if billing is not None else shop.de
    return Order(id=uuid.uuid4(), store_id=shop.config.store.id, cart_number="CART-0001",
                 currency_id=shop.eur.id, created_at=NOW, updated_at=NOW,
                 billing_country_id=country.id)


def add(shop: Shop, order: Order, product: Product, quantity: str | int,
        properties: Mapping[str, str] | None = None, *, variant: str | None = None,
        bundle_id: str | None = None, into_bundle: str | None = None) -> OrderLine:
    """Add a product at its configured price in the order's currency."""
    chosen = product.variant(variant) if variant else None
    price = product.price_in(order.currency_id, variant)
    assert price is not None
    return order.add_product(product, chosen, D(quantity), price, properties or {}, uuid.uuid4,
                             bundle_id=bundle_id, into_bundle=into_bundle)


def quantities(order: Order) -> list[tuple[str, Decimal]]:
    """Every line (bundle items included) as (sku, quantity), in order."""
    return [(line.sku, line.quantity) for line, _ in order.all_lines()]


# --- adding lines ------------------------------------------------------------------------


def test_adding_the_same_product_twice_merges_into_one_line(shop: Shop) -> None:
    order = new_order(shop)
    first = add(shop, order, shop.mug, 2)
    second = add(shop, order, shop.mug, 3)
    assert second.id == first.id
    assert len(order.lines) == 1
    assert order.lines[0].quantity == D(5)
    assert order.lines[0].unit_price == D("8.50")
    assert [n.message for n in order.notices] == ["2 × Mug added to the order",
                                                  "3 × Mug added to the order"]


def test_decimal_quantities_merge_exactly(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, "0.1")
    add(shop, order, shop.mug, "0.2")
    assert quantities(order) == [("MUG", D("0.3"))]


def test_equal_properties_merge_after_trimming(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, 1, {"engraving": "Anna"})
    add(shop, order, shop.mug, 1, {"engraving": "  Anna "})
    assert len(order.lines) == 1
    assert order.lines[0].quantity == D(2)
    assert order.lines[0].properties == {"engraving": "Anna"}


def test_different_properties_give_separate_lines(shop: Shop) -> None:
    order = new_order(shop)
    plain = add(shop, order, shop.mug, 1)
    anna = add(shop, order, shop.mug, 2, {"engraving": "Anna"})
    ben = add(shop, order, shop.mug, 3, {"engraving": "Ben"})
    assert len({plain.id, anna.id, ben.id}) == 3
    assert [(line.properties, line.quantity) for line in order.lines] == [
        ({}, D(1)), ({"engraving": "Anna"}, D(2)), ({"engraving": "Ben"}, D(3))]


def test_different_variants_give_separate_lines(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.hoodie, 1, variant="hoodie-s")
    add(shop, order, shop.hoodie, 2, variant="hoodie-m")
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("HOODIE-S", D(1), D("49.00")),  # falls back to the product's price
        ("HOODIE-M", D(2), D("52.00")),
    ]
    assert order.lines[1].attributes == (("size", "Size", "m", "M"),)


def test_a_bundle_never_merges_with_a_plain_line(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.gift_box, 1)
    add(shop, order, shop.gift_box, 1, bundle_id="b1")
    assert [(line.bundle_id, line.quantity) for line in order.lines] == [(None, D(1)),
                                                                         ("b1", D(1))]
    with pytest.raises(InvalidInput, match="already has a bundle"):
        add(shop, order, shop.gift_box, 1, bundle_id="b1")
    assert len(order.lines) == 2


@pytest.mark.parametrize("quantity", [
    "0", "-1", "-0.5", "NaN", "Infinity", "-Infinity", "1000000.000001", "1000001",
    "0.0000001", "1.1234567",
])
def test_invalid_quantities_are_refused(shop: Shop, quantity: str) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, 1)
    with pytest.raises(InvalidInput):
        add(shop, order, shop.mug, quantity)
    with pytest.raises(InvalidInput):
        add(shop, order, shop.mug, quantity, {"engraving": "new line"})
    assert quantities(order) == [("MUG", D(1))]


@pytest.mark.parametrize("quantity", ["1000000", "0.000001", "2.123456"])
def test_quantities_at_the_limits_are_accepted(shop: Shop, quantity: str) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, quantity)
    assert quantities(order) == [("MUG", D(quantity))]


def test_merging_beyond_the_maximum_quantity_is_refused(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, 600_000)
    with pytest.raises(InvalidInput, match="at most"):
        add(shop, order, shop.mug, 400_001)
    assert quantities(order) == [("MUG", D(600_000))]


# --- stock -------------------------------------------------------------------------------


def test_adding_more_than_in_stock_is_refused_and_changes_nothing(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.shirt, 3)
    notices = len(order.notices)
    with pytest.raises(InsufficientStock) as refused:
        add(shop, order, shop.shirt, 3)
    assert "only 5 of T-Shirt available" in refused.value.detail
    assert "would need 6" in refused.value.detail
    assert quantities(order) == [("SHIRT", D(3))]
    assert len(order.notices) == notices
    # The rest still fits.
    add(shop, order, shop.shirt, 2)
    assert quantities(order) == [("SHIRT", D(5))]


def test_a_refused_new_line_is_not_left_behind(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.shirt, 4)
    with pytest.raises(InsufficientStock, match="only 5 "):
        add(shop, order, shop.shirt, 2, {"print": "front"})
    assert len(order.lines) == 1
    assert quantities(order) == [("SHIRT", D(4))]


def test_a_single_addition_above_stock_is_refused(shop: Shop) -> None:
    order = new_order(shop)
    with pytest.raises(InsufficientStock, match="only 5 of T-Shirt available"):
        add(shop, order, shop.shirt, 6)
    assert order.lines == []


def test_stock_counts_units_across_lines_with_different_properties(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.shirt, 2, {"print": "front"})
    add(shop, order, shop.shirt, 2, {"print": "back"})
    with pytest.raises(InsufficientStock):
        add(shop, order, shop.shirt, 2)
    assert quantities(order) == [("SHIRT", D(2)), ("SHIRT", D(2))]
    add(shop, order, shop.shirt, 1)
    assert sum(q for _, q in quantities(order)) == D(5)


def test_stock_counts_bundle_items_times_the_bundle_quantity(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.gift_box, 2, bundle_id="gift")
    add(shop, order, shop.shirt, 2, into_bundle="gift")  # 2 boxes × 2 shirts = 4 shirts
    assert order.units_of("shirt", None) == D(4)
    with pytest.raises(InsufficientStock, match="would need 6"):
        add(shop, order, shop.shirt, 2)
    assert len(order.lines) == 1
    add(shop, order, shop.shirt, 1)
    assert quantities(order) == [("BOX", D(2)), ("SHIRT", D(2)), ("SHIRT", D(1))]


def test_a_bundle_item_above_stock_is_refused_and_not_left_in_the_bundle(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.gift_box, 3, bundle_id="gift")
    add(shop, order, shop.shirt, 1, into_bundle="gift")  # 3 shirts
    with pytest.raises(InsufficientStock, match="only 5 .* would need 6"):
        add(shop, order, shop.shirt, 1, into_bundle="gift")
    bundle = order.bundle("gift")
    assert [(c.sku, c.quantity) for c in bundle.children] == [("SHIRT", D(1))]
    with pytest.raises(InsufficientStock):
        add(shop, order, shop.shirt, 1, {"print": "back"}, into_bundle="gift")
    assert len(bundle.children) == 1


def test_stock_is_per_variant(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.hoodie, 1, variant="hoodie-s")
    with pytest.raises(InsufficientStock, match="only 1 of Hoodie S available"):
        add(shop, order, shop.hoodie, 1, variant="hoodie-s")
    add(shop, order, shop.hoodie, 10, variant="hoodie-m")
    assert quantities(order) == [("HOODIE-S", D(1)), ("HOODIE-M", D(10))]


def test_untracked_stock_is_never_short(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, 999_999)
    add(shop, order, shop.mug, 1)
    assert quantities(order) == [("MUG", D(1_000_000))]


def test_a_product_out_of_stock_names_zero(shop: Shop) -> None:
    order = new_order(shop)
    with pytest.raises(InsufficientStock, match="only 0 of Hoodie available"):
        add(shop, order, shop.hoodie, 1)
    assert order.lines == []


# --- changing lines ----------------------------------------------------------------------


def test_update_line_sets_increments_and_decrements(shop: Shop) -> None:
    order = new_order(shop)
    line = add(shop, order, shop.mug, 2)
    order.update_line(line.id, quantity=D(7))
    assert line.quantity == D(7)
    order.update_line(line.id, increment=D(3))
    assert line.quantity == D(10)
    order.update_line(line.id, decrement=D("2.5"))
    assert line.quantity == D("7.5")
    order.update_line(line.id, quantity=D(1), increment=D(4))
    assert quantities(order) == [("MUG", D(5))]
    assert order.notices[-1].message == "Mug updated"


@pytest.mark.parametrize("change", [
    {"quantity": D(0)},
    {"quantity": D(-3)},
    {"decrement": D(2)},
    {"decrement": D(5)},
    {"quantity": D(1), "decrement": D(1)},
    {"increment": D(-1)},
    {"increment": D(0)},
    {"decrement": D(0)},
    {"quantity": D("NaN")},
    {"quantity": D("Infinity")},
    {"quantity": D(1_000_001)},
    {"quantity": D("1.1234567")},
], ids=lambda change: ",".join(f"{k}={v}" for k, v in change.items()))
def test_update_line_refuses_bad_results_and_keeps_the_line(
        shop: Shop, change: dict[str, Decimal]) -> None:
    order = new_order(shop)
    line = add(shop, order, shop.mug, 2)
    with pytest.raises(InvalidInput):
        order.update_line(line.id, quantity=change.get("quantity"),
                          increment=change.get("increment"), decrement=change.get("decrement"))
    assert quantities(order) == [("MUG", D(2))]


def test_update_line_merges_properties_and_sets_a_tax_class(shop: Shop) -> None:
    order = new_order(shop)
    line = add(shop, order, shop.mug, 1, {"engraving": "Anna", "gift": "yes"})
    order.update_line(line.id, tax_class=shop.standard,
                      properties={"engraving": "Ben", "gift": "", "note": " hi "})
    assert line.properties == {"engraving": "Ben", "note": "hi"}
    assert line.tax_class_id == shop.standard.id
    assert line.quantity == D(1)


def test_update_line_of_an_unknown_line_is_not_found(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, 1)
    with pytest.raises(NotFound):
        order.update_line(uuid.uuid4(), quantity=D(2))


def test_update_line_reaches_bundle_items(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.gift_box, 1, bundle_id="gift")
    item = add(shop, order, shop.mug, 1, into_bundle="gift")
    order.update_line(item.id, increment=D(2))
    assert quantities(order) == [("BOX", D(1)), ("MUG", D(3))]


def test_remove_line(shop: Shop) -> None:
    order = new_order(shop)
    mug = add(shop, order, shop.mug, 1)
    shirt = add(shop, order, shop.shirt, 1)
    order.remove_line(mug.id)
    assert [line.id for line in order.lines] == [shirt.id]
    assert order.notices[-1].message == "Mug removed from the order"
    with pytest.raises(NotFound):
        order.remove_line(mug.id)
    assert [line.id for line in order.lines] == [shirt.id]


def test_remove_a_bundle_item_keeps_the_bundle(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, 1)
    add(shop, order, shop.gift_box, 1, bundle_id="gift")
    mug_in_box = add(shop, order, shop.mug, 1, into_bundle="gift")
    shirt_in_box = add(shop, order, shop.shirt, 1, into_bundle="gift")
    order.remove_line(mug_in_box.id)
    assert quantities(order) == [("MUG", D(1)), ("BOX", D(1)), ("SHIRT", D(1))]
    assert order.bundle("gift").children == [shirt_in_box]


def test_removing_a_bundle_removes_its_items(shop: Shop) -> None:
    order = new_order(shop)
    box = add(shop, order, shop.gift_box, 1, bundle_id="gift")
    add(shop, order, shop.shirt, 5, into_bundle="gift")
    order.remove_line(box.id)
    assert order.lines == []
    # The shirts are free again.
    add(shop, order, shop.shirt, 5)
    assert quantities(order) == [("SHIRT", D(5))]


def test_clear_lines(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, 1)
    add(shop, order, shop.gift_box, 1, bundle_id="gift")
    add(shop, order, shop.shirt, 1, into_bundle="gift")
    order.clear_lines()
    assert order.lines == []
    assert order.notices[-1].message == "all lines removed from the order"


def test_clear_lines_of_a_bundle_empties_only_that_bundle(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, 1)
    add(shop, order, shop.gift_box, 1, bundle_id="a")
    add(shop, order, shop.shirt, 1, into_bundle="a")
    add(shop, order, shop.mug, 2, into_bundle="a")
    add(shop, order, shop.gift_box, 1, bundle_id="b")
    add(shop, order, shop.mug, 3, into_bundle="b")
    order.clear_lines("a")
    assert quantities(order) == [("MUG", D(1)), ("BOX", D(1)), ("BOX", D(1)), ("MUG", D(3))]
    assert order.bundle("a").children == []
    with pytest.raises(NotFound):
        order.clear_lines("missing")


# --- finalized orders --------------------------------------------------------------------


Change = Callable[[Shop, Order], object]

CHANGES: dict[str, Change] = {
    "add a new product": lambda s, o: add(s, o, s.shirt, 1),
    "add more of a line": lambda s, o: add(s, o, s.mug, 1),
    "add to the bundle": lambda s, o: add(s, o, s.mug, 1, into_bundle="gift"),
    "set a quantity": lambda s, o: o.update_line(o.lines[0].id, quantity=D(9)),
    "increment": lambda s, o: o.update_line(o.lines[0].id, increment=D(1)),
    "decrement": lambda s, o: o.update_line(o.lines[0].id, decrement=D(1)),
    "set line properties": lambda s, o: o.update_line(o.lines[0].id, properties={"a": "b"}),
    "remove a line": lambda s, o: o.remove_line(o.lines[0].id),
    "clear lines": lambda s, o: o.clear_lines(),
    "clear a bundle": lambda s, o: o.clear_lines("gift"),
    "change currency": lambda s, o: o.change_currency(s.usd, lambda line: D(1)),
    "set shipping": lambda s, o: o.set_shipping_method(s.config, s.post),
    "remove shipping": lambda s, o: o.set_shipping_method(s.config, None),
    "set payment": lambda s, o: o.set_payment_method(s.config, s.card),
    "remove payment": lambda s, o: o.set_payment_method(s.config, None),
    "set tags": lambda s, o: o.set_tags(["late"]),
    "set properties": lambda s, o: o.set_properties({"comment": "too late"}),
    "finalize again": lambda s, o: o.finalize(NOW, amount=D(0), transaction_id="t2",
                                              payment_status=PaymentStatus.AUTHORIZED,
                                              currency_code="EUR"),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_finalized_order_refuses_every_change(shop: Shop, name: str) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, 2)
    add(shop, order, shop.gift_box, 1, bundle_id="gift")
    add(shop, order, shop.mug, 1, into_bundle="gift")
    order.set_shipping_method(shop.config, shop.dhl)
    order.set_payment_method(shop.config, shop.invoice)
    order.set_tags(["vip"])
    order.set_properties({"email": "anna@example.com"})
    order.order_number = "ORDER-0001"
    order.finalize(NOW, amount=D("30.90"), transaction_id="t1",
                   payment_status=PaymentStatus.AUTHORIZED, currency_code="EUR")
    before = copy.deepcopy(order)
    with pytest.raises(OrderFinalized, match="ORDER-0001 is finalized"):
        CHANGES[name](shop, order)
    assert order == before
    assert order.authorized_amount == D("30.90")


# --- shipping and payment ----------------------------------------------------------------


def test_shipping_method_must_ship_to_the_shipping_country(shop: Shop) -> None:
    order = new_order(shop)
    order.set_shipping_method(shop.config, shop.post)
    order.shipping_country_id = shop.fr.id  # billing stays in Germany
    with pytest.raises(NotAllowedHere, match="does not ship to FR"):
        order.set_shipping_method(shop.config, shop.dhl)
    assert order.shipping_method_id == shop.post.id
    order.shipping_same_as_billing = True  # now shipping to Germany
    order.set_shipping_method(shop.config, shop.dhl)
    assert order.shipping_method_id == shop.dhl.id


def test_shipping_option_is_chosen_by_alias_or_id(shop: Shop) -> None:
    order = new_order(shop)
    express = shop.dhl.options[0]
    order.set_shipping_method(shop.config, shop.dhl, " EXPRESS ")
    assert (order.shipping_method_id, order.shipping_option_id) == (shop.dhl.id, express.id)
    order.set_shipping_method(shop.config, shop.dhl)
    assert (order.shipping_method_id, order.shipping_option_id) == (shop.dhl.id, None)
    order.set_shipping_method(shop.config, shop.dhl, str(express.id))
    assert order.shipping_option_id == express.id


def test_an_unknown_shipping_option_is_refused_and_changes_nothing(shop: Shop) -> None:
    order = new_order(shop)
    order.set_shipping_method(shop.config, shop.dhl, "express")
    before = (order.shipping_method_id, order.shipping_option_id)
    with pytest.raises(InvalidInput, match="has no option 'overnight'"):
        order.set_shipping_method(shop.config, shop.dhl, "overnight")
    with pytest.raises(InvalidInput, match="has no option"):
        order.set_shipping_method(shop.config, shop.post, "express")
    assert (order.shipping_method_id, order.shipping_option_id) == before


def test_an_option_without_a_method_is_refused_and_changes_nothing(shop: Shop) -> None:
    order = new_order(shop)
    order.set_shipping_method(shop.config, shop.dhl, "express")
    with pytest.raises(InvalidInput, match="needs a shippingMethod"):
        order.set_shipping_method(shop.config, None, "express")
    assert order.shipping_method_id == shop.dhl.id
    assert order.shipping_option_id == shop.dhl.options[0].id


def test_a_shipping_method_without_a_price_in_the_currency_is_refused(shop: Shop) -> None:
    order = new_order(shop)
    order.currency_id = shop.chf.id
    with pytest.raises(InvalidInput, match="no price in the order's currency"):
        order.set_shipping_method(shop.config, shop.post)
    assert order.shipping_method_id is None


def test_payment_method_must_be_allowed_in_the_billing_country(shop: Shop) -> None:
    order = new_order(shop, billing=shop.fr)
    order.shipping_country_id = shop.de.id  # shipping to Germany does not matter
    with pytest.raises(NotAllowedHere, match="'invoice' is not available in FR"):
        order.set_payment_method(shop.config, shop.invoice)
    assert order.payment_method_id is None
    order.set_payment_method(shop.config, shop.card)
    assert order.payment_method_id == shop.card.id
    order.billing_country_id = shop.de.id
    order.set_payment_method(shop.config, shop.invoice)
    assert order.payment_method_id == shop.invoice.id
    order.set_payment_method(shop.config, None)
    assert order.payment_method_id is None


def test_methods_that_no_longer_apply_are_dropped_with_a_warning(shop: Shop) -> None:
    order = new_order(shop)
    order.set_shipping_method(shop.config, shop.dhl, "express")
    order.set_payment_method(shop.config, shop.invoice)
    order.drop_unavailable_methods(shop.config)  # still Germany: nothing changes
    assert (order.shipping_method_id, order.payment_method_id) == (shop.dhl.id,
                                                                   shop.invoice.id)
    assert order.notices == []

    order.billing_country_id = shop.ch.id
    order.drop_unavailable_methods(shop.config)
    assert order.shipping_method_id is None
    assert order.shipping_option_id is None
    assert order.payment_method_id is None
    assert [(n.type, n.message) for n in order.notices] == [
        ("Warning", "shipping method DHL does not ship there and was removed"),
        ("Warning", "payment method Invoice is not available there and was removed"),
    ]


def test_only_the_methods_that_no_longer_apply_are_dropped(shop: Shop) -> None:
    order = new_order(shop)
    order.set_shipping_method(shop.config, shop.post)
    order.set_payment_method(shop.config, shop.invoice)
    order.billing_country_id = shop.fr.id
    order.drop_unavailable_methods(shop.config)
    assert order.shipping_method_id == shop.post.id
    assert order.payment_method_id is None
    assert [n.type for n in order.notices] == ["Warning"]


def test_a_shipping_country_change_alone_keeps_the_payment_method(shop: Shop) -> None:
    order = new_order(shop)
    order.set_shipping_method(shop.config, shop.dhl)
    order.set_payment_method(shop.config, shop.invoice)
    order.shipping_country_id = shop.fr.id
    order.drop_unavailable_methods(shop.config)
    assert order.shipping_method_id is None
    assert order.payment_method_id == shop.invoice.id


# --- currency ----------------------------------------------------------------------------


def catalog_price(shop: Shop, currency: Currency) -> Callable[[OrderLine], Decimal | None]:
    products = {p.reference: p for p in (shop.shirt, shop.mug, shop.hoodie, shop.gift_box)}

    def price_of(line: OrderLine) -> Decimal | None:
        return products[line.product_reference].price_in(currency.id, line.variant_reference)

    return price_of


def test_change_currency_takes_the_new_price_for_every_line(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.shirt, 2)
    add(shop, order, shop.hoodie, 1, variant="hoodie-m")
    add(shop, order, shop.gift_box, 1, bundle_id="gift")
    add(shop, order, shop.shirt, 1, into_bundle="gift")
    order.change_currency(shop.usd, catalog_price(shop, shop.usd))
    assert order.currency_id == shop.usd.id
    # The hoodie variant has no USD price of its own: the product's is used.
    assert [(line.sku, line.unit_price) for line, _ in order.all_lines()] == [
        ("SHIRT", D("21.00")), ("HOODIE-M", D("55.00")), ("BOX", D("6.00")),
        ("SHIRT", D("21.00"))]
    assert order.notices[-1].message == "currency changed to USD"


def test_change_currency_without_a_price_for_a_line_changes_nothing(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.shirt, 2)
    add(shop, order, shop.gift_box, 1, bundle_id="gift")
    add(shop, order, shop.mug, 1, into_bundle="gift")  # no USD price
    before = [(line.sku, line.unit_price) for line, _ in order.all_lines()]
    with pytest.raises(InvalidInput, match="no USD price for Mug"):
        order.change_currency(shop.usd, catalog_price(shop, shop.usd))
    assert order.currency_id == shop.eur.id
    assert [(line.sku, line.unit_price) for line, _ in order.all_lines()] == before


def test_change_to_the_same_currency_keeps_prices(shop: Shop) -> None:
    order = new_order(shop)
    add(shop, order, shop.mug, 1)
    order.change_currency(shop.eur, lambda line: D(1))
    assert order.lines[0].unit_price == D("8.50")


# --- properties and tags -----------------------------------------------------------------


def test_set_properties_merges_and_an_empty_value_removes(shop: Shop) -> None:
    order = new_order(shop)
    order.set_properties({"firstName": " Anna ", "lastName": "Berg", "comment": "ring twice"})
    order.set_properties({"lastName": "", "comment": "   ", "email": "anna@example.com"})
    assert order.properties == {"firstName": "Anna", "email": "anna@example.com"}
    order.set_properties({"never-set": ""})
    assert order.properties == {"firstName": "Anna", "email": "anna@example.com"}


@pytest.mark.parametrize("bad", [{"": "x"}, {"  ": "x"}, {"a\nb": "x"}, {"a": "x\x00"},
                                 {"a": "x" * 4001}])
def test_set_properties_refuses_bad_names_and_values(
        shop: Shop, bad: dict[str, str]) -> None:
    order = new_order(shop)
    order.set_properties({"keep": "me"})
    with pytest.raises(InvalidInput):
        order.set_properties(bad)
    assert order.properties == {"keep": "me"}


def test_set_tags_trims_and_removes_duplicates(shop: Shop) -> None:
    order = new_order(shop)
    order.set_tags([" vip ", "gift", "vip", "", "   ", "gift ", "B2B"])
    assert order.tags == ["vip", "gift", "B2B"]
    order.set_tags(["new"])
    assert order.tags == ["new"]
    order.set_tags([])
    assert order.tags == []


@pytest.mark.parametrize("bad", [["x" * 101], ["tab\there"], [f"t{i}" for i in range(51)]])
def test_set_tags_refuses_bad_tags_and_keeps_the_old_ones(shop: Shop, bad: list[str]) -> None:
    order = new_order(shop)
    order.set_tags(["vip"])
    with pytest.raises(InvalidInput):
        order.set_tags(bad)
    assert order.tags == ["vip"]
