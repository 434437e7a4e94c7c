"""The send job's outcomes: each sent or failed row recorded the moment it is known, with
the backoff before a retry."""

from __future__ import annotations

import random
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, text

from crm_app.db import get_engine
from crm_app.settings import Settings, get_settings
from models.outbox import OutboundStatus

BACKOFF_MAX_SECONDS = 6 * 3600


def backoff_seconds(attempts: int, settings: Settings | None = None) -> float:
    """Wait before the next try after `attempts` tries: doubling, with ±20% jitter so many
    rows deferred together do not come back in one burst."""
    settings = settings or get_settings()
    base = settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0)
    return min(base, BACKOFF_MAX_SECONDS) * random.uniform(0.8, 1.2)


_RECORD_SENT = text(
    """
    UPDATE outbound_message
    SET status = 'sent', sent_at = now(), provider_message_id = :provider_id,
        last_error = NULL, claimed_by = NULL, claimed_until = NULL, updated_at = now()
    WHERE id = :id AND claimed_by = :worker
    """
)
_RECORD_FAILURE = text(
    """
    UPDATE outbound_message
    SET status = :status, last_error = :reason, claimed_by = NULL,
        claimed_until = NULL, updated_at = now(),
        next_attempt_at = now() + make_interval(secs => :delay)
    WHERE id = :id AND claimed_by = :worker
    """
)
_RELEASE = text(
    """
    UPDATE outbound_message
    SET status = 'queued', claimed_by = NULL, claimed_until = NULL,
        attempts = greatest(attempts - 1, 0), next_attempt_at = now(), updated_at = now()
    WHERE id = ANY(:ids) AND claimed_by = :worker
    """
)
# Outcomes are committed without waiting for the WAL flush: a crash of this worker cannot
# undo them (the server has them), only a crash of PostgreSQL itself within a fraction of a
# second can, and then the mail is resent with the same Message-ID, as after a worker crash.
# Waiting for the flush would cost one disk sync per mail.
_ASYNC_COMMIT = text("SET synchronous_commit = off")
_SYNC_COMMIT = text("RESET synchronous_commit")


class Recorder:
    """Writes each outcome of `worker`'s claimed rows the moment it is known, one commit per
    row, over one connection held for the batch. Only rows still claimed by `worker` change:
    a worker whose lease ran out cannot overwrite the next worker's outcome.

    A write runs on a thread of its own while the sender goes on with the next mail (compose,
    envelope), and `settle` waits for it: the sender calls it before the next mail can be
    accepted (`Transport.send(before_commit=...)`), so at most one accepted mail is ever
    unrecorded, as when each write was waited for."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._conn: Connection | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def __enter__(self) -> Recorder:
        self._conn = get_engine().connect()
        self._conn.execute(_ASYNC_COMMIT)
        self._conn.commit()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-record")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.settle()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None
            if self._conn is not None:
                self._conn.rollback()
                self._conn.execute(_SYNC_COMMIT)  # the pooled connection goes back as it came
                self._conn.commit()
                self._conn.close()
                self._conn = None

    def settle(self) -> None:
        """Wait until the last outcome is committed (raises what writing it raised)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write(self, statement: Any, params: dict) -> None:
        assert self._conn is not None and self._writer is not None, "use Recorder in a with"
        self.settle()  # one at a time, in order
        self._pending = self._writer.submit(self._write_now, self._conn, statement, params)

    @staticmethod
    def _write_now(conn: Connection, statement: Any, params: dict) -> None:
        conn.execute(statement, params)
        conn.commit()

    def sent(self, outbound_id: int, provider_id: str | None) -> None:
        self._write(
            _RECORD_SENT, {"id": outbound_id, "worker": self.worker, "provider_id": provider_id}
        )

    def failure(self, outbound_id: int, attempts: int, reason: str, *, permanent: bool) -> str:
        """A failed try: queued again after a backoff, or failed for good (permanent, or out
        of attempts). Returns the status it was left in."""
        settings = get_settings()
        if not permanent and attempts >= settings.outbox_max_attempts:
            permanent, reason = True, f"Gave up after {attempts} attempts. Last error: {reason}"
        status = OutboundStatus.FAILED if permanent else OutboundStatus.QUEUED
        delay = 0.0 if permanent else backoff_seconds(attempts, settings)
        self._write(
            _RECORD_FAILURE,
            {
                "status": status.value,
                "reason": reason[:2000],
                "delay": delay,
                "id": outbound_id,
                "worker": self.worker,
            },
        )
        return status.value

    def release(self, outbound_ids: list[int]) -> None:
        """Give back rows claimed but not tried (the lease ran short): due again at once, and
        the attempt they were charged is returned."""
        if outbound_ids:
            self._write(_RELEASE, {"ids": outbound_ids, "worker": self.worker})


def record_failure(
    worker: str, outbound_id: int, attempts: int, reason: str, *, permanent: bool
) -> str:
    """`Recorder.failure` for one row (a late or lone outcome)."""
    with Recorder(worker) as recorder:
        return recorder.failure(outbound_id, attempts, reason, permanent=permanent)
