"""Where a reply leaves the CRM: one registry, channel -> the function that queues its delivery.

The one reply action (`tickets.add_message`) calls `enqueue_reply` inside its transaction, so
the outbox row commits together with the message or not at all; the channel's send job
delivers it after the commit and records the outcome on the row. A channel without an entry
keeps the reply in the CRM only, and `reply_note` says so plainly. Chat and WhatsApp plug in
here with one `register` call in their module (listed in `_CHANNEL_MODULES`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from sqlmodel import Session

from models.ticket import Channel, Ticket, TicketMessage

# (session, ticket, message) -> None; writes the outbox row in the caller's transaction.
# It raises InvalidInput when the reply cannot be delivered (e.g. no address): nothing is saved.
Enqueue = Callable[[Session, Ticket, TicketMessage], None]

# Modules whose import registers their channel, loaded before the first lookup.
_CHANNEL_MODULES = (
    "crm_app.services.mail.outbox",
    "crm_app.services.messaging.whatsapp",
    "crm_app.services.messaging.web_chat.agents",
)
_registry: dict[str, Enqueue] = {}
# channel -> (ticket number) -> what the composer says about replying on that very ticket
# (WhatsApp's 24-hour window, whether the chat visitor is still there); "" for the default.
_notes: dict[str, Callable[[int], str]] = {}
_loaded = False


def register(channel: str, enqueue: Enqueue, note: Callable[[int], str] | None = None) -> None:
    """Deliver replies on tickets of `channel` through `enqueue` (one per channel); `note`
    tells the composer what a reply on a given ticket will do."""
    _registry[channel] = enqueue
    if note is not None:
        _notes[channel] = note


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _CHANNEL_MODULES:
            importlib.import_module(module)


def delivers(channel: str) -> bool:
    """Whether replies on tickets of `channel` are sent to the client."""
    _load()
    return channel in _registry


def enqueue_reply(session: Session, ticket: Ticket, message: TicketMessage) -> bool:
    """Queue the delivery of a staff reply (never an internal note) on the ticket's channel,
    inside the reply's transaction. False: this channel does not send (the reply is saved)."""
    if message.is_internal:
        raise ValueError("internal notes are never sent")
    _load()
    enqueue = _registry.get(ticket.channel)
    if enqueue is None:
        return False
    enqueue(session, ticket, message)
    return True


def reply_note(channel: str, number: int | None = None) -> str:
    """What happens to a reply on a ticket of `channel` (on ticket `number`, when given), in
    words for the agent."""
    if delivers(channel) and number is not None and channel in _notes:
        said = _notes[channel](number)
        if said:
            return said
    if delivers(channel):
        return f"Sent to the client by {_label(channel)}."
    if channel == Channel.PORTAL:
        return "Saved, not sent: the client reads it in the portal (no email goes out)."
    return (
        f"Saved, not sent: replies on {_label(channel)} tickets are not delivered yet "
        "(contact the client another way)."
    )


def label(channel: str) -> str:
    """The channel's name in words ("WhatsApp", "web chat")."""
    return _label(channel)


def _label(channel: str) -> str:
    labels: dict[str, str] = {
        Channel.EMAIL: "email",
        Channel.WEB_CHAT: "web chat",
        Channel.WHATSAPP: "WhatsApp",
        Channel.PORTAL: "portal",
        Channel.PHONE: "phone",
        Channel.IN_PERSON: "in-person",
        Channel.AGENT: "agent-created",
    }
    return labels.get(channel, channel)
