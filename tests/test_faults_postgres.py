"""PostgreSQL itself killed with SIGKILL under a running app: readiness says the database is
unreachable (quickly, without hanging), writes fail with an error instead of being half-done,
and when the server is back the app reconnects by itself and every committed row is there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from crm_app.settings import PROJECT_ROOT
from tests import external_pg

pytestmark = [
    pytest.mark.embedded_only,
    pytest.mark.skipif(
        bool(os.environ.get("CRM_TEST_DATABASE_URL")),
        reason="starts and kills its own server: run once",
    ),
]

APP = """
import json, sys
from fastapi.testclient import TestClient
from crm_app.api import build_api
from tests.factories import make_client, make_ticket, make_user
api = TestClient(build_api())
for line in sys.stdin:
    command = line.strip()
    try:
        if command == "ready":
            answer = api.get("/api/health/ready")
            print(answer.status_code, json.dumps(answer.json()), flush=True)
        elif command == "write":
            agent = make_user("agent")
            client_id = make_client(agent, name=f"Client {agent.user_id}")
            print("ok", make_ticket(agent, client_id), flush=True)
        elif command == "count":
            from sqlalchemy import text
            from crm_app.db import get_engine
            with get_engine().connect() as conn:
                tickets = conn.execute(text("SELECT count(*) FROM ticket")).scalar_one()
            print("ok", tickets, flush=True)
    except Exception as error:  # what a handler would see: an error, reported
        print("error", type(error).__name__, flush=True)
"""


class AppProcess:
    def __init__(self, database_url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", APP],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, command: str) -> tuple[str, str]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        first, _, rest = self.process.stdout.readline().strip().partition(" ")
        return first, rest

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def server() -> Iterator[external_pg.ExternalServer]:
    folder = Path(f"/tmp/crm-pgkill-{os.getpid()}")
    started = external_pg.start(folder)
    migrate = subprocess.run(
        [sys.executable, "-m", "crm_app.cli", "migrate"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": started.app_url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr
    try:
        yield started
    finally:
        external_pg.stop(folder, mode="immediate")
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def _kill_postgres(server: external_pg.ExternalServer) -> None:
    postmaster = psutil.Process(int((server.data_dir / "postmaster.pid").read_text().split()[0]))
    everyone = [postmaster, *postmaster.children(recursive=True)]
    for process in everyone:
        process.send_signal(signal.SIGKILL)
    psutil.wait_procs(everyone, timeout=10)


def test_app_reports_a_killed_database_and_reconnects_when_it_returns(
    server: external_pg.ExternalServer,
) -> None:
    app = AppProcess(server.app_url)
    try:
        assert app.ask("ready") == ("200", '{"status": "ok", "database": "ok"}')
        assert app.ask("write")[0] == "ok"

        _kill_postgres(server)
        asked = time.monotonic()
        status, body = app.ask("ready")
        assert (status, body) == ("503", '{"status": "error", "database": "unreachable"}')
        assert time.monotonic() - asked < 15  # told at once, not after a hang
        assert app.ask("write") == ("error", "OperationalError")

        external_pg.start(server.folder, server.port)
        deadline = time.monotonic() + 30
        while app.ask("ready")[0] != "200":  # a dead pooled connection may fail once
            assert time.monotonic() < deadline, "the app did not reconnect by itself"
            time.sleep(0.5)
        assert app.ask("write")[0] == "ok"
        # The ticket committed before the crash survived it; the failed write left nothing.
        assert app.ask("count") == ("ok", "2")
    finally:
        app.close()
