"""Parsing fetched mail through `ingest` (outside any transaction): attachments stream straight
into the content-addressed store with the size limit; an unparseable message's raw bytes are
kept under the data folder."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from crm_app.services import attachments
from crm_app.services.mail.inbound.rows import FetchedMail, ParsedMail, _Parsed
from crm_app.settings import get_settings
from ingest import IngestError, parse_mime
from ingest.attachments import AttachmentWriter

log = logging.getLogger(__name__)

FAILED_STORE = "mail-failed"  # raw bytes of messages that could not be imported


# --- attachments: straight into the content-addressed store, with the size limit ----------------


class _StoreWriter:
    """Streams one attachment into `attachments/sha256/...`; past the size limit it keeps
    counting and hashing (ingest does that) but stores nothing."""

    def __init__(self, tmp_dir: Path, limit: int) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="mail-", suffix=".part")
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._limit = limit
        self._size = 0
        self.too_large = False

    def write(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            if not self.too_large:
                self.too_large = True
                self._file.close()
                self._tmp.unlink(missing_ok=True)
            return
        self._file.write(data)

    def finish(self, sha256: str) -> str | None:
        if self.too_large:
            return None
        self._file.close()
        target = attachments.blob_path(sha256)
        if target.exists():
            self._tmp.unlink(missing_ok=True)  # the same bytes are stored already
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._tmp.replace(target)
        return str(target)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)


class StoreSink:
    """The ingest `AttachmentSink` of the mail intake."""

    def __init__(self) -> None:
        settings = get_settings()
        self.tmp_dir = settings.data_dir / attachments.STORE / "tmp"
        self.limit = settings.attachment_max_bytes

    def open(self, filename: str | None, content_type: str) -> AttachmentWriter:
        return _StoreWriter(self.tmp_dir, self.limit)


# --- parsing (outside any transaction) ----------------------------------------------------------


def _raw_key(raw: bytes) -> str:
    return "raw:" + hashlib.sha256(raw).hexdigest()


def parse(mail: FetchedMail, *, source: str, folder: str, sink: StoreSink | None = None) -> _Parsed:
    """Parse one fetched message through ingest; a parser error is the result, never raised."""
    if mail.refused:
        return _Parsed(mail, None, mail.refused, _raw_key(mail.raw or str(mail.uid).encode()))
    try:
        message = parse_mime(mail.raw, source=source, folder=folder, position=mail.uid, sink=sink)
    except IngestError as error:
        return _Parsed(mail, None, error.reason, _raw_key(mail.raw))
    except Exception as error:  # the parser is robust; a bug there must still not lose mail
        log.exception("mail parser crashed", extra={"uid": mail.uid})
        return _Parsed(mail, None, f"parser crashed: {error!r}"[:300], _raw_key(mail.raw))
    return _Parsed(mail, message, None, message.dedup_key[:998])


def parse_batch(mailbox_name: str, folder: str, mails: Sequence[FetchedMail]) -> list[ParsedMail]:
    """Parse a fetched batch, in order (attachments go straight into the store). Pure apart
    from the attachment files: safe to run in a worker process."""
    sink = StoreSink()
    source = f"mailbox {mailbox_name}"
    return [parse(mail, source=source, folder=folder, sink=sink) for mail in mails]


def store_failed_raw(raw: bytes) -> str:
    """Keep an unimportable message's bytes under the data folder; returns the relative path."""
    data_dir = get_settings().data_dir
    digest = hashlib.sha256(raw).hexdigest()
    target = data_dir / FAILED_STORE / digest[:2] / f"{digest}.eml"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{uuid.uuid4().hex}.part")
        tmp.write_bytes(raw)
        tmp.replace(target)
    return target.relative_to(data_dir).as_posix()
