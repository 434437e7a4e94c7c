"""Receipts of requests carried out, by the client's key: a retry returns the first result.

Written in the same transaction as the write it records, so a request is either done with its
receipt or not done at all: a worker killed mid-request leaves nothing, one killed after the
commit leaves a receipt the retry finds.
"""

from __future__ import annotations

from sqlmodel import Session

from crm_app.auth.permissions import Actor
from crm_app.services.errors import InvalidInput
from crm_app.services.tickets.rows import MessageRow, fmt
from models.request_receipt import RequestReceipt
from models.ticket import TicketMessage

MESSAGE_ADDED = "ticket.message_added"


def earlier_message(session: Session, actor: Actor, key: str, ticket_id: int) -> MessageRow | None:
    """The message saved under `key` by this user on this ticket, if any."""
    receipt = session.get(RequestReceipt, key)
    if receipt is None:
        return None
    message = session.get(TicketMessage, receipt.result_id)
    if receipt.user_id != actor.user_id or message is None or message.ticket_id != ticket_id:
        raise InvalidInput("That request was not understood.")  # another user's or ticket's key
    assert message.id is not None  # a stored message
    return MessageRow(
        id=message.id,
        sender_kind=message.sender_kind,
        author_name=actor.name,
        body_text=message.body_text,
        is_internal=message.is_internal,
        channel=message.channel,
        created_at=fmt(message.created_at),
    )


def record(session: Session, actor: Actor, key: str, message_id: int) -> None:
    assert actor.user_id is not None  # receipts are kept for signed-in users
    session.add(
        RequestReceipt(key=key, action=MESSAGE_ADDED, user_id=actor.user_id, result_id=message_id)
    )
