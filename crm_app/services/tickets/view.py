"""Opening a ticket: the ticket with its client, timeline, attachments, the client's other
tickets and the history, in one round trip; and marking it read, the write that goes with
opening it (named, so reading never writes behind its name)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from psycopg.rows import dict_row
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import get_engine, session_scope
from crm_app.services import attachments, events
from crm_app.services.errors import NotFound
from crm_app.services.tickets.rows import (
    STAFF_ROLES,
    ClientProfile,
    MessageRow,
    TicketDetail,
    TicketRow,
    fmt,
    history_query,
    history_row,
    iso,
)
from models.ticket import SenderKind, Ticket

# The ticket with its client, assignee and merge target in one row.
_OPEN_TICKET_SQL = """
SELECT t.id, t.number, t.subject, t.status, t.priority, t.channel, t.sla_state, t.is_unread,
       t.created_at, t.updated_at, t.version, t.client_id, t.assignee_id, t.tags, t.cc_emails,
       t.first_response_due_at, t.resolution_due_at, merged.number AS merged_into_number,
       c.name AS client_name, c.email AS client_email, c.phone AS client_phone,
       c.region AS client_region, c.risk_category AS client_risk_category,
       c.net_worth AS client_net_worth, c.currency AS client_currency,
       c.portal_user_id AS client_portal_user_id, u.name AS assignee_name
FROM ticket t
LEFT JOIN client c ON c.id = t.client_id
LEFT JOIN user_account u ON u.id = t.assignee_id
LEFT JOIN ticket merged ON merged.id = t.merged_into_id
WHERE t.number = %(number)s
"""
_TIMELINE_SQL = """
SELECT m.id, m.sender_kind, m.body_text, m.quoted_text, m.is_internal, m.channel, m.created_at,
       m.cc_emails,
       u.name AS author_name, s.label AS sentiment, u.role AS author_role,
       o.status AS delivery_status, o.last_error AS delivery_error,
       o.attempts AS delivery_attempts
FROM ticket_message m
LEFT JOIN user_account u ON u.id = m.author_id
LEFT JOIN message_sentiment s ON s.message_id = m.id
LEFT JOIN outbound_message o ON o.message_id = m.id
WHERE m.ticket_id = %(ticket_id)s {public}
ORDER BY m.created_at, m.id
"""
_OTHER_TICKETS_SQL = """
SELECT number, subject, status, priority, channel, sla_state, is_unread, created_at,
       updated_at, version
FROM ticket WHERE client_id = %(client_id)s AND id <> %(ticket_id)s
ORDER BY created_at DESC LIMIT 10
"""
_ATTACHMENTS_SQL = """
SELECT a.id, a.message_id, a.filename, a.size_bytes, a.is_inline
FROM attachment a JOIN ticket_message m ON m.id = a.message_id
WHERE m.ticket_id = %(ticket_id)s {public}
ORDER BY a.id
"""
# The history is the same query the rest of the ticket code uses, compiled once for psycopg.
_HISTORY = history_query(sa.bindparam("ticket_id")).compile(
    dialect=postgresql_psycopg.dialect(), compile_kwargs={"render_postcompile": True}
)
_HISTORY_SQL, _HISTORY_PARAMS = str(_HISTORY), dict(_HISTORY.params)


def get_ticket(actor: Actor, number: int) -> TicketDetail:
    """Open a ticket (a read: nothing is written). Staff see internal notes, the client sidebar
    and the audit history; a client never does."""
    staff = can(actor, Action.VIEW_TICKETS)
    if not staff:
        require(actor, Action.USE_PORTAL)
    with get_engine().connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None  # the psycopg connection of a live pool connection
        try:
            with raw.cursor(row_factory=dict_row) as cur:
                t = cur.execute(_OPEN_TICKET_SQL, {"number": number}).fetchone()
                # A client sees only their own tickets, with the same answer as a missing
                # ticket so numbers cannot be probed.
                if t is None or (not staff and t["client_portal_user_id"] != actor.user_id):
                    raise NotFound(f"There is no ticket #{number}.")
                params = {"ticket_id": t["id"], "client_id": t["client_id"]}
                public = "" if staff else "AND NOT m.is_internal"
                with raw.pipeline():
                    messages_cur = raw.cursor(row_factory=dict_row)
                    messages_cur.execute(_TIMELINE_SQL.format(public=public), params)
                    files_cur = raw.cursor()
                    files_cur.execute(_ATTACHMENTS_SQL.format(public=public), params)
                    if staff:
                        others_cur = raw.cursor(row_factory=dict_row)
                        if t["client_id"] is not None:
                            others_cur.execute(_OTHER_TICKETS_SQL, params)
                        history_cur = raw.cursor(row_factory=dict_row)
                        history_cur.execute(_HISTORY_SQL, {**_HISTORY_PARAMS, **params})
                message_rows = messages_cur.fetchall()
                file_rows = files_cur.fetchall()
                # A mail's inline (cid:) images show in the message; the rest are listed.
                files = attachments.group_by_message([r[:4] for r in file_rows if not r[4]])
                inline = attachments.group_by_message([r[:4] for r in file_rows if r[4]])
                other_rows = others_cur.fetchall() if staff and t["client_id"] is not None else []
                history_rows = history_cur.fetchall() if staff else []
        finally:
            raw.rollback()
    return _detail(actor, staff, t, message_rows, files, other_rows, history_rows, inline)


def _detail(
    actor: Actor,
    staff: bool,
    t: dict[str, Any],
    message_rows: list[dict[str, Any]],
    files: dict[int, list],
    other_rows: list[dict[str, Any]],
    history_rows: list[dict[str, Any]],
    inline: dict[int, list] | None = None,
) -> TicketDetail:
    client_id, client_name = t["client_id"], t["client_name"] or ""
    messages = [_message(m, client_name, staff, files, inline or {}) for m in message_rows]
    profile = None
    if staff and client_id is not None:
        finances = can(actor, Action.VIEW_CLIENT_FINANCES)
        net_worth = t["client_net_worth"]
        profile = ClientProfile(
            id=client_id,
            name=client_name,
            email=t["client_email"] or "",
            phone=t["client_phone"] or "",
            region=t["client_region"] or "",
            risk_category=t["client_risk_category"] or "",
            net_worth=(
                f"{net_worth:,.0f} {t['client_currency']}"
                if finances and net_worth is not None
                else ""
            ),
        )
    others = [
        TicketRow(
            number=o["number"],
            subject=o["subject"],
            status=o["status"],
            priority=o["priority"],
            channel=o["channel"],
            sla_state=o["sla_state"],
            is_unread=o["is_unread"],
            client_name=client_name,
            assignee_name="",
            created_at=fmt(o["created_at"]),
            updated_at=fmt(o["updated_at"]),
            version=o["version"],
        )
        for o in other_rows
    ]
    return TicketDetail(
        ticket=TicketRow(
            number=t["number"],
            subject=t["subject"],
            status=t["status"],
            priority=t["priority"],
            channel=t["channel"],
            sla_state=t["sla_state"],
            is_unread=t["is_unread"],
            client_name=client_name,
            assignee_name=t["assignee_name"] or "",
            created_at=fmt(t["created_at"]),
            updated_at=fmt(t["updated_at"]),
            version=t["version"],
            created_iso=iso(t["created_at"]),
            tags=list(t["tags"] or []),
        ),
        client_id=client_id,
        client_email=(t["client_email"] or "") if client_id is not None and staff else "",
        messages=messages,
        first_response_due_at=iso(t["first_response_due_at"]) if staff else "",
        resolution_due_at=iso(t["resolution_due_at"]) if staff else "",
        assignee_id=t["assignee_id"] if staff else None,
        client=profile,
        other_tickets=others,
        history=[history_row(row) for row in history_rows],
        merged_into_number=t["merged_into_number"] if staff else None,
        cc_emails=list(t["cc_emails"] or []) if staff else [],
    )


def _message(
    m: dict[str, Any],
    client_name: str,
    staff: bool,
    files: dict[int, list],
    inline: dict[int, list] | None = None,
) -> MessageRow:
    kind, author = m["sender_kind"], m["author_name"]
    # A client message written by staff is a call or visit the agent logged.
    logged = kind == SenderKind.CLIENT and m["author_role"] in STAFF_ROLES
    return MessageRow(
        id=m["id"],
        sender_kind=kind,
        author_name=(client_name or "Client")
        if logged
        else author
        or (
            client_name
            if kind == SenderKind.CLIENT
            else ("System" if kind == SenderKind.SYSTEM else "")
        ),
        body_text=m["body_text"],
        is_internal=m["is_internal"],
        channel=m["channel"],
        created_at=fmt(m["created_at"]),
        created_iso=iso(m["created_at"]),
        sentiment=(m["sentiment"] or "") if staff and kind == SenderKind.CLIENT else "",
        logged_by=(author or "") if logged else "",
        attachments=files.get(m["id"], []),
        delivery_status=(m["delivery_status"] or "") if staff else "",
        delivery_error=(m["delivery_error"] or "") if staff else "",
        delivery_attempts=(m["delivery_attempts"] or 0) if staff else 0,
        quoted_text=m.get("quoted_text") or "",
        inline_images=(inline or {}).get(m["id"], []),
        cc=list(m.get("cc_emails") or []),
    )


def mark_read(actor: Actor, number: int) -> bool:
    """Staff opened the ticket: it is no longer news in the queue. Returns whether it was
    unread. A client reading their own ticket changes nothing (the flag is the staff's).
    Reading is not an edit: no version bump, no audit entry, so it never conflicts.
    Side effects: after the commit, emits `ticket.read` (open queues reload)."""
    if not can(actor, Action.VIEW_TICKETS):
        require(actor, Action.USE_PORTAL)
        return False
    with session_scope() as session:
        # One statement: missing and already-read tickets alike are left alone.
        marked = (
            session.execute(
                sa.update(Ticket)
                .where(col(Ticket.number) == number, col(Ticket.is_unread).is_(True))
                .values(is_unread=False)
                .returning(col(Ticket.id), col(Ticket.subject))
            )
            .mappings()
            .first()
        )
    was_unread = marked is not None
    if marked is not None:
        events.emit(
            events.Event(
                "ticket.read",
                actor=actor,
                ticket_id=marked["id"],
                number=number,
                subject=marked["subject"],
            )
        )
    return was_unread
