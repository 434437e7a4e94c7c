"""Operability: secrets at rest, structured logs that never carry secrets, the health API."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from crm_app.crypto import SecretUnreadable, decrypt_secret, encrypt_secret
from crm_app.logging_setup import JsonFormatter


def test_secrets_round_trip_and_are_not_stored_in_clear() -> None:
    token = encrypt_secret("imap-password-123")
    assert "imap-password-123" not in token
    assert decrypt_secret(token) == "imap-password-123"


def test_tampered_secret_is_refused() -> None:
    token = encrypt_secret("api-key")
    with pytest.raises(SecretUnreadable):
        decrypt_secret(token[:-4] + "AAAA")


def test_log_lines_are_json_and_redact_secret_fields() -> None:
    record = logging.LogRecord("crm", logging.INFO, __file__, 1, "login for %s", ("a@b",), None)
    record.password = "hunter2hunter2"
    record.user_id = 7
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "login for a@b" and line["user_id"] == 7
    assert line["password"] == "[redacted]"


def test_health_tells_anonymous_callers_only_the_verdict_and_managers_the_details(
    db: str,
) -> None:
    from crm_app.api import build_api
    from tests.factories import log_in, make_user

    client = TestClient(build_api())
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    agent = make_user("agent")
    client.cookies.set("crm_session", log_in(agent.email))
    assert "schema_revision" not in client.get("/api/health").json()
    manager = make_user("manager")
    client.cookies.set("crm_session", log_in(manager.email))
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["schema_revision"] not in ("", "None")
    spec = client.get("/api/openapi.json").json()
    assert "/api/health" in spec["paths"]


def test_data_dir_from_another_postgres_major_gets_a_clear_error(tmp_path) -> None:
    from crm_app.db import EmbeddedDatabaseError, start_embedded_postgres

    (tmp_path / "PG_VERSION").write_text("9\n")
    with pytest.raises(EmbeddedDatabaseError, match="PostgreSQL 9"):
        start_embedded_postgres(tmp_path)
