"""Two real `python -m jobs` processes: one leads the schedule, the other takes over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from crm_app.db import libpq_url, session_scope
from crm_app.settings import PROJECT_ROOT
from jobs.registry import scheduled_jobs
from jobs.scheduler import (
    EXIT_LOST_LEADERSHIP,
    JOBSTORE_SCHEMA,
    JOBSTORE_TABLE,
    LEADER_LOCK_KEY,
)
from models.base import utcnow
from models.ticket import SlaState, Ticket, TicketPriority

POLL_SECONDS = 0.3
TAKEOVER_LIMIT_SECONDS = 5.0


@pytest.fixture
def spawn(db: str, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start `python -m jobs` processes on the test database; kill any still alive afterwards."""
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    env = {
        **os.environ,
        "DATABASE_URL": db,
        "CRM_JOBS_LEADER_POLL_SECONDS": str(POLL_SECONDS),
        "CRM_SLA_SCAN_SECONDS": "1",
        "CRM_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }

    def start() -> subprocess.Popen[bytes]:
        log_path = tmp_path / f"jobs-{len(processes)}.log"
        with log_path.open("wb") as log_file:  # the child keeps its own copy of the handle
            process = subprocess.Popen(
                [sys.executable, "-m", "jobs"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        processes.append((process, log_path))
        return process

    try:
        yield start
    finally:
        for process, log_path in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            output = log_path.read_text(errors="replace")
            # Shown by pytest only when the test fails.
            print(f"--- jobs process {process.pid} (exit {process.returncode}) ---\n{output}")


def _sql(db: str, query: str, *params: object) -> list[tuple]:
    with psycopg.connect(libpq_url(db), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _lock_holders(db: str) -> list[str]:
    """Application names of the sessions holding the leader lock."""
    rows = _sql(
        db,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = %s AND l.granted",
        LEADER_LOCK_KEY,
    )
    return [name for (name,) in rows]


def _jobs_sessions(db: str) -> set[str]:
    rows = _sql(
        db,
        "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'crm-jobs-%%'",
    )
    return {name for (name,) in rows}


def _wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _unscanned_ticket() -> int:
    """An urgent ticket, unanswered for an hour: the scan must mark it breached."""
    created = utcnow() - timedelta(hours=1)
    with session_scope() as session:
        ticket = Ticket(
            subject="Wire transfer not received",
            priority=TicketPriority.URGENT,
            created_at=created,
            updated_at=created,
        )
        session.add(ticket)
        session.flush()
        assert ticket.id is not None
        return ticket.id


def _sla_state(ticket_id: int) -> str:
    with session_scope() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket.sla_state


def test_only_one_jobs_process_leads_and_a_standby_takes_over_when_the_leader_is_killed(
    db: str, spawn: Callable[[], subprocess.Popen[bytes]]
) -> None:
    first_ticket = _unscanned_ticket()
    processes = {f"crm-jobs-{p.pid}": p for p in (spawn(), spawn())}

    _wait_for(lambda: _jobs_sessions(db) == set(processes), 30, "both processes to connect")
    holders = _wait_for(lambda: _lock_holders(db), 10, "a leader")
    time.sleep(3 * POLL_SECONDS)  # the standby has tried the lock several times by now
    assert _lock_holders(db) == holders and len(holders) == 1
    leader_name = holders[0]
    standby_name = next(name for name in processes if name != leader_name)

    _wait_for(lambda: _sla_state(first_ticket) == SlaState.BREACHED, 15, "the sla_scan job")
    stored = _sql(db, f"SELECT id FROM {JOBSTORE_SCHEMA}.{JOBSTORE_TABLE} ORDER BY id")
    assert stored == sorted((job.id,) for job in scheduled_jobs())

    processes[leader_name].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    _wait_for(
        lambda: _lock_holders(db) == [standby_name],
        TAKEOVER_LIMIT_SECONDS,
        "the standby to take the lock",
    )
    assert time.monotonic() - killed_at < TAKEOVER_LIMIT_SECONDS

    second_ticket = _unscanned_ticket()
    _wait_for(
        lambda: _sla_state(second_ticket) == SlaState.BREACHED, 15, "the new leader to run sla_scan"
    )
    assert processes[standby_name].poll() is None


def test_leader_that_loses_its_lock_connection_exits_non_zero_and_sigterm_stops_cleanly(
    db: str, spawn: Callable[[], subprocess.Popen[bytes]]
) -> None:
    leader = spawn()
    name = f"crm-jobs-{leader.pid}"
    _wait_for(lambda: _lock_holders(db) == [name], 30, "the process to lead")

    _sql(
        db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        name,
    )

    assert leader.wait(timeout=10) == EXIT_LOST_LEADERSHIP

    successor = spawn()
    successor_name = f"crm-jobs-{successor.pid}"
    _wait_for(lambda: _lock_holders(db) == [successor_name], 30, "the successor to lead")
    successor.send_signal(signal.SIGTERM)
    assert successor.wait(timeout=10) == 0
    assert _lock_holders(db) == []


def _failing_job() -> None:
    raise RuntimeError("mailbox unreachable")


def test_a_job_that_raises_is_logged_and_the_scheduler_keeps_running(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    from jobs.scheduler import build_scheduler

    scheduler = build_scheduler()
    scheduler.start(paused=True)
    try:
        scheduler.remove_all_jobs()  # the store outlives tests: start from an empty schedule
        scheduler.add_job(f"{__name__}:_failing_job", id="failing", next_run_time=utcnow())
        scheduler.resume()
        ticket_id = _unscanned_ticket()
        _wait_for(
            lambda: any(r.msg == "job raised an exception" for r in caplog.records),
            10,
            "the failure to be logged",
        )
        scheduler.add_job("jobs.sla_scan:run", id="after_failure", next_run_time=utcnow())
        _wait_for(lambda: _sla_state(ticket_id) == SlaState.BREACHED, 10, "the next job to run")
        assert scheduler.running
        failure = next(r for r in caplog.records if r.msg == "job raised an exception")
        assert failure.job_id == "failing" and failure.exc_info is not None
    finally:
        scheduler.remove_all_jobs()
        scheduler.shutdown(wait=True)
