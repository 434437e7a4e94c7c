"""Writing to one ticket: open it, reply or note, change status/priority/assignee, mark it
unread. Each action checks permission, writes, audits and commits, then emits its event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services import assignment, attachments, audit, channels, events, sla
from crm_app.services import request_receipts as receipts
from crm_app.services.attachments import StagedFile
from crm_app.services.errors import InvalidInput, PermissionDenied
from crm_app.services.mail import cc as mail_cc
from crm_app.services.tickets import tags as tags_service
from crm_app.services.tickets.cc import set_cc
from crm_app.services.tickets.rows import (
    LOGGED_FOR_CLIENT_CHANNELS,
    MAX_BODY,
    MessageRow,
    TicketRow,
    check_version,
    choice,
    clean_body,
    fmt,
    load_for,
    names,
    staff_member,
    ticket_row,
    touch,
)
from models.base import utcnow
from models.client import Client
from models.ticket import (
    OPEN_STATUSES,
    Channel,
    SenderKind,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from models.user import User

UNSET: Any = object()  # "leave the assignee as it is" (None means unassign)


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
    cc: str = "",
) -> TicketRow:
    """Open a ticket with its first message.

    `cc` (an email ticket): the addresses typed into the form's Cc field, separated by commas,
    semicolons or spaces, checked as a reply's Cc is (one plain address each, none of the
    firm's own mailboxes; the client's own address is left out). They become the ticket's CC
    list: the first mail and every later reply go to them in Cc. A wrong entry saves nothing.

    `from_client`: the first message is the client's request, logged by the acting agent (a
    phone call, a walk-in): sent by the client, on that channel, with the agent as its author.
    None decides by channel: phone and in person are the client speaking; anything else is the
    agent writing to the client.
    `assignee_id` None means "no one chosen": with round-robin on, the next available agent
    gets it; otherwise the creating staff member does (a job creating it leaves it unassigned).
    Side effects: audited (with the assignee, and whether round-robin chose them); the assignee
    sees it unread unless they created it; an agent's first message on a channel that delivers
    (email) is queued for sending in the same transaction. After the commit: emits
    `ticket.created`.
    """
    require(actor, Action.EDIT_TICKETS)
    if from_client is None:
        from_client = channel in LOGGED_FOR_CLIENT_CHANNELS
    subject = " ".join((subject or "").split())
    if not subject or len(subject) > 300:
        raise InvalidInput("A ticket needs a subject (up to 300 characters).")
    body = clean_body(body)
    choice(priority, TicketPriority, "Priority")
    choice(channel, Channel, "Channel")
    cc_emails = mail_cc.split_typed(cc)
    if cc_emails and channel != Channel.EMAIL:
        raise InvalidInput("Only email tickets can copy other people (Cc).")
    with session_scope() as session:
        client = session.get(Client, client_id) if client_id else None
        if client_id and client is None:
            raise InvalidInput("That client does not exist.")
        round_robin = False
        if assignee_id is not None:
            staff_member(session, assignee_id)
        else:
            chosen = assignment.next_agent(session)
            round_robin = chosen is not None
            assignee_id = chosen or actor.user_id
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
        if cc_emails:
            set_cc(session, ticket, cc_emails)  # before the mail is queued: it goes in Cc
        session.add(ticket)
        session.flush()
        assert ticket.id is not None  # flushed
        if from_client and client is None:
            raise InvalidInput("Choose the client whose request this is.")
        sla.on_ticket_event(
            session, ticket, now, created=True, message="client" if from_client else "staff"
        )
        first = TicketMessage(
            ticket_id=ticket.id,
            # Logged for the client: their words, with the agent as the one who wrote
            # them down (the timeline says "logged by").
            sender_kind=SenderKind.CLIENT if from_client else SenderKind.AGENT,
            author_id=actor.user_id,
            body_text=body,
            channel=channel,
            created_at=now,
        )
        session.add(first)
        # An agent writing to the client first (an email ticket): it goes out like a reply.
        queued = False
        if not from_client and channels.delivers(channel):
            session.flush()
            session.refresh(ticket)  # its number, given by the database
            queued = channels.enqueue_reply(session, ticket, first)
        assignee = session.get(User, assignee_id) if assignee_id else None
        record: dict[str, Any] = {
            "number": ticket.number,
            "subject": subject,
            "priority": priority,
            "channel": channel,
            "logged_for_client": bool(from_client),
            "assignee": assignee.name if assignee else None,
        }
        if round_robin:
            record["round_robin"] = True
        if ticket.cc_emails:
            record["cc"] = ", ".join(ticket.cc_emails)
        if queued:
            record["delivery"] = f"queued ({channel})"
        audit.record(session, actor, "ticket.created", "ticket", ticket.id, record)
        session.refresh(ticket)
        row = ticket_row(
            ticket, client.name if client else None, assignee.name if assignee else None
        )
        created = events.stage(
            session,
            events.Event(
                "ticket.created",
                actor=actor,
                ticket_id=ticket.id,
                number=row.number,
                subject=subject,
                payload={"assignee_id": assignee_id},
            ),
        )
    events.emit(created)
    return row


def add_message(
    actor: Actor,
    number: int,
    body: str,
    *,
    internal: bool = False,
    files: Sequence[StagedFile] = (),
    status: str | None = None,
    priority: str | None = None,
    add_tags: Sequence[str] = (),
    macro: str = "",
    expected_version: int | None = None,
    request_key: str | None = None,
    cc: Sequence[str] | None = None,
) -> MessageRow:
    """A staff reply or internal note, or a client's reply from the portal.

    `cc` (staff, a reply on an email ticket): the ticket's CC list as the agent left it in the
    composer; the reply goes to the client and in Cc to them, and the ticket keeps the list.
    None leaves the list as it is. The firm's own mailboxes are refused; the client's address
    is left out (the mail goes To them).

    `request_key` (the composer's random key for this draft) makes a retry harmless: a second
    call with the key of a message already saved writes nothing and returns that message.

    Staff may send it with staged attachments (`files`) and with the status/priority/tags a
    chosen macro proposed: message, files and field changes are written in one transaction and
    recorded as one audit entry. Field changes are checked against `expected_version` (the
    version the agent's view showed; a changed CC list too): on a conflict nothing at all is
    written.
    Side effects: the ticket's version and update time move on (open views see it); a staff
    reply records the first response and opens a new ticket; a client reply reopens a pending
    or resolved ticket and marks it unread. After the commit: emits `message.added` (the
    assignee hears of a client's answer, staff `@named` in an internal note are notified).
    A staff reply on a channel that delivers (`services.channels`: email) is queued in the
    same transaction for that channel's send job; internal notes never are.
    """
    body = (body or "").strip() if files else clean_body(body)
    if len(body) > MAX_BODY:
        raise InvalidInput(f"A message may hold at most {MAX_BODY:,} characters.")
    if status is not None:
        choice(status, TicketStatus, "Status")
    if priority is not None:
        choice(priority, TicketPriority, "Priority")
    add_tags = tags_service.clean_tags(add_tags)
    if request_key is not None and not 16 <= len(request_key) <= 64:
        raise InvalidInput("That request was not understood.")
    if cc is not None:
        if internal:
            raise InvalidInput("Internal notes are never sent, so no one can be copied on them.")
        cc = mail_cc.clean_addresses(cc)
    with session_scope() as session:
        ticket = load_for(session, actor, number, lock=True)  # the lock orders same-key retries
        assert ticket.id is not None  # a stored ticket
        if request_key is not None:
            earlier = receipts.earlier_message(session, actor, request_key, ticket.id)
            if earlier is not None:
                return earlier
        staff = can(actor, Action.EDIT_TICKETS)
        if not staff:
            if internal:
                raise PermissionDenied("Only staff can write internal notes.")
            if files or status is not None or priority is not None or add_tags:
                raise PermissionDenied("Only staff can attach files or change the ticket.")
            if cc is not None:
                raise PermissionDenied("Only staff can choose who is copied on a reply.")
            if ticket.status == TicketStatus.CLOSED:
                raise InvalidInput("This ticket is closed. Open a new one instead.")
        if ticket.merged_into_id is not None:
            raise InvalidInput("This ticket was merged into another one: reply there.")
        cc_change = set_cc(session, ticket, cc) if cc is not None else {}
        if status is not None or priority is not None or add_tags or cc_change:
            check_version(session, ticket, expected_version)
        now = utcnow()
        status_before, priority_before = ticket.status, ticket.priority
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
        touch(ticket, now)
        changes = apply_changes(
            session,
            actor,
            ticket,
            status=status,
            priority=priority,
            assignee_id=UNSET,
            tags=[*ticket.tags, *add_tags] if add_tags else None,
            now=now,
            as_part_of_message=True,
        )
        if staff and not internal:
            if ticket.first_responded_at is None:
                ticket.first_responded_at = now
            if ticket.status == TicketStatus.NEW:
                ticket.status = TicketStatus.OPEN
        elif not staff:
            ticket.is_unread = True
            if ticket.status in (TicketStatus.PENDING, TicketStatus.RESOLVED):
                ticket.status = TicketStatus.OPEN
        sla.on_ticket_event(
            session,
            ticket,
            now,
            status_before=status_before,
            priority_before=priority_before,
            message=None if internal else ("staff" if staff else "client"),
        )
        session.flush()
        assert message.id is not None  # flushed
        if request_key is not None:
            receipts.record(session, actor, request_key, message.id)
        attached = attachments.link_staged(session, message.id, files)
        # The delivery is queued in this transaction: it commits with the reply or not at all.
        queued = staff and not internal and channels.enqueue_reply(session, ticket, message)
        record: dict[str, Any] = {"message_id": message.id, **changes, **cc_change}
        if message.cc_emails:
            record["sent_cc"] = ", ".join(message.cc_emails)  # who got it in Cc
        if attached:
            record["attachments"] = attached
        if queued:
            record["delivery"] = f"queued ({ticket.channel})"
        if macro and changes:
            record["macro"] = macro[:120]
        audit.record(
            session,
            actor,
            "ticket.note_added" if internal else "ticket.message_added",
            "ticket",
            ticket.id,
            record,
        )
        event = events.Event(
            "message.added",
            actor=actor,
            ticket_id=ticket.id,
            number=number,
            subject=ticket.subject,
            payload={
                "message_id": message.id,
                "internal": internal,
                "from_client": not staff,
                "body": body,
                "channel": ticket.channel,
                "queued_for_delivery": bool(queued),
                "assignee_id": ticket.assignee_id,
                "client_name": (names(session, ticket)[0] or "") if not staff else "",
            },
        )
        event = events.stage(session, event)
        row = MessageRow(
            id=message.id,
            sender_kind=message.sender_kind,
            author_name=actor.name,
            body_text=body,
            is_internal=internal,
            channel=message.channel,
            created_at=fmt(now),
            delivery_status="queued" if queued else "",
            cc=list(message.cc_emails or []),
        )
    events.emit(event)
    return row


def apply_changes(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    *,
    status: str | None,
    priority: str | None,
    assignee_id: int | Any | None,
    now: datetime,
    tags: Sequence[str] | None = None,
    as_part_of_message: bool = False,
) -> dict[str, list[Any]]:
    """Set status/priority/assignee/tags (the whole new list; cleaned) on a locked ticket;
    returns the audit changes.

    `as_part_of_message`: the caller's message entry records them and moves the version."""
    changes: dict[str, list[Any]] = {}
    status_before, priority_before = ticket.status, ticket.priority
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
    if assignee_id is not UNSET and assignee_id != ticket.assignee_id:
        before = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
        after = staff_member(session, assignee_id) if assignee_id is not None else None
        changes["assignee"] = [before.name if before else None, after.name if after else None]
        ticket.assignee_id = assignee_id
    if tags is not None:
        new_tags = tags_service.clean_tags(tags)
        if new_tags != list(ticket.tags):
            changes["tags"] = [list(ticket.tags), new_tags]
            ticket.tags = new_tags
            tags_service.remember(session, new_tags)
    if ("status" in changes or "priority" in changes) and not as_part_of_message:
        # The SLA clocks move with status and priority (a message's own hook does it there).
        sla.on_ticket_event(
            session, ticket, now, status_before=status_before, priority_before=priority_before
        )
    if changes and not as_part_of_message:
        touch(ticket, now)
        for key, action in (
            ("status", "ticket.status_changed"),
            ("priority", "ticket.priority_changed"),
            ("assignee", "ticket.assigned"),
            ("tags", "ticket.tags_changed"),
        ):
            if key in changes:
                audit.record(session, actor, action, "ticket", ticket.id, {key: changes[key]})
    return changes


def change_events(
    actor: Actor, ticket: Ticket, changes: dict[str, list[Any]]
) -> list[events.Event]:
    """What to emit after the commit of `apply_changes` on one ticket."""
    if not changes:
        return []
    base: dict[str, Any] = {
        "actor": actor,
        "ticket_id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
    }
    emitted = [events.Event("ticket.updated", **base, payload={"changes": changes})]
    if "assignee" in changes:
        emitted.append(
            events.Event("ticket.assigned", **base, payload={"assignee_id": ticket.assignee_id})
        )
    return emitted


def update_ticket(
    actor: Actor,
    number: int,
    *,
    expected_version: int | None,
    status: str | None = None,
    priority: str | None = None,
    assignee_id: int | Any | None = UNSET,
    tags: Sequence[str] | None = None,
) -> TicketRow:
    """Change status, priority, assignee (None: unassign) and/or tags (the whole new list) in
    one save.

    `expected_version` is the version the agent's view showed: when someone changed the ticket
    since, nothing is written and Conflict says so (None skips the check, for jobs).
    Side effects: one audit entry per changed field; the version moves on. After the commit:
    emits `ticket.updated`, and `ticket.assigned` when the assignee changed.
    """
    require(actor, Action.EDIT_TICKETS)
    if status is not None:
        choice(status, TicketStatus, "Status")
    if priority is not None:
        choice(priority, TicketPriority, "Priority")
    with session_scope() as session:
        ticket = load_for(session, actor, number, lock=True)
        check_version(session, ticket, expected_version)
        if ticket.merged_into_id is not None and status is not None and status != ticket.status:
            raise InvalidInput("This ticket was merged into another one and stays closed.")
        changes = apply_changes(
            session,
            actor,
            ticket,
            status=status,
            priority=priority,
            assignee_id=assignee_id,
            tags=tags,
            now=utcnow(),
        )
        row = ticket_row(ticket, *names(session, ticket))
        emitted = [events.stage(session, e) for e in change_events(actor, ticket, changes)]
    for event in emitted:
        events.emit(event)
    return row


def set_unread(actor: Actor, number: int, unread: bool) -> None:
    """Mark a ticket read or unread (a reminder for the queue; not an edit, no version bump).
    After the commit: emits `ticket.read` (open queues reload)."""
    require(actor, Action.EDIT_TICKETS)
    with session_scope() as session:
        ticket = load_for(session, actor, number)
        ticket.is_unread = unread
        ticket_id, subject = ticket.id, ticket.subject
    events.emit(
        events.Event(
            "ticket.read",
            actor=actor,
            ticket_id=ticket_id,
            number=number,
            subject=subject,
            payload={"unread": unread},
        )
    )
