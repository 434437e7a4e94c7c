"""Tickets: the agent queue (keyset pages, filters, views), opening a ticket, replies and notes,
field changes under optimistic locking, bulk actions and merge. Every write is audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, func, select, tuple_
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlmodel import Session

from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import get_engine, session_scope
from crm_app.services import assignment, attachments, audit, notifications
from crm_app.services.attachments import AttachmentRow, StagedFile
from crm_app.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from crm_app.services.pagination import Page
from models.ai import MessageSentiment, SentimentLabel
from models.audit import AuditLog
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
from models.user import Role, User

MAX_BODY = 100_000
# Channels where an agent writes down what the client said: a new ticket's first message is the
# client's, logged by the agent.
LOGGED_FOR_CLIENT_CHANNELS = (Channel.PHONE.value, Channel.IN_PERSON.value)


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
    version: int = 1
    created_iso: str = ""  # ISO 8601 in UTC, for times shown in the reader's zone


@dataclass(frozen=True)
class MessageRow:
    id: int
    sender_kind: str
    author_name: str
    body_text: str
    is_internal: bool
    channel: str
    created_at: str
    sentiment: str = ""  # negative / neutral / positive for a scored client message
    logged_by: str = ""  # the agent who logged this client message (a call, a visit)
    attachments: list[AttachmentRow] = field(default_factory=list)


@dataclass(frozen=True)
class ClientProfile:
    """The client sidebar: contact and finance fields (money only for roles that may see it)."""

    id: int
    name: str
    email: str
    phone: str
    region: str
    risk_category: str
    net_worth: str


@dataclass(frozen=True)
class HistoryRow:
    action: str
    actor_name: str
    changes: str
    created_at: str


@dataclass(frozen=True)
class TicketDetail:
    ticket: TicketRow
    client_id: int | None
    client_email: str
    messages: list[MessageRow]
    first_response_due_at: str
    resolution_due_at: str
    assignee_id: int | None = None
    client: ClientProfile | None = None
    other_tickets: list[TicketRow] = field(default_factory=list)
    history: list[HistoryRow] = field(default_factory=list)
    merged_into_number: int | None = None


def _fmt(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


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
        version=ticket.version,
        created_iso=_iso(ticket.created_at),
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
    assignee_id: int | None = None,
    from_client: bool | None = None,
) -> TicketRow:
    """Open a ticket with its first message.

    `from_client`: the first message is the client's request, logged by the acting agent (a
    phone call, a walk-in): sent by the client, on that channel, with the agent as its author.
    None decides by channel: phone and in person are the client speaking; anything else is the
    agent writing to the client.
    `assignee_id` None means "no one chosen": with round-robin on, the next available agent
    gets it; otherwise the creating staff member does (a job creating it leaves it unassigned).
    Side effects: audited; the assignee sees it unread unless they created it.
    """
    require(actor, Action.EDIT_TICKETS)
    if from_client is None:
        from_client = channel in LOGGED_FOR_CLIENT_CHANNELS
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
        if assignee_id is not None:
            _staff_member(session, assignee_id)
        else:
            assignee_id = assignment.next_agent(session) or actor.user_id
        now = utcnow()
        ticket = Ticket(
            subject=subject,
            priority=priority,
            channel=channel,
            client_id=client_id,
            assignee_id=assignee_id,
            # The creating agent has read it; unread marks news for another assignee.
            is_unread=actor.user_id is None or assignee_id != actor.user_id,
            created_at=now,
            updated_at=now,
        )
        apply_sla_targets(session, ticket)
        session.add(ticket)
        session.flush()
        if from_client and client is None:
            raise InvalidInput("Choose the client whose request this is.")
        session.add(
            TicketMessage(
                ticket_id=ticket.id,
                # Logged for the client: their words, with the agent as the one who wrote
                # them down (the timeline says "logged by").
                sender_kind=SenderKind.CLIENT if from_client else SenderKind.AGENT,
                author_id=actor.user_id,
                body_text=body,
                channel=channel,
                created_at=now,
            )
        )
        audit.record(session, actor, "ticket.created", "ticket", ticket.id,
                     {"number": ticket.number, "subject": subject, "priority": priority,
                      "channel": channel, "logged_for_client": bool(from_client)})
        session.refresh(ticket)
        assignee = session.get(User, assignee_id) if assignee_id else None
        row = _ticket_row(ticket, client.name if client else None,
                          assignee.name if assignee else None)
        ticket_id = ticket.id
    notifications.notify_assigned(actor, ticket_id=ticket_id, number=row.number,
                                  subject=subject, assignee_id=assignee_id)
    return row


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


def _load_for(session: Session, actor: Actor, number: int, *, lock: bool = False) -> Ticket:
    """The ticket, if this actor may see it. A client sees only their own tickets."""
    query = select(Ticket).where(Ticket.number == number)
    if lock:
        query = query.with_for_update()
    ticket = session.execute(query).scalar_one_or_none()
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


def _names(session: Session, ticket: Ticket) -> tuple[str | None, str | None]:
    client = session.get(Client, ticket.client_id) if ticket.client_id else None
    assignee = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
    return (client.name if client else None), (assignee.name if assignee else None)


def _check_version(session: Session, ticket: Ticket, expected_version: int | None) -> None:
    """Optimistic locking: refuse a save made against an older version of the ticket."""
    if expected_version is None or ticket.version == expected_version:
        return
    last = session.execute(
        select(User.name, AuditLog.action)
        .select_from(AuditLog)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .where(AuditLog.entity_type == "ticket", AuditLog.entity_id == ticket.id)
        .order_by(AuditLog.id.desc())
        .limit(1)
    ).first()
    who = f" by {last[0]}" if last and last[0] else ""
    raise Conflict(
        f"Ticket #{ticket.number} was changed{who} while you were working on it. "
        "The view now shows the latest version: check it and make your change again."
    )


def _touch(ticket: Ticket, now: datetime) -> None:
    ticket.updated_at = now
    ticket.version = (ticket.version or 1) + 1


def _history(session: Session, ticket_id: int, limit: int = 50) -> list[HistoryRow]:
    rows = session.execute(
        select(AuditLog.action, User.name, AuditLog.changes, AuditLog.created_at)
        .select_from(AuditLog)
        .outerjoin(User, User.id == AuditLog.actor_id)
        .where(AuditLog.entity_type == "ticket", AuditLog.entity_id == ticket_id)
        .order_by(AuditLog.id.desc())
        .limit(limit)
    ).all()
    return [
        HistoryRow(
            action=action.removeprefix("ticket.").replace("_", " "),
            actor_name=name or "System",
            changes=", ".join(f"{key}: {_describe(value)}"
                              for key, value in (changes or {}).items()),
            created_at=_fmt(created),
        )
        for action, name, changes, created in rows
    ]


def _describe(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2:
        return f"{value[0] or '—'} → {value[1] or '—'}"
    return str(value)


STAFF_ROLES = (Role.AGENT.value, Role.MANAGER.value, Role.MARKETING.value)

# Opening a ticket: the ticket with its client, assignee and merge target in one row, then
# the timeline, the client's other tickets and the history sent together (one round trip).
_OPEN_TICKET_SQL = """
SELECT t.id, t.number, t.subject, t.status, t.priority, t.channel, t.sla_state, t.is_unread,
       t.created_at, t.updated_at, t.version, t.client_id, t.assignee_id,
       t.first_response_due_at, t.resolution_due_at, merged.number,
       c.name, c.email, c.phone, c.region, c.risk_category, c.net_worth, c.currency,
       c.portal_user_id, u.name
FROM ticket t
LEFT JOIN client c ON c.id = t.client_id
LEFT JOIN user_account u ON u.id = t.assignee_id
LEFT JOIN ticket merged ON merged.id = t.merged_into_id
WHERE t.number = %(number)s
"""
_TIMELINE_SQL = """
SELECT m.id, m.sender_kind, m.body_text, m.is_internal, m.channel, m.created_at, u.name, s.label,
       u.role
FROM ticket_message m
LEFT JOIN user_account u ON u.id = m.author_id
LEFT JOIN message_sentiment s ON s.message_id = m.id
WHERE m.ticket_id = %(ticket_id)s {public}
ORDER BY m.created_at, m.id
"""
_OTHER_TICKETS_SQL = """
SELECT number, subject, status, priority, channel, sla_state, is_unread, created_at,
       updated_at, version
FROM ticket WHERE client_id = %(client_id)s AND id <> %(ticket_id)s
ORDER BY created_at DESC LIMIT 10
"""
_HISTORY_SQL = """
SELECT a.action, u.name, a.changes, a.created_at
FROM audit_log a LEFT JOIN user_account u ON u.id = a.actor_id
WHERE a.entity_type = 'ticket' AND a.entity_id = %(ticket_id)s
ORDER BY a.id DESC LIMIT 50
"""
_ATTACHMENTS_SQL = """
SELECT a.id, a.message_id, a.filename, a.size_bytes
FROM attachment a JOIN ticket_message m ON m.id = a.message_id
WHERE m.ticket_id = %(ticket_id)s {public}
ORDER BY a.id
"""
_MARK_READ_SQL = "UPDATE ticket SET is_unread = false WHERE id = %(ticket_id)s AND is_unread"


def _history_row(action: str, name: str | None, changes: dict | None,
                 created: datetime | None) -> HistoryRow:
    return HistoryRow(
        action=action.removeprefix("ticket.").replace("_", " "),
        actor_name=name or "System",
        changes=", ".join(f"{key}: {_describe(value)}" for key, value in (changes or {}).items()),
        created_at=_fmt(created),
    )


def get_ticket(actor: Actor, number: int, *, mark_read: bool = True) -> TicketDetail:
    """Open a ticket. Staff see internal notes, the client sidebar and the audit history;
    a client never does. Side effect: opening marks the ticket read for staff."""
    staff = can(actor, Action.VIEW_TICKETS)
    if not staff:
        require(actor, Action.USE_PORTAL)
    with get_engine().connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            t = cur.execute(_OPEN_TICKET_SQL, {"number": number}).fetchone()
            # A client sees only their own tickets, with the same answer as a missing ticket
            # so numbers cannot be probed.
            if t is None or (not staff and (t[23] is None or t[23] != actor.user_id)):
                raw.rollback()
                raise NotFound(f"There is no ticket #{number}.")
            ticket_id, client_id, unread = t[0], t[11], t[7]
            params = {"ticket_id": ticket_id, "client_id": client_id}
            public = "" if staff else "AND NOT m.is_internal"
            with raw.pipeline():
                messages_cur = raw.cursor()
                messages_cur.execute(_TIMELINE_SQL.format(public=public), params)
                files_cur = raw.cursor()
                files_cur.execute(_ATTACHMENTS_SQL.format(public=public), params)
                if staff:
                    others_cur = raw.cursor()
                    if client_id is not None:
                        others_cur.execute(_OTHER_TICKETS_SQL, params)
                    history_cur = raw.cursor()
                    history_cur.execute(_HISTORY_SQL, params)
                    if mark_read and unread:
                        # Reading is not an edit: no version bump, so it never conflicts.
                        cur.execute(_MARK_READ_SQL, params)
            message_rows = messages_cur.fetchall()
            files = attachments.group_by_message(files_cur.fetchall())
            other_rows = others_cur.fetchall() if staff and client_id is not None else []
            history_rows = history_cur.fetchall() if staff else []
        if staff and mark_read and unread:
            raw.commit()
            unread = False
        else:
            raw.rollback()
    client_name = t[16] or ""
    messages = []
    for mid, kind, body, internal, channel, created, author, sentiment, role in message_rows:
        # A client message written by staff is a call or visit the agent logged.
        logged = kind == SenderKind.CLIENT and role in STAFF_ROLES
        messages.append(MessageRow(
            id=mid, sender_kind=kind,
            author_name=(client_name or "Client") if logged else author or (
                client_name if kind == SenderKind.CLIENT else
                ("System" if kind == SenderKind.SYSTEM else "")),
            body_text=body, is_internal=internal, channel=channel, created_at=_fmt(created),
            sentiment=(sentiment or "") if staff and kind == SenderKind.CLIENT else "",
            logged_by=(author or "") if logged else "",
            attachments=files.get(mid, []),
        ))
    profile = None
    if staff and client_id is not None:
        finances = can(actor, Action.VIEW_CLIENT_FINANCES)
        profile = ClientProfile(
            id=client_id, name=client_name, email=t[17] or "", phone=t[18] or "",
            region=t[19] or "", risk_category=t[20] or "",
            net_worth=(f"{t[21]:,.0f} {t[22]}" if finances and t[21] is not None else ""),
        )
    others = [
        TicketRow(number=o[0], subject=o[1], status=o[2], priority=o[3], channel=o[4],
                  sla_state=o[5], is_unread=o[6], client_name=client_name, assignee_name="",
                  created_at=_fmt(o[7]), updated_at=_fmt(o[8]), version=o[9])
        for o in other_rows
    ]
    return TicketDetail(
        ticket=TicketRow(
            number=t[1], subject=t[2], status=t[3], priority=t[4], channel=t[5],
            sla_state=t[6], is_unread=unread, client_name=client_name,
            assignee_name=t[24] or "", created_at=_fmt(t[8]), updated_at=_fmt(t[9]),
            version=t[10],
        ),
        client_id=client_id if client_id is not None else None,
        client_email=(t[17] or "") if client_id is not None and staff else "",
        messages=messages,
        first_response_due_at=_fmt(t[13]) if staff else "",
        resolution_due_at=_fmt(t[14]) if staff else "",
        assignee_id=t[12] if staff else None,
        client=profile,
        other_tickets=others,
        history=[_history_row(*row) for row in history_rows],
        merged_into_number=t[15] if staff else None,
    )


def add_message(
    actor: Actor,
    number: int,
    body: str,
    *,
    internal: bool = False,
    files: Sequence[StagedFile] = (),
    status: str | None = None,
    priority: str | None = None,
    macro: str = "",
    expected_version: int | None = None,
) -> MessageRow:
    """A staff reply or internal note, or a client's reply from the portal.

    Staff may send it with staged attachments (`files`) and with the status/priority a chosen
    macro proposed: message, files and field changes are written in one transaction and
    recorded as one audit entry. Field changes are checked against `expected_version` (the
    version the agent's view showed): on a conflict nothing at all is written.
    Side effects: the ticket's version and update time move on (open views see it); a staff
    reply records the first response and opens a new ticket; a client reply reopens a pending
    or resolved ticket and marks it unread. After the commit: the assignee is notified of a
    client's answer, staff `@named` in an internal note are notified.
    """
    body = (body or "").strip() if files else _clean_body(body)
    if len(body) > MAX_BODY:
        raise InvalidInput(f"A message may hold at most {MAX_BODY:,} characters.")
    if status is not None:
        _choice(status, TicketStatus, "Status")
    if priority is not None:
        _choice(priority, TicketPriority, "Priority")
    with session_scope() as session:
        ticket = _load_for(session, actor, number, lock=True)
        staff = can(actor, Action.EDIT_TICKETS)
        if not staff:
            if internal:
                raise PermissionDenied("Only staff can write internal notes.")
            if files or status is not None or priority is not None:
                raise PermissionDenied("Only staff can attach files or change the ticket.")
            if ticket.status == TicketStatus.CLOSED:
                raise InvalidInput("This ticket is closed. Open a new one instead.")
        if ticket.merged_into_id is not None:
            raise InvalidInput("This ticket was merged into another one: reply there.")
        if status is not None or priority is not None:
            _check_version(session, ticket, expected_version)
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
        _touch(ticket, now)
        changes = _apply_changes(session, actor, ticket, status=status, priority=priority,
                                 assignee_id=_UNSET, now=now, as_part_of_message=True)
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
        attached = attachments.link_staged(session, message.id, files)
        record: dict[str, Any] = {"message_id": message.id, **changes}
        if attached:
            record["attachments"] = attached
        if macro and changes:
            record["macro"] = macro[:120]
        audit.record(session, actor, "ticket.note_added" if internal else "ticket.message_added",
                     "ticket", ticket.id, record)
        ticket_id, subject, assignee_id = ticket.id, ticket.subject, ticket.assignee_id
        client_name = _names(session, ticket)[0] if not staff else ""
        row = MessageRow(
            id=message.id, sender_kind=message.sender_kind, author_name=actor.name,
            body_text=body, is_internal=internal, channel=message.channel,
            created_at=_fmt(now),
        )
    if not staff:
        notifications.notify_client_replied(ticket_id=ticket_id, number=number, subject=subject,
                                            client_name=client_name or "",
                                            assignee_id=assignee_id)
    elif internal:
        notifications.notify_mentions(actor, ticket_id=ticket_id, number=number,
                                      subject=subject, body=body)
    return row


_UNSET: Any = object()


def _staff_member(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.role not in ("agent", "manager"):
        raise InvalidInput("Tickets can only be assigned to an active agent or manager.")
    return user


def _apply_changes(session: Session, actor: Actor, ticket: Ticket, *, status: str | None,
                   priority: str | None, assignee_id: int | Any | None,
                   now: datetime, as_part_of_message: bool = False) -> dict[str, list[Any]]:
    """Set status/priority/assignee on a locked ticket; returns the audit changes.

    `as_part_of_message`: the caller's message entry records them and moves the version."""
    changes: dict[str, list[Any]] = {}
    if status is not None and status != ticket.status:
        changes["status"] = [ticket.status, status]
        ticket.status = status
        if status == TicketStatus.RESOLVED:
            ticket.resolved_at = now
        if status == TicketStatus.CLOSED:
            ticket.closed_at = now
        if status in {s.value for s in OPEN_STATUSES}:
            ticket.resolved_at = ticket.closed_at = None
    if priority is not None and priority != ticket.priority:
        changes["priority"] = [ticket.priority, priority]
        ticket.priority = priority
        if ticket.status in {s.value for s in OPEN_STATUSES}:
            apply_sla_targets(session, ticket)  # the new priority's targets apply at once
    if assignee_id is not _UNSET and assignee_id != ticket.assignee_id:
        before = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
        after = _staff_member(session, assignee_id) if assignee_id is not None else None
        changes["assignee"] = [before.name if before else None, after.name if after else None]
        ticket.assignee_id = assignee_id
    if changes and not as_part_of_message:
        _touch(ticket, now)
        for key, action in (("status", "ticket.status_changed"),
                            ("priority", "ticket.priority_changed"),
                            ("assignee", "ticket.assigned")):
            if key in changes:
                audit.record(session, actor, action, "ticket", ticket.id, {key: changes[key]})
    return changes


def update_ticket(
    actor: Actor,
    number: int,
    *,
    expected_version: int | None,
    status: str | None = None,
    priority: str | None = None,
    assignee_id: int | Any | None = _UNSET,
) -> TicketRow:
    """Change status, priority and/or assignee in one save.

    `expected_version` is the version the agent's view showed: when someone changed the ticket
    since, nothing is written and Conflict says so (None skips the check, for jobs).
    Side effects: one audit entry per changed field; the version moves on.
    """
    require(actor, Action.EDIT_TICKETS)
    if status is not None:
        _choice(status, TicketStatus, "Status")
    if priority is not None:
        _choice(priority, TicketPriority, "Priority")
    with session_scope() as session:
        ticket = _load_for(session, actor, number, lock=True)
        _check_version(session, ticket, expected_version)
        if ticket.merged_into_id is not None and status is not None and status != ticket.status:
            raise InvalidInput("This ticket was merged into another one and stays closed.")
        changes = _apply_changes(session, actor, ticket, status=status, priority=priority,
                                 assignee_id=assignee_id, now=utcnow())
        client_name, assignee_name = _names(session, ticket)
        row = _ticket_row(ticket, client_name, assignee_name)
        assigned = (ticket.id, ticket.assignee_id) if "assignee" in changes else None
    if assigned:
        notifications.notify_assigned(actor, ticket_id=assigned[0], number=number,
                                      subject=row.subject, assignee_id=assigned[1])
    return row


def change_status(actor: Actor, number: int, status: str, *,
                  expected_version: int | None = None) -> TicketRow:
    return update_ticket(actor, number, expected_version=expected_version, status=status)


def assign(actor: Actor, number: int, assignee_id: int | None, *,
           expected_version: int | None = None) -> TicketRow:
    """Assign to a staff member (None: unassign)."""
    return update_ticket(actor, number, expected_version=expected_version,
                         assignee_id=assignee_id)


def set_unread(actor: Actor, number: int, unread: bool) -> None:
    """Mark a ticket read or unread (a reminder for the queue; not an edit, no version bump)."""
    require(actor, Action.EDIT_TICKETS)
    with session_scope() as session:
        ticket = _load_for(session, actor, number)
        ticket.is_unread = unread


def staff_choices(actor: Actor) -> list[tuple[int, str]]:
    """(id, name) of active agents and managers, for assignee pickers."""
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        return [(uid, name) for uid, name in session.execute(
            select(User.id, User.name)
            .where(User.is_active.is_(True), User.role.in_(["agent", "manager"]))
            .order_by(User.name).limit(500)
        ).all()]


BULK_LIMIT = 500


@dataclass(frozen=True)
class BulkResult:
    changed: int
    unchanged: int


def bulk_update(
    actor: Actor,
    numbers: Sequence[int],
    *,
    status: str | None = None,
    priority: str | None = None,
    assignee_id: int | Any | None = _UNSET,
) -> BulkResult:
    """Apply the same change to selected tickets in one transaction, each audited."""
    require(actor, Action.EDIT_TICKETS)
    numbers = sorted({int(n) for n in numbers})
    if not numbers:
        raise InvalidInput("Select at least one ticket.")
    if len(numbers) > BULK_LIMIT:
        raise InvalidInput(f"Change at most {BULK_LIMIT} tickets at once.")
    if status is None and priority is None and assignee_id is _UNSET:
        raise InvalidInput("Choose a change to apply.")
    if status is not None:
        _choice(status, TicketStatus, "Status")
    if priority is not None:
        _choice(priority, TicketPriority, "Priority")
    with session_scope() as session:
        if assignee_id not in (_UNSET, None):
            _staff_member(session, assignee_id)
        tickets = list(session.execute(
            select(Ticket).where(Ticket.number.in_(numbers)).order_by(Ticket.id)
            .with_for_update()
        ).scalars())
        if len(tickets) != len(numbers):
            raise NotFound("Some of the selected tickets no longer exist.")
        now, changed, assigned = utcnow(), 0, []
        for ticket in tickets:
            if ticket.merged_into_id is not None:
                continue
            changes = _apply_changes(session, actor, ticket, status=status, priority=priority,
                                     assignee_id=assignee_id, now=now)
            if changes:
                changed += 1
            if "assignee" in changes:
                assigned.append((ticket.id, ticket.number, ticket.subject, ticket.assignee_id))
    for ticket_id, number, subject, assignee in assigned:
        notifications.notify_assigned(actor, ticket_id=ticket_id, number=number,
                                      subject=subject, assignee_id=assignee)
    return BulkResult(changed=changed, unchanged=len(tickets) - changed)


def merge_tickets(actor: Actor, duplicate_number: int, target_number: int) -> TicketRow:
    """Merge a duplicate into another ticket.

    Side effects: every message of the duplicate moves to the target (in time order with the
    target's own); the duplicate closes, points at the target and gets a system note with the
    link; the target gets a note too; both audit logs record the merge.
    """
    require(actor, Action.EDIT_TICKETS)
    if duplicate_number == target_number:
        raise InvalidInput("A ticket cannot be merged into itself.")
    with session_scope() as session:
        found = {t.number: t for t in session.execute(
            select(Ticket).where(Ticket.number.in_([duplicate_number, target_number]))
            .order_by(Ticket.id).with_for_update()
        ).scalars()}
        for number in (duplicate_number, target_number):
            if number not in found:
                raise NotFound(f"There is no ticket #{number}.")
        duplicate, target = found[duplicate_number], found[target_number]
        if duplicate.merged_into_id is not None:
            raise InvalidInput(f"Ticket #{duplicate_number} was already merged.")
        if target.merged_into_id is not None:
            raise InvalidInput(f"Ticket #{target_number} was itself merged: merge into the "
                               "ticket it points to.")
        if duplicate.client_id and target.client_id and duplicate.client_id != target.client_id:
            raise InvalidInput("Only tickets of the same client can be merged.")
        moved = session.execute(
            sa.update(TicketMessage).where(TicketMessage.ticket_id == duplicate.id)
            .values(ticket_id=target.id)
        ).rowcount
        now = utcnow()
        for ticket, text in (
            (target, f"Ticket #{duplicate_number} ({duplicate.subject}) was merged into this "
                     f"ticket by {actor.name}: {moved} message{'' if moved == 1 else 's'} "
                     "moved here."),
            (duplicate, f"Merged into ticket #{target_number} by {actor.name}."),
        ):
            session.add(TicketMessage(ticket_id=ticket.id, sender_kind=SenderKind.SYSTEM,
                                      author_id=None, body_text=text, is_internal=True,
                                      channel=Channel.AGENT, created_at=now))
        if duplicate.status != TicketStatus.CLOSED:
            duplicate.status = TicketStatus.CLOSED
            duplicate.closed_at = now
        duplicate.merged_into_id = target.id
        duplicate.is_unread = False
        target.is_unread = target.is_unread or duplicate.is_unread
        _touch(duplicate, now)
        _touch(target, now)
        session.flush()
        audit.record(session, actor, "ticket.merged_into", "ticket", duplicate.id,
                     {"into": target_number, "messages": moved})
        audit.record(session, actor, "ticket.merged_from", "ticket", target.id,
                     {"from": duplicate_number, "messages": moved})
        client_name, assignee_name = _names(session, target)
        return _ticket_row(target, client_name, assignee_name)


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


# --- the agent queue: filters, views, keyset pages ------------------------------------------

QUEUE_COUNT_CAP = 10_000
_T = Ticket.__table__
ASSIGNEE_CHOICES = ("anyone", "mine", "unassigned")


@dataclass(frozen=True)
class QueueFilters:
    """A combination of queue filters; empty strings mean "any"."""

    status: str = "open"  # "open" (new, open, pending), one status, or "all"
    priority: str = ""
    channel: str = ""
    assignee: str = "anyone"  # "anyone", "mine", "unassigned" or a user id
    client: str = ""  # a client id or email
    sla_state: str = ""
    created_from: str = ""  # YYYY-MM-DD, inclusive
    created_to: str = ""  # YYYY-MM-DD, inclusive
    sentiment: str = ""  # of the latest client message: negative, neutral or positive

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> QueueFilters:
        known = cls.__dataclass_fields__
        return cls(**{k: str(v) for k, v in (raw or {}).items() if k in known and v is not None})


BUILTIN_VIEWS: dict[str, tuple[str, QueueFilters]] = {
    "my_open": ("My open", QueueFilters(status="open", assignee="mine")),
    "unassigned": ("Unassigned", QueueFilters(status="open", assignee="unassigned")),
    "near_breach": ("Near SLA breach", QueueFilters(status="open", sla_state="near_breach")),
    "all_open": ("All open", QueueFilters(status="open")),
}


@dataclass(frozen=True)
class QueuePage:
    items: list[TicketRow]
    total: int  # exact up to QUEUE_COUNT_CAP
    total_capped: bool
    next_cursor: str  # "" on the last page
    page_size: int


def _parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{what} must be a date like 2026-01-31.") from None


def _queue_conditions(actor: Actor, filters: QueueFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.status == "open":
        conditions.append(_T.c.status.in_([s.value for s in OPEN_STATUSES]))
    elif filters.status in {s.value for s in TicketStatus}:
        conditions.append(_T.c.status == filters.status)
    elif filters.status not in ("all", ""):
        raise InvalidInput("Unknown status filter.")
    if filters.priority:
        conditions.append(_T.c.priority == _choice(filters.priority, TicketPriority, "Priority"))
    if filters.channel:
        conditions.append(_T.c.channel == _choice(filters.channel, Channel, "Channel"))
    if filters.sla_state:
        state = _choice(filters.sla_state, SlaState, "SLA state")
        conditions.append(_T.c.sla_state == state)
        # The queue bucket encodes SLA urgency: saying which buckets can hold this state lets
        # the ordered walk skip the others (met tickets sit behind every breached one).
        urgency = _BUCKET_URGENCY.get(state, 2)
        conditions.append(_T.c.queue_bucket.in_([urgency, 3 + urgency]))
    assignee = filters.assignee or "anyone"
    if assignee == "mine":
        conditions.append(_T.c.assignee_id == actor.user_id)
    elif assignee == "unassigned":
        conditions.append(_T.c.assignee_id.is_(None))
    elif assignee.isdigit():
        conditions.append(_T.c.assignee_id == int(assignee))
    elif assignee != "anyone":
        raise InvalidInput("Assignee must be anyone, mine, unassigned or a user id.")
    client = filters.client.strip()
    if client:
        if client.isdigit() and len(client) < 10:
            conditions.append(_T.c.client_id == int(client))
        elif "@" in client:
            conditions.append(_T.c.client_id.in_(
                select(Client.id).where(Client.email == client.lower())
            ))
        else:
            raise InvalidInput("Filter clients by their id or email address.")
    if filters.sentiment:
        conditions.append(_T.c.id.in_(_latest_client_sentiment(
            _choice(filters.sentiment, SentimentLabel, "Sentiment"))))
    if filters.created_from:
        start = datetime.combine(_parse_day(filters.created_from, "From"), time.min, UTC)
        conditions.append(_T.c.created_at >= start)
    if filters.created_to:
        end = datetime.combine(_parse_day(filters.created_to, "To"), time.min, UTC)
        conditions.append(_T.c.created_at < end + timedelta(days=1))
    return conditions


def _latest_client_sentiment(label: str) -> sa.Select:
    """Ids of tickets whose latest client message was scored `label` (a set as large as the
    scored messages with that label, never a walk over every ticket)."""
    latest = (select(func.max(TicketMessage.id))
              .where(TicketMessage.ticket_id == MessageSentiment.ticket_id,
                     TicketMessage.sender_kind == SenderKind.CLIENT)
              .scalar_subquery())
    return select(MessageSentiment.ticket_id).where(MessageSentiment.label == label,
                                                    MessageSentiment.message_id == latest)


# SLA state -> its part of queue_bucket (see QUEUE_BUCKET_SQL in models/ticket.py).
_BUCKET_URGENCY = {SlaState.BREACHED.value: 0, SlaState.NEAR_BREACH.value: 1}


def _decode_cursor(cursor: str) -> tuple[int, str, int]:
    try:
        bucket, due, ticket_id = cursor.split("|")
        return int(bucket), due, int(ticket_id)
    except ValueError:
        raise InvalidInput("That page link is no longer valid: start from the first page.") \
            from None


QUEUE_COLUMNS = (
    _T.c.id, _T.c.number, _T.c.subject, _T.c.status, _T.c.priority, _T.c.channel,
    _T.c.sla_state, _T.c.is_unread, _T.c.created_at, _T.c.updated_at, _T.c.version,
    _T.c.queue_bucket, sa.cast(_T.c.queue_due_at, sa.Text).label("due_key"),
)


def queue_count_query(actor: Actor, filters: QueueFilters) -> sa.Select:
    """How many tickets match, counted up to QUEUE_COUNT_CAP + 1."""
    return select(func.count()).select_from(
        select(sa.literal(1)).select_from(_T).where(*_queue_conditions(actor, filters))
        .limit(QUEUE_COUNT_CAP + 1).subquery()
    )


def queue_page_query(actor: Actor, filters: QueueFilters, *, after: str = "",
                     page_size: int = 25, total: int | None = None) -> sa.Select:
    """One page in queue order after the keyset cursor `after`.

    With `total` known and within QUEUE_COUNT_CAP, the page is the top of the matching rows
    sorted (at most the cap of them, found through whichever index suits the filters);
    otherwise the queue index is walked in order. Walking is what a first page of a big queue
    wants, but when the matches sit late in the order (a date range of old, settled tickets)
    it reads most of the table before it finds them.
    """
    conditions = _queue_conditions(actor, filters)
    if after:
        bucket, due, ticket_id = _decode_cursor(after)
        conditions.append(tuple_(_T.c.queue_bucket, _T.c.queue_due_at, _T.c.id) > tuple_(
            sa.literal(bucket), sa.cast(sa.literal(due), sa.DateTime(timezone=True)),
            sa.literal(ticket_id)))
    page = (
        select(*QUEUE_COLUMNS, Client.name.label("client_name"),
               User.name.label("assignee_name"))
        .select_from(_T)
        .outerjoin(Client, Client.id == _T.c.client_id)
        .outerjoin(User, User.id == _T.c.assignee_id)
        .order_by(_T.c.queue_bucket, _T.c.queue_due_at, _T.c.id)
        .limit(page_size + 1)
    )
    if total is None or total > QUEUE_COUNT_CAP:
        return page.where(*conditions)
    # Materialized: PostgreSQL must collect the matches' sort keys first (ix_ticket_filters
    # holds them) and cannot fall back to the ordered walk; the top of at most the cap of
    # them is sorted, and only that page's rows are read in full.
    matches = (select(_T.c.id, _T.c.queue_bucket, _T.c.queue_due_at).where(*conditions)
               .cte("matches").prefix_with("MATERIALIZED"))
    top = (select(matches.c.id)
           .order_by(matches.c.queue_bucket, matches.c.queue_due_at, matches.c.id)
           .limit(page_size + 1).scalar_subquery())
    return page.where(_T.c.id == sa.func.any(sa.func.array(top)))


_PG_DIALECT = postgresql_psycopg.dialect()


@lru_cache(maxsize=1024)
def _compiled(statement_key: tuple) -> tuple[str, dict[str, Any]]:
    """SQL text and parameters of one queue statement, compiled once per exact input.

    The key holds everything the statement is built from (the actor's id, the filters, the
    cursor, the page size, the count's shape); the built-in views are the same few keys for
    every page load, so they are never rebuilt nor recompiled."""
    kind, user_id, role, filters, after, page_size, total = statement_key
    actor = Actor(user_id=user_id, role=role, name="", email="")
    statement = (queue_count_query(actor, filters) if kind == "count" else
                 queue_page_query(actor, filters, after=after, page_size=page_size, total=total))
    compiled = statement.compile(dialect=_PG_DIALECT,
                                 compile_kwargs={"render_postcompile": True})
    return str(compiled), dict(compiled.params)


def _page_shape(total: int | None) -> int | None:
    """What of the count the page query depends on: within the cap (a sort of the matches)
    or not (the ordered walk) — so pages of any size of queue share their compiled SQL."""
    return None if total is None or total > QUEUE_COUNT_CAP else 0


def queue(actor: Actor, filters: QueueFilters | None = None, *, after: str = "",
          page_size: int = 25, with_count: bool = True) -> QueuePage:
    """One page of the agent queue in the default order (unread/new, SLA urgency, due soonest,
    oldest), read with a keyset cursor so deep pages cost the same as the first."""
    require(actor, Action.VIEW_TICKETS)
    filters = filters or QueueFilters()
    page_size = min(max(page_size, 1), 100)
    key = (actor.user_id, actor.role, filters, after, page_size)
    count_sql = _compiled(("count", *key, None)) if with_count else None
    with get_engine().connect() as conn:
        # Plain psycopg, unprepared: each statement is planned for its own values (the filters
        # decide the best index), with no ORM rows built for a read-only page.
        raw = conn.connection.driver_connection
        raw.rollback()  # a no-op unless the pool's liveness check left a transaction open
        # Two reads need no transaction: autocommit spares the BEGIN and ROLLBACK round trips.
        raw.autocommit = True
        try:
            with raw.cursor() as cur:
                total = None
                if count_sql is not None:
                    total = cur.execute(count_sql[0], count_sql[1], prepare=False).fetchone()[0]
                page_sql = _compiled(("page", *key, _page_shape(total)))
                rows = cur.execute(page_sql[0], page_sql[1], prepare=False).fetchall()
        finally:
            raw.autocommit = False
    total = total or 0
    more = len(rows) > page_size
    rows = rows[:page_size]
    # Columns: QUEUE_COLUMNS, then client_name and assignee_name.
    items = [
        TicketRow(
            number=r[1], subject=r[2], status=r[3], priority=r[4], channel=r[5],
            sla_state=r[6], is_unread=r[7], client_name=r[13] or "", assignee_name=r[14] or "",
            created_at=_fmt(r[8]), updated_at=_fmt(r[9]), version=r[10],
            created_iso=_iso(r[8]),
        )
        for r in rows
    ]
    last = rows[-1] if rows else None
    return QueuePage(
        items=items,
        total=min(total, QUEUE_COUNT_CAP),
        total_capped=total > QUEUE_COUNT_CAP,
        next_cursor=f"{last[11]}|{last[12]}|{last[0]}" if more and last else "",
        page_size=page_size,
    )
