"""Mail archives as the firm's knowledge: queue a file, follow its import, cancel, delete, read
its messages.

Who may do what: managers (`MANAGE_AI`) bring in and remove archives, and only they may mark
one "managers only" or see what such an archive holds; agents may import all-staff archives
when a manager has allowed it (`ArchivePolicy`). The ingest job (`jobs/pst_ingest.py`) does the
reading and writes each batch through `store_batch` here.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import Session, col

from crm_app import routes
from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied
from crm_app.settings import get_settings
from models.archive import (
    Archive,
    ArchiveItemError,
    ArchiveMessage,
    ArchivePolicy,
    ArchiveSource,
    ArchiveStatus,
    Confidentiality,
)
from models.base import utcnow
from models.client import Client
from models.retrieval import Audience, RetrievalChunk, RetrievalDocument, SourceKind
from models.ticket import TicketMessage

# Session-level advisory lock key space for "this archive is being read by a live worker".
ARCHIVE_LOCK_CLASS = 7_242_016
ARCHIVE_SUFFIXES = (".pst", ".ost", ".mbox", ".mbx", ".mbs", ".eml")
MAX_BODY_CHARS = 200_000
MAX_ANSWER_CHARS = 4_000
MAX_SOURCE_REF = 300


# --- rows handed to pages and the CLI ---------------------------------------------------------


@dataclass(frozen=True)
class ArchiveRow:
    id: int
    label: str
    file_name: str
    source: str
    confidentiality: str
    client_id: int | None
    client_name: str
    owner_name: str
    status: str
    cancel_requested: bool
    messages: int
    duplicates: int
    attachments: int
    skipped: int
    errors: int
    bytes_total: int
    bytes_done: int
    progress_percent: int
    eta_seconds: int | None
    eta_text: str
    error: str
    created_at: str
    finished_at: str


@dataclass(frozen=True)
class ItemErrorRow:
    position: int | None
    folder: str
    message: str
    fatal: bool


@dataclass(frozen=True)
class ArchivedMessageView:
    document_id: int
    subject: str
    sender: str
    recipients: str
    cc: str
    date: str
    message_id: str
    in_reply_to: str
    folder: str
    archive_labels: list[str]
    body: str
    attachments: list[dict[str, Any]]


@dataclass(frozen=True)
class CorrespondenceRow:
    document_id: int
    subject: str
    sender: str
    date: str
    snippet: str
    link: str


# --- permissions ------------------------------------------------------------------------------


def _policy(session: Session) -> ArchivePolicy:
    row = session.execute(select(ArchivePolicy).order_by(col(ArchivePolicy.id)).limit(1)).scalar()
    return row or ArchivePolicy(agents_may_import=False)


def agents_may_import() -> bool:
    with session_scope() as session:
        return _policy(session).agents_may_import


def may_manage_archives(actor: Actor | None) -> bool:
    """Managers always; agents when a manager allows it (for showing the page)."""
    if can(actor, Action.MANAGE_AI):
        return True
    return can(actor, Action.EDIT_TICKETS) and agents_may_import()


def _require_archive_manager(session: Session, actor: Actor | None) -> Actor:
    if can(actor, Action.MANAGE_AI):
        return actor  # type: ignore[return-value]
    actor = require(actor, Action.EDIT_TICKETS)
    if not _policy(session).agents_may_import:
        raise PermissionDenied("Only managers bring in archives here, unless they allow agents.")
    return actor


def set_agents_may_import(actor: Actor | None, allowed: bool) -> None:
    require(actor, Action.MANAGE_AI)
    with session_scope() as session:
        row = session.execute(
            select(ArchivePolicy).order_by(col(ArchivePolicy.id)).limit(1)
        ).scalar()
        if row is None:
            row = ArchivePolicy()
            session.add(row)
        row.agents_may_import, row.updated_at = bool(allowed), utcnow()
        session.flush()
        audit.record(
            session, actor, "archive.policy", "archive_policy", row.id, {"agents": allowed}
        )


def _visible_archives(actor: Actor | None) -> sa.ColumnElement[bool]:
    if can(actor, Action.MANAGE_AI):
        return sa.true()
    return col(Archive.confidentiality) == Confidentiality.ALL_STAFF


# --- queueing ---------------------------------------------------------------------------------


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
    readable by the service; its name must say PST/OST, mbox or EML."""
    path = Path(path)
    if source not in {s.value for s in ArchiveSource}:
        raise InvalidInput("Unknown archive source.")
    label = " ".join((label or "").split())[:200]
    with session_scope() as session:
        actor = _require_archive_manager(session, actor)
        if confidential and not can(actor, Action.MANAGE_AI):
            raise PermissionDenied("Only managers may mark an archive managers-only.")
        if source == ArchiveSource.SERVER_PATH and not can(actor, Action.MANAGE_AI):
            raise PermissionDenied("Only managers may import a file from the server's disk.")
        if not path.is_absolute():
            raise InvalidInput("Give the archive's full path on the server.")
        if not path.is_file():
            raise InvalidInput(f"No readable file at {path}.")
        shown_name = (file_name or path.name)[:300]
        if not shown_name.lower().endswith(ARCHIVE_SUFFIXES) and source != ArchiveSource.IMAP:
            raise InvalidInput("Choose a PST, OST, mbox or EML file.")
        if client_id is not None and session.get(Client, client_id) is None:
            raise InvalidInput("That client does not exist.")
        archive = Archive(
            label=label or shown_name,
            owner_id=actor.user_id,
            client_id=client_id,
            confidentiality=(
                Confidentiality.MANAGERS_ONLY if confidential else Confidentiality.ALL_STAFF
            ),
            source=source,
            path=str(path),
            file_name=shown_name,
            bytes_total=path.stat().st_size,
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
            {"file": shown_name, "source": source, "confidentiality": archive.confidentiality},
        )
        return archive.id


def upload_dir() -> Path:
    """Where uploaded archives are kept while (and after) they are read."""
    folder = get_settings().data_dir / "archives"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


# --- listing ----------------------------------------------------------------------------------


def _eta(archive: Archive) -> int | None:
    if archive.status != ArchiveStatus.RUNNING or not archive.started_at:
        return None
    if archive.bytes_done <= 0 or archive.bytes_total <= archive.bytes_done:
        return None
    spent = (utcnow() - archive.started_at).total_seconds()
    rate = archive.bytes_done / max(spent, 1e-3)
    return int((archive.bytes_total - archive.bytes_done) / rate) if rate > 0 else None


def _progress(archive: Archive) -> int:
    if archive.status == ArchiveStatus.DONE:
        return 100
    if archive.bytes_total <= 0:
        return 0
    return min(99, int(100 * archive.bytes_done / archive.bytes_total))


def _say_eta(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return f"about {max(seconds, 1)} s left"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def _row(archive: Archive, client_name: str, owner_name: str) -> ArchiveRow:
    assert archive.id is not None
    return ArchiveRow(
        id=archive.id,
        label=archive.label,
        file_name=archive.file_name,
        source=archive.source,
        confidentiality=archive.confidentiality,
        client_id=archive.client_id,
        client_name=client_name or "",
        owner_name=owner_name or "",
        status=archive.status,
        cancel_requested=archive.cancel_requested,
        messages=archive.messages,
        duplicates=archive.duplicates,
        attachments=archive.attachments,
        skipped=archive.skipped,
        errors=archive.errors,
        bytes_total=archive.bytes_total,
        bytes_done=archive.bytes_done,
        progress_percent=_progress(archive),
        eta_seconds=_eta(archive),
        eta_text=_say_eta(_eta(archive)),
        error=archive.error or "",
        created_at=archive.created_at.isoformat(timespec="seconds"),
        finished_at=archive.finished_at.isoformat(timespec="seconds")
        if archive.finished_at
        else "",
    )


def list_archives(actor: Actor | None, *, offset: int = 0, limit: int = 50) -> list[ArchiveRow]:
    """Archives newest first, one page; agents never see managers-only ones."""
    from models.user import User

    actor = require(actor, Action.VIEW_TICKETS)
    limit = min(max(int(limit), 1), 200)
    with session_scope() as session:
        rows = (
            session.execute(
                select(Archive, col(Client.name), col(User.name))
                .outerjoin(Client, col(Client.id) == col(Archive.client_id))
                .outerjoin(User, col(User.id) == col(Archive.owner_id))
                .where(_visible_archives(actor))
                .order_by(col(Archive.id).desc())
                .offset(max(int(offset), 0))
                .limit(limit)
            )
            .tuples()
            .all()
        )
        return [_row(archive, client, owner) for archive, client, owner in rows]


def get_archive(actor: Actor | None, archive_id: int) -> ArchiveRow:
    for row in list_archives_by_id(actor, [archive_id]):
        return row
    raise NotFound("No such archive.")


def list_archives_by_id(actor: Actor | None, ids: list[int]) -> list[ArchiveRow]:
    from models.user import User

    actor = require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        rows = (
            session.execute(
                select(Archive, col(Client.name), col(User.name))
                .outerjoin(Client, col(Client.id) == col(Archive.client_id))
                .outerjoin(User, col(User.id) == col(Archive.owner_id))
                .where(col(Archive.id).in_(ids), _visible_archives(actor))
                .order_by(col(Archive.id))
            )
            .tuples()
            .all()
        )
        return [_row(archive, client, owner) for archive, client, owner in rows]


def item_errors(actor: Actor | None, archive_id: int, *, limit: int = 100) -> list[ItemErrorRow]:
    actor = require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        archive = session.get(Archive, archive_id)
        if (
            archive is None
            or not session.execute(
                select(sa.literal(True)).where(
                    col(Archive.id) == archive_id, _visible_archives(actor)
                )
            ).scalar()
        ):
            raise NotFound("No such archive.")
        rows: Iterable[ArchiveItemError] = session.execute(
            select(ArchiveItemError)
            .where(col(ArchiveItemError.archive_id) == archive_id)
            .order_by(col(ArchiveItemError.id))
            .limit(min(max(int(limit), 1), 500))
        ).scalars()
        return [
            ItemErrorRow(
                position=row.position, folder=row.folder or "", message=row.message, fatal=row.fatal
            )
            for row in rows
        ]


# --- cancel and delete ------------------------------------------------------------------------


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


# --- what the ingest job writes ---------------------------------------------------------------


def source_ref_for(dedup_key: str) -> str:
    """The document key of a message: its dedup key, hashed when longer than the column."""
    if len(dedup_key) <= MAX_SOURCE_REF:
        return dedup_key
    return "long:" + hashlib.sha256(dedup_key.encode()).hexdigest()


@dataclass
class ArchivedMessageInput:
    """One message of a batch, as the job hands it over (its chunks already embedded)."""

    position: int
    dedup_key: str
    message_id: str | None
    subject: str
    folder: str | None
    occurred_at: datetime
    participants: list[str]
    meta: dict[str, Any]
    answer: str
    chunks: list[str] = field(default_factory=list)
    vectors: Any = None  # rows of the embedding matrix, one per chunk


@dataclass
class BatchOutcome:
    stored: int = 0
    duplicates: int = 0
    cancel_requested: bool = False
    gone: bool = False


@dataclass
class BatchInput:
    messages: list[ArchivedMessageInput]
    errors: list[tuple[int | None, str | None, str, bool]]  # position, folder, message, fatal
    attachments: int
    skipped: int
    next_position: int
    bytes_done: int


def known_messages(keys: list[str], message_ids: list[str]) -> tuple[set[str], set[str]]:
    """Of a batch: dedup keys already stored as archive documents, and Message-IDs already in
    live mail. Read before embedding, so known messages are never embedded again."""
    refs = {source_ref_for(k) for k in keys}
    variants = {v for mid in message_ids for v in (mid, mid.strip("<>"), f"<{mid.strip('<>')}>")}
    with session_scope() as session:
        stored: set[str] = set(
            session.execute(
                select(col(RetrievalDocument.source_ref)).where(
                    col(RetrievalDocument.source_kind) == SourceKind.ARCHIVE_MESSAGE,
                    col(RetrievalDocument.source_ref).in_(refs),
                )
            ).scalars()
        )
        live: set[str] = set()
        if variants:
            live = {
                m.strip("<>")
                for m in session.scalars(
                    select(col(TicketMessage.external_message_id)).where(
                        col(TicketMessage.external_message_id).in_(variants)
                    )
                )
                if m
            }
        return stored, live


def store_batch(archive_id: int, batch: BatchInput, embedding_model: str) -> BatchOutcome:
    """One transaction per batch: new documents with their chunks and vectors, a link per
    message (stored or known), item errors, counters and the resume position together, so a
    worker killed at any point resumes at the first message not committed."""
    outcome = BatchOutcome()
    with session_scope() as session:
        archive = session.get(Archive, archive_id, with_for_update=True)
        if archive is None:
            outcome.gone = True
            return outcome
        audience = (
            Audience.MANAGERS
            if archive.confidentiality == Confidentiality.MANAGERS_ONLY
            else Audience.STAFF
        )
        now = utcnow()
        # Live mail: a ticket message with the same Message-ID is the message itself.
        mids = {m.message_id.strip("<>") for m in batch.messages if m.message_id}
        live: dict[str, int] = {}
        if mids:
            variants = {v for mid in mids for v in (mid, f"<{mid}>")}
            for tm_id, ext in (
                session.execute(
                    select(col(TicketMessage.id), col(TicketMessage.external_message_id)).where(
                        col(TicketMessage.external_message_id).in_(variants)
                    )
                )
                .tuples()
                .all()
            ):
                live.setdefault(ext.strip("<>"), tm_id)
        links: list[dict[str, Any]] = []
        fresh = [
            m
            for m in batch.messages
            if not (m.message_id and m.message_id.strip("<>") in live) and m.chunks
        ]
        by_ref: dict[str, int] = {}
        inserted: set[int] = set()
        if fresh:
            rows = []
            seen: set[str] = set()
            for m in fresh:
                ref = source_ref_for(m.dedup_key)
                if ref in seen:
                    continue
                seen.add(ref)
                rows.append(
                    {
                        "source_kind": SourceKind.ARCHIVE_MESSAGE.value,
                        "source_ref": ref,
                        "audience": audience.value,
                        "client_id": archive.client_id,
                        "title": (m.subject or "(no subject)")[:500],
                        "question": "",
                        "answer": m.answer,
                        "label": archive.label[:200],
                        "participants": m.participants,
                        "metadata": m.meta,
                        "content_hash": "",
                        "occurred_at": m.occurred_at,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            table = RetrievalDocument.__table__  # type: ignore[attr-defined]  # set by SQLModel, not in its stubs
            result = (
                session.execute(
                    pg_insert(table)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["source_kind", "source_ref"])
                    .returning(table.c.id, table.c.source_ref)
                )
                .tuples()
                .all()
            )
            for doc_id, ref in result:
                by_ref[ref] = doc_id
                inserted.add(doc_id)
            if inserted:
                session.execute(
                    update(RetrievalDocument)
                    .where(col(RetrievalDocument.id).in_(inserted))
                    .values(
                        link=sa.literal(routes.ARCHIVE_MESSAGE_PREFIX)
                        + sa.cast(RetrievalDocument.id, sa.String)
                    )
                )
        refs = {source_ref_for(m.dedup_key) for m in batch.messages} - set(by_ref)
        if refs:
            by_ref.update(
                {
                    ref: doc_id
                    for doc_id, ref in session.execute(
                        select(col(RetrievalDocument.id), col(RetrievalDocument.source_ref)).where(
                            col(RetrievalDocument.source_kind) == SourceKind.ARCHIVE_MESSAGE,
                            col(RetrievalDocument.source_ref).in_(refs),
                        )
                    )
                    .tuples()
                    .all()
                }
            )
        chunk_rows = []
        stored_docs: set[int] = set()
        linked_docs: set[int] = set()
        for m in batch.messages:
            ref = source_ref_for(m.dedup_key)
            mid = m.message_id.strip("<>") if m.message_id else None
            doc_id = by_ref.get(ref)
            is_new = doc_id in inserted and doc_id not in stored_docs
            if is_new:
                assert doc_id is not None  # only ids just inserted are new
                stored_docs.add(doc_id)
                outcome.stored += 1
                for index, (text, vector) in enumerate(zip(m.chunks, m.vectors, strict=True)):
                    chunk_rows.append(
                        {
                            "document_id": doc_id,
                            "chunk_index": index,
                            "text": text,
                            "metadata": {
                                "source_kind": SourceKind.ARCHIVE_MESSAGE.value,
                                "archive_id": archive_id,
                            },
                            "embedding": vector,
                            "embedding_model": embedding_model,
                            "created_at": now,
                        }
                    )
            else:
                outcome.duplicates += 1
                if doc_id is not None:
                    linked_docs.add(doc_id)
            links.append(
                {
                    "archive_id": archive_id,
                    "position": m.position,
                    "dedup_key": ref,
                    "document_id": doc_id,
                    "ticket_message_id": live.get(mid) if mid and doc_id is None else None,
                    "stored": is_new,
                    "folder": (m.folder or "")[:500] or None,
                }
            )
        if chunk_rows:
            chunk_table = RetrievalChunk.__table__  # type: ignore[attr-defined]  # set by SQLModel, not in its stubs
            session.execute(sa.insert(chunk_table), chunk_rows)
        if links:
            link_table = ArchiveMessage.__table__  # type: ignore[attr-defined]  # set by SQLModel, not in its stubs
            session.execute(
                pg_insert(link_table)
                .values(links)
                .on_conflict_do_nothing(index_elements=["archive_id", "position"])
            )
        if linked_docs and audience == Audience.STAFF:
            # An all-staff archive holding a message makes it visible to all staff.
            session.execute(
                update(RetrievalDocument)
                .where(col(RetrievalDocument.id).in_(linked_docs))
                .values(audience=Audience.STAFF.value)
            )
        for position, folder, message, fatal in batch.errors:
            session.add(
                ArchiveItemError(
                    archive_id=archive_id,
                    position=position,
                    folder=(folder or "")[:500] or None,
                    message=message[:2000],
                    fatal=fatal,
                )
            )
        archive.messages += outcome.stored
        archive.duplicates += outcome.duplicates
        archive.attachments += batch.attachments
        archive.skipped += batch.skipped
        archive.errors += len(batch.errors)
        archive.resume_position = max(archive.resume_position, batch.next_position)
        archive.bytes_done = max(archive.bytes_done, min(batch.bytes_done, archive.bytes_total))
        archive.heartbeat_at = now
        outcome.cancel_requested = archive.cancel_requested
        return outcome


# --- reading archived messages ----------------------------------------------------------------


def _visible_archive_documents(actor: Actor | None) -> sa.ColumnElement[bool]:
    from crm_app.ai.retrieval import visible_documents

    require(actor, Action.VIEW_TICKETS)  # staff only: archives never reach the portal
    return sa.and_(
        col(RetrievalDocument.source_kind) == SourceKind.ARCHIVE_MESSAGE, visible_documents(actor)
    )


def _addresses(people: list[dict[str, str]]) -> str:
    return ", ".join(
        f"{p.get('name')} <{p.get('email')}>" if p.get("name") else p.get("email", "")
        for p in people
    )


def get_archived_message(actor: Actor | None, document_id: int) -> ArchivedMessageView:
    """The original message behind a citation: headers, body and attachment list."""
    condition = _visible_archive_documents(actor)
    with session_scope() as session:
        doc = session.execute(
            select(RetrievalDocument).where(col(RetrievalDocument.id) == document_id, condition)
        ).scalar()
        if doc is None:
            raise NotFound("No such message, or it is not yours to read.")
        labels: list[str] = list(
            session.execute(
                select(col(Archive.label))
                .join(ArchiveMessage, col(ArchiveMessage.archive_id) == col(Archive.id))
                .where(col(ArchiveMessage.document_id) == document_id, _visible_archives(actor))
                .distinct()
            ).scalars()
        )
        meta = doc.meta or {}
        sender = meta.get("from") or {}
        return ArchivedMessageView(
            document_id=document_id,
            subject=doc.title,
            sender=_addresses([sender]) if sender else "",
            recipients=_addresses(meta.get("to") or []),
            cc=_addresses(meta.get("cc") or []),
            date=doc.occurred_at.isoformat(timespec="minutes") if doc.occurred_at else "",
            message_id=meta.get("message_id") or "",
            in_reply_to=meta.get("in_reply_to") or "",
            folder=meta.get("folder") or "",
            archive_labels=labels or ([doc.label] if doc.label else []),
            body=meta.get("body") or doc.answer,
            attachments=list(meta.get("attachments") or []),
        )


def client_correspondence(
    actor: Actor | None,
    client_id: int,
    *,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[CorrespondenceRow], int]:
    """Archived messages a client's email address took part in (or filed under the client),
    newest first, one page, and how many there are."""
    condition = _visible_archive_documents(actor)
    require(actor, Action.VIEW_CLIENTS)
    with session_scope() as session:
        client = session.get(Client, client_id)
        if client is None:
            raise NotFound("No such client.")
        email = (client.email or "").strip().lower()
        doc = RetrievalDocument
        participants = col(doc.participants)
        matches = [col(doc.client_id) == client_id]
        if email:
            matches.append(participants.op("@>")(sa.cast([email], JSONB)))
        where = [condition, or_(*matches)]
        if date_from is not None:
            where.append(col(doc.occurred_at) >= date_from)
        if date_to is not None:
            where.append(col(doc.occurred_at) <= date_to)
        total: int = session.execute(
            select(func.count()).select_from(doc).where(*where)
        ).scalar_one()
        rows = session.execute(
            select(
                col(doc.id),
                col(doc.title),
                col(doc.meta),
                col(doc.occurred_at),
                col(doc.answer),
                col(doc.link),
            )
            .where(*where)
            .order_by(col(doc.occurred_at).desc().nulls_last(), col(doc.id).desc())
            .offset(max(int(offset), 0))
            .limit(min(max(int(limit), 1), 100))
        ).all()
        return [
            CorrespondenceRow(
                document_id=row.id,
                subject=row.title,
                sender=_addresses([row.meta.get("from")]) if row.meta.get("from") else "",
                date=row.occurred_at.date().isoformat() if row.occurred_at else "",
                snippet=" ".join((row.answer or "").split())[:200],
                link=row.link or routes.archive_message(row.id),
            )
            for row in rows
        ], int(total)


# --- uploads ----------------------------------------------------------------------------------

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
