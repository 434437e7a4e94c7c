"""The SLA warning board and an agent's own view: open tickets by time left, and the agent's
week."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_app.auth.permissions import Action, Actor, require
from crm_app.services.dashboard.common import (
    _OPEN_SQL,
    BOARD_LIMIT,
    DashboardFilter,
    _hist_total,
    _rows,
    percentile,
    rate,
)
from crm_app.services.dashboard.rows import MyWeek, WarningRow
from models.base import utcnow


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
