"""Personal access tokens for the REST API: stored as a hash, scoped, expiring, revocable."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class TokenScope(StrEnum):
    READ = "read"  # GET only
    WRITE = "write"  # read and write


class ApiToken(SQLModel, table=True):
    """A user's API token. The secret is shown once at creation; only its SHA-256 is kept."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    name: str = Field(sa_type=sa.String(100))
    token_hash: str = Field(sa_type=sa.String(64), unique=True)
    # The first characters of the token, so its owner can tell tokens apart in the list.
    prefix: str = Field(sa_type=sa.String(16))
    scope: str = enum_field(TokenScope, TokenScope.READ)
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field(default_now=False)
    last_used_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    revoked_at: datetime | None = timestamp_field(nullable=True, default_now=False)
