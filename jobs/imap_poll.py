"""The `imap_poll` job: bring new mail of every enabled mailbox in as tickets.

Each run looks at the enabled mailboxes that are due (their poll interval has passed, or they
use IDLE) and works each on its own thread, holding a PostgreSQL advisory lock for that mailbox
on a dedicated connection (`pg_try_advisory_lock`): any number of jobs processes may run, and a
mailbox another process is working is skipped. The lock dies with its connection, so a killed
process never leaves a mailbox locked.

Per folder: SELECT, compare UIDVALIDITY with the stored one (changed: the folder is read again
from the start; Message-ID dedupe keeps anything from being imported twice), then fetch by UID
above the stored last UID, in batches; each batch is imported and the position moved in one
transaction (`crm_app.services.mail.inbound.import_batch`), so a dropped connection or a killed
process resumes exactly where it stopped. After the mail is committed it is marked seen or moved,
as the mailbox says. Where the server offers IDLE (and the mailbox wants it), the run then waits
in IDLE on the first folder until just before the next run (at most the poll interval) and
imports what arrives at once.

    python -m jobs.imap_poll [--mailbox ID ...]   # one pass over the mailboxes, no IDLE
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import psycopg
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from crm_app.db import database_url, libpq_url
from crm_app.services import events, mailboxes
from crm_app.services.mail import imap_client, parse_pool
from crm_app.services.mail.imap_client import MailConnectionError
from crm_app.services.mail.inbound import BatchResult, FetchedMail, MailboxRef, import_batch
from crm_app.services.mail.parse_pool import ParsedBatch
from crm_app.settings import get_settings
from models.mailbox import AfterFetch

log = logging.getLogger("jobs.imap_poll")

# Advisory lock space of the mail poller: (MAILBOX_LOCK_CLASS, mailbox id).
MAILBOX_LOCK_CLASS = 7_242_012
BATCH_MESSAGES = 250
BATCH_BYTES = 16 * 1024 * 1024
SIZE_CHUNK = 2000  # UIDs per RFC822.SIZE fetch
RECONNECTS = 3  # within one run, after a dropped connection
MAX_THREADS = 4
_NETWORK_ERRORS = (OSError, IMAPClientError, socket.timeout, EOFError)


@dataclass
class PollResult:
    mailbox_id: int
    folders: int = 0
    fetched: int = 0
    imported: int = 0
    ignored: int = 0
    failed: int = 0
    duplicates: int = 0
    tickets_created: int = 0
    resynced: list[str] = field(default_factory=list)
    reconnects: int = 0
    idle_used: bool = False
    error: str | None = None
    seconds: float = 0.0  # from connecting to the last commit

    def add(self, batch: BatchResult, fetched: int) -> None:
        self.fetched += fetched
        self.imported += batch.imported
        self.ignored += batch.ignored
        self.failed += batch.failed
        self.duplicates += batch.duplicates
        self.tickets_created += batch.tickets_created


@contextmanager
def mailbox_lock(mailbox_id: int) -> Iterator[bool]:
    """Hold the mailbox's advisory lock for the block; yields False when another holds it."""
    conn = psycopg.connect(
        libpq_url(database_url()),
        autocommit=True,
        application_name=f"crm-imap-poll-{mailbox_id}",
        connect_timeout=10,
    )
    try:
        got = conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (MAILBOX_LOCK_CLASS, mailbox_id)
        ).fetchone()
        held = bool(got and got[0])
        try:
            yield held
        finally:
            if held and not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (MAILBOX_LOCK_CLASS, mailbox_id))
    finally:
        conn.close()


class AfterCommit:
    """Runs committed batches' events (notifications, live updates) on a thread of its own,
    in order, while the poller fetches the next batch. Bounded: a slow subscriber slows the
    poller instead of growing memory."""

    def __init__(self, depth: int = 4) -> None:
        self._queue: queue.Queue[list[events.Event] | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._work, name="mail-events", daemon=True)
        self._thread.start()

    def __call__(self, batch: list[events.Event]) -> None:
        if batch:
            self._queue.put(batch)

    def _work(self) -> None:
        while (batch := self._queue.get()) is not None:
            events.emit_all(batch)  # never raises: subscribers' failures are logged

    def close(self) -> None:
        """Wait until every queued event ran."""
        self._queue.put(None)
        self._thread.join()


def run() -> None:
    """One scheduled pass: every due mailbox, each on its own thread (IDLE bounded)."""
    due = mailboxes.due_for_poll()
    if not due:
        return
    # IDLE ends before the next tick, so runs follow each other instead of being skipped;
    # mail that arrives while a mailbox is in IDLE is imported at once.
    idle_budget = max(0, get_settings().mail_poll_tick_seconds - 2)
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(due))) as pool:
        results = list(
            pool.map(
                lambda item: poll_mailbox(
                    item.id,
                    idle_seconds=min(item.poll_seconds, idle_budget) if item.use_idle else 0,
                ),
                due,
            )
        )
    for result in results:
        if result is not None:
            log.info("mailbox polled", extra=asdict(result))


def poll_mailbox(
    mailbox_id: int, *, idle_seconds: float = 0, batch_size: int = BATCH_MESSAGES
) -> PollResult | None:
    """Fetch and import everything new in one mailbox; None when another process holds it.

    Side effects: imports (see `inbound.import_batch`); marks fetched mail seen or moves it;
    records the poll (time, error and since when) on the mailbox.
    """
    with mailbox_lock(mailbox_id) as held:
        if not held:
            log.info("mailbox busy in another process", extra={"mailbox_id": mailbox_id})
            return None
        config = mailboxes.poll_config(mailbox_id)
        if config is None:
            return None
        result = PollResult(mailbox_id=mailbox_id)
        started = time.perf_counter()
        parse_pool.warm_up()  # while connecting and listing the folder
        try:
            _poll(config, result, idle_seconds=idle_seconds, batch_size=batch_size)
        except MailConnectionError as error:
            result.error = str(error)
        except _NETWORK_ERRORS as error:
            result.error = f"connection lost: {error!r}"[:500]
        result.seconds = round(time.perf_counter() - started, 3)
        mailboxes.record_poll(mailbox_id, error=result.error)
        return result


def _poll(
    config: mailboxes.PollConfig, result: PollResult, *, idle_seconds: float, batch_size: int
) -> None:
    ref = MailboxRef(config.id, config.name, config.address)
    emit = AfterCommit()
    try:
        _poll_with(config, ref, result, emit, idle_seconds=idle_seconds, batch_size=batch_size)
    finally:
        emit.close()


def _poll_with(
    config: mailboxes.PollConfig,
    ref: MailboxRef,
    result: PollResult,
    emit: AfterCommit,
    *,
    idle_seconds: float,
    batch_size: int,
) -> None:
    attempts = 0
    while True:
        client = imap_client.connect(config.account)
        try:
            for folder in config.account.folders:
                _sync_folder(client, config, ref, folder, result, batch_size, emit)
            result.folders = len(config.account.folders)
            if idle_seconds > 0 and config.use_idle and client.has_capability("IDLE"):
                result.idle_used = True
                _idle(client, config, ref, result, idle_seconds, batch_size, emit)
            return
        except _NETWORK_ERRORS as error:
            attempts += 1
            result.reconnects = attempts
            log.warning(
                "imap connection lost; resuming",
                extra={"mailbox_id": config.id, "error": repr(error)[:200], "attempt": attempts},
            )
            if attempts > RECONNECTS:
                raise
            time.sleep(min(2 ** (attempts - 1), 5) * 0.2)
        finally:
            imap_client.disconnect(client)


def _sync_folder(
    client: IMAPClient,
    config: mailboxes.PollConfig,
    ref: MailboxRef,
    folder: str,
    result: PollResult,
    batch_size: int,
    emit: AfterCommit,
) -> None:
    info = client.select_folder(folder)
    uidvalidity = int(info[b"UIDVALIDITY"])
    stored = mailboxes.folder_position(config.id, folder)
    last_uid = 0
    if stored is not None and stored.uidvalidity == uidvalidity:
        last_uid = stored.last_uid
    elif stored is not None and stored.uidvalidity is not None:
        result.resynced.append(folder)
        log.warning(
            "UIDVALIDITY changed: reading the folder again",
            extra={
                "mailbox_id": config.id,
                "folder": folder,
                "was": stored.uidvalidity,
                "now": uidvalidity,
            },
        )
    if stored is None or stored.uidvalidity != uidvalidity:
        mailboxes.mark_folder(config.id, folder, uidvalidity)
    uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
    if not uids:
        return
    max_bytes = get_settings().mail_max_message_bytes
    for start in range(0, len(uids), SIZE_CHUNK):
        chunk = uids[start : start + SIZE_CHUNK]
        sizes = {
            uid: int(data.get(b"RFC822.SIZE", 0))
            for uid, data in client.fetch(chunk, ["RFC822.SIZE"]).items()
        }
        # A pipeline: while one batch is written, the next is fetched and parsed (in worker
        # processes). Batches still commit one after the other, in UID order.
        pending: _Pending | None = None
        try:
            for batch in _batches(chunk, sizes, batch_size):
                mails = _fetch(client, batch, sizes, max_bytes)
                parsing = parse_pool.submit(ref.name, folder, mails)
                if pending is not None:
                    _import_pending(client, config, ref, folder, uidvalidity, pending, result, emit)
                pending = _Pending(batch[-1], mails, parsing)
        except _NETWORK_ERRORS:
            if pending is not None:  # what was fetched is kept before reconnecting
                _import_pending(client, config, ref, folder, uidvalidity, pending, result, emit)
            raise
        if pending is not None:
            _import_pending(client, config, ref, folder, uidvalidity, pending, result, emit)


@dataclass
class _Pending:
    last_uid: int
    mails: list[FetchedMail]
    parsing: ParsedBatch


def _fetch(
    client: IMAPClient, batch: list[int], sizes: dict[int, int], max_bytes: int
) -> list[FetchedMail]:
    wanted = [uid for uid in batch if sizes.get(uid, 0) <= max_bytes]
    bodies = client.fetch(wanted, ["BODY.PEEK[]"]) if wanted else {}
    mails = []
    for uid in batch:
        size = sizes.get(uid)
        if uid not in sizes:
            continue  # expunged meanwhile
        if size is not None and size > max_bytes:
            mails.append(FetchedMail(uid, b"", size, refused=_too_large(size, max_bytes)))
            continue
        raw = (bodies.get(uid) or {}).get(b"BODY[]")
        if raw is None:
            continue  # expunged between the two fetches
        mails.append(FetchedMail(uid, bytes(raw), size))
    return mails


def _import_pending(
    client: IMAPClient,
    config: mailboxes.PollConfig,
    ref: MailboxRef,
    folder: str,
    uidvalidity: int,
    pending: _Pending,
    result: PollResult,
    emit: AfterCommit,
) -> None:
    batch_result = import_batch(
        ref,
        folder,
        uidvalidity,
        pending.mails,
        last_uid=pending.last_uid,
        emit=emit,
        parsed=pending.parsing.result(),
    )
    result.add(batch_result, len(pending.mails))
    _after_fetch(client, config, [mail.uid for mail in pending.mails])


def _batches(uids: Sequence[int], sizes: dict[int, int], limit: int) -> Iterator[list[int]]:
    """Consecutive UIDs, at most `limit` messages and about BATCH_BYTES per batch."""
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= limit or total + size > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _too_large(size: int, limit: int) -> str:
    return f"message of {size / 1048576:.1f} MB is larger than the {limit / 1048576:.0f} MB limit"


def _after_fetch(client: IMAPClient, config: mailboxes.PollConfig, uids: list[int]) -> None:
    """Mark the imported mail seen, or move it (after the commit: a crash before this only
    leaves mail unmarked, never unimported)."""
    if not uids:
        return
    if config.after_fetch == AfterFetch.MOVE and config.move_to_folder:
        if client.has_capability("MOVE"):
            client.move(uids, config.move_to_folder)
        else:
            client.copy(uids, config.move_to_folder)
            client.delete_messages(uids)
            client.uid_expunge(uids) if client.has_capability("UIDPLUS") else client.expunge()
    else:
        client.add_flags(uids, [b"\\Seen"], silent=True)


def _idle(
    client: IMAPClient,
    config: mailboxes.PollConfig,
    ref: MailboxRef,
    result: PollResult,
    seconds: float,
    batch_size: int,
    emit: AfterCommit,
) -> None:
    """Wait in IDLE on the first folder for up to `seconds`; import what arrives at once."""
    folder = config.account.folders[0]
    deadline = time.monotonic() + seconds
    client.select_folder(folder)
    while (remaining := deadline - time.monotonic()) > 0:
        client.idle()
        try:
            responses = client.idle_check(timeout=min(remaining, 60))
        finally:
            client.idle_done()
        if any(len(item) > 1 and item[1] in (b"EXISTS", b"RECENT") for item in responses):
            _sync_folder(client, config, ref, folder, result, batch_size, emit)


def main(argv: Sequence[str] | None = None) -> int:
    """One pass over the given (default: all enabled) mailboxes; prints a JSON line each."""
    from crm_app.logging_setup import configure_logging

    parser = argparse.ArgumentParser(prog="python -m jobs.imap_poll")
    parser.add_argument("--mailbox", type=int, action="append", help="mailbox id (repeatable)")
    parser.add_argument("--batch", type=int, default=BATCH_MESSAGES)
    args = parser.parse_args(argv)
    configure_logging()
    ids = args.mailbox or [item.id for item in mailboxes.due_for_poll(ignore_interval=True)]
    failed = False
    for mailbox_id in ids:
        result = poll_mailbox(mailbox_id, batch_size=args.batch)
        print(json.dumps(asdict(result) if result else {"mailbox_id": mailbox_id, "busy": True}))
        failed = failed or bool(result and result.error)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
