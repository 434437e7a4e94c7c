"""Canned replies (macros): a shared library staff keep, with placeholders filled per ticket.

Placeholders: {client.name}, {client.first_name}, {ticket.number}, {ticket.subject},
{agent.name}, {agent.first_name}. Choosing a macro only drafts: it returns the filled text for
the composer and the status/priority/tags it proposes. Nothing is written until the agent sends
the reply, when `tickets.add_message` applies the proposal together with the message (one audited
change); a discarded draft changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import Conflict, InvalidInput, NotFound
from crm_app.services.tickets.tags import clean_tags
from models.base import utcnow
from models.client import Client
from models.ticket import Ticket, TicketPriority, TicketStatus
from models.workspace import Macro

PLACEHOLDERS = (
    "client.name",
    "client.first_name",
    "ticket.number",
    "ticket.subject",
    "agent.name",
    "agent.first_name",
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+\.[a-z_]+)\}")
MAX_MACRO_BODY = 20_000


@dataclass(frozen=True)
class MacroRow:
    id: int
    title: str
    body: str
    set_status: str
    set_priority: str
    add_tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MacroDraft:
    """What a chosen macro proposes: the composer's text and the fields it would set on send."""

    macro_id: int
    title: str
    body: str
    set_status: str  # "" when the macro leaves the status alone
    set_priority: str
    add_tags: list[str] = field(default_factory=list)


def _row(macro: Macro) -> MacroRow:
    assert macro.id is not None
    return MacroRow(
        id=macro.id,
        title=macro.title,
        body=macro.body,
        set_status=macro.set_status or "",
        set_priority=macro.set_priority or "",
        add_tags=list(macro.add_tags or []),
    )


def _validated(
    title: str, body: str, set_status: str, set_priority: str
) -> tuple[str, str, str | None, str | None]:
    title = " ".join((title or "").split())
    body = (body or "").strip()
    if not title or len(title) > 120:
        raise InvalidInput("A macro needs a title (up to 120 characters).")
    if not body or len(body) > MAX_MACRO_BODY:
        raise InvalidInput(f"A macro needs a text (up to {MAX_MACRO_BODY:,} characters).")
    unknown = sorted({p for p in _PLACEHOLDER.findall(body) if p not in PLACEHOLDERS})
    if unknown:
        raise InvalidInput(
            f"Unknown placeholder {{{unknown[0]}}}. Use one of: "
            + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            + "."
        )
    if set_status and set_status not in {s.value for s in TicketStatus}:
        raise InvalidInput("The macro's status must be a ticket status.")
    if set_priority and set_priority not in {p.value for p in TicketPriority}:
        raise InvalidInput("The macro's priority must be a ticket priority.")
    return title, body, set_status or None, set_priority or None


def list_macros(actor: Actor) -> list[MacroRow]:
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        return [
            _row(m) for m in session.scalars(select(Macro).order_by(col(Macro.title)).limit(500))
        ]


def save_macro(
    actor: Actor,
    *,
    title: str,
    body: str,
    set_status: str = "",
    set_priority: str = "",
    add_tags: Sequence[str] = (),
    macro_id: int | None = None,
) -> MacroRow:
    """Create a macro, or update `macro_id`. Side effects: audited."""
    require(actor, Action.EDIT_TICKETS)
    title, body, status, priority = _validated(title, body, set_status, set_priority)
    tags = clean_tags(add_tags)
    try:
        with session_scope() as session:
            macro: Macro | None
            if macro_id is None:
                macro = Macro(
                    title=title,
                    body=body,
                    set_status=status,
                    set_priority=priority,
                    add_tags=tags,
                    created_by_id=actor.user_id,
                )
                session.add(macro)
            else:
                macro = session.get(Macro, macro_id)
                if macro is None:
                    raise NotFound("That macro no longer exists.")
                macro.title, macro.body = title, body
                macro.set_status, macro.set_priority = status, priority
                macro.add_tags = tags
                macro.updated_at = utcnow()
            session.flush()
            audit.record(session, actor, "macro.saved", "macro", macro.id, {"title": title})
            return _row(macro)
    except IntegrityError:
        raise Conflict(f"A macro called “{title}” already exists.") from None


def delete_macro(actor: Actor, macro_id: int) -> None:
    require(actor, Action.EDIT_TICKETS)
    with session_scope() as session:
        macro = session.get(Macro, macro_id)
        if macro is None:
            raise NotFound("That macro no longer exists.")
        audit.record(session, actor, "macro.deleted", "macro", macro.id, {"title": macro.title})
        session.delete(macro)


def render(body: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def draft_from_macro(actor: Actor, macro_id: int, number: int) -> MacroDraft:
    """The macro's text filled for this ticket and the status/priority/tags it proposes.

    No side effects: the ticket is not touched until the reply is sent."""
    require(actor, Action.EDIT_TICKETS)
    with session_scope() as session:
        macro = session.get(Macro, macro_id)
        if macro is None:
            raise NotFound("That macro no longer exists.")
        found = (
            session.execute(
                select(col(Ticket.subject), col(Client.name))
                .outerjoin(Client, col(Client.id) == col(Ticket.client_id))
                .where(col(Ticket.number) == number)
            )
            .tuples()
            .first()
        )
        if found is None:
            raise NotFound(f"There is no ticket #{number}.")
        subject, client_name = found
        title, body = macro.title, macro.body
        status, priority = macro.set_status or "", macro.set_priority or ""
        add_tags = list(macro.add_tags or [])
    values = {
        "client.name": client_name or "there",
        "client.first_name": (client_name or "there").split()[0],
        "ticket.number": str(number),
        "ticket.subject": subject,
        "agent.name": actor.name,
        "agent.first_name": (actor.name or "").split()[0] if actor.name else "",
    }
    return MacroDraft(
        macro_id=macro_id,
        title=title,
        body=render(body, values),
        set_status=status,
        set_priority=priority,
        add_tags=add_tags,
    )
