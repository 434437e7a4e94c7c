"""People who sign in, their sessions and failed login attempts."""

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


class LoginAttempt(SQLModel, table=True):
    """Failed logins, counted per email to rate-limit guessing across all web workers."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=sa.String(320), index=True)
    attempted_at: datetime = timestamp_field(index=True)
