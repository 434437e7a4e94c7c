"""WhatsApp into the one queue and back: the provider-neutral half of the channel.

The webhook modules (Twilio, Meta; `crm_app/api/channel_webhooks.py`) verify the provider's
signature and turn its payload into an `InboundMessage` or a status; this module writes them:

- `receive` opens or continues the ticket of the sender's number (the client matched by
  E.164 number, an unverified client created for an unknown one), adds the message and its
  media, audits, commits, then emits `ticket.created` / `message.added`. The same webhook
  delivered twice adds one message (`channel_event.external_key` is unique).
- `record_status` keeps the provider's word on a sent reply; a failed delivery marks the
  outbox row failed with the provider's reason, so the timeline shows it with a Retry.
- `enqueue_whatsapp_reply` (registered in `services.channels`) queues an agent's reply inside
  the reply's transaction, to the number the client wrote from, through the provider it came
  by; outside WhatsApp's 24-hour customer-service window it refuses and says why (only an
  approved template may be sent then: `template_messages.send_template`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from crm_app.db import session_scope
from crm_app.services import channels, events
from crm_app.services.errors import InvalidInput
from crm_app.services.messaging import intake
from crm_app.services.tickets.rows import MAX_BODY
from models.base import utcnow
from models.client import Client
from models.messaging import ChannelDelivery, ChannelEvent, EventOutcome, Provider
from models.outbox import OutboundKind, OutboundMessage, OutboundStatus
from models.ticket import (
    Attachment,
    Channel,
    SenderKind,
    Ticket,
    TicketMessage,
    TicketStatus,
)

log = logging.getLogger(__name__)

CHANNEL = Channel.WHATSAPP.value
WINDOW = timedelta(hours=24)
# What each provider accepts in one text message.
TEXT_LIMITS = {Provider.TWILIO.value: 1600, Provider.META.value: 4096}
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
FAILED_STATES = {"failed", "undelivered"}


@dataclass(frozen=True)
class InboundMedia:
    filename: str
    content_type: str
    data: bytes | None  # None: not fetched (`note` says why)
    note: str = ""


@dataclass(frozen=True)
class InboundMessage:
    provider: Provider
    external_id: str
    address: str  # E.164
    profile_name: str
    body: str
    media: list[InboundMedia] = field(default_factory=list)
    remote_addr: str | None = None


@dataclass(frozen=True)
class Received:
    ticket_number: int | None
    message_id: int | None
    duplicate: bool
    new_ticket: bool = False


def e164(raw: str) -> str | None:
    """`whatsapp:+4915…`, `+49 151 …` or Meta's `4915…` -> `+4915…`; None if it is not a number."""
    value = (raw or "").strip()
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:") :]
    digits = re.sub(r"[\s().-]", "", value)
    if digits and not digits.startswith("+"):
        digits = "+" + digits
    return digits if _E164.match(digits) else None


def event_key(provider: Provider | str, kind: str, external_id: str, extra: str = "") -> str:
    key = f"{provider}:{kind}:{external_id}" + (f":{extra}" if extra else "")
    return key[:300]


def already_received(provider: Provider, external_id: str) -> bool:
    """A cheap look before fetching media: this message was stored already."""
    key = event_key(provider, "message", external_id)
    with session_scope() as session:
        return (
            session.execute(
                select(col(ChannelEvent.id)).where(col(ChannelEvent.external_key) == key)
            ).first()
            is not None
        )


def record_event(
    provider: Provider,
    kind: str,
    outcome: EventOutcome,
    reason: str,
    *,
    remote_addr: str | None = None,
    address: str | None = None,
) -> None:
    """A webhook the CRM did not act on (refused: bad signature; ignored), for the settings
    page's recent list and the operator."""
    with session_scope() as session:
        session.add(
            ChannelEvent(
                provider=provider.value,
                kind=kind,
                outcome=outcome.value,
                reason=reason[:2000],
                remote_addr=(remote_addr or "")[:64] or None,
                address=(address or "")[:320] or None,
            )
        )
    if outcome == EventOutcome.REFUSED:
        log.warning(
            "webhook refused",
            extra={"provider": provider.value, "reason": reason, "remote": remote_addr},
        )


# ---------------------------------------------------------------- inbound


def _claim_key(session: Session, message: InboundMessage) -> int | None:
    """The event row that makes this message ours; None: another delivery stored it."""
    return session.execute(
        insert(ChannelEvent)
        .values(
            provider=message.provider.value,
            kind="message",
            external_key=event_key(message.provider, "message", message.external_id),
            outcome=EventOutcome.ACCEPTED.value,
            address=message.address,
            remote_addr=(message.remote_addr or "")[:64] or None,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["external_key"])
        .returning(col(ChannelEvent.id))
    ).scalar_one_or_none()


def _client_for(session: Session, address: str, profile_name: str, now: datetime) -> Client:
    digits = address.lstrip("+")
    client = session.execute(
        select(Client)
        .where(
            col(Client.deleted_at).is_(None),
            col(Client.erased_at).is_(None),
            text(
                "(regexp_replace(coalesce(client.phone, ''), '[^0-9]', '', 'g') = :digits "
                "OR :digits IN (SELECT regexp_replace(p, '[^0-9]', '', 'g') "
                "FROM unnest(client.other_phones) AS p))"
            ).bindparams(digits=digits),
        )
        .order_by(col(Client.verified).desc(), col(Client.id))
        .limit(1)
    ).scalar_one_or_none()
    if client is not None and client.merged_into_id:
        client = session.get(Client, client.merged_into_id) or client
    if client is None:
        client = Client(
            name=(" ".join(profile_name.split()) or address)[:200],
            phone=address,
            verified=False,
            created_at=now,
            updated_at=now,
        )
        session.add(client)
        session.flush()
    return client


def _open_ticket_of(session: Session, client_id: int) -> Ticket | None:
    return session.execute(
        select(Ticket)
        .where(
            col(Ticket.client_id) == client_id,
            col(Ticket.channel) == CHANNEL,
            col(Ticket.status) != TicketStatus.CLOSED,
            col(Ticket.merged_into_id).is_(None),
        )
        .order_by(col(Ticket.id).desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()


def _body_with_notes(message: InboundMessage) -> str:
    notes = [media.note for media in message.media if media.data is None and media.note]
    body = "\n".join([message.body.strip(), *notes]).strip()
    if not body:
        body = "[media]" if message.media else "[empty message]"
    return body[:MAX_BODY]


def receive(message: InboundMessage) -> Received:
    """Store one inbound WhatsApp message on its ticket (see the module docstring).

    Side effects: maybe a new unverified client and a new ticket (round-robin assigned when on,
    SLA clocks started); the message and its media; audited as `ticket.created` or
    `ticket.message_added` by the system. After the commit: emits the matching events."""
    if _E164.match(message.address) is None:
        raise InvalidInput("That is not a phone number.")
    now = utcnow()
    with session_scope() as session:
        # One sender's messages are stored one at a time: two at once never open two tickets.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": "wa:" + message.address}
        )
        event_id = _claim_key(session, message)
        if event_id is None:
            return Received(None, None, duplicate=True)
        client = _client_for(session, message.address, message.profile_name, now)
        assert client.id is not None  # `_client_for` flushes a new client
        stored = intake.add_client_message(
            session,
            channel=CHANNEL,
            client=client,
            ticket=_open_ticket_of(session, client.id),
            subject=intake.subject_from(message.body, f"WhatsApp message from {client.name}"),
            body=_body_with_notes(message),
            now=now,
            external_id=message.external_id,
            media=[
                intake.MediaFile(m.filename, m.content_type, m.data)
                for m in message.media
                if m.data is not None
            ],
            audit_extra={"provider": message.provider.value, "from": message.address},
        )
        session.execute(
            update(ChannelEvent)
            .where(col(ChannelEvent.id) == event_id)
            .values(ticket_id=stored.ticket_id, message_id=stored.message_id)
        )
    intake.emit_client_message(stored)
    return Received(stored.number, stored.message_id, duplicate=False, new_ticket=stored.new_ticket)


# ---------------------------------------------------------------- delivery status


def record_status(
    provider: Provider,
    provider_message_id: str,
    state: str,
    error: str | None = None,
    *,
    remote_addr: str | None = None,
) -> bool:
    """The provider's word on a reply it was given (sent, delivered, read, failed,
    undelivered). False: not a message the CRM sent, or this status was recorded already.
    A failure marks the outbox row failed with the provider's reason (the agent sees it and
    may retry). After the commit: emits `message.delivery` (open views reload)."""
    state = (state or "").strip().lower()[:32]
    if not provider_message_id or not state:
        return False
    with session_scope() as session:
        key = event_key(provider, "status", provider_message_id, state)
        claimed = session.execute(
            insert(ChannelEvent)
            .values(
                provider=provider.value,
                kind="status",
                external_key=key,
                outcome=EventOutcome.ACCEPTED.value,
                reason=(f"{state}: {error}" if error else state)[:2000],
                remote_addr=(remote_addr or "")[:64] or None,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["external_key"])
            .returning(col(ChannelEvent.id))
        ).scalar_one_or_none()
        if claimed is None:
            return False
        outbound = session.execute(
            select(OutboundMessage)
            .where(
                col(OutboundMessage.provider_message_id) == provider_message_id,
                col(OutboundMessage.channel).in_((CHANNEL, Channel.WEB_CHAT.value)),
            )
            .with_for_update()
        ).scalar_one_or_none()
        if outbound is None:
            session.execute(
                update(ChannelEvent)
                .where(col(ChannelEvent.id) == claimed)
                .values(outcome=EventOutcome.IGNORED.value)
            )
            return False
        delivery = session.get(ChannelDelivery, provider_message_id)
        if delivery is None:
            delivery = ChannelDelivery(
                provider_message_id=provider_message_id,
                provider=provider.value,
                message_id=outbound.message_id,
            )
            session.add(delivery)
        delivery.state = state
        delivery.error = error[:2000] if error else None
        delivery.updated_at = utcnow()
        session.execute(
            update(ChannelEvent)
            .where(col(ChannelEvent.id) == claimed)
            .values(ticket_id=outbound.ticket_id, message_id=outbound.message_id)
        )
        if state in FAILED_STATES and outbound.status == OutboundStatus.SENT:
            outbound.status = OutboundStatus.FAILED
            outbound.last_error = f"WhatsApp says the message was {state}" + (
                f": {error}" if error else "."
            )
            outbound.updated_at = utcnow()
        ticket = session.get(Ticket, outbound.ticket_id)
        number, ticket_id, message_id = ticket.number, ticket.id, outbound.message_id
    events.emit(
        events.Event(
            "message.delivery",
            actor=None,
            ticket_id=ticket_id,
            number=number,
            payload={"message_id": message_id, "state": state},
        )
    )
    return True


# ---------------------------------------------------------------- replies


@dataclass(frozen=True)
class Conversation:
    provider: str
    address: str
    last_client_at: datetime | None

    def window_open(self, now: datetime | None = None) -> bool:
        return self.last_client_at is not None and (now or utcnow()) - self.last_client_at < WINDOW

    def window_closes_at(self) -> datetime | None:
        return self.last_client_at + WINDOW if self.last_client_at else None


def conversation(session: Session, ticket_id: int) -> Conversation | None:
    """Who the ticket's WhatsApp replies go to, through which provider, and when the client
    last wrote (the 24-hour window runs from then). None: no WhatsApp message on it."""
    row = session.execute(
        select(col(ChannelEvent.provider), col(ChannelEvent.address))
        .where(
            col(ChannelEvent.ticket_id) == ticket_id,
            col(ChannelEvent.kind) == "message",
            col(ChannelEvent.provider).in_((Provider.TWILIO.value, Provider.META.value)),
        )
        .order_by(col(ChannelEvent.id).desc())
        .limit(1)
    ).first()
    if row is None or not row.address:
        return None
    last = session.execute(
        select(func.max(col(TicketMessage.created_at))).where(
            col(TicketMessage.ticket_id) == ticket_id,
            col(TicketMessage.sender_kind) == SenderKind.CLIENT,
            col(TicketMessage.channel) == CHANNEL,
        )
    ).scalar_one_or_none()
    return Conversation(row.provider, row.address, last)


def window_note(conv: Conversation | None, now: datetime | None = None) -> str:
    """What the composer tells the agent about this WhatsApp ticket ("" when nothing)."""
    if conv is None:
        return (
            "This ticket has no WhatsApp number to answer: the client has not written on "
            "WhatsApp yet."
        )
    limit = TEXT_LIMITS.get(conv.provider, 1600)
    if conv.window_open(now):
        closes = conv.window_closes_at()
        return (
            f"WhatsApp: plain text, up to {limit:,} characters, no attachments. The 24-hour "
            f"window for free replies closes {closes:%Y-%m-%d %H:%M} UTC."
        )
    return (
        "The client last wrote more than 24 hours ago: WhatsApp only lets the business send "
        "an approved template message until the client writes again."
    )


def _has_attachments(session: Session, message_id: int) -> bool:
    return (
        session.execute(
            select(col(Attachment.id)).where(col(Attachment.message_id) == message_id)
        ).first()
        is not None
    )


def queue_delivery(
    session: Session,
    ticket: Ticket,
    message: TicketMessage,
    conv: Conversation,
    extra: dict[str, Any] | None = None,
) -> None:
    """The outbox row that delivers `message` to the conversation's number (`extra`: what a
    template message also needs)."""
    message.channel = CHANNEL
    assert ticket.id is not None and message.id is not None  # the reply action flushed both
    session.add(
        OutboundMessage(
            ticket_id=ticket.id,
            message_id=message.id,
            channel=CHANNEL,
            kind=OutboundKind.REPLY,
            recipient=conv.address,
            to_addrs=conv.address,
            headers={"provider": conv.provider, **(extra or {})},
            status=OutboundStatus.QUEUED,
        )
    )


def enqueue_whatsapp_reply(session: Session, ticket: Ticket, message: TicketMessage) -> None:
    """Queue an agent's reply on a WhatsApp ticket (inside the reply's transaction); refuses
    (nothing is saved) without a number, outside the 24-hour window, over the length limit or
    with attachments."""
    if message.is_internal:
        raise ValueError("internal notes are never sent")
    assert ticket.id is not None and message.id is not None  # the reply action flushed both
    conv = conversation(session, ticket.id)
    if conv is None or not conv.window_open():
        raise InvalidInput(window_note(conv) + " (nothing was saved)")
    limit = TEXT_LIMITS.get(conv.provider, 1600)
    if len(message.body_text) > limit:
        raise InvalidInput(
            f"A WhatsApp message may hold at most {limit:,} characters "
            f"(this one has {len(message.body_text):,}); nothing was saved."
        )
    if _has_attachments(session, message.id):
        raise InvalidInput(
            "WhatsApp replies carry text only here: send the file by email (nothing was saved)."
        )
    queue_delivery(session, ticket, message, conv)


def composer_note(number: int) -> str:
    """What the composer says on WhatsApp ticket `number` (limits, the 24-hour window)."""
    with session_scope() as session:
        ticket_id = session.execute(
            select(col(Ticket.id)).where(col(Ticket.number) == number)
        ).scalar_one_or_none()
        if ticket_id is None:
            return ""
        return window_note(conversation(session, ticket_id))


channels.register(CHANNEL, enqueue_whatsapp_reply, composer_note)
