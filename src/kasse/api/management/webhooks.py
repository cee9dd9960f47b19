"""Merchant webhooks in the management API: the endpoints (never their secrets), the
deliveries with their attempts, and sending deliveries again, one or every failing one.

A principal sees the endpoints and deliveries of the stores it may see; another store's
delivery is not found. A redelivery is due at once (the worker sends it within its poll
interval), keeps the attempts made so far and starts the retry window over.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kasse.api.ids import DeliveryId
from kasse.api.management import MANAGEMENT_PREFIX
from kasse.api.management.actions import ActionDep
from kasse.api.management.auth import allowed
from kasse.api.management.paging import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from kasse.api.problems import ApiProblem
from kasse.api.responses import JsonResponse
from kasse.api.state import app_state
from kasse.domain.access import Permission, Principal
from kasse.domain.events import is_order_topic
from kasse.domain.webhooks import DeliveryAttempt, DeliveryRecord, DeliveryStatus, timestamp
from kasse.services.webhook_endpoints import ListedEndpoint, WebhookEndpoints

router = APIRouter(prefix=f"{MANAGEMENT_PREFIX}/webhooks", tags=["Webhooks"])

Reader = Annotated[Principal, allowed(Permission.WEBHOOKS_READ)]
Redeliverer = Annotated[Principal, allowed(Permission.WEBHOOKS_REDELIVER)]


class RedeliverFailedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: UUID | None = Field(None, description="Only this endpoint's deliveries")


def _endpoints(request: Request) -> WebhookEndpoints:
    return app_state(request).container.webhook_endpoints


def _uuid(value: str | None, name: str) -> UUID | None:
    if value is None or not value.strip():
        return None
    try:
        return UUID(value.strip())
    except ValueError:
        raise ApiProblem(400, f"{name} must be an id (a UUID)", "invalid-query") from None


def _time(value: Any) -> str | None:
    return timestamp(value) if value is not None else None


def endpoint_json(item: ListedEndpoint) -> dict[str, Any]:
    endpoint = item.endpoint
    return {"id": str(endpoint.id), "url": endpoint.url, "events": list(endpoint.events),
            "storeId": str(endpoint.store_id) if endpoint.store_id else None,
            "store": item.store_alias, "active": endpoint.active,
            "format": endpoint.format.value, "createdAt": timestamp(endpoint.created_at)}


def delivery_json(record: DeliveryRecord) -> dict[str, Any]:
    delivery, event = record.delivery, record.event
    pending = delivery.status is DeliveryStatus.PENDING
    return {
        "id": str(delivery.id), "eventId": str(event.id), "event": event.topic,
        "storeId": str(event.store_id),
        "orderId": str(event.aggregate_id) if is_order_topic(event.topic) else None,
        "aggregateId": str(event.aggregate_id),
        "endpointId": str(delivery.endpoint_id), "endpointUrl": record.endpoint_url,
        "endpointActive": record.endpoint_active,
        "status": delivery.status.value, "attemptCount": delivery.attempts,
        "lastStatusCode": delivery.last_status_code, "lastError": delivery.last_error,
        "firstAttemptAt": _time(delivery.first_attempt_at),
        "lastAttemptAt": _time(delivery.last_attempt_at),
        "nextAttemptAt": _time(delivery.next_attempt_at) if pending else None,
        "createdAt": timestamp(delivery.created_at),
        "completedAt": _time(delivery.completed_at)}


def attempt_json(attempt: DeliveryAttempt) -> dict[str, Any]:
    outcome = attempt.outcome
    return {"number": attempt.number, "at": timestamp(attempt.attempted_at),
            "statusCode": outcome.status_code, "error": outcome.error,
            "durationMs": outcome.duration_ms, "responseBody": outcome.body,
            "worker": attempt.worker}


@router.get("/endpoints", summary="The webhook endpoints (never their secrets)")
async def list_endpoints(request: Request, principal: Reader) -> JsonResponse:
    listed = await _endpoints(request).visible(principal)
    return JsonResponse({"endpoints": [endpoint_json(item) for item in listed]})


@router.get("/deliveries", summary="Webhook deliveries, newest first")
async def list_deliveries(
        request: Request, principal: Reader,
        event: Annotated[str | None, Query(description="An event type")] = None,
        endpoint: Annotated[str | None, Query(description="An endpoint id")] = None,
        status: Annotated[str | None, Query(description="pending, succeeded or failed")
                          ] = None,
        order: Annotated[str | None, Query(description="An order id")] = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> JsonResponse:
    page = await _endpoints(request).records(
        principal, topic=event, endpoint_id=_uuid(endpoint, "endpoint"), status=status,
        order_id=_uuid(order, "order"), before=decode_cursor(cursor), limit=limit)
    last = page.records[-1].delivery if page.records and page.more else None
    return JsonResponse({"deliveries": [delivery_json(r) for r in page.records],
                         "nextCursor": encode_cursor(last.created_at, last.id)
                         if last else None})


@router.get("/deliveries/{deliveryId}", summary="One delivery, its event and its attempts")
async def get_delivery(request: Request, deliveryId: DeliveryId,  # noqa: N803 (the path's name)
                       principal: Reader) -> JsonResponse:
    found = await _endpoints(request).detail(principal, deliveryId)
    return JsonResponse({**delivery_json(found.record),
                         "payload": found.record.event.envelope(),
                         "attempts": [attempt_json(a) for a in found.attempts]})


@router.post("/deliveries/redeliver-failed",
             summary="Send every failing delivery again now (of one endpoint, or all)")
async def redeliver_failed(request: Request, principal: Redeliverer, action: ActionDep,
                           body: Annotated[RedeliverFailedRequest | None, Body()] = None
                           ) -> Any:
    endpoints = _endpoints(request)

    async def work() -> dict[str, Any]:
        done = await endpoints.redeliver_failing(action.actor,
                                                 body.endpoint if body else None)
        return {"redelivered": done.count, "waitingForPausedEndpoints": done.paused}

    return await action.run(work)


@router.post("/deliveries/{deliveryId}/redeliver", summary="Send a delivery again now")
async def redeliver(request: Request, deliveryId: DeliveryId,  # noqa: N803 (the path's name)
                    principal: Redeliverer, action: ActionDep) -> Any:
    endpoints = _endpoints(request)
    delivery_id = deliveryId

    async def work() -> dict[str, Any]:
        return delivery_json(await endpoints.redeliver(action.actor, delivery_id))

    return await action.run(work)
