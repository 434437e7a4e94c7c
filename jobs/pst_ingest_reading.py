"""The reading side of the `pst_ingest` job: a file as (position, record, bytes done), the PST
reader and item counter in child processes, and attachment text kept for indexing (the job's
read-ahead thread drives these while it embeds and stores).

This module is imported by the PST child processes (for `TextAttachmentSink`), so its top level
imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.model import ItemError, Message, NonMailItem

QUEUE_RECORDS = 64  # parsed records may wait for the embedding: bounds memory
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
    """The child processes one drain reuses from archive to archive: a PST reader, a
    one-process pool that counts a PST's items for the progress bar (pypff is C: never in
    this process), and the mbox parser. Spawning them costs seconds, so each is made once,
    when first needed."""

    def __init__(self) -> None:
        self._pst: Any = None
        self._pool: Any = None
        self._mbox: _MboxChild | None = None

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

    def mbox_records(self, path: Path, sink: Any, start: int) -> Iterator[tuple[int, Any, int]]:
        """An mbox file's records from `start`, parsed in the reused mbox child. A file left
        before its end leaves the child out of step: it is killed, the next file gets a new one."""
        if self._mbox is None or not self._mbox.alive():
            if self._mbox is not None:
                self._mbox.kill()
            self._mbox = _MboxChild()
        child, finished = self._mbox, False
        try:
            yield from child.records(path, sink, start)
            finished = True
        finally:
            if not finished or not child.alive():
                child.kill()
                if self._mbox is child:
                    self._mbox = None

    def close(self) -> None:
        if self._mbox is not None:
            self._mbox.kill()
            self._mbox = None
        if self._pst is not None:
            self._pst.close()
            self._pst = None
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


def _mbox_records(path: str, sink: Any, start: int) -> Iterator[tuple[int, Any, int]]:
    """(position, record, bytes read so far) for every message of an mbox file from `start`."""
    from ingest.mbox import split_mbox
    from ingest.mime import parse_mime
    from ingest.model import ItemError, Provenance, SourceKind

    with Path(path).open("rb") as handle:
        for position, raw in enumerate(split_mbox(handle)):
            if position < start:
                continue
            done = handle.tell()
            if raw is None:
                error = ItemError(
                    "message too large, skipped",
                    Provenance(path, SourceKind.MBOX, position=position),
                )
                yield position, error, done
                continue
            record: Message | NonMailItem | ItemError
            try:
                record = parse_mime(
                    raw, source=path, kind=SourceKind.MBOX, position=position, sink=sink
                )
            except Exception as exc:  # IngestError, or anything a hostile mail provokes
                record = ItemError(
                    getattr(exc, "reason", repr(exc))[:300],
                    Provenance(path, SourceKind.MBOX, position=position),
                )
            yield position, record, done


MBOX_CHILD_BATCH = 16  # records per pipe message from the mbox child


def _serve_mbox(conn: Any, nice: int) -> None:
    """The mbox child's loop: for each ("file", path, sink, start) request, parse the file from
    `start` and stream its records back in small batches, then ("end", None). The pipe is the
    back-pressure: a full pipe blocks the child, so memory stays flat."""
    from ingest.pst_child import file_requests

    with contextlib.suppress(OSError):
        os.nice(max(0, nice - os.nice(0)))
    for request in file_requests(conn):
        _, path, sink, start = request
        batch: list[tuple[int, Any, int]] = []
        try:
            for item in _mbox_records(path, sink, start):
                batch.append(item)
                if len(batch) >= MBOX_CHILD_BATCH:
                    conn.send(("items", batch))
                    batch = []
            conn.send(("items", batch))
            conn.send(("end", None))
        except (BrokenPipeError, EOFError):
            return  # the parent let go: nobody reads the rest
        except Exception as error:  # a bug: the parent words it on the archive
            conn.send(("error", f"{type(error).__name__}: {error}"[:300]))


class _MboxChild:
    """A child process that parses mbox files. MIME parsing is pure Python: in the job's
    process it would hold the interpreter lock the embedding thread needs, and the two stages
    could not overlap. It starts at the priority of the thread that starts it."""

    def __init__(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.conn, child_end = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_serve_mbox, args=(child_end, os.nice(0)), daemon=True
        )
        self.process.start()
        child_end.close()

    def alive(self) -> bool:
        return self.process.is_alive()

    def records(self, path: Path, sink: Any, start: int) -> Iterator[tuple[int, Any, int]]:
        """The file's records from `start`; a crash of the child ends the file with a fatal
        error right after the last record it sent."""
        from ingest.model import ItemError, Provenance, SourceKind

        position, done = start, 0
        try:
            self.conn.send(("file", str(path), sink, start))
            while True:
                tag, payload = self.conn.recv()
                if tag == "items":
                    for item in payload:
                        position, done = item[0] + 1, item[2]
                        yield item
                    continue
                break
        except (EOFError, OSError):
            self.process.join(timeout=10)
            tag, payload = "error", f"the mbox reader stopped (exit code {self.process.exitcode})"
        if tag == "error":
            error = ItemError(
                f"{payload}; the rest of this file was skipped",
                Provenance(str(path), SourceKind.MBOX),
                fatal_for_file=True,
            )
            yield position, error, done

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)
        self.conn.close()


def iter_positions(
    path: Path, sink: Any, start: int, readers: Readers
) -> Iterator[tuple[int, Any, int]]:
    """(position, record, bytes read so far) for every record of the file from `start` on.

    Positions count every record (message, non-mail item, error) in the file's walk order,
    which is the same on every read, so a resumed import skips exactly what it committed.
    PST/OST and mbox files are parsed in child processes, one EML file here."""
    from ingest.model import ItemError, Provenance, SourceKind
    from ingest.sources import claimed_kind, iter_file, sniff

    size = max(path.stat().st_size, 1)
    kind = claimed_kind(path)
    actual = sniff(path) if kind is not SourceKind.PST else SourceKind.PST
    if actual is SourceKind.MBOX and kind in (None, SourceKind.MBOX):
        yield from readers.mbox_records(path, sink, start)
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
