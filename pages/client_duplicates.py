"""Likely duplicate clients, strongest first, each pair with a merge into the older record."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state
from crm_app.layout import signed_in_page
from crm_app.services import client_duplicates
from crm_app.services.client_duplicates import DuplicatePair
from crm_app.state import AppState, service_event


class ClientDuplicatesState(AppState):
    pairs: list[DuplicatePair] = []
    loaded: bool = False

    @service_event
    def load(self, actor: Actor):
        self.pairs = client_duplicates.find_duplicates(actor)
        self.loaded = True

    @service_event
    def merge(self, actor: Actor, keep_id: int, other_id: int):
        client_duplicates.merge_clients(actor, keep_id, other_id)
        return [
            rx.toast.success("Merged: tickets, notes and history moved"),
            ClientDuplicatesState.load,
        ]


def _client_cell(client_id, name, email) -> rx.Component:
    return rx.vstack(
        rx.link(name, href=routes.client(client_id), weight="medium"),
        rx.text("#", client_id.to_string(), " ", email, size="1", color_scheme="gray"),
        spacing="0",
    )


def _pair(pair: DuplicatePair) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_client_cell(pair.keep_id, pair.keep_name, pair.keep_email)),
        rx.table.cell(_client_cell(pair.other_id, pair.other_name, pair.other_email)),
        rx.table.cell(rx.foreach(pair.reasons, lambda r: rx.badge(r, margin_right="4px"))),
        rx.table.cell(
            rx.button(
                "Merge into #",
                pair.keep_id.to_string(),
                size="1",
                on_click=ClientDuplicatesState.merge(pair.keep_id, pair.other_id),
            )
        ),
        class_name="duplicate-row",
    )


@signed_in_page(
    routes.CLIENT_DUPLICATES,
    "Duplicate clients",
    Action.EDIT_CLIENTS,
    on_load=[ClientDuplicatesState.load],
)
def client_duplicates_page() -> rx.Component:
    s = ClientDuplicatesState
    return rx.vstack(
        rx.text(
            "Same email, same phone or a similar name. Merging keeps the first (older) "
            "record, fills its empty fields from the other, and moves the other's tickets, "
            "notes and history onto it.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            s.pairs.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[rx.table.column_header_cell(h) for h in ("Keep", "Merge away", "Why", "")]
                    )
                ),
                rx.table.body(rx.foreach(s.pairs, _pair)),
                variant="surface",
                width="100%",
            ),
            rx.cond(
                s.loaded,
                empty_state("copy-check", "No likely duplicates", "Every client looks distinct."),
                rx.center(rx.spinner(), padding="3rem"),
            ),
        ),
        width="100%",
        spacing="4",
    )
