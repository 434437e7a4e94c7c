"""mbox files read as a stream: one message in memory at a time, whatever the file's size.

Messages start at every line beginning with "From " (the rule the stdlib `mailbox` module
uses, so counts agree with it); mboxrd-quoted ">From " lines are unquoted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from .attachments import AttachmentSink
from .errors import IngestError
from .mime import parse_mime
from .model import IngestRecord, ItemError, Provenance, SourceKind

READ_BLOCK = 1 << 20
MAX_MESSAGE_BYTES = 256 << 20  # larger "messages" are skipped with an error, memory stays flat
_SEPARATOR = b"\nFrom "
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def split_mbox(handle: BinaryIO, *, max_message: int = MAX_MESSAGE_BYTES) -> Iterator[bytes | None]:
    """Yield each message's bytes (without its "From " line); None for an oversized one."""
    pending: list[bytes] = []
    size = 0
    started = False
    tail = b""

    def add(segment: bytes) -> None:
        nonlocal size
        if size <= max_message:
            pending.append(segment)
        size += len(segment)
        if size > max_message:
            pending.clear()

    def flush() -> bytes | None:
        if size > max_message:
            return None
        data = b"".join(pending)
        newline = data.find(b"\n")
        body = data[newline + 1 :] if newline >= 0 else b""
        return _QUOTED_FROM.sub(rb"\1", body) if b">From " in body else body

    while True:
        block = handle.read(READ_BLOCK)
        data = tail + block
        if block:
            cut = data.rfind(b"\n") + 1  # whole lines only, so a separator is never split
            data, tail = data[:cut], data[cut:]
        else:
            tail = b""
        starts = [0] if data.startswith(b"From ") else []
        hit = data.find(_SEPARATOR)
        while hit >= 0:
            starts.append(hit + 1)
            hit = data.find(_SEPARATOR, hit + 1)
        previous = 0
        for start in starts:
            if started and start > previous:
                add(data[previous:start])
            if started:
                yield flush()
            started = True
            pending, size = [], 0
            previous = start
        if started and len(data) > previous:
            add(data[previous:])
        if not block:
            break
    if started:
        yield flush()


def looks_like_mbox(head: bytes) -> bool:
    return head.lstrip(b"\r\n").startswith(b"From ")


def iter_mbox(
    path: str | os.PathLike[str],
    *,
    sink: AttachmentSink | None = None,
    now: datetime | None = None,
) -> Iterator[IngestRecord]:
    """Every message of an mbox file; unparseable ones come back as `ItemError`."""
    source = os.fspath(path)
    now = now or datetime.now(UTC)
    with Path(source).open("rb") as handle:  # read block by block, never whole
        for position, raw in enumerate(split_mbox(handle)):
            if raw is None:
                yield ItemError(
                    f"message larger than {MAX_MESSAGE_BYTES >> 20} MB skipped",
                    Provenance(source, SourceKind.MBOX, position=position),
                )
                continue
            try:
                yield parse_mime(
                    raw,
                    source=source,
                    kind=SourceKind.MBOX,
                    position=position,
                    sink=sink,
                    ingested_at=now,
                )
            except IngestError as exc:
                yield ItemError(exc.reason, Provenance(source, SourceKind.MBOX, position=position))
