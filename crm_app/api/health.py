"""`GET /api/health`: is the app up and can it reach its database?"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crm_app.db import check_database

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/health", summary="Liveness and database check")
async def health() -> JSONResponse:
    """No side effects. 200 with the schema revision when the database answers, else 503."""
    try:
        database = await run_in_threadpool(check_database)
    except Exception as error:  # any failure to reach the database is "not healthy"
        log.warning("health check failed", extra={"error": type(error).__name__})
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", **database})
