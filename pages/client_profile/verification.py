"""The profile's callout for an unverified client (made from an incoming message from someone
unknown): where it came from, "Confirm client", and "Merge into an existing client…" with a
search picker keyed by client id."""

from __future__ import annotations

import reflex as rx

from crm_app.components import client_pick_option, options_listbox, search_input
from crm_app.services.search import ClientPick
from pages.client_profile.state import CAN_EDIT_CLIENT, ClientProfileState

MERGE_SEARCH_DEBOUNCE_MS = 300


def _merge_option(pick: ClientPick) -> rx.Component:
    s = ClientProfileState
    return client_pick_option(
        pick, active=s.merge_target_id == pick.id, on_click=s.pick_merge_target(pick.id)
    )


def _merge_dialog() -> rx.Component:
    s = ClientProfileState
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("merge", size=14),
                "Merge into an existing client…",
                variant="surface",
                id="merge-unverified",
            )
        ),
        rx.dialog.content(
            rx.dialog.title("Merge into an existing client"),
            rx.dialog.description(
                "The tickets, notes and history of ",
                rx.text.strong(s.client.name),
                " move to the client you choose, which keeps its own details and gains this "
                "one's address; this record is then removed.",
                size="2",
            ),
            rx.vstack(
                search_input(
                    value=s.merge_query,
                    on_change=s.search_merge_targets,
                    debounce_ms=MERGE_SEARCH_DEBOUNCE_MS,
                    placeholder="Name, email, phone or client number…",
                    aria_label="Find the existing client",
                    id="merge-search",
                ),
                rx.cond(
                    s.merge_query != "",
                    options_listbox(
                        rx.foreach(s.merge_picks, _merge_option),
                        none_found=s.merge_picks.length() == 0,
                        none_text="No other client matches.",
                        listbox_id="merge-options",
                    ),
                ),
                rx.cond(
                    s.merge_target_id > 0,
                    rx.text("Merge into ", rx.text.strong(s.merge_target_label), size="2"),
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button(
                        "Merge",
                        color_scheme="red",
                        disabled=s.merge_target_id == 0,
                        on_click=s.merge_into_target,
                        id="merge-confirm",
                    ),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                align="stretch",
                padding_top="0.75rem",
            ),
            max_width="34rem",
        ),
        open=s.merge_open,
        on_open_change=s.set_merge_open,
    )


def unverified_callout() -> rx.Component:
    """Shown while the client is unverified and not deleted; the actions only to those who
    may edit clients (the services check again)."""
    s = ClientProfileState
    return rx.cond(
        s.origin != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("user-search")),
            rx.flex(
                rx.vstack(
                    rx.text("Unverified client", weight="bold", size="2"),
                    rx.text(
                        "Created from ",
                        s.origin,
                        ". Confirm it is a new client, or merge it into the client who wrote.",
                        size="2",
                    ),
                    spacing="1",
                ),
                rx.spacer(),
                rx.cond(
                    CAN_EDIT_CLIENT,
                    rx.hstack(
                        rx.button(
                            rx.icon("user-check", size=14),
                            "Confirm client",
                            on_click=s.confirm,
                            id="confirm-client",
                        ),
                        _merge_dialog(),
                        spacing="2",
                    ),
                ),
                align="center",
                wrap="wrap",
                gap="3",
                width="100%",
            ),
            color_scheme="amber",
            id="unverified-callout",
            width="100%",
        ),
    )
