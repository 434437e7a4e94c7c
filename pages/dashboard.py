"""The manager's dashboard (open tickets and backlog, created vs solved, response times in
business time, SLA achievement, breaches by agent/priority/channel/tier, the agent table and
client sentiment, with date-range and team filters, CSV export and refresh without reload),
and an agent's own view (my open tickets by SLA time left, my figures this week)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import audience_select, empty_state, form_error, stat_card
from crm_app.layout import signed_in_page
from crm_app.services import dashboard
from crm_app.services import teams as team_service
from crm_app.services.dashboard import NO_FIGURE, AgentRow
from crm_app.services.portal import csat as csat_service
from crm_app.state import AppState, service_event
from models.base import utcnow


def _durations(stats: dashboard.DurationStats) -> dict[str, str]:
    """Count, mean, median and p90 as shown: "—" for each when nothing was measured."""

    def shown(minutes: float) -> str:
        return dashboard.duration_text(minutes) if stats.count else NO_FIGURE

    return {
        "count": str(stats.count),
        "mean": shown(stats.mean),
        "median": shown(stats.median),
        "p90": shown(stats.p90),
    }


def _dicts(rows: list[Any]) -> list[dict[str, Any]]:
    from dataclasses import asdict

    return [asdict(r) for r in rows]


def _csat_row(figures: csat_service.AgentCsat) -> dict[str, str]:
    return {
        "agent": figures.agent_name,
        "ratings": str(figures.ratings),
        "average": f"{figures.average:.1f} / 5",
        "satisfied": f"{round(100 * figures.satisfied_share)}%",
    }


class DashboardState(AppState):
    start: str = ""
    end: str = ""
    audience: str = team_service.EVERYONE  # "everyone", "team:<id>" or "agent:<id>"
    team_choices: list[list[str]] = []
    agent_choices: list[list[str]] = []
    open_counts: dict[str, int] = {}
    volume: list[dict[str, Any]] = []
    first_response: dict[str, str] = {}  # count, mean, median, p90 (business time)
    resolution: dict[str, str] = {}
    achievement: list[dict[str, Any]] = []
    by_agent: list[dict[str, Any]] = []
    by_priority: list[dict[str, Any]] = []
    by_channel: list[dict[str, Any]] = []
    by_tier: list[dict[str, Any]] = []
    agents: list[AgentRow] = []
    sentiment: list[dict[str, Any]] = []
    csat: list[dict[str, str]] = []  # agent, ratings, average, satisfied (4 or 5)
    refreshed_at: str = ""
    filter_error: str = ""

    def _filter(self, actor: Actor) -> dashboard.DashboardFilter:
        agents = team_service.audience_agent_ids(actor, self.audience)
        return dashboard.make_filter(self.start, self.end, agents)

    @service_event(error_var="filter_error")
    def load(self, actor: Actor):
        if not self.start or not self.end:
            today = utcnow().date()
            self.start, self.end = (today - timedelta(days=29)).isoformat(), today.isoformat()
        self.team_choices, self.agent_choices = team_service.audience_pairs(actor)
        self.filter_error = ""
        f = self._filter(actor)
        self.open_counts = dashboard.open_now(actor, f.agent_ids)
        self.volume = _dicts(dashboard.daily_volume(actor, f))
        times = dashboard.response_times(actor, f)
        self.first_response = _durations(times["first_response"])
        self.resolution = _durations(times["resolution"])
        self.achievement = _dicts(dashboard.sla_achievement(actor, f))
        self.by_agent = _dicts(dashboard.breaches_by(actor, f, "agent"))
        self.by_priority = _dicts(dashboard.breaches_by(actor, f, "priority"))
        self.by_channel = _dicts(dashboard.breaches_by(actor, f, "channel"))
        self.by_tier = _dicts(dashboard.breaches_by(actor, f, "tier"))
        figures = csat_service.agent_figures(actor, start=f.start, end=f.end, agent_ids=f.agent_ids)
        by_agent = {c.agent_id: c for c in figures}
        self.csat = [_csat_row(c) for c in figures]
        self.agents = [
            replace(a, csat=f"{by_agent[a.agent_id].average:.1f} ({by_agent[a.agent_id].ratings})")
            if a.agent_id in by_agent
            else a
            for a in dashboard.agent_table(actor, f)
        ]
        self.sentiment = _dicts(dashboard.sentiment_trend(actor, f))
        self.refreshed_at = utcnow().strftime("%H:%M:%S UTC")

    @rx.event
    def set_start(self, value: str):
        self.start = str(value)[:10]

    @rx.event
    def set_end(self, value: str):
        self.end = str(value)[:10]

    @rx.event
    def set_audience(self, value: str):
        self.audience = str(value)[:40]
        return DashboardState.load

    @service_event
    def export(self, actor: Actor, table: str):
        """CSV of one table as shown (recomputed from the service for this filter)."""
        f = self._filter(actor)
        makers = {
            "volume": lambda: dashboard.daily_volume(actor, f),
            "achievement": lambda: dashboard.sla_achievement(actor, f),
            "agents": lambda: dashboard.agent_table(actor, f),
            "sentiment": lambda: dashboard.sentiment_trend(actor, f),
            **{
                f"breaches_{d}": (lambda d=d: dashboard.breaches_by(actor, f, d))
                for d in dashboard.BREAKDOWNS
            },
        }
        if table not in makers:
            return rx.toast.error("Unknown table.")
        return rx.download(
            data=dashboard.to_csv(makers[table]()),
            filename=f"{table}_{f.start.isoformat()}_{f.end.isoformat()}.csv",
        )


D = DashboardState


def _export(table: str) -> rx.Component:
    return rx.button(
        rx.icon("download", size=14),
        "CSV",
        size="1",
        variant="soft",
        color_scheme="gray",
        on_click=D.export(table),
        aria_label=f"Export {table.replace('_', ' ')} as CSV",
        id=f"export-{table}",
    )


def _card(title: str, body: rx.Component, table: str | None = None, **props: Any) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(title, weight="bold", size="2"),
                rx.spacer(),
                _export(table) if table else rx.fragment(),
                width="100%",
                align="center",
            ),
            body,
            spacing="2",
            width="100%",
        ),
        width="100%",
        **props,
    )


def _filters() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text("From", as_="label", html_for="dash-start", size="1"),
            rx.input(type="date", id="dash-start", value=D.start, on_change=D.set_start),
            spacing="1",
        ),
        rx.vstack(
            rx.text("To", as_="label", html_for="dash-end", size="1"),
            rx.input(type="date", id="dash-end", value=D.end, on_change=D.set_end),
            spacing="1",
        ),
        audience_select(
            D.team_choices,
            D.agent_choices,
            value=D.audience,
            on_change=D.set_audience,
            select_id="dash-agent",
        ),
        rx.button(rx.icon("refresh-cw", size=14), "Refresh", on_click=D.load, id="dash-refresh"),
        rx.text("Updated ", D.refreshed_at, size="1", color_scheme="gray"),
        align="end",
        spacing="3",
        wrap="wrap",
    )


def _bar_chart(
    data: Any, bars: list[tuple[str, str]], x: str, height: int = 220, *, every_label: bool = False
) -> rx.Component:
    # every_label: one slanted label per bar (agents' names), instead of recharts skipping some.
    axis = (
        {"interval": 0, "angle": -35, "text_anchor": "end", "height": 80, "tick": {"fontSize": 11}}
        if every_label
        else {}
    )
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(data_key=x, **axis),
        rx.recharts.y_axis(),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        *[
            rx.recharts.bar(data_key=key, fill=color, name=key.replace("_", " "))
            for key, color in bars
        ],
        data=data,
        width="100%",
        height=height,
    )


def _breakdown(title: str, data: Any, table: str, every_label: bool = False) -> rx.Component:
    return _card(
        title,
        rx.cond(
            data.length() > 0,
            _bar_chart(
                data,
                [("breaches", "#e5484d"), ("total", "#8da4ef")],
                "label",
                260 if every_label else 200,
                every_label=every_label,
            ),
            rx.text("No figures in this range.", size="2", color_scheme="gray"),
        ),
        table,
        flex="1",
        min_width="18rem",
    )


def _agent_table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(h)
                    for h in (
                        "Agent",
                        "Assigned",
                        "Solved",
                        "Median first response",
                        "SLA %",
                        "CSAT",
                    )
                ]
            )
        ),
        rx.table.body(
            rx.foreach(
                D.agents,
                lambda a: rx.table.row(
                    rx.table.cell(a.name),
                    rx.table.cell(a.assigned),
                    rx.table.cell(a.solved),
                    rx.table.cell(a.median_first_response_text),
                    rx.table.cell(a.sla_percent_text),
                    rx.table.cell(a.csat),
                ),
            )
        ),
        size="1",
        width="100%",
        id="agent-table",
    )


def _csat_table() -> rx.Component:
    return rx.cond(
        D.csat.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Agent", "Ratings", "Average", "Satisfied (4 or 5)")
                    ]
                )
            ),
            rx.table.body(
                rx.foreach(
                    D.csat,
                    lambda c: rx.table.row(
                        rx.table.cell(c["agent"]),
                        rx.table.cell(c["ratings"]),
                        rx.table.cell(c["average"]),
                        rx.table.cell(c["satisfied"]),
                        class_name="csat-row",
                    ),
                )
            ),
            size="1",
            width="100%",
            id="csat-table",
        ),
        rx.text(
            "No client ratings in this range yet: clients rate a request in the portal once it "
            "is solved.",
            size="2",
            color_scheme="gray",
            id="csat-empty",
        ),
    )


@signed_in_page(routes.DASHBOARD, "Dashboard", Action.VIEW_DASHBOARDS, on_load=[D.load])
def dashboard_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Dashboard", size="6"),
        _filters(),
        form_error(D.filter_error),
        rx.hstack(
            stat_card("Open now", D.open_counts["total"], "new, open and pending"),
            stat_card("Near breach", D.open_counts["near_breach"].to(int), "open tickets"),
            stat_card("Breached", D.open_counts["breached"].to(int), "open tickets"),
            stat_card(
                "First response",
                D.first_response["median"],
                "median · mean " + D.first_response["mean"] + " · p90 " + D.first_response["p90"],
            ),
            stat_card(
                "Resolution",
                D.resolution["median"],
                "median · mean " + D.resolution["mean"] + " · p90 " + D.resolution["p90"],
            ),
            width="100%",
            wrap="wrap",
            spacing="3",
            id="dash-stats",
        ),
        rx.cond(
            D.volume.length() > 0,
            rx.vstack(
                rx.hstack(
                    _card(
                        "Created vs solved per day",
                        _bar_chart(
                            D.volume, [("created", "#3e63dd"), ("solved", "#30a46c")], "day"
                        ),
                        "volume",
                        flex="2",
                        min_width="24rem",
                    ),
                    _card(
                        "Backlog (unsolved at day end)",
                        rx.recharts.line_chart(
                            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                            rx.recharts.x_axis(data_key="day"),
                            rx.recharts.y_axis(),
                            rx.recharts.graphing_tooltip(),
                            rx.recharts.line(data_key="backlog", stroke="#f76b15", dot=False),
                            data=D.volume,
                            width="100%",
                            height=220,
                        ),
                        flex="1",
                        min_width="18rem",
                    ),
                    width="100%",
                    wrap="wrap",
                ),
                _card(
                    "SLA achievement",
                    rx.hstack(
                        rx.foreach(
                            D.achievement,
                            lambda a: stat_card(
                                a["target"],
                                a["percent_text"],
                                a["met"].to_string()
                                + " met · "
                                + a["breached"].to_string()
                                + " breached",
                            ),
                        ),
                        width="100%",
                        spacing="3",
                    ),
                    "achievement",
                ),
                rx.hstack(
                    _breakdown("Breaches by agent", D.by_agent, "breaches_agent", every_label=True),
                    _breakdown("Breaches by priority", D.by_priority, "breaches_priority"),
                    width="100%",
                    wrap="wrap",
                    align="stretch",
                ),
                rx.hstack(
                    _breakdown("Breaches by channel", D.by_channel, "breaches_channel"),
                    _breakdown("Breaches by client tier", D.by_tier, "breaches_tier"),
                    width="100%",
                    wrap="wrap",
                ),
                _card("Agents", _agent_table(), "agents"),
                _card("Client satisfaction (CSAT) by agent", _csat_table()),
                _card(
                    "Client sentiment per day",
                    rx.cond(
                        D.sentiment.length() > 0,
                        rx.recharts.area_chart(
                            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                            rx.recharts.x_axis(data_key="day"),
                            rx.recharts.y_axis(),
                            rx.recharts.graphing_tooltip(),
                            rx.recharts.legend(),
                            rx.recharts.area(
                                data_key="negative", stack_id="1", fill="#e5484d", stroke="#e5484d"
                            ),
                            rx.recharts.area(
                                data_key="neutral", stack_id="1", fill="#8b8d98", stroke="#8b8d98"
                            ),
                            rx.recharts.area(
                                data_key="positive", stack_id="1", fill="#30a46c", stroke="#30a46c"
                            ),
                            data=D.sentiment,
                            width="100%",
                            height=200,
                        ),
                        rx.text(
                            "No scored client messages in this range yet (the ai_index "
                            "job scores new ones).",
                            size="2",
                            color_scheme="gray",
                        ),
                    ),
                    "sentiment",
                ),
                width="100%",
                spacing="3",
            ),
            empty_state(
                "chart-column",
                "No tickets in this range",
                "Choose another range, or wait for the next rollup (every 5 minutes).",
            ),
        ),
        spacing="4",
        width="100%",
        max_width="80rem",
        id="dashboard",
    )
