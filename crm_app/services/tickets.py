"""Tickets: create, list, open, reply, internal notes, status. Every write is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlmodel import Session

from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied
from crm_app.services.pagination import Page
from models.base import utcnow
from models.client import Client
from models.sla import SlaConfig
from models.ticket import (
    OPEN_STATUSES,
    Channel,
    SenderKind,
    SlaState,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from models.user import User

MAX_BODY = 100_000


@dataclass(frozen=True)
class TicketRow:
    number: int
    subject: str
    status: str
    priority: str
    channel: str
    sla_state: str
    is_unread: bool
    client_name: str
    assignee_name: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class MessageRow:
    id: int
    sender_kind: str
    author_name: str
    body_text: str
    is_internal: bool
    channel: str
    created_at: str


@dataclass(frozen=True)
class TicketDetail:
    ticket: TicketRow
    client_id: int | None
    client_email: str
    messages: list[MessageRow]
    first_response_due_at: str
    resolution_due_at: str


def _fmt(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _ticket_row(ticket: Ticket, client_name: str | None, assignee_name: str | None) -> TicketRow:
    assert ticket.number is not None
    return TicketRow(
        number=ticket.number,
        subject=ticket.subject,
        status=ticket.status,
        priority=ticket.priority,
        channel=ticket.channel,
        sla_state=ticket.sla_state,
        is_unread=ticket.is_unread,
        client_name=client_name or "",
        assignee_name=assignee_name or "",
        created_at=_fmt(ticket.created_at),
        updated_at=_fmt(ticket.updated_at),
    )


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write a message first.")
    if len(body) > MAX_BODY:
        raise InvalidInput(f"A message may hold at most {MAX_BODY:,} characters.")
    return body


def _choice(value: str, enum: type, what: str) -> str:
    allowed = [m.value for m in enum]
    if value not in allowed:
        raise InvalidInput(f"{what} must be one of: {', '.join(allowed)}.")
    return value


def apply_sla_targets(session: Session, ticket: Ticket) -> None:
    """Set the due times from the priority's SLA target (first response from creation)."""
    config = session.execute(
        select(SlaConfig).where(SlaConfig.priority == ticket.priority)
    ).scalar_one_or_none()
    if config is None:
        return
    ticket.first_response_due_at = ticket.created_at + timedelta(
        minutes=config.first_response_minutes
    )
    ticket.resolution_due_at = ticket.created_at + timedelta(minutes=config.resolution_minutes)
    if ticket.sla_state == SlaState.NONE:
        ticket.sla_state = SlaState.ON_TRACK


def create_ticket(
    actor: Actor,
    *,
    client_id: int | None,
    subject: str,
    body: str,
    priority: str = TicketPriority.NORMAL,
    channel: str = Channel.AGENT,
) -> TicketRow:
    require(actor, Action.EDIT_TICKETS)
    subject = " ".join((subject or "").split())
    if not subject or len(subject) > 300:
        raise InvalidInput("A ticket needs a subject (up to 300 characters).")
    body = _clean_body(body)
    _choice(priority, TicketPriority, "Priority")
    _choice(channel, Channel, "Channel")
    with session_scope() as session:
        client = session.get(Client, client_id) if client_id else None
        if client_id and client is None:
            raise InvalidInput("That client does not exist.")
        now = utcnow()
        ticket = Ticket(
            subject=subject,
            priority=priority,
            channel=channel,
            client_id=client_id,
            assignee_id=actor.user_id,
            # The creating agent has read it; unread marks news for the assignee.
            is_unread=False,
            created_at=now,
            updated_at=now,
        )
        apply_sla_targets(session, ticket)
        session.add(ticket)
        session.flush()
        session.add(
            TicketMessage(
                ticket_id=ticket.id,
                sender_kind=SenderKind.AGENT,
                author_id=actor.user_id,
                body_text=body,
                channel=channel,
                created_at=now,
            )
        )
        audit.record(session, actor, "ticket.created", "ticket", ticket.id,
                     {"number": ticket.number, "subject": subject, "priority": priority})
        session.refresh(ticket)
        return _ticket_row(ticket, client.name if client else None, actor.name)


_SLA_URGENCY = case(
    (Ticket.sla_state == SlaState.BREACHED, 0),
    (Ticket.sla_state == SlaState.NEAR_BREACH, 1),
    else_=2,
)


def list_tickets(
    actor: Actor, *, status: str = "open", page: int = 1, page_size: int = 25
) -> Page:
    """A page of the staff queue: unread first, then SLA urgency, then oldest."""
    require(actor, Action.VIEW_TICKETS)
    page, page_size = max(page, 1), min(max(page_size, 1), 100)
    query = (
        select(Ticket, Client.name, User.name)
        .outerjoin(Client, Client.id == Ticket.client_id)
        .outerjoin(User, User.id == Ticket.assignee_id)
    )
    count_query = select(func.count()).select_from(Ticket)
    if status == "open":
        condition = Ticket.status.in_([s.value for s in OPEN_STATUSES])
    elif status in {s.value for s in TicketStatus}:
        condition = Ticket.status == status
    elif status == "all":
        condition = None
    else:
        raise InvalidInput("Unknown status filter.")
    if condition is not None:
        query, count_query = query.where(condition), count_query.where(condition)
    query = query.order_by(
        Ticket.is_unread.desc(), _SLA_URGENCY, Ticket.resolution_due_at.asc().nulls_last(),
        Ticket.created_at, Ticket.id,
    )
    with session_scope() as session:
        total = session.execute(count_query).scalar_one()
        rows = session.execute(query.offset((page - 1) * page_size).limit(page_size)).all()
        return Page(
            items=[_ticket_row(t, cname, aname) for t, cname, aname in rows],
            total=total, page=page, page_size=page_size,
        )


def _load_for(session: Session, actor: Actor, number: int) -> Ticket:
    """The ticket, if this actor may see it. A client sees only their own tickets."""
    ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one_or_none()
    if can(actor, Action.VIEW_TICKETS):
        if ticket is None:
            raise NotFound(f"There is no ticket #{number}.")
        return ticket
    require(actor, Action.USE_PORTAL)
    owner = None
    if ticket is not None and ticket.client_id is not None:
        owner = session.execute(
            select(Client.portal_user_id).where(Client.id == ticket.client_id)
        ).scalar_one_or_none()
    if ticket is None or owner is None or owner != actor.user_id:
        # The same answer as a missing ticket, so numbers cannot be probed.
        raise NotFound(f"There is no ticket #{number}.")
    return ticket


def get_ticket(actor: Actor, number: int, *, mark_read: bool = True) -> TicketDetail:
    """Open a ticket. Staff see internal notes; a client never does."""
    with session_scope() as session:
        ticket = _load_for(session, actor, number)
        staff = can(actor, Action.VIEW_TICKETS)
        if staff and mark_read and ticket.is_unread:
            ticket.is_unread = False
        client = session.get(Client, ticket.client_id) if ticket.client_id else None
        assignee = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
        message_query = (
            select(TicketMessage, User.name)
            .outerjoin(User, User.id == TicketMessage.author_id)
            .where(TicketMessage.ticket_id == ticket.id)
            .order_by(TicketMessage.created_at, TicketMessage.id)
        )
        if not staff:
            message_query = message_query.where(TicketMessage.is_internal.is_(False))
        messages = [
            MessageRow(
                id=m.id,
                sender_kind=m.sender_kind,
                author_name=author or (client.name if client and m.sender_kind == "client" else ""),
                body_text=m.body_text,
                is_internal=m.is_internal,
                channel=m.channel,
                created_at=_fmt(m.created_at),
            )
            for m, author in session.execute(message_query).all()
        ]
        return TicketDetail(
            ticket=_ticket_row(ticket, client.name if client else None,
                               assignee.name if assignee else None),
            client_id=client.id if client else None,
            client_email=(client.email or "") if client and staff else "",
            messages=messages,
            first_response_due_at=_fmt(ticket.first_response_due_at) if staff else "",
            resolution_due_at=_fmt(ticket.resolution_due_at) if staff else "",
        )


def add_message(actor: Actor, number: int, body: str, *, internal: bool = False) -> MessageRow:
    """A staff reply or internal note, or a client's reply from the portal."""
    body = _clean_body(body)
    with session_scope() as session:
        ticket = _load_for(session, actor, number)
        staff = can(actor, Action.EDIT_TICKETS)
        if not staff:
            if internal:
                raise PermissionDenied("Only staff can write internal notes.")
            if ticket.status == TicketStatus.CLOSED:
                raise InvalidInput("This ticket is closed. Open a new one instead.")
        now = utcnow()
        message = TicketMessage(
            ticket_id=ticket.id,
            sender_kind=SenderKind.AGENT if staff else SenderKind.CLIENT,
            author_id=actor.user_id,
            body_text=body,
            body_html=None,
            is_internal=internal,
            channel=ticket.channel if not staff else Channel.AGENT,
            created_at=now,
        )
        session.add(message)
        ticket.updated_at = now
        if staff and not internal:
            if ticket.first_responded_at is None:
                ticket.first_responded_at = now
            if ticket.status == TicketStatus.NEW:
                ticket.status = TicketStatus.OPEN
        elif not staff:
            ticket.is_unread = True
            if ticket.status in (TicketStatus.PENDING, TicketStatus.RESOLVED):
                ticket.status = TicketStatus.OPEN
        session.flush()
        audit.record(session, actor, "ticket.note_added" if internal else "ticket.message_added",
                     "ticket", ticket.id, {"message_id": message.id})
        return MessageRow(
            id=message.id, sender_kind=message.sender_kind, author_name=actor.name,
            body_text=body, is_internal=internal, channel=message.channel,
            created_at=_fmt(now),
        )


def change_status(actor: Actor, number: int, status: str) -> TicketRow:
    require(actor, Action.EDIT_TICKETS)
    _choice(status, TicketStatus, "Status")
    with session_scope() as session:
        ticket = _load_for(session, actor, number)
        before = ticket.status
        if before != status:
            now = utcnow()
            ticket.status = status
            ticket.updated_at = now
            if status == TicketStatus.RESOLVED:
                ticket.resolved_at = now
            if status == TicketStatus.CLOSED:
                ticket.closed_at = now
            if status in {s.value for s in OPEN_STATUSES}:
                ticket.resolved_at = ticket.closed_at = None
            audit.record(session, actor, "ticket.status_changed", "ticket", ticket.id,
                         {"status": [before, status]})
        client = session.get(Client, ticket.client_id) if ticket.client_id else None
        assignee = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
        return _ticket_row(ticket, client.name if client else None,
                           assignee.name if assignee else None)


def portal_tickets(actor: Actor) -> list[TicketRow]:
    """A client's own tickets, newest first."""
    require(actor, Action.USE_PORTAL)
    with session_scope() as session:
        rows = session.execute(
            select(Ticket, Client.name)
            .join(Client, Client.id == Ticket.client_id)
            .where(Client.portal_user_id == actor.user_id)
            .order_by(Ticket.created_at.desc())
            .limit(200)
        ).all()
        return [_ticket_row(t, cname, None) for t, cname in rows]

