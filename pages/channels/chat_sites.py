"""The web chat card of the channel settings page: the sites (state, widget address, allowed
origins, key), the form to add one, and the open site's settings form (edit, turn off and on)."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.components import empty_state, field
from crm_app.components.tables import data_table
from crm_app.services.messaging.web_chat import SiteRow
from pages.channels.state import ChannelsState


def _site_row(site: SiteRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.box(width="12px", height="12px", border_radius="3px", background=site.colour),
                rx.text(site.name, weight="medium"),
                align="center",
            )
        ),
        rx.table.cell(
            rx.badge(
                rx.cond(site.enabled, "On", "Off"),
                color_scheme=rx.cond(site.enabled, "green", "gray"),
                class_name="chat-site-state",
            )
        ),
        rx.table.cell(
            rx.link(routes.chat_widget(site.public_id), href=routes.chat_widget(site.public_id))
        ),
        rx.table.cell(rx.text(site.allowed_origins.join(", "), size="1")),
        rx.table.cell(rx.code(site.key_hint + "…")),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=ChannelsState.start_edit(site.id),
                    class_name="chat-site-edit",
                ),
                rx.button(
                    rx.cond(site.enabled, "Turn off", "Turn on"),
                    size="1",
                    variant="soft",
                    color_scheme=rx.cond(site.enabled, "red", "green"),
                    on_click=ChannelsState.set_site_enabled(site.id, ~site.enabled),
                    class_name="chat-site-toggle",
                ),
                rx.button(
                    "New key",
                    size="1",
                    variant="soft",
                    on_click=ChannelsState.rotate(site.id),
                ),
                spacing="2",
            )
        ),
        class_name="chat-site-row",
    )


def _new_key() -> rx.Component:
    s = ChannelsState
    return rx.cond(
        s.new_key != "",
        rx.callout(
            rx.vstack(
                rx.text(
                    "The site's key for POST /api/chat/messages (header X-Chat-Site-Key). "
                    "It is shown once: copy it now.",
                    size="2",
                ),
                rx.code(s.new_key, id="chat-site-key"),
                rx.cond(
                    s.new_snippet != "",
                    rx.vstack(
                        rx.text("Paste this into the website's pages:", size="2"),
                        rx.code(s.new_snippet, id="chat-snippet", white_space="pre-wrap"),
                    ),
                ),
                rx.button("Done", size="1", variant="soft", on_click=s.forget_key),
            ),
            icon="key-round",
            color_scheme="green",
            width="100%",
        ),
    )


def _site_fields(prefix: str, site: rx.Var | None = None) -> rx.Component:
    """The site's settings as form fields: empty for a new site, `site`'s values to edit."""

    def value(name: str, fallback: str = "") -> dict:
        return {"default_value": getattr(site, name) if site is not None else fallback}

    origins = {"default_value": site.allowed_origins.join("\n")} if site is not None else {}
    return rx.grid(
        field(
            "Site name",
            rx.input(
                name="name", id=f"{prefix}-name", required=True, width="100%", **value("name")
            ),
        ),
        field(
            "Name shown in the chat",
            rx.input(
                name="brand_name",
                id=f"{prefix}-brand",
                placeholder="Finance CRM",
                width="100%",
                **value("brand_name"),
            ),
        ),
        field(
            "Allowed origins (one per line)",
            rx.text_area(
                name="allowed_origins",
                id=f"{prefix}-origins",
                placeholder="https://www.firm.example",
                width="100%",
                **origins,
            ),
        ),
        field(
            "Colour",
            # A native colour input: inside Radix's text field its swatch shrinks to a line.
            rx.el.input(
                name="colour",
                id=f"{prefix}-colour",
                type="color",
                style={"width": "3.5rem", "height": "2rem", "padding": "0", "border": "0"},
                **value("colour", "#0d9488"),
            ),
        ),
        field(
            "Greeting",
            rx.input(
                name="greeting",
                id=f"{prefix}-greeting",
                placeholder="Hello! How can we help you today?",
                width="100%",
                **value("greeting"),
            ),
        ),
        field(
            "Office hours text",
            rx.input(
                name="office_hours",
                id=f"{prefix}-hours",
                placeholder="Mon–Fri 8:00–18:00 CET",
                width="100%",
                **value("office_hours"),
            ),
        ),
        columns="2",
        spacing="3",
        width="100%",
    )


def _edit_form() -> rx.Component:
    s = ChannelsState
    return rx.cond(
        s.editing,
        rx.card(
            rx.form(
                rx.vstack(
                    rx.hstack(
                        rx.heading("Edit “", s.editing.name, "”", size="3"),
                        rx.spacer(),
                        rx.badge(
                            rx.cond(s.editing.enabled, "On", "Off: the widget says unavailable"),
                            color_scheme=rx.cond(s.editing.enabled, "green", "gray"),
                        ),
                        width="100%",
                        align="center",
                    ),
                    _site_fields("edit-site", s.editing),
                    rx.hstack(
                        rx.button("Save", type="submit", id="edit-site-save"),
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=s.cancel_edit,
                        ),
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=s.save_site,
                key=s.form_version.to_string() + "-edit",
                width="100%",
            ),
            width="100%",
            id="chat-site-editor",
        ),
    )


def chat_card() -> rx.Component:
    s = ChannelsState
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon("messages-square", size=18), rx.heading("Web chat", size="4")),
            rx.text(
                "Each site embeds the chat with one snippet; only the origins listed may frame "
                "it. Chats become tickets on the web chat channel; when the visitor has left "
                "the page, the answer goes to them by email. A site turned off says the chat is "
                "unavailable, and its key is refused.",
                size="2",
                color_scheme="gray",
            ),
            _new_key(),
            data_table(
                ("Site", "State", "Widget", "Allowed origins", "Key", ""),
                s.sites,
                _site_row,
                empty=empty_state(
                    "messages-square",
                    "No chat sites yet",
                    "Add the firm's website below to get the snippet to embed.",
                ),
                size="1",
                variant="surface",
                id="chat-sites",
            ),
            _edit_form(),
            rx.form(
                rx.heading("Add a site", size="3", padding_bottom="0.5rem"),
                _site_fields("site"),
                rx.button("Add site", type="submit", id="site-add", margin_top="0.75rem"),
                on_submit=s.create_site,
                reset_on_submit=True,
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )
