"""Files and folders of mail -> records, dispatched by what a file is, checked against its name."""

from __future__ import annotations

import email.parser
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from .attachments import BLOCK_SIZE, AttachmentSink, DiscardSink
from .mbox import iter_mbox, looks_like_mbox
from .mime import looks_like_mime, normalize_email
from .model import IngestRecord, ItemError, Provenance, SourceKind
from .pst import PstReader
from .pst_child import PST_SIGNATURE

PST_SUFFIXES = {".pst", ".ost"}
MBOX_SUFFIXES = {".mbox", ".mbx", ".mbs"}
EML_SUFFIXES = {".eml", ".msg822", ".mime"}
_SNIFF_BYTES = 4096


def sniff(path: Path) -> SourceKind | None:
    """What a file's first bytes say it is (None: none of PST, mbox, MIME)."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith(PST_SIGNATURE):
        return SourceKind.PST
    if looks_like_mbox(head):
        return SourceKind.MBOX
    if looks_like_mime(head):
        return SourceKind.EML
    return None


def claimed_kind(path: Path) -> SourceKind | None:
    suffix = path.suffix.lower()
    if suffix in PST_SUFFIXES:
        return SourceKind.PST
    if suffix in MBOX_SUFFIXES:
        return SourceKind.MBOX
    if suffix in EML_SUFFIXES:
        return SourceKind.EML
    return None


_KIND_NAMES = {SourceKind.PST: "a PST/OST file", SourceKind.MBOX: "an mbox file",
               SourceKind.EML: "an EML (RFC 5322) message"}  # fmt: skip


def discover(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """The files to ingest: named files as given; folders searched for mail files, sorted."""
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            yield path
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames):
                candidate = Path(dirpath) / name
                if claimed_kind(candidate) is not None:
                    yield candidate


def iter_file(
    path: str | os.PathLike[str],
    *,
    sink: AttachmentSink | None = None,
    pst_reader: PstReader | None = None,
    now: datetime | None = None,
) -> Iterator[IngestRecord]:
    """Every record of one file. A file that is not what its name says yields one fatal error."""
    path = Path(path)
    source = str(path)
    sink = sink or DiscardSink()
    now = now or datetime.now(UTC)
    claimed = claimed_kind(path)
    try:
        actual = sniff(path)
    except OSError as exc:
        yield ItemError(
            f"cannot read file: {exc.strerror or exc}",
            Provenance(source, claimed or SourceKind.EML),
            fatal_for_file=True,
        )
        return
    if claimed is SourceKind.PST and actual is not SourceKind.PST:
        # Let the PST reader word the error (it names the bytes it found).
        actual = SourceKind.PST
    elif (
        claimed is not None
        and actual is not claimed
        and not (claimed is SourceKind.EML and actual is SourceKind.MBOX)
    ):
        found = _KIND_NAMES.get(actual, "not mail at all") if actual else "not mail at all"
        yield ItemError(
            f"named like {_KIND_NAMES[claimed]} but its content is {found}",
            Provenance(source, claimed),
            fatal_for_file=True,
        )
        return
    if actual is None:
        yield ItemError(
            "not a PST/OST, mbox or RFC 5322 message file",
            Provenance(source, SourceKind.EML),
            fatal_for_file=True,
        )
        return
    if actual is SourceKind.PST:
        if pst_reader is not None:
            yield from pst_reader.iter_file(path, now=now)
        else:
            with PstReader(sink=sink) as reader:
                yield from reader.iter_file(path, now=now)
    elif actual is SourceKind.MBOX and claimed is not SourceKind.EML:
        yield from iter_mbox(path, sink=sink, now=now)
    else:
        yield _eml(path, sink, now)


def _eml(path: Path, sink: AttachmentSink, now: datetime) -> IngestRecord:
    provenance = Provenance(str(path), SourceKind.EML)
    parser = email.parser.BytesFeedParser()
    try:
        with path.open("rb") as handle:
            while block := handle.read(BLOCK_SIZE):
                parser.feed(block)  # fed in blocks: no second whole copy of the file's bytes
        parsed = parser.close()
        if not parsed.keys():
            return ItemError("no RFC 5322 header found", provenance, fatal_for_file=True)
        return normalize_email(parsed, provenance, sink=sink, now=now)
    except (Exception, RecursionError) as exc:
        return ItemError(f"unparseable message: {exc!r}"[:300], provenance, fatal_for_file=True)


def _goes_to_pst_reader(path: Path) -> bool:
    """Whether `iter_file` would hand this file to the PST reader (as it decides it)."""
    claimed = claimed_kind(path)
    if claimed is SourceKind.PST:
        return True
    try:
        actual = sniff(path)
    except OSError:
        return False  # iter_file words that error
    return actual is SourceKind.PST and claimed is None


def iter_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    sink: AttachmentSink | None = None,
    now: datetime | None = None,
) -> Iterator[tuple[Path, IngestRecord]]:
    """(file, record) for every file under the given paths, in order.

    Consecutive PST/OST files go to one `PstReader` together, so its children read and
    normalize several of them at once (records still come file by file).
    """
    sink = sink or DiscardSink()
    now = now or datetime.now(UTC)
    files = list(discover(paths))
    with PstReader(sink=sink) as reader:
        index = 0
        while index < len(files):
            run_end = index
            while run_end < len(files) and _goes_to_pst_reader(files[run_end]):
                run_end += 1
            if run_end > index:
                run = files[index:run_end]
                by_source = {str(path): path for path in run}
                for source, record in reader.iter_files(run, now=now):
                    yield by_source[source], record
                index = run_end
                continue
            path = files[index]
            for record in iter_file(path, sink=sink, pst_reader=reader, now=now):
                yield path, record
            index += 1
