"""Clients made from an incoming message (an unknown mail sender, web chat visitor or WhatsApp
number) start unverified: an agent confirms them here, or merges them into the client they
belong to with `client_duplicates.merge_clients`.

The list's "Unverified" filter and its count read the partial index `ix_client_unverified`, so
both stay index scans however large the client base grows.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.clients.reads import load_client
from crm_app.services.errors import InvalidInput, NotFound
from models.base import utcnow
from models.client import Client
from models.ticket import Channel, Ticket

# How the callout names where an unverified client came from, by its first ticket's channel.
_ORIGINS = {
    Channel.EMAIL.value: "an incoming email",
    Channel.WEB_CHAT.value: "a web chat",
    Channel.WHATSAPP.value: "a WhatsApp message",
    Channel.PORTAL.value: "a portal request",
}
DEFAULT_ORIGIN = "an incoming message"


def count_unverified(actor: Actor) -> int:
    """How many live clients still wait for an agent to confirm them (the list's filter chip)."""
    require(actor, Action.VIEW_CLIENTS)
    with session_scope() as session:
        return session.execute(
            select(func.count())
            .select_from(Client)
            .where(col(Client.verified).is_(False), col(Client.deleted_at).is_(None))
        ).scalar_one()


def unverified_origin(actor: Actor, client_id: int) -> str:
    """Where an unverified client came from, for the profile's callout: the channel of its
    first ticket ("an incoming email"), or "an incoming message" when that is not known."""
    require(actor, Action.VIEW_CLIENTS)
    with session_scope() as session:
        load_client(session, client_id, allow_deleted=True)
        channel = session.execute(
            select(col(Ticket.channel))
            .where(col(Ticket.client_id) == client_id)
            .order_by(col(Ticket.created_at), col(Ticket.id))
            .limit(1)
        ).scalar_one_or_none()
    return _ORIGINS.get(channel or "", DEFAULT_ORIGIN)


def confirm_client(actor: Actor, client_id: int) -> None:
    """An agent confirms an unverified client is a real, new client: it loses its
    "Unverified" badge. Audited in the client's history; refused for a client already
    confirmed (another agent was first), deleted, merged away or erased."""
    require(actor, Action.EDIT_CLIENTS)
    with session_scope() as session:
        client = (
            session.get(Client, client_id, with_for_update=True)
            if isinstance(client_id, int) and not isinstance(client_id, bool)
            else None
        )
        if client is None or client.deleted_at is not None:
            raise NotFound("That client does not exist.")
        if client.erased_at is not None:
            raise InvalidInput("This client's personal data was erased; it cannot be confirmed.")
        if client.verified:
            raise InvalidInput(f"{client.name} is confirmed already.")
        client.verified, client.updated_at = True, utcnow()
        audit.record(
            session, actor, "client.confirmed", "client", client.id, {"verified": [False, True]}
        )
