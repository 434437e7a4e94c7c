"""Channels (managers): WhatsApp through Twilio and Meta (enable, credentials, test, the webhook
URL to paste into the provider's console, the latest webhooks received) and the web chat's
sites (branding, allowed origins, turning a site off and on, the key and the snippet to
embed), with the latest WhatsApp and chat deliveries and failures.

Secrets are write-only here: the page only learns whether one is set.

- `state`: the page's state and its handlers
- `chat_sites`: the web chat card
"""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.components import field, form_error
from crm_app.layout import signed_in_page
from crm_app.services.messaging.channel_settings import EventRow
from pages.channels.chat_sites import chat_card
from pages.channels.state import SECRET_LABELS, ChannelsState

__all__ = ["ChannelsState", "channels_page"]


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
        SECRET_LABELS[name],
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
        chat_card(),
        _deliveries(),
        spacing="4",
        width="100%",
        max_width="1100px",
    )
