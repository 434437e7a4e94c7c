"""Prometheus metrics at /api/metrics: restricted to the scraper, counting requests, job runs
and queue depth, and (scripts/run's layout) adding up every process's samples."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from crm_app.settings import PROJECT_ROOT, get_settings

LOOPBACK = ("127.0.0.1", 40000)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _app():
    from crm_app.api import build_api
    from crm_app.metrics import HttpMetricsMiddleware

    return HttpMetricsMiddleware(build_api())


@pytest.fixture
def settings_reset() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_metrics_are_refused_to_remote_and_proxied_callers(db: str, settings_reset) -> None:
    assert TestClient(_app(), client=("203.0.113.9", 5000)).get("/api/metrics").status_code == 404
    relayed = TestClient(_app(), client=LOOPBACK)
    response = relayed.get("/api/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 404
    assert TestClient(_app(), client=LOOPBACK).get("/api/metrics").status_code == 200


def test_metrics_token_admits_a_remote_scraper_and_only_with_it(
    db: str, settings_reset, monkeypatch
) -> None:
    monkeypatch.setenv("CRM_METRICS_TOKEN", "scrape-token-0123456789")
    get_settings.cache_clear()
    remote = TestClient(_app(), client=("203.0.113.9", 5000))
    assert remote.get("/api/metrics").status_code == 404
    assert remote.get("/api/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    ok = remote.get("/api/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert ok.status_code == 200 and "crm_database_up 1.0" in ok.text
    # With a token set, loopback alone is not enough.
    assert TestClient(_app(), client=LOOPBACK).get("/api/metrics").status_code == 404


def test_http_requests_are_counted_by_route_group_and_status(db: str) -> None:
    client = TestClient(_app(), client=LOOPBACK)
    before = _samples(client.get("/api/metrics").text)
    key = (
        "crm_http_requests_total",
        (("method", "GET"), ("route", "/api/health"), ("status", "200")),
    )
    client.get("/api/health")
    client.get("/api/health/live")
    after = _samples(client.get("/api/metrics").text)
    assert after[key] - before.get(key, 0.0) == 2


def test_queue_depth_is_read_from_tables_that_exist(db: str) -> None:
    from tests.factories import make_client, make_ticket, make_user

    manager = make_user("manager")
    client_id = make_client(manager)
    make_ticket(manager, client_id)
    make_ticket(manager, client_id, "Statement copy")
    samples = _samples(TestClient(_app(), client=LOOPBACK).get("/api/metrics").text)
    assert samples[("crm_database_up", ())] == 1.0
    assert samples[("crm_queue_depth", (("queue", "tickets_open"),))] == 2.0
    assert ("crm_queue_depth", (("queue", "tickets_unassigned"),)) in samples
    # Queues of features this instance lacks are left out rather than reported as 0 or failing.
    assert ("crm_queue_depth", (("queue", "no_such_queue"),)) not in samples


def test_job_runs_and_failures_are_counted_by_the_scheduler_listener() -> None:
    from apscheduler.events import (
        EVENT_JOB_ERROR,
        EVENT_JOB_EXECUTED,
        EVENT_JOB_MISSED,
        EVENT_JOB_SUBMITTED,
    )
    from apscheduler.schedulers.background import BackgroundScheduler

    from crm_app import metrics
    from jobs.scheduler import JobMetrics

    def value(job: str, outcome: str) -> float:
        return metrics.JOB_RUNS.labels(job, outcome)._value.get()

    ok_before, error_before = value("metrics_ok", "ok"), value("metrics_fail", "error")
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_listener(
        JobMetrics(), EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
    )
    scheduler.start()
    try:
        scheduler.add_job(lambda: None, id="metrics_ok")
        scheduler.add_job(lambda: 1 / 0, id="metrics_fail")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            value("metrics_ok", "ok") == ok_before or value("metrics_fail", "error") == error_before
        ):
            time.sleep(0.05)
    finally:
        scheduler.shutdown()
    assert value("metrics_ok", "ok") == ok_before + 1
    assert value("metrics_fail", "error") == error_before + 1
    assert metrics.JOB_LAST_SUCCESS.labels("metrics_ok")._value.get() > time.time() - 60


def test_a_web_worker_reports_the_jobs_process_samples_in_multiprocess_mode(
    database_url: str, tmp_path
) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DATABASE_URL": database_url}
    job_process = "from crm_app import metrics\nmetrics.JOB_RUNS.labels('sla_scan', 'ok').inc(3)\n"
    subprocess.run([sys.executable, "-c", job_process], env=env, cwd=PROJECT_ROOT, check=True)
    subprocess.run([sys.executable, "-c", job_process], env=env, cwd=PROJECT_ROOT, check=True)
    scrape = "from crm_app import metrics\nprint(metrics.render()[0].decode())\n"
    text = subprocess.run(
        [sys.executable, "-c", scrape],
        env=env,
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    samples = _samples(text)
    assert samples[("crm_job_runs_total", (("job", "sla_scan"), ("outcome", "ok")))] == 6.0
