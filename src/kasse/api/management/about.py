"""Who the caller is: a check that a token works, and what it may do."""

from __future__ import annotations

from fastapi import APIRouter

from kasse.api.management import MANAGEMENT_PREFIX
from kasse.api.management.auth import Caller
from kasse.domain.access import ALLOWED

router = APIRouter(prefix=MANAGEMENT_PREFIX, tags=["Access"])


@router.get("/me", summary="Who the token acts as, and what it may do")
async def me(principal: Caller) -> dict[str, object]:
    return {"kind": principal.kind, "id": principal.id, "name": principal.name,
            "role": principal.role.value,
            "stores": None if principal.store_ids is None
            else sorted(str(store) for store in principal.store_ids),
            "permissions": sorted(p.value for p in ALLOWED[principal.role])}
