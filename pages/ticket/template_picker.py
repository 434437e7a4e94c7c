"""The composer past a WhatsApp ticket's 24-hour window: why only a template may go out, a
select of the approved templates, a labelled field per variable, the text as the client will
read it, and Send template. Everything is reachable with the keyboard in reading order."""

from __future__ import annotations

import reflex as rx

from crm_app.components import form_error
from crm_app.services.messaging.template_messages import TemplateOption
from pages.ticket.state import TicketState

SELECT_ID = "template-select"


def _option(template: TemplateOption) -> rx.Component:
    return rx.select.item(template.label, value=template.key)


def _value_field(value: rx.Var[str], index: rx.Var[int]) -> rx.Component:
    field_id = "template-value-" + index.to_string()
    placeholder = "{{" + (index + 1).to_string() + "}}"
    return rx.hstack(
        rx.el.label(
            rx.text(placeholder, size="1", weight="medium", font_family="monospace"),
            html_for=field_id,
            width="3rem",
            flex_shrink="0",
        ),
        rx.input(
            value=value,
            on_change=lambda typed: TicketState.set_template_value(index, typed),
            id=field_id,
            placeholder="Value for " + placeholder,
            auto_complete="off",
            size="2",
            width="100%",
            class_name="template-value",
        ),
        align="center",
        width="100%",
    )


def _chosen() -> rx.Component:
    return rx.vstack(
        rx.cond(
            TicketState.template_values.length() > 0,
            rx.vstack(
                rx.foreach(TicketState.template_values, _value_field),
                spacing="2",
                width="100%",
                id="template-values",
            ),
            rx.text("This template has no variables.", size="1", color_scheme="gray"),
        ),
        rx.text("Preview", size="1", weight="medium", as_="div"),
        rx.box(
            rx.text(
                rx.cond(
                    TicketState.template_preview != "",
                    TicketState.template_preview,
                    "The approved text is kept by WhatsApp; no preview was entered for it.",
                ),
                white_space="pre-wrap",
                overflow_wrap="anywhere",
                size="2",
            ),
            padding="0.75rem 1rem",
            border_radius="8px",
            background=rx.color("green", 3),
            width="100%",
            aria_live="polite",
            id="template-preview",
        ),
        spacing="2",
        width="100%",
    )


def template_picker() -> rx.Component:
    """What the composer is on a WhatsApp ticket whose 24-hour window has closed."""
    s = TicketState
    return rx.vstack(
        rx.callout(
            s.reply_note,
            icon="clock",
            color_scheme="amber",
            size="1",
            role="status",
            width="100%",
            id="template-why",
        ),
        rx.cond(
            s.wa_templates.length() > 0,
            rx.vstack(
                rx.hstack(
                    rx.el.label(
                        rx.text("Approved template", size="2", weight="medium"),
                        html_for=SELECT_ID,
                    ),
                    rx.select.root(
                        rx.select.trigger(
                            placeholder="Choose a template…", id=SELECT_ID, min_width="16rem"
                        ),
                        rx.select.content(rx.foreach(s.wa_templates, _option)),
                        value=s.template_key,
                        on_change=s.choose_template,
                    ),
                    align="center",
                    wrap="wrap",
                    width="100%",
                ),
                rx.cond(s.template_key != "", _chosen()),
                spacing="3",
                width="100%",
            ),
            rx.text(
                "No approved templates are set up for this WhatsApp number: a manager lists "
                "them on the Channels page.",
                size="2",
                id="no-templates",
            ),
        ),
        form_error(s.template_error),
        rx.hstack(
            rx.spacer(),
            rx.button(
                rx.icon("send", size=14),
                "Send template",
                on_click=s.send_template,
                disabled=s.template_key == "",
                id="send-template",
            ),
            width="100%",
        ),
        spacing="3",
        width="100%",
        id="template-picker",
    )
