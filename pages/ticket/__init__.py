"""One ticket: the conversation as a timeline, the reply/internal-note composer with macros
(drafts only: their status/priority/tags go with the reply when it is sent) and attachments,
status/priority/assignee/tags controls under optimistic locking, presence of other agents, the
client sidebar, merge, read/unread, the audit history, and live reload."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.components import (
    confirm_dialog,
    empty_state,
    priority_badge,
    removable_chip,
    sla_badge,
    staff_picker,
    status_badge,
)
from crm_app.keyboard import ticket_shortcuts
from crm_app.layout import signed_in_page
from crm_app.services.tickets import TicketRow
from crm_app.timefmt import when
from models.ticket import TicketPriority, TicketStatus
from pages.ai_panel import ai_panel
from pages.ticket.conversation import COMPOSER_TEXT, composer, message_bubble
from pages.ticket.sla_panel import sla_panel
from pages.ticket.state import UNASSIGNED, UNASSIGNED_ID, TicketState, route_number

__all__ = ["TicketState", "route_number", "ticket_page"]


def _label(text: str) -> rx.Component:
    return rx.text(text, size="1", color_scheme="gray")


def _tags(ticket: TicketRow) -> rx.Component:
    """The ticket's tags (removable) and a field that adds one on Enter, suggesting tags in use."""
    return rx.vstack(
        _label("Tags"),
        rx.cond(
            ticket.tags.length() > 0,
            rx.hstack(
                rx.foreach(
                    ticket.tags,
                    lambda tag: removable_chip(
                        tag,
                        TicketState.remove_tag(tag),
                        "Remove tag " + tag,
                        class_name="ticket-tag",
                    ),
                ),
                wrap="wrap",
                spacing="1",
                id="ticket-tags",
            ),
            rx.text("No tags", size="1", color_scheme="gray", id="ticket-tags"),
        ),
        rx.form(
            rx.hstack(
                rx.input(
                    name="tag",
                    on_change=TicketState.set_tag_input.debounce(200),
                    placeholder="Add a tag…",
                    aria_label="Add a tag",
                    list="tag-suggestions",
                    max_length=40,
                    size="1",
                    width="100%",
                    id="tag-input",
                    auto_complete="off",
                ),
                rx.button("Add", type="submit", size="1", variant="soft", id="add-tag"),
                spacing="1",
                width="100%",
            ),
            rx.el.datalist(
                rx.foreach(TicketState.tag_suggestions, lambda t: rx.el.option(value=t)),
                id="tag-suggestions",
            ),
            on_submit=TicketState.add_tag,
            reset_on_submit=True,
            width="100%",
        ),
        spacing="1",
        width="100%",
    )


def _controls(ticket: TicketRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            _label("Status"),
            rx.select(
                [s.value for s in TicketStatus],
                value=ticket.status,
                on_change=TicketState.change_status,
                aria_label="Status",
                id="status-select",
            ),
            _label("Priority"),
            rx.select(
                [p.value for p in TicketPriority],
                value=ticket.priority,
                on_change=TicketState.change_priority,
                aria_label="Priority",
                id="priority-select",
            ),
            _label("Assignee"),
            staff_picker(
                TicketState.staff,
                value=TicketState.assignee_id,
                on_change=TicketState.change_assignee,
                aria_label="Assignee",
                id="assignee-select",
                none_value=UNASSIGNED_ID,
                none_label=UNASSIGNED,
            ),
            _tags(ticket),
            rx.hstack(_label("SLA"), sla_badge(ticket.sla_state), align="center"),
            rx.hstack(
                rx.button(
                    rx.cond(ticket.is_unread, "Mark read", "Mark unread"),
                    size="1",
                    variant="soft",
                    on_click=TicketState.toggle_unread,
                    id="toggle-unread",
                ),
                rx.text("version ", ticket.version, size="1", color_scheme="gray"),
                align="center",
                justify="between",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _csat_card() -> rx.Component:
    """The client's rating of the answer (CSAT 1-5), when they gave one in the portal."""
    csat = TicketState.csat
    return rx.cond(
        csat,
        rx.card(
            rx.vstack(
                _label("Client satisfaction"),
                rx.hstack(
                    rx.text(csat.score, " / 5", weight="bold", size="4"),
                    rx.hstack(
                        *(
                            rx.icon(
                                "star",
                                size=14,
                                color=rx.cond(
                                    csat.score >= n, rx.color("amber", 9), rx.color("gray", 6)
                                ),
                                fill=rx.cond(csat.score >= n, rx.color("amber", 9), "none"),
                            )
                            for n in range(1, 6)
                        ),
                        spacing="0",
                    ),
                    align="center",
                ),
                rx.cond(csat.comment != "", rx.text("“", csat.comment, "”", size="2")),
                rx.text("Rated ", csat.rated_at, size="1", color_scheme="gray"),
                spacing="1",
                width="100%",
            ),
            width="100%",
            id="ticket-csat",
        ),
    )


def _client_card() -> rx.Component:
    client = TicketState.client
    return rx.card(
        rx.vstack(
            _label("Client"),
            rx.cond(
                client,
                rx.vstack(
                    rx.text(client.name, weight="bold"),
                    rx.text(client.email, size="2"),
                    rx.text(client.phone, size="2"),
                    rx.hstack(
                        rx.badge(client.region, variant="soft"),
                        rx.badge("risk: ", client.risk_category, variant="outline"),
                    ),
                    rx.cond(
                        client.net_worth != "", rx.text("Net worth: ", client.net_worth, size="2")
                    ),
                    spacing="1",
                ),
                rx.text("No client", color_scheme="gray"),
            ),
            rx.cond(
                TicketState.other_tickets.length() > 0,
                rx.vstack(
                    rx.divider(),
                    _label("Their other tickets"),
                    rx.foreach(
                        TicketState.other_tickets,
                        lambda t: rx.hstack(
                            rx.link(
                                "#",
                                t.number,
                                " ",
                                t.subject,
                                href=routes.ticket(t.number),
                                size="1",
                            ),
                            rx.spacer(),
                            status_badge(t.status),
                            width="100%",
                            align="center",
                        ),
                    ),
                    width="100%",
                    spacing="1",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _merge_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            _label("Merge this ticket into another (it closes, its messages move)"),
            rx.hstack(
                rx.input(
                    placeholder="#number",
                    value=TicketState.merge_target,
                    on_change=TicketState.set_merge_target,
                    size="1",
                    id="merge-target",
                    width="8rem",
                ),
                confirm_dialog(
                    rx.button(
                        "Merge…",
                        size="1",
                        variant="soft",
                        color_scheme="orange",
                        disabled=TicketState.merge_target == "",
                    ),
                    "Merge ticket",
                    "Move every message into #",
                    TicketState.merge_target,
                    " and close this ticket? This cannot be undone.",
                    confirm_label="Merge",
                    on_confirm=TicketState.merge,
                    color_scheme="orange",
                    confirm_id="confirm-merge",
                ),
                align="center",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _history_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            _label("History"),
            rx.foreach(
                TicketState.history,
                lambda h: rx.vstack(
                    rx.text(h.actor_name, " · ", h.action, size="1", weight="medium"),
                    rx.cond(h.changes != "", rx.text(h.changes, size="1", color_scheme="gray")),
                    when(h.created_iso),
                    spacing="0",
                ),
            ),
            spacing="2",
            width="100%",
            max_height="20rem",
            overflow_y="auto",
        ),
        width="100%",
    )


def _ticket(ticket: TicketRow) -> rx.Component:
    return rx.hstack(
        ticket_shortcuts(
            on_reply=TicketState.set_internal(False),
            on_note=TicketState.set_internal(True),
            on_send=TicketState.send(COMPOSER_TEXT),
        ),
        rx.vstack(
            rx.hstack(
                rx.link(rx.icon("arrow-left", size=16), "Queue", href=routes.TICKETS, size="2"),
                rx.heading("#", ticket.number, " ", ticket.subject, size="5", id="ticket-title"),
                status_badge(ticket.status),
                priority_badge(ticket.priority),
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                TicketState.merged_into > 0,
                rx.callout(
                    rx.hstack(
                        rx.text("Merged into "),
                        rx.link(
                            "#",
                            TicketState.merged_into,
                            href=routes.ticket(TicketState.merged_into),
                        ),
                    ),
                    icon="git-merge",
                    color_scheme="gray",
                    width="100%",
                ),
            ),
            rx.cond(
                TicketState.presence_text != "",
                rx.callout(
                    TicketState.presence_text,
                    icon="eye",
                    color_scheme="blue",
                    width="100%",
                    id="presence",
                ),
            ),
            rx.cond(
                TicketState.conflict != "",
                rx.callout(
                    TicketState.conflict,
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    width="100%",
                    id="conflict",
                ),
            ),
            rx.cond(
                TicketState.conflict != "",
                rx.button(
                    "Dismiss",
                    size="1",
                    variant="ghost",
                    color_scheme="gray",
                    on_click=TicketState.dismiss_conflict,
                    id="dismiss-conflict",
                ),
            ),
            rx.vstack(
                rx.foreach(TicketState.messages, message_bubble),
                width="100%",
                spacing="3",
                id="timeline",
            ),
            composer(),
            width="100%",
            # A flex item's min-width is its content's by default: without this, one long
            # unbroken line widens the column under the side panel.
            min_width="0",
            flex="1",
            spacing="3",
        ),
        # Keyboard shortcuts for this page: mount their component here.
        rx.vstack(
            _controls(ticket),
            # AI suggestion panel: add its component on the next line.
            ai_panel(),
            _csat_card(),
            sla_panel(),
            _client_card(),
            _merge_card(),
            _history_card(),
            width="20rem",
            flex_shrink="0",
            spacing="3",
            id="ticket-side",
        ),
        align="start",
        spacing="5",
        width="100%",
        on_unmount=TicketState.leave,
    )


@signed_in_page(routes.TICKET, "Ticket", Action.VIEW_TICKETS, on_load=[TicketState.load])
def ticket_page() -> rx.Component:
    return rx.cond(
        TicketState.ticket,
        _ticket(TicketState.ticket),
        rx.cond(
            TicketState.not_found != "",
            empty_state("search-x", "Ticket not found", TicketState.not_found),
            rx.spinner(),
        ),
    )
