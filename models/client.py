"""The firm's clients with the finance fields an advisory business runs on."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class RiskCategory(StrEnum):
    CONSERVATIVE = "conservative"
    MODERATE = "moderate"
    AGGRESSIVE = "aggressive"


class Client(SQLModel, table=True):
    __tablename__ = "client"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(200), index=True)
    email: str | None = Field(default=None, sa_type=sa.String(320), index=True)
    phone: str | None = Field(default=None, sa_type=sa.String(40))
    region: str | None = Field(default=None, sa_type=sa.String(100))
    risk_category: str = enum_field(RiskCategory, RiskCategory.MODERATE)
    net_worth: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    currency: str = Field(default="USD", sa_type=sa.String(3))
    owner_agent_id: int | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="SET NULL"
    )
    portal_user_id: int | None = Field(
        default=None, foreign_key="user_account.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
