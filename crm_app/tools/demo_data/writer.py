"""Writing demo rows to PostgreSQL: reserved ids, COPY of text lines, and the chunk store that
COPYs ticket chunks on a few connections while Python generates the next."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg

from crm_app.db import database_url, libpq_url
from crm_app.tools.demo_data.tickets import _MESSAGE_COLUMNS, _TICKET_COLUMNS


def _reserve_ids(conn: psycopg.Connection, table: str, count: int, column: str = "id") -> list[int]:
    """Take `count` values from a column's sequence (safe beside concurrent inserts)."""
    rows = conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        (table, column, count),
    ).fetchall()
    conn.commit()
    return [row[0] for row in rows]


def _connect() -> psycopg.Connection:
    conn = psycopg.connect(libpq_url(database_url()), application_name="crm-seed-demo")
    # Demo rows can be re-seeded: trading crash durability for speed is fine here.
    conn.execute("SET synchronous_commit = off")
    conn.commit()
    return conn


def _copy_lines(
    conn: psycopg.Connection, statement: str, lines: Iterator[str], flush_every: int = 5000
) -> int:
    count = 0
    buffer: list[str] = []
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for line in lines:
            buffer.append(line)
            if len(buffer) >= flush_every:
                copy.write("".join(buffer))
                count += len(buffer)
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
            count += len(buffer)
    return count


class _ChunkStore:
    """COPYs chunks of tickets and messages on a few connections, each chunk one transaction."""

    def __init__(self, connections: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="seed-copy")
        self.limit = connections
        self.local = threading.local()
        self.connections: list[psycopg.Connection] = []
        self.lock = threading.Lock()
        self.pending: deque[tuple[Future[None], int]] = deque()

    def __enter__(self) -> _ChunkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for conn in self.connections:
            conn.close()

    def _store(self, ticket_lines: list[str], message_lines: list[str]) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = _connect()
            with self.lock:
                self.connections.append(conn)
        _copy_lines(conn, f"COPY ticket ({_TICKET_COLUMNS}) FROM STDIN", iter(ticket_lines))
        _copy_lines(
            conn, f"COPY ticket_message ({_MESSAGE_COLUMNS}) FROM STDIN", iter(message_lines)
        )
        conn.commit()

    def submit(self, ticket_lines: list[str], message_lines: list[str], *, done: int) -> None:
        # At most `limit` chunks wait in memory: wait for the oldest before queueing more.
        if len(self.pending) >= self.limit:
            self.pending[0][0].result()
        self.pending.append((self.pool.submit(self._store, ticket_lines, message_lines), done))

    def finished(self) -> Iterator[int]:
        """Ticket counts of the chunks committed so far (in order), raising any COPY error."""
        while self.pending and self.pending[0][0].done():
            future, done = self.pending.popleft()
            future.result()
            yield done

    def drain(self) -> Iterator[int]:
        while self.pending:
            future, done = self.pending.popleft()
            future.result()
            yield done
