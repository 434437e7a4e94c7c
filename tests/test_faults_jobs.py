"""A jobs process killed with SIGKILL in the middle of a job: the next one takes the lead,
runs the job again, finishes the work, and nothing is done twice (sla_scan and ai_index, the
jobs that exist on this branch)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from crm_app.settings import PROJECT_ROOT
from tests.factories import make_client, make_ticket, make_user

pytestmark = [
    pytest.mark.embedded_only,
    pytest.mark.skipif(
        bool(os.environ.get("CRM_TEST_DATABASE_URL")),
        reason="about the jobs process, not the database: run once, against the embedded server",
    ),
]


@contextmanager
def jobs_process(database_url: str) -> Iterator[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": database_url, "CRM_JOBS_LEADER_POLL_SECONDS": "0.5"}
    log_path = PROJECT_ROOT / "artifacts" / "faults-jobs.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jobs"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _scalar(sql: str) -> int:
    from crm_app.db import get_engine

    with get_engine().connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    documents = _scalar("SELECT count(*) FROM retrieval_document")
    raise AssertionError(
        f"timed out waiting for {what} ({documents} documents; see artifacts/faults-jobs.log)"
    )


def _someone_waits_on_a_lock() -> bool:
    return bool(
        _scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
    )


def _kill_while_blocked(database_url: str, lock_sql: str) -> None:
    """Start a jobs process, let it block on `lock_sql`'s lock inside a job's transaction,
    SIGKILL it there, then release the lock."""
    from crm_app.db import get_engine

    with get_engine().connect() as conn:
        conn.execute(text(lock_sql))
        with jobs_process(database_url) as first:
            _wait_for(_someone_waits_on_a_lock, 120, "the job to reach the locked rows")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        conn.rollback()


def test_sla_scan_killed_mid_batch_is_finished_once_by_the_next_jobs_process(
    db: str,
) -> None:
    from crm_app.db import get_engine

    agent = make_user("agent")
    client_id = make_client(agent)
    numbers = [make_ticket(agent, client_id, f"Transfer {i}") for i in range(5)]
    month = "interval '30 days'"
    clocks = ", ".join(
        f"{column} = {column} - {month}"
        for column in (
            "anchor_created_at",
            "first_response_since",
            "first_response_due_at",
            "first_response_near_at",
            "resolution_since",
            "resolution_due_at",
            "resolution_near_at",
            "next_alarm_at",
        )
    )
    with get_engine().begin() as conn:  # tickets that waited a month since their last scan
        conn.execute(text(f"UPDATE ticket_sla SET {clocks}"))
        conn.execute(
            text(
                f"UPDATE ticket SET created_at = created_at - {month}, "
                f"first_response_due_at = first_response_due_at - {month}, "
                f"resolution_due_at = resolution_due_at - {month}"
            )
        )
        conn.execute(text("DELETE FROM audit_log WHERE action LIKE 'ticket.sla%'"))
    # Hold one ticket's row: the scan's batch update waits on it, mid-transaction.
    _kill_while_blocked(db, f"SELECT id FROM ticket WHERE number = {numbers[-1]} FOR UPDATE")
    unscanned = "SELECT count(*) FROM ticket WHERE sla_state <> 'breached'"
    assert _scalar(unscanned) == 5  # the killed batch left nothing half-done
    with jobs_process(db):
        _wait_for(lambda: _scalar(unscanned) == 0, 120, "the next leader's scan")
        time.sleep(1)
    # One audit entry per ticket for its one state change: the killed run recorded none.
    assert _scalar("SELECT count(*) FROM audit_log WHERE action = 'ticket.sla_state_changed'") == 5
    assert (
        _scalar(
            "SELECT count(DISTINCT entity_id) FROM audit_log "
            "WHERE action = 'ticket.sla_state_changed'"
        )
        == 5
    )


def test_ai_index_killed_mid_run_is_finished_once_by_the_next_jobs_process(db: str) -> None:
    from crm_app.services import tickets

    agent = make_user("agent")
    client_id = make_client(agent)
    for i in range(6):
        number = make_ticket(agent, client_id, f"Statement request {i}")
        tickets.add_message(agent, number, f"Here is statement {i}.", status="resolved")
    # The index's writes wait on this lock, inside its transaction.
    _kill_while_blocked(db, "LOCK TABLE retrieval_document IN EXCLUSIVE MODE")
    assert _scalar("SELECT count(*) FROM retrieval_document") == 0
    with jobs_process(db):
        _wait_for(
            lambda: _scalar("SELECT count(*) FROM retrieval_document") == 6,
            180,
            "the next leader's index run",
        )
        time.sleep(1)
    assert _scalar("SELECT count(DISTINCT source_ref) FROM retrieval_document") == 6
    assert _scalar("SELECT count(*) FROM retrieval_document") == 6
    # Every chunk belongs to one of them, once.
    assert (
        _scalar(
            "SELECT count(*) FROM (SELECT document_id, chunk_index FROM retrieval_chunk "
            "GROUP BY 1, 2 HAVING count(*) > 1) d"
        )
        == 0
    )
