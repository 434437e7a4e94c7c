"""Built-in accounts: first-manager setup, sign-up, login/logout, sessions, role assignment."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from crm_app.auth.passwords import hash_password, needs_rehash, verify_password
from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import Conflict, InvalidInput, NotFound, RateLimited
from crm_app.settings import get_settings
from models.base import utcnow
from models.user import LoginAttempt, Role, User, UserSession

MIN_PASSWORD_LENGTH = 10
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class UserSummary:
    """What the UI may show about a user: never the password hash."""

    id: int
    email: str
    name: str
    role: str | None
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


def _summary(user: User) -> UserSummary:
    assert user.id is not None
    return UserSummary(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        is_active=user.is_active,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, role=user.role, name=user.name, email=user.email)


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 320 or not _EMAIL_RE.match(email):
        raise InvalidInput("Enter a valid email address.")
    return email


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise InvalidInput("Enter a name (up to 200 characters).")
    return name


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > 1024:
        raise InvalidInput("That password is too long.")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def needs_setup() -> bool:
    """True on an empty instance: the first visit offers to create the first manager."""
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(User)).scalar_one() == 0


def _insert_user(session: Session, email: str, name: str, password: str, role: str | None) -> User:
    if session.execute(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict("An account with that email already exists.")
    user = User(email=email, name=name, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def create_first_manager(email: str, name: str, password: str) -> UserSummary:
    """Create the first manager; refused once any account exists (setup wizard and CLI)."""
    email, name = _clean_email(email), _clean_name(name)
    _check_password(password)
    with session_scope() as session:
        # Serialise concurrent setup attempts so exactly one first manager is made.
        session.execute(select(func.pg_advisory_xact_lock(0x5E7_0_0001)))
        if session.execute(select(func.count()).select_from(User)).scalar_one() > 0:
            raise Conflict("This instance is already set up: sign in instead.")
        user = _insert_user(session, email, name, password, Role.MANAGER)
        audit.record(session, _actor(user), "user.bootstrap_manager", "user", user.id,
                     {"role": [None, Role.MANAGER.value]})
        return _summary(user)


def sign_up(email: str, name: str, password: str) -> UserSummary:
    """A self sign-up: no role (or the configured portal default) until a manager assigns one."""
    email, name = _clean_email(email), _clean_name(name)
    _check_password(password)
    role = get_settings().signup_default_role
    with session_scope() as session:
        user = _insert_user(session, email, name, password, role)
        audit.record(session, _actor(user), "user.sign_up", "user", user.id, {"role": [None, role]})
        return _summary(user)


def log_in(email: str, password: str) -> str:
    """Check the password and open a session; returns the token the browser keeps."""
    settings = get_settings()
    email = (email or "").strip().lower()
    now = utcnow()
    window_start = now - timedelta(minutes=settings.login_window_minutes)
    with session_scope() as session:
        failures = session.execute(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.email == email, LoginAttempt.attempted_at >= window_start)
        ).scalar_one()
        if failures >= settings.login_max_failures:
            raise RateLimited(
                f"Too many failed sign-ins for this account. Try again in "
                f"{settings.login_window_minutes} minutes."
            )
        user = session.execute(select(User).where(User.email == email)).scalars().first()
        ok = verify_password(user.password_hash if user else None, password or "")
        if not ok or user is None or not user.is_active:
            session.add(LoginAttempt(email=email, attempted_at=now))
            session.commit()
            raise InvalidInput("Wrong email or password.")
        if user.password_hash and needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
        token = secrets.token_urlsafe(32)
        session.add(
            UserSession(
                token_hash=_token_hash(token),
                user_id=user.id,
                expires_at=now + timedelta(hours=settings.session_hours),
            )
        )
        user.last_login_at = now
        audit.record(session, _actor(user), "user.login", "user", user.id)
        return token


def log_out(token: str) -> None:
    if not token:
        return
    with session_scope() as session:
        session.execute(
            update(UserSession)
            .where(UserSession.token_hash == _token_hash(token), UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def actor_for_token(token: str) -> Actor | None:
    """The user behind a live session token, or None when it is unknown, expired or revoked."""
    if not token:
        return None
    with session_scope() as session:
        row = session.execute(
            select(User)
            .join(UserSession, UserSession.user_id == User.id)
            .where(
                UserSession.token_hash == _token_hash(token),
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > utcnow(),
                User.is_active.is_(True),
            )
        ).scalars().first()
        return _actor(row) if row else None


def list_users(actor: Actor) -> list[UserSummary]:
    require(actor, Action.MANAGE_USERS)
    with session_scope() as session:
        users = session.execute(select(User).order_by(User.role.is_(None).desc(), User.created_at))
        return [_summary(u) for u in users.scalars()]


def list_staff(actor: Actor) -> list[UserSummary]:
    """Agents and managers, for assignee pickers."""
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        users = session.execute(
            select(User)
            .where(User.role.in_([Role.AGENT, Role.MANAGER]), User.is_active.is_(True))
            .order_by(User.name)
        )
        return [_summary(u) for u in users.scalars()]


def assign_role(actor: Actor, user_id: int, role: str | None) -> UserSummary:
    """Give a user a role (or take it away); recorded in the audit log."""
    require(actor, Action.MANAGE_USERS)
    if role is not None and role not in {r.value for r in Role}:
        raise InvalidInput(f"Unknown role {role!r}.")
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("No such user.")
        if user.id == actor.user_id and role != Role.MANAGER:
            raise InvalidInput("You cannot remove your own manager role.")
        before = user.role
        if before != role:
            user.role = role
            audit.record(session, actor, "user.role_changed", "user", user.id,
                         {"role": [before, role]})
        return _summary(user)
