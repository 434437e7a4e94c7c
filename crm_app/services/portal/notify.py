"""Who hears about portal traffic, after the commit (subscribers of `crm_app.services.events`):

- a client's comment: the assigned agent gets an email beside the in-app notification that
  `notifications` writes; with nobody assigned, the available agents (the queue) are told in
  the app;
- an agent's public reply on a portal ticket: the client gets an email with a link back to
  the ticket, unless they turned such mail off. Internal notes never notify the client, and
  tickets of other channels are left to that channel (an email ticket's reply is the mail).

A client's preference (email on/off) is kept per client record.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlmodel import col

from crm_app import routes
from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit, events, notifications, system_mail
from crm_app.services.portal.requests import own_client
from crm_app.services.staff import ASSIGNABLE_ROLES
from crm_app.settings import get_settings
from models.base import utcnow
from models.client import Client
from models.portal import PortalPreference
from models.ticket import Channel, Ticket
from models.user import User

log = logging.getLogger(__name__)
QUEUE_LIMIT = 50


def email_on_reply(actor: Actor) -> bool:
    """The client's own preference (on unless they turned it off)."""
    require(actor, Action.USE_PORTAL)
    with session_scope() as session:
        client = own_client(session, actor)
        preference = session.get(PortalPreference, client.id)
        return preference.email_on_reply if preference else True


def set_email_on_reply(actor: Actor, enabled: bool) -> bool:
    """Turn reply emails on or off for the client's own record. Audited."""
    require(actor, Action.USE_PORTAL)
    enabled = bool(enabled)
    with session_scope() as session:
        client = own_client(session, actor)
        preference = session.get(PortalPreference, client.id, with_for_update=True)
        before = preference.email_on_reply if preference else True
        if preference is None:
            assert client.id is not None  # a stored client
            preference = PortalPreference(client_id=client.id)
            session.add(preference)
        preference.email_on_reply, preference.updated_at = enabled, utcnow()
        if before != enabled:
            audit.record(
                session,
                actor,
                "client.portal_preference_changed",
                "client",
                client.id,
                {"email_on_reply": [before, enabled]},
            )
    return enabled


def _link(path: str) -> str:
    return f"{get_settings().public_url}{path}"


def _queue() -> list[int]:
    """The available staff who pick up unassigned tickets."""
    with session_scope() as session:
        return list(
            session.scalars(
                select(col(User.id))
                .where(
                    col(User.is_active).is_(True),
                    col(User.is_available).is_(True),
                    col(User.role).in_(ASSIGNABLE_ROLES),
                )
                .order_by(col(User.id))
                .limit(QUEUE_LIMIT)
            )
        )


@events.subscriber("ticket.created")
def tell_the_queue_about_a_new_portal_request(event: events.Event) -> None:
    """A request a client opened that round-robin gave nobody: the queue hears of it."""
    if (
        event.payload.get("channel") == Channel.PORTAL.value
        and event.payload.get("assignee_id") is None
        and event.ticket_id is not None
        and event.number is not None
    ):
        notifications.deliver_client_replied(
            _queue(),
            ticket_id=event.ticket_id,
            number=event.number,
            subject=event.subject,
            client_name=event.actor.name if event.actor else "",
            unassigned=True,
            new_request=True,
        )


def _tell_staff_about_client_comment(event: events.Event) -> None:
    assert event.ticket_id is not None and event.number is not None
    assignee_id = event.payload.get("assignee_id")
    firm = get_settings().firm_name
    client_name = event.payload.get("client_name") or "The client"
    if assignee_id is None:
        queue = _queue()
        notifications.deliver_client_replied(
            queue,
            ticket_id=event.ticket_id,
            number=event.number,
            subject=event.subject,
            client_name=client_name,
            unassigned=True,
        )
        return
    with session_scope() as session:
        assignee = session.get(User, assignee_id)
        address = assignee.email if assignee and assignee.is_active else None
    if address:
        system_mail.queue(
            system_mail.SystemMail(
                to=address,
                subject=f"[#{event.number}] {client_name} answered: {event.subject[:120]}",
                body=f"{client_name} wrote on ticket #{event.number} in the {firm} portal.\n\n"
                f"Open it: {_link(routes.ticket(event.number))}\n",
            )
        )


def _tell_client_about_reply(event: events.Event) -> None:
    assert event.ticket_id is not None and event.number is not None
    with session_scope() as session:
        row = session.execute(
            select(
                col(Ticket.channel),
                col(User.email),
                col(User.is_active),
                col(PortalPreference.email_on_reply),
            )
            .join(Client, col(Client.id) == col(Ticket.client_id))
            .join(User, col(User.id) == col(Client.portal_user_id))
            .outerjoin(PortalPreference, col(PortalPreference.client_id) == col(Client.id))
            .where(col(Ticket.id) == event.ticket_id)
        ).first()
    # Only portal tickets: an email ticket's reply reaches the client as the mail itself.
    if row is None or row.channel != Channel.PORTAL.value or not row.is_active:
        return
    if row.email_on_reply is False:
        return
    firm = get_settings().firm_name
    # The reply itself stays in the portal: mail is not where a firm's answers should live.
    system_mail.queue(
        system_mail.SystemMail(
            to=row.email,
            subject=f"[#{event.number}] New answer on your request: {event.subject[:120]}",
            body=f"Hello,\n\n{firm} answered your request #{event.number} "
            f"“{event.subject[:200]}”.\n\nRead it and reply in your portal:\n"
            f"{_link(routes.portal_ticket(event.number))}\n\nYou can turn these messages off "
            f"in the portal's settings.\n",
        )
    )


@events.subscriber("message.added")
def tell_about_portal_message(event: events.Event) -> None:
    if event.ticket_id is None or event.number is None or event.payload.get("internal"):
        return
    if event.payload.get("from_client"):
        if event.payload.get("via") == Channel.PORTAL.value:
            _tell_staff_about_client_comment(event)
    else:
        _tell_client_about_reply(event)
