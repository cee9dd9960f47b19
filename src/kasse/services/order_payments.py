"""The money of a placed order: capture, record a payment made outside kasse, refund,
and cancel (void or refund, restock, canceled status).

An operation that calls a payment gateway never holds a transaction across the call:
the first unit of work checks it on the locked order, holds what it needs (a refund's
amount and units as *pending*, a cancel's claim) and writes a pending record whose
operation id is the gateway's idempotency key; the gateway is called; a second unit of
work records the answer (succeeded: the money moves; failed: what was held is let go).
Operations no provider performs (a payment recorded by hand, a manual refund, voiding an
unpaid invoice) are one unit of work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from kasse.domain.audit import Actor
from kasse.domain.errors import Conflict, NotFound
from kasse.domain.events import PaymentCaptured
from kasse.domain.order import Order
from kasse.domain.order_management import (
    CancelPlan,
    begin_cancel,
    cancel_failed,
    finish_cancel,
    plan_cancel,
)
from kasse.domain.payment_operations import (
    OperationNotAllowed,
    PaymentOperationKind,
    PaymentRecord,
    RecordStatus,
    captured,
    check_capture,
    check_payment,
    clean_reference,
    voided,
)
from kasse.domain.placed_order import LineQuantity
from kasse.domain.refunds import (
    RefundRequest,
    begin_refund,
    line_totals,
    plan_refund,
    refund_failed,
    refund_succeeded,
)
from kasse.domain.store import Currency, StoreConfig
from kasse.payments.provider import (
    ManagesPayments,
    PaymentOperation,
    PaymentRefused,
    ProviderError,
)
from kasse.services.checkout import GatewayUnavailable, method_settings
from kasse.services.order_actions import CANCELED, RETURNED, Done, OrderActions, Payer
from kasse.services.ports import OrderUnit

CAPTURE, VOID, REFUND, PAYMENT = (PaymentOperationKind.CAPTURE, PaymentOperationKind.VOID,
                                  PaymentOperationKind.REFUND, PaymentOperationKind.PAYMENT)


class PaymentOperationRefused(Conflict):
    """The gateway refused the operation (e.g. more than is left to refund)."""

    code = "payment_operation_refused"


@dataclass(frozen=True, slots=True)
class _Call:
    """A gateway call prepared by the first unit of work."""

    record: PaymentRecord
    operation: PaymentOperation
    provider: ManagesPayments
    version_before: int
    cancel: CancelPlan | None = None


@dataclass(frozen=True, slots=True)
class _Answer:
    error: str | None = None
    technical: bool = False


def _currency(config: StoreConfig, order: Order) -> Currency:
    currency = config.currency_by_id(order.currency_id)
    if currency is None:
        raise OperationNotAllowed("the order's currency no longer exists in the store")
    return currency


class PaymentActions(OrderActions):
    # --- capture and recorded payments ----------------------------------------------------

    async def capture(self, config: StoreConfig, order_id: UUID, amount: Decimal | None,
                      *, actor: Actor, expected_version: int | None) -> Done:
        """Capture the authorization (``None``: all of it) through its provider."""
        async def prepare(unit: OrderUnit, order: Order) -> _Call:
            currency = _currency(config, order)
            wanted = check_capture(order, amount, currency.decimal_places)
            payer = await self._payer(unit, config, order)
            if not payer.can(CAPTURE):
                raise OperationNotAllowed(
                    f"payment provider {payer.alias or 'unknown'} cannot capture payments; "
                    "record the payment instead when it was paid")
            await self._no_operation_under_way(unit, order)
            return await self._call(unit, order, payer, CAPTURE, wanted, currency, actor)

        call = await self._act(config, order_id, expected_version, prepare)
        return await self._finish(config, order_id, call, actor)

    async def record_payment(self, config: StoreConfig, order_id: UUID,
                             amount: Decimal | None, reference: str, *, actor: Actor,
                             expected_version: int | None) -> Done:
        """Mark the order paid outside kasse (e.g. an invoice paid by bank transfer):
        ``amount`` (``None``: the amount due) captured, with the payment's reference."""
        async def change(unit: OrderUnit, order: Order) -> Done:
            currency = _currency(config, order)
            payer = await self._payer(unit, config, order)
            paid = check_payment(order, amount, reference, currency.decimal_places,
                                 provider_can_capture=payer.can(CAPTURE))
            before, now = order.version, self.clock()
            record = self._record(order, payer, PAYMENT, paid, currency, actor,
                                  manual=True, reference=clean_reference(reference))
            record.succeed(now)
            captured(order, paid, now, cause=f"payment:{record.id}",
                     currency_code=currency.code)
            order.events.append(PaymentCaptured(
                order.store_id, order.id, order.order_number, now, record.id,
                order.transaction_id, paid, currency.code, True, record.reference))
            await unit.orders.save(order)
            await unit.records.add_payment(record)
            await self._audit(unit, actor, "order.payment_recorded", order, before,
                              {"amount": f"{paid:f}", "reference": record.reference})
            return Done(order, record)

        return await self._act(config, order_id, expected_version, change)

    # --- refunds ----------------------------------------------------------------------------

    async def refund(self, config: StoreConfig, order_id: UUID, request: RefundRequest, *,
                     actor: Actor, expected_version: int | None) -> Done:
        """Refund by amount or by lines, through the provider where it can, else (or with
        ``request.manual``) recorded as a refund made by hand."""
        async def prepare(unit: OrderUnit, order: Order) -> _Call | Done:
            currency = _currency(config, order)
            plan = plan_refund(order, line_totals(order, config), request,
                               currency.decimal_places)
            payer = await self._payer(unit, config, order)
            begin_refund(order, plan)
            if request.manual or not payer.can(REFUND):
                warnings = plan.warnings if request.manual else (
                    *plan.warnings, f"payment provider {payer.alias or 'unknown'} cannot "
                    "refund: the refund was recorded as made by hand; pay it back outside "
                    "kasse")
                before, now = order.version, self.clock()
                record = self._record(order, payer, REFUND, plan.amount, currency, actor,
                                      manual=True, reason=plan.reason, warnings=warnings,
                                      lines=plan.lines, restock=plan.restock)
                record.succeed(now)
                restock = refund_succeeded(order, record, now, currency_code=currency.code)
                await unit.orders.save(order)
                await unit.records.add_payment(record)
                await self._restock(unit, config, order, restock, RETURNED, actor)
                await self._audit(unit, actor, "order.refunded", order, before,
                                  _refund_detail(record))
                return Done(order, record, warnings, tuple(restock))
            return await self._call(unit, order, payer, REFUND, plan.amount, currency,
                                    actor, reason=plan.reason, warnings=plan.warnings,
                                    lines=plan.lines, restock=plan.restock)

        step = await self._act(config, order_id, expected_version, prepare)
        if isinstance(step, Done):
            return step
        return await self._finish(config, order_id, step, actor)

    # --- cancel -----------------------------------------------------------------------------

    async def cancel(self, config: StoreConfig, order_id: UUID, *, reason: str | None,
                     restock: bool = True, actor: Actor, expected_version: int | None
                     ) -> Done:
        """Cancel the order: void or refund its payment, restock what was not shipped,
        move it to the store's canceled status. Refused for a canceled order."""
        async def prepare(unit: OrderUnit, order: Order) -> _Call | Done:
            currency = _currency(config, order)
            payer = await self._payer(unit, config, order)
            plan = plan_cancel(order, config, restock=restock, reason=reason,
                               can_void=payer.can(VOID), can_refund=payer.can(REFUND))
            await self._no_operation_under_way(unit, order)
            if plan.payment is None or plan.manual:
                return await self._cancel_now(unit, config, order, payer, plan, currency,
                                              actor)
            begin_cancel(order, self.clock())
            if plan.refund is not None:
                begin_refund(order, plan.refund)
            amount = plan.refund.amount if plan.refund else order.authorized_amount
            call = await self._call(unit, order, payer, plan.payment, amount, currency,
                                    actor, reason=plan.reason, warnings=plan.warnings,
                                    whole=plan.payment is VOID)
            return _Call(call.record, call.operation, call.provider, call.version_before,
                         plan)

        step = await self._act(config, order_id, expected_version, prepare)
        if isinstance(step, Done):
            return step
        return await self._finish(config, order_id, step, actor)

    async def _cancel_now(self, unit: OrderUnit, config: StoreConfig, order: Order,
                          payer: Payer, plan: CancelPlan, currency: Currency, actor: Actor
                          ) -> Done:
        """A cancel whose payment needs no gateway: done in this unit of work."""
        before, now = order.version, self.clock()
        record = None
        if plan.payment is not None:
            amount = plan.refund.amount if plan.refund else order.authorized_amount
            record = self._record(order, payer, plan.payment, amount, currency, actor,
                                  manual=True, reason=plan.reason)
            record.succeed(now)
            if plan.refund is not None:
                begin_refund(order, plan.refund)
                refund_succeeded(order, record, now, currency_code=currency.code)
            else:
                voided(order, now, cause=f"void:{record.id}")
        return await self._canceled(unit, config, order, plan, record, currency, actor,
                                    before, now, new_record=True)

    async def _canceled(self, unit: OrderUnit, config: StoreConfig, order: Order,
                        plan: CancelPlan, record: PaymentRecord | None, currency: Currency,
                        actor: Actor, before: int, now: datetime, *, new_record: bool
                        ) -> Done:
        """Finish the cancel at ``now``, the moment its payment was given back: the
        refund's and the cancel's events are one moment (the shopper's emails tell them
        as one)."""
        change, restocked = finish_cancel(order, config, plan, now, self.new_id,
                                          actor.name, currency_code=currency.code)
        await unit.orders.save(order)
        if record is not None and new_record:
            await unit.records.add_payment(record)
        elif record is not None:
            await unit.records.save_payment(record)
        if change is not None:
            await unit.records.add_status_change(change)
        await self._restock(unit, config, order, restocked, CANCELED, actor)
        await self._audit(unit, actor, "order.canceled", order, before, {
            "reason": plan.reason, "payment": plan.payment.value if plan.payment else None,
            "amount": f"{record.amount:f}" if record and record.amount is not None else None,
            "restocked": [{"lineId": str(line.id), "quantity": f"{units:f}"}
                          for line, units in restocked],
            "warnings": list(plan.warnings)})
        return Done(order, record, plan.warnings, tuple(restocked))

    # --- the gateway's side -----------------------------------------------------------------

    def _record(self, order: Order, payer: Payer, kind: PaymentOperationKind,
                amount: Decimal | None, currency: Currency, actor: Actor, *,
                manual: bool = False, reference: str | None = None,
                reason: str | None = None, warnings: tuple[str, ...] = (),
                lines: tuple[LineQuantity, ...] = (), restock: bool = False
                ) -> PaymentRecord:
        return PaymentRecord(
            id=self.new_id(), order_id=order.id, store_id=order.store_id, kind=kind,
            status=RecordStatus.PENDING, amount=amount, currency_code=currency.code,
            created_at=self.clock(), provider_alias=payer.alias,
            transaction_id=order.transaction_id, manual=manual, reference=reference,
            reason=reason, lines=lines, restock=restock, actor=actor.name[:320],
            warnings=warnings)

    async def _no_operation_under_way(self, unit: OrderUnit, order: Order) -> None:
        """A capture or void waiting for its gateway makes another one wrong."""
        for record in await unit.records.payments(order.id):
            if record.status is RecordStatus.PENDING and record.kind in (CAPTURE, VOID):
                raise Conflict(f"a {record.kind.value} of the payment of order "
                               f"{order.order_number} is under way; try again in a moment")

    async def _call(self, unit: OrderUnit, order: Order, payer: Payer,
                    kind: PaymentOperationKind, amount: Decimal | None, currency: Currency,
                    actor: Actor, *, reason: str | None = None,
                    warnings: tuple[str, ...] = (), whole: bool = False,
                    lines: tuple[LineQuantity, ...] = (), restock: bool = False) -> _Call:
        """Write the pending record (and the order, whose version serialises operations)
        and prepare the gateway's call."""
        assert isinstance(payer.provider, ManagesPayments)  # noqa: S101 (payer.can said so)
        assert payer.method is not None  # noqa: S101
        before = order.version
        operation_id = await self._operation_id(unit, order, payer, kind)
        record = self._record(order, payer, kind, amount, currency, actor,
                              reason=reason, warnings=warnings, lines=lines, restock=restock)
        record.operation_id = operation_id
        order.updated_at = self.clock()
        await unit.orders.save(order)
        await unit.records.add_payment(record)
        operation = PaymentOperation(
            transaction_id=order.transaction_id or "", reference=payer.reference,
            operation_id=operation_id, currency_code=currency.code,
            amount=None if whole else amount, settings=method_settings(payer.method),
            metadata=dict(order.server_properties))
        return _Call(record, operation, payer.provider, before)

    async def _finish(self, config: StoreConfig, order_id: UUID, call: _Call, actor: Actor
                      ) -> Done:
        """Call the gateway, then record its answer; raises after recording a refusal."""
        answer = await _ask(call)

        async def record(unit: OrderUnit, order: Order) -> Done:
            saved = await unit.records.payment(call.record.id)
            if saved is None:
                raise NotFound(f"the {call.record.kind.value} of order {order_id} is gone")
            saved.warnings = call.record.warnings
            currency = _currency(config, order)
            if answer.error is None:
                return await self._succeeded(unit, config, order, saved, call, currency,
                                             actor)
            return await self._failed(unit, order, saved, call, answer.error, actor)

        done = await self._act(config, order_id, None, record)
        if answer.error is not None:
            if answer.technical:
                # Whether the gateway acted is unknown: kasse lets go of what it held (the
                # gateway still refuses more than it took) and says what to check.
                raise GatewayUnavailable(
                    f"the payment gateway did not answer the {call.record.kind.value}: "
                    f"{answer.error}; kasse recorded it as failed: check the payment at the "
                    "gateway before trying again")
            raise PaymentOperationRefused(f"the payment gateway refused the "
                                          f"{call.record.kind.value}: {answer.error}")
        return done

    async def _succeeded(self, unit: OrderUnit, config: StoreConfig, order: Order,
                         record: PaymentRecord, call: _Call, currency: Currency,
                         actor: Actor) -> Done:
        now = self.clock()
        record.succeed(now)
        kind = record.kind
        if kind is CAPTURE:
            amount = record.amount or order.authorized_amount or Decimal(0)
            captured(order, amount, now, cause=record.operation_id or f"capture:{record.id}",
                     currency_code=currency.code)
            order.events.append(PaymentCaptured(
                order.store_id, order.id, order.order_number, now, record.id,
                order.transaction_id, amount, currency.code, False, None))
        elif kind is VOID:
            voided(order, now, cause=record.operation_id or f"void:{record.id}")
        restock = (refund_succeeded(order, record, now, currency_code=currency.code)
                   if kind is REFUND else [])
        if call.cancel is not None:
            return await self._canceled(unit, config, order, call.cancel, record, currency,
                                        actor, call.version_before, now, new_record=False)
        await unit.orders.save(order)
        await unit.records.save_payment(record)
        await self._restock(unit, config, order, restock, RETURNED, actor)
        action = {CAPTURE: "order.captured", REFUND: "order.refunded"}.get(kind, kind.value)
        detail = (_refund_detail(record) if kind is REFUND
                  else {"amount": f"{record.amount:f}" if record.amount else None,
                        "operationId": record.operation_id})
        await self._audit(unit, actor, action, order, call.version_before, detail)
        return Done(order, record, record.warnings, tuple(restock))

    async def _failed(self, unit: OrderUnit, order: Order, record: PaymentRecord,
                      call: _Call, error: str, actor: Actor) -> Done:
        now = self.clock()
        record.fail(now, error)
        if record.kind is REFUND:
            refund_failed(order, record, now)
        if call.cancel is not None:
            cancel_failed(order, now)
        order.updated_at = now
        await unit.orders.save(order)
        await unit.records.save_payment(record)
        what = "cancel" if call.cancel is not None else record.kind.value
        await self._audit(unit, actor, f"order.{what}_failed", order, call.version_before,
                          {"operationId": record.operation_id, "error": record.error})
        return Done(order, record)


async def _ask(call: _Call) -> _Answer:
    run: dict[PaymentOperationKind, Callable[[PaymentOperation], Awaitable[object]]] = {
        CAPTURE: call.provider.capture, VOID: call.provider.cancel,
        REFUND: call.provider.refund}
    try:
        await run[call.record.kind](call.operation)
    except ProviderError as exc:
        return _Answer(str(exc), technical=True)
    except PaymentRefused as exc:
        return _Answer(str(exc))
    return _Answer()


def _refund_detail(record: PaymentRecord) -> dict[str, object]:
    return {"amount": f"{record.amount:f}" if record.amount is not None else None,
            "manual": record.manual, "reason": record.reason,
            "lines": [item.as_json() for item in record.lines], "restock": record.restock,
            "operationId": record.operation_id}

