"""Privacy requests about one client: export everything held about them, erase them, and the
legal hold that blocks erasure. Managers only; every action is audited.

Erasure anonymizes instead of deleting: the client row keeps its id, the tickets keep their
number, status, timestamps and messages' sender and time, and the audit log keeps who did what
and when. Every personal value (name, contact data, finances, notes, ticket subjects, message
text, attachment names and bytes, the values recorded in the client's and their tickets' audit
entries, the retrieval store's texts, chunks and embeddings, drafted replies, notification
titles) is replaced or removed.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, delete, or_, select, update
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.client_fields import clean_text
from crm_app.services.errors import Conflict, InvalidInput, NotFound
from models.ai import ReplySuggestion
from models.audit import AuditLog
from models.base import utcnow
from models.client import Client, ClientNote
from models.notification import Notification
from models.retrieval import RetrievalChunk, RetrievalDocument, SourceKind
from models.ticket import Attachment, Ticket, TicketMessage
from models.user import User

ERASED = "[erased]"
# Client columns holding personal data and the value each gets on erasure.
ERASED_VALUES: dict[str, Any] = {
    "email": None,
    "phone": None,
    "other_emails": [],
    "other_phones": [],
    "country": None,
    "region": None,
    "net_worth": None,
    "aum": None,
    "kyc_review_due": None,
    "tags": [],
    "custom_fields": {},
    "marketing_consent": False,
    "marketing_consent_at": None,
    "marketing_consent_source": None,
    "portal_user_id": None,
    "owner_agent_id": None,
}


# Ticket history keys that never hold what a client wrote or who they are; every other value in
# a ticket's audit entries (the subject above all) is erased with the client.
TICKET_HISTORY_KEPT = frozenset(
    {
        "number",
        "priority",
        "status",
        "assignee",
        "message_id",
        "into",
        "from",
        "messages",
        "channel",
        "sla_state",
    }
)


def _erased_ticket_changes(changes: dict[str, Any] | None) -> dict[str, Any]:
    return {
        key: value
        if key in TICKET_HISTORY_KEPT
        else [ERASED, ERASED]
        if isinstance(value, list)
        else ERASED
        for key, value in (changes or {}).items()
    }


def _erase_derived_data(session: Session, client: Client, tickets: Any, needles: list[str]) -> None:
    """Copies of the client's words outside the ticket tables: the retrieval store (document
    texts, chunks and their embeddings), drafted replies and notifications."""
    numbers = select(sa.cast(col(Ticket.number), sa.String)).where(
        col(Ticket.client_id) == client.id
    )
    # Archived mail names its participants as "Name <address>" or a bare address or name.
    mentions = sa.text(
        "jsonb_typeof(retrieval_document.participants) = 'array' AND EXISTS (SELECT 1 FROM"
        " jsonb_array_elements_text(retrieval_document.participants) AS p(value)"
        " WHERE lower(p.value) = ANY(:needles)"
        " OR lower(p.value) LIKE ANY(SELECT '%<' || n || '>%' FROM unnest(:needles) AS n))"
    ).bindparams(sa.bindparam("needles", needles, type_=sa.ARRAY(sa.String)))
    documents = select(col(RetrievalDocument.id)).where(
        or_(
            col(RetrievalDocument.client_id) == client.id,
            and_(
                col(RetrievalDocument.source_kind) == SourceKind.RESOLVED_TICKET,
                col(RetrievalDocument.source_ref).in_(numbers),
            ),
            mentions,
        )
    )
    ticket_documents = select(col(RetrievalDocument.id)).where(
        col(RetrievalDocument.source_kind) == SourceKind.RESOLVED_TICKET,
        col(RetrievalDocument.source_ref).in_(numbers),
    )
    # Chunks hold the text and its embedding: gone. A resolved ticket's document stays as an
    # empty tombstone dated now, so the indexer does not index the erased ticket again.
    session.execute(delete(RetrievalChunk).where(col(RetrievalChunk.document_id).in_(documents)))
    session.execute(
        update(RetrievalDocument)
        .where(col(RetrievalDocument.id).in_(ticket_documents))
        .values(
            title=ERASED,
            question="",
            answer="",
            participants=[],
            meta={},
            label=None,
            client_id=None,
            content_hash="",
            source_updated_at=utcnow(),
        ),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        delete(RetrievalDocument).where(
            col(RetrievalDocument.id).in_(documents),
            col(RetrievalDocument.id).not_in(ticket_documents),
        ),
        execution_options={"synchronize_session": False},
    )
    session.execute(delete(ReplySuggestion).where(col(ReplySuggestion.ticket_id).in_(tickets)))
    session.execute(
        update(Notification).where(col(Notification.ticket_id).in_(tickets)).values(title=ERASED)
    )


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _load(session: Session, client_id: int) -> Client:
    client = session.get(Client, client_id) if isinstance(client_id, int) else None
    if client is None:
        raise NotFound("That client does not exist.")
    return client


def export_client_data(actor: Actor, client_id: int) -> dict[str, Any]:
    """Everything held about one client, as JSON-ready data (a subject access request)."""
    require(actor, Action.MANAGE_CLIENT_PRIVACY)
    with session_scope() as session:
        client = _load(session, client_id)
        columns = Client.__table__.columns  # type: ignore[attr-defined]  # set by SQLModel, not in its stubs
        record = {column.name: _json(getattr(client, column.name)) for column in columns}
        notes = [
            {"created_at": _json(n.created_at), "author": author, "body": n.body}
            for n, author in session.execute(
                select(ClientNote, col(User.name))
                .outerjoin(User, col(User.id) == col(ClientNote.author_id))
                .where(col(ClientNote.client_id) == client_id)
                .order_by(col(ClientNote.created_at))
            ).tuples()
        ]
        tickets = []
        for ticket in session.scalars(
            select(Ticket)
            .where(col(Ticket.client_id) == client_id)
            .order_by(col(Ticket.created_at))
        ):
            messages = session.scalars(
                select(TicketMessage)
                .where(col(TicketMessage.ticket_id) == ticket.id)
                .order_by(col(TicketMessage.created_at))
            )
            tickets.append(
                {
                    "number": ticket.number,
                    "subject": ticket.subject,
                    "status": ticket.status,
                    "channel": ticket.channel,
                    "created_at": _json(ticket.created_at),
                    "messages": [
                        {
                            "at": _json(m.created_at),
                            "from": m.sender_kind,
                            "channel": m.channel,
                            "internal": m.is_internal,
                            "text": m.body_text,
                        }
                        for m in messages
                    ],
                }
            )
        history = [
            {"at": _json(e.created_at), "action": e.action, "changes": e.changes}
            for e in session.scalars(
                select(AuditLog)
                .where(col(AuditLog.entity_type) == "client", col(AuditLog.entity_id) == client_id)
                .order_by(col(AuditLog.created_at), col(AuditLog.id))
            )
        ]
        audit.record(session, actor, "client.data_exported", "client", client_id, {})
        return {
            "exported_at": _json(utcnow()),
            "client": record,
            "notes": notes,
            "tickets": tickets,
            "campaigns": [],
            "history": history,
        }


def export_client_json(actor: Actor, client_id: int) -> bytes:
    return json.dumps(export_client_data(actor, client_id), indent=2, ensure_ascii=False).encode(
        "utf-8"
    )


def set_legal_hold(actor: Actor, client_id: int, hold: bool, reason: str = "") -> None:
    """Put a client under legal hold (erasure refused) or lift it; a hold needs a reason."""
    require(actor, Action.MANAGE_CLIENT_PRIVACY)
    reason = clean_text(reason, "Reason", max_length=300)
    if hold and not reason:
        raise InvalidInput("Say why the client is under legal hold (case, regulator, …).")
    with session_scope() as session:
        client = _load(session, client_id)
        if client.legal_hold == hold:
            return
        audit.record(
            session,
            actor,
            "client.legal_hold_set" if hold else "client.legal_hold_lifted",
            "client",
            client.id,
            {
                "legal_hold": [client.legal_hold, hold],
                "legal_hold_reason": [client.legal_hold_reason, reason or None],
            },
        )
        client.legal_hold, client.legal_hold_reason = hold, (reason or None) if hold else None


def erase_client(actor: Actor, client_id: int, reason: str = "") -> None:
    """Anonymize a client's personal data; refused under legal hold or if already erased."""
    require(actor, Action.MANAGE_CLIENT_PRIVACY)
    reason = clean_text(reason, "Reason", max_length=300)
    files: list[str] = []
    with session_scope() as session:
        client = session.execute(
            select(Client).where(col(Client.id) == client_id).with_for_update()
        ).scalar_one_or_none()
        if client is None:
            raise NotFound("That client does not exist.")
        if client.legal_hold:
            raise Conflict("This client is under legal hold; lift the hold before erasing.")
        if client.erased_at is not None:
            raise Conflict("This client was erased already.")
        # What identifies the client in free text elsewhere, read before it is erased.
        needles = [
            v.lower() for v in (client.name, client.email, *(client.other_emails or [])) if v
        ]
        for key, value in ERASED_VALUES.items():
            setattr(client, key, value)
        client.name = f"Erased client #{client.id}"
        client.erased_at = client.updated_at = utcnow()
        session.execute(
            update(ClientNote).where(ClientNote.client_id == client.id).values(body=ERASED)
        )
        tickets = select(Ticket.id).where(Ticket.client_id == client.id)
        messages = select(TicketMessage.id).where(TicketMessage.ticket_id.in_(tickets))
        session.execute(update(Ticket).where(Ticket.client_id == client.id).values(subject=ERASED))
        session.execute(
            update(TicketMessage)
            .where(TicketMessage.ticket_id.in_(tickets))
            .values(body_text=ERASED, body_html=None)
        )
        files = [
            path
            for (path,) in session.execute(
                select(Attachment.storage_path).where(Attachment.message_id.in_(messages))
            )
        ]
        session.execute(
            update(Attachment)
            .where(Attachment.message_id.in_(messages))
            .values(filename="erased", storage_path="")
        )
        # The history stays (who changed which field, when); the values it recorded go.
        for entry in session.execute(
            select(AuditLog).where(
                AuditLog.entity_type == "client", AuditLog.entity_id == client.id
            )
        ).scalars():
            entry.changes = {key: [ERASED, ERASED] for key in (entry.changes or {})}
        for entry in session.execute(
            select(AuditLog).where(
                AuditLog.entity_type == "ticket", AuditLog.entity_id.in_(tickets)
            )
        ).scalars():
            entry.changes = _erased_ticket_changes(entry.changes)
        _erase_derived_data(session, client, tickets, needles)
        audit.record(
            session,
            actor,
            "client.erased",
            "client",
            client.id,
            {"erased_at": [None, _json(client.erased_at)], "reason": [None, reason]},
        )
    for path in files:  # after the commit: a rollback must not lose files still referenced
        if path:
            Path(path).unlink(missing_ok=True)
