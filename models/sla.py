"""SLA targets per priority."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import timestamp_field


class SlaConfig(SQLModel, table=True):
    __tablename__ = "sla_config"

    id: int | None = Field(default=None, primary_key=True)
    priority: str = Field(sa_type=sa.String(20), unique=True)
    first_response_minutes: int
    resolution_minutes: int
    updated_at: datetime = timestamp_field()
