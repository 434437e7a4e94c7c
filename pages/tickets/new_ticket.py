"""The new-ticket dialog: a client picker searching the whole base (or a new client), the
subject, the first message and how it came in."""

from __future__ import annotations

import reflex as rx

from crm_app.components import (
    client_pick_option,
    field,
    form_error,
    options_listbox,
    search_input,
)
from crm_app.services.mail import cc as mail_cc
from crm_app.services.search import ClientPick
from models.ticket import Channel, TicketPriority
from pages.tickets.state import CLIENT_SEARCH_DEBOUNCE_MS, TicketsState


def _when_key(key: rx.Var[str], wanted: str, event: rx.event.EventSpec) -> rx.Var:
    return rx.cond(key == wanted, event, rx.noop())


def _pick_option(pick: ClientPick, index: rx.Var[int]) -> rx.Component:
    return client_pick_option(
        pick, active=TicketsState.pick_index == index, on_click=TicketsState.pick(pick.id)
    )


def _client_picker() -> rx.Component:
    """Search the whole client base as you type; arrows move, Enter picks, Esc closes; the last
    option adds a new client."""
    new_active = TicketsState.pick_index == TicketsState.client_picks.length()
    return rx.cond(
        TicketsState.picked_id > 0,
        rx.hstack(
            rx.badge(
                rx.icon("user", size=14),
                TicketsState.picked_label,
                size="2",
                variant="soft",
                id="picked-client",
            ),
            rx.button(
                "Change",
                size="1",
                variant="ghost",
                on_click=TicketsState.clear_pick,
                id="change-client",
            ),
            align="center",
        ),
        rx.box(
            search_input(
                value=TicketsState.client_query,
                on_change=TicketsState.search_clients,
                debounce_ms=CLIENT_SEARCH_DEBOUNCE_MS,
                on_key_down=lambda key, info: [
                    _when_key(key, "ArrowDown", TicketsState.move_pick(1).prevent_default),
                    _when_key(key, "ArrowUp", TicketsState.move_pick(-1).prevent_default),
                    _when_key(key, "Enter", TicketsState.choose_pick.prevent_default),
                    _when_key(key, "Escape", TicketsState.close_picker),
                ],
                placeholder="Name, email, phone or client number…",
                id="client-search",
                role="combobox",
                aria_expanded=TicketsState.picker_open,
                aria_controls="client-options",
                aria_autocomplete="list",
            ),
            rx.cond(
                TicketsState.picker_open,
                options_listbox(
                    rx.foreach(TicketsState.client_picks, _pick_option),
                    none_found=TicketsState.client_picks.length() == 0,
                    none_text="No client matches.",
                    listbox_id="client-options",
                    footer=rx.box(
                        rx.hstack(
                            rx.icon("user-plus", size=14),
                            rx.text("New client", size="2", weight="medium"),
                            align="center",
                            spacing="2",
                        ),
                        role="option",
                        aria_selected=new_active,
                        id="pick-new-client",
                        on_click=TicketsState.start_new_client,
                        padding="0.4rem 0.6rem",
                        cursor="pointer",
                        border_top=f"1px solid {rx.color('gray', 4)}",
                        background=rx.cond(new_active, rx.color("accent", 4), "transparent"),
                        _hover={"background": rx.color("accent", 3)},
                    ),
                ),
            ),
            rx.cond(
                TicketsState.adding_client,
                rx.vstack(
                    rx.text("New client", size="2", weight="bold"),
                    rx.hstack(
                        rx.input(
                            placeholder="Full name",
                            value=TicketsState.new_client_name,
                            on_change=TicketsState.set_new_client_name,
                            id="new-client-name",
                            max_length=200,
                            width="50%",
                        ),
                        rx.input(
                            placeholder="Email",
                            type="email",
                            value=TicketsState.new_client_email,
                            on_change=TicketsState.set_new_client_email,
                            on_key_down=lambda key, info: [
                                _when_key(key, "Enter", TicketsState.add_client.prevent_default)
                            ],
                            id="new-client-email",
                            max_length=320,
                            width="50%",
                        ),
                        width="100%",
                    ),
                    form_error(TicketsState.add_client_error),
                    rx.hstack(
                        rx.button(
                            "Cancel",
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            on_click=TicketsState.cancel_new_client,
                            type="button",
                        ),
                        rx.button(
                            "Add client",
                            size="1",
                            on_click=TicketsState.add_client,
                            type="button",
                            id="add-client",
                        ),
                        justify="end",
                        width="100%",
                    ),
                    padding="0.75rem",
                    margin_top="0.5rem",
                    border=f"1px solid {rx.color('gray', 5)}",
                    border_radius="6px",
                    width="100%",
                    spacing="2",
                    id="new-client-form",
                ),
            ),
            width="100%",
        ),
    )


def _cc_input() -> rx.Component:
    """Who else the email goes to: a plain input, in the tab order, sent with the form; the
    tickets service checks each address (an error shows below, nothing is saved)."""
    return rx.cond(
        TicketsState.new_channel == Channel.EMAIL.value,
        field(
            "Cc",
            rx.vstack(
                rx.input(
                    name="cc",
                    id="new-cc",
                    type="text",
                    placeholder="name@example.com, other@example.com",
                    aria_label="Cc: people to copy on the email",
                    aria_describedby="new-cc-hint",
                    auto_complete="off",
                    max_length=mail_cc.MAX_TYPED,
                    width="100%",
                ),
                rx.text(
                    "Commas or semicolons between addresses. They get the first email and "
                    "every reply in Cc.",
                    size="1",
                    color_scheme="gray",
                    id="new-cc-hint",
                ),
                spacing="1",
                width="100%",
            ),
        ),
    )


def new_ticket_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("plus"), "New ticket", on_click=TicketsState.open_dialog, id="new-ticket"
            )
        ),
        rx.dialog.content(
            rx.dialog.title("New ticket"),
            rx.vstack(
                # Outside the form: Enter in the picker picks, it does not submit.
                field("Client", _client_picker()),
                rx.form(
                    rx.vstack(
                        field(
                            "Subject",
                            rx.input(
                                name="subject",
                                id="subject",
                                required=True,
                                max_length=300,
                                width="100%",
                            ),
                        ),
                        rx.hstack(
                            field(
                                "Channel",
                                rx.select(
                                    [c.value for c in Channel],
                                    value=TicketsState.new_channel,
                                    on_change=TicketsState.set_new_channel,
                                    name="channel",
                                    id="new-channel",
                                ),
                            ),
                            field(
                                "Priority",
                                rx.select(
                                    [p.value for p in TicketPriority],
                                    value=TicketsState.new_priority,
                                    on_change=TicketsState.set_new_priority,
                                    name="priority",
                                ),
                            ),
                            width="100%",
                        ),
                        _cc_input(),
                        field(
                            rx.cond(
                                TicketsState.logged_for_client,
                                "What the client asked",
                                "Your message to the client",
                            ),
                            rx.text_area(
                                name="body", id="body", required=True, rows="5", width="100%"
                            ),
                        ),
                        rx.text(
                            rx.cond(
                                TicketsState.logged_for_client,
                                "Logged as the client's own message, by you: the reply clock "
                                "starts now.",
                                "Sent as your message to the client.",
                            ),
                            size="1",
                            color_scheme="gray",
                            id="body-hint",
                        ),
                        form_error(TicketsState.create_error),
                        rx.hstack(
                            rx.dialog.close(
                                rx.button(
                                    "Cancel", variant="soft", color_scheme="gray", type="button"
                                )
                            ),
                            rx.button("Create ticket", type="submit", id="create-ticket"),
                            justify="end",
                            width="100%",
                        ),
                        spacing="3",
                    ),
                    on_submit=TicketsState.create,
                    reset_on_submit=False,
                ),
                spacing="3",
                width="100%",
            ),
            # Esc closes an open client list first, the dialog on the next press.
            on_escape_key_down=rx.cond(
                TicketsState.picker_open, TicketsState.close_picker.prevent_default, rx.noop()
            ),
            max_width="36rem",
        ),
        open=TicketsState.dialog_open,
        on_open_change=TicketsState.set_dialog_open,
    )
