"""What the ingest job writes: one transaction per batch of messages, and the lookup of
messages already known so they are not embedded again."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col

from crm_app import routes
from crm_app.db import session_scope
from crm_app.services.archives.rows import MAX_SOURCE_REF
from models.archive import Archive, ArchiveItemError, ArchiveMessage, Confidentiality
from models.base import utcnow
from models.retrieval import Audience, RetrievalChunk, RetrievalDocument, SourceKind
from models.ticket import TicketMessage


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
