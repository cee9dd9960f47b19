"""The audit log: who changed what on the merchant's side, when, and the order's version
before and after."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from kasse.domain.access import CLI, Principal


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting and in which request: what every management use case is given."""

    principal: Principal
    request_id: str | None = None

    @property
    def name(self) -> str:
        return self.principal.name


COMMAND_LINE = Actor(CLI)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    store_id: UUID | None
    """The store acted on; ``None`` for what belongs to no store (staff, tokens)."""
    action: str
    """What was done, e.g. ``order.refunded`` or ``stock.adjusted``."""
    actor_kind: str
    actor_id: str | None
    actor_name: str
    at: datetime
    order_id: UUID | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    version_before: int | None = None
    version_after: int | None = None
    request_id: str | None = None
    id: UUID = field(default_factory=uuid4)

    @classmethod
    def of(cls, actor: Actor, action: str, store_id: UUID | None, at: datetime, *,
           order_id: UUID | None = None, detail: dict[str, Any] | None = None,
           version_before: int | None = None, version_after: int | None = None
           ) -> AuditEntry:
        principal = actor.principal
        return cls(store_id=store_id, action=action, actor_kind=principal.kind,
                   actor_id=principal.id, actor_name=principal.name, at=at,
                   order_id=order_id, detail=dict(detail or {}),
                   version_before=version_before, version_after=version_after,
                   request_id=actor.request_id)
