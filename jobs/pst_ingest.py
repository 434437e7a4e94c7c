"""The `pst_ingest` job: read queued mail archives (PST/OST, mbox, EML) into the knowledge store.

- Claiming: `SELECT … FOR UPDATE SKIP LOCKED` over queued and running archives, then a
  session-level advisory lock on a connection held for the whole import. A running archive
  whose lock is free belongs to a worker that died: the next claimer takes it over at once.
- Three stages overlap: a read-ahead thread claims archives and parses them with `ingest/`
  (PST/OST and mbox in child processes) into one bounded queue, up to `READ_AHEAD_ARCHIVES`
  archives ahead of the one being embedded, so memory stays flat whatever the files' sizes;
  the drain's thread embeds batches; a writer thread commits each batch in order while the
  next is embedded. The embedding model loads while the first file is read.
- Each batch is one transaction (`services.archives.store_batch`): documents, chunks, vectors,
  a link per message, item errors, counters and the resume position. Killed at any point, the
  import resumes after the last committed batch of each archive it held; unique keys make a
  replay a no-op.
- Dedupe: a message whose dedup key is stored already (another archive) or whose Message-ID is
  in live mail is linked, never embedded or stored again.
- Priority: the work runs in a low-priority thread (`crm_app.ai.runtime`, `CRM_AI_NICE`) with
  embedding threads capped (`CRM_AI_MAX_THREADS`); PST children inherit the priority.

The reading side (attachment text and the file readers) is
`jobs.pst_ingest_reading`, which the PST child processes import; like that module, this one
imports nothing heavy at its top level.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.pst_ingest_reading import (
    PASSWORD_MESSAGE,
    QUEUE_RECORDS,
    Readers,
    TextAttachmentSink,
    _attachment_text,
    iter_positions,
)

log = logging.getLogger(__name__)

EMBED_BATCH_CHUNKS = 64  # chunks embedded (and stored) per batch: a kill loses at most one
EMBED_FORWARD_BATCH = 2  # texts per model forward pass (memory, see `_embedder`)
MAX_BATCH_MESSAGES = 512  # duplicates cost no embedding: still commit often
MAX_BATCH_SECONDS = 5.0
CHUNK_TOKENS = 180  # whitespace tokens per chunk: about the model's 256 word pieces
CHUNK_OVERLAP = 30
MAX_MESSAGE_CHUNKS = 12  # a long newsletter is searchable by its first ~2,000 words
MAX_ATTACHMENT_CHUNKS = 4


# --- one archive ------------------------------------------------------------------------------


@dataclass
class ArchiveResult:
    archive_id: int
    status: str
    messages_stored: int = 0
    duplicates_linked: int = 0
    attachments: int = 0
    skipped: int = 0
    errors: int = 0
    error: str | None = None
    error_lines: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(
        default_factory=lambda: {"read": 0.0, "embed": 0.0, "write": 0.0}
    )  # time each stage spent on this archive (they overlap)


Progress = Callable[[int, int, int, int, int], None]  # archive id, messages, dups, bytes, total


def _message_input(message: Any, position: int) -> Any:
    from crm_app.services.archives import MAX_ANSWER_CHARS, MAX_BODY_CHARS, ArchivedMessageInput
    from ingest.chunks import chunk_text

    def person(address: Any) -> dict[str, str]:
        return {"email": address.email, "name": address.name}

    body = (message.text_body or "").replace("\x00", "")
    subject = (message.subject or "").replace("\x00", "")
    head = f"{subject}\n\n{body}" if subject else body
    chunks = [c for c, _ in chunk_text(head, chunk_tokens=CHUNK_TOKENS, overlap=CHUNK_OVERLAP)]
    chunks = chunks[:MAX_MESSAGE_CHUNKS]
    attachments = []
    for attachment in message.attachments:
        text, why_not = _attachment_text(attachment.location)
        attachments.append(
            {
                "filename": attachment.filename or "(unnamed)",
                "content_type": attachment.content_type,
                "size": attachment.size,
                "text_indexed": bool(text.strip()),
                **({"text_error": why_not} if why_not else {}),
            }
        )
        if text.strip():
            label = f"Attachment {attachment.filename or ''} of \u201c{subject}\u201d:\n"
            pieces = chunk_text(text, chunk_tokens=CHUNK_TOKENS, overlap=CHUNK_OVERLAP)
            chunks.extend(label + piece for piece, _ in pieces[:MAX_ATTACHMENT_CHUNKS])
    if not chunks:
        people = ", ".join(str(a) for a in message.participants)
        chunks = [f"{subject or '(no subject)'}\n{people}".strip()]
    emails = sorted({a.email.lower() for a in message.participants if a.email})
    meta = {
        "folder": message.provenance.folder,
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "from": person(message.sender) if message.sender else None,
        "to": [person(a) for a in message.to],
        "cc": [person(a) for a in message.cc],
        "date": message.date.isoformat(),
        "attachments": attachments,
        "position": position,
        "body": body[:MAX_BODY_CHARS],
    }
    answer = (message.reply_text or body or "").strip()[:MAX_ANSWER_CHARS]
    return ArchivedMessageInput(
        position=position,
        dedup_key=message.dedup_key,
        message_id=message.message_id,
        subject=subject,
        folder=message.provenance.folder,
        occurred_at=message.date,
        participants=emails,
        meta=meta,
        answer=answer,
        chunks=chunks,
    )


def _embedder(provider: Any) -> Callable[[list[str]], Any]:
    """The provider's embed, and for the offline model small forward batches: its activation
    memory grows with the batch (attention is batch x heads x tokens^2). On one CPU thread,
    texts sorted by length, 2 per pass embed as fast as 8 (a little faster: less padding) with
    about 50 MB less held by onnxruntime's arena."""
    from crm_app.ai.embeddings import LocalMiniLM, LocalMultilingual

    if not isinstance(provider, LocalMiniLM | LocalMultilingual):
        return provider.embed
    provider.embed(["warm up"], batch_size=1)
    _return_freed_memory()  # the model's build leaves freed heap behind
    return lambda texts: provider.embed(texts, batch_size=EMBED_FORWARD_BATCH)


def _return_freed_memory() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


READ_AHEAD_ARCHIVES = 4  # archives claimed and read ahead of the one being embedded
READ_AHEAD_RECORDS = QUEUE_RECORDS - 1  # parsed records held for all of them together


@dataclass(eq=False)
class _Import:
    """One claimed archive on its way through the stages: read, embed, write."""

    archive_id: int
    total: int
    scratch: Path
    records: Iterator[tuple[int, Any, int]] | None
    result: ArchiveResult
    fatal: str | None = None
    cancelled: bool = False
    broken: bool = False  # a stage failed: the rest of the file is not read

    @property
    def stopped(self) -> bool:
        return self.cancelled or self.broken

    def fail(self, error: BaseException) -> None:
        log.error("archive import failed", exc_info=error, extra={"archive_id": self.archive_id})
        self.fatal = f"The import stopped: {type(error).__name__}: {error}"[:1000]
        self.broken = True


def _open_archive(archive_id: int, readers: Readers) -> _Import | None:
    """A claimed archive, ready to read from its resume position (None when it is gone)."""
    from crm_app.db import session_scope
    from crm_app.services.archives.imap import is_imap_path
    from jobs.archive_imap import iter_imap_positions
    from models.archive import Archive, ArchiveStatus
    from models.base import utcnow

    with session_scope() as session:
        archive = session.get(Archive, archive_id)
        if archive is None:
            return None
        source, start, total = archive.path, archive.resume_position, archive.bytes_total
        if archive.started_at is None:
            archive.started_at = utcnow()
    scratch = Path(tempfile.mkdtemp(prefix=f"archive-{archive_id}-"))
    result = ArchiveResult(archive_id, ArchiveStatus.RUNNING)
    job = _Import(archive_id, total, scratch, None, result)
    path = Path(source)
    if is_imap_path(source):  # a mailbox folder: `jobs/archive_imap.py`
        job.records = iter_imap_positions(source, TextAttachmentSink(scratch), start)
    elif path.is_file():
        job.records = iter_positions(path, TextAttachmentSink(scratch), start, readers)
    else:
        job.fatal = f"The file is no longer there: {path}"
    return job


class _ReadAhead:
    """Claims archive after archive and parses each into one bounded queue, in a thread of its
    own: the next archives are read while the one before is still embedded and stored. At
    most `READ_AHEAD_ARCHIVES` archives are held beyond the one being embedded (a slot is
    given back when an archive's end is written), and fewer than `QUEUE_RECORDS` records wait
    in memory for all of them, so memory stays flat. Files are read one after another, so one
    set of reader children serves them all."""

    def __init__(self, claim: Callable[[], _Import | None]) -> None:
        self.queue: queue.Queue[tuple[str, _Import, Any] | None] = queue.Queue(
            maxsize=READ_AHEAD_RECORDS
        )
        self.slots = threading.Semaphore(READ_AHEAD_ARCHIVES + 1)
        self.error: BaseException | None = None
        self._claim = claim
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="archive-read", daemon=True)
        self._thread.start()

    def _put(self, item: tuple[str, _Import, Any] | None) -> bool:
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.slots.acquire(timeout=0.5):
                    continue
                job = self._claim()
                if job is None:
                    self.slots.release()
                    break
                if not self._put(("start", job, None)):
                    break
                self._read(job)
                if not self._put(("end", job, None)):
                    break
        except BaseException as error:  # a claim failed: handed to the consumer
            self.error = error
        finally:
            self._put(None)

    def _read(self, job: _Import) -> None:
        records = job.records
        if records is None:
            return
        try:
            while not job.stopped:
                started = time.monotonic()
                item = next(records, None)
                job.result.stage_seconds["read"] += time.monotonic() - started
                if item is None or not self._put(("record", job, item)):
                    break
        except Exception as error:  # a reader bug: that archive says so
            job.fail(error)
        finally:
            with contextlib.suppress(Exception):
                records.close()  # type: ignore[attr-defined]  # a generator: its children go

    def __iter__(self) -> Iterator[tuple[str, _Import, Any]]:
        while True:
            item = self.queue.get()
            if item is None:
                if self.error is not None:
                    raise self.error
                return
            yield item

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self.queue.get_nowait()
        self._thread.join(timeout=30)


class _Writer:
    """Commits each batch (`services.archives.store_batch`) in order in a thread of its own
    while the next batch is embedded; an archive's end is written after its last batch."""

    def __init__(
        self, embedding_model: str, progress: Progress | None, finish: Callable[[_Import], None]
    ) -> None:
        self.queue: queue.Queue[tuple[_Import, Any] | None] = queue.Queue(maxsize=1)
        self._model, self._progress, self._finish = embedding_model, progress, finish
        self._thread = threading.Thread(target=self._run, name="archive-write", daemon=True)
        self._thread.start()

    def put(self, job: _Import, batch: Any) -> None:
        """Hand over a batch (None: the archive's end); waits while one batch is queued."""
        self.queue.put((job, batch))

    def close(self) -> None:
        self.queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            job, batch = item
            started = time.monotonic()
            try:
                if batch is None:
                    self._finish(job)
                elif not job.stopped:
                    self._store(job, batch)
            except Exception as error:  # a database failure: that archive says so
                job.fail(error)
                if batch is None:
                    log.exception("archive end not written", extra={"archive_id": job.archive_id})
            job.result.stage_seconds["write"] += time.monotonic() - started

    def _store(self, job: _Import, batch: Any) -> None:
        from crm_app.services import archives as service

        outcome = service.store_batch(job.archive_id, batch, self._model)
        result = job.result
        result.messages_stored += outcome.stored
        result.duplicates_linked += outcome.duplicates
        result.attachments += batch.attachments
        result.skipped += batch.skipped
        result.errors += len(batch.errors)
        if self._progress:
            self._progress(
                job.archive_id,
                result.messages_stored,
                result.duplicates_linked,
                batch.bytes_done,
                job.total,
            )
        if outcome.cancel_requested or outcome.gone:
            job.cancelled = True


class _Batcher:
    """The embedding stage of one archive: gathers its records into batches, drops what is
    known already, embeds the rest and hands each batch to the writer."""

    def __init__(self, job: _Import, embed: Callable[[list[str]], Any], writer: _Writer) -> None:
        self.job, self._embed, self._writer = job, embed, writer
        self.next_position = self.bytes_done = self.chunk_count = 0
        self.pending: list[Any] = []
        self.errors: list[tuple[int | None, str | None, str, bool]] = []
        self.attachments = self.skipped = 0
        self.started = time.monotonic()

    def add(self, position: int, record: Any, done: int) -> None:
        from ingest.model import ItemError, Message, NonMailItem

        self.next_position, self.bytes_done = position + 1, max(self.bytes_done, done)
        if isinstance(record, Message):
            item = _message_input(record, position)
            self.pending.append(item)
            self.chunk_count += len(item.chunks)
            self.attachments += len(record.attachments)
        elif isinstance(record, NonMailItem):
            self.skipped += 1
        elif isinstance(record, ItemError):
            where = record.provenance.folder
            self.errors.append((position, where, record.message, record.fatal_for_file))
            line = f"{where}#{position}: {record.message}" if where else record.message
            self.job.result.error_lines.append(line)
            if record.fatal_for_file:
                self.job.fatal = record.message
        if (
            self.chunk_count >= EMBED_BATCH_CHUNKS
            or len(self.pending) >= MAX_BATCH_MESSAGES
            or time.monotonic() - self.started > MAX_BATCH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        from crm_app.services import archives as service

        pending = self.pending
        stored, live = service.known_messages(
            [m.dedup_key for m in pending], [m.message_id for m in pending if m.message_id]
        )
        seen: set[str] = set()
        texts: list[str] = []
        for m in pending:
            ref = service.source_ref_for(m.dedup_key)
            mid = (m.message_id or "").strip("<>")
            if ref in stored or ref in seen or (mid and mid in live):
                m.chunks = []  # known: linked, never embedded again
            seen.add(ref)
            texts.extend(m.chunks)
        started = time.monotonic()
        vectors = self._embed(texts) if texts else []
        self.job.result.stage_seconds["embed"] += time.monotonic() - started
        offset = 0
        for m in pending:
            m.vectors = [v.tolist() for v in vectors[offset : offset + len(m.chunks)]]
            offset += len(m.chunks)
        batch = service.BatchInput(
            messages=pending,
            errors=self.errors,
            attachments=self.attachments,
            skipped=self.skipped,
            next_position=self.next_position,
            bytes_done=self.bytes_done,
        )
        self.pending, self.errors, self.chunk_count = [], [], 0
        self.attachments = self.skipped = 0
        self.started = time.monotonic()
        self._writer.put(self.job, batch)


def _embed_all(read_ahead: _ReadAhead, embed: Callable[[list[str]], Any], writer: _Writer) -> None:
    """The consumer: every record read ahead, archive by archive, into batches to the writer."""
    batcher: _Batcher | None = None
    for tag, job, item in read_ahead:
        if tag == "start":
            batcher = _Batcher(job, embed, writer)
            continue
        assert batcher is not None and batcher.job is job  # archives come one after another
        if tag == "record":
            if not job.stopped:
                try:
                    batcher.add(*item)
                except Exception as error:  # a bug or a database failure: the archive says so
                    job.fail(error)
            continue
        if not job.stopped:  # the end: the last batch carries the resume position
            try:
                batcher.flush()
            except Exception as error:
                job.fail(error)
        for leftover in job.scratch.glob("*"):
            leftover.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            job.scratch.rmdir()
        writer.put(job, None)
        batcher = None


def _write_end(job: _Import) -> None:
    """An archive's final state, once its last batch is committed."""
    from crm_app.db import session_scope
    from models.archive import Archive, ArchiveStatus
    from models.base import utcnow

    result = job.result
    with session_scope() as session:
        archive = session.get(Archive, job.archive_id, with_for_update=True)
        if archive is None:
            result.status = "gone"
            return
        if job.cancelled or archive.cancel_requested:
            archive.status = ArchiveStatus.CANCELLED
        elif job.fatal:
            archive.status, archive.error = ArchiveStatus.FAILED, _explain(job.fatal)
        else:
            archive.status, archive.bytes_done = ArchiveStatus.DONE, archive.bytes_total
        archive.finished_at = archive.heartbeat_at = utcnow()
        result.status, result.error = archive.status, archive.error


def _explain(message: str) -> str:
    """The archive's error in words an operator can act on (the messages read before it stay)."""
    lowered = message.lower()
    if message == PASSWORD_MESSAGE:
        return message
    if "crashed" in lowered or "unable to open" in lowered or "not a pst" in lowered:
        return f"The file is damaged or not what its name says: {message}"
    return message


# --- claiming ---------------------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_next(
    lock_conn: Any, only: list[int] | None = None, held: Collection[int] = ()
) -> int | None:
    """Take the oldest queued archive, or a running one whose worker died; hold its advisory
    lock on `lock_conn` (released when that connection closes, so also when we are killed).

    `held`: archives whose lock `lock_conn` holds already. A session's advisory lock is
    re-entrant, so without it read-ahead would claim again the archive being imported."""
    import sqlalchemy as sa
    from sqlmodel import col

    from crm_app.db import session_scope
    from crm_app.services.archives import ARCHIVE_LOCK_CLASS
    from models.archive import Archive, ArchiveStatus
    from models.base import utcnow

    with session_scope() as session:
        query = (
            sa.select(Archive)
            .where(col(Archive.status).in_([ArchiveStatus.QUEUED, ArchiveStatus.RUNNING]))
            .order_by(col(Archive.id))
            .limit(20)
            .with_for_update(skip_locked=True)
        )
        if only is not None:
            query = query.where(col(Archive.id).in_(only))
        if held:
            query = query.where(col(Archive.id).not_in(list(held)))
        claimed: list[Archive] = list(session.execute(query).scalars())
        for archive in claimed:
            locked = lock_conn.execute(
                sa.select(sa.func.pg_try_advisory_lock(ARCHIVE_LOCK_CLASS, archive.id))
            ).scalar()
            if not locked:
                continue  # a live worker is on it
            if archive.cancel_requested:
                archive.status, archive.finished_at = ArchiveStatus.CANCELLED, utcnow()
                lock_conn.execute(
                    sa.select(sa.func.pg_advisory_unlock(ARCHIVE_LOCK_CLASS, archive.id))
                )
                continue
            archive.status, archive.worker = ArchiveStatus.RUNNING, worker_name()
            archive.heartbeat_at = utcnow()
            return archive.id
    return None


def drain(
    *,
    only: list[int] | None = None,
    seconds: float | None = None,
    provider: Any = None,
    progress: Progress | None = None,
    on_result: Callable[[ArchiveResult], None] | None = None,
) -> list[ArchiveResult]:
    """Import archive after archive until none is left (or `seconds` have passed: no new claim
    after that). Three stages overlap: a thread claims and reads archives ahead, this one
    embeds, a thread commits; the embedding model loads while the first file is read."""
    import sqlalchemy as sa

    from crm_app.ai.embeddings import get_provider
    from crm_app.db import get_engine
    from crm_app.services.archives import ARCHIVE_LOCK_CLASS

    provider = provider or get_provider()
    readers = Readers()
    results: list[ArchiveResult] = []
    deadline = time.monotonic() + seconds if seconds else None
    # A connection of its own for the archive locks, closed (not pooled) at the end: a
    # session-level lock must never outlive this run on a pooled connection. The reading
    # thread claims on it and the writing thread unlocks: one at a time.
    lock_conn = get_engine().connect().execution_options(isolation_level="AUTOCOMMIT")
    lock = threading.Lock()
    held: set[int] = set()

    def release(archive_id: int) -> None:
        with lock:
            lock_conn.execute(sa.select(sa.func.pg_advisory_unlock(ARCHIVE_LOCK_CLASS, archive_id)))
            held.discard(archive_id)

    def claim() -> _Import | None:
        while deadline is None or time.monotonic() < deadline:
            with lock:
                archive_id = claim_next(lock_conn, only, held)
                if archive_id is None:
                    return None
                held.add(archive_id)
            job = _open_archive(archive_id, readers)
            if job is not None:
                return job
            release(archive_id)
        return None

    def finish(job: _Import) -> None:
        try:
            _write_end(job)
        finally:
            release(job.archive_id)
            read_ahead.slots.release()
        result = job.result
        results.append(result)
        if on_result:
            on_result(result)
        log.info(
            "archive imported",
            extra={
                "archive_id": job.archive_id,
                "status": str(result.status),
                "stored": result.messages_stored,
                "linked": result.duplicates_linked,
                "errors": result.errors,
                "stage_seconds": {k: round(v, 1) for k, v in result.stage_seconds.items()},
            },
        )

    read_ahead = _ReadAhead(claim)
    writer: _Writer | None = None
    try:
        embed = _embedder(provider)  # while the first file is read
        writer = _Writer(provider.name, progress, finish)
        _embed_all(read_ahead, embed, writer)
    finally:
        read_ahead.stop()
        if writer is not None:
            writer.close()
        readers.close()
        lock_conn.invalidate()
        lock_conn.close()
    return results


def run() -> int:
    """The scheduled job: import what is queued, at low priority."""
    from crm_app.ai import runtime

    results = runtime.run_in_background(lambda: drain(seconds=3600))
    return len(results)
