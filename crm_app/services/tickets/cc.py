"""A ticket's CC list as agents edit it: the addresses typed into the reply composer's Cc field
checked before the send, and the list a reply sets (in the reply's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput
from crm_app.services.mail import cc as mail_cc
from models.client import Client
from models.ticket import Channel, Ticket


def check_cc(actor: Actor, typed: str) -> list[str]:
    """The addresses typed or pasted into the composer's Cc field, checked as the send will
    check them (one plain address each, none of the firm's own mailboxes). A read: nothing is
    written; raises InvalidInput saying which entry is wrong."""
    require(actor, Action.EDIT_TICKETS)
    addresses = mail_cc.split_typed(typed)
    with session_scope() as session:
        mail_cc.refuse_own(addresses, mail_cc.own_addresses(session))
    return addresses


def set_cc(session: Session, ticket: Ticket, cc: Sequence[str]) -> dict[str, list[Any]]:
    """Give a locked email ticket the CC list a reply names (already `clean_addresses`): the
    firm's own mailboxes are refused, the requester's own addresses left out (they get the
    mail in To). Returns the audit change, empty when the list stays as it was."""
    if ticket.channel != Channel.EMAIL:
        raise InvalidInput("Only replies by email can copy other people (Cc).")
    mail_cc.refuse_own(cc, mail_cc.own_addresses(session))
    client = session.get(Client, ticket.client_id) if ticket.client_id else None
    requester = {(client.email or "").strip().lower()} if client else set()
    wanted = [address for address in cc if address not in requester]
    before = list(ticket.cc_emails or [])
    if wanted == before:
        return {}
    ticket.cc_emails = wanted
    return {"cc": [before, wanted]}
