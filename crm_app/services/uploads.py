"""The rules every file upload follows, whatever page takes it.

An upload site declares an `UploadPolicy` (who may upload, how big, how many files). The web
layer checks it before the first byte is read: the upload guard (`crm_app/upload_guard.py`)
refuses a request whose session may not take the policy's action, that is larger than the
policy allows, or that would exceed the uploads one user may have in flight at once
(`CRM_UPLOAD_MAX_CONCURRENT`, counted in PostgreSQL so every web worker sees them). The handler
then streams into `new_upload_path(policy)`, checking `check_chunk` as bytes arrive.

Files live under `<data dir>/uploads/<purpose>/`, readable by the service user only, never in
Reflex's own upload folder (which it serves to anyone). Files not used within
`CRM_UPLOAD_ABANDON_HOURS` are deleted by the `upload_cleanup` job.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput, RateLimited
from crm_app.settings import get_settings
from models.base import utcnow
from models.upload import UploadSlot

log = logging.getLogger("crm_app.uploads")

# Multipart boundaries, headers and the bound-args field on top of the files themselves.
REQUEST_OVERHEAD_BYTES = 256 * 1024
# A slot not refreshed for this long belongs to a request that died with its worker.
SLOT_STALE_AFTER = timedelta(minutes=5)
TOUCH_EVERY_SECONDS = 30.0


class UploadTooLarge(InvalidInput):
    http_status = 413


@dataclass(frozen=True)
class UploadPolicy:
    purpose: str  # folder name and label, e.g. "client-import"
    action: Action  # what the uploader must be allowed to do
    max_file_bytes: int
    max_files: int = 1
    suffixes: tuple[str, ...] = ()  # accepted file name endings (lower case); empty: any

    @property
    def max_request_bytes(self) -> int:
        return self.max_files * self.max_file_bytes + REQUEST_OVERHEAD_BYTES

    def too_large_message(self) -> str:
        return f"A file may be at most {_say_size(self.max_file_bytes)}."


_HANDLERS: dict[str, UploadPolicy] = {}


def register_handler(handler_name: str, policy: UploadPolicy) -> None:
    """Declare that the upload endpoint may feed `handler_name` under `policy`; the guard
    refuses uploads to any handler not declared here."""
    _HANDLERS[handler_name] = policy


def policy_for_handler(handler_name: str) -> UploadPolicy | None:
    return _HANDLERS.get(handler_name)


def authorize(actor: Actor | None, policy: UploadPolicy) -> Actor:
    """The permission check an upload handler repeats before it writes anything."""
    return require(actor, policy.action)


def check_request_size(policy: UploadPolicy, content_length: int | None) -> None:
    if content_length is not None and content_length > policy.max_request_bytes:
        raise UploadTooLarge(policy.too_large_message())


def check_file_name(policy: UploadPolicy, file_name: str) -> None:
    if policy.suffixes and not file_name.lower().endswith(policy.suffixes):
        raise InvalidInput(f"Upload a {' or '.join(policy.suffixes)} file.")


def check_chunk(policy: UploadPolicy, file_name: str, bytes_so_far: int, files_so_far: int) -> None:
    """Called as bytes arrive: refuse the upload as soon as it breaks the policy."""
    check_file_name(policy, file_name)
    if bytes_so_far > policy.max_file_bytes:
        raise UploadTooLarge(policy.too_large_message())
    if files_so_far > policy.max_files:
        raise InvalidInput(f"Upload at most {policy.max_files} file(s) at once.")


def begin(actor: Actor | None, policy: UploadPolicy) -> int:
    """Check permission and take one of the user's upload slots; returns the slot id."""
    actor = authorize(actor, policy)
    limit = get_settings().upload_max_concurrent
    now = utcnow()
    with session_scope() as session:
        # One user's concurrent requests count their slots one at a time.
        session.execute(
            select(
                func.pg_advisory_xact_lock(
                    func.hashtextextended(f"upload-slots:{actor.user_id}", 0)
                )
            )
        )
        in_flight = session.scalars(
            select(func.count())
            .select_from(UploadSlot)
            .where(
                col(UploadSlot.user_id) == actor.user_id,
                col(UploadSlot.touched_at) > now - SLOT_STALE_AFTER,
            )
        ).one()
        if in_flight >= limit:
            raise RateLimited(
                f"You already have {in_flight} uploads running; wait for one to finish."
            )
        assert actor.user_id is not None  # `authorize` let a signed-in user through
        slot = UploadSlot(
            user_id=actor.user_id, purpose=policy.purpose, started_at=now, touched_at=now
        )
        session.add(slot)
        session.flush()
        assert slot.id is not None
        return slot.id


def touch(slot_id: int) -> None:
    with session_scope() as session:
        session.execute(
            update(UploadSlot).where(col(UploadSlot.id) == slot_id).values(touched_at=utcnow())
        )


def finish(slot_id: int) -> None:
    with session_scope() as session:
        session.execute(delete(UploadSlot).where(col(UploadSlot.id) == slot_id))


def uploads_root() -> Path:
    return get_settings().data_dir / "uploads"


def upload_dir(policy: UploadPolicy) -> Path:
    folder = uploads_root() / policy.purpose
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def new_upload_path(policy: UploadPolicy, suffix: str = "") -> Path:
    """A fresh file name for one upload (the client's name is never used as a path)."""
    path = upload_dir(policy) / f"{uuid.uuid4().hex}{suffix}"
    path.touch(mode=0o600)
    return path


def cleanup_abandoned() -> dict[str, int]:
    """Job: delete uploaded files not used within `CRM_UPLOAD_ABANDON_HOURS` (a tab closed
    mid-import, a worker that died mid-upload) and the slots of dead requests."""
    cutoff = time.time() - get_settings().upload_abandon_hours * 3600
    files = 0
    root = uploads_root()
    if root.is_dir():
        for path in root.rglob("*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    files += 1
            except FileNotFoundError:
                continue  # used and removed meanwhile
    with session_scope() as session:
        slots = session.exec(
            delete(UploadSlot).where(col(UploadSlot.touched_at) < utcnow() - SLOT_STALE_AFTER)
        ).rowcount
    if files or slots:
        log.info("abandoned uploads removed", extra={"files": files, "slots": slots})
    return {"files": files, "slots": slots}


def _say_size(size: int) -> str:
    mb = size / (1024 * 1024)
    return f"{mb:.0f} MB" if mb >= 1 else f"{size // 1024} KB"
