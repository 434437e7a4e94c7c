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

This module is imported by the PST child processes (for `TextAttachmentSink`), so its top level
imports nothing heavy.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.model import ItemError, Message, NonMailItem

log = logging.getLogger(__name__)

QUEUE_RECORDS = 256  # parsed records waiting for the consumer: bounds memory
EMBED_BATCH_CHUNKS = 64  # chunks embedded (and stored) per batch: a kill loses at most one
EMBED_FORWARD_BATCH = 8  # texts per model forward pass (memory, see `_embedder`)
MAX_BATCH_MESSAGES = 512  # duplicates cost no embedding: still commit often
MAX_BATCH_SECONDS = 5.0
CHUNK_TOKENS = 180  # whitespace tokens per chunk: about the model's 256 word pieces
CHUNK_OVERLAP = 30
MAX_MESSAGE_CHUNKS = 12  # a long newsletter is searchable by its first ~2,000 words
MAX_ATTACHMENT_CHUNKS = 4
MAX_ATTACHMENT_CHARS = 20_000  # more than the chunks kept: the rest is never indexed


# --- attachment text (picklable: PST children use it) -----------------------------------------


class _KeptAttachment:
    """The first bytes of an attachment whose text is read (`ingest.attachment_text`): up to
    that kind's limit; the file's name says its kind and whether it was cut short."""

    def __init__(self, directory: Path, kind: str, limit: int) -> None:
        self._directory, self._kind = directory, kind
        fd, name = tempfile.mkstemp(dir=directory, prefix=".part-")
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._left = limit

    def write(self, data: bytes) -> None:
        if self._left > 0:
            self._file.write(data[: self._left])
        self._left -= len(data)

    def finish(self, sha256: str) -> str | None:
        self._file.close()
        final = self._directory / f"{sha256}.{self._kind}{'.cut' if self._left < 0 else ''}"
        self._tmp.replace(final)
        return str(final)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class _Discard:
    def write(self, data: bytes) -> None:
        pass

    def finish(self, sha256: str) -> str | None:
        return None

    def abort(self) -> None:
        pass


class TextAttachmentSink:
    """Keeps the attachments whose text is read (text, HTML, PDF, Word; see
    `ingest.attachment_text`), within limits; discards the rest."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def open(self, filename: str | None, content_type: str) -> Any:
        from ingest.attachment_text import byte_limit, kind_of

        kind = kind_of(filename, content_type)
        if kind is None:
            return _Discard()
        self.directory.mkdir(parents=True, exist_ok=True)
        return _KeptAttachment(self.directory, kind.value, byte_limit(kind))


def _attachment_text(location: str | None) -> tuple[str, str | None]:
    """(text, why there is none) of an attachment kept by `TextAttachmentSink`; the kept copy
    is removed."""
    from ingest.attachment_text import Kind, attachment_text

    if not location:
        return "", None
    path = Path(location)
    try:
        raw = path.read_bytes()
    except OSError:
        return "", None
    finally:
        path.unlink(missing_ok=True)
    name = path.name.split(".")
    truncated = name[-1] == "cut"
    kind = Kind(name[-2] if truncated else name[-1])
    found = attachment_text(raw, kind, truncated=truncated, max_chars=MAX_ATTACHMENT_CHARS)
    return found.text, found.error


# --- reading a file as (position, record, bytes done) -----------------------------------------


PR_PST_PASSWORD = 0x67FF  # message store property: CRC-32 of the password, 0 when none


def _inspect_pst(path: str) -> tuple[int, bool]:
    """(messages in a PST from its folder tables, whether it is password-protected); run in a
    child process: pypff is C."""
    import pypff

    pst = pypff.file()
    pst.open(path)
    try:
        protected = False
        with contextlib.suppress(Exception):  # no message store record: no password
            for record_set in pst.get_message_store().record_sets:
                for entry in record_set.entries:
                    if entry.entry_type == PR_PST_PASSWORD and entry.get_data_as_integer():
                        protected = True
        total, stack = 0, [pst.get_root_folder()]
        while stack:
            folder = stack.pop()
            total += folder.number_of_sub_messages
            stack.extend(folder.get_sub_folder(i) for i in range(folder.number_of_sub_folders))
        return total, protected
    finally:
        pst.close()


PASSWORD_MESSAGE = (
    "The PST file is password-protected: remove its password in Outlook (Account Settings > "
    "Data Files > Settings > Change Password) and import it again."
)


class Readers:
    """The child processes one drain reuses from archive to archive: a PST reader and a
    one-process pool that counts a PST's items for the progress bar (pypff is C: never in
    this process). Spawning them costs seconds, so each is made once, when first needed."""

    def __init__(self) -> None:
        self._pst: Any = None
        self._pool: Any = None

    def pst_reader(self, sink: Any) -> Any:
        from ingest.pst import PstReader

        if self._pst is None:
            self._pst = PstReader(sink=sink, workers=1)
        self._pst.sink = sink  # sent with each file to the child
        return self._pst

    def pst_items(self, path: str, timeout: float = 120.0) -> tuple[int | None, bool]:
        """How many messages a PST holds (None when that cannot be told), and whether it is
        password-protected."""
        import multiprocessing

        try:
            if self._pool is None:
                self._pool = multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=20)
            count, protected = self._pool.apply_async(_inspect_pst, (path,)).get(timeout)
            return int(count), bool(protected)
        except Exception:  # a damaged file: the reader words the error
            if self._pool is not None:
                self._pool.terminate()
                self._pool = None
            return None, False

    def close(self) -> None:
        if self._pst is not None:
            self._pst.close()
            self._pst = None
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


def iter_positions(
    path: Path, sink: Any, start: int, readers: Readers
) -> Iterator[tuple[int, Any, int]]:
    """(position, record, bytes read so far) for every record of the file from `start` on.

    Positions count every record (message, non-mail item, error) in the file's walk order,
    which is the same on every read, so a resumed import skips exactly what it committed."""
    from ingest.mbox import split_mbox
    from ingest.mime import parse_mime
    from ingest.model import ItemError, Provenance, SourceKind
    from ingest.sources import claimed_kind, iter_file, sniff

    size = max(path.stat().st_size, 1)
    kind = claimed_kind(path)
    actual = sniff(path) if kind is not SourceKind.PST else SourceKind.PST
    if actual is SourceKind.MBOX and kind in (None, SourceKind.MBOX):
        source = str(path)
        with path.open("rb") as handle:
            for position, raw in enumerate(split_mbox(handle)):
                if position < start:
                    continue
                done = handle.tell()
                if raw is None:
                    yield (
                        position,
                        ItemError(
                            "message too large, skipped",
                            Provenance(source, SourceKind.MBOX, position=position),
                        ),
                        done,
                    )
                    continue
                record: Message | NonMailItem | ItemError
                try:
                    record = parse_mime(
                        raw, source=source, kind=SourceKind.MBOX, position=position, sink=sink
                    )
                except Exception as exc:  # IngestError, or anything a hostile mail provokes
                    record = ItemError(
                        getattr(exc, "reason", repr(exc))[:300],
                        Provenance(source, SourceKind.MBOX, position=position),
                    )
                yield position, record, done
        return
    estimate, protected = (
        readers.pst_items(str(path)) if actual is SourceKind.PST else (None, False)
    )
    if protected:
        yield start, ItemError(PASSWORD_MESSAGE, Provenance(str(path), SourceKind.PST),
                               fatal_for_file=True), 0  # fmt: skip
        return
    reader = readers.pst_reader(sink) if actual is SourceKind.PST else None
    for position, record in enumerate(iter_file(path, sink=sink, pst_reader=reader)):
        if position < start:
            continue
        done = int(size * min(1.0, (position + 1) / estimate)) if estimate else 0
        yield position, record, done


# --- the producer thread ----------------------------------------------------------------------


class _Producer:
    """Runs the parse in its own thread into a bounded queue; stops when asked."""

    _END = object()

    def __init__(self, records: Iterator[tuple[int, Any, int]]) -> None:
        self._records = records
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_RECORDS)
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="archive-parse", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._records:
                while not self._stop.is_set():
                    try:
                        self.queue.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    break
        except BaseException as error:  # handed to the consumer
            self.error = error
        finally:
            with contextlib.suppress(Exception):
                self._records.close()  # type: ignore[attr-defined]
            self._put_end()

    def _put_end(self) -> None:
        while True:
            try:
                self.queue.put(self._END, timeout=0.5)
                return
            except queue.Full:
                if self._stop.is_set():
                    with contextlib.suppress(queue.Empty):
                        self.queue.get_nowait()

    def __iter__(self) -> Iterator[tuple[int, Any, int]]:
        while True:
            item = self.queue.get()
            if item is self._END:
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
    from crm_app.ai.embeddings import LocalMiniLM, local_encoder

    if not isinstance(provider, LocalMiniLM):
        return provider.embed
    encoder = local_encoder()
    encoder.encode(["warm up"], batch_size=1)
    _return_freed_memory()  # the model's build leaves freed heap behind
    return lambda texts: encoder.encode(texts, batch_size=EMBED_FORWARD_BATCH)


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
