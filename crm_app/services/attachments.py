"""Files on replies and internal notes, stored content-addressed under the data dir.

An upload is authorized before any byte is written (`start_upload`), streamed to a temporary
file while its SHA-256 is computed, and moved to `attachments/sha256/<ab>/<cd>/<hash>`; a file
already stored is not written twice. Until the reply is sent it is only "staged" (a blob with no
row): `link_staged` writes the `attachment` rows inside the reply's transaction. Downloads go
through `open_for_download`, which applies the same visibility as the ticket itself (a client
never gets a file from an internal note).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from io import BufferedWriter
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session, col

from crm_app import routes
from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.settings import get_settings
from models.client import Client
from models.ticket import Attachment, Ticket, TicketMessage

STORE = "attachments"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Served inline-safe types keep their type (still as a download); anything else is bytes.
_KNOWN_TYPES = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class StagedFile:
    """A stored blob waiting for its message: what `link_staged` turns into a row."""

    sha256: str
    filename: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    message_id: int
    filename: str
    size_label: str
    url: str


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    content_type: str
    size_bytes: int


def size_label(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def limits_text() -> str:
    settings = get_settings()
    return (
        f"Up to {settings.attachment_max_files} files, "
        f"{size_label(settings.attachment_max_bytes)} each."
    )


def clean_filename(raw: str) -> str:
    """The last path segment, without control characters, at most 255 characters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C"
    ).strip(" .")
    if not name:
        return "attachment"
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) < 16 else name[:255]
    return name


def _root() -> Path:
    return get_settings().data_dir / STORE


def blob_path(sha256: str) -> Path:
    if not _SHA256.match(sha256):
        raise InvalidInput("That is not a stored file.")
    return _root() / "sha256" / sha256[:2] / sha256[2:4] / sha256


def _relative(path: Path) -> str:
    return path.relative_to(get_settings().data_dir).as_posix()


class UploadSink:
    """Receives one upload's files chunk by chunk; each file ends as a stored blob.

    Made only by `start_upload`, i.e. after the permission check. Limits are enforced as the
    bytes arrive, so an oversized file is refused at the first chunk past the limit."""

    def __init__(self, already_staged: int) -> None:
        settings = get_settings()
        self.max_bytes = settings.attachment_max_bytes
        self.max_files = settings.attachment_max_files
        self._count = already_staged
        self._tmp_dir = _root() / "tmp"
        self._file: Path | None = None
        self._out: BufferedWriter | None = None
        self._hash = hashlib.sha256()
        self._size = 0
        self._name = ""
        self._type = ""
        self.staged: list[StagedFile] = []

    @property
    def receiving(self) -> str | None:
        """The name of the file being received, if any."""
        return self._name if self._out is not None else None

    def write(self, filename: str, offset: int, content_type: str, data: bytes) -> None:
        """One chunk; offset 0 starts a new file (Reflex numbers offsets per file)."""
        if offset == 0 or self._out is None:
            self._close_current()
            self._count += 1
            if self._count > self.max_files:
                raise InvalidInput(f"Attach at most {self.max_files} files to one message.")
            self._tmp_dir.mkdir(parents=True, exist_ok=True)
            self._file = self._tmp_dir / f"{uuid.uuid4().hex}.part"
            self._out = self._file.open("wb")
            self._hash, self._size = hashlib.sha256(), 0
            self._name = clean_filename(filename)
            self._type = (content_type or "application/octet-stream")[:255]
        self._size += len(data)
        if self._size > self.max_bytes:
            raise InvalidInput(
                f"“{self._name}” is larger than {size_label(self.max_bytes)}: "
                "files on a reply may be at most that large."
            )
        self._hash.update(data)
        self._out.write(data)

    def _close_current(self) -> None:
        if self._out is None or self._file is None:
            return
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        self._out = None
        digest = self._hash.hexdigest()
        target = blob_path(digest)
        if target.exists():
            self._file.unlink(missing_ok=True)  # the same bytes are stored already
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._file.replace(target)
        self._file = None
        self.staged.append(
            StagedFile(
                sha256=digest, filename=self._name, content_type=self._type, size_bytes=self._size
            )
        )

    def finish(self) -> list[StagedFile]:
        self._close_current()
        return self.staged

    def abort(self) -> None:
        """Drop the file being received (blobs already complete stay: they may be shared)."""
        if self._out is not None:
            self._out.close()
            self._out = None
        if self._file is not None:
            self._file.unlink(missing_ok=True)
            self._file = None


def start_upload(actor: Actor | None, number: int, *, already_staged: int = 0) -> UploadSink:
    """Check that `actor` may attach files to ticket `number` before anything is written."""
    require(actor, Action.EDIT_TICKETS)
    settings = get_settings()
    if already_staged >= settings.attachment_max_files:
        raise InvalidInput(f"Attach at most {settings.attachment_max_files} files to one message.")
    with session_scope() as session:
        merged = session.execute(
            select(col(Ticket.merged_into_id)).where(col(Ticket.number) == number)
        ).first()
    if merged is None:
        raise NotFound(f"There is no ticket #{number}.")
    if merged[0] is not None:
        raise InvalidInput("This ticket was merged into another one: reply there.")
    return UploadSink(already_staged)


def link_staged(session: Session, message_id: int, staged: Sequence[StagedFile]) -> int:
    """Write the rows tying staged blobs to a new message (inside its transaction)."""
    settings = get_settings()
    if len(staged) > settings.attachment_max_files:
        raise InvalidInput(f"Attach at most {settings.attachment_max_files} files to one message.")
    for item in staged:
        path = blob_path(item.sha256)
        if not path.is_file():
            raise InvalidInput(f"“{item.filename}” was not fully uploaded: attach it again.")
        session.add(
            Attachment(
                message_id=message_id,
                filename=clean_filename(item.filename),
                content_type=item.content_type[:255],
                size_bytes=path.stat().st_size,
                sha256=item.sha256,
                storage_path=_relative(path),
            )
        )
    return len(staged)


def open_for_download(actor: Actor | None, attachment_id: int) -> Download:
    """The file behind an attachment, if `actor` may see its message (404 otherwise, so ids
    cannot be probed). No side effects."""
    if actor is None:
        require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        row = session.execute(
            select(
                col(Attachment.filename),
                col(Attachment.content_type),
                col(Attachment.sha256),
                col(Attachment.size_bytes),
                col(TicketMessage.is_internal),
                col(Client.portal_user_id),
            )
            .join(TicketMessage, col(TicketMessage.id) == col(Attachment.message_id))
            .join(Ticket, col(Ticket.id) == col(TicketMessage.ticket_id))
            .outerjoin(Client, col(Client.id) == col(Ticket.client_id))
            .where(col(Attachment.id) == attachment_id)
        ).first()
    if can(actor, Action.VIEW_TICKETS):
        visible = row is not None
    else:
        portal_user = require(actor, Action.USE_PORTAL)
        visible = (
            row is not None
            and not row.is_internal
            and row.portal_user_id is not None
            and row.portal_user_id == portal_user.user_id
        )
    if not visible:
        raise NotFound("There is no such file.")
    assert row is not None  # not visible otherwise
    path = blob_path(row.sha256)
    if not path.is_file():
        raise NotFound("That file is missing from the store: ask an administrator.")
    content_type = (
        row.content_type if row.content_type in _KNOWN_TYPES else "application/octet-stream"
    )
    return Download(
        path=path, filename=row.filename, content_type=content_type, size_bytes=row.size_bytes
    )


def group_by_message(rows: Sequence[tuple[int, int, str, int]]) -> dict[int, list[AttachmentRow]]:
    """Group (id, message_id, filename, size) rows by message for the timeline."""
    grouped: dict[int, list[AttachmentRow]] = {}
    for attachment_id, message_id, filename, size in rows:
        grouped.setdefault(message_id, []).append(
            AttachmentRow(
                id=attachment_id,
                message_id=message_id,
                filename=filename,
                size_label=size_label(size),
                url=routes.attachment(attachment_id),
            )
        )
    return grouped
