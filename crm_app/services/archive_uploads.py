"""Resumable archive uploads: a browser sends a PST/OST/mbox/EML file of gigabytes in chunks
at stated offsets (tus-like), and after a dropped connection asks how far the server got and
goes on from there. `crm_app/api/archive_uploads.py` is the HTTP side.

An upload is two files in `<archives upload dir>/incoming/`: `<id>.json`, written once when the
upload is created (who created it, the file's name and size, label, client, confidentiality),
and `<id>.part`, the bytes received so far. The offset is the part file's size. State lives
beside the bytes rather than in a table because it must go wherever the bytes go: every web
worker that can append to the part file sees the same state, a restarted worker finds it as it
was, and cleaning up an abandoned upload removes both files together (no row can outlive its
bytes or the other way round). Writers of one upload take an exclusive `flock` on its sidecar,
so two requests for the same upload (a retry racing a slow original) never interleave.

Who may: the permission of `queue_archive` (managers; agents when a manager allows it; only
managers mark an archive managers-only), checked when the upload is created and again on every
chunk and on completion. Only the user who created an upload may see or touch it; to anyone
else it does not exist. Uploads not written to for `CRM_UPLOAD_ABANDON_HOURS` are removed by
the `upload_cleanup` job (`cleanup_abandoned_archive_uploads`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from crm_app.auth.permissions import Action, Actor, can
from crm_app.db import session_scope
from crm_app.services.archives import (
    ARCHIVE_SUFFIXES,
    ARCHIVE_UPLOAD_MAX_BYTES,
    find_client_by_email,
    queue_archive,
    upload_dir,
)
from crm_app.services.archives.policy import _require_archive_manager
from crm_app.services.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from crm_app.services.uploads import UploadTooLarge
from crm_app.settings import get_settings
from models.archive import ArchiveSource

log = logging.getLogger("crm_app.archive_uploads")

# One request's body at most: small enough that a dropped chunk costs little to resend.
CHUNK_MAX_BYTES = 8 << 20
# Unfinished uploads one user may keep at once (each may hold gigabytes of disk).
OPEN_UPLOADS_PER_USER = 20
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
_NOT_FOUND = "No such upload: choose the file again to start over."


class OffsetMismatch(Conflict):
    """A chunk sent for another offset than the bytes received so far (a resend after a
    dropped connection); carries the offset to go on from."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"The upload is at byte {offset}: send from there.")
        self.offset = offset


@dataclass(frozen=True)
class ArchiveUploadState:
    """How far one upload has got, as its creator sees it."""

    upload_id: str
    file_name: str
    offset: int  # bytes received so far
    total_bytes: int
    archive_id: int | None = None  # set once completed


@dataclass(frozen=True)
class NewArchiveUpload:
    """What the browser says about a file before sending it."""

    file_name: str
    total_bytes: int
    label: str = ""
    client_email: str = ""
    confidential: bool = False


def _incoming() -> Path:
    folder = upload_dir() / "incoming"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _paths(upload_id: str) -> tuple[Path, Path, Path]:
    """The sidecar, the part file and the completion marker of one upload."""
    folder = _incoming()
    return (
        folder / f"{upload_id}.json",
        folder / f"{upload_id}.part",
        folder / f"{upload_id}.done",
    )


def _signed_in(actor: Actor | None) -> Actor:
    if actor is None or actor.user_id is None:
        raise NotAuthenticated("Please sign in.")
    return actor


def _may_upload(actor: Actor | None, *, confidential: bool) -> Actor:
    actor = _signed_in(actor)
    with session_scope() as session:
        actor = _require_archive_manager(session, actor)
    if confidential and not can(actor, Action.MANAGE_AI):
        raise PermissionDenied("Only managers may mark an archive managers-only.")
    return actor


def _read_meta(sidecar: Path) -> dict:
    try:
        return json.loads(sidecar.read_text())
    except (FileNotFoundError, ValueError):
        raise NotFound(_NOT_FOUND) from None


@contextlib.contextmanager
def _locked(actor: Actor | None, upload_id: str, *, wait: bool = False) -> Iterator[dict]:
    """The upload's metadata under its exclusive lock, for its creator only (anyone else, or a
    malformed id, finds nothing). A second writer is refused rather than queued unless `wait`."""
    actor = _signed_in(actor)
    if not _UPLOAD_ID.match(upload_id or ""):
        raise NotFound(_NOT_FOUND)
    sidecar, _, _ = _paths(upload_id)
    try:
        handle = sidecar.open("r")
    except FileNotFoundError:
        raise NotFound(_NOT_FOUND) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Conflict("Another part of this upload is being written; try again.") from None
        meta = _read_meta(sidecar)
        if meta.get("user_id") != actor.user_id:
            raise NotFound(_NOT_FOUND)
        yield meta


def _offset(part: Path) -> int:
    return _size_and_mtime(part)[0]


def _state(upload_id: str, meta: dict) -> ArchiveUploadState:
    _, part, done = _paths(upload_id)
    archive_id = int(done.read_text()) if done.exists() else None
    return ArchiveUploadState(
        upload_id=upload_id,
        file_name=meta["file_name"],
        offset=meta["total_bytes"] if archive_id is not None else _offset(part),
        total_bytes=meta["total_bytes"],
        archive_id=archive_id,
    )


def _open_uploads_of(user_id: int) -> int:
    count = 0
    for sidecar in _incoming().glob("*.json"):
        with contextlib.suppress(NotFound):
            if (
                _read_meta(sidecar).get("user_id") == user_id
                and not sidecar.with_suffix(".done").exists()
            ):
                count += 1
    return count


def create_upload(actor: Actor | None, new: NewArchiveUpload) -> ArchiveUploadState:
    """Start an upload of one archive file; returns its unguessable id (offset 0). Checks who
    may, the file's name and size, the client and the free disk before any byte is sent.
    Writes the upload's sidecar and an empty part file."""
    actor = _may_upload(actor, confidential=new.confidential)
    assert actor.user_id is not None
    name = Path(str(new.file_name or "")).name.strip()[:300]
    if not name.lower().endswith(ARCHIVE_SUFFIXES):
        raise InvalidInput(f"{name or 'That file'}: choose a PST, OST, mbox or EML file.")
    total = int(new.total_bytes)
    if total <= 0:
        raise InvalidInput(f"{name} is empty.")
    if total > ARCHIVE_UPLOAD_MAX_BYTES:
        raise UploadTooLarge(f"{name}: an archive may be at most 64 GB; name a server path.")
    client_id = find_client_by_email(actor, new.client_email)
    folder = _incoming()
    if shutil.disk_usage(folder).free < total:
        raise UploadTooLarge(f"{name}: the server has not enough free disk for this archive.")
    if _open_uploads_of(actor.user_id) >= OPEN_UPLOADS_PER_USER:
        raise Conflict(
            f"You have {OPEN_UPLOADS_PER_USER} unfinished uploads: finish or cancel one first."
        )
    upload_id = secrets.token_urlsafe(24)  # 32 characters, 192 random bits
    sidecar, part, _ = _paths(upload_id)
    meta = {
        "user_id": actor.user_id,
        "file_name": name,
        "total_bytes": total,
        "label": " ".join((new.label or "").split())[:200],
        "client_id": client_id,
        "confidential": bool(new.confidential),
        "created_at": time.time(),
    }
    part.touch(mode=0o600)
    # Written whole, then renamed into place: a reader never sees half a sidecar.
    staging = folder / f"{upload_id}.json.new"
    staging.write_text(json.dumps(meta))
    staging.replace(sidecar)
    return ArchiveUploadState(upload_id, name, 0, total)


def get_upload(actor: Actor | None, upload_id: str) -> ArchiveUploadState:
    """How far an upload has got (its creator only). No side effects."""
    with _locked(actor, upload_id, wait=True) as meta:
        return _state(upload_id, meta)


class ChunkWriter:
    """Appends one request's body to an upload, holding its lock until `close`. Whatever
    arrived before a dropped connection stays: the next chunk goes on from there."""

    def __init__(self, lock: contextlib.ExitStack, part: IO[bytes], start: int, total: int) -> None:
        self._lock = lock
        self._part = part
        self.offset = start
        self._limit = min(total, start + CHUNK_MAX_BYTES)

    def write(self, data: bytes) -> None:
        if self.offset + len(data) > self._limit:
            raise UploadTooLarge(
                f"A chunk may be at most {CHUNK_MAX_BYTES >> 20} MB and must not run past "
                "the file's size."
            )
        self._part.write(data)
        self.offset += len(data)

    def close(self) -> int:
        """Flush and unlock; returns the offset reached."""
        try:
            self._part.flush()
            os.fsync(self._part.fileno())
        finally:
            self._lock.close()  # closes the part file, then releases the upload's lock
        return self.offset


def begin_chunk(
    actor: Actor | None, upload_id: str, offset: int, length: int | None
) -> ChunkWriter:
    """Lock the upload for one chunk starting at `offset`, which must be the bytes received so
    far (else `OffsetMismatch` with the offset to resend from). `length`, when the request says
    it, is checked before any byte is read. The caller writes the body and closes."""
    stack = contextlib.ExitStack()
    try:
        meta = stack.enter_context(_locked(actor, upload_id))
        _may_upload(actor, confidential=meta["confidential"])
        _, part, done = _paths(upload_id)
        if done.exists():
            raise Conflict("This upload is complete already.")
        current = _offset(part)
        if offset != current:
            raise OffsetMismatch(current)
        if length is not None and (
            length > CHUNK_MAX_BYTES or current + length > meta["total_bytes"]
        ):
            raise UploadTooLarge(
                f"A chunk may be at most {CHUNK_MAX_BYTES >> 20} MB and must not run past "
                "the file's size."
            )
        handle = stack.enter_context(part.open("ab"))
        owned = stack.pop_all()  # the writer holds the lock and the file from here
    except BaseException:
        stack.close()
        raise
    return ChunkWriter(owned, handle, current, meta["total_bytes"])


def complete_upload(actor: Actor | None, upload_id: str) -> ArchiveUploadState:
    """All bytes are in: move the file beside the other uploaded archives and queue it for
    import (once: completing again answers with the same archive). Refused while bytes are
    missing. The upload's sidecar stays, marked done, until cleanup."""
    with _locked(actor, upload_id, wait=True) as meta:
        sidecar, part, done = _paths(upload_id)
        if done.exists():
            return _state(upload_id, meta)
        received = _offset(part)
        if received != meta["total_bytes"]:
            raise OffsetMismatch(received)
        final = upload_dir() / f"{uuid.uuid4().hex}{Path(meta['file_name']).suffix.lower()}"
        part.replace(final)
        try:
            archive_id = queue_archive(
                actor,
                final,
                label=meta["label"],
                client_id=meta["client_id"],
                confidential=meta["confidential"],
                source=ArchiveSource.UPLOAD,
                file_name=meta["file_name"],
            )
        except BaseException:
            final.replace(part)  # nothing queued: the bytes stay where a retry finds them
            raise
        staging = done.with_suffix(".done.new")
        staging.write_text(str(archive_id))
        staging.replace(done)
        sidecar.touch()  # cleanup counts from the last use
        return _state(upload_id, meta)


def cancel_upload(actor: Actor | None, upload_id: str) -> None:
    """Drop an unfinished upload and its bytes (its creator only). A completed upload's
    archive is not touched: cancel or delete that on the archives page."""
    with _locked(actor, upload_id, wait=True):
        _remove(upload_id)


def _remove(upload_id: str) -> None:
    sidecar, part, done = _paths(upload_id)
    for path in (part, done, sidecar):
        path.unlink(missing_ok=True)


def cleanup_abandoned_archive_uploads() -> int:
    """Job step: remove uploads not written to within `CRM_UPLOAD_ABANDON_HOURS` (a closed
    tab, a manager who gave up), their bytes and sidecars; returns how many."""
    cutoff = time.time() - get_settings().upload_abandon_hours * 3600
    removed = 0
    folder = _incoming()
    for path in folder.iterdir():
        if path.suffix != ".json":
            if path.name.endswith(".new") and _mtime(path) < cutoff:
                path.unlink(missing_ok=True)  # left by a worker that died mid-write
            continue
        upload_id = path.stem
        _, part, done = _paths(upload_id)
        if max(_mtime(path), _mtime(part), _mtime(done)) >= cutoff:
            continue
        try:
            with path.open("r") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                _remove(upload_id)
                removed += 1
        except (BlockingIOError, FileNotFoundError):
            continue  # being written right now, or removed meanwhile
    # A part file whose sidecar is gone can never be completed.
    for part in folder.glob("*.part"):
        if not part.with_suffix(".json").exists() and _mtime(part) < cutoff:
            part.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("abandoned archive uploads removed", extra={"uploads": removed})
    return removed


def _mtime(path: Path) -> float:
    return _size_and_mtime(path)[1]


def _size_and_mtime(path: Path) -> tuple[int, float]:
    """A file's size and modification time; nothing (0) for one removed meanwhile."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return 0, 0.0
    return found.st_size, found.st_mtime
