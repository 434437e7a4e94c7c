"""Reading archived messages: the original behind a citation, and a client's correspondence."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import col

from crm_app import routes
from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.archives.policy import _visible_archives
from crm_app.services.archives.rows import ArchivedMessageView, CorrespondenceRow
from crm_app.services.errors import NotFound
from models.archive import Archive, ArchiveMessage
from models.client import Client
from models.retrieval import RetrievalDocument, SourceKind


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
