"""The reading side of the `pst_ingest` job: a file as (position, record, bytes done), the PST
reader and item counter in child processes, attachment text kept for indexing, and the
producer thread that parses into a bounded queue while the job embeds and stores.

This module is imported by the PST child processes (for `TextAttachmentSink`), so its top level
imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.model import ItemError, Message, NonMailItem

QUEUE_RECORDS = 256  # parsed records waiting for the consumer: bounds memory
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
