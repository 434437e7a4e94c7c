"""Queueing a file for the ingest job, cancelling and deleting an archive, and the audience
of documents an archive held."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import CursorResult, delete, func, select, update
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, can
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.archives.policy import _require_archive_manager
from crm_app.services.archives.rows import ARCHIVE_LOCK_CLASS, ARCHIVE_SUFFIXES
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied
from crm_app.settings import get_settings
from models.archive import Archive, ArchiveMessage, ArchiveSource, ArchiveStatus, Confidentiality
from models.base import utcnow
from models.client import Client
from models.retrieval import Audience, RetrievalChunk, RetrievalDocument


def queue_archive(
    actor: Actor | None,
    path: str | Path,
    *,
    label: str = "",
    client_id: int | None = None,
    confidential: bool = False,
    source: str = ArchiveSource.SERVER_PATH,
    file_name: str | None = None,
) -> int:
    """Queue one file for the ingest job; returns the archive id. The file must exist and be
    readable by the service; its name must say PST/OST, mbox or EML. (A mailbox folder is
    queued by `archives.imap.queue_imap_folder`.)"""
    path = Path(path)
    if source not in (ArchiveSource.UPLOAD, ArchiveSource.SERVER_PATH):
        raise InvalidInput("Unknown archive source.")
    with session_scope() as session:
        actor = _require_archive_manager(session, actor)
        if source == ArchiveSource.SERVER_PATH and not can(actor, Action.MANAGE_AI):
            raise PermissionDenied("Only managers may import a file from the server's disk.")
        if not path.is_absolute():
            raise InvalidInput("Give the archive's full path on the server.")
        if not path.is_file():
            raise InvalidInput(f"No readable file at {path}.")
        shown_name = (file_name or path.name)[:300]
        if not shown_name.lower().endswith(ARCHIVE_SUFFIXES):
            raise InvalidInput("Choose a PST, OST, mbox or EML file.")
        return add_archive(
            session,
            actor,
            source=source,
            path=str(path),
            file_name=shown_name,
            bytes_total=path.stat().st_size,
            label=label,
            client_id=client_id,
            confidential=confidential,
        )


def add_archive(
    session: Session,
    actor: Actor,
    *,
    source: str,
    path: str,
    file_name: str,
    bytes_total: int,
    label: str,
    client_id: int | None,
    confidential: bool,
) -> int:
    """The queued archive row and its audit entry, for an actor already allowed to import."""
    if confidential and not can(actor, Action.MANAGE_AI):
        raise PermissionDenied("Only managers may mark an archive managers-only.")
    if client_id is not None and session.get(Client, client_id) is None:
        raise InvalidInput("That client does not exist.")
    label = " ".join((label or "").split())[:200]
    archive = Archive(
        label=label or file_name,
        owner_id=actor.user_id,
        client_id=client_id,
        confidentiality=(
            Confidentiality.MANAGERS_ONLY if confidential else Confidentiality.ALL_STAFF
        ),
        source=source,
        path=path,
        file_name=file_name,
        bytes_total=bytes_total,
    )
    session.add(archive)
    session.flush()
    assert archive.id is not None
    audit.record(
        session,
        actor,
        "archive.queue",
        "archive",
        archive.id,
        {"file": file_name, "source": source, "confidentiality": archive.confidentiality},
    )
    return archive.id


def upload_dir() -> Path:
    """Where uploaded archives are kept while (and after) they are read."""
    folder = get_settings().data_dir / "archives"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def cancel_archive(actor: Actor | None, archive_id: int) -> str:
    """Stop an import: a queued one at once, a running one at its next batch."""
    with session_scope() as session:
        actor = _require_archive_manager(session, actor)
        archive = session.get(Archive, archive_id, with_for_update=True)
        if archive is None or (
            archive.confidentiality == Confidentiality.MANAGERS_ONLY
            and not can(actor, Action.MANAGE_AI)
        ):
            raise NotFound("No such archive.")
        if archive.status == ArchiveStatus.QUEUED:
            archive.status, archive.finished_at = ArchiveStatus.CANCELLED, utcnow()
        elif archive.status == ArchiveStatus.RUNNING:
            archive.cancel_requested = True
        else:
            raise InvalidInput("That import has already ended.")
        audit.record(session, actor, "archive.cancel", "archive", archive_id, {})
        return archive.status


def delete_archive(actor: Actor | None, archive_id: int) -> dict[str, int]:
    """Remove an archive and the documents, chunks and embeddings only it holds; a message
    another archive also holds stays, owned by that archive."""
    with session_scope() as session:
        actor = _require_archive_manager(session, actor)
        archive = session.get(Archive, archive_id, with_for_update=True)
        if archive is None or (
            archive.confidentiality == Confidentiality.MANAGERS_ONLY
            and not can(actor, Action.MANAGE_AI)
        ):
            raise NotFound("No such archive.")
        if (
            archive.status == ArchiveStatus.RUNNING
            and not session.execute(
                select(func.pg_try_advisory_xact_lock(ARCHIVE_LOCK_CLASS, archive_id))
            ).scalar()
        ):
            raise InvalidInput("It is being imported: cancel it first, then delete it.")
        stored = select(col(ArchiveMessage.document_id)).where(
            col(ArchiveMessage.archive_id) == archive_id,
            col(ArchiveMessage.stored).is_(True),
            col(ArchiveMessage.document_id).is_not(None),
        )
        doc_ids: list[int] = list(session.execute(stored).scalars())
        # Messages another archive also read pass to that archive (the first that read it).
        heirs: dict[int, int] = dict(
            session.execute(
                select(col(ArchiveMessage.document_id), func.min(col(ArchiveMessage.id)))
                .where(
                    col(ArchiveMessage.document_id).in_(doc_ids),
                    col(ArchiveMessage.archive_id) != archive_id,
                )
                .group_by(col(ArchiveMessage.document_id))
            ).all()
        )
        if heirs:
            session.execute(
                update(ArchiveMessage)
                .where(col(ArchiveMessage.id).in_(list(heirs.values())))
                .values(stored=True)
            )
        orphans = [d for d in doc_ids if d not in heirs]
        chunks = 0
        if orphans:
            chunks = cast(
                "CursorResult[Any]",
                session.execute(
                    delete(RetrievalChunk).where(col(RetrievalChunk.document_id).in_(orphans))
                ),
            ).rowcount
            session.execute(delete(RetrievalDocument).where(col(RetrievalDocument.id).in_(orphans)))
        session.execute(delete(Archive).where(col(Archive.id) == archive_id))
        if heirs:
            recompute_audience(session, list(heirs))
        stored_file = Path(archive.path)
        if archive.source == ArchiveSource.UPLOAD and stored_file.parent == upload_dir():
            stored_file.unlink(missing_ok=True)
        result = {
            "documents": len(orphans),
            "chunks": chunks,
            "kept_for_other_archives": len(heirs),
        }
        audit.record(
            session,
            actor,
            "archive.delete",
            "archive",
            archive_id,
            {"file": archive.file_name, **result},
        )
        return result


def recompute_audience(session: Session, document_ids: list[int]) -> None:
    """A message held by any all-staff archive is for all staff; otherwise managers only."""
    if not document_ids:
        return
    open_to_staff = (
        select(col(ArchiveMessage.document_id))
        .join(Archive, col(Archive.id) == col(ArchiveMessage.archive_id))
        .where(
            col(ArchiveMessage.document_id).in_(document_ids),
            col(Archive.confidentiality) == Confidentiality.ALL_STAFF,
        )
    )
    session.execute(
        update(RetrievalDocument)
        .where(col(RetrievalDocument.id).in_(document_ids))
        .values(
            audience=sa.case(
                (col(RetrievalDocument.id).in_(open_to_staff), Audience.STAFF.value),
                else_=Audience.MANAGERS.value,
            )
        )
    )
