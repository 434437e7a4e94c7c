"""The agent queue: views, combinable filters, keyset pages, search with highlights, bulk
actions, live reload, and the new-ticket dialog."""

from __future__ import annotations

import asyncio
import time

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.layout import empty_state, field, form_error, signed_in_page
from crm_app.services import assignment, live, saved_views
from crm_app.services import clients as client_service
from crm_app.services import search as search_service
from crm_app.services import tickets as ticket_service
from crm_app.services.errors import InvalidInput, ServiceError
from crm_app.services.saved_views import ViewRow
from crm_app.services.search import SearchHit
from crm_app.services.tickets import QueueFilters, TicketRow
from crm_app.state import AppState, chain, error_toast
from models.ai import SentimentLabel
from models.ticket import Channel, SlaState, TicketPriority

PAGE_SIZE = 25


def plural(count: int, word: str) -> str:
    """"1 ticket", "2 tickets", "10,000 tickets"."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")

NO_CLIENT = "— no client —"


LIVE_POLL_SECONDS = 3
LIVE_MAX_SECONDS = 4 * 3600  # a forgotten tab stops polling after a working day's half
ANY = "any"
STATUS_CHOICES = ["open", "new", "pending", "resolved", "closed", "all"]
PRIORITY_CHOICES = [ANY, *[p.value for p in TicketPriority]]
CHANNEL_CHOICES = [ANY, *[c.value for c in Channel]]
SLA_CHOICES = [ANY, *[s.value for s in SlaState]]
SENTIMENT_CHOICES = [ANY, *[s.value for s in SentimentLabel]]
BULK_STATUS = ["pending", "open", "resolved", "closed"]


class TicketsState(AppState):
    tickets: list[TicketRow] = []
    total: int = 0
    total_capped: bool = False
    page: int = 1
    has_next: bool = False
    _cursors: list[str] = [""]  # the cursor that starts each page seen so far
    _next_cursor: str = ""
    # filters (the "any" choice is stored as "")
    view_key: str = "all_open"
    views: list[ViewRow] = []
    status_filter: str = "open"
    priority_filter: str = ANY
    channel_filter: str = ANY
    assignee_filter: str = "anyone"
    sla_filter: str = ANY
    sentiment_filter: str = ANY
    client_filter: str = ""
    created_from: str = ""
    created_to: str = ""
    filter_error: str = ""
    view_name: str = ""
    # search
    search_query: str = ""
    search_hits: list[SearchHit] = []
    search_active: bool = False
    # selection and bulk actions
    selected: list[int] = []
    staff_labels: list[str] = []
    _staff_ids: dict[str, int] = {}
    loading: bool = False
    # live updates
    _live_counter: int = 0
    _live_running: bool = False
    # new-ticket dialog
    dialog_open: bool = False
    create_error: str = ""
    client_labels: list[str] = []
    _client_ids: dict[str, int] = {}
    new_client: str = NO_CLIENT
    new_priority: str = TicketPriority.NORMAL.value
    new_channel: str = Channel.PHONE.value

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def total_label(self) -> str:
        return f"{self.total:,}+ tickets" if self.total_capped else plural(self.total, "ticket")

    @rx.var
    def view_labels(self) -> list[str]:
        return [v.name for v in self.views]

    @rx.var
    def view_name_selected(self) -> str:
        for view in self.views:
            if view.key == self.view_key:
                return view.name
        return "Custom filters"

    @rx.var
    def selected_count(self) -> int:
        return len(self.selected)

    def _filters(self) -> QueueFilters:
        def plain(value: str) -> str:
            return "" if value == ANY else value

        return QueueFilters(
            status=self.status_filter, priority=plain(self.priority_filter),
            channel=plain(self.channel_filter), assignee=self.assignee_filter,
            client=self.client_filter.strip(), sla_state=plain(self.sla_filter),
            sentiment=plain(self.sentiment_filter),
            created_from=self.created_from.strip(), created_to=self.created_to.strip(),
        )

    def _show_filters(self, filters: QueueFilters) -> None:
        self.status_filter = filters.status or "all"
        self.priority_filter = filters.priority or ANY
        self.channel_filter = filters.channel or ANY
        self.assignee_filter = filters.assignee or "anyone"
        self.sla_filter = filters.sla_state or ANY
        self.sentiment_filter = filters.sentiment or ANY
        self.client_filter = filters.client
        self.created_from, self.created_to = filters.created_from, filters.created_to

    def _fetch(self) -> rx.event.EventSpec | None:
        self.filter_error = ""
        try:
            actor = self.require_actor()
            result = ticket_service.queue(actor, self._filters(),
                                          after=self._cursors[self.page - 1],
                                          page_size=PAGE_SIZE)
        except InvalidInput as error:
            self.filter_error, self.tickets = error.message, []
            self.total, self.has_next = 0, False
            return None
        except ServiceError as error:
            return error_toast(error)
        self.tickets, self.total, self.total_capped = result.items, result.total, \
            result.total_capped
        self._next_cursor, self.has_next = result.next_cursor, bool(result.next_cursor)
        visible = {t.number for t in result.items}
        self.selected = [n for n in self.selected if n in visible]
        return None

    @rx.event
    def load(self):
        try:
            actor = self.require_actor()
            self.views = saved_views.list_views(actor)
            choices = ticket_service.staff_choices(actor)
            self._live_counter = live.change_counter(actor)
        except ServiceError as error:
            return error_toast(error)
        self._staff_ids = {name: uid for uid, name in choices}
        self.staff_labels = list(self._staff_ids)
        self.page, self._cursors, self.selected = 1, [""], []
        return chain(self._fetch(), TicketsState.live_loop)

    def _restart(self):
        self.page, self._cursors, self.selected = 1, [""], []
        return self._fetch()

    @rx.event
    def choose_view(self, name: str):
        key = next((v.key for v in self.views if v.name == name), "")
        try:
            filters = saved_views.view_filters(self.require_actor(), key)
        except ServiceError as error:
            return error_toast(error)
        self.view_key = key
        self._show_filters(filters)
        return self._restart()

    @rx.event
    def set_filter(self, name: str, value: str):
        if name in ("status_filter", "priority_filter", "channel_filter", "assignee_filter",
                    "sla_filter", "sentiment_filter"):
            setattr(self, name, value)
            self.view_key = ""
            return self._restart()
        return None

    @rx.event
    def apply_text_filters(self, form: dict):
        self.client_filter = str(form.get("client", ""))
        self.created_from = str(form.get("created_from", ""))
        self.created_to = str(form.get("created_to", ""))
        self.view_key = ""
        return self._restart()

    @rx.event
    def save_view(self, form: dict):
        try:
            view = saved_views.save_view(self.require_actor(), str(form.get("view_name", "")),
                                         self._filters())
            self.views = saved_views.list_views(self.require_actor())
        except ServiceError as error:
            return error_toast(error)
        self.view_key = view.key
        return rx.toast.success(f"View “{view.name}” saved")

    @rx.event
    def next_page(self):
        if not self._next_cursor:
            return None
        self._cursors = [*self._cursors[: self.page], self._next_cursor]
        self.page += 1
        return self._fetch()

    @rx.event
    def previous_page(self):
        self.page = max(1, self.page - 1)
        return self._fetch()

    @rx.event
    def toggle(self, number: int, checked: bool):
        if checked and number not in self.selected:
            self.selected = [*self.selected, number]
        elif not checked:
            self.selected = [n for n in self.selected if n != number]

    @rx.event
    def toggle_all(self, checked: bool):
        self.selected = [t.number for t in self.tickets] if checked else []

    def _bulk(self, **change):
        try:
            result = ticket_service.bulk_update(self.require_actor(), self.selected, **change)
        except ServiceError as error:
            return error_toast(error)
        self.selected = []
        return chain(self._fetch(), rx.toast.success(f"{plural(result.changed, 'ticket')} changed"))

    @rx.event
    def bulk_status(self, status: str):
        return self._bulk(status=status)

    @rx.event
    def bulk_priority(self, priority: str):
        return self._bulk(priority=priority)

    @rx.event
    def bulk_assign(self, name: str):
        return self._bulk(assignee_id=self._staff_ids.get(name))

    @rx.event
    def bulk_round_robin(self):
        try:
            count = assignment.assign_round_robin(self.require_actor(), self.selected)
        except ServiceError as error:
            return error_toast(error)
        self.selected = []
        return chain(self._fetch(),
                     rx.toast.success(f"{plural(count, 'ticket')} assigned round-robin"))

    @rx.event
    def run_search(self, form: dict):
        self.search_query = str(form.get("q", "")).strip()
        if not self.search_query:
            return self.clear_search()
        try:
            result = search_service.search_tickets(self.require_actor(), self.search_query)
        except ServiceError as error:
            return error_toast(error)
        if result.kind == "number" and len(result.hits) == 1:
            return rx.redirect(routes.ticket(result.hits[0].number))
        self.search_hits, self.search_active = result.hits, True
        return None

    @rx.event
    def clear_search(self):
        self.search_query, self.search_hits, self.search_active = "", [], False

    @rx.event(background=True)
    async def live_loop(self):
        """Reload the open queue when any ticket or message changes (checked every few
        seconds through a counter in PostgreSQL, so writes on any worker show up)."""
        async with self:
            if self._live_running:
                return
            self._live_running = True
        started = time.monotonic()
        try:
            while time.monotonic() - started < LIVE_MAX_SECONDS:
                await asyncio.sleep(LIVE_POLL_SECONDS)
                async with self:
                    if self.router.page.path != routes.TICKETS:
                        return
                    seen = self._live_counter
                actor = await asyncio.to_thread(self.live_actor)
                if actor is None:
                    return
                try:
                    counter = await asyncio.to_thread(live.change_counter, actor)
                except ServiceError:
                    return
                if counter != seen:
                    async with self:
                        self._live_counter = counter
                        if not self.search_active:
                            self._fetch()
        finally:
            async with self:
                self._live_running = False

    @rx.event
    def open_dialog(self):
        try:
            choices = client_service.client_choices(self.require_actor(), limit=200)
        except ServiceError as error:
            return error_toast(error)
        self._client_ids = {label: cid for cid, label in choices}
        self.client_labels = [NO_CLIENT, *self._client_ids]
        self.create_error, self.dialog_open = "", True
        return None

    @rx.event
    def set_dialog_open(self, value: bool):
        self.dialog_open = value

    @rx.event
    def set_new_client(self, value: str):
        self.new_client = value

    @rx.event
    def set_new_priority(self, value: str):
        self.new_priority = value

    @rx.event
    def set_new_channel(self, value: str):
        self.new_channel = value

    @rx.event
    def create(self, form: dict):
        self.create_error = ""
        try:
            row = ticket_service.create_ticket(
                self.require_actor(),
                client_id=self._client_ids.get(self.new_client),
                subject=form.get("subject", ""),
                body=form.get("body", ""),
                priority=self.new_priority,
                channel=self.new_channel,
            )
        except ServiceError as error:
            self.create_error = error.message
            return None
        self.dialog_open = False
        return rx.redirect(routes.ticket(row.number))


def status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(status, ("new", "blue"), ("open", "green"), ("pending", "amber"),
                              ("resolved", "gray"), ("closed", "gray"), "gray"),
        variant="soft",
    )


def priority_badge(priority: rx.Var[str]) -> rx.Component:
    return rx.badge(
        priority,
        color_scheme=rx.match(priority, ("urgent", "red"), ("high", "orange"), ("low", "gray"),
                              "blue"),
        variant="outline",
    )


def sla_badge(state: rx.Var[str]) -> rx.Component:
    return rx.match(
        state,
        ("breached", rx.badge("SLA breached", color_scheme="red")),
        ("near_breach", rx.badge("near breach", color_scheme="orange")),
        ("on_track", rx.badge("on track", color_scheme="green", variant="soft")),
        ("met", rx.badge("met", color_scheme="gray", variant="soft")),
        rx.text("—", color_scheme="gray"),
    )


def _row(ticket: TicketRow) -> rx.Component:
    weight = rx.cond(ticket.is_unread, "bold", "regular")
    return rx.table.row(
        rx.table.cell(rx.checkbox(
            checked=TicketsState.selected.contains(ticket.number),
            on_change=lambda checked: TicketsState.toggle(ticket.number, checked),
            aria_label="Select ticket " + ticket.number.to_string(),
        )),
        rx.table.cell(rx.hstack(
            rx.cond(ticket.is_unread, rx.box(width="8px", height="8px", border_radius="50%",
                                             background=rx.color("accent", 9),
                                             title="unread")),
            rx.text("#", ticket.number, weight=weight), align="center", spacing="2")),
        rx.table.cell(
            rx.link(ticket.subject, href="/tickets/" + ticket.number.to_string(), weight=weight)
        ),
        rx.table.cell(ticket.client_name),
        rx.table.cell(status_badge(ticket.status)),
        rx.table.cell(priority_badge(ticket.priority)),
        rx.table.cell(sla_badge(ticket.sla_state)),
        rx.table.cell(rx.text(ticket.channel, size="1")),
        rx.table.cell(rx.cond(ticket.assignee_name != "", ticket.assignee_name,
                              rx.text("unassigned", color_scheme="gray", size="1"))),
        rx.table.cell(rx.text(ticket.created_at, size="1", color_scheme="gray")),
        class_name="ticket-row",
    )


def _filter_select(label: str, choices: list[str], value: rx.Var[str], name: str
                   ) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.select(choices, value=value, on_change=lambda v: TicketsState.set_filter(name, v),
                  aria_label=label, size="1"),
        spacing="1",
    )


def _filters() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.text("View", size="1", color_scheme="gray"),
                rx.select(TicketsState.view_labels, value=TicketsState.view_name_selected,
                          on_change=TicketsState.choose_view, aria_label="View", size="1",
                          id="view-select"),
                spacing="1",
            ),
            _filter_select("Status", STATUS_CHOICES, TicketsState.status_filter,
                           "status_filter"),
            _filter_select("Priority", PRIORITY_CHOICES, TicketsState.priority_filter,
                           "priority_filter"),
            _filter_select("Channel", CHANNEL_CHOICES, TicketsState.channel_filter,
                           "channel_filter"),
            _filter_select("Assignee", ["anyone", "mine", "unassigned"],
                           TicketsState.assignee_filter, "assignee_filter"),
            _filter_select("SLA", SLA_CHOICES, TicketsState.sla_filter, "sla_filter"),
            _filter_select("Client mood (latest message)", SENTIMENT_CHOICES,
                           TicketsState.sentiment_filter, "sentiment_filter"),
            rx.form(
                rx.hstack(
                    rx.vstack(rx.text("Client id or email", size="1", color_scheme="gray"),
                              rx.input(name="client", default_value=TicketsState.client_filter,
                                       size="1", width="12rem", id="client-filter"),
                              spacing="1"),
                    rx.vstack(rx.text("Created from", size="1", color_scheme="gray"),
                              rx.input(name="created_from", type="date", size="1",
                                       default_value=TicketsState.created_from),
                              spacing="1"),
                    rx.vstack(rx.text("to", size="1", color_scheme="gray"),
                              rx.input(name="created_to", type="date", size="1",
                                       default_value=TicketsState.created_to),
                              spacing="1"),
                    rx.button("Apply", type="submit", size="1", variant="soft"),
                    align="end",
                ),
                on_submit=TicketsState.apply_text_filters,
                reset_on_submit=False,
            ),
            wrap="wrap",
            align="end",
            spacing="3",
        ),
        rx.form(
            rx.hstack(
                rx.input(name="view_name", placeholder="Name these filters…", size="1",
                         width="14rem", id="view-name", max_length=80),
                rx.button(rx.icon("bookmark-plus", size=14), "Save as view", type="submit",
                          size="1", variant="soft", id="save-view"),
                align="center",
            ),
            on_submit=TicketsState.save_view,
            reset_on_submit=True,
        ),
        form_error(TicketsState.filter_error),
        width="100%",
        spacing="2",
    )


def _bulk_bar() -> rx.Component:
    return rx.cond(
        TicketsState.selected_count > 0,
        rx.hstack(
            rx.text(TicketsState.selected_count, " selected", weight="bold", size="2"),
            rx.select(BULK_STATUS, placeholder="Set status…", on_change=TicketsState.bulk_status,
                      size="1", aria_label="Set status of selected", id="bulk-status"),
            rx.select([p.value for p in TicketPriority], placeholder="Set priority…",
                      on_change=TicketsState.bulk_priority, size="1",
                      aria_label="Set priority of selected", id="bulk-priority"),
            rx.select(TicketsState.staff_labels, placeholder="Assign to…",
                      on_change=TicketsState.bulk_assign, size="1",
                      aria_label="Assign selected", id="bulk-assign"),
            rx.button("Round-robin", size="1", variant="soft",
                      on_click=TicketsState.bulk_round_robin),
            rx.button(rx.icon("archive", size=14), "Close", size="1", color_scheme="red",
                      variant="soft", on_click=TicketsState.bulk_status("closed"),
                      id="bulk-close"),
            align="center",
            padding="0.5rem 0.75rem",
            border_radius="8px",
            background=rx.color("accent", 3),
            width="100%",
            id="bulk-bar",
        ),
    )


def _search_bar() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(rx.input.slot(rx.icon("search", size=16)), name="q",
                     placeholder="Search subjects and messages, #number or client email…",
                     default_value=TicketsState.search_query, width="28rem", id="search"),
            rx.button("Search", type="submit", variant="soft"),
            rx.cond(TicketsState.search_active,
                    rx.button("Back to queue", type="button", variant="ghost",
                              on_click=TicketsState.clear_search)),
            align="center",
        ),
        on_submit=TicketsState.run_search,
        reset_on_submit=False,
    )


def _hit(hit: SearchHit) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text("#", hit.number, weight="bold"),
            rx.link(rx.html(hit.subject_html), href="/tickets/" + hit.number.to_string()),
            status_badge(hit.status),
            rx.spacer(),
            rx.text(hit.client_name, size="1", color_scheme="gray"),
            rx.text(hit.created_at, size="1", color_scheme="gray"),
            align="center",
            width="100%",
        ),
        rx.cond(hit.snippet_html != "",
                rx.box(rx.html(hit.snippet_html), font_size="0.85rem",
                       color=rx.color("gray", 11), padding_top="0.25rem")),
        padding="0.6rem 0.9rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        class_name="search-hit",
    )


def _search_results() -> rx.Component:
    return rx.cond(
        TicketsState.search_hits.length() > 0,
        rx.vstack(rx.foreach(TicketsState.search_hits, _hit), spacing="0", width="100%",
                  border=f"1px solid {rx.color('gray', 5)}", border_radius="8px"),
        empty_state("search-x", "No matches",
                    "Try fewer or shorter words; the start of a word is enough."),
    )


def _new_ticket_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(rx.icon("plus"), "New ticket", on_click=TicketsState.open_dialog,
                      id="new-ticket")
        ),
        rx.dialog.content(
            rx.dialog.title("New ticket"),
            rx.form(
                rx.vstack(
                    field("Client", rx.select(TicketsState.client_labels,
                                              value=TicketsState.new_client,
                                              on_change=TicketsState.set_new_client,
                                              name="client", width="100%")),
                    field("Subject", rx.input(name="subject", id="subject", required=True,
                                              max_length=300, width="100%")),
                    rx.hstack(
                        field("Priority", rx.select([p.value for p in TicketPriority],
                                                    value=TicketsState.new_priority,
                                                    on_change=TicketsState.set_new_priority,
                                                    name="priority")),
                        field("Channel", rx.select([c.value for c in Channel],
                                                   value=TicketsState.new_channel,
                                                   on_change=TicketsState.set_new_channel,
                                                   name="channel")),
                        width="100%",
                    ),
                    field("Message", rx.text_area(name="body", id="body", required=True,
                                                  rows="5", width="100%")),
                    form_error(TicketsState.create_error),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray",
                                                  type="button")),
                        rx.button("Create ticket", type="submit", id="create-ticket"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=TicketsState.create,
                reset_on_submit=False,
            ),
        ),
        open=TicketsState.dialog_open,
        on_open_change=TicketsState.set_dialog_open,
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(TicketsState.total_label, size="2", color_scheme="gray", id="queue-total"),
        rx.spacer(),
        rx.button(rx.icon("chevron-left"), variant="soft", aria_label="Previous page",
                  disabled=TicketsState.page <= 1, on_click=TicketsState.previous_page),
        rx.text("Page ", TicketsState.page, size="2"),
        rx.button(rx.icon("chevron-right"), variant="soft", aria_label="Next page",
                  disabled=~TicketsState.has_next, on_click=TicketsState.next_page,
                  id="next-page"),
        width="100%",
        align="center",
    )


def _queue_table() -> rx.Component:
    return rx.cond(
        TicketsState.tickets.length() > 0,
        rx.vstack(
            _bulk_bar(),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell(rx.checkbox(
                            checked=(TicketsState.selected_count > 0)
                            & (TicketsState.selected_count == TicketsState.tickets.length()),
                            on_change=TicketsState.toggle_all, aria_label="Select all")),
                        *[rx.table.column_header_cell(h) for h in (
                            "#", "Subject", "Client", "Status", "Priority", "SLA", "Channel",
                            "Assignee", "Created")],
                    )
                ),
                rx.table.body(rx.foreach(TicketsState.tickets, _row)),
                width="100%",
                variant="surface",
                size="1",
            ),
            _pager(),
            width="100%",
        ),
        empty_state("inbox", "No tickets here",
                    "Nothing matches these filters. Pick another view or create a ticket."),
    )


@signed_in_page(routes.TICKETS, "Tickets", Action.VIEW_TICKETS, on_load=[TicketsState.load])
def tickets_page() -> rx.Component:
    return rx.vstack(
        rx.hstack(_search_bar(), rx.spacer(), _new_ticket_dialog(), width="100%",
                  align="center"),
        rx.cond(
            TicketsState.search_active,
            _search_results(),
            rx.vstack(_filters(), _queue_table(), width="100%", spacing="3"),
        ),
        spacing="4",
        width="100%",
    )
