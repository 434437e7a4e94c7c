"""The manager's dashboard, the SLA warning board and an agent's own figures.

Aggregates come from daily rollups (`dashboard_daily`, `dashboard_sentiment_daily`), kept by
the `dashboard_rollup` job: a query reads a few hundred rows per day of range whatever the
number of tickets. Each figure is filed under the UTC day its event happened (created, first
answered, solved). Durations are in business minutes as the SLA clocks measured them; a ticket
without clocks (imported, seeded) counts its wall-clock minutes. Percentiles come from
fixed-bucket histograms, interpolated inside the bucket.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import get_engine
from crm_app.services.errors import InvalidInput
from crm_app.services.sla import TIER_LABELS, TIER_SQL
from models.base import utcnow
from models.sla import HISTOGRAM_EDGES
from models.ticket import OPEN_STATUSES

MAX_RANGE_DAYS = 800
ALL_AGENTS = -1  # the rollup row that sums every agent (0 is "unassigned")
BOARD_LIMIT = 200
_OPEN_SQL = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
_BUCKETS = len(HISTOGRAM_EDGES) + 1
NO_FIGURE = "—"  # what a rate or a duration over no data shows


@dataclass(frozen=True)
class DashboardFilter:
    start: date
    end: date  # inclusive
    agent_ids: tuple[int, ...] = ()  # empty: everyone (a team is a set of agents)

    def params(self) -> dict[str, Any]:
        return {"lo": self.start, "hi": self.end, "agents": list(self.agent_ids)}

    @property
    def agent_sql(self) -> str:
        """Rows of the chosen agents, or the all-agents rows (agent_id -1) for everyone."""
        return "AND agent_id = ANY(:agents)" if self.agent_ids else f"AND agent_id = {ALL_AGENTS}"

    @property
    def per_agent_sql(self) -> str:
        """Rows per agent (for the agent breakdowns): the chosen ones, or all of them."""
        return "AND d.agent_id = ANY(:agents)" if self.agent_ids else "AND d.agent_id >= 0"


def make_filter(
    start: str | date, end: str | date, agent_ids: Sequence[Any] = ()
) -> DashboardFilter:
    """A checked filter from what a page or the API sends."""
    try:
        lo = start if isinstance(start, date) else date.fromisoformat(str(start))
        hi = end if isinstance(end, date) else date.fromisoformat(str(end))
        agents = tuple(sorted({int(a) for a in agent_ids}))
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Dates are YYYY-MM-DD; agents are chosen from the list.") from exc
    if hi < lo:
        raise InvalidInput("The range ends before it starts.")
    if (hi - lo).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"Choose a range of at most {MAX_RANGE_DAYS} days.")
    return DashboardFilter(lo, hi, agents)


# --- rollups ----------------------------------------------------------------------------------


def _hist_sql(column: str, kind: str) -> str:
    edges = "ARRAY[" + ",".join(str(e) for e in HISTOGRAM_EDGES) + "]::float8[]"
    terms = ", ".join(
        f"count(*) FILTER (WHERE kind = '{kind}' AND width_bucket({column}, {edges}) = {i})::int"
        for i in range(_BUCKETS)
    )
    return f"ARRAY[{terms}]"


_TIER = TIER_SQL.format(nw="c.net_worth_reporting")
_SOLVED = "coalesce(t.resolved_at, t.closed_at)"
_ROLLUP_SQL = f"""
WITH base AS (
  SELECT coalesce(t.assignee_id, 0) AS agent_id, t.channel, t.priority,
         CASE WHEN t.client_id IS NULL THEN 'none' ELSE {_TIER} END AS tier,
         t.created_at, t.first_responded_at, {_SOLVED} AS solved_at,
         t.first_response_due_at, t.resolution_due_at,
         greatest(coalesce(s.first_response_business_minutes,
                  extract(epoch FROM t.first_responded_at - t.created_at) / 60), 0) AS fr_min,
         greatest(coalesce(s.resolution_business_minutes,
                  extract(epoch FROM {_SOLVED} - t.created_at) / 60), 0) AS res_min
  FROM ticket t
  LEFT JOIN client c ON c.id = t.client_id
  LEFT JOIN ticket_sla s ON s.ticket_id = t.id
  WHERE (t.created_at >= :lo AND t.created_at < :hi)
     OR (t.first_responded_at >= :lo AND t.first_responded_at < :hi)
     OR ({_SOLVED} >= :lo AND {_SOLVED} < :hi)
), facts AS (
  SELECT (created_at AT TIME ZONE 'UTC')::date AS day, agent_id, channel, priority, tier,
         'created' AS kind, NULL::float8 AS minutes, NULL::bool AS met
  FROM base WHERE created_at >= :lo AND created_at < :hi
  UNION ALL
  SELECT (first_responded_at AT TIME ZONE 'UTC')::date, agent_id, channel, priority, tier,
         'fr', fr_min, first_responded_at <= coalesce(first_response_due_at, 'infinity')
  FROM base WHERE first_responded_at >= :lo AND first_responded_at < :hi
  UNION ALL
  SELECT (solved_at AT TIME ZONE 'UTC')::date, agent_id, channel, priority, tier,
         'res', res_min, solved_at <= coalesce(resolution_due_at, 'infinity')
  FROM base WHERE solved_at >= :lo AND solved_at < :hi
  UNION ALL
  SELECT (e.at AT TIME ZONE 'UTC')::date, coalesce(t.assignee_id, 0), t.channel, t.priority,
         CASE WHEN t.client_id IS NULL THEN 'none' ELSE {_TIER} END,
         'nr', NULL, e.kind = 'met'
  FROM ticket_sla_event e JOIN ticket t ON t.id = e.ticket_id
  LEFT JOIN client c ON c.id = t.client_id
  WHERE e.target = 'next_response' AND e.at >= :lo AND e.at < :hi
    AND (e.kind = 'breached' OR (e.kind = 'met' AND e.detail NOT LIKE 'late%'))
)
INSERT INTO dashboard_daily (
  day, agent_id, dim, key, created, solved, first_responses, first_response_minutes,
  first_response_hist, resolutions, resolution_minutes, resolution_hist, first_response_met,
  first_response_breached, resolution_met, resolution_breached, next_response_met,
  next_response_breached)
SELECT day, CASE WHEN GROUPING(agent_id) = 1 THEN -1 ELSE agent_id END, d.dim, d.key,
       count(*) FILTER (WHERE kind = 'created'),
       count(*) FILTER (WHERE kind = 'res'),
       count(*) FILTER (WHERE kind = 'fr'),
       coalesce(sum(minutes) FILTER (WHERE kind = 'fr'), 0),
       {_hist_sql("minutes", "fr")},
       count(*) FILTER (WHERE kind = 'res'),
       coalesce(sum(minutes) FILTER (WHERE kind = 'res'), 0),
       {_hist_sql("minutes", "res")},
       count(*) FILTER (WHERE kind = 'fr' AND met),
       count(*) FILTER (WHERE kind = 'fr' AND NOT met),
       count(*) FILTER (WHERE kind = 'res' AND met),
       count(*) FILTER (WHERE kind = 'res' AND NOT met),
       count(*) FILTER (WHERE kind = 'nr' AND met),
       count(*) FILTER (WHERE kind = 'nr' AND NOT met)
FROM facts
CROSS JOIN LATERAL (VALUES ('all', ''), ('channel', channel), ('priority', priority),
                           ('tier', tier)) AS d(dim, key)
GROUP BY GROUPING SETS ((day, agent_id, d.dim, d.key), (day, d.dim, d.key))
"""

_SENTIMENT_SQL = """
INSERT INTO dashboard_sentiment_daily (day, label, messages, score_sum)
SELECT (m.created_at AT TIME ZONE 'UTC')::date, s.label, count(*), coalesce(sum(s.score), 0)
FROM message_sentiment s JOIN ticket_message m ON m.id = s.message_id
WHERE m.created_at >= :lo AND m.created_at < :hi
GROUP BY 1, 2
"""


@dataclass(frozen=True)
class RollupResult:
    days: int
    rows: int
    seconds: float


def refresh_rollups(
    days: int = 2, *, rebuild: bool = False, now: datetime | None = None
) -> RollupResult:
    """Recompute the rollups of the last `days` UTC days (today included), or of all time
    with `rebuild` (or when there are none yet). Side effects: replaces those days' rows in
    one transaction (readers see the old rows until it commits)."""
    started = time.monotonic()
    now = now or utcnow()
    today = now.astimezone(UTC).date()
    engine = get_engine()
    with engine.begin() as conn:
        empty = conn.execute(text("SELECT NOT EXISTS (SELECT 1 FROM dashboard_daily)")).scalar()
        if rebuild or empty:
            first = conn.execute(text("SELECT min(created_at) FROM ticket")).scalar()
            lo_day = first.astimezone(UTC).date() if first else today
        else:
            lo_day = today - timedelta(days=max(days, 1) - 1)
        lo = datetime.combine(lo_day, datetime.min.time(), UTC)
        hi = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
        conn.execute(text("DELETE FROM dashboard_daily WHERE day >= :lo"), {"lo": lo_day})
        conn.execute(text("DELETE FROM dashboard_sentiment_daily WHERE day >= :lo"), {"lo": lo_day})
        rows = conn.execute(text(_ROLLUP_SQL), {"lo": lo, "hi": hi}).rowcount
        conn.execute(text(_SENTIMENT_SQL), {"lo": lo, "hi": hi})
    return RollupResult((today - lo_day).days + 1, rows, time.monotonic() - started)


# --- dashboard queries ------------------------------------------------------------------------


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


def rate(met: int, judged: int) -> float | None:
    """`met` out of `judged` in percent (one decimal), or None when nothing was judged: a
    rate over no data is unknown, not 0%."""
    return round(100 * met / judged, 1) if judged else None


def rate_text(percent: float | None) -> str:
    """A rate as shown: "92.5%", or "—" when there was nothing to measure."""
    return NO_FIGURE if percent is None else f"{percent:g}%"


def duration_text(minutes: float) -> str:
    """Business minutes as "2d 3h", "3h 20m" or "45m"."""
    minutes = round(minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {mins}m" if hours else f"{mins}m"


def percentile(hist: Sequence[int], share: float) -> float:
    """The `share` quantile of a histogram over HISTOGRAM_EDGES, interpolated in its bucket."""
    hist = [int(h or 0) for h in hist]  # a sum over no rows is NULL
    total = sum(hist)
    if not total:
        return 0.0
    rank = share * total
    seen = 0
    for i, count in enumerate(hist):
        if count and seen + count >= rank:
            low = HISTOGRAM_EDGES[i - 1] if i > 0 else 0
            high = HISTOGRAM_EDGES[i] if i < len(HISTOGRAM_EDGES) else HISTOGRAM_EDGES[-1] * 2
            return round(low + (high - low) * (rank - seen) / count, 1)
        seen += count
    return float(HISTOGRAM_EDGES[-1])


def _rows(sql: str, params: dict[str, Any]) -> list[Any]:
    with get_engine().connect() as conn:
        return list(conn.execute(text(sql), params))


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


def _hist_total(column: str) -> str:
    """Element-wise sum of the histogram arrays of the grouped rows (one pass, no unnest)."""
    return "ARRAY[" + ", ".join(f"sum({column}[{i}])::int" for i in range(1, _BUCKETS + 1)) + "]"


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


# --- the SLA warning board and an agent's own view --------------------------------------------


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


def _left_text(minutes: int) -> str:
    sign = "overdue " if minutes < 0 else ""
    minutes = abs(minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days}d"] if days else []) + ([f"{hours}h"] if hours else []) + [f"{mins}m"]
    return sign + " ".join(parts[:2])


def _warning_rows(where: str, params: dict[str, Any], limit: int) -> list[WarningRow]:
    now = utcnow()
    rows = _rows(
        f"""
        SELECT t.number, t.subject, t.priority, t.sla_state, coalesce(t.assignee_id, 0) AS aid,
               coalesce(u.name, 'Unassigned') AS assignee, t.queue_due_at AS due
        FROM ticket t LEFT JOIN user_account u ON u.id = t.assignee_id
        WHERE t.status IN ({_OPEN_SQL}) {where}
        ORDER BY t.queue_due_at, t.id LIMIT :limit
        """,
        {**params, "limit": limit},
    )
    result = []
    for r in rows:
        due = r.due if r.due is not None and r.due.year < 9999 else None
        left = int((due - now).total_seconds() // 60) if due else 0
        result.append(
            WarningRow(
                int(r.number),
                r.subject,
                r.priority,
                r.sla_state,
                int(r.aid),
                r.assignee,
                due.strftime("%Y-%m-%d %H:%M UTC") if due else "",
                left,
                _left_text(left) if due else "—",
            )
        )
    return result


def warning_board(
    actor: Actor | None, limit: int = BOARD_LIMIT, agent_ids: Sequence[int] = ()
) -> list[WarningRow]:
    """Open tickets near breach or breached, soonest due first (overdue longest first); of
    the given assignees only (a team, one agent), or of everyone."""
    require(actor, Action.VIEW_DASHBOARDS)
    agents = "AND t.assignee_id = ANY(:agents)" if agent_ids else ""
    return _warning_rows(
        f"AND t.sla_state IN ('near_breach', 'breached') {agents}",
        {"agents": [int(a) for a in agent_ids]},
        min(max(int(limit), 1), 500),
    )


def my_open_tickets(actor: Actor | None, limit: int = 100) -> list[WarningRow]:
    """The signed-in agent's open tickets by SLA time left."""
    require(actor, Action.VIEW_TICKETS)
    assert actor is not None
    return _warning_rows(
        "AND t.assignee_id = :me", {"me": actor.user_id or 0}, min(max(int(limit), 1), 500)
    )


@dataclass(frozen=True)
class MyWeek:
    assigned: int
    solved: int
    median_first_response: float
    sla_percent: float | None  # None: nothing judged this week
    open_now: int
    first_responses: int = 0


def my_week(actor: Actor | None, now: datetime | None = None) -> MyWeek:
    """The signed-in agent's figures for the last seven days (from the rollups)."""
    require(actor, Action.VIEW_TICKETS)
    assert actor is not None
    today = (now or utcnow()).astimezone(UTC).date()
    f = DashboardFilter(today - timedelta(days=6), today, (actor.user_id or 0,))
    rows = _rows(
        f"""
        SELECT coalesce(sum(created), 0) AS assigned, coalesce(sum(solved), 0) AS solved,
               coalesce(sum(first_response_met + resolution_met), 0) AS met,
               coalesce(sum(first_response_met + resolution_met + first_response_breached
                            + resolution_breached), 0) AS judged,
               {_hist_total("first_response_hist")} AS hist,
               (SELECT count(*) FROM ticket WHERE status IN ({_OPEN_SQL})
                  AND assignee_id = ANY(:agents)) AS open_now
        FROM dashboard_daily WHERE dim = 'all' AND day BETWEEN :lo AND :hi {f.agent_sql}
        """,
        f.params(),
    )
    r = rows[0]
    hist = [int(h or 0) for h in r.hist or []]
    return MyWeek(
        int(r.assigned),
        int(r.solved),
        percentile(hist, 0.5),
        rate(int(r.met), int(r.judged)),
        int(r.open_now),
        sum(hist),
    )
