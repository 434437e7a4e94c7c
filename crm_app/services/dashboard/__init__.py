"""The manager's dashboard, the SLA warning board and an agent's own figures.

Aggregates come from daily rollups (`dashboard_daily`, `dashboard_sentiment_daily`), kept by
the `dashboard_rollup` job: a query reads a few hundred rows per day of range whatever the
number of tickets. Each figure is filed under the UTC day its event happened (created, first
answered, solved). Durations are in business minutes as the SLA clocks measured them; a ticket
without clocks (imported, seeded) counts its wall-clock minutes. Percentiles come from
fixed-bucket histograms, interpolated inside the bucket.

One import for callers, `from crm_app.services import dashboard`; by what the code does:
- `rollups`: recomputing the daily rollups (the job's write)
- `queries`: the manager's dashboard figures, and a table as CSV (reads)
- `board`: the SLA warning board and an agent's own tickets and week (reads)
- `common`: the limits, the filter, and the arithmetic and wording of figures
- `rows`: the rows returned
"""

from crm_app.services.dashboard.board import my_open_tickets, my_week, warning_board
from crm_app.services.dashboard.common import (
    ALL_AGENTS,
    BOARD_LIMIT,
    MAX_RANGE_DAYS,
    NO_FIGURE,
    DashboardFilter,
    duration_text,
    make_filter,
    percentile,
    rate,
    rate_text,
)
from crm_app.services.dashboard.queries import (
    BREAKDOWNS,
    agent_table,
    breaches_by,
    daily_volume,
    open_now,
    response_times,
    sentiment_trend,
    sla_achievement,
    to_csv,
)
from crm_app.services.dashboard.rollups import RollupResult, refresh_rollups
from crm_app.services.dashboard.rows import (
    AchievementRow,
    AgentRow,
    BreakdownRow,
    DayRow,
    DurationStats,
    MyWeek,
    SentimentRow,
    WarningRow,
)

__all__ = [
    "ALL_AGENTS",
    "BOARD_LIMIT",
    "BREAKDOWNS",
    "MAX_RANGE_DAYS",
    "NO_FIGURE",
    "AchievementRow",
    "AgentRow",
    "BreakdownRow",
    "DashboardFilter",
    "DayRow",
    "DurationStats",
    "MyWeek",
    "RollupResult",
    "SentimentRow",
    "WarningRow",
    "agent_table",
    "breaches_by",
    "daily_volume",
    "duration_text",
    "make_filter",
    "my_open_tickets",
    "my_week",
    "open_now",
    "percentile",
    "rate",
    "rate_text",
    "refresh_rollups",
    "response_times",
    "sentiment_trend",
    "sla_achievement",
    "to_csv",
    "warning_board",
]
