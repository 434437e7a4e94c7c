"""REST API v1 under `/api/v1`: one module per resource, each route a thin call into the same
service (and so the same permission check) a page uses. Authentication: `callers.py`; the one
error shape: `errors.py`; OpenAPI: `crm_app/api/openapi.py`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.routing import compile_path

from crm_app.api.v1 import clients, segments, tickets, users, webhooks
from crm_app.api.v1.errors import PREFIX, error_response, install_error_handlers
from crm_app.api.v1.params import storable_query


def _methods_of(api: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document lists for the route template that matches `path`."""
    templates = getattr(api.state, "v1_templates", None)
    if templates is None:
        templates = [
            (compile_path(template)[0], sorted(m.upper() for m in operations))
            for template, operations in api.openapi()["paths"].items()
            if template.startswith(PREFIX + "/")
        ]
        api.state.v1_templates = templates
    return next((methods for regex, methods in templates if regex.match(path)), [])


def install(api: FastAPI) -> FastAPI:
    """Add `/api/v1` (routes, error shape) to the app's FastAPI; returns it."""
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(storable_query)])
    for module in (users, tickets, clients, segments, webhooks):
        router.include_router(module.router)

    @router.api_route(
        "/{path:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"],
        include_in_schema=False,
    )
    def _no_such_route(request: Request, path: str) -> Response:
        # Without this an unknown API path would fall through to the pages' 404; a known path
        # asked with another method says which methods it has (405 with Allow).
        allowed = _methods_of(api, request.url.path)
        if allowed:
            response = error_response(405, "That method is not allowed here.")
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return error_response(404, "There is no such API route.")

    api.include_router(router)
    install_error_handlers(api)
    return api
