"""Prometheus metrics: what the web workers and the jobs process count, and what a scrape reads.

Counted where it happens (official `prometheus_client`):
- `crm_http_requests_total` / `crm_http_request_duration_seconds`: every HTTP request and
  websocket connection, by method, route group and status (the ASGI `HttpMetricsMiddleware`).
- `crm_event_duration_seconds` / `crm_event_errors_total`: every Reflex event, by handler
  (`install_event_timing` wraps Reflex's per-event step; its middleware API has no "after").
- `crm_job_runs_total{job,outcome}`, `crm_job_duration_seconds`,
  `crm_job_last_success_timestamp_seconds`: the scheduler's listener in jobs/scheduler.py.

Read at scrape time from PostgreSQL (`QueueCollector`): `crm_database_up` and
`crm_queue_depth{queue}` for every queue whose table exists on this instance.

Several processes: when `PROMETHEUS_MULTIPROC_DIR` is set (scripts/run sets it to
`<data dir>/metrics` for the web workers and the jobs process alike), every process writes its
samples there and any web worker's `/api/metrics` answers for all of them. Without it (a bare
`reflex run`), each process reports only itself.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Event handlers mostly answer in milliseconds; background ones (imports) run for minutes.
_EVENT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0)
_JOB_BUCKETS = (0.05, 0.25, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)

HTTP_REQUESTS = Counter(
    "crm_http_requests_total",
    "HTTP requests and websocket connections answered",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "crm_http_request_duration_seconds",
    "Time to answer an HTTP request (websockets excluded)",
    ["route"],
)
EVENT_SECONDS = Histogram(
    "crm_event_duration_seconds",
    "Time a Reflex event took, state lock included",
    ["handler"],
    buckets=_EVENT_BUCKETS,
)
EVENT_ERRORS = Counter("crm_event_errors_total", "Reflex events that raised", ["handler"])
JOB_RUNS = Counter(
    "crm_job_runs_total", "Scheduled job runs by outcome (ok, error, missed)", ["job", "outcome"]
)
JOB_SECONDS = Histogram(
    "crm_job_duration_seconds", "Time a scheduled job run took", ["job"], buckets=_JOB_BUCKETS
)
JOB_LAST_SUCCESS = Gauge(
    "crm_job_last_success_timestamp_seconds",
    "Unix time of the job's last successful run",
    ["job"],
    multiprocess_mode="mostrecent",
)

# Work waiting in PostgreSQL, per queue. Each query runs only when its table exists on this
# instance (features land at different times); a query that fails is left out of the scrape.
QUEUE_QUERIES: dict[str, tuple[str, str]] = {
    "tickets_open": (
        "ticket",
        "SELECT count(*) FROM ticket WHERE status IN ('new', 'open', 'pending')",
    ),
    "tickets_unassigned": (
        "ticket",
        "SELECT count(*) FROM ticket WHERE assignee_id IS NULL "
        "AND status IN ('new', 'open', 'pending')",
    ),
    "sla_breached": (
        "ticket",
        "SELECT count(*) FROM ticket WHERE sla_state = 'breached' "
        "AND status IN ('new', 'open', 'pending')",
    ),
    "outbox": ("outbox_message", "SELECT count(*) FROM outbox_message WHERE sent_at IS NULL"),
    "campaign_send": (
        "campaign_recipient",
        "SELECT count(*) FROM campaign_recipient WHERE status IN ('queued', 'claimed', 'sending')",
    ),
    "ingest": (
        "ingest_job",
        "SELECT count(*) FROM ingest_job WHERE status IN ('queued', 'pending', 'running')",
    ),
}


def _route_group(path: str) -> str:
    """A bounded label for a path: the API resource, Reflex's endpoints, or "page"."""
    if path.startswith("/api/"):
        return "/api/" + path[5:].split("/", 1)[0]
    if path.startswith("/_"):
        return "/" + path[1:].split("/", 1)[0]
    return "page"


class HttpMetricsMiddleware:
    """ASGI middleware counting requests and their duration (outermost, so refusals count)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        route = _route_group(scope.get("path", ""))
        method = "WS" if scope["type"] == "websocket" else scope.get("method", "")
        status = {"code": "0"}

        async def counting_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                status["code"] = str(message["status"])
            elif kind == "websocket.accept":
                status["code"] = "101"
            elif kind == "websocket.close" and status["code"] == "0":
                status["code"] = "403"
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, counting_send)
        except BaseException:
            status["code"] = "500" if status["code"] == "0" else status["code"]
            raise
        finally:
            HTTP_REQUESTS.labels(method, route, status["code"]).inc()
            if scope["type"] == "http":
                HTTP_SECONDS.labels(route).observe(time.perf_counter() - started)


def install_event_timing() -> None:
    """Time every Reflex event by its registered handler (a bounded label: browsers cannot
    invent handler names, unknown events never get this far)."""
    from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor

    original = BaseStateEventProcessor._execute_event
    if getattr(original, "_crm_timed", False):
        return

    async def timed_execute_event(self: Any, *, entry: Any, registered_handler: Any) -> None:
        handler = registered_handler.handler.fn.__qualname__
        started = time.perf_counter()
        try:
            await original(self, entry=entry, registered_handler=registered_handler)
        except BaseException:
            EVENT_ERRORS.labels(handler).inc()
            raise
        finally:
            EVENT_SECONDS.labels(handler).observe(time.perf_counter() - started)

    timed_execute_event._crm_timed = True  # type: ignore[attr-defined]
    BaseStateEventProcessor._execute_event = timed_execute_event  # type: ignore[method-assign]


class QueueCollector(Collector):
    """Reads queue depths from PostgreSQL when scraped; a missing table means no gauge."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from crm_app.db import get_engine

        up = GaugeMetricFamily("crm_database_up", "1 when PostgreSQL answered this scrape")
        depth = GaugeMetricFamily(
            "crm_queue_depth", "Work waiting in the database, per queue", labels=["queue"]
        )
        try:
            with get_engine().connect() as conn:
                conn.execute(text("SET LOCAL statement_timeout = 2000"))
                tables = {
                    table
                    for table, _ in QUEUE_QUERIES.values()
                    if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar()
                }
                for queue, (table, query) in QUEUE_QUERIES.items():
                    if table not in tables:
                        continue
                    try:
                        with conn.begin_nested():
                            depth.add_metric([queue], float(conn.execute(text(query)).scalar_one()))
                    except Exception as error:  # a column this instance lacks: leave it out
                        log.debug(
                            "queue gauge skipped", extra={"queue": queue, "error": str(error)}
                        )
                conn.rollback()
            up.add_metric([], 1.0)
        except Exception as error:  # the database is down: say so, keep the rest of the scrape
            log.warning("metrics: database unreachable", extra={"error": type(error).__name__})
            up.add_metric([], 0.0)
        yield up
        yield depth


def render() -> tuple[bytes, str]:
    """The exposition text for a scrape: every process's counters, then the live gauges."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    live = CollectorRegistry()
    live.register(QueueCollector())
    return generate_latest(registry) + generate_latest(live), CONTENT_TYPE_LATEST


def prepare_multiprocess_dir(path: os.PathLike[str] | str) -> None:
    """An empty folder for this run's samples (stale files of an old run would add up)."""
    from pathlib import Path

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
