"""SLA: targets per priority, policies chosen by conditions, escalation rules, each ticket's
running clocks and its SLA history, and the dashboard's daily rollups."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class SlaConfig(SQLModel, table=True):
    """The built-in targets per priority (calendar minutes): the seed of the default policy."""

    __tablename__ = "sla_config"

    id: int | None = Field(default=None, primary_key=True)
    priority: str = Field(sa_type=sa.String(20), unique=True)
    first_response_minutes: int
    resolution_minutes: int
    updated_at: datetime = timestamp_field()


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"  # each client message after an agent's answer
    RESOLUTION = "resolution"


class SlaEventKind(StrEnum):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    NEAR_BREACH = "near_breach"
    BREACHED = "breached"
    MET = "met"
    ESCALATED = "escalated"


class SlaClock(StrEnum):
    """Where one target's clock is."""

    NONE = "none"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"  # met (in time or late)


class EscalationTrigger(StrEnum):
    NEAR_BREACH = "near_breach"
    BREACHED = "breached"


class SlaSettings(SQLModel, table=True):
    """One row: the configuration version. Every change of calendars, policies or rules bumps
    it, and the next scan recomputes the clocks of open tickets on an older version."""

    __tablename__ = "sla_settings"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=1)
    updated_at: datetime = timestamp_field()


class SlaPolicy(SQLModel, table=True):
    __tablename__ = "sla_policy"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(100), unique=True)
    # Checked in this order, lowest first; the first whose conditions all match wins.
    position: int = Field(default=0)
    is_default: bool = Field(default=False)  # applies when no other matches
    calendar_id: int | None = Field(
        default=None, foreign_key="business_calendar.id", ondelete="SET NULL"
    )
    # {"tiers": [...], "segment_ids": [...], "channels": [...], "priorities": [...]}: each
    # listed kind must match one of its values; an empty list matches anything.
    conditions: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    # {"urgent": {"first_response": 30, "next_response": 60, "resolution": 240}, ...} in
    # business minutes; a missing or zero target is not measured.
    targets: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    near_breach_share: float = Field(default=0.8)
    updated_at: datetime = timestamp_field()


class SlaEscalationRule(SQLModel, table=True):
    __tablename__ = "sla_escalation_rule"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(100))
    position: int = Field(default=0)
    is_active: bool = Field(default=True)
    policy_id: int | None = Field(default=None, foreign_key="sla_policy.id", ondelete="CASCADE")
    trigger: str = enum_field(EscalationTrigger, EscalationTrigger.NEAR_BREACH)
    target: str | None = Field(default=None, sa_type=sa.String(32))  # None: any target
    notify_assignee: bool = Field(default=True)
    notify_managers: bool = Field(default=False)
    send_email: bool = Field(default=False)
    raise_priority: bool = Field(default=False)
    # Reassign to the least-loaded active member of this group of staff (empty: keep).
    reassign_to: list[int] = Field(default_factory=list, sa_type=JSONB)
    updated_at: datetime = timestamp_field()


class TicketSla(SQLModel, table=True):
    """A ticket's SLA clocks: per target its length, the business minutes used before the
    clock last started, since when it runs, and the precomputed due and near-breach instants
    (so the scan only compares instants in SQL)."""

    __tablename__ = "ticket_sla"
    __table_args__ = (
        sa.Index(
            "ix_ticket_sla_alarm",
            "next_alarm_at",
            postgresql_where=sa.text("next_alarm_at IS NOT NULL"),
        ),
        sa.Index("ix_ticket_sla_version", "config_version"),
    )

    ticket_id: int = Field(primary_key=True, foreign_key="ticket.id", ondelete="CASCADE")
    policy_id: int | None = Field(default=None, foreign_key="sla_policy.id", ondelete="SET NULL")
    config_version: int = Field(default=0)
    # The ticket's creation time and priority these clocks were computed for: a ticket edited
    # outside the ticket actions (an import, a repair) is recomputed by the next scan.
    anchor_created_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    anchor_priority: str | None = Field(default=None, sa_type=sa.String(32))
    near_breach_share: float = Field(default=0.8)
    paused_at: datetime | None = timestamp_field(nullable=True, default_now=False)

    first_response_minutes: int | None = None
    first_response_clock: str = enum_field(SlaClock, SlaClock.NONE)
    first_response_used: float = Field(default=0.0)
    first_response_since: datetime | None = timestamp_field(nullable=True, default_now=False)
    first_response_due_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    first_response_near_at: datetime | None = timestamp_field(nullable=True, default_now=False)

    next_response_minutes: int | None = None
    next_response_clock: str = enum_field(SlaClock, SlaClock.NONE)
    next_response_cycle: int = Field(default=0)
    next_response_used: float = Field(default=0.0)
    next_response_since: datetime | None = timestamp_field(nullable=True, default_now=False)
    next_response_due_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    next_response_near_at: datetime | None = timestamp_field(nullable=True, default_now=False)

    resolution_minutes: int | None = None
    resolution_clock: str = enum_field(SlaClock, SlaClock.NONE)
    resolution_used: float = Field(default=0.0)
    resolution_since: datetime | None = timestamp_field(nullable=True, default_now=False)
    resolution_due_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    resolution_near_at: datetime | None = timestamp_field(nullable=True, default_now=False)

    # Business minutes to the first response and to resolution, once reached (dashboards).
    first_response_business_minutes: float | None = None
    resolution_business_minutes: float | None = None
    breached: bool = Field(default=False)  # any target ever breached
    near_breach: bool = Field(default=False)  # a running target is past its near-breach share
    # The earliest near-breach or due instant still ahead: the scan looks only at rows whose
    # alarm has passed (an index range), then moves the alarm on.
    next_alarm_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    updated_at: datetime = timestamp_field()


class TicketSlaEvent(SQLModel, table=True):
    """A ticket's SLA history: when each target started, paused, resumed, came near its
    breach, was breached or met, and each escalation."""

    __tablename__ = "ticket_sla_event"
    __table_args__ = (
        sa.Index("ix_ticket_sla_event_ticket", "ticket_id", "id"),
        # The scan records near-breach and breach once per target and cycle (ON CONFLICT).
        sa.Index(
            "uq_ticket_sla_event_once",
            "ticket_id",
            "target",
            "kind",
            "cycle",
            unique=True,
            postgresql_where=sa.text("kind IN ('near_breach', 'breached')"),
        ),
        sa.Index("ix_ticket_sla_event_kind_at", "kind", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", ondelete="CASCADE")
    target: str = Field(sa_type=sa.String(32))
    kind: str = enum_field(SlaEventKind, SlaEventKind.STARTED)
    cycle: int = Field(default=0)
    at: datetime = timestamp_field()
    due_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    detail: str = Field(default="", sa_type=sa.String(300))


HISTOGRAM_EDGES: tuple[int, ...] = (
    5,
    10,
    15,
    30,
    45,
    60,
    90,
    120,
    180,
    240,
    360,
    480,
    720,
    960,
    1440,
    2160,
    2880,
    4320,
    5760,
    7200,
    10080,
    14400,
    20160,
    43200,
)  # business minutes: bucket i holds values <= edge i (the last bucket: above all edges)


class DashboardDaily(SQLModel, table=True):
    """Per day, agent and one breakdown (all / channel / priority / tier): counts, sums and
    histograms of business-time durations, and SLA verdicts; kept by the dashboard_rollup job.
    Each figure is filed under the day its event happened (created, solved, answered)."""

    __tablename__ = "dashboard_daily"
    __table_args__ = (sa.Index("ix_dashboard_daily_dim_day", "dim", "day"),)

    day: date = Field(primary_key=True)
    agent_id: int = Field(default=0, primary_key=True)  # 0: unassigned; -1: all agents
    dim: str = Field(default="all", sa_type=sa.String(16), primary_key=True)
    key: str = Field(default="", sa_type=sa.String(32), primary_key=True)
    created: int = 0
    solved: int = 0
    first_responses: int = 0
    first_response_minutes: float = 0.0
    first_response_hist: list[int] = Field(default_factory=list, sa_type=ARRAY(sa.Integer))
    resolutions: int = 0
    resolution_minutes: float = 0.0
    resolution_hist: list[int] = Field(default_factory=list, sa_type=ARRAY(sa.Integer))
    first_response_met: int = 0
    first_response_breached: int = 0
    resolution_met: int = 0
    resolution_breached: int = 0
    next_response_met: int = 0
    next_response_breached: int = 0


class DashboardSentimentDaily(SQLModel, table=True):
    __tablename__ = "dashboard_sentiment_daily"

    day: date = Field(primary_key=True)
    label: str = Field(sa_type=sa.String(32), primary_key=True)
    messages: int = 0
    score_sum: float = 0.0
