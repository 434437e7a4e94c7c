"""Requests already carried out, by the key the client sent with them: a retried request (the
worker died after the commit, before the answer reached the browser) finds its receipt and
returns the first result instead of writing again."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import timestamp_field


class RequestReceipt(SQLModel, table=True):
    __tablename__ = "request_receipt"

    # Random per request, chosen by the client (a browser tab's composer): at most 64 chars.
    key: str = Field(sa_type=sa.String(64), primary_key=True)
    action: str = Field(sa_type=sa.String(40))
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    result_id: int = Field(sa_type=sa.BigInteger)
    created_at: datetime = timestamp_field(index=True)
