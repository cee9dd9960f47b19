"""Staff accounts and management API tokens (owners only: ``staff:manage``).

A password made for a staff member and a new token are in the answer of the request that
made them, and nowhere else: not in the database (only a hash or a digest), not in the
answer kept for a retry with the same ``Idempotency-Key`` (it has them ``null``). Through
the API kasse always makes the password; the member changes it after signing in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from kasse.api.ids import STAFF_MEMBER, TOKEN
from kasse.api.management import MANAGEMENT_PREFIX
from kasse.api.management.actions import Action, ActionDep
from kasse.api.management.auth import allowed
from kasse.api.responses import JsonResponse
from kasse.api.state import app_state
from kasse.domain.access import Permission, Principal, Role
from kasse.domain.staff import MAX_TOKEN_DAYS, ApiToken, StaffMember, id_list

router = APIRouter(prefix=MANAGEMENT_PREFIX, tags=["Staff and tokens"])

Owner = Annotated[Principal, allowed(Permission.STAFF)]
StaffId = Annotated[UUID, STAFF_MEMBER.validator,
                    Path(alias="staffId", description="A staff member's id")]
TokenId = Annotated[UUID, TOKEN.validator, Path(alias="tokenId", description="A token's id")]
Stores = Annotated[list[Annotated[str, Field(max_length=200)]] | None,
                   Field(max_length=100, description=(
                       "Store ids or aliases it may act on; none: the same stores as "
                       "whoever makes it (every store for an owner of all stores)"))]


class NewStaffMember(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: str = Field(max_length=1000)
    name: str | None = Field(default=None, max_length=1000,
                             description="Default: the email's name part")
    role: Role
    stores: Stores = None


class NewApiToken(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=1000, description="What it is for; unique among the "
                                                   "tokens that work")
    role: Role
    stores: Stores = None
    expiresInDays: int | None = Field(default=None, ge=1, le=MAX_TOKEN_DAYS,  # noqa: N815
                                      description="Default: it never expires")


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def staff_json(member: StaffMember) -> dict[str, Any]:
    return {"id": str(member.id), "email": member.email, "name": member.name,
            "role": member.role.value, "storeIds": id_list(member.store_ids),
            "disabled": member.disabled, "createdAt": _time(member.created_at),
            "passwordChangedAt": _time(member.password_changed_at),
            "lastSignInAt": _time(member.last_sign_in_at)}


def token_json(token: ApiToken, now: datetime) -> dict[str, Any]:
    return {"id": str(token.id), "name": token.name, "prefix": token.prefix,
            "role": token.role.value, "storeIds": id_list(token.store_ids),
            "staffId": None if token.staff_id is None else str(token.staff_id),
            "state": token.state(now).value, "createdAt": _time(token.created_at),
            "expiresAt": _time(token.expires_at), "lastUsedAt": _time(token.last_used_at),
            "revokedAt": _time(token.revoked_at)}


@router.get("/staff", summary="Staff members (never their passwords)")
async def list_staff(request: Request, principal: Owner) -> JsonResponse:
    members = await app_state(request).container.staff.members(principal)
    return JsonResponse({"items": [staff_json(m) for m in members]})


@router.post("/staff", status_code=201,
             summary="Add a staff member; the answer has their password, shown once")
async def add_staff(request: Request, principal: Owner, action: ActionDep,
                    body: Annotated[NewStaffMember, Body()]) -> Any:
    staff = app_state(request).container.staff

    async def work() -> dict[str, Any]:
        name = body.name if body.name is not None else body.email.strip().partition("@")[0]
        added = await staff.add(action.actor, body.email, name, body.role, body.stores)
        return {**staff_json(added.member), "password": added.password}

    return await action.run(work, status=201, shown_once=("password",))


async def _set_disabled(request: Request, action: Action, staff_id: UUID, disabled: bool
                        ) -> Any:
    staff = app_state(request).container.staff
    member_id = str(staff_id)

    async def work() -> dict[str, Any]:
        return staff_json(await staff.set_disabled(action.actor, member_id, disabled))

    return await action.run(work)


@router.post("/staff/{staffId}/disable",
             summary="Disable a staff member: no sign-in, their tokens stop working")
async def disable_staff(request: Request, staff_id: StaffId, principal: Owner,
                        action: ActionDep) -> Any:
    return await _set_disabled(request, action, staff_id, True)


@router.post("/staff/{staffId}/enable", summary="Enable a disabled staff member again")
async def enable_staff(request: Request, staff_id: StaffId, principal: Owner,
                       action: ActionDep) -> Any:
    return await _set_disabled(request, action, staff_id, False)


@router.post("/staff/{staffId}/reset-password",
             summary="Give a staff member a new password, shown once in the answer")
async def reset_password(request: Request, staff_id: StaffId, principal: Owner,
                         action: ActionDep) -> Any:
    staff = app_state(request).container.staff
    member_id = str(staff_id)

    async def work() -> dict[str, Any]:
        done = await staff.reset_password(action.actor, member_id)
        return {**staff_json(done.member), "password": done.password}

    return await action.run(work, shown_once=("password",))


@router.get("/tokens", summary="Management API tokens (never the token itself)")
async def list_tokens(request: Request, principal: Owner) -> JsonResponse:
    tokens = await app_state(request).container.api_tokens.tokens(principal)
    now = datetime.now(UTC)
    return JsonResponse({"items": [token_json(t, now) for t in tokens]})


@router.post("/tokens", status_code=201,
             summary="Create a token; the answer has it, shown once")
async def create_token(request: Request, principal: Owner, action: ActionDep,
                       body: Annotated[NewApiToken, Body()]) -> Any:
    tokens = app_state(request).container.api_tokens

    async def work() -> dict[str, Any]:
        made = await tokens.create(action.actor, body.name, body.role, body.stores,
                                   expires_days=body.expiresInDays)
        return {**token_json(made.token, made.token.created_at), "token": made.plaintext}

    return await action.run(work, status=201, shown_once=("token",))


@router.delete("/tokens/{tokenId}", summary="Revoke a token: it stops working at once")
async def revoke_token(request: Request, token_id: TokenId, principal: Owner,
                       action: ActionDep) -> Any:
    tokens = app_state(request).container.api_tokens

    async def work() -> dict[str, Any]:
        token = await tokens.revoke(action.actor, str(token_id))
        return token_json(token, datetime.now(UTC))

    return await action.run(work)
