"""Changing many tickets at once (bulk actions from the queue) and merging a duplicate into
another ticket. Each is one transaction, every ticket audited, events emitted after commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit, events
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.mail import cc as mail_cc
from crm_app.services.tickets.actions import UNSET, apply_changes, change_events
from crm_app.services.tickets.rows import (
    TicketRow,
    choice,
    names,
    staff_member,
    ticket_row,
    touch,
)
from models.base import utcnow
from models.ticket import Channel, SenderKind, Ticket, TicketMessage, TicketPriority, TicketStatus

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
    assignee_id: int | Any | None = UNSET,
) -> BulkResult:
    """Apply the same change to selected tickets in one transaction, each audited.
    After the commit: `ticket.updated` (and `ticket.assigned`) per changed ticket."""
    require(actor, Action.EDIT_TICKETS)
    numbers = sorted({int(n) for n in numbers})
    if not numbers:
        raise InvalidInput("Select at least one ticket.")
    if len(numbers) > BULK_LIMIT:
        raise InvalidInput(f"Change at most {BULK_LIMIT} tickets at once.")
    if status is None and priority is None and assignee_id is UNSET:
        raise InvalidInput("Choose a change to apply.")
    if status is not None:
        choice(status, TicketStatus, "Status")
    if priority is not None:
        choice(priority, TicketPriority, "Priority")
    with session_scope() as session:
        if assignee_id is not UNSET and assignee_id is not None:
            staff_member(session, assignee_id)
        tickets = list(
            session.scalars(
                select(Ticket)
                .where(col(Ticket.number).in_(numbers))
                .order_by(col(Ticket.id))
                .with_for_update()
            )
        )
        if len(tickets) != len(numbers):
            raise NotFound("Some of the selected tickets no longer exist.")
        now, changed = utcnow(), 0
        emitted: list[events.Event] = []
        for ticket in tickets:
            if ticket.merged_into_id is not None:
                continue
            changes = apply_changes(
                session,
                actor,
                ticket,
                status=status,
                priority=priority,
                assignee_id=assignee_id,
                now=now,
            )
            if changes:
                changed += 1
                emitted.extend(
                    events.stage(session, e) for e in change_events(actor, ticket, changes)
                )
    for event in emitted:
        events.emit(event)
    return BulkResult(changed=changed, unchanged=len(tickets) - changed)


def merge_tickets(actor: Actor, duplicate_number: int, target_number: int) -> TicketRow:
    """Merge a duplicate into another ticket.

    Side effects: every message of the duplicate moves to the target (in time order with the
    target's own); the duplicate closes, points at the target and gets a system note with the
    link; the target gets a note too; both audit logs record the merge. After the commit:
    emits `ticket.merged` for the target.
    """
    require(actor, Action.EDIT_TICKETS)
    if duplicate_number == target_number:
        raise InvalidInput("A ticket cannot be merged into itself.")
    with session_scope() as session:
        found = {
            t.number: t
            for t in session.scalars(
                select(Ticket)
                .where(col(Ticket.number).in_([duplicate_number, target_number]))
                .order_by(col(Ticket.id))
                .with_for_update()
            )
        }
        for number in (duplicate_number, target_number):
            if number not in found:
                raise NotFound(f"There is no ticket #{number}.")
        duplicate, target = found[duplicate_number], found[target_number]
        if duplicate.merged_into_id is not None:
            raise InvalidInput(f"Ticket #{duplicate_number} was already merged.")
        if target.merged_into_id is not None:
            raise InvalidInput(
                f"Ticket #{target_number} was itself merged: merge into the ticket it points to."
            )
        if duplicate.client_id and target.client_id and duplicate.client_id != target.client_id:
            raise InvalidInput("Only tickets of the same client can be merged.")
        # An UPDATE's result is a CursorResult (with rowcount); Session.execute says Result.
        moved = cast(
            sa.CursorResult[Any],
            session.execute(
                sa.update(TicketMessage)
                .where(col(TicketMessage.ticket_id) == duplicate.id)
                .values(ticket_id=target.id)
            ),
        ).rowcount
        now = utcnow()
        for ticket, text in (
            (
                target,
                f"Ticket #{duplicate_number} ({duplicate.subject}) was merged into this "
                f"ticket by {actor.name}: {moved} message{'' if moved == 1 else 's'} "
                "moved here.",
            ),
            (duplicate, f"Merged into ticket #{target_number} by {actor.name}."),
        ):
            assert ticket.id is not None  # a stored ticket
            session.add(
                TicketMessage(
                    ticket_id=ticket.id,
                    sender_kind=SenderKind.SYSTEM,
                    author_id=None,
                    body_text=text,
                    is_internal=True,
                    channel=Channel.AGENT,
                    created_at=now,
                )
            )
        if duplicate.status != TicketStatus.CLOSED:
            duplicate.status = TicketStatus.CLOSED
            duplicate.closed_at = now
        duplicate.merged_into_id = target.id
        # Whoever was copied on the duplicate's thread is copied on the merged one.
        target.cc_emails = mail_cc.merged(target.cc_emails or [], duplicate.cc_emails or [], set())
        duplicate.is_unread = False
        target.is_unread = target.is_unread or duplicate.is_unread
        touch(duplicate, now)
        touch(target, now)
        session.flush()
        audit.record(
            session,
            actor,
            "ticket.merged_into",
            "ticket",
            duplicate.id,
            {"into": target_number, "messages": moved},
        )
        audit.record(
            session,
            actor,
            "ticket.merged_from",
            "ticket",
            target.id,
            {"from": duplicate_number, "messages": moved},
        )
        row = ticket_row(target, *names(session, target))
        event = events.Event(
            "ticket.merged",
            actor=actor,
            ticket_id=target.id,
            number=target_number,
            subject=target.subject,
            payload={"duplicate_number": duplicate_number, "messages": moved},
        )
    events.emit(event)
    return row
