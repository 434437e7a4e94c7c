"""The widget's side: a visitor starts a conversation, writes onto its ticket and reads staff
answers while the page polls. Rate limits, size caps and the honeypot apply here."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from crm_app.auth.permissions import Actor
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput, NotFound, RateLimited
from crm_app.services.mail.compose import valid_address
from crm_app.services.messaging import intake
from crm_app.services.messaging.web_chat import credentials
from crm_app.services.messaging.web_chat.rows import (
    _BOT_TOKEN,
    CHANNEL,
    ENDED_STATUSES,
    MAX_NAME,
    MAX_TEXT,
    PER_IP_PER_MINUTE,
    PER_VISITOR_PER_MINUTE,
    STARTS_PER_IP_PER_HOUR,
    Branding,
    ChatLine,
    ResumedChat,
    _hash,
    _open_ticket_id,
    _site,
    _visitor,
)
from crm_app.services.tickets.rows import fmt
from models.base import utcnow
from models.business_hours import BusinessCalendar
from models.client import Client
from models.messaging import ChannelEvent, ChatSite, ChatVisitor, EventOutcome, Provider
from models.ticket import SenderKind, Ticket, TicketMessage
from models.user import Role, User
from models.workspace import TicketPresence


def frame_ancestors(public_id: str) -> list[str]:
    """The origins that may frame this site's widget (none for an unknown site)."""
    with session_scope() as session:
        try:
            # A disabled site's listed origins still frame it, to say the chat is unavailable.
            return list(_site(session, public_id, disabled_too=True).allowed_origins or [])
        except NotFound:
            return []


def agents_available(session: Session) -> bool:
    """Someone can answer now: the default business calendar is open (or none is set) and an
    agent is marked available or has a ticket open in the workspace."""
    calendar = session.execute(
        select(BusinessCalendar).order_by(col(BusinessCalendar.is_default).desc()).limit(1)
    ).scalar_one_or_none()
    if calendar is not None:
        from crm_app.services.business_hours import Calendar

        try:
            open_now = Calendar.from_config(
                calendar.time_zone, calendar.hours, calendar.holidays
            ).is_open(utcnow())
        except (InvalidInput, ValueError):
            open_now = True
        if not open_now:
            return False
    marked = session.execute(
        select(col(User.id))
        .where(
            col(User.role) == Role.AGENT,
            col(User.is_active).is_(True),
            col(User.is_available).is_(True),
        )
        .limit(1)
    ).first()
    if marked is not None:
        return True
    recent = utcnow() - timedelta(minutes=10)
    return (
        session.execute(
            select(col(TicketPresence.user_id)).where(col(TicketPresence.seen_at) > recent).limit(1)
        ).first()
        is not None
    )


def branding(public_id: str) -> Branding:
    """What the widget shows before anyone writes (for a disabled site: that it is off)."""
    with session_scope() as session:
        site = _site(session, public_id, disabled_too=True)
        from crm_app.settings import get_settings

        return Branding(
            public_id=site.public_id,
            brand_name=site.brand_name or get_settings().firm_name,
            colour=site.colour,
            greeting=site.greeting or "Hello! How can we help you today?",
            office_hours=site.office_hours,
            agents_available=site.enabled and agents_available(session),
            enabled=site.enabled,
        )


def _count_since(session: Session, *, minutes: int, **where: object) -> int:
    query = (
        select(func.count())
        .select_from(ChannelEvent)
        .where(
            col(ChannelEvent.provider) == Provider.WEB_CHAT.value,
            col(ChannelEvent.created_at) > utcnow() - timedelta(minutes=minutes),
        )
    )
    for name, value in where.items():
        query = query.where(getattr(ChannelEvent, name) == value)
    return session.execute(query).scalar_one()


def _note_event(
    session: Session,
    kind: str,
    remote_addr: str | None,
    address: str,
    *,
    ticket_id: int | None = None,
    message_id: int | None = None,
) -> None:
    session.add(
        ChannelEvent(
            provider=Provider.WEB_CHAT.value,
            kind=kind,
            outcome=EventOutcome.ACCEPTED.value,
            address=address[:320],
            remote_addr=(remote_addr or "")[:64] or None,
            ticket_id=ticket_id,
            message_id=message_id,
        )
    )


def _client_for_email(session: Session, name: str, email: str) -> Client:
    client = session.execute(
        select(Client)
        .where(
            func.lower(col(Client.email)) == email.lower(),
            col(Client.deleted_at).is_(None),
            col(Client.erased_at).is_(None),
        )
        .order_by(col(Client.verified).desc(), col(Client.id))
        .limit(1)
    ).scalar_one_or_none()
    if client is not None and client.merged_into_id:
        client = session.get(Client, client.merged_into_id) or client
    if client is None:
        now = utcnow()
        client = Client(name=name, email=email, verified=False, created_at=now, updated_at=now)
        session.add(client)
        session.flush()
    return client


def _clean_person(name: str, email: str) -> tuple[str, str]:
    name = " ".join((name or "").split())
    email = (email or "").strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput("Tell us your name (up to 200 characters).")
    if len(email) > 320 or not valid_address(email):
        raise InvalidInput("Give an email address we can answer you at.")
    return name, email


def _open_visitor(
    session: Session,
    site: ChatSite,
    name: str,
    email: str,
    remote_addr: str | None,
    *,
    client: Client | None = None,
    portal_user_id: int | None = None,
) -> tuple[ChatVisitor, str]:
    """A new visitor and their credential; `client` and `portal_user_id` for one signed in to
    the portal (else the client is found, or made, by the address given)."""
    if remote_addr and (
        _count_since(session, minutes=60, kind="start", remote_addr=remote_addr[:64])
        >= STARTS_PER_IP_PER_HOUR
    ):
        raise RateLimited("Too many chats from your network just now: please try again later.")
    client = client or _client_for_email(session, name, email)
    secret = credentials.new_secret()
    assert site.id is not None  # a stored site
    visitor = ChatVisitor(
        site_id=site.id,
        token_hash=_hash(secret),
        name=name,
        email=email,
        client_id=client.id,
        portal_user_id=portal_user_id,
        remote_addr=(remote_addr or "")[:64] or None,
    )
    session.add(visitor)
    session.flush()
    _note_event(session, "start", remote_addr, f"visitor:{visitor.id}")
    return visitor, credentials.issue(site.public_id, secret, utcnow())


def renewed(site: ChatSite, credential: str) -> str:
    """The same visitor's credential, valid for another `credentials.VALID_FOR` from now."""
    found = credentials.verify(site.public_id, credential, utcnow())
    return credentials.issue(site.public_id, found.secret, utcnow())


def start(
    public_id: str, name: str, email: str, *, honeypot: str = "", remote_addr: str | None = None
) -> str:
    """A visitor opens a conversation; returns their credential (the widget keeps it in the
    browser). A filled honeypot gets one that leads nowhere."""
    name, email = _clean_person(name, email)
    if honeypot:
        return _BOT_TOKEN + secrets.token_urlsafe(24)  # a bot: looks fine, stores nothing
    with session_scope() as session:
        site = _site(session, public_id)
        _, credential = _open_visitor(session, site, name, email, remote_addr)
    return credential


def _clean_text(body: str) -> str:
    body = (body or "").replace("\x00", "").strip()
    if not body:
        raise InvalidInput("Write a message first.")
    if len(body) > MAX_TEXT:
        raise InvalidInput(f"A chat message holds up to {MAX_TEXT:,} characters.")
    return body


def _post(
    session: Session, site: ChatSite, visitor: ChatVisitor, body: str, remote_addr: str | None
) -> intake.StoredMessage:
    if _count_since(session, minutes=1, kind="message", address=f"visitor:{visitor.id}") >= (
        PER_VISITOR_PER_MINUTE
    ):
        raise RateLimited("You are writing very fast: wait a moment, then send again.")
    if remote_addr and (
        _count_since(session, minutes=1, kind="message", remote_addr=remote_addr[:64])
        >= PER_IP_PER_MINUTE
    ):
        raise RateLimited("Too many messages from your network: wait a moment.")
    now = utcnow()
    client = session.get(Client, visitor.client_id) if visitor.client_id else None
    if client is None:
        client = _client_for_email(session, visitor.name, visitor.email)
        visitor.client_id = client.id
    ticket = None
    if visitor.ticket_id:
        ticket = session.execute(
            select(Ticket).where(col(Ticket.id) == visitor.ticket_id).with_for_update()
        ).scalar_one_or_none()
        if ticket is not None and (
            ticket.status in ENDED_STATUSES or ticket.merged_into_id is not None
        ):
            ticket = None  # a solved or closed chat is over: this message starts a new one
    stored = intake.add_client_message(
        session,
        channel=CHANNEL,
        client=client,
        ticket=ticket,
        subject=intake.subject_from(body, f"Chat with {visitor.name}"),
        body=body,
        now=now,
        audit_extra={"site": site.name, "from": visitor.email},
    )
    visitor.ticket_id = stored.ticket_id
    visitor.last_seen_at = now
    visitor.typing_at = None
    _note_event(
        session,
        "message",
        remote_addr,
        f"visitor:{visitor.id}",
        ticket_id=stored.ticket_id,
        message_id=stored.message_id,
    )
    return stored


def post_message(
    public_id: str,
    credential: str,
    body: str,
    *,
    honeypot: str = "",
    remote_addr: str | None = None,
    actor: Actor | None = None,
) -> int | None:
    """The visitor's message onto their conversation's ticket (a new ticket for the first one,
    or after it was closed); returns the ticket number (None for a honeypot hit).

    Side effects: as any client message (unread, SLA, audit); after the commit the queue and
    open ticket views hear of it (`message.added`)."""
    body = _clean_text(body)
    if honeypot or credential.startswith(_BOT_TOKEN):
        return None
    with session_scope() as session:
        site = _site(session, public_id)
        visitor = _visitor(session, site, credential, actor=actor, lock=True)
        stored = _post(session, site, visitor, body, remote_addr)
    intake.emit_client_message(stored)
    return stored.number


def _lines(session: Session, visitor: ChatVisitor) -> list[ChatLine]:
    ticket_id = _open_ticket_id(session, visitor)
    if ticket_id is None:
        return []
    rows = session.execute(
        select(
            col(TicketMessage.id),
            col(TicketMessage.sender_kind),
            col(TicketMessage.body_text),
            col(TicketMessage.created_at),
            col(User.name),
        )
        .outerjoin(User, col(User.id) == col(TicketMessage.author_id))
        .where(
            col(TicketMessage.ticket_id) == ticket_id,
            col(TicketMessage.is_internal).is_(False),
            col(TicketMessage.sender_kind) != SenderKind.SYSTEM,
        )
        .order_by(col(TicketMessage.created_at), col(TicketMessage.id))
        .limit(500)
    ).all()
    return [
        ChatLine(
            id=row.id,
            from_visitor=row.sender_kind == SenderKind.CLIENT,
            author=visitor.name
            if row.sender_kind == SenderKind.CLIENT
            else (row.name or "Support").split()[0],
            text=row.body_text,
            at=fmt(row.created_at),
        )
        for row in rows
    ]


def lines(public_id: str, credential: str, actor: Actor | None = None) -> list[ChatLine]:
    """The conversation as the visitor sees it: their messages and staff replies, never
    internal notes; nothing once it was solved or closed. Also counts as a heartbeat (they are
    on the page)."""
    with session_scope() as session:
        site = _site(session, public_id)
        visitor = _visitor(session, site, credential, actor=actor)
        visitor.last_seen_at = utcnow()
        return _lines(session, visitor)


def resume(public_id: str, credential: str, actor: Actor | None = None) -> ResumedChat:
    """A visitor back on the widget (a reload, the page opened again): their conversation and
    a renewed credential. PermissionDenied when the credential is not good for this site."""
    with session_scope() as session:
        site = _site(session, public_id)
        visitor = _visitor(session, site, credential, actor=actor)
        visitor.last_seen_at = utcnow()
        return ResumedChat(renewed(site, credential), visitor.name, _lines(session, visitor))


def heartbeat(
    public_id: str, credential: str, *, typing: bool = False, actor: Actor | None = None
) -> None:
    """The widget is open (and the visitor is typing, when `typing`)."""
    with session_scope() as session:
        site = _site(session, public_id)
        visitor = _visitor(session, site, credential, actor=actor)
        now = utcnow()
        visitor.last_seen_at = now
        visitor.typing_at = now if typing else visitor.typing_at
