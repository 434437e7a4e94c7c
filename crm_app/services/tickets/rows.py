"""What the ticket services return (small frozen rows, read by name) and the helpers every
ticket module shares: input checks, the permission-aware load, optimistic locking, history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.services import staff
from crm_app.services.attachments import AttachmentRow
from crm_app.services.errors import Conflict, InvalidInput, NotFound
from models.audit import AuditLog
from models.client import Client
from models.ticket import Channel, Ticket
from models.user import Role, User

MAX_BODY = 100_000
# Channels where an agent writes down what the client said: a new ticket's first message is the
# client's, logged by the agent.
LOGGED_FOR_CLIENT_CHANNELS = (Channel.PHONE.value, Channel.IN_PERSON.value)
STAFF_ROLES = (Role.AGENT.value, Role.MANAGER.value, Role.MARKETING.value)
# Who may hold a ticket (the same people as the assignee picker lists).
ASSIGNABLE_ROLES = staff.ASSIGNABLE_ROLES
HISTORY_LIMIT = 50


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
    tags: list[str] = field(default_factory=list)


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
    created_iso: str = ""  # ISO 8601 in UTC, for times shown in the reader's zone
    logged_by: str = ""  # the agent who logged this client message (a call, a visit)
    attachments: list[AttachmentRow] = field(default_factory=list)
    # Outgoing mail (staff only): queued / sending / sent / failed, and why it failed.
    delivery_status: str = ""
    delivery_error: str = ""
    delivery_attempts: int = 0
    # A received mail: its quoted history and signature (folded), and its inline images.
    quoted_text: str = ""
    inline_images: list[AttachmentRow] = field(default_factory=list)
    # Who else the mail went to (a client's mail's Cc and To, an email reply's Cc).
    cc: list[str] = field(default_factory=list)


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
    created_iso: str = ""


@dataclass(frozen=True)
class TicketDetail:
    ticket: TicketRow
    client_id: int | None
    client_email: str
    messages: list[MessageRow]
    # ISO 8601 in UTC ("" when none), for "due in 3 hours" in the reader's zone.
    first_response_due_at: str
    resolution_due_at: str
    assignee_id: int | None = None
    client: ClientProfile | None = None
    other_tickets: list[TicketRow] = field(default_factory=list)
    history: list[HistoryRow] = field(default_factory=list)
    merged_into_number: int | None = None
    # The people copied on the thread (staff only): an email reply goes to them in Cc.
    cc_emails: list[str] = field(default_factory=list)


def fmt(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


def ticket_row(ticket: Ticket, client_name: str | None, assignee_name: str | None) -> TicketRow:
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
        created_at=fmt(ticket.created_at),
        updated_at=fmt(ticket.updated_at),
        version=ticket.version,
        created_iso=iso(ticket.created_at),
        tags=list(ticket.tags or []),
    )


def clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write a message first.")
    if len(body) > MAX_BODY:
        raise InvalidInput(f"A message may hold at most {MAX_BODY:,} characters.")
    return body


def choice(value: str, enum: type[Enum], what: str) -> str:
    allowed = [m.value for m in enum]
    if value not in allowed:
        raise InvalidInput(f"{what} must be one of: {', '.join(allowed)}.")
    return value


def load_for(session: Session, actor: Actor, number: int, *, lock: bool = False) -> Ticket:
    """The ticket, if this actor may see it. A client sees only their own tickets."""
    query = select(Ticket).where(col(Ticket.number) == number)
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
            select(col(Client.portal_user_id)).where(col(Client.id) == ticket.client_id)
        ).scalar_one_or_none()
    if ticket is None or owner is None or owner != actor.user_id:
        # The same answer as a missing ticket, so numbers cannot be probed.
        raise NotFound(f"There is no ticket #{number}.")
    return ticket


def names(session: Session, ticket: Ticket) -> tuple[str | None, str | None]:
    """(client name, assignee name) of a ticket."""
    client = session.get(Client, ticket.client_id) if ticket.client_id else None
    assignee = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
    return (client.name if client else None), (assignee.name if assignee else None)


def staff_member(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.role not in ASSIGNABLE_ROLES:
        raise InvalidInput("Tickets can only be assigned to an active agent or manager.")
    return user


def touch(ticket: Ticket, now: datetime) -> None:
    """An edit: the update time and the version move on (open views reload)."""
    ticket.updated_at = now
    ticket.version = (ticket.version or 1) + 1


# --- the ticket's history: its audit entries, newest first ----------------------------------


def history_query(ticket_id: int | sa.BindParameter, limit: int = HISTORY_LIMIT) -> sa.Select:
    """Audit entries of one ticket with the actor's name, newest first."""
    return (
        select(
            col(AuditLog.action),
            col(User.name).label("actor_name"),
            col(AuditLog.changes),
            col(AuditLog.created_at),
        )
        .select_from(AuditLog)
        .outerjoin(User, col(User.id) == col(AuditLog.actor_id))
        .where(col(AuditLog.entity_type) == "ticket", col(AuditLog.entity_id) == ticket_id)
        .order_by(col(AuditLog.id).desc())
        .limit(limit)
    )


def history_row(entry: Any) -> HistoryRow:
    """One history line from a row with action, actor_name, changes and created_at."""
    return HistoryRow(
        action=entry["action"].removeprefix("ticket.").replace("_", " "),
        actor_name=entry["actor_name"] or "System",
        changes=", ".join(
            f"{key}: {_describe(value)}" for key, value in (entry["changes"] or {}).items()
        ),
        created_at=fmt(entry["created_at"]),
        created_iso=iso(entry["created_at"]),
    )


def _describe(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, list) for v in value):
        before, after = value  # a list field (tags): what was added and what removed
        added = [f"+{t}" for t in after if t not in before]
        removed = [f"-{t}" for t in before if t not in after]
        return " ".join(added + removed) or "—"
    if isinstance(value, list) and len(value) == 2:
        return f"{value[0] or '—'} → {value[1] or '—'}"
    return str(value)


def check_version(session: Session, ticket: Ticket, expected_version: int | None) -> None:
    """Optimistic locking: refuse a save made against an older version of the ticket."""
    if expected_version is None or ticket.version == expected_version:
        return
    assert ticket.id is not None
    last = session.execute(history_query(ticket.id, limit=1)).mappings().first()
    who = f" by {last['actor_name']}" if last and last["actor_name"] else ""
    raise Conflict(
        f"Ticket #{ticket.number} was changed{who} while you were working on it. "
        "The view now shows the latest version: check it and make your change again."
    )
