"""Teams: named groups of staff (agents and managers) the dashboards filter by. A user may be
in several teams; a team's figures are the sum of its members' figures."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import timestamp_field


class Team(SQLModel, table=True):
    __tablename__ = "team"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(80), unique=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_member"

    team_id: int = Field(foreign_key="team.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(
        foreign_key="user_account.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    added_at: datetime = timestamp_field()
