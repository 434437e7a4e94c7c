"""The daily rollups the dashboard reads, recomputed by the `dashboard_rollup` job."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from crm_app.db import get_engine
from crm_app.services.dashboard.common import _BUCKETS
from crm_app.services.sla import TIER_SQL
from models.base import utcnow
from models.sla import HISTOGRAM_EDGES


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
