"""Archive files uploaded through the browser, streamed to disk and then queued."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services.archives.actions import queue_archive, upload_dir
from crm_app.services.archives.policy import _require_archive_manager
from crm_app.services.archives.rows import ARCHIVE_SUFFIXES
from crm_app.services.errors import InvalidInput, PermissionDenied
from models.archive import ArchiveSource
from models.client import Client

ARCHIVE_UPLOAD_MAX_BYTES = 64 << 30  # one archive file; PSTs of tens of GB exist
ARCHIVE_UPLOAD_MAX_FILES = 20


@dataclass
class ArchiveUploadOptions:
    label: str = ""
    client_email: str = ""
    confidential: bool = False


class ArchiveUpload:
    """Streams one upload request's files to disk chunk by chunk (never whole in memory), then
    queues each as an archive. Permission is checked before the first byte is written."""

    def __init__(self, actor: Actor, options: ArchiveUploadOptions) -> None:
        with session_scope() as session:
            self.actor = _require_archive_manager(session, actor)
        if options.confidential and not can(self.actor, Action.MANAGE_AI):
            raise PermissionDenied("Only managers may mark an archive managers-only.")
        self.options = options
        self.client_id = find_client_by_email(self.actor, options.client_email)
        self._files: dict[str, tuple[Path, Any]] = {}
        self._sizes: dict[str, int] = {}

    def write(self, file_name: str, offset: int, data: bytes) -> None:
        name = Path(str(file_name or "archive")).name[:300]
        if name not in self._files:
            if not name.lower().endswith(ARCHIVE_SUFFIXES):
                raise InvalidInput(f"{name}: choose a PST, OST, mbox or EML file.")
            if len(self._files) >= ARCHIVE_UPLOAD_MAX_FILES:
                raise InvalidInput(f"Upload at most {ARCHIVE_UPLOAD_MAX_FILES} files at once.")
            path = upload_dir() / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}.part"
            self._files[name] = (path, path.open("wb"))
            self._sizes[name] = 0
        path, handle = self._files[name]
        if offset != self._sizes[name]:
            handle.seek(offset)
        handle.write(data)
        self._sizes[name] = max(self._sizes[name], offset + len(data))
        if self._sizes[name] > ARCHIVE_UPLOAD_MAX_BYTES:
            raise InvalidInput(f"{name}: an archive may be at most 64 GB; name a server path.")

    def finish(self) -> list[int]:
        ids = []
        for name, (path, handle) in self._files.items():
            handle.close()
            final = path.with_suffix("")  # drop ".part"
            path.replace(final)
            ids.append(
                queue_archive(
                    self.actor,
                    final,
                    label=self.options.label,
                    client_id=self.client_id,
                    confidential=self.options.confidential,
                    source=ArchiveSource.UPLOAD,
                    file_name=name,
                )
            )
        self._files.clear()
        return ids

    def abort(self) -> None:
        for path, handle in self._files.values():
            handle.close()
            path.unlink(missing_ok=True)
        self._files.clear()


def find_client_by_email(actor: Actor | None, email: str) -> int | None:
    """The client an archive concerns, named by email (empty: none)."""
    email = (email or "").strip().lower()
    if not email:
        return None
    require(actor, Action.VIEW_CLIENTS)
    with session_scope() as session:
        found = session.execute(
            select(col(Client.id)).where(func.lower(col(Client.email)) == email).limit(1)
        ).scalar()
        if found is None:
            raise InvalidInput(f"No client has the email {email}.")
        return int(found)
