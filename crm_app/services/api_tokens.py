"""Personal access tokens for the REST API.

A signed-in person with a role creates tokens for themselves (the profile page, or an operator
with `python -m crm_app.cli create-token`); the token is shown once and only its SHA-256 is
stored. A token acts as its owner with the owner's current role, limited by its scope: `read`
may only read, `write` may also change. It stops working when it expires, is revoked, or its
owner is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import col

from crm_app.auth.permissions import SYSTEM, Action, Actor, can
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied
from models.api_token import ApiToken, TokenScope
from models.base import utcnow
from models.user import User

TOKEN_PREFIX = "crm_pat_"
DEFAULT_DAYS = 90
MAX_DAYS = 365
MAX_TOKENS_PER_USER = 50
# last_used_at is a hint for the owner, not a log: write it at most this often per token.
_LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked: bool

    @property
    def active(self) -> bool:
        return not self.revoked and self.expires_at > utcnow()


@dataclass(frozen=True)
class CreatedToken:
    row: TokenRow
    token: str  # the secret: shown once, never stored


@dataclass(frozen=True)
class TokenAuth:
    """Who a presented token acts for, and what it may do."""

    actor: Actor
    scope: str
    token_id: int

    @property
    def may_write(self) -> bool:
        return self.scope == TokenScope.WRITE


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _row(token: ApiToken) -> TokenRow:
    assert token.id is not None
    return TokenRow(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scope=token.scope,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked=token.revoked_at is not None,
    )


def _check(name: str, scope: str, days: int) -> tuple[str, str, int]:
    name = " ".join((name or "").split())[:100] or "API token"
    if scope not in {s.value for s in TokenScope}:
        raise InvalidInput("Scope must be read or write.")
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"A token lives between 1 and {MAX_DAYS} days.")
    return name, scope, days


def _issue(session, by: Actor, owner: User, name: str, scope: str, days: int) -> CreatedToken:
    count = session.execute(
        select(col(ApiToken.id)).where(
            col(ApiToken.user_id) == owner.id, col(ApiToken.revoked_at).is_(None)
        )
    ).all()
    if len(count) >= MAX_TOKENS_PER_USER:
        raise InvalidInput(f"At most {MAX_TOKENS_PER_USER} tokens: revoke one you no longer use.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    assert owner.id is not None  # a stored user
    token = ApiToken(
        user_id=owner.id,
        name=name,
        token_hash=_hash(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        scope=scope,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        by,
        "api_token.created",
        "user",
        owner.id,
        {"token_id": token.id, "name": name, "scope": scope, "days": days},
    )
    return CreatedToken(_row(token), secret)


def create_token(
    actor: Actor, name: str, scope: str = TokenScope.READ, days: int = DEFAULT_DAYS
) -> CreatedToken:
    """A new token for the actor themselves. Side effect: audited (never the secret)."""
    if actor is None or actor.user_id is None:
        raise PermissionDenied("Please sign in.")
    if not actor.role:
        raise PermissionDenied("Your account has no role yet: a manager must assign one.")
    name, scope, days = _check(name, scope, days)
    with session_scope() as session:
        owner = session.get(User, actor.user_id)
        if owner is None or not owner.is_active:
            raise PermissionDenied("Please sign in.")
        return _issue(session, actor, owner, name, scope, days)


def create_token_for_email(
    email: str, scope: str = TokenScope.READ, days: int = DEFAULT_DAYS, name: str = "CLI token"
) -> CreatedToken:
    """The operator's `create-token` command: a token for the user with this email, audited as
    the system. The user needs a role, as on the profile page."""
    name, scope, days = _check(name, scope, days)
    with session_scope() as session:
        owner = session.execute(
            select(User).where(col(User.email) == (email or "").strip().lower())
        ).scalar_one_or_none()
        if owner is None or not owner.is_active:
            raise NotFound("No active user has that email address.")
        if not owner.role:
            raise InvalidInput("That user has no role yet: assign one first.")
        return _issue(session, SYSTEM, owner, name, scope, days)


def list_tokens(actor: Actor) -> list[TokenRow]:
    """The actor's own tokens, newest first (never a secret)."""
    if actor is None or actor.user_id is None:
        raise PermissionDenied("Please sign in.")
    with session_scope() as session:
        rows = session.scalars(
            select(ApiToken)
            .where(col(ApiToken.user_id) == actor.user_id)
            .order_by(col(ApiToken.id).desc())
            .limit(MAX_TOKENS_PER_USER * 2)
        )
        return [_row(t) for t in rows]


def revoke_token(actor: Actor, token_id: int) -> None:
    """Revoke one of the actor's own tokens (a manager may revoke anyone's). Audited; the token
    stops working at its next request."""
    if actor is None or actor.user_id is None:
        raise PermissionDenied("Please sign in.")
    with session_scope() as session:
        known_id = isinstance(token_id, int) and 0 < token_id < 2**31  # a PostgreSQL integer
        token = session.get(ApiToken, token_id) if known_id else None
        if token is None or (
            token.user_id != actor.user_id and not can(actor, Action.MANAGE_USERS)
        ):
            raise NotFound("That token does not exist.")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            audit.record(
                session, actor, "api_token.revoked", "user", token.user_id, {"token_id": token.id}
            )


def authenticate(token: str) -> TokenAuth | None:
    """The live token behind a bearer value, or None (unknown, expired, revoked, owner
    inactive). Side effect: notes when the token was last used (at most once a minute)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = utcnow()
    with session_scope() as session:
        found = (
            session.execute(
                select(ApiToken, User)
                .join(User, col(User.id) == col(ApiToken.user_id))
                .where(
                    col(ApiToken.token_hash) == _hash(token),
                    col(ApiToken.revoked_at).is_(None),
                    col(ApiToken.expires_at) > now,
                    col(User.is_active).is_(True),
                )
            )
            .tuples()
            .first()
        )
        if found is None:
            return None
        api_token, user = found
        if api_token.last_used_at is None or now - api_token.last_used_at > _LAST_USED_EVERY:
            session.execute(
                update(ApiToken).where(col(ApiToken.id) == api_token.id).values(last_used_at=now)
            )
        actor = Actor(user_id=user.id, role=user.role, name=user.name, email=user.email)
        assert api_token.id is not None
        return TokenAuth(actor=actor, scope=api_token.scope, token_id=api_token.id)
