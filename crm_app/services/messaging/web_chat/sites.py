"""Chat sites, kept by managers: branding, the origins allowed to frame the widget, the key
(shown once, only its hash is kept), and the snippets a site pastes into its pages."""

from __future__ import annotations

import json
import re
import secrets
from typing import TypedDict
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.messaging.web_chat.rows import (
    _COLOUR,
    KEY_PREFIX,
    Branding,
    CreatedSite,
    SiteRow,
    _hash,
)
from models.base import utcnow
from models.messaging import ChatSite


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
    enabled: bool | None = None,
) -> SiteRow:
    """Change a site's branding and origins (and its state, unless `enabled` is None).
    Audited as `chat_site.updated` with each changed field's old and new value."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    values: dict[str, object] = {
        **_clean_branding(name, brand_name, colour, greeting, office_hours),
        "allowed_origins": clean_origins(allowed_origins),
    }
    if enabled is not None:
        values["enabled"] = bool(enabled)
    with session_scope() as session:
        site = _locked(session, site_id)
        changes = {
            field_name: [getattr(site, field_name), value]
            for field_name, value in values.items()
            if getattr(site, field_name) != value
        }
        for field_name, value in values.items():
            setattr(site, field_name, value)
        site.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "chat_site.updated",
            "chat_site",
            site.id,
            {"name": site.name, "changes": changes},
        )
        return _row(site)


def set_site_enabled(actor: Actor, site_id: int, enabled: bool) -> SiteRow:
    """Turn a site's chat on or off. Off, its widget says the chat is unavailable, its key is
    refused by `POST /api/chat/messages` and the loader adds no button; conversations and
    visitors' credentials are kept for when it is on again. Audited as `chat_site.enabled` or
    `chat_site.disabled` (nothing is recorded when it already was)."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    with session_scope() as session:
        site = _locked(session, site_id)
        if site.enabled != bool(enabled):
            site.enabled, site.updated_at = bool(enabled), utcnow()
            verb = "chat_site.enabled" if site.enabled else "chat_site.disabled"
            audit.record(session, actor, verb, "chat_site", site.id, {"name": site.name})
        return _row(site)


def _locked(session: Session, site_id: int) -> ChatSite:
    site = session.execute(
        select(ChatSite).where(col(ChatSite.id) == site_id).with_for_update()
    ).scalar_one_or_none()
    if site is None:
        raise NotFound("There is no such chat site.")
    return site


def rotate_key(actor: Actor, site_id: int) -> str:
    """A new key for the site (the old one stops working at once). Audited."""
    require(actor, Action.MANAGE_INTEGRATIONS)
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    with session_scope() as session:
        site = _locked(session, site_id)
        site.key_hash, site.key_hint, site.updated_at = _hash(key), key[:8], utcnow()
        audit.record(session, actor, "chat_site.key_rotated", "chat_site", site.id, {})
    return key


def list_sites(actor: Actor) -> list[SiteRow]:
    require(actor, Action.MANAGE_INTEGRATIONS)
    with session_scope() as session:
        return [_row(site) for site in session.scalars(select(ChatSite).order_by(col(ChatSite.id)))]


def embed_snippet(public_id: str, public_url: str) -> str:
    """The framed snippet a site pastes into its pages (where the browser refuses storage to
    framed pages, the chat works but is forgotten on reload: the loader's window keeps it)."""
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
