"""One client's profile: edit every field, their tickets, campaigns, notes and history."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.components import empty_state
from crm_app.layout import signed_in_page
from crm_app.timefmt import when
from pages.client_correspondence import ClientCorrespondenceState, correspondence_section
from pages.client_profile.sections import (
    campaigns_section,
    details_form,
    history_section,
    notes_section,
    portal_access_section,
    privacy_section,
    tickets_section,
)
from pages.client_profile.state import HANDLES_PRIVACY, SEES_TICKETS, ClientProfileState
from pages.client_profile.verification import unverified_callout


@signed_in_page(
    routes.CLIENT,
    "Client",
    Action.VIEW_CLIENTS,
    on_load=[ClientProfileState.load, ClientCorrespondenceState.load],
)
def client_profile_page() -> rx.Component:
    s = ClientProfileState
    return rx.cond(
        s.client,
        rx.vstack(
            rx.hstack(
                rx.link(rx.icon("arrow-left"), href=routes.CLIENTS, aria_label="Back"),
                rx.heading(s.client.name, size="6", id="client-heading"),
                rx.badge(s.client.kind),
                rx.badge(s.client.risk_category, color_scheme="blue"),
                rx.cond(s.client.legal_hold, rx.badge("legal hold", color_scheme="amber")),
                rx.cond(s.client.deleted, rx.badge("deleted", color_scheme="red")),
                rx.cond(s.origin != "", rx.badge("Unverified", color_scheme="amber")),
                portal_access_section(),
                rx.spacer(),
                rx.hstack(
                    rx.text("Created", size="1", color_scheme="gray"),
                    when(s.client.created_at),
                    rx.text("· updated", size="1", color_scheme="gray"),
                    when(s.client.updated_at),
                    spacing="1",
                ),
                align="center",
                width="100%",
            ),
            unverified_callout(),
            rx.tabs.root(
                rx.tabs.list(
                    rx.tabs.trigger("Details", value="details"),
                    rx.cond(SEES_TICKETS, rx.tabs.trigger("Tickets", value="tickets")),
                    rx.cond(
                        SEES_TICKETS,
                        rx.tabs.trigger("Correspondence", value="correspondence"),
                    ),
                    rx.tabs.trigger("Campaigns", value="campaigns"),
                    rx.tabs.trigger("Notes", value="notes"),
                    rx.tabs.trigger("History", value="history", id="history-tab"),
                    rx.cond(
                        HANDLES_PRIVACY,
                        rx.tabs.trigger("Privacy", value="privacy", id="privacy-tab"),
                    ),
                ),
                rx.tabs.content(
                    rx.box(details_form(s.client), padding_top="1rem"), value="details"
                ),
                rx.tabs.content(rx.box(tickets_section(), padding_top="1rem"), value="tickets"),
                rx.tabs.content(
                    rx.box(correspondence_section(), padding_top="1rem"), value="correspondence"
                ),
                rx.tabs.content(
                    rx.box(campaigns_section(), padding_top="1rem"),
                    value="campaigns",
                ),
                rx.tabs.content(rx.box(notes_section(), padding_top="1rem"), value="notes"),
                rx.tabs.content(rx.box(history_section(), padding_top="1rem"), value="history"),
                rx.tabs.content(rx.box(privacy_section(), padding_top="1rem"), value="privacy"),
                default_value="details",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        rx.cond(
            s.not_found != "",
            empty_state("user-x", "Client not found", s.not_found),
            rx.center(rx.spinner(), padding="3rem"),
        ),
    )
