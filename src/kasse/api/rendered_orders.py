"""Rendered order bodies, kept per order version.

A storefront reads its cart on nearly every page view and changes it far less often;
pricing and rendering the cart again each time was most of a cart read. A rendered body
is kept under everything it depends on: the order and its version, the store's
configuration version and the request's query string (``expand``, ``fields``). The
version is read from the database on every request, so a copy is never served after any
process changed the order; an outdated copy is simply never asked for again and ages out.
"""

from __future__ import annotations

from collections import OrderedDict
from uuid import UUID

Key = tuple[UUID, int, int, str]
"""(order id, order version, store configuration version, query string)"""


class RenderedOrders:
    """A least-recently-used store of response bodies, bounded by their total size."""

    def __init__(self, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[Key, bytes] = OrderedDict()
        self._size = 0

    def get(self, key: Key) -> bytes | None:
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
        return body

    def put(self, key: Key, body: bytes) -> None:
        if len(body) > self.max_bytes // 8:  # one huge order must not flush everything (and 0
            return                          # turns keeping off)
        old = self._bodies.pop(key, None)
        if old is not None:
            self._size -= len(old)
        self._bodies[key] = body
        self._size += len(body)
        while self._size > self.max_bytes:
            _, evicted = self._bodies.popitem(last=False)
            self._size -= len(evicted)

    def __len__(self) -> int:
        return len(self._bodies)
