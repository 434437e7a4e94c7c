"""The frozen rows the dashboard, the SLA warning board and an agent's own view are given."""

from __future__ import annotations

from dataclasses import dataclass

from crm_app.services.dashboard.common import NO_FIGURE


@dataclass(frozen=True)
class DayRow:
    day: str
    created: int
    solved: int
    backlog: int


@dataclass(frozen=True)
class DurationStats:
    count: int
    mean: float
    median: float
    p90: float


@dataclass(frozen=True)
class AchievementRow:
    target: str
    met: int
    breached: int
    percent: float | None  # None: nothing measured in the range
    percent_text: str = NO_FIGURE


@dataclass(frozen=True)
class BreakdownRow:
    key: str
    label: str
    breaches: int
    total: int


@dataclass(frozen=True)
class AgentRow:
    agent_id: int
    name: str
    assigned: int
    solved: int
    median_first_response: float
    sla_percent: float | None  # None: no first response or resolution judged
    csat: str
    median_first_response_text: str = ""
    sla_percent_text: str = NO_FIGURE


@dataclass(frozen=True)
class SentimentRow:
    day: str
    positive: int
    neutral: int
    negative: int
    average: float


@dataclass(frozen=True)
class WarningRow:
    number: int
    subject: str
    priority: str
    sla_state: str
    assignee_id: int
    assignee: str
    due_at: str
    minutes_left: int  # negative: overdue
    time_left: str


@dataclass(frozen=True)
class MyWeek:
    assigned: int
    solved: int
    median_first_response: float
    sla_percent: float | None  # None: nothing judged this week
    open_now: int
    first_responses: int = 0
