"""The queue's widgets: filter bar, bulk bar, search results, the keyset-paged table."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.components import (
    channel_badge,
    empty_state,
    filter_select,
    form_error,
    paging_bar,
    priority_badge,
    sla_badge,
    staff_picker,
    status_badge,
)
from crm_app.services.search import SearchHit
from crm_app.services.tickets import TicketRow
from crm_app.timefmt import when
from models.ticket import TicketPriority
from pages.tickets.state import (
    BULK_STATUS,
    CHANNEL_CHOICES,
    PRIORITY_CHOICES,
    SENTIMENT_CHOICES,
    SLA_CHOICES,
    STATUS_CHOICES,
    TicketsState,
)


def _cursor_style(index: rx.Var[int]) -> dict:
    here = TicketsState.cursor == index
    return {
        "background": rx.cond(here, rx.color("accent", 4), "transparent"),
        "box_shadow": rx.cond(here, f"inset 3px 0 0 {rx.color('accent', 9)}", "none"),
    }


def _row(ticket: TicketRow, index: rx.Var[int]) -> rx.Component:
    weight = rx.cond(ticket.is_unread, "bold", "regular")
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=TicketsState.selected.contains(ticket.number),
                on_change=lambda checked: TicketsState.toggle(ticket.number, checked),
                aria_label="Select ticket " + ticket.number.to_string(),
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    ticket.is_unread,
                    rx.box(
                        width="8px",
                        height="8px",
                        border_radius="50%",
                        background=rx.color("accent", 9),
                        title="unread",
                    ),
                ),
                rx.text("#", ticket.number, weight=weight),
                align="center",
                spacing="2",
            )
        ),
        rx.table.cell(
            rx.link(ticket.subject, href=routes.ticket(ticket.number), weight=weight),
            rx.cond(
                ticket.tags.length() > 0,
                rx.hstack(
                    rx.foreach(
                        ticket.tags[:3],
                        lambda tag: rx.badge(tag, size="1", variant="soft", color_scheme="gray"),
                    ),
                    spacing="1",
                    wrap="wrap",
                    class_name="row-tags",
                ),
            ),
        ),
        rx.table.cell(ticket.client_name),
        rx.table.cell(status_badge(ticket.status)),
        rx.table.cell(priority_badge(ticket.priority)),
        rx.table.cell(sla_badge(ticket.sla_state)),
        rx.table.cell(channel_badge(ticket.channel)),
        rx.table.cell(
            rx.cond(
                ticket.assignee_name != "",
                ticket.assignee_name,
                rx.text("unassigned", color_scheme="gray", size="1"),
            )
        ),
        rx.table.cell(when(ticket.created_iso)),
        class_name=rx.cond(TicketsState.cursor == index, "ticket-row cursor", "ticket-row"),
        id="row-" + ticket.number.to_string(),
        style=_cursor_style(index),
    )


def _filter_select(label: str, choices: list[str], value: rx.Var[str], name: str) -> rx.Component:
    return filter_select(label, choices, value, lambda v: TicketsState.set_filter(name, v))


def filter_bar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.text("View", size="1", color_scheme="gray"),
                rx.select(
                    TicketsState.view_labels,
                    value=TicketsState.view_name_selected,
                    on_change=TicketsState.choose_view,
                    aria_label="View",
                    size="1",
                    id="view-select",
                ),
                spacing="1",
            ),
            _filter_select("Status", STATUS_CHOICES, TicketsState.status_filter, "status_filter"),
            _filter_select(
                "Priority", PRIORITY_CHOICES, TicketsState.priority_filter, "priority_filter"
            ),
            _filter_select(
                "Channel", CHANNEL_CHOICES, TicketsState.channel_filter, "channel_filter"
            ),
            _filter_select(
                "Assignee",
                ["anyone", "mine", "unassigned"],
                TicketsState.assignee_filter,
                "assignee_filter",
            ),
            _filter_select("SLA", SLA_CHOICES, TicketsState.sla_filter, "sla_filter"),
            _filter_select(
                "Client mood (latest message)",
                SENTIMENT_CHOICES,
                TicketsState.sentiment_filter,
                "sentiment_filter",
            ),
            rx.form(
                rx.hstack(
                    rx.vstack(
                        rx.text("Client id or email", size="1", color_scheme="gray"),
                        rx.input(
                            name="client",
                            default_value=TicketsState.client_filter,
                            size="1",
                            width="12rem",
                            id="client-filter",
                        ),
                        spacing="1",
                    ),
                    rx.vstack(
                        rx.text("Tag", size="1", color_scheme="gray"),
                        rx.input(
                            name="tag",
                            default_value=TicketsState.tag_filter,
                            size="1",
                            width="8rem",
                            id="tag-filter",
                            max_length=40,
                        ),
                        spacing="1",
                    ),
                    rx.vstack(
                        rx.text("Created from", size="1", color_scheme="gray"),
                        rx.input(
                            name="created_from",
                            type="date",
                            size="1",
                            default_value=TicketsState.created_from,
                        ),
                        spacing="1",
                    ),
                    rx.vstack(
                        rx.text("to", size="1", color_scheme="gray"),
                        rx.input(
                            name="created_to",
                            type="date",
                            size="1",
                            default_value=TicketsState.created_to,
                        ),
                        spacing="1",
                    ),
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
                rx.input(
                    name="view_name",
                    placeholder="Name these filters…",
                    size="1",
                    width="14rem",
                    id="view-name",
                    max_length=80,
                ),
                rx.button(
                    rx.icon("bookmark-plus", size=14),
                    "Save as view",
                    type="submit",
                    size="1",
                    variant="soft",
                    id="save-view",
                ),
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
            rx.select(
                BULK_STATUS,
                placeholder="Set status…",
                on_change=TicketsState.bulk_status,
                size="1",
                aria_label="Set status of selected",
                id="bulk-status",
            ),
            rx.select(
                [p.value for p in TicketPriority],
                placeholder="Set priority…",
                on_change=TicketsState.bulk_priority,
                size="1",
                aria_label="Set priority of selected",
                id="bulk-priority",
            ),
            staff_picker(
                TicketsState.staff,
                placeholder="Assign to…",
                on_change=TicketsState.bulk_assign,
                size="1",
                aria_label="Assign selected",
                id="bulk-assign",
            ),
            rx.button(
                "Round-robin", size="1", variant="soft", on_click=TicketsState.bulk_round_robin
            ),
            rx.button(
                rx.icon("archive", size=14),
                "Close",
                size="1",
                color_scheme="red",
                variant="soft",
                on_click=TicketsState.bulk_status("closed"),
                id="bulk-close",
            ),
            align="center",
            padding="0.5rem 0.75rem",
            border_radius="8px",
            background=rx.color("accent", 3),
            width="100%",
            id="bulk-bar",
        ),
    )


def search_bar() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                name="q",
                placeholder="Search words, references, IBANs, client names, #number…",
                default_value=TicketsState.search_query,
                width="28rem",
                id="search",
            ),
            rx.button("Search", type="submit", variant="soft"),
            rx.cond(
                TicketsState.search_active,
                rx.button(
                    "Back to queue",
                    type="button",
                    variant="ghost",
                    on_click=TicketsState.clear_search,
                ),
            ),
            align="center",
        ),
        on_submit=TicketsState.run_search,
        reset_on_submit=False,
    )


def _hit(hit: SearchHit, index: rx.Var[int]) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text("#", hit.number, weight="bold"),
            rx.link(rx.html(hit.subject_html), href=routes.ticket(hit.number)),
            status_badge(hit.status),
            rx.spacer(),
            rx.text(hit.client_name, size="1", color_scheme="gray"),
            when(hit.created_iso),
            align="center",
            width="100%",
        ),
        rx.cond(
            hit.snippet_html != "",
            rx.box(
                rx.html(hit.snippet_html),
                font_size="0.85rem",
                color=rx.color("gray", 11),
                padding_top="0.25rem",
            ),
        ),
        padding="0.6rem 0.9rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        class_name=rx.cond(TicketsState.cursor == index, "search-hit cursor", "search-hit"),
        id="row-" + hit.number.to_string(),
        style=_cursor_style(index),
    )


def _search_pager() -> rx.Component:
    return rx.hstack(
        rx.text(
            TicketsState.search_total_label,
            " found",
            size="2",
            color_scheme="gray",
            id="search-total",
        ),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left"),
            variant="soft",
            aria_label="Previous results",
            disabled=TicketsState.search_page <= 1,
            on_click=TicketsState.search_previous_page,
            id="search-previous",
        ),
        rx.text("Page ", TicketsState.search_page, size="2", id="search-page"),
        rx.button(
            rx.icon("chevron-right"),
            variant="soft",
            aria_label="More results",
            disabled=~TicketsState.search_has_next,
            on_click=TicketsState.search_next_page,
            id="search-next",
        ),
        width="100%",
        align="center",
    )


def search_results() -> rx.Component:
    return rx.cond(
        TicketsState.search_hits.length() > 0,
        rx.vstack(
            rx.vstack(
                rx.foreach(TicketsState.search_hits, _hit),
                spacing="0",
                width="100%",
                border=f"1px solid {rx.color('gray', 5)}",
                border_radius="8px",
            ),
            _search_pager(),
            width="100%",
        ),
        empty_state(
            "search-x",
            "No matches",
            "Try fewer or shorter words, a reference like WD-00012404, an IBAN, a "
            "client's name or email, or #number.",
        ),
    )


def _pager() -> rx.Component:
    return paging_bar(TicketsState, TicketsState.total_label, total_id="queue-total")


def queue_table() -> rx.Component:
    return rx.cond(
        TicketsState.tickets.length() > 0,
        rx.vstack(
            _bulk_bar(),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell(
                            rx.checkbox(
                                checked=(TicketsState.selected_count > 0)
                                & (TicketsState.selected_count == TicketsState.tickets.length()),
                                on_change=TicketsState.toggle_all,
                                aria_label="Select all",
                            )
                        ),
                        *[
                            rx.table.column_header_cell(h)
                            for h in (
                                "#",
                                "Subject",
                                "Client",
                                "Status",
                                "Priority",
                                "SLA",
                                "Channel",
                                "Assignee",
                                "Created",
                            )
                        ],
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
        empty_state(
            "inbox",
            "No tickets here",
            "Nothing matches these filters. Pick another view or create a ticket.",
        ),
    )
