"""A visitor signed in to the portal: the widget skips the name and email step, and the chat is
a ticket of the client record their account speaks for.

Their chat is bound to the account (`ChatVisitor.portal_user_id`): every call needs that
account's session as well as the credential, and a new browser of theirs continues the
conversation still going on this site (a visitor row of its own, the same ticket)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import PermissionDenied
from crm_app.services.messaging.web_chat.rows import (
    ResumedChat,
    _open_ticket_id,
    _site,
    _visitor,
)
from crm_app.services.messaging.web_chat.visitors import _lines, _open_visitor, renewed
from crm_app.services.portal.requests import own_client
from models.base import utcnow
from models.messaging import ChatVisitor


def open_for_client(
    actor: Actor, public_id: str, credential: str = "", *, remote_addr: str | None = None
) -> ResumedChat:
    """The signed-in client's chat on this site: the one `credential` continues when it is
    theirs, else the conversation they have going here (or a fresh one). NotFound when the
    account is linked to no client record (the widget then asks for name and email)."""
    require(actor, Action.USE_PORTAL)
    with session_scope() as session:
        site = _site(session, public_id)
        client = own_client(session, actor)
        now = utcnow()
        if credential:
            try:
                visitor = _visitor(session, site, credential, actor=actor)
            except PermissionDenied:
                visitor = None
            if visitor is not None and visitor.portal_user_id == actor.user_id:
                visitor.last_seen_at, visitor.client_id = now, client.id
                return ResumedChat(
                    renewed(site, credential), visitor.name, _lines(session, visitor)
                )
        going = session.execute(
            select(ChatVisitor)
            .where(
                col(ChatVisitor.site_id) == site.id,
                col(ChatVisitor.portal_user_id) == actor.user_id,
            )
            .order_by(col(ChatVisitor.last_seen_at).desc())
            .limit(1)
        ).scalar_one_or_none()
        visitor, fresh = _open_visitor(
            session,
            site,
            client.name,
            actor.email or client.email or "",
            remote_addr,
            client=client,
            portal_user_id=actor.user_id,
        )
        if going is not None:
            visitor.ticket_id = _open_ticket_id(session, going)
        return ResumedChat(fresh, visitor.name, _lines(session, visitor))
