"""Health for load balancers: live answers while the process runs, ready only when PostgreSQL
(and Redis, when configured) answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crm_app.settings import get_settings
from tests.redis_server import REDIS_SERVER, free_port, redis_server


@pytest.fixture
def api(db: str) -> Iterator[TestClient]:
    from crm_app.api import build_api

    yield TestClient(build_api())
    get_settings.cache_clear()


def test_live_answers_without_touching_the_database(api: TestClient, monkeypatch) -> None:
    from crm_app.api import health

    def unreachable() -> None:
        raise AssertionError("liveness must not ask the database")

    monkeypatch.setattr(health, "check_database", unreachable)
    response = api.get("/api/health/live")
    assert response.status_code == 200 and response.json() == {"status": "alive"}


def test_ready_when_the_database_answers(api: TestClient) -> None:
    response = api.get("/api/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert api.get("/api/health").json() == {"status": "ok", "database": "ok"}


def test_not_ready_when_configured_redis_is_down(api: TestClient, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    response = api.get("/api/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "redis": "unreachable"}
    # Liveness does not depend on it: the balancer takes the worker out, nobody restarts it.
    assert api.get("/api/health/live").status_code == 200


@pytest.mark.skipif(not Path(REDIS_SERVER).exists(), reason="Debian redis-server not installed")
def test_ready_when_configured_redis_answers(api: TestClient, monkeypatch, tmp_path) -> None:
    with redis_server(tmp_path) as url:
        monkeypatch.setenv("REDIS_URL", url)
        get_settings.cache_clear()
        response = api.get("/api/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_not_ready_when_the_database_is_unreachable(api: TestClient, monkeypatch) -> None:
    from crm_app.api import health

    def unreachable() -> dict[str, str]:
        raise OSError("connection refused")

    monkeypatch.setattr(health, "check_database", unreachable)
    response = api.get("/api/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}
    assert api.get("/api/health").status_code == 503
