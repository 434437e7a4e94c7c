"""Channels (managers): WhatsApp through Twilio and Meta (enable, credentials, test, the webhook
URL to paste into the provider's console, the latest webhooks received) and the web chat's
sites (branding, allowed origins, the key and the snippet to embed), with the latest
WhatsApp and chat deliveries and failures.

Secrets are write-only here: the page only learns whether one is set.
"""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state, field, form_error
from crm_app.layout import signed_in_page
from crm_app.services.messaging import channel_settings, web_chat
from crm_app.services.messaging.channel_settings import DeliveryRow, EventRow, ProviderSettings
from crm_app.services.messaging.web_chat import SiteRow
from crm_app.settings import get_settings
from crm_app.state import AppState, service_event

_SECRET_LABELS = {
    "auth_token": "Auth token",
    "app_secret": "App secret",
    "verify_token": "Verify token",
    "access_token": "Access token",
}


class ChannelsState(AppState):
    twilio: ProviderSettings | None = None
    meta: ProviderSettings | None = None
    sites: list[SiteRow] = []
    deliveries: list[DeliveryRow] = []
    twilio_enabled: bool = False
    meta_enabled: bool = False
    error: str = ""
    test_message: str = ""
    new_key: str = ""  # a site key just created or rotated: shown once
    new_snippet: str = ""
    form_version: int = 0

    @service_event
    def load(self, actor: Actor):
        self.twilio = channel_settings.provider_settings(actor, "twilio")
        self.meta = channel_settings.provider_settings(actor, "meta")
        self.twilio_enabled, self.meta_enabled = self.twilio.enabled, self.meta.enabled
        self.sites = web_chat.list_sites(actor)
        self.deliveries = channel_settings.recent_deliveries(actor)

    @rx.event
    def set_twilio_enabled(self, value: bool):
        self.twilio_enabled = bool(value)

    @rx.event
    def set_meta_enabled(self, value: bool):
        self.meta_enabled = bool(value)

    def _save(self, actor: Actor, provider: str, enabled: bool, form: dict) -> None:
        values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        channel_settings.save_provider(
            actor,
            provider,
            enabled=enabled,
            values=values,
            new_secrets={k: values.get(k, "") for k in _SECRET_LABELS},
        )
        self.error, self.form_version = "", self.form_version + 1
        self.load()

    @service_event(error_var="error")
    def save_twilio(self, actor: Actor, form: dict):
        self._save(actor, "twilio", self.twilio_enabled, form)
        return rx.toast.success("Twilio settings saved.")

    @service_event(error_var="error")
    def save_meta(self, actor: Actor, form: dict):
        self._save(actor, "meta", self.meta_enabled, form)
        return rx.toast.success("Meta settings saved.")

    @service_event
    def test(self, actor: Actor, provider: str):
        self.test_message = channel_settings.test_provider(actor, provider)

    @service_event(error_var="error")
    def create_site(self, actor: Actor, form: dict):
        created = web_chat.create_site(
            actor,
            name=str(form.get("name", "")),
            allowed_origins=str(form.get("allowed_origins", "")),
            brand_name=str(form.get("brand_name", "")),
            colour=str(form.get("colour", "")),
            greeting=str(form.get("greeting", "")),
            office_hours=str(form.get("office_hours", "")),
        )
        self.new_key = created.key
        public_url = get_settings().public_url
        self.new_snippet = (
            web_chat.loader_snippet(created.site.public_id, public_url)
            + "\n\nor, framed in the page:\n\n"
            + web_chat.embed_snippet(created.site.public_id, public_url)
        )
        self.error, self.form_version = "", self.form_version + 1
        self.load()

    @service_event
    def rotate(self, actor: Actor, site_id: int):
        self.new_key = web_chat.rotate_key(actor, site_id)
        self.new_snippet = ""
        self.load()

    @rx.event
    def forget_key(self):
        self.new_key, self.new_snippet = "", ""


def _events_table(events: rx.Var[list[EventRow]], empty: str) -> rx.Component:
    return rx.cond(
        events.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(h) for h in ("When", "Kind", "Outcome", "Detail")]
                )
            ),
            rx.table.body(
                rx.foreach(
                    events,
                    lambda e: rx.table.row(
                        rx.table.cell(rx.text(e.at, size="1")),
                        rx.table.cell(rx.text(e.kind, size="1")),
                        rx.table.cell(
                            rx.badge(
                                e.outcome,
                                color_scheme=rx.match(
                                    e.outcome, ("refused", "red"), ("accepted", "green"), "gray"
                                ),
                            )
                        ),
                        rx.table.cell(
                            rx.text(e.reason, " ", e.address, " ", e.remote_addr, size="1")
                        ),
                    ),
                )
            ),
            size="1",
            variant="surface",
            width="100%",
        ),
        rx.text(empty, size="1", color_scheme="gray"),
    )


def _secret_input(settings: rx.Var, name: str) -> rx.Component:
    return field(
        _SECRET_LABELS[name],
        rx.input(
            name=name,
            id=f"channel-{name}",
            type="password",
            auto_complete="new-password",
            placeholder=rx.cond(
                settings.secret_flags[name], "set — leave blank to keep", "not set"
            ),
            width="100%",
        ),
    )


def _value_input(settings: rx.Var, name: str, label: str) -> rx.Component:
    return field(
        label,
        rx.input(
            name=name,
            id=f"channel-{name}",
            default_value=settings.setting_values[name],
            width="100%",
        ),
    )


def _templates_input(settings: rx.Var, provider: str, line_format: str) -> rx.Component:
    """The provider's approved WhatsApp templates, one a line with the body's {{1}}, {{2}}:
    outside the 24-hour window the composer offers only these."""
    field_id = f"{provider}-templates"
    return rx.vstack(
        rx.el.label(
            rx.text("Approved templates (one a line)", size="2", weight="medium"),
            html_for=field_id,
        ),
        rx.text(
            line_format,
            " The body's {{1}}, {{2}} are the values the agent fills in; write a line break "
            "as \\n.",
            size="1",
            color_scheme="gray",
            id=f"{field_id}-help",
        ),
        rx.text_area(
            name="templates",
            id=field_id,
            default_value=settings.setting_values["templates"],
            rows="4",
            aria_describedby=f"{field_id}-help",
            font_family="monospace",
            width="100%",
        ),
        spacing="1",
        width="100%",
        padding_top="0.75rem",
    )


def _provider_card(
    title: str,
    provider: str,
    settings: rx.Var,
    enabled: rx.Var[bool],
    on_enabled,
    on_submit,
    values: list[tuple[str, str]],
    secrets: list[str],
    help_text: str,
    templates_format: str,
) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("message-circle", size=18),
                rx.heading(title, size="4"),
                rx.spacer(),
                rx.text("Enabled", size="2"),
                rx.switch(checked=enabled, on_change=on_enabled, id=f"{provider}-enabled"),
                width="100%",
                align="center",
            ),
            rx.text(help_text, size="2", color_scheme="gray"),
            rx.hstack(
                rx.text("Webhook URL:", size="2", weight="medium"),
                rx.code(settings.webhook_url, id=f"{provider}-webhook-url"),
                align="center",
                wrap="wrap",
            ),
            rx.form(
                rx.grid(
                    *[_value_input(settings, name, label) for name, label in values],
                    *[_secret_input(settings, name) for name in secrets],
                    columns="2",
                    spacing="3",
                    width="100%",
                ),
                _templates_input(settings, provider, templates_format),
                rx.hstack(
                    rx.button("Save", type="submit", id=f"{provider}-save"),
                    rx.button(
                        "Test connection",
                        type="button",
                        variant="soft",
                        on_click=ChannelsState.test(provider),
                        id=f"{provider}-test",
                    ),
                    padding_top="0.75rem",
                ),
                on_submit=on_submit,
                reset_on_submit=True,
                key=ChannelsState.form_version.to_string() + provider,
                width="100%",
            ),
            rx.text("Latest webhooks", size="2", weight="medium"),
            _events_table(settings.recent_events, "No webhooks received yet."),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


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
            rx.link(routes.chat_widget(site.public_id), href=routes.chat_widget(site.public_id))
        ),
        rx.table.cell(rx.text(site.allowed_origins.join(", "), size="1")),
        rx.table.cell(rx.code(site.key_hint + "…")),
        rx.table.cell(
            rx.button(
                "New key",
                size="1",
                variant="soft",
                on_click=ChannelsState.rotate(site.id),
            )
        ),
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


def _chat_card() -> rx.Component:
    s = ChannelsState
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon("messages-square", size=18), rx.heading("Web chat", size="4")),
            rx.text(
                "Each site embeds the chat with one iframe snippet; only the origins listed "
                "may frame it. Chats become tickets on the web chat channel; when the "
                "visitor has left the page, the answer goes to them by email.",
                size="2",
                color_scheme="gray",
            ),
            _new_key(),
            rx.cond(
                s.sites.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Site", "Widget", "Allowed origins", "Key", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(s.sites, _site_row)),
                    size="1",
                    variant="surface",
                    width="100%",
                    id="chat-sites",
                ),
                empty_state(
                    "messages-square",
                    "No chat sites yet",
                    "Add the firm's website below to get the snippet to embed.",
                ),
            ),
            rx.form(
                rx.grid(
                    field(
                        "Site name",
                        rx.input(name="name", id="site-name", required=True, width="100%"),
                    ),
                    field(
                        "Name shown in the chat",
                        rx.input(
                            name="brand_name",
                            id="site-brand",
                            placeholder="Finance CRM",
                            width="100%",
                        ),
                    ),
                    field(
                        "Allowed origins (one per line)",
                        rx.text_area(
                            name="allowed_origins",
                            id="site-origins",
                            placeholder="https://www.firm.example",
                            width="100%",
                        ),
                    ),
                    field(
                        "Colour",
                        rx.input(
                            name="colour", id="site-colour", type="color", default_value="#0d9488"
                        ),
                    ),
                    field(
                        "Greeting",
                        rx.input(
                            name="greeting",
                            id="site-greeting",
                            placeholder="Hello! How can we help you today?",
                            width="100%",
                        ),
                    ),
                    field(
                        "Office hours text",
                        rx.input(
                            name="office_hours",
                            id="site-hours",
                            placeholder="Mon–Fri 8:00–18:00 CET",
                            width="100%",
                        ),
                    ),
                    columns="2",
                    spacing="3",
                    width="100%",
                ),
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


def _deliveries() -> rx.Component:
    s = ChannelsState
    return rx.card(
        rx.vstack(
            rx.heading("Latest WhatsApp and chat deliveries", size="4"),
            rx.cond(
                s.deliveries.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("When", "Ticket", "Channel", "To", "State", "Error")
                            ]
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            s.deliveries,
                            lambda d: rx.table.row(
                                rx.table.cell(rx.text(d.at, size="1")),
                                rx.table.cell(
                                    rx.link(
                                        "#",
                                        d.number.to_string(),
                                        href=routes.ticket(d.number),
                                    )
                                ),
                                rx.table.cell(rx.text(d.channel, size="1")),
                                rx.table.cell(rx.text(d.recipient, size="1")),
                                rx.table.cell(
                                    rx.badge(
                                        d.status,
                                        color_scheme=rx.match(
                                            d.status, ("failed", "red"), ("sent", "green"), "gray"
                                        ),
                                    )
                                ),
                                rx.table.cell(rx.text(d.error, size="1", color_scheme="red")),
                            ),
                        )
                    ),
                    size="1",
                    variant="surface",
                    width="100%",
                ),
                rx.text("Nothing sent on these channels yet.", size="1", color_scheme="gray"),
            ),
            width="100%",
        ),
        width="100%",
    )


@signed_in_page(
    routes.CHANNELS, "Channels", Action.MANAGE_INTEGRATIONS, on_load=[ChannelsState.load]
)
def channels_page() -> rx.Component:
    s = ChannelsState
    return rx.vstack(
        form_error(s.error),
        rx.cond(
            s.test_message != "",
            rx.callout(s.test_message, icon="plug", id="channel-test-result", width="100%"),
        ),
        rx.cond(
            s.twilio,
            _provider_card(
                "WhatsApp through Twilio",
                "twilio",
                s.twilio,
                s.twilio_enabled,
                s.set_twilio_enabled,
                s.save_twilio,
                [
                    ("account_sid", "Account SID"),
                    ("whatsapp_from", "WhatsApp sender (whatsapp:+1…)"),
                    ("api_base_url", "Twilio API address"),
                ],
                ["auth_token"],
                "Paste the webhook URL into the Twilio console as the sender's “When a message "
                "comes in” address. Requests are checked against Twilio's signature.",
                "Each line: ContentSid (HX…) | friendly name | language | body, e.g. "
                "HX0123… | Statement ready | en | Hello {{1}}, your statement for {{2}} is ready.",
            ),
        ),
        rx.cond(
            s.meta,
            _provider_card(
                "WhatsApp through Meta Cloud API",
                "meta",
                s.meta,
                s.meta_enabled,
                s.set_meta_enabled,
                s.save_meta,
                [
                    ("phone_number_id", "Phone number id"),
                    ("graph_url", "Graph API address"),
                ],
                ["app_secret", "verify_token", "access_token"],
                "Paste the webhook URL and the verify token into the app's WhatsApp "
                "configuration and subscribe to “messages”. Events are checked against the "
                "app secret's signature.",
                "Each line: name | language | body, e.g. account_update | en_US | Hello {{1}}, "
                "your account has an update.",
            ),
        ),
        _chat_card(),
        _deliveries(),
        spacing="4",
        width="100%",
        max_width="1100px",
    )
