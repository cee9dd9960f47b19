"""Orders to the reference's ``OrderDto`` JSON.

Prices show only ``value`` unless ``expand`` holds ``$prices``, which adds the adjustment
breakdown. Related entities are references unless expanded (``paymentInfo[country]`` …).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from kasse.api import dto
from kasse.api import order_dto as odto
from kasse.api.formatting import format_amount
from kasse.api.serializers import Json, View, attributes, number
from kasse.api.shaping import Tree, sub
from kasse.api.wire import shape
from kasse.domain.discounts import Discount
from kasse.domain.order import Order, OrderLine
from kasse.domain.order_calculation import AdjustedPrice, AppliedCode, OrderCalculation
from kasse.domain.order_properties import customer_info
from kasse.services.orders import PricedOrder

PRICES = "$prices"

# Each body's keys come from its DTO (see ``api.wire``); without ``$prices`` an adjusted
# price or amount is its value alone.
_VALUE_ONLY = shape(dto.AdjustedPriceDto, only={"value"})
_ADJUSTED = shape(dto.AdjustedPriceDto)
_ADJUSTED_WITH_PREVIOUS = shape(odto.AdjustedPriceWithPreviousAdjustmentsDto)
_ADJUSTMENT = shape(dto.PriceAdjustmentDto)
_AMOUNT = shape(odto.AmountDto)
_FORMATTED_AMOUNT = shape(odto.FormattedAmountDto)
_ADJUSTED_AMOUNT = shape(odto.AdjustedAmountDto)
_AMOUNT_VALUE_ONLY = shape(odto.AdjustedAmountDto, only={"value"})
_AMOUNT_ADJUSTMENT = shape(odto.AmountAdjustmentDto)
_DISCOUNT_REF = shape(dto.DiscountReferenceDto)
_DISCOUNT = shape(dto.DiscountDto)
_APPLIED_CODE = shape(dto.OrderAppliedDiscountCodeDto)
_GIFT_CARD_REF = shape(odto.GiftCardReferenceDto)
_CUSTOMER_INFO = shape(odto.OrderCustomerInfoDto)
_PAYMENT_INFO = shape(odto.OrderPaymentInfoDto)
_SHIPPING_INFO = shape(odto.OrderShippingInfoDto)
_SHIPPING_OPTION = shape(dto.ShippingOptionDto)
_TRANSACTION_INFO = shape(odto.OrderTransactionInfoDto)
_ORDER = shape(odto.OrderDto)
_LINE = shape(odto.OrderLineDto)


def _date(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class OrderView:
    """Renders orders of one store for one request's ``expand``."""

    def __init__(self, view: View, expand: Tree) -> None:
        self.view = view
        self.expand = expand
        self.full_prices = PRICES in expand

    # --- prices and amounts ------------------------------------------------------------

    def adjusted(self, price: AdjustedPrice, with_previous: bool = False) -> Json:
        v = self.view
        if not self.full_prices:
            return _VALUE_ONLY(value=v.price(price.value))
        adjustments = [
            _ADJUSTMENT(name=a.name, type=a.type, price=v.price(a.price),
                        originalPrice=v.price(a.original_price), metaData={})
            for a in price.adjustments
        ]
        if with_previous:
            return _ADJUSTED_WITH_PREVIOUS(
                adjustments=adjustments, withoutAdjustments=v.price(price.without_adjustments),
                adjustment=v.price(price.adjustment), value=v.price(price.value),
                previousAdjustments=v.price(price.previous_adjustments),
                withPreviousAdjustments=v.price(price.with_previous_adjustments),
                totalAdjustment=v.price(price.total_adjustment))
        return _ADJUSTED(adjustments=adjustments,
                         withoutAdjustments=v.price(price.without_adjustments),
                         adjustment=v.price(price.adjustment), value=v.price(price.value))

    def amount(self, value: Decimal | None, currency_id: UUID) -> Json | None:
        if value is None:
            return None
        currency = self.view.config.currency_by_id(currency_id)
        return _AMOUNT(
            currency=self.view.currency_ref(currency_id),
            value=number(value),
            formatted=_FORMATTED_AMOUNT(
                value=format_amount(value, currency) if currency else str(value)),
        )

    def transaction_amount(self, calc: OrderCalculation) -> Json:
        cid = calc.currency_id
        value = self.amount(calc.transaction_amount, cid)
        if not self.full_prices:
            return _AMOUNT_VALUE_ONLY(value=value)
        before = calc.without_amount_adjustments
        return _ADJUSTED_AMOUNT(
            adjustments=[
                _AMOUNT_ADJUSTMENT(name=g.name, type="GiftCard",
                                   amount=self.amount(-g.amount, cid),
                                   originalAmount=self.amount(before, cid),
                                   metaData={"code": g.code})
                for g in calc.gift_cards],
            withoutAdjustments=self.amount(before, cid),
            adjustment=self.amount(calc.transaction_amount - before, cid),
            value=value)

    # --- discounts -----------------------------------------------------------------------

    def discount(self, discount: Discount, expand: Tree, key: str) -> Json:
        if sub(expand, key) is None:
            return _DISCOUNT_REF(id=str(discount.id), alias=discount.alias)
        return _DISCOUNT(id=str(discount.id), alias=discount.alias, name=discount.name,
                         store=self.view.store_ref(), type=discount.kind.value,
                         expiryDate=_date(discount.expires_at),
                         startDate=_date(discount.starts_at))

    def applied_code(self, applied: AppliedCode, expand: Tree) -> Json:
        return _APPLIED_CODE(
            discount=self.discount(applied.discount, sub(expand, "discountCodes") or {},
                                   "discount") if applied.discount else None,
            code=applied.code, isFulfilled=applied.fulfilled)

    # --- the order ---------------------------------------------------------------------

    def order(self, priced: PricedOrder) -> Json:
        order, calc = priced.order, priced.calculation
        v, c, expand = self.view, self.view.config, self.expand
        info = customer_info(order.properties, order.customer_reference)
        return _ORDER(
            id=str(order.id),
            orderNumber=order.order_number,
            store=v.store_field(expand),
            cartNumber=order.cart_number,
            languageIsoCode=order.language,
            currency=v._related(c.currency_by_id(order.currency_id), expand, "CurrencyRef",
                                "currency", v.currency),
            taxClass=v._related(c.tax_class_by_id(order.tax_class_id or
                                                  c.store.default_tax_class_id),
                                expand, "TaxClassRef", "taxClass", v.tax_class),
            taxRate=number(calc.tax_rate),
            orderStatus=v._related(c.order_status_by_id(order.order_status_id), expand,
                                   "OrderStatusRef", "orderStatus", v.order_status),
            customerInfo=_CUSTOMER_INFO(customerReference=info.customer_reference,
                                        firstName=info.first_name, lastName=info.last_name,
                                        email=info.email),
            paymentInfo=self.payment_info(order, calc),
            shippingInfo=self.shipping_info(order, calc),
            transactionInfo=self.transaction_info(order),
            discountCodes=[self.applied_code(a, expand) for a in calc.codes],
            discounts=[self.discount(d, expand, "discounts") for d in calc.automatic_discounts],
            giftCards=[_GIFT_CARD_REF(id=str(g.gift_card_id), code=g.code)
                       for g in calc.gift_cards],
            totalQuantity=number(sum((line.quantity for line in order.lines), Decimal(0))),
            subtotalPrice=self.adjusted(calc.subtotal, with_previous=True),
            totalPrice=self.adjusted(calc.total, with_previous=True),
            transactionAmount=self.transaction_amount(calc),
            orderLines=[self.line(line, calc, sub(expand, "orderLines") or {})
                        for line in order.lines],
            properties=dict(order.properties),
            tags=list(order.tags),
            createDate=_date(order.created_at),
            updateDate=_date(order.updated_at),
            finalizedDate=_date(order.finalized_at),
            isFinalized=order.is_finalized,
        )

    def payment_info(self, order: Order, calc: OrderCalculation) -> Json:
        v, c = self.view, self.view.config
        tree = sub(self.expand, "paymentInfo") or {}
        return _PAYMENT_INFO(
            country=v._related(c.country_by_id(order.billing_country_id), tree, "CountryRef",
                               "country", v.country),
            region=v._related(c.region_by_id(order.billing_region_id), tree, "RegionRef",
                              "region", v.region),
            paymentMethod=v._related(c.payment_method_by_id(order.payment_method_id), tree,
                                     "PaymentMethodRef", "paymentMethod", v.payment_method),
            taxRate=number(calc.payment.tax_rate),
            totalPrice=self.adjusted(calc.payment.price),
        )

    def shipping_info(self, order: Order, calc: OrderCalculation) -> Json:
        v, c = self.view, self.view.config
        tree = sub(self.expand, "shippingInfo") or {}
        method = c.shipping_method_by_id(order.shipping_method_id)
        option = next((o for o in method.options if o.id == order.shipping_option_id),
                      None) if method else None
        return _SHIPPING_INFO(
            country=v._related(c.country_by_id(order.effective_shipping_country_id), tree,
                               "CountryRef", "country", v.country),
            region=v._related(c.region_by_id(order.effective_shipping_region_id), tree,
                              "RegionRef", "region", v.region),
            shippingMethod=v._related(method, tree, "ShippingMethodRef", "shippingMethod",
                                      v.shipping_method),
            shippingOption=(_SHIPPING_OPTION(id=option.alias, name=option.name)
                            if option is not None else None),
            taxRate=number(calc.shipping.tax_rate),
            totalPrice=self.adjusted(calc.shipping.price),
        )

    def transaction_info(self, order: Order) -> Json | None:
        if order.payment_status is None:
            return None
        return _TRANSACTION_INFO(
            transactionId=order.transaction_id,
            authorizedAmount=self.amount(order.authorized_amount, order.currency_id),
            feeAmount=self.amount(order.fee_amount, order.currency_id),
            baseCurrencyExchangeRate=None,
            paymentStatus=order.payment_status,
        )

    def line(self, line: OrderLine, calc: OrderCalculation, tree: Tree) -> Json:
        v, c = self.view, self.view.config
        priced = calc.lines[line.id]
        return _LINE(
            id=str(line.id),
            productReference=line.product_reference,
            productVariantReference=line.variant_reference,
            sku=line.sku,
            name=line.name,
            quantity=number(line.quantity),
            taxClass=v._related(c.tax_class_by_id(priced.tax_class_id), tree, "TaxClassRef",
                                "taxClass", v.tax_class),
            bundleId=line.bundle_id,
            orderLines=[self.line(child, calc, tree) for child in line.children],
            properties=dict(line.properties),
            attributes=attributes(line.attributes),
            basePrice=self.adjusted(priced.base_price),
            unitPrice=self.adjusted(priced.unit_price),
            taxRate=number(priced.tax_rate),
            totalPrice=self.adjusted(priced.total_price, with_previous=True),
        )
