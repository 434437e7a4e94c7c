"""The web chat's limits, the rows its functions return, and the lookups its modules share:
a site by its public id, a visitor by their token or by their chat's ticket."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from crm_app.auth.permissions import Actor
from crm_app.services.errors import NotFound, PermissionDenied
from crm_app.services.messaging.web_chat import credentials
from models.base import utcnow
from models.messaging import ChatSite, ChatVisitor
from models.ticket import Channel, Ticket, TicketStatus

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
ENDED_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
# Starts the credential a filled honeypot gets (a real one starts "v1.").
_BOT_TOKEN = "hp."


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


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


@dataclass(frozen=True)
class Branding:
    public_id: str
    brand_name: str
    colour: str
    greeting: str
    office_hours: str
    agents_available: bool
    enabled: bool = True  # a disabled site's widget says the chat is unavailable


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


@dataclass(frozen=True)
class ResumedChat:
    credential: str  # renewed: the widget keeps this one
    visitor_name: str
    lines: list[ChatLine]


@dataclass(frozen=True)
class ApiPosted:
    visitor_token: str
    ticket_number: int | None


def _site(session: Session, public_id: str, *, disabled_too: bool = False) -> ChatSite:
    """The site of a widget address; a disabled one is NotFound unless `disabled_too` (for
    what the widget shows and where it may be framed, never for a conversation)."""
    if not isinstance(public_id, str) or not 1 <= len(public_id) <= 32:
        raise NotFound("There is no such chat.")
    query = select(ChatSite).where(col(ChatSite.public_id) == public_id)
    if not disabled_too:
        query = query.where(col(ChatSite.enabled).is_(True))
    site = session.execute(query).scalar_one_or_none()
    if site is None:
        raise NotFound("There is no such chat.")
    return site


def _visitor(
    session: Session,
    site: ChatSite,
    credential: str,
    *,
    actor: Actor | None = None,
    lock: bool = False,
) -> ChatVisitor:
    """The visitor a credential stands for on this site (PermissionDenied for anything the app
    did not sign for this site, an expired one, or a forgotten visitor). A chat started signed
    in to the portal also needs that account's session (`actor`): the credential left in a
    shared browser after signing out opens nothing."""
    found = credentials.verify(site.public_id, credential, utcnow())
    query = select(ChatVisitor).where(
        col(ChatVisitor.token_hash) == _hash(found.secret), col(ChatVisitor.site_id) == site.id
    )
    visitor = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if visitor is None:
        raise PermissionDenied(credentials.ENDED)
    if visitor.portal_user_id is not None and (
        actor is None or actor.user_id != visitor.portal_user_id
    ):
        raise PermissionDenied(credentials.ENDED)
    return visitor


def _open_ticket_id(session: Session, visitor: ChatVisitor) -> int | None:
    """The visitor's conversation while it goes on: a solved, closed or merged ticket ends it
    (their next message starts a new one)."""
    if not visitor.ticket_id:
        return None
    ticket = session.get(Ticket, visitor.ticket_id)
    if ticket is None or ticket.status in ENDED_STATUSES or ticket.merged_into_id is not None:
        return None
    return ticket.id


def _visitor_of_ticket(session: Session, number: int) -> ChatVisitor | None:
    """The visitor whose chat ticket `number` is (the latest one seen, if several)."""
    return session.execute(
        select(ChatVisitor)
        .join(Ticket, col(Ticket.id) == col(ChatVisitor.ticket_id))
        .where(col(Ticket.number) == number)
        .order_by(col(ChatVisitor.last_seen_at).desc())
        .limit(1)
    ).scalar_one_or_none()
