"""Dashboards read rollups that agree with the raw tables: created/solved per day, SLA
achievement and breakdowns equal the plain aggregates; percentiles fall in the right bucket;
the job's incremental refresh picks up today's tickets; only managers see the figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from crm_app.auth.permissions import Actor
from crm_app.db import get_engine
from crm_app.services import dashboard, tickets
from crm_app.services.errors import InvalidInput, PermissionDenied
from crm_app.tools.demo_data import seed_demo
from models.sla import HISTOGRAM_EDGES
from tests.factories import make_client, make_user

NOW = datetime(2026, 6, 30, 9, 30, tzinfo=UTC)


@pytest.fixture
def seeded(db: str) -> Actor:
    seed_demo(tickets=1500, clients=200, agents=5, now=NOW, random_seed=3)
    dashboard.refresh_rollups(rebuild=True, now=NOW)
    return make_user("manager")


def _plain(sql: str, **params) -> list:
    with get_engine().connect() as conn:
        return list(conn.execute(text(sql), params))


def test_created_and_solved_per_day_equal_the_raw_counts(seeded: Actor) -> None:
    f = dashboard.make_filter(date(2025, 7, 1), NOW.date())
    days = dashboard.daily_volume(seeded, f)
    created = dict(
        _plain(
            "SELECT (created_at AT TIME ZONE 'UTC')::date::text, count(*) FROM ticket "
            "WHERE created_at >= :lo GROUP BY 1",
            lo=datetime(2025, 7, 1, tzinfo=UTC),
        )
    )
    solved = dict(
        _plain(
            "SELECT (coalesce(resolved_at, closed_at) AT TIME ZONE 'UTC')::date::text, count(*) "
            "FROM ticket WHERE coalesce(resolved_at, closed_at) >= :lo GROUP BY 1",
            lo=datetime(2025, 7, 1, tzinfo=UTC),
        )
    )
    assert {d.day: d.created for d in days if d.created} == created
    assert {d.day: d.solved for d in days if d.solved} == solved
    open_now = _plain("SELECT count(*) FROM ticket WHERE status IN ('new','open','pending')")
    assert days[-1].backlog == open_now[0][0]  # no reopenings in the demo data


def test_sla_achievement_and_breaches_by_priority_equal_the_raw_aggregates(seeded: Actor) -> None:
    f = dashboard.make_filter(date(2024, 6, 1), NOW.date())
    achieved = {a.target: a for a in dashboard.sla_achievement(seeded, f)}
    (raw,) = _plain(
        "SELECT count(*) FILTER (WHERE first_responded_at <= first_response_due_at),"
        " count(*) FILTER (WHERE first_responded_at > first_response_due_at)"
        " FROM ticket WHERE first_responded_at IS NOT NULL"
    )
    assert (achieved["First response"].met, achieved["First response"].breached) == tuple(raw)
    by_priority = {b.key: b.breaches for b in dashboard.breaches_by(seeded, f, "priority")}
    raw_priority = dict(
        _plain(
            "SELECT priority, count(*) FILTER (WHERE first_responded_at > first_response_due_at)"
            " + count(*) FILTER (WHERE coalesce(resolved_at, closed_at) > resolution_due_at)"
            " FROM ticket GROUP BY priority"
        )
    )
    assert by_priority == raw_priority
    tiers = {b.key for b in dashboard.breaches_by(seeded, f, "tier")}
    assert tiers <= {"private_banking", "premier", "retail", "none"} and tiers
    agents = dashboard.agent_table(seeded, f)
    assert sum(a.solved for a in agents) == sum(d.solved for d in dashboard.daily_volume(seeded, f))
    assert "agent_id,name,assigned" in dashboard.to_csv(agents).splitlines()[0]


def test_median_and_p90_fall_in_the_bucket_of_the_exact_percentile(seeded: Actor) -> None:
    f = dashboard.make_filter(date(2024, 6, 1), NOW.date())
    stats = dashboard.response_times(seeded, f)["first_response"]
    (exact,) = _plain(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY m), "
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY m), avg(m), count(*) FROM ("
        " SELECT extract(epoch FROM first_responded_at - created_at) / 60 AS m FROM ticket"
        " WHERE first_responded_at IS NOT NULL) x"
    )

    def bucket(value: float) -> int:
        return next((i for i, edge in enumerate(HISTOGRAM_EDGES) if value <= edge), 99)

    assert stats.count == exact[3]
    assert abs(stats.mean - float(exact[2])) < 0.1
    assert bucket(stats.median) in (bucket(exact[0]), bucket(exact[0]) + 1)
    assert bucket(stats.p90) in (bucket(exact[1]), bucket(exact[1]) + 1)


def test_the_job_refresh_counts_todays_new_ticket(db: str) -> None:
    manager = make_user("manager")
    today = datetime.now(UTC).date()
    f = dashboard.make_filter(today, today)
    dashboard.refresh_rollups()
    before = sum(d.created for d in dashboard.daily_volume(manager, f))
    tickets.create_ticket(manager, client_id=make_client(manager), subject="New", body="?")

    dashboard.refresh_rollups(days=2)

    assert sum(d.created for d in dashboard.daily_volume(manager, f)) == before + 1
    assert dashboard.open_now(manager)["total"] == 1
    assert dashboard.my_week(manager).assigned == 1
    assert dashboard.my_week(make_user("agent")).median_first_response == 0.0  # no rows


def test_only_dashboard_viewers_see_figures_and_filters_are_checked(db: str) -> None:
    agent = make_user("agent")
    f = dashboard.make_filter(date(2026, 1, 1), date(2026, 1, 31))
    with pytest.raises(PermissionDenied):
        dashboard.daily_volume(agent, f)
    with pytest.raises(PermissionDenied):
        dashboard.warning_board(agent)
    assert dashboard.my_open_tickets(agent) == []  # an agent's own view is theirs
    with pytest.raises(InvalidInput):
        dashboard.make_filter("2026-02-01", "2026-01-01")
    with pytest.raises(InvalidInput):
        dashboard.make_filter("yesterday", "2026-01-01")
    with pytest.raises(InvalidInput):
        dashboard.make_filter(date(2020, 1, 1), date(2026, 1, 1))
    assert dashboard.percentile([0] * (len(HISTOGRAM_EDGES) + 1), 0.5) == 0.0
    assert dashboard.make_filter(date(2026, 1, 1), date(2026, 1, 2)).end - timedelta(1) == date(
        2026, 1, 1
    )


def test_a_rate_or_a_time_with_nothing_measured_shows_a_dash_not_zero(db: str) -> None:
    from pages.dashboard import _durations
    from pages.my_work import week_figures

    manager = make_user("manager")
    agent = make_user("agent")
    tickets.create_ticket(manager, client_id=make_client(manager), subject="New", body="?")
    dashboard.refresh_rollups()
    today = datetime.now(UTC).date()
    f = dashboard.make_filter(today, today)

    achieved = dashboard.sla_achievement(manager, f)
    assert [(a.target, a.percent, a.percent_text) for a in achieved] == [
        ("First response", None, "—"),
        ("Next response", None, "—"),
        ("Resolution", None, "—"),
    ]
    (row,) = dashboard.agent_table(manager, f)  # a ticket created, none answered
    assert (row.sla_percent, row.sla_percent_text, row.median_first_response_text) == (
        None,
        "—",
        "—",
    )
    times = dashboard.response_times(manager, f)
    assert _durations(times["first_response"]) == {
        "count": "0",
        "mean": "—",
        "median": "—",
        "p90": "—",
    }
    week = week_figures(dashboard.my_week(agent))
    assert (week["sla_percent"], week["median_first_response"]) == ("—", "—")
    assert dashboard.rate_text(dashboard.rate(0, 4)) == "0%"  # measured and all missed is 0%
    assert dashboard.rate_text(dashboard.rate(37, 40)) == "92.5%"
