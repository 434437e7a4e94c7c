"""What the dashboard's modules share: the limits, the filter a page or the API sends, and the
arithmetic and wording of rates, durations and percentiles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text

from crm_app.db import get_engine
from crm_app.services.errors import InvalidInput
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


def _hist_total(column: str) -> str:
    """Element-wise sum of the histogram arrays of the grouped rows (one pass, no unnest)."""
    return "ARRAY[" + ", ".join(f"sum({column}[{i}])::int" for i in range(1, _BUCKETS + 1)) + "]"
