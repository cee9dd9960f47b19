"""What the routes read from the running app: one frozen object, set when the app starts.

The application's parts come from the composition root (``kasse.bootstrap``) in one
container; the HTTP edge adds the two objects of its own. Routes reach them through
:func:`app_state`, the one place that reads ``app.state``.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from kasse.api.public_url import PublicAddress
from kasse.api.rendered_orders import RenderedOrders
from kasse.bootstrap import Container


@dataclass(frozen=True, slots=True)
class AppState:
    container: Container
    """The application: settings, keys, storage and the services."""
    rendered_orders: RenderedOrders
    """Rendered cart bodies kept by this process (see ``api.rendered_orders``)."""
    public_address: PublicAddress
    """Where shoppers and gateways reach kasse (see ``api.public_url``)."""


def app_state(connection: HTTPConnection) -> AppState:
    """The state of the app serving this request (one attribute read)."""
    state: AppState = connection.app.state.kasse
    return state
