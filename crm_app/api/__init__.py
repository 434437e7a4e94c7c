"""The HTTP API, served on the app's own port under `/api` (one module per resource)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from crm_app.api import (
    archive_uploads,
    attachments,
    auth,
    campaigns,
    channel_webhooks,
    chat,
    health,
    metrics,
    ory_auth,
    v1,
)
from crm_app.api.openapi import install_docs
from crm_app.services.archive_uploads import OffsetMismatch
from crm_app.services.errors import ServiceError


def build_api() -> FastAPI:
    api = FastAPI(
        title="Finance CRM API",
        version="1.0",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served by install_docs, from local files
        redoc_url=None,
    )
    api.include_router(health.router, prefix="/api")
    api.include_router(metrics.router, prefix="/api")
    api.include_router(auth.router, prefix="/api")
    api.include_router(ory_auth.router, prefix="/api")
    api.include_router(attachments.router, prefix="/api")
    api.include_router(channel_webhooks.router, prefix="/api")
    api.include_router(chat.router, prefix="/api")
    api.include_router(campaigns.router, prefix="/api")
    api.include_router(archive_uploads.router, prefix="/api")

    @api.exception_handler(ServiceError)
    async def _service_error(_: Request, error: ServiceError) -> JSONResponse:
        return JSONResponse({"error": error.message}, status_code=error.http_status)

    @api.exception_handler(OffsetMismatch)
    async def _offset_mismatch(_: Request, error: OffsetMismatch) -> JSONResponse:
        # A resumable upload's client goes on from the offset it is told here.
        return JSONResponse(
            {"error": error.message, "offset": error.offset},
            status_code=error.http_status,
            headers={"Upload-Offset": str(error.offset), "Cache-Control": "no-store"},
        )

    v1.install(api)
    install_docs(api)
    return api
