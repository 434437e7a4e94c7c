"""One real embedded PostgreSQL per test run, migrated once; every test starts on empty tables."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never touch the developer's own data directory or a configured server: only a server
# named for tests (CRM_TEST_DATABASE_URL, e.g. tests/external_pg.py's) replaces the embedded one.
_RUN_DIR = Path(tempfile.mkdtemp(prefix="crm-tests-"))
os.environ.pop("DATABASE_URL", None)
if os.environ.get("CRM_TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["CRM_TEST_DATABASE_URL"]
os.environ["CRM_DATA_DIR"] = str(_RUN_DIR)
os.environ.setdefault("CRM_SECRET_KEY", "test-secret-key-not-for-production-0123456789")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """Start the embedded server for this run, migrate it to head, and hand out its URL."""
    from crm_app.db import database_url as configured_url
    from crm_app.db import upgrade_to_head

    upgrade_to_head()
    url = configured_url()
    os.environ["DATABASE_URL"] = url  # child processes (jobs, the web app) join the same server
    yield url


@pytest.fixture
def db(database_url: str) -> Iterator[str]:
    """Empty every table before the test, so tests never see each other's rows."""
    from psycopg.errors import DeadlockDetected
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError
    from sqlmodel import SQLModel

    import models  # noqa: F401
    from crm_app.db import get_engine

    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    # A query the previous test left running (a background thread finishing its work) can
    # deadlock with the TRUNCATE; PostgreSQL then aborts the TRUNCATE, and the other query
    # completes. Retrying is the remedy for a deadlock victim.
    for attempt in range(5):
        try:
            with get_engine().begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            break
        except OperationalError as error:
            if not isinstance(error.orig, DeadlockDetected) or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    from crm_app.services import sla

    sla.ensure_default_targets()
    yield database_url


@pytest.fixture(scope="session")
def dovecot():
    """A real Dovecot IMAP server for the run (tests/mail_servers.py); each test adds its own
    users with `dovecot.add_user(...)`."""
    from tests.mail_servers import DovecotServer, dovecot_available

    if not dovecot_available():
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    server = DovecotServer.start()
    yield server
    server.stop()


@pytest.fixture
def mail_account(db, dovecot):
    """A fresh Dovecot user (its own empty INBOX) for one test."""
    import uuid

    return dovecot.add_user(f"support-{uuid.uuid4().hex[:8]}@firm.example")
