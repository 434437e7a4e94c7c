"""The web chat's limits, the rows its functions return, and the lookups its modules share:
a site by its public id, a visitor by their token or by their chat's ticket."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from crm_app.services.errors import NotFound, PermissionDenied
from models.messaging import ChatSite, ChatVisitor
from models.ticket import Channel, Ticket

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
class ApiPosted:
    visitor_token: str
    ticket_number: int | None


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


def _visitor_of_ticket(session: Session, number: int) -> ChatVisitor | None:
    """The visitor whose chat ticket `number` is (the latest one seen, if several)."""
    return session.execute(
        select(ChatVisitor)
        .join(Ticket, col(Ticket.id) == col(ChatVisitor.ticket_id))
        .where(col(Ticket.number) == number)
        .order_by(col(ChatVisitor.last_seen_at).desc())
        .limit(1)
    ).scalar_one_or_none()
