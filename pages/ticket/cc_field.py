"""The reply composer's recipients on an email ticket: To the client, Cc the ticket's CC list,
which the agent edits here (Enter or leaving the field adds what was typed; each address has its
own remove button, so the keyboard reaches everything)."""

from __future__ import annotations

import reflex as rx

from crm_app.components import removable_chip
from pages.ticket.state import CC_INPUT_ID, TicketState


def _recipient_label(text: str) -> rx.Component:
    return rx.text(text, size="1", color_scheme="gray", width="2rem", flex_shrink="0")


def cc_field() -> rx.Component:
    """To and Cc of the reply (email tickets, replies only: a note goes to no one)."""
    return rx.cond(
        TicketState.shows_cc & ~TicketState.internal,
        rx.vstack(
            rx.hstack(
                _recipient_label("To"),
                rx.text(
                    rx.cond(TicketState.client_email != "", TicketState.client_email, "—"),
                    size="1",
                    id="reply-to",
                ),
                align="center",
                width="100%",
            ),
            rx.hstack(
                rx.el.label(
                    _recipient_label("Cc"), html_for=CC_INPUT_ID, display="flex", flex_shrink="0"
                ),
                rx.foreach(
                    TicketState.cc_draft,
                    lambda address: removable_chip(
                        address,
                        TicketState.remove_cc(address),
                        "Remove " + address + " from Cc",
                        class_name="cc-chip",
                    ),
                ),
                rx.form(
                    rx.input(
                        name="cc",
                        id=CC_INPUT_ID,
                        type="text",
                        placeholder="Add people to copy (name@example.com)…",
                        aria_label="Add people to copy in Cc",
                        aria_invalid=rx.cond(TicketState.cc_error != "", "true", "false"),
                        aria_describedby="cc-error",
                        auto_complete="off",
                        on_blur=TicketState.commit_cc,
                        size="1",
                        width="100%",
                    ),
                    on_submit=TicketState.add_cc,
                    reset_on_submit=False,
                    flex="1",
                    min_width="14rem",
                ),
                align="center",
                wrap="wrap",
                spacing="1",
                width="100%",
                id="cc-list",
            ),
            rx.cond(
                TicketState.cc_error != "",
                rx.callout(
                    TicketState.cc_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    role="alert",
                    width="100%",
                    id="cc-error",
                ),
            ),
            spacing="1",
            width="100%",
            id="reply-recipients",
        ),
    )
