"""The web chat: a widget page the firm embeds on its website (`/chat/<site>`), and
`POST /api/chat/messages` for other front ends (with the site's key).

- A manager creates a site (`create_site`): its branding, the origins allowed to frame the
  widget, and a key shown once (only its hash is kept).
- A visitor gives name and email (`start`: an unverified client is created for an unknown
  address), writes (`post_message`: the conversation is a ticket with channel `web_chat`)
  and sees staff answers (`lines`) while the page polls; `heartbeat` says they are still on
  the page, and whether they are typing (`visitor_status` tells the agent).
- An agent's reply (`enqueue_web_chat_reply`, registered in `services.channels`) is shown in
  the widget when the visitor is on the page, and goes out by email when they are not.
- Abuse: messages per IP and per visitor per minute are limited, sizes are capped, a filled
  honeypot field is accepted and dropped, text is stored and shown as text (never HTML).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TypedDict
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit, channels
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied, RateLimited
from crm_app.services.mail import outbox as mail_outbox
from crm_app.services.mail.compose import valid_address
from crm_app.services.messaging import intake
from crm_app.services.tickets.rows import fmt
from models.base import utcnow
from models.business_hours import BusinessCalendar
from models.client import Client
from models.messaging import ChannelEvent, ChatSite, ChatVisitor, EventOutcome, Provider
from models.outbox import OutboundKind, OutboundMessage, OutboundStatus
from models.ticket import Channel, SenderKind, Ticket, TicketMessage, TicketStatus
from models.user import Role, User
from models.workspace import TicketPresence

CHANNEL = Channel.WEB_CHAT.value
MAX_TEXT = 2000
MAX_NAME = 200
# A visitor counts as on the page this long after the widget's last heartbeat.
ON_PAGE = timedelta(seconds=45)
TYPING = timedelta(seconds=6)
PER_VISITOR_PER_MINUTE = 10
PER_IP_PER_MINUTE = 30
STARTS_PER_IP_PER_HOUR = 20
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
KEY_PREFIX = "wck_"
# Starts the token a filled honeypot gets: "." never occurs in a real (URL-safe) token.
_BOT_TOKEN = "hp."


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# ---------------------------------------------------------------- sites (managers)


@dataclass(frozen=True)
class SiteRow:
    id: int
    public_id: str
    name: str
    key_hint: str
    allowed_origins: list[str]
    brand_name: str
    colour: str
    greeting: str
    office_hours: str
    enabled: bool


@dataclass(frozen=True)
class CreatedSite:
    site: SiteRow
    key: str  # shown once


def _row(site: ChatSite) -> SiteRow:
    assert site.id is not None  # a stored site
    return SiteRow(
        id=site.id,
        public_id=site.public_id,
        name=site.name,
        key_hint=site.key_hint,
        allowed_origins=list(site.allowed_origins or []),
        brand_name=site.brand_name,
        colour=site.colour,
        greeting=site.greeting,
        office_hours=site.office_hours,
        enabled=site.enabled,
    )


def clean_origins(raw: str | list[str]) -> list[str]:
    """`https://www.firm.example` per line or comma: scheme and host (and port) only."""
    parts = raw if isinstance(raw, list) else re.split(r"[\s,]+", raw or "")
    origins: list[str] = []
    for part in parts:
        part = part.strip().rstrip("/")
        if not part:
            continue
        split = urlsplit(part)
        if split.scheme not in ("https", "http") or not split.hostname or split.path:
            raise InvalidInput(f"“{part[:80]}” is not an origin like https://www.firm.example.")
        if split.query or split.fragment or split.username:
            raise InvalidInput(f"“{part[:80]}” is not an origin like https://www.firm.example.")
        origins.append(f"{split.scheme}://{split.netloc.lower()}")
    if len(origins) > 20:
        raise InvalidInput("List at most 20 origins.")
    return list(dict.fromkeys(origins))


class _Branding(TypedDict):
    name: str
    brand_name: str
    colour: str
    greeting: str
    office_hours: str


def _clean_branding(
    name: str, brand_name: str, colour: str, greeting: str, office_hours: str
) -> _Branding:
    name = " ".join((name or "").split())
    if not name or len(name) > 120:
        raise InvalidInput("Give the site a name (up to 120 characters).")
    colour = (colour or "").strip() or "#0d9488"
    if not _COLOUR.match(colour):
        raise InvalidInput("The colour is a hex colour like #0d9488.")
    if len(greeting or "") > 500 or len(office_hours or "") > 500:
        raise InvalidInput("The greeting and the office hours text hold up to 500 characters.")
    return {
        "name": name,
        "brand_name": " ".join((brand_name or "").split())[:120],
        "colour": colour.lower(),
        "greeting": (greeting or "").strip(),
        "office_hours": (office_hours or "").strip(),
    }


def create_site(
    actor: Actor,
    *,
    name: str,
    allowed_origins: str | list[str] = "",
    brand_name: str = "",
    colour: str = "",
    greeting: str = "",
    office_hours: str = "",
) -> CreatedSite:
    """A new chat site and its key (shown once). Audited as `chat_site.created`."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    values = _clean_branding(name, brand_name, colour, greeting, office_hours)
    origins = clean_origins(allowed_origins)
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    with session_scope() as session:
        site = ChatSite(
            public_id=secrets.token_urlsafe(12),
            key_hash=_hash(key),
            key_hint=key[:8],
            allowed_origins=origins,
            **values,
        )
        session.add(site)
        session.flush()
        audit.record(
            session,
            actor,
            "chat_site.created",
            "chat_site",
            site.id,
            {"name": site.name, "allowed_origins": origins},
        )
        return CreatedSite(_row(site), key)


def update_site(
    actor: Actor,
    site_id: int,
    *,
    name: str,
    allowed_origins: str | list[str],
    brand_name: str,
    colour: str,
    greeting: str,
    office_hours: str,
    enabled: bool,
) -> SiteRow:
    """Change a site's branding, origins or state. Audited as `chat_site.updated`."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    values = _clean_branding(name, brand_name, colour, greeting, office_hours)
    origins = clean_origins(allowed_origins)
    with session_scope() as session:
        site = session.get(ChatSite, site_id)
        if site is None:
            raise NotFound("There is no such chat site.")
        for field_name, value in values.items():
            setattr(site, field_name, value)
        site.allowed_origins = origins
        site.enabled = bool(enabled)
        site.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "chat_site.updated",
            "chat_site",
            site.id,
            {"name": site.name, "allowed_origins": origins, "enabled": site.enabled},
        )
        return _row(site)


def rotate_key(actor: Actor, site_id: int) -> str:
    """A new key for the site (the old one stops working at once). Audited."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    with session_scope() as session:
        site = session.get(ChatSite, site_id)
        if site is None:
            raise NotFound("There is no such chat site.")
        site.key_hash, site.key_hint, site.updated_at = _hash(key), key[:8], utcnow()
        audit.record(session, actor, "chat_site.key_rotated", "chat_site", site.id, {})
    return key


def list_sites(actor: Actor) -> list[SiteRow]:
    require(actor, Action.MANAGE_INTEGRATIONS)
    with session_scope() as session:
        return [_row(site) for site in session.scalars(select(ChatSite).order_by(col(ChatSite.id)))]


def embed_snippet(public_id: str, public_url: str) -> str:
    """The one snippet a site pastes into its pages."""
    return (
        f'<iframe src="{public_url.rstrip("/")}/chat/{public_id}" title="Chat with us" '
        'style="position:fixed;bottom:16px;right:16px;width:370px;height:560px;border:0;'
        'border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.2);z-index:2147483000" '
        'allow="clipboard-write"></iframe>'
    )


def loader_snippet(public_id: str, public_url: str) -> str:
    """The other snippet: a script adding a "Chat with us" button that opens the chat in a
    window of its own (for browsers that refuse storage to framed pages)."""
    return (
        f'<script src="{public_url.rstrip("/")}/api/chat/loader.js?site={public_id}" '
        "async></script>"
    )


def loader_script(brand: Branding, public_url: str) -> str:
    """The loader's JavaScript (values JSON-encoded: nothing from settings runs as code)."""
    url = json.dumps(f"{public_url.rstrip('/')}/chat/{brand.public_id}")
    colour = json.dumps(brand.colour if _COLOUR.match(brand.colour) else "#0d9488")
    label = json.dumps(f"Chat with {brand.brand_name}"[:80])
    return (
        "(function(){var b=document.createElement('button');b.type='button';"
        f"b.textContent={label};b.id='crm-chat-open';"
        "b.style.cssText='position:fixed;bottom:20px;right:20px;z-index:2147483000;"
        "padding:12px 18px;border:0;border-radius:24px;color:#fff;font:600 14px system-ui;"
        "cursor:pointer;box-shadow:0 4px 16px rgba(0,0,0,.25)';"
        f"b.style.background={colour};"
        f"b.onclick=function(){{window.open({url},'crm-chat','width=400,height=640');}};"
        "(document.body||document.documentElement).appendChild(b);})();"
    )


# ---------------------------------------------------------------- the widget (visitors)


@dataclass(frozen=True)
class Branding:
    public_id: str
    brand_name: str
    colour: str
    greeting: str
    office_hours: str
    agents_available: bool


@dataclass(frozen=True)
class ChatLine:
    id: int
    from_visitor: bool
    author: str
    text: str
    at: str


@dataclass(frozen=True)
class VisitorStatus:
    name: str
    email: str
    on_page: bool
    typing: bool
    last_seen: str


def _site(session: Session, public_id: str) -> ChatSite:
    if not isinstance(public_id, str) or not 1 <= len(public_id) <= 32:
        raise NotFound("There is no such chat.")
    site = session.execute(
        select(ChatSite).where(
            col(ChatSite.public_id) == public_id, col(ChatSite.enabled).is_(True)
        )
    ).scalar_one_or_none()
    if site is None:
        raise NotFound("There is no such chat.")
    return site


def frame_ancestors(public_id: str) -> list[str]:
    """The origins that may frame this site's widget (none for an unknown site)."""
    with session_scope() as session:
        try:
            return list(_site(session, public_id).allowed_origins or [])
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
    """What the widget shows before anyone writes."""
    with session_scope() as session:
        site = _site(session, public_id)
        from crm_app.settings import get_settings

        return Branding(
            public_id=site.public_id,
            brand_name=site.brand_name or get_settings().firm_name,
            colour=site.colour,
            greeting=site.greeting or "Hello! How can we help you today?",
            office_hours=site.office_hours,
            agents_available=agents_available(session),
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
    session: Session, site: ChatSite, name: str, email: str, remote_addr: str | None
) -> tuple[ChatVisitor, str]:
    if remote_addr and (
        _count_since(session, minutes=60, kind="start", remote_addr=remote_addr[:64])
        >= STARTS_PER_IP_PER_HOUR
    ):
        raise RateLimited("Too many chats from your network just now: please try again later.")
    client = _client_for_email(session, name, email)
    token = secrets.token_urlsafe(24)
    assert site.id is not None  # a stored site
    visitor = ChatVisitor(
        site_id=site.id,
        token_hash=_hash(token),
        name=name,
        email=email,
        client_id=client.id,
        remote_addr=(remote_addr or "")[:64] or None,
    )
    session.add(visitor)
    session.flush()
    _note_event(session, "start", remote_addr, f"visitor:{visitor.id}")
    return visitor, token


def start(
    public_id: str, name: str, email: str, *, honeypot: str = "", remote_addr: str | None = None
) -> str:
    """A visitor opens a conversation; returns their token (the widget keeps it). A filled
    honeypot gets a token that leads nowhere."""
    name, email = _clean_person(name, email)
    if honeypot:
        return _BOT_TOKEN + secrets.token_urlsafe(24)  # a bot: looks fine, stores nothing
    with session_scope() as session:
        site = _site(session, public_id)
        _, token = _open_visitor(session, site, name, email, remote_addr)
    return token


def _visitor(session: Session, site: ChatSite, token: str, *, lock: bool = False) -> ChatVisitor:
    if not isinstance(token, str) or not 10 <= len(token) <= 100:
        raise PermissionDenied("This chat has ended: start a new one.")
    query = select(ChatVisitor).where(
        col(ChatVisitor.token_hash) == _hash(token), col(ChatVisitor.site_id) == site.id
    )
    visitor = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if visitor is None:
        raise PermissionDenied("This chat has ended: start a new one.")
    return visitor


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
            ticket.status == TicketStatus.CLOSED or ticket.merged_into_id is not None
        ):
            ticket = None
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
    token: str,
    body: str,
    *,
    honeypot: str = "",
    remote_addr: str | None = None,
) -> int | None:
    """The visitor's message onto their conversation's ticket (a new ticket for the first one,
    or after it was closed); returns the ticket number (None for a honeypot hit).

    Side effects: as any client message (unread, SLA, audit); after the commit the queue and
    open ticket views hear of it (`message.added`)."""
    body = _clean_text(body)
    if honeypot or token.startswith(_BOT_TOKEN):
        return None
    with session_scope() as session:
        site = _site(session, public_id)
        visitor = _visitor(session, site, token, lock=True)
        stored = _post(session, site, visitor, body, remote_addr)
    intake.emit_client_message(stored)
    return stored.number


def lines(public_id: str, token: str) -> list[ChatLine]:
    """The conversation as the visitor sees it: their messages and staff replies, never
    internal notes. Also counts as a heartbeat (they are on the page)."""
    with session_scope() as session:
        site = _site(session, public_id)
        visitor = _visitor(session, site, token)
        visitor.last_seen_at = utcnow()
        if not visitor.ticket_id:
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
                col(TicketMessage.ticket_id) == visitor.ticket_id,
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


def heartbeat(public_id: str, token: str, *, typing: bool = False) -> None:
    """The widget is open (and the visitor is typing, when `typing`)."""
    with session_scope() as session:
        site = _site(session, public_id)
        visitor = _visitor(session, site, token)
        now = utcnow()
        visitor.last_seen_at = now
        visitor.typing_at = now if typing else visitor.typing_at


def _visitor_of_ticket(session: Session, number: int) -> ChatVisitor | None:
    """The visitor whose chat ticket `number` is (the latest one seen, if several)."""
    return session.execute(
        select(ChatVisitor)
        .join(Ticket, col(Ticket.id) == col(ChatVisitor.ticket_id))
        .where(col(Ticket.number) == number)
        .order_by(col(ChatVisitor.last_seen_at).desc())
        .limit(1)
    ).scalar_one_or_none()


def visitor_status(actor: Actor, number: int) -> VisitorStatus | None:
    """For the agent on a web chat ticket: is the visitor still on the page, typing?"""
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        visitor = _visitor_of_ticket(session, number)
        if visitor is None:
            return None
        now = utcnow()
        on_page = now - visitor.last_seen_at < ON_PAGE
        return VisitorStatus(
            name=visitor.name,
            email=visitor.email,
            on_page=on_page,
            typing=on_page and visitor.typing_at is not None and now - visitor.typing_at < TYPING,
            last_seen=fmt(visitor.last_seen_at),
        )


def presence_text(actor: Actor, number: int) -> str:
    """The agent's line about a web chat's visitor ("" when the ticket is no chat)."""
    status = visitor_status(actor, number)
    if status is None:
        return ""
    if status.typing:
        return f"{status.name} is typing…"
    if status.on_page:
        return f"{status.name} is in the chat"
    return f"{status.name} left the chat (last seen {status.last_seen})"


# ---------------------------------------------------------------- other front ends (API)


@dataclass(frozen=True)
class ApiPosted:
    visitor_token: str
    ticket_number: int | None


def site_for_key(key: str) -> int:
    """The site a key belongs to (PermissionDenied for no or a wrong key)."""
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > 100:
        raise PermissionDenied("A valid chat site key is needed.")
    with session_scope() as session:
        site_id = session.execute(
            select(col(ChatSite.id)).where(
                col(ChatSite.key_hash) == _hash(key), col(ChatSite.enabled).is_(True)
            )
        ).scalar_one_or_none()
    if site_id is None:
        raise PermissionDenied("A valid chat site key is needed.")
    return site_id


def api_post(
    key: str,
    *,
    name: str,
    email: str,
    body: str,
    visitor_token: str | None = None,
    honeypot: str = "",
    remote_addr: str | None = None,
) -> ApiPosted:
    """A chat message from another front end (the seed system): the same rules as the widget;
    without a visitor token a new conversation starts and its token is returned."""
    site_id = site_for_key(key)
    body = _clean_text(body)
    if honeypot:
        return ApiPosted(_BOT_TOKEN + secrets.token_urlsafe(24), None)
    with session_scope() as session:
        site = session.get(ChatSite, site_id)
        assert site is not None  # `site_for_key` just found it
        if visitor_token:
            visitor = _visitor(session, site, visitor_token, lock=True)
            token = visitor_token
        else:
            name, email = _clean_person(name, email)
            visitor, token = _open_visitor(session, site, name, email, remote_addr)
        stored = _post(session, site, visitor, body, remote_addr)
    intake.emit_client_message(stored)
    return ApiPosted(token, stored.number)


# ---------------------------------------------------------------- agents' replies


def enqueue_web_chat_reply(session: Session, ticket: Ticket, message: TicketMessage) -> None:
    """An agent's reply on a web chat ticket: shown in the widget when the visitor is on the
    page (recorded as sent), else queued by email to the address they gave."""
    if message.is_internal:
        raise ValueError("internal notes are never sent")
    if len(message.body_text) > MAX_TEXT * 5:
        raise InvalidInput("A chat reply holds up to 10,000 characters (nothing was saved).")
    visitor = session.execute(
        select(ChatVisitor)
        .where(col(ChatVisitor.ticket_id) == ticket.id)
        .order_by(col(ChatVisitor.last_seen_at).desc())
        .limit(1)
    ).scalar_one_or_none()
    now = utcnow()
    if visitor is not None and now - visitor.last_seen_at < ON_PAGE:
        message.channel = CHANNEL
        session.add(
            OutboundMessage(
                ticket_id=ticket.id,
                message_id=message.id,
                channel=CHANNEL,
                kind=OutboundKind.REPLY,
                recipient=visitor.email.lower(),
                to_addrs=visitor.email,
                status=OutboundStatus.SENT,
                attempts=1,
                sent_at=now,
                provider_message_id=f"chat:{message.id}",
            )
        )
        return
    mail_outbox.enqueue_email_reply(session, ticket, message)


def composer_note(number: int) -> str:
    """What the composer says on web chat ticket `number`: where the reply will be read."""
    with session_scope() as session:
        visitor = _visitor_of_ticket(session, number)
        if visitor is None:
            return ""
        if utcnow() - visitor.last_seen_at < ON_PAGE:
            return f"{visitor.name} is in the chat now: the reply shows there at once (plain text)."
        return f"{visitor.name} has left the chat: the reply goes by email to {visitor.email}."


channels.register(CHANNEL, enqueue_web_chat_reply, composer_note)
