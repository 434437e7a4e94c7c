"""Business-hours calendars: a time zone, opening hours per weekday and holidays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.base import timestamp_field


class BusinessCalendar(SQLModel, table=True):
    __tablename__ = "business_calendar"
    __table_args__ = (
        # At most one named default: policies without a calendar count on it.
        sa.Index(
            "uq_business_calendar_default",
            "is_default",
            unique=True,
            postgresql_where=sa.text("is_default"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(100), unique=True)
    time_zone: str = Field(default="UTC", sa_type=sa.String(64))  # an IANA name
    # {"0": [["09:00", "17:00"]], ... "6": []}: Monday is "0"; "24:00" closes at midnight.
    hours: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    # Local dates ("2026-12-25") on which the calendar is closed all day.
    holidays: list[str] = Field(default_factory=list, sa_type=JSONB)
    is_default: bool = Field(default=False)
    updated_at: datetime = timestamp_field()
