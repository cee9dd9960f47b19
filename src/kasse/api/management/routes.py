"""The management API's routers, its OpenAPI document and its docs page, on the app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse

from kasse.api.management import (
    MANAGEMENT_PREFIX,
    about,
    emails,
    order_actions,
    orders,
    staff,
    stock,
    webhooks,
)
from kasse.api.openapi import management_document
from kasse.api.responses import JsonResponse

ROUTERS = (about.router, staff.router, orders.router, order_actions.router, emails.router,
           stock.router, webhooks.router)
"""Every router of the management API (a new area adds its router here)."""


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)

    @app.get(f"{MANAGEMENT_PREFIX}/openapi.json", include_in_schema=False)
    async def document() -> JsonResponse:
        return JsonResponse(management_document(app))

    @app.get(f"{MANAGEMENT_PREFIX}/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=f"{MANAGEMENT_PREFIX}/openapi.json",
                                   title="kasse management API")
