"""Discount code uses and gift card balances in SQL: read with the order, and counted or
debited atomically when an order is finalized."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kasse.adapters.db.tables import discount_codes, gift_cards, redemptions
from kasse.adapters.db.types import utc
from kasse.domain.discounts import CodeUsage, GiftCard
from kasse.domain.order import Order


class SqlRedemptionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def usage(self, store_id: UUID, codes: Sequence[str]) -> dict[str, CodeUsage]:
        if not codes:
            return {}
        rows = await self.conn.execute(
            select(discount_codes.c.code, discount_codes.c.used, discount_codes.c.usage_limit)
            .where(discount_codes.c.store_id == store_id, discount_codes.c.code.in_(codes)))
        return {r.code: CodeUsage(r.code, r.used, r.usage_limit) for r in rows}

    async def gift_cards(self, store_id: UUID, codes: Sequence[str]) -> dict[str, GiftCard]:
        if not codes:
            return {}
        rows = await self.conn.execute(
            select(gift_cards).where(gift_cards.c.store_id == store_id,
                                     gift_cards.c.code.in_(codes)))
        return {r.code: GiftCard(id=r.id, code=r.code, currency_id=r.currency_id,
                                 amount=r.amount, debited=r.debited,
                                 expires_at=utc(r.expires_at), active=r.active)
                for r in rows}

    async def load_into(self, order: Order) -> None:
        """Give a loaded order what it needs to know about its codes: for an open order
        the uses left and balances now, for a finalized one what it used then."""
        if not order.discount_codes and not order.gift_card_codes:
            return
        if order.finalized_at is None:
            order.code_usage = await self.usage(order.store_id, order.discount_codes)
            order.gift_cards = await self.gift_cards(order.store_id, order.gift_card_codes)
            return
        rows = (await self.conn.execute(select(redemptions).where(
            redemptions.c.order_id == order.id))).all()
        used = {r.code: r for r in rows}
        cards = await self.gift_cards(order.store_id, order.gift_card_codes)
        # Codes it placed with count as available to it, the others as used up.
        order.code_usage = {code: CodeUsage(code, 0, None) if code in used
                            else CodeUsage(code, 1, 1) for code in order.discount_codes}
        order.gift_cards = {
            code: GiftCard(id=card.id, code=code, currency_id=card.currency_id,
                           amount=used[code].amount or Decimal(0))
            for code, card in cards.items() if code in used}

    async def _record(self, order_id: UUID, code: str, kind: str, amount: Decimal | None,
                      at: datetime) -> bool:
        """One row per order and code: False when this order already used the code."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        result = await self.conn.execute(dialect.insert(redemptions).values(
            order_id=order_id, code=code, kind=kind, amount=amount, created_at=at
        ).on_conflict_do_nothing())
        return result.rowcount == 1

    async def count_use(self, store_id: UUID, code: str, order_id: UUID, at: datetime
                        ) -> bool:
        """Count one use of ``code`` by the order; False if no use is left."""
        if not await self._record(order_id, code, "discount", None, at):
            return True
        result = await self.conn.execute(
            update(discount_codes)
            .where(discount_codes.c.store_id == store_id, discount_codes.c.code == code,
                   (discount_codes.c.usage_limit.is_(None))
                   | (discount_codes.c.used < discount_codes.c.usage_limit))
            .values(used=discount_codes.c.used + 1))
        return result.rowcount == 1

    async def debit(self, store_id: UUID, code: str, amount: Decimal, order_id: UUID,
                    at: datetime) -> bool:
        """Take ``amount`` off the card for the order; False if its balance is short."""
        if not await self._record(order_id, code, "gift_card", amount, at):
            return True
        result = await self.conn.execute(
            update(gift_cards)
            .where(and_(gift_cards.c.store_id == store_id, gift_cards.c.code == code,
                        gift_cards.c.amount - gift_cards.c.debited >= amount))
            .values(debited=gift_cards.c.debited + amount))
        return result.rowcount == 1
