"""Who a management request acts as."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kasse.domain.access import TOKEN_PREFIX, Principal, token_digest
from kasse.services.ports import Storage


async def authenticate_token(storage: Storage, token: str, now: Callable[[], datetime]
                             ) -> Principal | None:
    """The principal of a management API token; ``None`` for anything else (a storefront
    key included). The token is looked up by its digest only."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    async with storage.access(write=True) as access:
        return await access.principal_for_token(token_digest(token), now())
