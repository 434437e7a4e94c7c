"""Approved WhatsApp template messages on a ticket: what the composer offers (outside the
24-hour window it offers nothing else) and sending one.

Every call checks the staff permission, that the ticket is a WhatsApp ticket with a number to
answer, and that the template is one of the approved ones configured for the provider that
number wrote by: a template name or ContentSid the browser made up is refused, logged and
audited. The values of its variables are checked against the template (their number, length,
WhatsApp's rules on line breaks) before anything is saved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit, events, sla
from crm_app.services import request_receipts as receipts
from crm_app.services.errors import InvalidInput
from crm_app.services.messaging import config, templates, whatsapp
from crm_app.services.messaging.templates import Template
from crm_app.services.tickets.rows import load_for, touch
from models.base import utcnow
from models.messaging import Provider
from models.ticket import SenderKind, TicketMessage, TicketStatus

log = logging.getLogger(__name__)

MAX_KEY = 600  # a Meta name (512) and its language, or a ContentSid
NOT_APPROVED = "That is not one of the approved templates of this WhatsApp number."


@dataclass(frozen=True)
class TemplateOption:
    key: str  # Meta `name:language`, Twilio the ContentSid
    label: str
    body: str
    variable_count: int


@dataclass(frozen=True)
class ComposerTemplates:
    templates_only: bool  # the 24-hour window is closed: only a template may be sent
    provider: str
    templates: list[TemplateOption]


class _NotApproved(InvalidInput):
    pass


def approved(session: Session, provider: str) -> tuple[Template, ...]:
    """The approved templates of `provider` as configured now (page, else environment)."""
    if provider == Provider.TWILIO.value:
        return config.twilio(session).templates
    if provider == Provider.META.value:
        return config.meta(session).templates
    return ()


def composer_templates(actor: Actor, number: int) -> ComposerTemplates:
    """What the reply composer offers on ticket `number`: whether only templates may go out
    (a WhatsApp ticket past its window) and the provider's approved templates."""
    require(actor, Action.EDIT_TICKETS)
    with session_scope() as session:
        ticket = load_for(session, actor, number)
        assert ticket.id is not None  # a stored ticket
        conv = (
            whatsapp.conversation(session, ticket.id)
            if ticket.channel == whatsapp.CHANNEL
            else None
        )
        if conv is None:
            return ComposerTemplates(False, "", [])
        return ComposerTemplates(
            templates_only=not conv.window_open(),
            provider=conv.provider,
            templates=[
                TemplateOption(t.key, t.label, t.body, t.variable_count)
                for t in approved(session, conv.provider)
            ],
        )


def _record_refusal(actor: Actor, number: int, key: str) -> None:
    """A template the composer never offered: someone sent a made-up one."""
    log.warning(
        "whatsapp template refused",
        extra={"ticket": number, "template": key[:80], "user_id": actor.user_id},
    )
    with session_scope() as session:
        ticket = load_for(session, actor, number)
        audit.record(
            session,
            actor,
            "ticket.template_refused",
            "ticket",
            ticket.id,
            {"template": key[:80], "reason": "not an approved template"},
        )


def send_template(
    actor: Actor,
    number: int,
    template_key: str,
    values: Sequence[str] = (),
    *,
    request_key: str | None = None,
) -> int:
    """Send an approved template message with `values` for its `{{1}}`, `{{2}}` on WhatsApp
    ticket `number` (allowed in and outside the 24-hour window). Returns the message id.

    `request_key` (the composer's key for this choice) makes a repeated click harmless: a
    second call with the key of a message already saved writes nothing and returns it.
    Side effects: a staff message on the ticket (the template's text as filled in) and its
    outbox row (Meta: name, language and values; Twilio: ContentSid and values), the first
    response recorded, audited as `ticket.message_added`. After the commit: emits
    `message.added`. A template that is not approved is audited as `ticket.template_refused`."""
    require(actor, Action.EDIT_TICKETS)
    if not isinstance(template_key, str) or not template_key.strip():
        raise InvalidInput("Choose a template.")
    key = template_key.strip()
    if len(key) > MAX_KEY:
        _record_refusal(actor, number, key)
        raise InvalidInput(NOT_APPROVED)
    if request_key is not None and (
        not isinstance(request_key, str) or not 16 <= len(request_key) <= 64
    ):
        raise InvalidInput("That request was not understood.")
    try:
        return _send(actor, number, key, values, request_key)
    except _NotApproved:
        _record_refusal(actor, number, key)
        raise


def _send(actor: Actor, number: int, key: str, values: object, request_key: str | None) -> int:
    now = utcnow()
    with session_scope() as session:
        ticket = load_for(session, actor, number, lock=True)
        assert ticket.id is not None  # a stored ticket
        if ticket.channel != whatsapp.CHANNEL:
            raise InvalidInput("Templates are for WhatsApp tickets.")
        if ticket.merged_into_id is not None:
            raise InvalidInput("This ticket was merged into another one: reply there.")
        if request_key is not None:
            earlier = receipts.earlier_message(session, actor, request_key, ticket.id)
            if earlier is not None:
                return earlier.id
        conv = whatsapp.conversation(session, ticket.id)
        if conv is None:
            raise InvalidInput(whatsapp.window_note(None))
        template = next((t for t in approved(session, conv.provider) if t.key == key), None)
        if template is None:
            raise _NotApproved(NOT_APPROVED)
        filled = templates.checked_values(template, values)
        text = templates.render(template.body, filled, keep_blank=False)
        message = TicketMessage(
            ticket_id=ticket.id,
            sender_kind=SenderKind.AGENT,
            author_id=actor.user_id,
            body_text=f"[WhatsApp template “{template.label}”]" + (f"\n{text}" if text else ""),
            channel=whatsapp.CHANNEL,
            created_at=now,
        )
        session.add(message)
        touch(ticket, now)
        status_before = ticket.status
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
        if ticket.status == TicketStatus.NEW:
            ticket.status = TicketStatus.OPEN
        sla.on_ticket_event(session, ticket, now, status_before=status_before, message="staff")
        session.flush()
        assert message.id is not None  # flushed
        if request_key is not None:
            receipts.record(session, actor, request_key, message.id)
        delivery: dict[str, Any] = {
            "template": template.name,
            "language": template.language,
            "variables": list(filled),
        }
        if template.content_sid:
            delivery["content_sid"] = template.content_sid
        whatsapp.queue_delivery(session, ticket, message, conv, delivery)
        audit.record(
            session,
            actor,
            "ticket.message_added",
            "ticket",
            ticket.id,
            {
                "message_id": message.id,
                "template": template.key,
                "template_label": template.label,
                "delivery": f"queued ({whatsapp.CHANNEL})",
            },
        )
        event = events.stage(
            session,
            events.Event(
                "message.added",
                actor=actor,
                ticket_id=ticket.id,
                number=number,
                subject=ticket.subject,
                payload={
                    "message_id": message.id,
                    "internal": False,
                    "from_client": False,
                    "body": message.body_text,
                    "channel": whatsapp.CHANNEL,
                    "queued_for_delivery": True,
                    "assignee_id": ticket.assignee_id,
                    "client_name": "",
                },
            ),
        )
        message_id = message.id
    events.emit(event)
    return message_id
