"""The Ory Kratos session behind a local browser session, so every request re-checks it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import timestamp_field


class OrySessionLink(SQLModel, table=True):
    """A local session opened by an Ory sign-in; the browser holds only the local cookie."""

    __tablename__ = "ory_session_link"

    user_session_id: int = Field(
        primary_key=True, foreign_key="user_session.id", ondelete="CASCADE"
    )
    # The Kratos session token, encrypted at rest (crm_app.crypto).
    ory_session_token: str = Field(sa_type=sa.Text())
    created_at: datetime = timestamp_field()
