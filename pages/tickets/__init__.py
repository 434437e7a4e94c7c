"""The agent queue: views, combinable filters, keyset pages, search with highlights, bulk
actions, live reload, and the new-ticket dialog."""

from __future__ import annotations

import reflex as rx

from crm_app import keyboard, routes
from crm_app.auth.permissions import Action
from crm_app.layout import signed_in_page
from pages.tickets.new_ticket import new_ticket_dialog
from pages.tickets.queue import filter_bar, queue_table, search_bar, search_results
from pages.tickets.state import PAGE_SIZE, TicketsState, plural

__all__ = ["PAGE_SIZE", "TicketsState", "plural", "tickets_page"]


@signed_in_page(routes.TICKETS, "Tickets", Action.VIEW_TICKETS, on_load=[TicketsState.load])
def tickets_page() -> rx.Component:
    return rx.vstack(
        keyboard.queue_shortcuts(
            on_move=TicketsState.move_cursor,
            on_open=TicketsState.open_cursor,
            search_id="search",
            enabled=~TicketsState.dialog_open,
        ),
        rx.hstack(
            search_bar(),
            rx.spacer(),
            rx.tooltip(
                rx.icon_button(
                    rx.icon("keyboard", size=16),
                    variant="ghost",
                    color_scheme="gray",
                    aria_label="Keyboard shortcuts",
                    on_click=keyboard.ShortcutsState.show_help,
                ),
                content="Keyboard shortcuts (?)",
            ),
            new_ticket_dialog(),
            width="100%",
            align="center",
        ),
        rx.cond(
            TicketsState.search_active,
            search_results(),
            rx.vstack(filter_bar(), queue_table(), width="100%", spacing="3"),
        ),
        spacing="4",
        width="100%",
    )
