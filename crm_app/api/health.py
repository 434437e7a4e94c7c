"""`GET /api/health`: is the app up and can it reach its database?"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crm_app.auth.cookies import SESSION_COOKIE, read_cookie
from crm_app.auth.permissions import Action, can
from crm_app.db import check_database
from crm_app.services import web_sessions

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


def _may_see_details(request: Request) -> bool:
    token = read_cookie(request.headers.get("cookie", ""), SESSION_COOKIE)
    found = web_sessions.session_for_token(token)
    return found is not None and can(found.actor, Action.VIEW_DASHBOARDS)


@router.get("/health", summary="Liveness and database check")
async def health(request: Request) -> JSONResponse:
    """No side effects. 200 when the database answers, else 503. Anonymous callers get only
    the verdict; a signed-in manager also gets the server version and schema revision."""
    try:
        database = await run_in_threadpool(check_database)
    except Exception as error:  # any failure to reach the database is "not healthy"
        log.warning("health check failed", extra={"error": type(error).__name__})
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    details = database if await run_in_threadpool(_may_see_details, request) else {}
    return JSONResponse({"status": "ok", "database": "ok", **details})
