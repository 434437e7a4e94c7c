"""Health for load balancers and orchestrators.

- `GET /api/health/live`: 200 while the process answers at all (restart it when this fails).
- `GET /api/health/ready`: 200 when PostgreSQL (and Redis, when `REDIS_URL` is set) answer,
  else 503 naming what is down (take the worker out of rotation; do not restart it).
- `GET /api/health`: the database check, as before (managers also see versions).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crm_app.auth.cookies import SESSION_COOKIE, read_cookie
from crm_app.auth.permissions import Action, can
from crm_app.db import check_database
from crm_app.services import web_sessions
from crm_app.settings import get_settings

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


@router.get("/health/live", summary="Liveness: the process answers")
async def live() -> JSONResponse:
    """No side effects and no I/O: a worker stuck on the database still counts as alive."""
    return JSONResponse({"status": "alive"})


def _check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


@router.get("/health/ready", summary="Readiness: database and Redis answer")
async def ready() -> JSONResponse:
    """No side effects. 200 when every dependency answers, else 503 with the ones that failed."""
    checks: dict[str, str] = {}
    try:
        await run_in_threadpool(check_database)
        checks["database"] = "ok"
    except Exception as error:  # unreachable, timed out, not migrated: not ready
        log.warning("readiness: database unreachable", extra={"error": type(error).__name__})
        checks["database"] = "unreachable"
    redis_url = get_settings().redis_url
    if redis_url:
        try:
            await run_in_threadpool(_check_redis, redis_url)
            checks["redis"] = "ok"
        except Exception as error:
            log.warning("readiness: redis unreachable", extra={"error": type(error).__name__})
            checks["redis"] = "unreachable"
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "error", **checks}, status_code=200 if ok else 503
    )
