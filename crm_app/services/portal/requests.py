"""A client's own requests in the portal: list, open, read, comment, close, reopen, rate.

Every function takes the signed-in actor, requires `USE_PORTAL`, and reaches only tickets of
the client records linked to that account (`Client.portal_user_id`); another client's ticket
gets the same answer as a missing one. What a client reads is built here, not borrowed from
the staff view: public messages only (never an internal note, never who wrote one), and no
SLA, priority, assignee or sentiment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import get_engine, session_scope
from crm_app.services import assignment, attachments, audit, events, sla
from crm_app.services.attachments import AttachmentRow, StagedFile, UploadSink
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.tickets.actions import UNSET as UNSET_ASSIGNEE
from crm_app.services.tickets.actions import apply_changes
from crm_app.services.tickets.rows import (
    clean_body,
    fmt,
    iso,
    load_for,
    touch,
)
from crm_app.settings import get_settings
from models.base import utcnow
from models.client import Client
from models.portal import PortalRequest, TicketRating
from models.ticket import (
    OPEN_STATUSES,
    Attachment,
    Channel,
    SenderKind,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from models.user import User

CATEGORIES = (
    "Account & access",
    "Payments & transfers",
    "Statements & documents",
    "Investments",
    "Tax",
    "Other",
)
# What a client reads for each status (the staff words mean nothing to them).
STATUS_LABELS = {
    TicketStatus.NEW.value: "Received",
    TicketStatus.OPEN.value: "In progress",
    TicketStatus.PENDING.value: "Awaiting your reply",
    TicketStatus.RESOLVED.value: "Solved",
    TicketStatus.CLOSED.value: "Closed",
}
_OPEN = {s.value for s in OPEN_STATUSES}
_SOLVED = {TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value}
LIST_LIMIT = 200
NOT_LINKED = "Your account is not linked to a client record yet: ask your advisor."


@dataclass(frozen=True)
class PortalTicketRow:
    number: int
    subject: str
    status: str
    status_label: str
    is_open: bool
    category: str
    created_iso: str
    updated_at: str
    updated_iso: str


@dataclass(frozen=True)
class PortalMessageRow:
    id: int
    from_me: bool
    author: str
    body_text: str
    created_at: str
    created_iso: str
    attachments: list[AttachmentRow] = field(default_factory=list)


@dataclass(frozen=True)
class PortalTicketDetail:
    ticket: PortalTicketRow
    messages: list[PortalMessageRow]
    can_comment: bool
    can_close: bool
    can_reopen: bool
    can_rate: bool
    rating_score: int  # 0: not rated
    rating_comment: str


def _row(ticket: Any, category: str | None) -> PortalTicketRow:
    return PortalTicketRow(
        number=ticket.number,
        subject=ticket.subject,
        status=ticket.status,
        status_label=STATUS_LABELS.get(ticket.status, ticket.status),
        is_open=ticket.status in _OPEN,
        category=category or "",
        created_iso=iso(ticket.created_at),
        updated_at=fmt(ticket.updated_at),
        updated_iso=iso(ticket.updated_at),
    )


def own_client(session: Session, actor: Actor) -> Client:
    """The client record this account speaks for (the oldest, if several are linked)."""
    client = session.scalars(
        select(Client)
        .where(col(Client.portal_user_id) == actor.user_id, col(Client.deleted_at).is_(None))
        .order_by(col(Client.id))
    ).first()
    if client is None:
        raise NotFound(NOT_LINKED)
    return client


def _mine() -> Any:
    """Tickets of the client records linked to the bound `user_id`."""
    return col(Ticket.client_id).in_(
        select(col(Client.id)).where(col(Client.portal_user_id) == sa.bindparam("user_id"))
    )


def list_requests(actor: Actor) -> list[PortalTicketRow]:
    """The client's tickets: open ones first, then the most recently updated."""
    require(actor, Action.USE_PORTAL)
    open_first = sa.case((col(Ticket.status).in_(list(_OPEN)), 0), else_=1)
    with session_scope() as session:
        rows = session.execute(
            select(Ticket, col(PortalRequest.category))
            .outerjoin(PortalRequest, col(PortalRequest.ticket_id) == col(Ticket.id))
            .where(_mine(), col(Ticket.merged_into_id).is_(None))
            .order_by(open_first, col(Ticket.updated_at).desc(), col(Ticket.id).desc())
            .limit(LIST_LIMIT),
            {"user_id": actor.user_id},
        ).all()
        return [_row(row.Ticket, row.category) for row in rows]


def _clean_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject or len(subject) > 300:
        raise InvalidInput("Give your request a subject (up to 300 characters).")
    return subject


def open_request(
    actor: Actor,
    *,
    subject: str,
    message: str,
    category: str,
    files: Sequence[StagedFile] = (),
) -> int:
    """Open a ticket for the client's own record, on the portal channel; returns its number.

    Side effects: assigned by round-robin when it is on (else the queue has it); audited with
    its category and files. After the commit: emits `ticket.created` (the assignee hears)."""
    require(actor, Action.USE_PORTAL)
    subject, body = _clean_subject(subject), clean_body(message)
    if category not in CATEGORIES:
        raise InvalidInput("Choose what your request is about.")
    with session_scope() as session:
        client = own_client(session, actor)
        assignee_id = assignment.next_agent(session)
        now = utcnow()
        ticket = Ticket(
            subject=subject,
            priority=TicketPriority.NORMAL.value,
            channel=Channel.PORTAL.value,
            client_id=client.id,
            assignee_id=assignee_id,
            is_unread=True,
            created_at=now,
            updated_at=now,
        )
        session.add(ticket)
        session.flush()
        assert ticket.id is not None  # flushed
        # The same clocks as a staff-opened ticket: the policy's targets, business hours.
        sla.on_ticket_event(session, ticket, now, created=True, message="client")
        message_row = _client_message(session, actor, ticket, body, now)
        assert message_row.id is not None  # flushed
        attached = attachments.link_staged(session, message_row.id, files)
        session.add(PortalRequest(ticket_id=ticket.id, category=category, created_at=now))
        session.refresh(ticket)
        audit.record(
            session,
            actor,
            "ticket.created",
            "ticket",
            ticket.id,
            {
                "number": ticket.number,
                "subject": subject,
                "channel": Channel.PORTAL.value,
                "category": category,
                "attachments": attached,
            },
        )
        number = ticket.number
        created = events.stage(
            session,
            events.Event(
                "ticket.created",
                actor=actor,
                ticket_id=ticket.id,
                number=number,
                subject=subject,
                payload={"assignee_id": assignee_id, "channel": Channel.PORTAL.value},
            ),
        )
    events.emit(created)
    assert number is not None
    return number


def _client_message(
    session: Session, actor: Actor, ticket: Ticket, body: str, now: Any
) -> TicketMessage:
    assert ticket.id is not None  # a stored ticket
    message = TicketMessage(
        ticket_id=ticket.id,
        sender_kind=SenderKind.CLIENT.value,
        author_id=actor.user_id,
        body_text=body,
        channel=Channel.PORTAL.value,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


_TIMELINE: sa.Select[*tuple[Any, ...]] = (
    select(
        col(TicketMessage.id),
        col(TicketMessage.sender_kind),
        col(TicketMessage.body_text),
        col(TicketMessage.created_at),
        col(User.name).label("author_name"),
        col(User.role).label("author_role"),
    )
    .outerjoin(User, col(User.id) == col(TicketMessage.author_id))
    .where(
        col(TicketMessage.ticket_id) == sa.bindparam("ticket_id"),
        col(TicketMessage.is_internal).is_(False),
    )
    .order_by(col(TicketMessage.created_at), col(TicketMessage.id))
)
_FILES = (
    select(
        col(Attachment.id),
        col(Attachment.message_id),
        col(Attachment.filename),
        col(Attachment.size_bytes),
    )
    .join(TicketMessage, col(TicketMessage.id) == col(Attachment.message_id))
    .where(
        col(TicketMessage.ticket_id) == sa.bindparam("ticket_id"),
        col(TicketMessage.is_internal).is_(False),
    )
    .order_by(col(Attachment.id))
)


def get_request(actor: Actor, number: int) -> PortalTicketDetail:
    """One of the client's tickets with its public conversation (a read)."""
    require(actor, Action.USE_PORTAL)
    firm = get_settings().firm_name
    with session_scope() as session:
        ticket = load_for(session, actor, number)
        if ticket.merged_into_id is not None:
            raise NotFound(f"There is no ticket #{number}.")
        params = {"ticket_id": ticket.id}
        files = attachments.group_by_message(
            [tuple(r) for r in session.execute(_FILES, params).tuples().all()]
        )
        messages = [
            PortalMessageRow(
                id=m.id,
                # A client message is theirs, also when an agent logged it from a call.
                from_me=m.sender_kind == SenderKind.CLIENT,
                author="You"
                if m.sender_kind == SenderKind.CLIENT
                else (m.author_name or firm)
                if m.sender_kind == SenderKind.AGENT
                else firm,
                body_text=m.body_text,
                created_at=fmt(m.created_at),
                created_iso=iso(m.created_at),
                attachments=files.get(m.id, []),
            )
            for m in session.execute(_TIMELINE, params).all()
        ]
        category = session.execute(
            select(col(PortalRequest.category)).where(col(PortalRequest.ticket_id) == ticket.id)
        ).scalar_one_or_none()
        rating = session.execute(
            select(col(TicketRating.score), col(TicketRating.comment)).where(
                col(TicketRating.ticket_id) == ticket.id
            )
        ).first()
        row = _row(ticket, category)
    return PortalTicketDetail(
        ticket=row,
        messages=messages,
        can_comment=ticket.status != TicketStatus.CLOSED,
        can_close=ticket.status != TicketStatus.CLOSED,
        can_reopen=ticket.status in _SOLVED,
        can_rate=ticket.status in _SOLVED,
        rating_score=rating.score if rating else 0,
        rating_comment=rating.comment if rating else "",
    )


def _own_open_ticket(session: Session, actor: Actor, number: int) -> Ticket:
    ticket = load_for(session, actor, number, lock=True)
    if ticket.merged_into_id is not None:
        raise NotFound(f"There is no ticket #{number}.")
    return ticket


def add_comment(actor: Actor, number: int, body: str, files: Sequence[StagedFile] = ()) -> int:
    """The client's answer on their own ticket, with files; returns the message id.

    Refused on a closed ticket (reopen it first). Side effects: a pending or solved ticket
    opens again and is unread for staff; audited. After the commit: emits `message.added`
    (the assignee, or the queue when nobody has it, hears in the app and by mail)."""
    require(actor, Action.USE_PORTAL)
    body = (body or "").strip() if files else clean_body(body)
    if len(body) > 100_000:
        raise InvalidInput("A message may hold at most 100,000 characters.")
    with session_scope() as session:
        ticket = _own_open_ticket(session, actor, number)
        if ticket.status == TicketStatus.CLOSED:
            raise InvalidInput("This request is closed: reopen it to write again.")
        now = utcnow()
        message = _client_message(session, actor, ticket, body, now)
        assert message.id is not None  # flushed
        attached = attachments.link_staged(session, message.id, files)
        touch(ticket, now)
        ticket.is_unread = True
        changes = {}
        status_before = ticket.status
        if ticket.status in (TicketStatus.PENDING, TicketStatus.RESOLVED):
            changes = apply_changes(
                session,
                actor,
                ticket,
                status=TicketStatus.OPEN.value,
                priority=None,
                assignee_id=UNSET_ASSIGNEE,
                now=now,
                as_part_of_message=True,
            )
        # A client's answer: resumes a paused resolution clock, starts the next response.
        sla.on_ticket_event(session, ticket, now, status_before=status_before, message="client")
        record: dict[str, Any] = {"message_id": message.id, **changes}
        if attached:
            record["attachments"] = attached
        audit.record(session, actor, "ticket.message_added", "ticket", ticket.id, record)
        client_name = session.execute(
            select(col(Client.name)).where(col(Client.id) == ticket.client_id)
        ).scalar_one_or_none()
        event = events.Event(
            "message.added",
            actor=actor,
            ticket_id=ticket.id,
            number=number,
            subject=ticket.subject,
            payload={
                "message_id": message.id,
                "internal": False,
                "from_client": True,
                "body": body,
                "channel": ticket.channel,
                "via": Channel.PORTAL.value,
                "assignee_id": ticket.assignee_id,
                "client_name": client_name or "",
            },
        )
        event = events.stage(session, event)
        message_id = message.id
    events.emit(event)
    assert message_id is not None
    return message_id


def _set_status(
    actor: Actor, number: int, status: str, allowed_from: set[str], refusal: str
) -> None:
    require(actor, Action.USE_PORTAL)
    with session_scope() as session:
        ticket = _own_open_ticket(session, actor, number)
        if ticket.status not in allowed_from:
            raise InvalidInput(refusal)
        changes = apply_changes(
            session,
            actor,
            ticket,
            status=status,
            priority=None,
            assignee_id=UNSET_ASSIGNEE,
            now=utcnow(),
        )
        emitted = [
            events.stage(
                session,
                events.Event(
                    "ticket.updated",
                    actor=actor,
                    ticket_id=ticket.id,
                    number=ticket.number,
                    subject=ticket.subject,
                    payload={"changes": changes, "by_client": True},
                ),
            )
        ]
    for event in emitted:
        events.emit(event)


def close_request(actor: Actor, number: int) -> None:
    """The client closes their request (it no longer needs an answer). Audited; emits
    `ticket.updated`."""
    _set_status(
        actor,
        number,
        TicketStatus.CLOSED.value,
        {s.value for s in TicketStatus} - {TicketStatus.CLOSED.value},
        "This request is already closed.",
    )


def reopen_request(actor: Actor, number: int) -> None:
    """The client reopens a solved or closed request. Audited; emits `ticket.updated`."""
    _set_status(actor, number, TicketStatus.OPEN.value, _SOLVED, "This request is still open.")


def rate_request(actor: Actor, number: int, score: int, comment: str = "") -> None:
    """CSAT: the client rates a solved or closed request 1-5 with an optional comment; a
    second rating replaces the first. Audited (`ticket.rated`); emits `ticket.rated`."""
    require(actor, Action.USE_PORTAL)
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise InvalidInput("Choose a rating from 1 to 5.")
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise InvalidInput("A comment may hold at most 2,000 characters.")
    with session_scope() as session:
        ticket = _own_open_ticket(session, actor, number)
        if ticket.status not in _SOLVED:
            raise InvalidInput("You can rate a request once it is solved.")
        now = utcnow()
        rating = session.execute(
            select(TicketRating).where(col(TicketRating.ticket_id) == ticket.id).with_for_update()
        ).scalar_one_or_none()
        before = rating.score if rating else None
        if rating is None:
            assert ticket.id is not None  # a stored ticket
            rating = TicketRating(ticket_id=ticket.id, created_at=now, score=score)
            session.add(rating)
        rating.score, rating.comment, rating.updated_at = score, comment, now
        rating.client_id, rating.rated_by_id = ticket.client_id, actor.user_id
        rating.assignee_id = ticket.assignee_id
        audit.record(session, actor, "ticket.rated", "ticket", ticket.id, {"csat": [before, score]})
        event = events.Event(
            "ticket.rated",
            actor=actor,
            ticket_id=ticket.id,
            number=ticket.number,
            subject=ticket.subject,
            payload={"score": score},
        )
    events.emit(event)


def start_upload(actor: Actor | None, number: int | None, *, already_staged: int = 0) -> UploadSink:
    """Check that the client may attach files (to a new request, `number` None, or to their own
    ticket that is not closed) before a byte is written."""
    require(actor, Action.USE_PORTAL)
    assert actor is not None
    settings = get_settings()
    if already_staged >= settings.attachment_max_files:
        raise InvalidInput(f"Attach at most {settings.attachment_max_files} files to one message.")
    with session_scope() as session:
        if number is None:
            own_client(session, actor)
        else:
            ticket = _own_open_ticket(session, actor, number)
            if ticket.status == TicketStatus.CLOSED:
                raise InvalidInput("This request is closed: reopen it to write again.")
    return UploadSink(already_staged)


def request_signature(actor: Actor, number: int) -> str:
    """The ticket's version and newest public message id: what an open portal view compares
    to reload when an agent answers ("" when it is not the client's)."""
    require(actor, Action.USE_PORTAL)
    newest = (
        select(func.max(col(TicketMessage.id)))
        .where(
            col(TicketMessage.ticket_id) == col(Ticket.id),
            col(TicketMessage.is_internal).is_(False),
        )
        .scalar_subquery()
    )
    with get_engine().connect() as conn:
        row = conn.execute(
            select(col(Ticket.version), newest).where(col(Ticket.number) == number, _mine()),
            {"user_id": actor.user_id},
        ).first()
    return f"{row[0]}:{row[1] or 0}" if row else ""


def list_signature(actor: Actor) -> str:
    """Changes when any of the client's tickets changes (the list reloads live)."""
    require(actor, Action.USE_PORTAL)
    with get_engine().connect() as conn:
        row = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(col(Ticket.version)), 0),
                func.max(col(Ticket.updated_at)),
            ).where(_mine()),
            {"user_id": actor.user_id},
        ).first()
    return f"{row[0]}:{row[1]}:{row[2]}" if row else ""
