"""The manager's dashboard: volume, response times, SLA achievement, breaches by dimension,
the agent table, sentiment and open tickets (reads), and a table as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from crm_app.auth.permissions import Action, Actor, require
from crm_app.services.dashboard.common import (
    _OPEN_SQL,
    NO_FIGURE,
    DashboardFilter,
    _hist_total,
    _rows,
    duration_text,
    percentile,
    rate,
    rate_text,
)
from crm_app.services.dashboard.rows import (
    AchievementRow,
    AgentRow,
    BreakdownRow,
    DayRow,
    DurationStats,
    SentimentRow,
)
from crm_app.services.errors import InvalidInput
from crm_app.services.sla import TIER_LABELS


def daily_volume(actor: Actor | None, f: DashboardFilter) -> list[DayRow]:
    """Created and solved per day, and the backlog (still unsolved) at each day's end."""
    require(actor, Action.VIEW_DASHBOARDS)
    rows = _rows(
        f"""
        WITH days AS (
          SELECT day, sum(created) AS created, sum(solved) AS solved
          FROM dashboard_daily WHERE dim = 'all' AND day <= :hi {f.agent_sql}
          GROUP BY day
        ), running AS (
          SELECT day, created, solved,
                 sum(created - solved) OVER (ORDER BY day) AS backlog
          FROM days
        )
        SELECT day, created, solved, backlog FROM running WHERE day >= :lo ORDER BY day
        """,
        f.params(),
    )
    return [DayRow(r.day.isoformat(), int(r.created), int(r.solved), int(r.backlog)) for r in rows]


def response_times(actor: Actor | None, f: DashboardFilter) -> dict[str, DurationStats]:
    """First response and resolution in business minutes: count, mean, median and 90th."""
    require(actor, Action.VIEW_DASHBOARDS)
    (row,) = _rows(
        f"""
        SELECT coalesce(sum(first_responses), 0) AS frn,
               coalesce(sum(first_response_minutes), 0) AS frm,
               coalesce(sum(resolutions), 0) AS rn, coalesce(sum(resolution_minutes), 0) AS rm,
               {_hist_total("first_response_hist")} AS frh,
               {_hist_total("resolution_hist")} AS rh
        FROM dashboard_daily WHERE dim = 'all' AND day BETWEEN :lo AND :hi {f.agent_sql}
        """,
        f.params(),
    )

    def stats(n: Any, minutes: Any, hist: Sequence[int] | None) -> DurationStats:
        n = int(n)
        hist = [int(h or 0) for h in hist or []]
        return DurationStats(
            n,
            round(float(minutes) / n, 1) if n else 0.0,
            percentile(hist, 0.5),
            percentile(hist, 0.9),
        )

    return {
        "first_response": stats(row.frn, row.frm, row.frh),
        "resolution": stats(row.rn, row.rm, row.rh),
    }


def sla_achievement(actor: Actor | None, f: DashboardFilter) -> list[AchievementRow]:
    require(actor, Action.VIEW_DASHBOARDS)
    (row,) = _rows(
        f"""
        SELECT coalesce(sum(first_response_met), 0) AS frm,
               coalesce(sum(first_response_breached), 0) AS frb,
               coalesce(sum(next_response_met), 0) AS nrm,
               coalesce(sum(next_response_breached), 0) AS nrb,
               coalesce(sum(resolution_met), 0) AS rm, coalesce(sum(resolution_breached), 0) AS rb
        FROM dashboard_daily WHERE dim = 'all' AND day BETWEEN :lo AND :hi {f.agent_sql}
        """,
        f.params(),
    )

    def achieved(label: str, met: int, breached: int) -> AchievementRow:
        percent = rate(met, met + breached)
        return AchievementRow(label, met, breached, percent, rate_text(percent))

    return [
        achieved("First response", int(row.frm), int(row.frb)),
        achieved("Next response", int(row.nrm), int(row.nrb)),
        achieved("Resolution", int(row.rm), int(row.rb)),
    ]


BREAKDOWNS = ("agent", "priority", "channel", "tier")


def breaches_by(actor: Actor | None, f: DashboardFilter, dimension: str) -> list[BreakdownRow]:
    """Breached first responses and resolutions in the range, by agent, priority, channel or
    client tier, most first."""
    require(actor, Action.VIEW_DASHBOARDS)
    if dimension not in BREAKDOWNS:
        raise InvalidInput("Break down by agent, priority, channel or tier.")
    if dimension == "agent":
        rows = _rows(
            f"""
            SELECT d.agent_id::text AS key, coalesce(u.name, 'Unassigned') AS label,
                   sum(first_response_breached + resolution_breached) AS breaches,
                   sum(first_responses + resolutions) AS total
            FROM dashboard_daily d LEFT JOIN user_account u ON u.id = d.agent_id
            WHERE dim = 'all' AND day BETWEEN :lo AND :hi {f.per_agent_sql}
            GROUP BY d.agent_id, u.name ORDER BY breaches DESC, label
            """,
            f.params(),
        )
    else:
        rows = _rows(
            f"""
            SELECT key, key AS label,
                   sum(first_response_breached + resolution_breached) AS breaches,
                   sum(first_responses + resolutions) AS total
            FROM dashboard_daily WHERE dim = :dim AND day BETWEEN :lo AND :hi {f.agent_sql}
            GROUP BY key ORDER BY breaches DESC, key
            """,
            {**f.params(), "dim": dimension},
        )
    labels = TIER_LABELS if dimension == "tier" else {}
    return [
        BreakdownRow(
            r.key,
            labels.get(r.label, str(r.label).replace("_", " ")),
            int(r.breaches),
            int(r.total),
        )
        for r in rows
    ]


def agent_table(actor: Actor | None, f: DashboardFilter) -> list[AgentRow]:
    """Per agent: tickets assigned (created in range), solved, median first response, SLA %
    (first responses and resolutions in time). CSAT is not collected yet: shown as —."""
    require(actor, Action.VIEW_DASHBOARDS)
    rows = _rows(
        f"""
        SELECT d.agent_id, coalesce(u.name, 'Unassigned') AS name, sum(created) AS assigned,
               sum(solved) AS solved,
               sum(first_response_met + resolution_met) AS met,
               sum(first_response_met + resolution_met + first_response_breached
                   + resolution_breached) AS judged,
               {_hist_total("first_response_hist")} AS hist
        FROM dashboard_daily d LEFT JOIN user_account u ON u.id = d.agent_id
        WHERE d.dim = 'all' AND d.day BETWEEN :lo AND :hi {f.per_agent_sql}
        GROUP BY d.agent_id, u.name ORDER BY solved DESC, name
        """,
        f.params(),
    )
    result = []
    for r in rows:
        hist = [int(h or 0) for h in r.hist or []]
        median = percentile(hist, 0.5)
        percent = rate(int(r.met), int(r.judged))
        result.append(
            AgentRow(
                int(r.agent_id),
                r.name,
                int(r.assigned),
                int(r.solved),
                median,
                percent,
                NO_FIGURE,
                duration_text(median) if sum(hist) else NO_FIGURE,
                rate_text(percent),
            )
        )
    return result


def sentiment_trend(actor: Actor | None, f: DashboardFilter) -> list[SentimentRow]:
    """Client messages per day by sentiment, with the average score (all agents)."""
    require(actor, Action.VIEW_DASHBOARDS)
    rows = _rows(
        """
        SELECT day,
               coalesce(sum(messages) FILTER (WHERE label = 'positive'), 0) AS positive,
               coalesce(sum(messages) FILTER (WHERE label = 'neutral'), 0) AS neutral,
               coalesce(sum(messages) FILTER (WHERE label = 'negative'), 0) AS negative,
               sum(score_sum) / nullif(sum(messages), 0) AS average
        FROM dashboard_sentiment_daily WHERE day BETWEEN :lo AND :hi GROUP BY day ORDER BY day
        """,
        f.params(),
    )
    return [
        SentimentRow(
            r.day.isoformat(),
            int(r.positive),
            int(r.neutral),
            int(r.negative),
            round(float(r.average or 0), 3),
        )
        for r in rows
    ]


def open_now(actor: Actor | None, agent_ids: Sequence[int] = ()) -> dict[str, int]:
    """Open tickets right now, by SLA state (a live count from the ticket table's index)."""
    require(actor, Action.VIEW_DASHBOARDS)
    agents = "AND assignee_id = ANY(:agents)" if agent_ids else ""
    rows = _rows(
        f"SELECT sla_state, count(*) AS n FROM ticket WHERE status IN ({_OPEN_SQL}) {agents} "
        "GROUP BY sla_state",
        {"agents": list(agent_ids)},
    )
    counts = {r.sla_state: int(r.n) for r in rows}
    counts["total"] = sum(counts.values())
    return counts


def to_csv(rows: Sequence[Any]) -> str:
    """A table (dataclass rows) as CSV text, header first."""
    buffer = io.StringIO()
    if not rows:
        return ""
    data = [asdict(r) for r in rows]
    writer = csv.DictWriter(buffer, fieldnames=list(data[0]))
    writer.writeheader()
    writer.writerows(data)
    return buffer.getvalue()
