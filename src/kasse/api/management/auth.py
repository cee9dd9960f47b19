"""Who is calling the management API, and whether their role allows the operation.

A route states what it needs once, as ``principal: Annotated[Principal,
allowed(Permission.X)]``; the management OpenAPI document publishes it per operation as
``x-kasse-permission``. Stores are checked where the store is known (the services and
routes call ``principal.require(permission, store_id)``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from kasse.api.deps import Param, reads
from kasse.api.problems import ApiProblem
from kasse.api.state import app_state
from kasse.domain.access import Permission, Principal
from kasse.services.access import authenticate_token

AUTHORIZATION = Param("Authorization", "header",
                      "`Bearer <management API token>` (`kasse token create`)", required=True)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kasse management"'}


@reads(AUTHORIZATION)
async def caller(request: Request) -> Principal:
    """The principal of the request's bearer token; 401 for anything else."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        detail = ("the management API needs a management API token "
                  "(Authorization: Bearer kmt_…); storefront keys are not accepted")
        raise ApiProblem(401, detail, "token-missing", _CHALLENGE)
    principal = await authenticate_token(app_state(request).container.storage, token,
                                         lambda: datetime.now(UTC))
    if principal is None:
        raise ApiProblem(401, "the token is unknown, revoked or expired", "token-invalid",
                         _CHALLENGE)
    return principal


Caller = Annotated[Principal, Depends(caller)]


def _checker(permission: Permission) -> Any:
    async def check(principal: Caller) -> Principal:
        if not principal.may(permission):
            raise ApiProblem(403, f"the {principal.role.value} role may not do "
                                  f"{permission.value}", "not-allowed")
        return principal

    check.permission = permission  # type: ignore[attr-defined]  # read by the document
    return check


_CHECKERS = {permission: _checker(permission) for permission in Permission}


def allowed(permission: Permission) -> Any:
    """The dependency of an operation that needs ``permission``: the caller, checked."""
    return Depends(_CHECKERS[permission])


def permission_of(call: Any) -> Permission | None:
    """The permission a dependency checks (for the OpenAPI document), if it is one."""
    found: Permission | None = getattr(call, "permission", None)
    return found
