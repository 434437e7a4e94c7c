"""`GET /api/metrics`: Prometheus metrics of every web worker and the jobs process.

Restricted: with `CRM_METRICS_TOKEN` set, a scraper sends `Authorization: Bearer <token>`;
without it only a direct caller on this machine (loopback, not relayed by a proxy) may read it.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from crm_app import metrics
from crm_app.settings import get_settings

router = APIRouter(tags=["health"])
_RELAY_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def may_scrape(request: Request) -> bool:
    """The configured token, or (none configured) a loopback caller no proxy relayed."""
    token = get_settings().metrics_token
    if token:
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    relayed = any(name in request.headers for name in _RELAY_HEADERS)
    return not relayed and _is_loopback(request.client.host if request.client else None)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """No side effects. 404 to callers who may not scrape (it does not admit it exists)."""
    if not may_scrape(request):
        return Response("Not Found", status_code=404, media_type="text/plain")
    body, content_type = await run_in_threadpool(metrics.render)
    return Response(body, media_type=content_type)
