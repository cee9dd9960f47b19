"""The shopper's emails of an order: every message with each attempt, a resend on demand,
and a preview of any message as it would be sent now."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request

from kasse.api.ids import EMAIL, OrderId
from kasse.api.management import MANAGEMENT_PREFIX
from kasse.api.management.actions import ActionDep
from kasse.api.management.auth import allowed
from kasse.api.state import app_state
from kasse.domain.access import Permission, Principal
from kasse.domain.emails import EmailAttempt, EmailType
from kasse.domain.errors import NotFound
from kasse.domain.webhooks import timestamp
from kasse.services.email_messages import EmailReport

router = APIRouter(prefix=MANAGEMENT_PREFIX, tags=["Emails"])

EmailId = Annotated[UUID, EMAIL.validator,
                    Path(description="The message's id (from the order's emails)")]


def _at(value: Any) -> str | None:
    return timestamp(value) if value is not None else None


def _attempt(attempt: EmailAttempt) -> dict[str, Any]:
    outcome = attempt.outcome
    return {"number": attempt.number, "attemptedAt": timestamp(attempt.attempted_at),
            "outcome": outcome.kind.value, "code": outcome.code, "detail": outcome.detail,
            "durationMs": outcome.duration_ms, "via": attempt.via, "worker": attempt.worker}


def email_json(report: EmailReport) -> dict[str, Any]:
    """A message as staff read it (never its body: the shopper's links stay the
    shopper's)."""
    m, o = report.message, report.message.outgoing
    return {"id": str(m.id), "orderId": str(m.order_id), "storeId": str(m.store_id),
            "eventId": str(m.event_id), "type": m.type.value, "status": m.status.value,
            "recipient": o.recipient if o else None, "subject": o.subject if o else None,
            "language": o.language if o else None, "messageId": o.message_id if o else None,
            "attemptCount": m.attempts, "resends": m.resends,
            "createdAt": timestamp(m.created_at), "sentAt": _at(m.sent_at),
            "nextAttemptAt": timestamp(m.next_attempt_at) if m.completed_at is None else None,
            "completedAt": _at(m.completed_at), "lastError": m.last_error,
            "attempts": [_attempt(a) for a in report.attempts]}


async def _visible_order(request: Request, principal: Principal, order_id: UUID) -> tuple[
        UUID, UUID]:
    """(order id, store id) of an order the caller may read; 404 for any other."""
    store_id = await app_state(request).container.emails.order_store(order_id)
    if store_id is None or not principal.may(Permission.ORDERS_READ, store_id):
        raise NotFound(f"no order with id {str(order_id)!r}")
    return order_id, store_id


@router.get("/orders/{orderId}/emails", summary="The shopper's emails of an order",
            description="Every message made for the order's events (confirmation, shipped, "
                        "refunded, canceled), newest first, each with every attempt to send "
                        "it and what the mail server answered.")
async def order_emails(request: Request, orderId: OrderId,
                       principal: Annotated[Principal, allowed(Permission.ORDERS_READ)]
                       ) -> dict[str, Any]:
    order_id, store_id = await _visible_order(request, principal, orderId)
    reports = await app_state(request).container.emails.of_order(store_id, order_id)
    return {"orderId": str(order_id), "items": [email_json(r) for r in reports]}


@router.get("/orders/{orderId}/emails/preview", summary="Preview a shopper's email",
            description="The message of a type for a placed order as it would be sent now, "
                        "about the order's latest such event (made up when there is none "
                        "yet: every line shipped, the whole order refunded).")
async def preview_email(
        request: Request, orderId: OrderId,
        principal: Annotated[Principal, allowed(Permission.ORDERS_READ)],
        type: Annotated[Literal["confirmation", "shipped", "refunded", "canceled"],
                        Query(description="Which message")] = "confirmation",
        language: Annotated[str | None, Query(
            description="A language instead of the order's own", max_length=10)] = None,
) -> dict[str, Any]:
    order_id, store_id = await _visible_order(request, principal, orderId)
    container = app_state(request).container
    config = await container.stores.get(str(store_id))
    made = await container.emails.preview(config, order_id, EmailType(type),
                                          language=language)
    outgoing, rendered = made.preview.outgoing, made.preview.rendered
    return {"type": type, "eventFound": made.event_found, "language": outgoing.language,
            "from": outgoing.mail_from, "to": outgoing.recipient,
            "subject": outgoing.subject, "text": rendered.text, "html": rendered.html}


@router.post("/emails/{emailId}/resend", summary="Send a shopper's email again",
             description="The message goes out again with the next worker round: one that "
                         "is `unconfirmed` (its attempt was cut off mid hand-over), `failed`, "
                         "or `sent` and lost by the shopper (it gets a new Message-ID). A "
                         "message already waiting is a 409.")
async def resend_email(request: Request, emailId: EmailId,
                       principal: Annotated[Principal, allowed(Permission.EMAILS_RESEND)],
                       action: ActionDep) -> Any:
    email_id = emailId
    emails = app_state(request).container.emails

    async def work() -> dict[str, Any]:
        report = await emails.resend(
            email_id, visible=lambda store: principal.may(Permission.EMAILS_RESEND, store))
        return email_json(report)

    return await action.run(work)
