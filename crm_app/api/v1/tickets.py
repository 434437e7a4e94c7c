"""`/api/v1/tickets`: the queue (the same filters and keyset pages as the page), one ticket,
create, change, reply and internal note — through the ticket services the pages use.

Staff (may view tickets) get the queue; a client gets their own tickets, as in the portal,
and sees a ticket of anyone else as missing (404).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from crm_app.api.v1.callers import Caller, caller
from crm_app.api.v1.params import TicketNumber
from crm_app.api.v1.responses import errors
from crm_app.api.v1.schemas import (
    MAX_ID,
    MessageOut,
    NoteIn,
    ReplyIn,
    TicketCreateIn,
    TicketDetailOut,
    TicketOut,
    TicketPageOut,
    TicketUpdateIn,
)
from crm_app.auth.permissions import Action, can
from crm_app.services import tickets
from crm_app.services.errors import InvalidInput
from models.ticket import Channel, SlaState, TicketPriority

router = APIRouter(prefix="/tickets", tags=["tickets"])
# What the queue writes: bucket | PostgreSQL's text of the due time | ticket id.
_DUE = r"(infinity|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?)"
_CURSOR = re.compile(r"\d{1,2}\|" + _DUE + r"\|\d{1,10}")
_Day = Query(pattern=r"^(\d{4}-\d{2}-\d{2})?$", description="YYYY-MM-DD, inclusive")


@router.get("", response_model=TicketPageOut, responses=errors(), summary="List tickets")
def list_tickets(
    who: Annotated[Caller, Depends(caller)],
    status: Annotated[
        str,
        Query(
            pattern=r"^(open|all|new|pending|resolved|closed)$",
            description='"open" (new, open, pending), one status, or "all"',
        ),
    ] = "open",
    priority: TicketPriority | None = None,
    channel: Channel | None = None,
    assignee: Annotated[
        str,
        Query(
            pattern=r"^(anyone|mine|unassigned|[1-9]\d{0,8})$",
            description="anyone, mine, unassigned or a user id",
        ),
    ] = "anyone",
    client: Annotated[
        str,
        Query(
            max_length=320,
            pattern=r"^(\d{1,9}|[^@\s]+@[^@\s]+)?$",
            description="A client id or email address",
        ),
    ] = "",
    sla_state: SlaState | None = None,
    created_from: Annotated[str, _Day] = "",
    created_to: Annotated[str, _Day] = "",
    sentiment: Annotated[str, Query(pattern=r"^(negative|neutral|positive)?$")] = "",
    cursor: Annotated[
        str,
        Query(
            max_length=200,
            pattern="^(" + _CURSOR.pattern + ")?$",
            description="next_cursor of the previous page",
        ),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> TicketPageOut:
    """Staff: the queue in its order (unread and new first, SLA urgency, due soonest), one
    keyset page at a time. A client: their own tickets, newest first (one page). No side
    effects."""
    if not can(who.actor, Action.VIEW_TICKETS):
        own = tickets.portal_tickets(who.actor)
        return TicketPageOut(
            items=[TicketOut.of(row) for row in own],
            total=len(own),
            total_capped=False,
            next_cursor=None,
        )
    filters = tickets.QueueFilters(
        status=status,
        priority=priority.value if priority else "",
        channel=channel.value if channel else "",
        assignee=assignee,
        client=client,
        sla_state=sla_state.value if sla_state else "",
        created_from=created_from,
        created_to=created_to,
        sentiment=sentiment,
    )
    page = tickets.queue(who.actor, filters, after=_checked_cursor(cursor), page_size=limit)
    return TicketPageOut(
        items=[TicketOut.of(row) for row in page.items],
        total=page.total,
        total_capped=page.total_capped,
        next_cursor=page.next_cursor or None,
    )


def _checked_cursor(cursor: str) -> str:
    """A cursor as the queue wrote it (bucket|due|id), or 422: a forged one never reaches SQL."""
    if not cursor:
        return ""
    try:
        if not _CURSOR.fullmatch(cursor):
            raise ValueError
        _bucket, due, ticket_id = cursor.split("|")
        if not 0 < int(ticket_id) <= MAX_ID:
            raise ValueError
        if due != "infinity":
            datetime.fromisoformat(due)
    except ValueError:
        raise InvalidInput(
            "That page link is no longer valid: start from the first page."
        ) from None
    return cursor


def _detail(detail: tickets.TicketDetail) -> TicketDetailOut:
    return TicketDetailOut(
        ticket=TicketOut.of(detail.ticket),
        client_id=detail.client_id,
        assignee_id=detail.assignee_id,
        first_response_due_at=detail.first_response_due_at,
        resolution_due_at=detail.resolution_due_at,
        merged_into_number=detail.merged_into_number,
        cc=list(detail.cc_emails),
        messages=[MessageOut.of(m) for m in detail.messages],
    )


@router.get(
    "/{number}", response_model=TicketDetailOut, responses=errors(404), summary="One ticket"
)
def get_ticket(number: TicketNumber, who: Annotated[Caller, Depends(caller)]) -> TicketDetailOut:
    """The ticket and its timeline (a client never sees internal notes). Reading does not
    mark it read. No side effects."""
    return _detail(tickets.get_ticket(who.actor, number))


@router.post(
    "",
    response_model=TicketOut,
    status_code=201,
    responses=errors(),
    summary="Open a ticket",
)
def create_ticket(body: TicketCreateIn, who: Annotated[Caller, Depends(caller)]) -> TicketOut:
    """Staff who may edit tickets. `cc` (email tickets) is checked as a reply's CC is: a wrong
    address saves nothing (422). Side effects: audited; emits `ticket.created` (webhooks,
    notifications)."""
    return TicketOut.of(
        tickets.create_ticket(
            who.actor,
            client_id=body.client_id,
            subject=body.subject,
            body=body.body,
            priority=body.priority.value,
            channel=body.channel.value,
            assignee_id=body.assignee_id,
            cc=", ".join(body.cc),
        )
    )


@router.patch(
    "/{number}", response_model=TicketOut, responses=errors(404, 409), summary="Change a ticket"
)
def update_ticket(
    number: TicketNumber, body: TicketUpdateIn, who: Annotated[Caller, Depends(caller)]
) -> TicketOut:
    """Status, priority and/or assignee in one save (`assignee_id: null` unassigns). Send
    `expected_version` to be refused (409) when someone changed it since. Side effects: one
    audit entry per changed field; emits `ticket.updated`."""
    sent = body.model_fields_set
    return TicketOut.of(
        tickets.update_ticket(
            who.actor,
            number,
            expected_version=body.expected_version,
            status=body.status.value if body.status else None,
            priority=body.priority.value if body.priority else None,
            assignee_id=body.assignee_id if "assignee_id" in sent else tickets.UNSET,
        )
    )


@router.post(
    "/{number}/replies",
    response_model=MessageOut,
    status_code=201,
    responses=errors(404, 409),
    summary="Reply on a ticket",
)
def reply(
    number: TicketNumber, body: ReplyIn, who: Annotated[Caller, Depends(caller)]
) -> MessageOut:
    """A staff reply to the client (goes out on the ticket's channel), or a client's answer on
    their own ticket. Staff may set status/priority with it. Side effects: audited; emits
    `message.added`."""
    return MessageOut.of(
        tickets.add_message(
            who.actor,
            number,
            body.body,
            status=body.status.value if body.status else None,
            priority=body.priority.value if body.priority else None,
            expected_version=body.expected_version,
        )
    )


@router.post(
    "/{number}/notes",
    response_model=MessageOut,
    status_code=201,
    responses=errors(404),
    summary="Add an internal note",
)
def add_note(
    number: TicketNumber, body: NoteIn, who: Annotated[Caller, Depends(caller)]
) -> MessageOut:
    """Staff only; never shown to the client. Side effects: audited; emits `message.added`
    (internal), which notifies staff @named in it."""
    return MessageOut.of(tickets.add_message(who.actor, number, body.body, internal=True))
