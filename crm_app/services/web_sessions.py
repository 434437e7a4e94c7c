"""Browser sessions: who is behind a session cookie, by token (HTTP requests, the websocket
handshake) or by row id (page state, which never holds a token)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, select, update
from sqlmodel import col

from crm_app.auth.permissions import Actor
from crm_app.db import session_scope
from models.base import utcnow
from models.user import User, UserSession


@dataclass(frozen=True)
class WebSession:
    """A live session: its row id (safe to keep in page state) and the user acting."""

    session_id: int
    actor: Actor


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, role=user.role, name=user.name, email=user.email)


def _live(*conditions: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    return (
        select(col(UserSession.id), User)
        .join(User, col(UserSession.user_id) == col(User.id))
        .where(
            *conditions,
            col(UserSession.revoked_at).is_(None),
            col(UserSession.expires_at) > utcnow(),
            col(User.is_active).is_(True),
        )
    )


def session_for_token(token: str) -> WebSession | None:
    """The live session behind a cookie's token; None when unknown, expired or revoked."""
    if not token or len(token) > 200:
        return None
    with session_scope() as session:
        row = session.execute(_live(col(UserSession.token_hash) == _hash(token))).first()
        return WebSession(row[0], _actor(row[1])) if row else None


def session_by_id(session_id: int) -> WebSession | None:
    """The same check by row id, for long-running page work that re-checks its session."""
    if not session_id:
        return None
    with session_scope() as session:
        row = session.execute(_live(col(UserSession.id) == session_id)).first()
        return WebSession(row[0], _actor(row[1])) if row else None


def actor_for_session(session_id: int) -> Actor | None:
    found = session_by_id(session_id)
    return found.actor if found else None


def revoke(session_id: int) -> None:
    """Sign out: the session stops working on every worker at its next request."""
    if not session_id:
        return
    with session_scope() as session:
        session.execute(
            update(UserSession)
            .where(col(UserSession.id) == session_id, col(UserSession.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )
