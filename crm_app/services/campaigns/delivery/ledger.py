"""The worker's database side: its liveness lock, claiming recipients with `FOR UPDATE SKIP
LOCKED`, the marks of the send protocol, and settling the rows of dead workers."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq

from crm_app.db import database_url, libpq_url

log = logging.getLogger(__name__)


def _mark_sql(rows: int) -> bytes:
    values = ", ".join(
        f"(${5 * i + 1}::bigint, ${5 * i + 2}::text, ${5 * i + 3}::text, ${5 * i + 4}::text, "
        f"${5 * i + 5}::text)"
        for i in range(rows)
    )
    return (
        "UPDATE campaign_recipient r SET status = v.status, "
        "provider_message_id = coalesce(v.pid, r.provider_message_id), "
        "message_id = coalesce(v.mid, r.message_id), error = v.err, "
        "sent_at = CASE WHEN v.status = 'sent' THEN now() ELSE r.sent_at END "
        f"FROM (VALUES {values}) AS v(id, status, pid, mid, err) "
        f"WHERE r.id = v.id AND r.worker = ${5 * rows + 1}::bigint"
    ).encode()


_MARK_SQL = {1: _mark_sql(1), 2: _mark_sql(2)}


def _nothing() -> None:
    return None


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

    def close(self) -> None:
        self.conn.close()

    def reconcile(self) -> dict[str, int]:
        """Settle the rows of dead workers: `claimed` back to the queue, `sending` counted sent
        (unconfirmed; see the package docstring)."""
        owners = [
            w
            for (w,) in self.conn.execute(
                "SELECT DISTINCT worker FROM campaign_recipient "
                "WHERE status IN ('claimed', 'sending') AND worker IS NOT NULL"
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
                released += self.conn.execute(
                    "UPDATE campaign_recipient SET status = 'queued', worker = NULL, "
                    "batch_key = NULL WHERE worker = %s AND status = 'claimed'",
                    (owner,),
                ).rowcount
                settled += self.conn.execute(
                    "UPDATE campaign_recipient SET status = 'sent', unconfirmed = true, "
                    "sent_at = coalesce(sent_at, now()) WHERE worker = %s AND status = 'sending'",
                    (owner,),
                ).rowcount
            finally:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (owner,))
        if released or settled:
            log.warning(
                "campaign rows of a dead worker settled",
                extra={"released": released, "counted_sent_unconfirmed": settled},
            )
        return {"released": released, "unconfirmed": settled}

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
        """The next queued rows, locked against other workers. Rows whose address has been
        suppressed, or whose client withdrew consent, since the snapshot are cancelled here:
        an unsubscribe takes effect for every later send."""
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

    def mark(
        self,
        sending: int | None,
        message_id: str | None,
        done: tuple[int, str, str | None, str | None] | None,
    ) -> None:
        """One round trip: `done` = (id, 'sent'|'failed', provider id, error) for the previous
        message, and `sending` for the one whose last byte goes next."""
        self.begin_mark(sending, message_id, done)()

    def begin_mark(
        self,
        sending: int | None,
        message_id: str | None,
        done: tuple[int, str, str | None, str | None] | None,
    ) -> Callable[[], None]:
        """`mark`, sent without waiting: returns the wait for its answer. Nothing else may use
        the connection in between (the SMTP exchange overlaps the database's round trip)."""
        rows: list[tuple[Any, ...]] = []
        if done is not None:
            rows.append((done[0], done[1], done[2], None, done[3]))
        if sending is not None:
            rows.append((sending, "sending", None, message_id, None))
        if not rows:
            return _nothing
        params: list[bytes | None] = [
            None if value is None else str(value).encode() for row in rows for value in row
        ]
        params.append(str(self.worker).encode())
        pgconn = self.conn.pgconn
        pgconn.send_query_params(_MARK_SQL[len(rows)], params)

        def wait() -> None:
            failure = None
            while (result := pgconn.get_result()) is not None:
                if result.status != pq.ExecStatus.COMMAND_OK:
                    failure = result.error_message.decode("utf-8", "replace")
            if failure:
                raise psycopg.OperationalError(f"Could not record the send: {failure}")

        return wait

    def unmark(self, recipient_id: int) -> None:
        """A `sending` row whose final dot never went out: claimed again (nothing was sent)."""
        self.conn.execute(
            "UPDATE campaign_recipient SET status = 'claimed' "
            "WHERE id = %s AND worker = %s AND status = 'sending'",
            (recipient_id, self.worker),
        )

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

    def release(self, ids: list[int], status: str = "queued") -> None:
        if ids:
            self.conn.execute(
                "UPDATE campaign_recipient SET status = %s, worker = NULL "
                "WHERE id = ANY(%s) AND worker = %s AND status = 'claimed'",
                (status, ids, self.worker),
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
