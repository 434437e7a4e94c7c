"""The worker's database side: its liveness lock, claiming recipients with `FOR UPDATE SKIP
LOCKED`, the marks of the send protocol, and settling the rows of dead workers.

An SMTP worker sends its claimed rows in id order, and right before each final dot it writes
one narrow row, `campaign_worker.reached` = that recipient's id: every claimed row of the
worker up to `reached` may have been sent, none after it has. The rows' own outcomes (sent
with the server's id, or failed with its words) are written in bulk, every `SETTLE_EVERY`
messages with the next mark; a failure goes with the very next one. Until then a row stays
`claimed`, and a crash settles it by the rule: up to `reached`, counted sent (unconfirmed);
after it, back to the queue."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq
from psycopg.pq.abc import PGresult

from crm_app.db import database_url, libpq_url

log = logging.getLogger(__name__)

SETTLE_EVERY = 64  # outcomes written together (one statement, riding on a mark)
SETTLE_SECONDS = 1.0  # ... and at least this often, so progress shows at low rates

# One HOT update of one narrow row: no index changes, a fraction of the cost of a new version
# of an indexed recipient row (measured: a third of the database's time a message, or less).
_REACHED_SQL = "UPDATE campaign_worker SET reached = $1 WHERE worker = $2"
_OUTCOMES_SQL = (
    "WITH outcome AS (UPDATE campaign_recipient r SET status = o.status, "
    "provider_message_id = o.provider_id, message_id = coalesce(o.message_id, r.message_id), "
    "error = o.error, sent_at = CASE WHEN o.status = 'sent' THEN now() ELSE r.sent_at END "
    "FROM jsonb_to_recordset($3::jsonb) AS o(id bigint, status text, provider_id text, "
    "message_id text, error text) "
    "WHERE r.id = o.id AND r.worker = $2 AND r.status = 'claimed') " + _REACHED_SQL
)
_REACHED = b"campaign_reached"
_REACHED_WITH_OUTCOMES = b"campaign_reached_outcomes"

# A worker's rows left `claimed` (it died, or stopped mid-batch): up to `reached` the dot may
# have gone, so they count as sent and are never sent again; after it nothing left.
_LEFTOVERS_SENT = (
    "UPDATE campaign_recipient r SET status = 'sent', unconfirmed = true, "
    "sent_at = coalesce(r.sent_at, now()) FROM campaign_worker w "
    "WHERE w.worker = %(worker)s AND r.worker = w.worker AND r.status = 'claimed' "
    "AND r.id <= w.reached"
)
_LEFTOVERS_BACK = (
    "UPDATE campaign_recipient SET status = %(rest)s, worker = NULL, batch_key = NULL "
    "WHERE worker = %(worker)s AND status = 'claimed'"
)


@dataclass
class Claimed:
    id: int
    email: str
    first_name: str
    last_name: str


class Ledger:
    """One worker's connection: its liveness lock, claims, and the marks of the send protocol."""

    def __init__(self) -> None:
        self.worker = secrets.randbits(62)
        self.conn = psycopg.connect(libpq_url(database_url()), autocommit=True)
        self.conn.execute("SET synchronous_commit = off")
        self.conn.execute("SELECT pg_advisory_lock(%s)", (self.worker,))
        self.conn.execute(
            "INSERT INTO campaign_worker (worker, reached) VALUES (%s, 0)", (self.worker,)
        )
        pgconn = self.conn.pgconn
        for name, sql in ((_REACHED, _REACHED_SQL), (_REACHED_WITH_OUTCOMES, _OUTCOMES_SQL)):
            _check(pgconn.prepare(name, sql.encode()), "prepare the marks")
        self._worker_param = str(self.worker).encode()
        self.reached = 0  # as last written (the last mark)
        self._before_mark = 0  # `reached` before the last mark, for `unmark`
        self._outcomes: list[dict[str, Any]] = []
        self._outcomes_due = False  # a failure waits: it goes with the next write
        self._written_at = time.monotonic()
        self._unread = False  # a mark's answer not read yet

    def close(self) -> None:
        """Settle what is left (a clean exit leaves nothing for a reconciler) and disconnect."""
        try:
            if not self.conn.closed:
                self.settle_batch()
                self.conn.execute("DELETE FROM campaign_worker WHERE worker = %s", (self.worker,))
        except psycopg.Error as error:  # its rows wait for the next run's reconcile
            log.warning("campaign worker left unsettled rows", extra={"error": str(error)})
        finally:
            self.conn.close()

    def reconcile(self) -> dict[str, int]:
        """Settle the rows of dead workers: `claimed` ones back to the queue, or counted sent
        (unconfirmed) up to where the worker's dots reached; `sending` ones (a SendGrid batch
        whose request may have left) counted sent (unconfirmed; see the package docstring)."""
        owners = [
            w
            for (w,) in self.conn.execute(
                "SELECT DISTINCT worker FROM campaign_recipient "
                "WHERE status IN ('claimed', 'sending') AND worker IS NOT NULL "
                "UNION SELECT worker FROM campaign_worker"
            )
        ]
        released = settled = 0
        for owner in owners:
            if owner == self.worker:
                continue
            lock = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (owner,)).fetchone()
            assert lock is not None  # a SELECT without FROM gives one row
            (free,) = lock
            if not free:
                continue  # alive
            try:
                with self.conn.transaction():
                    sent, released_now = self._settle_leftovers(owner, "queued")
                    released += released_now
                    settled += sent
                    settled += self.conn.execute(
                        "UPDATE campaign_recipient SET status = 'sent', unconfirmed = true, "
                        "sent_at = coalesce(sent_at, now()) "
                        "WHERE worker = %s AND status = 'sending'",
                        (owner,),
                    ).rowcount
                    self.conn.execute("DELETE FROM campaign_worker WHERE worker = %s", (owner,))
            finally:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (owner,))
        if released or settled:
            log.warning(
                "campaign rows of a dead worker settled",
                extra={"released": released, "counted_sent_unconfirmed": settled},
            )
        return {"released": released, "unconfirmed": settled}

    def _settle_leftovers(self, owner: int, rest: str) -> tuple[int, int]:
        """(counted sent, put back) of `owner`'s claimed rows; inside a transaction."""
        names = {"worker": owner, "rest": rest}
        sent = self.conn.execute(_LEFTOVERS_SENT, names).rowcount
        back = self.conn.execute(_LEFTOVERS_BACK, names).rowcount
        return sent, back

    def sending_campaigns(self) -> list[int]:
        return [
            cid
            for (cid,) in self.conn.execute(
                "SELECT id FROM campaign WHERE status = 'sending' ORDER BY id"
            )
        ]

    def status(self, campaign_id: int) -> str:
        row = self.conn.execute("SELECT status FROM campaign WHERE id = %s", (campaign_id,))
        found = row.fetchone()
        return found[0] if found else "cancelled"

    def claim(self, campaign_id: int, limit: int) -> list[Claimed]:
        """The next queued rows, locked against other workers, in id order (the order an SMTP
        worker must send them in). Rows whose address has been suppressed, or whose client
        withdrew consent, since the snapshot are cancelled here: an unsubscribe takes effect
        for every later send."""
        with self.conn.transaction():
            rows = self.conn.execute(
                """
                WITH picked AS (
                    SELECT r.id FROM campaign_recipient r
                    WHERE r.campaign_id = %(cid)s AND r.status = 'queued'
                    ORDER BY r.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
                ), judged AS (
                    SELECT p.id,
                        EXISTS (SELECT 1 FROM suppression s WHERE s.email = r.email)
                        OR EXISTS (SELECT 1 FROM client c WHERE c.id = r.client_id
                                   AND (c.marketing_consent IS NOT TRUE
                                        OR c.deleted_at IS NOT NULL)) AS blocked
                    FROM picked p JOIN campaign_recipient r ON r.id = p.id
                )
                UPDATE campaign_recipient r
                SET status = CASE WHEN j.blocked THEN 'cancelled' ELSE 'claimed' END,
                    error = CASE WHEN j.blocked
                        THEN 'Unsubscribed, suppressed or no consent at send time' END,
                    worker = %(worker)s
                FROM judged j WHERE r.id = j.id
                RETURNING r.id, r.email, r.first_name, r.last_name, j.blocked
                """,
                {"cid": campaign_id, "limit": limit, "worker": self.worker},
            ).fetchall()
        return sorted(
            (Claimed(i, e, f, ln) for i, e, f, ln, blocked in rows if not blocked),
            key=lambda c: c.id,
        )

    # --- SMTP: one mark before each final dot, outcomes in bulk ---------------------------------

    def record(
        self,
        recipient_id: int,
        status: str,
        provider_id: str | None = None,
        error: str | None = None,
        message_id: str | None = None,
    ) -> None:
        """The outcome of one claimed row ('sent' or 'failed'), written with a later mark or
        at `settle_batch`. A failure is written with the very next one: until then a crash
        would count it sent."""
        self._outcomes.append(
            {
                "id": recipient_id,
                "status": status,
                "provider_id": provider_id,
                "message_id": message_id,
                "error": error,
            }
        )
        if status != "sent":
            self._outcomes_due = True

    def mark(self, recipient_id: int) -> None:
        """`begin_mark`, waiting for its answer."""
        self.begin_mark(recipient_id)()

    def begin_mark(self, recipient_id: int) -> Callable[[], None]:
        """The write right before a final dot: this row, the next of the batch in id order,
        may be sent from now on. Sent without waiting: returns the wait for its answer, read
        after the dot. Nothing else may use the connection in between."""
        if recipient_id <= self.reached:
            raise ValueError("a worker marks its claimed rows in increasing id order")
        params = [str(recipient_id).encode(), self._worker_param]
        name = _REACHED
        if self._outcomes and (
            self._outcomes_due
            or len(self._outcomes) >= SETTLE_EVERY
            or time.monotonic() - self._written_at > SETTLE_SECONDS
        ):
            name = _REACHED_WITH_OUTCOMES
            params.append(self._take_outcomes())
        self.conn.pgconn.send_query_prepared(name, params)
        self._unread = True
        self._before_mark, self.reached = self.reached, recipient_id
        return self._read_answer

    def _take_outcomes(self) -> bytes:
        payload = json.dumps(self._outcomes, separators=(",", ":")).encode()
        self._outcomes = []
        self._outcomes_due = False
        self._written_at = time.monotonic()
        return payload

    def _read_answer(self) -> None:
        if not self._unread:
            return
        self._unread = False
        pgconn = self.conn.pgconn
        failure = None
        while (result := pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                failure = result.error_message.decode("utf-8", "replace")
            elif result.command_tuples != 1:
                failure = "this worker's campaign_worker row is gone"
        if failure:
            raise psycopg.OperationalError(f"Could not record the send: {failure}")

    def _write(self, name: bytes, params: list[bytes | None]) -> None:
        self._read_answer()
        self.conn.pgconn.send_query_prepared(name, params)
        self._unread = True
        self._read_answer()

    def unmark(self) -> None:
        """The last marked row's final dot never went out: `reached` back to before it."""
        self._write(_REACHED, [str(self._before_mark).encode(), self._worker_param])
        self.reached = self._before_mark

    def flush(self) -> None:
        """Write the outcomes recorded so far now."""
        if self._outcomes:
            reached = str(self.reached).encode()
            outcomes = self._take_outcomes()
            self._write(_REACHED_WITH_OUTCOMES, [reached, self._worker_param, outcomes])
        else:
            self._read_answer()

    def settle_batch(self, rest: str = "queued") -> None:
        """The end of a batch (done, or stopped early): outcomes written; a row the dot may
        have reached but whose answer never came counts as sent (unconfirmed); the rows not
        sent go back to `rest` ('queued', or 'cancelled'); `reached` starts again at 0, so
        the next batch (whose ids may be lower) is judged by its own marks."""
        self.flush()
        with self.conn.transaction():
            self._settle_leftovers(self.worker, rest)
            self.conn.execute(
                "UPDATE campaign_worker SET reached = 0 WHERE worker = %s", (self.worker,)
            )
        self.reached = self._before_mark = 0

    # --- SendGrid: a whole batch per request ------------------------------------------------

    def mark_batch_sending(self, ids: list[int], batch_key: str) -> None:
        self.conn.execute(
            "UPDATE campaign_recipient SET status = 'sending', batch_key = %s "
            "WHERE id = ANY(%s) AND worker = %s",
            (batch_key, ids, self.worker),
        )

    def mark_batch(self, ids: list[int], status: str, provider_id: str | None, error: str | None):
        self.conn.execute(
            "UPDATE campaign_recipient SET status = %s, provider_message_id = %s, error = %s, "
            "sent_at = CASE WHEN %s = 'sent' THEN now() ELSE sent_at END "
            "WHERE id = ANY(%s) AND worker = %s",
            (status, provider_id, error, status, ids, self.worker),
        )

    def finish_if_done(self, campaign_id: int) -> bool:
        cur = self.conn.execute(
            "UPDATE campaign SET status = 'sent', finished_at = now(), updated_at = now() "
            "WHERE id = %s AND status = 'sending' AND NOT EXISTS (SELECT 1 FROM "
            "campaign_recipient WHERE campaign_id = %s AND status IN "
            "('queued', 'claimed', 'sending'))",
            (campaign_id, campaign_id),
        )
        return cur.rowcount == 1


def _check(result: PGresult, doing: str) -> None:
    if result.status != pq.ExecStatus.COMMAND_OK:
        message = result.error_message.decode("utf-8", "replace")
        raise psycopg.OperationalError(f"Could not {doing}: {message}")
