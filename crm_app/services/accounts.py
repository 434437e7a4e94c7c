"""Built-in accounts: first-manager setup, sign-up, login/logout, sessions, role assignment,
sign-in throttles and known devices.

Sign-in throttling slows guessing without locking the owner out: failures are counted per
account and per client IP; past a few free ones each further attempt must wait, the wait
doubling up to a ceiling. A browser that signed in as the user before (its random id kept in a
long-lived HttpOnly cookie, the hash stored here) skips the account and IP throttles and has
its own, so an attacker hammering an address never keeps its owner out.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlmodel import Session, col

from crm_app.auth.passwords import MIN_PASSWORD_LENGTH as MIN_PASSWORD_LENGTH  # forms' hint
from crm_app.auth.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from crm_app.auth.permissions import SYSTEM, Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit, system_mail, web_sessions
from crm_app.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from crm_app.settings import get_settings
from models.audit import AuditLog
from models.base import utcnow
from models.user import KnownDevice, LoginThrottle, Role, ThrottleScope, User, UserSession

# The cookie that carries a browser's known-device id (HttpOnly, long-lived; set by the web layer).
KNOWN_DEVICE_COOKIE = "crm_device"
PASSWORD_HINT = f"Password (at least {MIN_PASSWORD_LENGTH} characters, not easy to guess)"
WRONG_CREDENTIALS = "Wrong email or password."
# Shown after every sign-up, new address or not, so the form never tells who is registered.
SIGN_UP_DONE = (
    "Thanks. If this address can be used, your account is ready and you can sign in with it. "
    "We have sent a message to the address either way."
)
SIGN_UP_THROUGH_ORY = (
    "Accounts are made with your firm account (Ory): register there, then sign in with it."
)
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


def check_new_password(password: str, *, email: str = "", name: str = "") -> None:
    """Refuse a new password that is short or easy to guess (setup, sign-up, any change)."""
    problem = password_problem(
        password, min_score=get_settings().password_min_score, user_inputs=(email, name)
    )
    if problem:
        raise InvalidInput(problem)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def needs_setup() -> bool:
    """True on an empty instance: the first visit offers to create the first manager."""
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(User)).scalar_one() == 0


def _insert_user(session: Session, email: str, name: str, password: str, role: str | None) -> User:
    user = User(email=email, name=name, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def create_first_manager(email: str, name: str, password: str) -> UserSummary:
    """Create the first manager; refused once any account exists (setup wizard and CLI)."""
    email, name = _clean_email(email), _clean_name(name)
    check_new_password(password, email=email, name=name)
    with session_scope() as session:
        # Serialise concurrent setup attempts so exactly one first manager is made.
        session.execute(select(func.pg_advisory_xact_lock(0x5E7_0_0001)))
        if session.execute(select(func.count()).select_from(User)).scalar_one() > 0:
            raise Conflict("This instance is already set up: sign in instead.")
        user = _insert_user(session, email, name, password, Role.MANAGER)
        audit.record(
            session,
            _actor(user),
            "user.bootstrap_manager",
            "user",
            user.id,
            {"role": [None, Role.MANAGER.value]},
        )
        return _summary(user)


def sign_up(email: str, name: str, password: str) -> UserSummary | None:
    """A self sign-up: no role (or the configured portal default) until a manager assigns one.

    Returns the new account, or None when the address was already registered: then nothing
    changes and its owner is told by mail. Callers show `SIGN_UP_DONE` in both cases and do
    not sign the visitor in, so the answer never reveals whether an address has an account.
    Refused when sign-in is through Ory only (`CRM_AUTH_MODE=ory`): accounts are made there."""
    if get_settings().auth_mode == "ory":
        raise PermissionDenied(SIGN_UP_THROUGH_ORY)
    email, name = _clean_email(email), _clean_name(name)
    check_new_password(password, email=email, name=name)
    role = get_settings().signup_default_role
    with session_scope() as session:
        # Two sign-ups for one address at once: the second waits and sees the first.
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(email, 0))))
        existing = session.execute(select(col(User.id)).where(col(User.email) == email)).scalar()
        notify = True
        if existing is not None:
            hash_password(password)  # the same work as a real sign-up, so timing tells nothing
            # One notice an hour at most, so the form cannot be used to flood an inbox.
            notify = (
                session.execute(
                    select(col(AuditLog.id)).where(
                        col(AuditLog.action) == "user.sign_up_existing_email",
                        col(AuditLog.entity_type) == "user",
                        col(AuditLog.entity_id) == existing,
                        col(AuditLog.created_at) > utcnow() - timedelta(hours=1),
                    )
                ).first()
                is None
            )
            audit.record(session, SYSTEM, "user.sign_up_existing_email", "user", existing)
            created = None
        else:
            user = _insert_user(session, email, name, password, role)
            audit.record(
                session, _actor(user), "user.sign_up", "user", user.id, {"role": [None, role]}
            )
            created = _summary(user)
    # After the commit, in the background: a mail server never delays or breaks the sign-up.
    if notify:
        system_mail.queue(_sign_up_mail(email, created is not None))
    return created


def _sign_up_mail(email: str, created: bool) -> system_mail.SystemMail:
    # Nothing the visitor typed goes into the mail: the form must not relay their text.
    if created:
        return system_mail.SystemMail(
            to=email,
            subject="Your Finance CRM account",
            body="Hello,\n\nyour account was created. Sign in with this address; you "
            "will see the CRM once a manager has given you a role.\n\nIf you did not "
            "create it, tell your firm's CRM manager.\n",
        )
    return system_mail.SystemMail(
        to=email,
        subject="Someone tried to sign up with your address",
        body="Hello,\n\nsomeone tried to create a Finance CRM account with this address, which "
        "already has one. Nothing was changed.\n\nIf it was you: sign in with your "
        "password, or ask your firm's CRM manager to reset it. If it was not you, you "
        "can ignore this message.\n",
    )


@dataclass(frozen=True)
class LoginResult:
    """A successful sign-in. The web layer keeps `token` in the session cookie and `device_id`
    in the known-device cookie (`KNOWN_DEVICE_COOKIE`, HttpOnly, `device_max_age_seconds`)."""

    token: str
    device_id: str
    device_max_age_seconds: int
    user: UserSummary


def log_in(
    email: str, password: str, *, client_ip: str | None, device_id: str | None
) -> LoginResult:
    """Check the password and open a session.

    Refused with RateLimited while a throttle that applies asks to wait: the account's and the
    client IP's, or, from a browser that signed in as this user before, only that device's."""
    settings = get_settings()
    email = (email or "").strip().lower()[:320]
    password = (password or "")[:1024]
    ip = _clean_ip(client_ip)
    now = utcnow()
    with session_scope() as session:
        user = session.scalars(select(User).where(col(User.email) == email)).first()
        device = _known_device(session, user, device_id, now) if user else None
        if device is not None:
            keys = [(ThrottleScope.DEVICE, f"{device.user_id}:{device.device_hash}")]
        else:
            keys = [(ThrottleScope.ACCOUNT, email), (ThrottleScope.IP, ip)]
        throttles = _lock_throttles(session, keys, now)
        waits = [
            t.locked_until - now
            for t in throttles.values()
            if t.locked_until is not None and t.locked_until > now
        ]
        if waits:
            raise RateLimited(f"Too many failed sign-ins. Try again in {_say_wait(max(waits))}.")
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None or not user.is_active:
            for scope, subject in keys:
                _charge(session, throttles.get((scope, subject)), scope, subject, now)
            session.commit()
            raise InvalidInput(WRONG_CREDENTIALS)
        if user.password_hash and needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        # The owner is in: their account and device start afresh. An IP's count only fades
        # with time, or a sprayer could reset it by signing in to an account of their own.
        for (kind, _), throttle in throttles.items():
            if kind != ThrottleScope.IP:
                session.delete(throttle)
        assert user.id is not None  # a stored user
        if device is None:
            device_id = secrets.token_urlsafe(32)
            device = KnownDevice(user_id=user.id, device_hash=_token_hash(device_id))
            session.add(device)
        device.last_used_at = now
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
        assert device_id is not None
        return LoginResult(
            token=token,
            device_id=device_id,
            device_max_age_seconds=settings.known_device_days * 86400,
            user=_summary(user),
        )


def _clean_ip(client_ip: str | None) -> str:
    try:
        address = ipaddress.ip_address((client_ip or "").strip())
    except ValueError:
        return "unknown"
    if address.version == 6:
        # One host usually holds a whole /64: count it as one client.
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _known_device(
    session: Session, user: User, device_id: str | None, now: datetime
) -> KnownDevice | None:
    if not device_id or len(device_id) > 200:
        return None
    return session.scalars(
        select(KnownDevice).where(
            col(KnownDevice.user_id) == user.id,
            col(KnownDevice.device_hash) == _token_hash(device_id),
            col(KnownDevice.last_used_at) > now - timedelta(days=get_settings().known_device_days),
        )
    ).first()


def _lock_throttles(
    session: Session, keys: list[tuple[ThrottleScope, str]], now: datetime
) -> dict[tuple[str, str], LoginThrottle]:
    """Serialise attempts on the same account/IP/device across workers (so parallel guesses
    cannot all slip through before the first failure is counted) and read their throttles."""
    for scope, subject in sorted(keys):  # one order everywhere: no deadlocks
        session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"login:{scope}:{subject}", 0)))
        )
    forget_before = now - timedelta(hours=get_settings().login_forget_hours)
    found: dict[tuple[str, str], LoginThrottle] = {}
    for scope, subject in keys:
        throttle = session.scalars(
            select(LoginThrottle).where(
                col(LoginThrottle.scope) == scope, col(LoginThrottle.subject) == subject
            )
        ).first()
        if throttle is not None and throttle.last_failure_at < forget_before:
            session.delete(throttle)
            session.flush()
            throttle = None
        if throttle is not None:
            found[(scope, subject)] = throttle
    return found


def _charge(
    session: Session,
    throttle: LoginThrottle | None,
    scope: ThrottleScope,
    subject: str,
    now: datetime,
) -> None:
    """Count one failure and set the wait before the next attempt is accepted."""
    settings = get_settings()
    if throttle is None:
        throttle = LoginThrottle(
            scope=scope, subject=subject, failures=0, first_failure_at=now, last_failure_at=now
        )
        session.add(throttle)
    throttle.failures += 1
    throttle.last_failure_at = now
    free = (
        settings.login_ip_free_failures
        if scope == ThrottleScope.IP
        else settings.login_free_failures
    )
    excess = throttle.failures - free
    if excess >= 0:
        seconds = min(
            settings.login_backoff_seconds * 2 ** min(excess, 30),
            settings.login_backoff_max_seconds,
        )
        throttle.locked_until = now + timedelta(seconds=seconds)


def _say_wait(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


@dataclass(frozen=True)
class ThrottleRow:
    """A sign-in throttle as the users page shows it."""

    id: int
    scope: str
    subject: str  # the email, the IP, or "<email> (known device)"
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None
    waiting: bool  # an attempt now would be refused


def list_throttles(actor: Actor, limit: int = 200) -> list[ThrottleRow]:
    """Throttles that still count (failures within the forget window), busiest first."""
    require(actor, Action.MANAGE_USERS)
    now = utcnow()
    forget_before = now - timedelta(hours=get_settings().login_forget_hours)
    with session_scope() as session:
        throttles = session.scalars(
            select(LoginThrottle)
            .where(col(LoginThrottle.last_failure_at) >= forget_before)
            .order_by(
                col(LoginThrottle.locked_until).desc().nulls_last(),
                col(LoginThrottle.failures).desc(),
                col(LoginThrottle.id),
            )
            .limit(limit)
        ).all()
        device_users = {
            int(t.subject.split(":", 1)[0]) for t in throttles if t.scope == ThrottleScope.DEVICE
        }
        emails = (
            dict(
                session.execute(
                    select(col(User.id), col(User.email)).where(col(User.id).in_(device_users))
                )
                .tuples()
                .all()
            )
            if device_users
            else {}
        )
        return [
            ThrottleRow(
                id=cast(int, t.id),  # a stored row
                scope=t.scope,
                failures=t.failures,
                last_failure_at=t.last_failure_at,
                subject=(
                    f"{emails.get(int(t.subject.split(':', 1)[0]), 'deleted user')} (known device)"
                )
                if t.scope == ThrottleScope.DEVICE
                else t.subject,
                locked_until=t.locked_until,
                waiting=t.locked_until is not None and t.locked_until > now,
            )
            for t in throttles
        ]


def clear_throttle(actor: Actor, throttle_id: int) -> None:
    """Forget a throttle's failures (e.g. after the owner called in); recorded in the audit log."""
    require(actor, Action.MANAGE_USERS)
    with session_scope() as session:
        throttle = session.get(LoginThrottle, throttle_id)
        if throttle is None:
            raise NotFound("That throttle has already been cleared or has expired.")
        audit.record(
            session,
            actor,
            "login_throttle.cleared",
            "login_throttle",
            throttle.id,
            {
                "scope": throttle.scope,
                "subject": throttle.subject,
                "failures": [throttle.failures, 0],
            },
        )
        session.delete(throttle)


def sweep() -> dict[str, int]:
    """Job: delete throttles past the forget window, ended sessions and long-unused devices."""
    settings = get_settings()
    now = utcnow()
    with session_scope() as session:
        # A DELETE's result is a CursorResult (with rowcount); Session.execute says Result.
        throttles = cast(
            CursorResult[Any],
            session.execute(
                delete(LoginThrottle).where(
                    col(LoginThrottle.last_failure_at)
                    < now - timedelta(hours=settings.login_forget_hours)
                )
            ),
        ).rowcount
        sessions = cast(
            CursorResult[Any],
            session.execute(
                delete(UserSession).where(
                    (col(UserSession.expires_at) < now - timedelta(days=1))
                    | (col(UserSession.revoked_at) < now - timedelta(days=1))
                )
            ),
        ).rowcount
        devices = cast(
            CursorResult[Any],
            session.execute(
                delete(KnownDevice).where(
                    col(KnownDevice.last_used_at) < now - timedelta(days=settings.known_device_days)
                )
            ),
        ).rowcount
    return {"throttles": throttles, "sessions": sessions, "devices": devices}


def log_out(token: str) -> None:
    """Revoke the session behind `token` (the web layer signs out by session id)."""
    found = web_sessions.session_for_token(token)
    if found is not None:
        web_sessions.revoke(found.session_id)


def actor_for_token(token: str) -> Actor | None:
    """The user behind a live session token, or None when it is unknown, expired or revoked."""
    found = web_sessions.session_for_token(token)
    return found.actor if found else None


def list_users(actor: Actor) -> list[UserSummary]:
    require(actor, Action.MANAGE_USERS)
    with session_scope() as session:
        users = session.scalars(
            select(User).order_by(col(User.role).is_(None).desc(), col(User.created_at))
        )
        return [_summary(u) for u in users]


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
            audit.record(
                session, actor, "user.role_changed", "user", user.id, {"role": [before, role]}
            )
        return _summary(user)
