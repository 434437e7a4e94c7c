"""`POST /api/chat/messages` for other front ends: the site's key stands in for the widget,
and the widget's rules apply."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlmodel import col

from crm_app.db import session_scope
from crm_app.services.errors import PermissionDenied
from crm_app.services.messaging import intake
from crm_app.services.messaging.web_chat.rows import (
    _BOT_TOKEN,
    KEY_PREFIX,
    ApiPosted,
    _hash,
    _visitor,
)
from crm_app.services.messaging.web_chat.visitors import (
    _clean_person,
    _clean_text,
    _open_visitor,
    _post,
    renewed,
)
from models.messaging import ChatSite


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
    without a visitor token a new conversation starts. The visitor token returned (renewed on
    each post) continues it."""
    site_id = site_for_key(key)
    body = _clean_text(body)
    if honeypot:
        return ApiPosted(_BOT_TOKEN + secrets.token_urlsafe(24), None)
    with session_scope() as session:
        site = session.get(ChatSite, site_id)
        assert site is not None  # `site_for_key` just found it
        if visitor_token:
            visitor = _visitor(session, site, visitor_token, lock=True)
            token = renewed(site, visitor_token)
        else:
            name, email = _clean_person(name, email)
            visitor, token = _open_visitor(session, site, name, email, remote_addr)
        stored = _post(session, site, visitor, body, remote_addr)
    intake.emit_client_message(stored)
    return ApiPosted(token, stored.number)
