"""People who sign in, their sessions, known devices and sign-in throttles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class Role(StrEnum):
    MANAGER = "manager"
    AGENT = "agent"
    MARKETING = "marketing"
    CLIENT = "client"


class IdentityProvider(StrEnum):
    LOCAL = "local"
    ORY = "ory"


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (sa.UniqueConstraint("identity_provider", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=sa.String(320), unique=True, index=True)
    name: str = Field(sa_type=sa.String(200))
    password_hash: str | None = Field(default=None, sa_type=sa.String(200))
    identity_provider: str = enum_field(IdentityProvider, IdentityProvider.LOCAL)
    external_id: str | None = Field(default=None, sa_type=sa.String(200))
    # None until a manager assigns one: a user without a role sees nothing.
    role: str | None = enum_field(Role, None, index=True)
    is_active: bool = Field(default=True)
    is_available: bool = Field(default=True)
    created_at: datetime = timestamp_field()
    last_login_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    # IANA name ("Europe/London"); None shows times in the browser's own zone.
    time_zone: str | None = Field(default=None, sa_type=sa.String(64))


class UserSession(SQLModel, table=True):
    """A server-side login session; the browser holds only the token, we store its hash."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_type=sa.String(64), unique=True, index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field(default_now=False)
    revoked_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class ThrottleScope(StrEnum):
    ACCOUNT = "account"  # failed sign-ins for one email, known or not
    IP = "ip"  # failed sign-ins from one client address, over all emails (password spraying)
    DEVICE = "device"  # failed sign-ins from one known device of one user


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per account, client IP or known device, and the backoff they earned.

    Kept in PostgreSQL so every web worker applies the same delay."""

    __tablename__ = "login_throttle"
    __table_args__ = (sa.UniqueConstraint("scope", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = enum_field(ThrottleScope, ThrottleScope.ACCOUNT)
    # The email, the IP address, or "<user id>:<device hash>" for a known device.
    subject: str = Field(sa_type=sa.String(400))
    failures: int = Field(default=0)
    first_failure_at: datetime = timestamp_field()
    last_failure_at: datetime = timestamp_field(index=True)
    # No attempt is accepted before this time (exponential backoff, not a lock).
    locked_until: datetime | None = timestamp_field(nullable=True, default_now=False)


class KnownDevice(SQLModel, table=True):
    """A browser that signed in as this user before; the browser keeps a random id in a
    long-lived HttpOnly cookie, we store its hash. It lets the owner in past an attacker's
    throttle."""

    __tablename__ = "known_device"
    __table_args__ = (sa.UniqueConstraint("user_id", "device_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    device_hash: str = Field(sa_type=sa.String(64))
    created_at: datetime = timestamp_field()
    last_used_at: datetime = timestamp_field(index=True)
