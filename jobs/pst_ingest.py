"""The `pst_ingest` job: read queued mail archives (PST/OST, mbox, EML) into the knowledge store.

- Claiming: `SELECT … FOR UPDATE SKIP LOCKED` over queued and running archives, then a
  session-level advisory lock on a connection held for the whole import. A running archive
  whose lock is free belongs to a worker that died: the next claimer takes it over at once.
- Reading: `ingest/` parses in a producer thread (PST/OST in pypff child processes), into a
  bounded queue, so memory stays flat whatever the file's size; the consumer embeds and
  stores batches while the next records are parsed.
- Each batch is one transaction (`services.archives.store_batch`): documents, chunks, vectors,
  a link per message, item errors, counters and the resume position. Killed at any point, the
  import resumes after the last committed batch; unique keys make a replay a no-op.
- Dedupe: a message whose dedup key is stored already (another archive) or whose Message-ID is
  in live mail is linked, never embedded or stored again.
- Priority: the work runs in a low-priority thread (`crm_app.ai.runtime`, `CRM_AI_NICE`) with
  embedding threads capped (`CRM_AI_MAX_THREADS`); PST children inherit the priority.

The reading side (attachment text, the file readers and the producer thread) is
`jobs.pst_ingest_reading`, which the PST child processes import; like that module, this one
imports nothing heavy at its top level.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs.pst_ingest_reading import (
    PASSWORD_MESSAGE,
    Readers,
    TextAttachmentSink,
    _attachment_text,
    _Producer,
    iter_positions,
)

log = logging.getLogger(__name__)

EMBED_BATCH_CHUNKS = 64  # chunks embedded (and stored) per batch: a kill loses at most one
EMBED_FORWARD_BATCH = 8  # texts per model forward pass (memory, see `_embedder`)
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
    memory grows with the batch (attention is batch x heads x tokens^2), so 8 keeps the job's
    memory flat at no cost in speed on CPU."""
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


def ingest_archive(
    archive_id: int,
    *,
    provider: Any = None,
    progress: Progress | None = None,
    readers: Readers | None = None,
) -> ArchiveResult:
    """Read one claimed archive to its end (or its cancellation), batch by batch."""
    from crm_app.ai.embeddings import get_provider
    from crm_app.db import session_scope
    from crm_app.services import archives as service
    from crm_app.services.archives.imap import is_imap_path
    from ingest.model import ItemError, Message, NonMailItem
    from jobs.archive_imap import iter_imap_positions
    from models.archive import Archive, ArchiveStatus
    from models.base import utcnow

    provider = provider or get_provider()
    embed = _embedder(provider)
    own_readers = readers is None
    readers = readers or Readers()
    with session_scope() as session:
        archive = session.get(Archive, archive_id)
        if archive is None:
            return ArchiveResult(archive_id, "gone")
        source, start, total = archive.path, archive.resume_position, archive.bytes_total
        path = Path(source)
        if archive.started_at is None:
            archive.started_at = utcnow()
    result = ArchiveResult(archive_id, ArchiveStatus.RUNNING)
    scratch = Path(tempfile.mkdtemp(prefix=f"archive-{archive_id}-"))
    fatal: str | None = None
    cancelled = False
    producer: _Producer | None = None
    try:
        if is_imap_path(source):  # a mailbox folder: `jobs/archive_imap.py`
            records = iter_imap_positions(source, TextAttachmentSink(scratch), start)
        elif path.is_file():
            records = iter_positions(path, TextAttachmentSink(scratch), start, readers)
        else:
            fatal = f"The file is no longer there: {path}"
        if fatal is None:
            producer = _Producer(records)
            pending: list[Any] = []
            errors: list[tuple[int | None, str | None, str, bool]] = []
            counts = {"attachments": 0, "skipped": 0}
            next_position, bytes_done = start, 0
            chunk_count, batch_started = 0, time.monotonic()

            def flush() -> bool:
                nonlocal pending, errors, chunk_count, batch_started
                keys = [m.dedup_key for m in pending]
                stored, live = service.known_messages(
                    keys, [m.message_id for m in pending if m.message_id]
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
                vectors = embed(texts) if texts else []
                offset = 0
                for m in pending:
                    m.vectors = [v.tolist() for v in vectors[offset : offset + len(m.chunks)]]
                    offset += len(m.chunks)
                outcome = service.store_batch(
                    archive_id,
                    service.BatchInput(
                        messages=pending,
                        errors=errors,
                        attachments=counts["attachments"],
                        skipped=counts["skipped"],
                        next_position=next_position,
                        bytes_done=bytes_done,
                    ),
                    provider.name,
                )
                result.messages_stored += outcome.stored
                result.duplicates_linked += outcome.duplicates
                result.attachments += counts["attachments"]
                result.skipped += counts["skipped"]
                result.errors += len(errors)
                pending, errors, chunk_count = [], [], 0
                counts["attachments"] = counts["skipped"] = 0
                batch_started = time.monotonic()
                if progress:
                    progress(
                        archive_id,
                        result.messages_stored,
                        result.duplicates_linked,
                        bytes_done,
                        total,
                    )
                return outcome.cancel_requested or outcome.gone

            for position, record, done in producer:
                next_position, bytes_done = position + 1, max(bytes_done, done)
                if isinstance(record, Message):
                    item = _message_input(record, position)
                    pending.append(item)
                    chunk_count += len(item.chunks)
                    counts["attachments"] += len(record.attachments)
                elif isinstance(record, NonMailItem):
                    counts["skipped"] += 1
                elif isinstance(record, ItemError):
                    where = record.provenance.folder
                    errors.append((position, where, record.message, record.fatal_for_file))
                    line = f"{where}#{position}: {record.message}" if where else record.message
                    result.error_lines.append(line)
                    if record.fatal_for_file:
                        fatal = record.message
                if (
                    chunk_count >= EMBED_BATCH_CHUNKS
                    or len(pending) >= MAX_BATCH_MESSAGES
                    or time.monotonic() - batch_started > MAX_BATCH_SECONDS
                ) and flush():
                    cancelled = True
                    break
            else:
                if flush():
                    cancelled = True
    except Exception as error:  # a bug or a database failure: the archive says so
        log.exception("archive import failed", extra={"archive_id": archive_id})
        fatal = f"The import stopped: {type(error).__name__}: {error}"[:1000]
    finally:
        if producer is not None:
            producer.stop()
        if own_readers:
            readers.close()
        for leftover in scratch.glob("*"):
            leftover.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            scratch.rmdir()
    with session_scope() as session:
        archive = session.get(Archive, archive_id, with_for_update=True)
        if archive is None:
            result.status = "gone"
            return result
        if cancelled or archive.cancel_requested:
            archive.status = ArchiveStatus.CANCELLED
        elif fatal:
            archive.status, archive.error = ArchiveStatus.FAILED, _explain(fatal)
        else:
            archive.status, archive.bytes_done = ArchiveStatus.DONE, archive.bytes_total
        archive.finished_at = archive.heartbeat_at = utcnow()
        result.status, result.error = archive.status, archive.error
    return result


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


def claim_next(lock_conn: Any, only: list[int] | None = None) -> int | None:
    """Take the oldest queued archive, or a running one whose worker died; hold its advisory
    lock on `lock_conn` (released when that connection closes, so also when we are killed)."""
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
    after that)."""
    from crm_app.ai.embeddings import get_provider
    from crm_app.db import get_engine

    provider = provider or get_provider()
    readers = Readers()
    results: list[ArchiveResult] = []
    deadline = time.monotonic() + seconds if seconds else None
    engine = get_engine()
    # A connection of its own for the archive locks, closed (not pooled) at the end: a
    # session-level lock must never outlive this run on a pooled connection.
    lock_conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        while deadline is None or time.monotonic() < deadline:
            archive_id = claim_next(lock_conn, only)
            if archive_id is None:
                break
            try:
                result = ingest_archive(
                    archive_id, provider=provider, progress=progress, readers=readers
                )
            finally:
                import sqlalchemy as sa

                from crm_app.services.archives import ARCHIVE_LOCK_CLASS

                lock_conn.execute(
                    sa.select(sa.func.pg_advisory_unlock(ARCHIVE_LOCK_CLASS, archive_id))
                )
            results.append(result)
            if on_result:
                on_result(result)
            log.info(
                "archive imported",
                extra={
                    "archive_id": archive_id,
                    "status": str(result.status),
                    "stored": result.messages_stored,
                    "linked": result.duplicates_linked,
                    "errors": result.errors,
                },
            )
    finally:
        readers.close()
        lock_conn.invalidate()
        lock_conn.close()
    return results


def run() -> int:
    """The scheduled job: import what is queued, at low priority."""
    from crm_app.ai import runtime

    results = runtime.run_in_background(lambda: drain(seconds=3600))
    return len(results)
