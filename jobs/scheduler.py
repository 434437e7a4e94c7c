"""The jobs process: leader election on a PostgreSQL advisory lock, then APScheduler.

Every `python -m jobs` process holds one dedicated connection (application name
`crm-jobs-<pid>`) and tries `pg_try_advisory_lock(LEADER_LOCK_KEY)` on it every
`CRM_JOBS_LEADER_POLL_SECONDS`. The holder leads: it runs an APScheduler with its job store in
PostgreSQL (table `scheduler.apscheduler_jobs`) and the jobs of `jobs.registry`. The others stand
by. The lock lives exactly as long as that connection, so when a leader dies its lock is released
and a standby takes over; a leader that loses the connection stops scheduling and exits non-zero
(for its supervisor to restart it) rather than risk two leaders.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

import psycopg
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from crm_app.db import database_url, get_engine, libpq_url, upgrade_to_head
from crm_app.logging_setup import configure_logging
from crm_app.settings import get_settings
from jobs.registry import scheduled_jobs
from models.base import utcnow

log = logging.getLogger("jobs")

# The advisory lock that elects the leader ("crm jobs" as a number; below 2**31 so it shows up
# in pg_locks as objid with classid 0).
LEADER_LOCK_KEY = 7_242_001
# APScheduler creates its own table; a schema of its own keeps it apart from the Alembic-managed
# models (so autogenerate never proposes dropping it).
JOBSTORE_SCHEMA = "scheduler"
JOBSTORE_TABLE = "apscheduler_jobs"
# EX_TEMPFAIL: leadership was lost; a supervisor should start the process again.
EXIT_LOST_LEADERSHIP = 75
JOB_THREADS = 4


def application_name() -> str:
    return f"crm-jobs-{os.getpid()}"


def _connect_lock_connection() -> psycopg.Connection:
    """The connection that holds the leader lock: autocommit, and quick to notice a dead peer."""
    return psycopg.connect(
        libpq_url(database_url()),
        autocommit=True,
        application_name=application_name(),
        connect_timeout=10,
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
    )


def _holds_lock(conn: psycopg.Connection) -> bool:
    """Whether this connection still holds the leader lock (fails if the connection is gone)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        " AND classid = 0 AND objid = %s AND objsubid = 1 AND granted",
        (LEADER_LOCK_KEY,),
    ).fetchone()
    return bool(row and row[0])


def _log_job_problem(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning("job run missed", extra={"job_id": event.job_id})
        return
    log.error(
        "job raised an exception",
        exc_info=(type(event.exception), event.exception, event.exception.__traceback__),
        extra={"job_id": event.job_id},
    )


class JobMetrics:
    """Scheduler listener feeding /api/metrics: runs by outcome, durations, last success."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def __call__(self, event: JobEvent) -> None:
        from crm_app import metrics

        if isinstance(event, JobSubmissionEvent):
            self._started[event.job_id] = time.monotonic()
            return
        if event.code == EVENT_JOB_MISSED:
            metrics.JOB_RUNS.labels(event.job_id, "missed").inc()
            return
        started = self._started.pop(event.job_id, None)
        if started is not None:
            metrics.JOB_SECONDS.labels(event.job_id).observe(time.monotonic() - started)
        if event.code == EVENT_JOB_ERROR:
            metrics.JOB_RUNS.labels(event.job_id, "error").inc()
        else:
            metrics.JOB_RUNS.labels(event.job_id, "ok").inc()
            metrics.JOB_LAST_SUCCESS.labels(event.job_id).set(time.time())


def build_scheduler() -> BackgroundScheduler:
    """A paused-start scheduler whose jobs persist in PostgreSQL."""
    with get_engine().begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {JOBSTORE_SCHEMA}"))
    scheduler = BackgroundScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(
                engine=get_engine(), tablename=JOBSTORE_TABLE, tableschema=JOBSTORE_SCHEMA
            )
        },
        executors={"default": ThreadPoolExecutor(JOB_THREADS)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone="UTC",
    )
    scheduler.add_listener(_log_job_problem, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    scheduler.add_listener(
        JobMetrics(), EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
    )
    return scheduler


def register_jobs(scheduler: BackgroundScheduler) -> list[str]:
    """Put every registry job into the (started, paused) scheduler; drop stored jobs not listed."""
    wanted = scheduled_jobs()
    ids = {job.id for job in wanted}
    for stale in scheduler.get_jobs():
        if stale.id not in ids:
            log.info("removing job no longer in the registry", extra={"job_id": stale.id})
            stale.remove()
    for job in wanted:
        options: dict[str, object] = {}
        if job.run_at_start:
            options["next_run_time"] = utcnow()
        scheduler.add_job(
            job.func,
            trigger=job.trigger,
            id=job.id,
            name=job.description,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=job.misfire_grace_seconds,
            **options,
        )
    return sorted(ids)


class JobsProcess:
    """One jobs process: stands by until it holds the leader lock, then schedules."""

    def __init__(self) -> None:
        self.settings = get_settings()
        self.poll_seconds = self.settings.jobs_leader_poll_seconds
        self.stopping = threading.Event()

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        self.stopping.set()

    def run(self) -> int:
        conn: psycopg.Connection | None = None
        waiting_logged = False
        try:
            while not self.stopping.is_set():
                try:
                    if conn is None or conn.closed:
                        conn = _connect_lock_connection()
                    row = conn.execute(
                        "SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,)
                    ).fetchone()
                except psycopg.Error as error:
                    # A standby holds nothing: reconnect and keep waiting.
                    log.warning("cannot reach the database; retrying", extra={"error": str(error)})
                    conn = None
                    self.stopping.wait(self.poll_seconds)
                    continue
                if row and row[0]:
                    return self.lead(conn)
                if not waiting_logged:
                    log.info(
                        "standing by: another jobs process leads; waiting for the lock",
                        extra={"application_name": application_name()},
                    )
                    waiting_logged = True
                self.stopping.wait(self.poll_seconds)
            return 0
        finally:
            if conn is not None and not conn.closed:
                conn.close()  # closing the session releases the advisory lock

    def lead(self, conn: psycopg.Connection) -> int:
        log.info("took the lead", extra={"application_name": application_name()})
        # A leader whose connection the server cut notices within one poll: give it that long
        # to stop before scheduling here, so two schedulers never overlap.
        if self.stopping.wait(self.poll_seconds):
            return 0
        scheduler = build_scheduler()
        scheduler.start(paused=True)
        job_ids = register_jobs(scheduler)
        scheduler.resume()
        log.info("scheduler started", extra={"jobs": job_ids})
        while not self.stopping.wait(self.poll_seconds):
            try:
                still_leader = _holds_lock(conn)
            except psycopg.Error as error:
                log.error("lost the leader lock connection", extra={"error": str(error)})
                still_leader = False
            if not still_leader:
                return self._abandon(scheduler)
        log.info("shutting down the scheduler")
        scheduler.shutdown(wait=True)
        log.info("stopped")
        return 0

    def _abandon(self, scheduler: BackgroundScheduler) -> int:
        """Stop at once: another process may be leading already."""
        log.error("no longer the leader: stopping the scheduler and exiting")
        scheduler.shutdown(wait=False)
        logging.shutdown()
        # os._exit: never wait for a running job's thread, which would keep a second leader alive.
        os._exit(EXIT_LOST_LEADERSHIP)


def main() -> int:
    configure_logging()
    process = JobsProcess()
    signal.signal(signal.SIGTERM, process.request_stop)
    signal.signal(signal.SIGINT, process.request_stop)
    started = time.monotonic()
    upgrade_to_head()
    configure_logging()  # Alembic's logging config replaces the handlers during the upgrade
    from crm_app.services.sla import ensure_default_targets

    ensure_default_targets()
    log.info(
        "jobs process ready",
        extra={"pid": os.getpid(), "startup_seconds": round(time.monotonic() - started, 2)},
    )
    return process.run()


if __name__ == "__main__":
    sys.exit(main())
