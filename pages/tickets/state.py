"""The queue's state: views, filters, keyset pages, search, bulk actions, live reload and
the new-ticket dialog (with its client picker)."""

from __future__ import annotations

import asyncio
import time

import reflex as rx

from crm_app import change_watch, routes
from crm_app.auth.permissions import Actor
from crm_app.components import KeysetPaging
from crm_app.services import assignment, live, saved_views
from crm_app.services import clients as client_service
from crm_app.services import search as search_service
from crm_app.services import tickets as ticket_service
from crm_app.services.errors import InvalidInput, ServiceError
from crm_app.services.saved_views import ViewRow
from crm_app.services.search import ClientPick, SearchHit
from crm_app.services.tickets import QueueFilters, TicketRow
from crm_app.state import AppState, service_event
from models.ai import SentimentLabel
from models.ticket import Channel, SlaState, TicketPriority

PAGE_SIZE = 25


def plural(count: int, word: str) -> str:
    """ "1 ticket", "2 tickets", "10,000 tickets"."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


CLIENT_SEARCH_DEBOUNCE_MS = 250
# Channel of a new ticket -> how its first message reads: the client's words an agent logs
# (a call, a visit), or the agent writing to the client.
LOGGED_CHANNELS = set(ticket_service.LOGGED_FOR_CLIENT_CHANNELS)

LIVE_MIN_SECONDS = 3  # between two live reloads (or retries) of one tab
LIVE_RECHECK_SECONDS = 30  # a tab with nothing new checks its session this often
LIVE_MAX_SECONDS = 4 * 3600  # a forgotten tab stops polling after a working day's half
ANY = "any"
STATUS_CHOICES = ["open", "new", "pending", "resolved", "closed", "all"]
PRIORITY_CHOICES = [ANY, *[p.value for p in TicketPriority]]
CHANNEL_CHOICES = [ANY, *[c.value for c in Channel]]
SLA_CHOICES = [ANY, *[s.value for s in SlaState]]
SENTIMENT_CHOICES = [ANY, *[s.value for s in SentimentLabel]]
BULK_STATUS = ["pending", "open", "resolved", "closed"]


class TicketsState(KeysetPaging, AppState):
    tickets: list[TicketRow] = []
    total: int = 0
    total_capped: bool = False
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
    tag_filter: str = ""
    created_from: str = ""
    created_to: str = ""
    filter_error: str = ""
    view_name: str = ""
    # search
    search_query: str = ""
    search_hits: list[SearchHit] = []
    search_active: bool = False
    search_page: int = 1
    search_total: int = 0
    search_capped: bool = False
    search_has_next: bool = False
    # keyboard: the highlighted row (queue or search results), -1 for none
    cursor: int = -1
    # selection and bulk actions
    selected: list[int] = []
    staff: list[list[str]] = []  # [id, name] of everyone tickets may be assigned to
    loading: bool = False
    # live updates
    _live_counter: int = 0
    _live_running: bool = False
    # new-ticket dialog
    dialog_open: bool = False
    create_error: str = ""
    new_priority: str = TicketPriority.NORMAL.value
    new_channel: str = Channel.PHONE.value
    # the client picker: search as you type over every client
    client_query: str = ""
    client_picks: list[ClientPick] = []
    pick_index: int = 0
    picker_open: bool = False
    picked_id: int = 0
    picked_label: str = ""
    adding_client: bool = False
    new_client_name: str = ""
    new_client_email: str = ""
    add_client_error: str = ""

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

    @rx.var
    def search_total_label(self) -> str:
        if self.search_capped:
            return f"{search_service.SEARCH_CAP:,}+ tickets"
        return plural(self.search_total, "ticket")

    @rx.var
    def logged_for_client(self) -> bool:
        return self.new_channel in LOGGED_CHANNELS

    def _filters(self) -> QueueFilters:
        def plain(value: str) -> str:
            return "" if value == ANY else value

        return QueueFilters(
            status=self.status_filter,
            priority=plain(self.priority_filter),
            channel=plain(self.channel_filter),
            assignee=self.assignee_filter,
            client=self.client_filter.strip(),
            tag=self.tag_filter.strip(),
            sla_state=plain(self.sla_filter),
            sentiment=plain(self.sentiment_filter),
            created_from=self.created_from.strip(),
            created_to=self.created_to.strip(),
        )

    def _show_filters(self, filters: QueueFilters) -> None:
        self.status_filter = filters.status or "all"
        self.priority_filter = filters.priority or ANY
        self.channel_filter = filters.channel or ANY
        self.assignee_filter = filters.assignee or "anyone"
        self.sla_filter = filters.sla_state or ANY
        self.sentiment_filter = filters.sentiment or ANY
        self.client_filter = filters.client
        self.tag_filter = filters.tag
        self.created_from, self.created_to = filters.created_from, filters.created_to

    def _fetch_page(self) -> None:
        """Load the current page; a filter the service refuses shows beside the filters (any
        other refusal raises, for the event's `service_event` to show)."""
        self._show_page(_query_page(self.require_actor(), self._filters(), self._page_start()))

    def _show_page(self, result: ticket_service.QueuePage | InvalidInput) -> None:
        self.filter_error = ""
        if isinstance(result, InvalidInput):
            self.filter_error, self.tickets, self.total = result.message, [], 0
            self._page_loaded("")
            return
        self.tickets, self.total, self.total_capped = (
            result.items,
            result.total,
            result.total_capped,
        )
        self._page_loaded(result.next_cursor)
        visible = {t.number for t in result.items}
        self.selected = [n for n in self.selected if n in visible]
        self.cursor = min(self.cursor, len(result.items) - 1)

    @service_event
    def load(self, actor: Actor):
        self.views = saved_views.list_views(actor)
        self.staff = [[str(uid), name] for uid, name in ticket_service.staff_choices(actor)]
        self._live_counter = live.change_counter(actor)
        self.selected = []
        self._first_page()
        return TicketsState.live_loop

    def _restart(self) -> None:
        self.selected = []
        self._first_page()

    @service_event
    def choose_view(self, actor: Actor, name: str):
        key = next((v.key for v in self.views if v.name == name), "")
        filters = saved_views.view_filters(actor, key)
        self.view_key = key
        self._show_filters(filters)
        self._restart()

    @service_event
    def set_filter(self, name: str, value: str):
        if name in (
            "status_filter",
            "priority_filter",
            "channel_filter",
            "assignee_filter",
            "sla_filter",
            "sentiment_filter",
        ):
            setattr(self, name, value)
            self.view_key = ""
            self._restart()

    @service_event
    def apply_text_filters(self, form: dict):
        self.client_filter = str(form.get("client", ""))
        self.tag_filter = str(form.get("tag", ""))[:40]
        self.created_from = str(form.get("created_from", ""))
        self.created_to = str(form.get("created_to", ""))
        self.view_key = ""
        self._restart()

    @service_event
    def save_view(self, actor: Actor, form: dict):
        view = saved_views.save_view(actor, str(form.get("view_name", "")), self._filters())
        self.views = saved_views.list_views(actor)
        self.view_key = view.key
        return rx.toast.success(f"View “{view.name}” saved")

    @rx.event
    def toggle(self, number: int, checked: bool):
        if checked and number not in self.selected:
            self.selected = [*self.selected, number]
        elif not checked:
            self.selected = [n for n in self.selected if n != number]

    @rx.event
    def toggle_all(self, checked: bool):
        self.selected = [t.number for t in self.tickets] if checked else []

    def _bulk(self, actor: Actor, **change):
        result = ticket_service.bulk_update(actor, self.selected, **change)
        self.selected = []
        self._fetch_page()
        return rx.toast.success(f"{plural(result.changed, 'ticket')} changed")

    @service_event
    def bulk_status(self, actor: Actor, status: str):
        return self._bulk(actor, status=status)

    @service_event
    def bulk_priority(self, actor: Actor, priority: str):
        return self._bulk(actor, priority=priority)

    @service_event
    def bulk_assign(self, actor: Actor, assignee_id: str):
        """`assignee_id`: a staff member's id from the picker (as text, like every select)."""
        if not assignee_id.isdigit():
            raise InvalidInput("Choose someone from the list.")
        return self._bulk(actor, assignee_id=int(assignee_id))

    @service_event
    def bulk_round_robin(self, actor: Actor):
        count = assignment.assign_round_robin(actor, self.selected)
        self.selected = []
        self._fetch_page()
        return rx.toast.success(f"{plural(count, 'ticket')} assigned round-robin")

    def _search(self, page: int):
        result = search_service.search_tickets(
            self.require_actor(), self.search_query, page=page, limit=PAGE_SIZE
        )
        if result.kind == "number" and len(result.hits) == 1:
            return rx.redirect(routes.ticket(result.hits[0].number))
        self.search_hits, self.search_active = result.hits, True
        self.search_page, self.search_total = result.page, result.total
        self.search_capped, self.search_has_next = result.total_capped, result.has_next
        self.cursor = -1
        return None

    @service_event
    def run_search(self, form: dict):
        self.search_query = str(form.get("q", "")).strip()[: search_service.MAX_QUERY_CHARS]
        if not self.search_query:
            return self.clear_search()
        return self._search(1)

    @service_event
    def search_next_page(self):
        return self._search(self.search_page + 1) if self.search_has_next else None

    @service_event
    def search_previous_page(self):
        return self._search(max(1, self.search_page - 1))

    @rx.event
    def clear_search(self):
        self.search_query, self.search_hits, self.search_active = "", [], False
        self.search_page, self.search_total, self.search_capped = 1, 0, False
        self.search_has_next, self.cursor = False, -1

    def _cursor_numbers(self) -> list[int]:
        rows = self.search_hits if self.search_active else self.tickets
        return [row.number for row in rows]

    @rx.event
    def move_cursor(self, delta: int):
        """j / k: highlight the next or previous row (of the queue or the search results)."""
        numbers = self._cursor_numbers()
        if not numbers or delta not in (1, -1):
            return None
        self.cursor = min(max(self.cursor + delta, 0), len(numbers) - 1)
        return rx.scroll_to(f"row-{numbers[self.cursor]}", align_to_top=False)

    @rx.event
    def open_cursor(self):
        """Enter / o: open the highlighted ticket."""
        numbers = self._cursor_numbers()
        if 0 <= self.cursor < len(numbers):
            return rx.redirect(routes.ticket(numbers[self.cursor]))
        return None

    @rx.event(background=True)
    async def live_loop(self):
        """Reload the open queue when any ticket or message changes: the worker's shared watch
        of a counter in PostgreSQL (so writes on any worker show up) wakes it; between changes
        the tab costs nothing but a session check every `LIVE_RECHECK_SECONDS`."""
        async with self:
            if self._live_running:
                return
            self._live_running = True
            seen = self._live_counter
        started = time.monotonic()
        try:
            while time.monotonic() - started < LIVE_MAX_SECONDS:
                counter = await change_watch.next_change(seen, LIVE_RECHECK_SECONDS)
                async with self:
                    if self.router.page.path != routes.TICKETS:
                        return
                    seen = self._live_counter
                    if counter is None or counter == seen:
                        asked = None
                    elif self.search_active:  # search results stay as they are
                        self._live_counter = seen = counter
                        asked = None
                    else:
                        asked = (self._filters(), self._page_start())
                actor = await asyncio.to_thread(self.live_actor)
                if actor is None:
                    return
                if asked is None:
                    continue
                # The query runs off the event loop, so the worker's other tabs go on meanwhile.
                try:
                    result = await asyncio.to_thread(_query_page, actor, *asked)
                except ServiceError:
                    result = None  # the counter stays: the next wake retries
                if result is not None:
                    async with self:
                        # Shown only if the agent has not moved on meanwhile: then their own
                        # event loads what they asked for.
                        if (
                            not self.search_active
                            and (self._filters(), self._page_start()) == asked
                        ):
                            self._live_counter = counter
                            self._show_page(result)
                        seen = self._live_counter
                # At most one reload (or retry) per tab every `LIVE_MIN_SECONDS` while writes go on.
                await asyncio.sleep(LIVE_MIN_SECONDS)
        finally:
            async with self:
                self._live_running = False

    @rx.event
    def open_dialog(self):
        self.create_error, self.dialog_open = "", True
        self.client_query, self.client_picks, self.picker_open = "", [], False
        self.picked_id, self.picked_label, self.pick_index = 0, "", 0
        self.adding_client, self.add_client_error = False, ""
        return rx.set_focus("client-search")

    @rx.event
    def set_dialog_open(self, value: bool):
        self.dialog_open = bool(value)

    @service_event
    def search_clients(self, actor: Actor, value: str):
        """The picker's input, debounced: the best few clients of the whole base."""
        self.client_query = str(value or "")[:100]
        self.pick_index, self.add_client_error = 0, ""
        if not self.client_query.strip():
            self.client_picks, self.picker_open = [], False
            return None
        self.client_picks = search_service.find_clients(actor, self.client_query)
        self.picker_open = True
        return None

    @rx.event
    def move_pick(self, delta: int):
        """Arrow keys in the picker; the last row is "New client"."""
        if delta not in (1, -1):
            return
        self.picker_open = bool(self.client_query.strip())
        self.pick_index = min(max(self.pick_index + delta, 0), len(self.client_picks))

    @rx.event
    def choose_pick(self):
        """Enter in the picker: the highlighted client, or the "New client" form."""
        if not self.picker_open:
            return None
        if self.pick_index < len(self.client_picks):
            return self.pick(self.client_picks[self.pick_index].id)
        return self.start_new_client()

    @rx.event
    def pick(self, client_id: int):
        chosen = next((c for c in self.client_picks if c.id == client_id), None)
        if chosen is None:
            return None
        self.picked_id, self.picked_label = chosen.id, chosen.label
        self.client_query, self.client_picks, self.picker_open = "", [], False
        return rx.set_focus("subject")

    @rx.event
    def close_picker(self):
        self.picker_open = False

    @rx.event
    def clear_pick(self):
        self.picked_id, self.picked_label = 0, ""
        return rx.set_focus("client-search")

    @rx.event
    def start_new_client(self):
        typed = self.client_query.strip()
        self.new_client_email = typed if "@" in typed else ""
        self.new_client_name = "" if "@" in typed else typed
        self.adding_client, self.picker_open, self.add_client_error = True, False, ""
        return rx.set_focus("new-client-name")

    @rx.event
    def cancel_new_client(self):
        self.adding_client, self.add_client_error = False, ""
        return rx.set_focus("client-search")

    @rx.event
    def set_new_client_name(self, value: str):
        self.new_client_name = str(value or "")[:200]

    @rx.event
    def set_new_client_email(self, value: str):
        self.new_client_email = str(value or "")[:320]

    @service_event(error_var="add_client_error")
    def add_client(self, actor: Actor):
        """Create the client (through the clients service: permission, validation, audit)
        and pick it for this ticket."""
        self.add_client_error = ""
        if not self.new_client_name.strip() or not self.new_client_email.strip():
            self.add_client_error = "A new client needs a name and an email address."
            return None
        row = client_service.create_client(
            actor, name=self.new_client_name, email=self.new_client_email
        )
        self.picked_id = row.id
        self.picked_label = f"{row.name} <{row.email}> · #{row.id}" if row.email else row.name
        self.adding_client, self.client_query = False, ""
        return [rx.toast.success(f"Client {row.name} added"), rx.set_focus("subject")]

    @rx.event
    def set_new_priority(self, value: str):
        self.new_priority = value

    @rx.event
    def set_new_channel(self, value: str):
        self.new_channel = value

    @service_event(error_var="create_error")
    def create(self, actor: Actor, form: dict):
        self.create_error = ""
        row = ticket_service.create_ticket(
            actor,
            client_id=self.picked_id or None,
            subject=form.get("subject", ""),
            body=form.get("body", ""),
            priority=self.new_priority,
            channel=self.new_channel,
            cc=form.get("cc", ""),
        )
        self.dialog_open = False
        return rx.redirect(routes.ticket(row.number))


def _query_page(
    actor: Actor, filters: QueueFilters, after: str
) -> ticket_service.QueuePage | InvalidInput:
    """One page of the queue, or the refusal of a filter (to show beside the filters)."""
    try:
        return ticket_service.queue(actor, filters, after=after, page_size=PAGE_SIZE)
    except InvalidInput as error:
        return error
