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
from crm_app.components import empty_state, form_error, sla_badge
from crm_app.layout import signed_in_page
from crm_app.services import dashboard
from crm_app.services import tickets as ticket_service
from crm_app.services.dashboard import AgentRow, WarningRow
from crm_app.services.portal import csat as csat_service
from crm_app.state import AppState, service_event
from models.base import utcnow

EVERYONE = "everyone"


def _durations(stats: dashboard.DurationStats) -> dict[str, str]:
    return {
        "count": str(stats.count),
        "mean": dashboard.duration_text(stats.mean),
        "median": dashboard.duration_text(stats.median),
        "p90": dashboard.duration_text(stats.p90),
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
    agent: str = EVERYONE  # a user id, or EVERYONE
    staff: list[list[str]] = []
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

    def _filter(self) -> dashboard.DashboardFilter:
        agents = [] if self.agent == EVERYONE else [self.agent]
        return dashboard.make_filter(self.start, self.end, agents)

    @service_event(error_var="filter_error")
    def load(self, actor: Actor):
        if not self.start or not self.end:
            today = utcnow().date()
            self.start, self.end = (today - timedelta(days=29)).isoformat(), today.isoformat()
        if not self.staff:
            self.staff = [[str(u), n] for u, n in ticket_service.staff_choices(actor)]
        self.filter_error = ""
        f = self._filter()
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
    def set_agent(self, value: str):
        self.agent = str(value)[:20]
        return DashboardState.load

    @service_event
    def export(self, actor: Actor, table: str):
        """CSV of one table as shown (recomputed from the service for this filter)."""
        f = self._filter()
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


def _stat(label: str, value: Any, hint: Any = "") -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray"),
            rx.heading(value, size="6"),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="0",
        ),
        flex="1",
        min_width="9rem",
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
        rx.vstack(
            rx.text("Team", as_="label", html_for="dash-agent", size="1"),
            rx.el.select(
                rx.el.option("Everyone", value=EVERYONE),
                rx.foreach(D.staff, lambda s: rx.el.option(s[1], value=s[0])),
                id="dash-agent",
                value=D.agent,
                on_change=D.set_agent,
                style={
                    "padding": "6px",
                    "border_radius": "6px",
                    "border": f"1px solid {rx.color('gray', 7)}",
                },
            ),
            spacing="1",
        ),
        rx.button(rx.icon("refresh-cw", size=14), "Refresh", on_click=D.load, id="dash-refresh"),
        rx.text("Updated ", D.refreshed_at, size="1", color_scheme="gray"),
        align="end",
        spacing="3",
        wrap="wrap",
    )


def _bar_chart(data: Any, bars: list[tuple[str, str]], x: str, height: int = 220) -> rx.Component:
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(data_key=x),
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


def _breakdown(title: str, data: Any, table: str) -> rx.Component:
    return _card(
        title,
        rx.cond(
            data.length() > 0,
            _bar_chart(data, [("breaches", "#e5484d"), ("total", "#8da4ef")], "label", 200),
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
                    rx.table.cell(a.sla_percent.to_string() + "%"),
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
            _stat("Open now", D.open_counts["total"], "new, open and pending"),
            _stat("Near breach", D.open_counts["near_breach"].to(int), "open tickets"),
            _stat("Breached", D.open_counts["breached"].to(int), "open tickets"),
            _stat(
                "First response",
                D.first_response["median"],
                "median · mean " + D.first_response["mean"] + " · p90 " + D.first_response["p90"],
            ),
            _stat(
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
                            lambda a: _stat(
                                a["target"],
                                rx.cond(
                                    (a["met"].to(int) + a["breached"].to(int)) > 0,
                                    a["percent"].to_string() + "%",
                                    "—",
                                ),
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
                    _breakdown("Breaches by agent", D.by_agent, "breaches_agent"),
                    _breakdown("Breaches by priority", D.by_priority, "breaches_priority"),
                    width="100%",
                    wrap="wrap",
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


# --- an agent's own view ----------------------------------------------------------------------


class MyWorkState(AppState):
    tickets: list[WarningRow] = []
    week: dict[str, str] = {}

    @service_event
    def load(self, actor: Actor):
        from dataclasses import asdict

        self.tickets = dashboard.my_open_tickets(actor)
        week = asdict(dashboard.my_week(actor))
        week["median_first_response"] = dashboard.duration_text(week["median_first_response"])
        self.week = {k: str(v) for k, v in week.items()}
        mine = csat_service.agent_figures(actor, agent_id=actor.user_id, days=30)
        self.week["csat"] = f"{mine[0].average:.1f} / 5" if mine else "—"
        self.week["csat_hint"] = (
            f"{mine[0].ratings} ratings, last 30 days" if mine else "no ratings in 30 days"
        )


def _ticket_row(row: WarningRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link("#", row.number, href=routes.ticket(row.number))),
        rx.table.cell(
            rx.text(
                row.subject,
                max_width="28rem",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
            )
        ),
        rx.table.cell(row.priority),
        rx.table.cell(sla_badge(row.sla_state)),
        rx.table.cell(rx.text(row.time_left, color=rx.cond(row.minutes_left < 0, "red", ""))),
    )


@signed_in_page(routes.MY_WORK, "My work", Action.VIEW_TICKETS, on_load=[MyWorkState.load])
def my_work_page() -> rx.Component:
    m = MyWorkState
    return rx.vstack(
        rx.hstack(
            rx.heading("My work", size="6"),
            rx.spacer(),
            rx.button(rx.icon("refresh-cw", size=14), "Refresh", on_click=m.load, variant="soft"),
            width="100%",
        ),
        rx.hstack(
            _stat("Open now", m.week["open_now"], "assigned to me"),
            _stat("Assigned this week", m.week["assigned"], "last 7 days"),
            _stat("Solved this week", m.week["solved"], "last 7 days"),
            _stat("Median first response", m.week["median_first_response"], "business time"),
            _stat("SLA met", m.week["sla_percent"] + "%", "first response, resolution"),
            _stat("Client satisfaction", m.week["csat"], m.week["csat_hint"]),
            wrap="wrap",
            width="100%",
        ),
        rx.cond(
            m.tickets.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Ticket", "Subject", "Priority", "SLA", "Time left")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(m.tickets, _ticket_row)),
                size="1",
                width="100%",
                id="my-tickets",
            ),
            empty_state("circle-check", "Nothing open", "No open tickets are assigned to you."),
        ),
        spacing="4",
        width="100%",
        max_width="76rem",
    )
