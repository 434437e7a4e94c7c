"""REST API v1 under `/api/v1`: one module per resource, each route a thin call into the same
service (and so the same permission check) a page uses. Authentication: `callers.py`; the one
error shape: `errors.py`; OpenAPI: `crm_app/api/openapi.py`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from crm_app.api.v1 import clients, segments, tickets, users, webhooks
from crm_app.api.v1.errors import PREFIX, error_response, install_error_handlers
from crm_app.api.v1.params import storable_query


def install(api: FastAPI) -> FastAPI:
    """Add `/api/v1` (routes, error shape) to the app's FastAPI; returns it."""
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(storable_query)])
    for module in (users, tickets, clients, segments, webhooks):
        router.include_router(module.router)

    @router.api_route(
        "/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    def _no_such_route(path: str) -> None:
        # Without this an unknown API path would fall through to the pages' 404.
        return error_response(404, "There is no such API route.")

    api.include_router(router)
    install_error_handlers(api)
    return api
