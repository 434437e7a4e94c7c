"""The reply composer's WhatsApp template picker, as a State mixin of the ticket page: past the
24-hour window a WhatsApp ticket's reply can only be an approved template, so the composer
offers the provider's templates, a field per variable and a preview of the text.

The offer itself (`templates_only`, `wa_templates`) is loaded with the ticket (`_refresh`).
The browser's choice is only a hint: the service checks the template and the values again."""

from __future__ import annotations

import uuid

import reflex as rx

from crm_app.auth.permissions import Actor
from crm_app.services.messaging import template_messages, templates
from crm_app.services.messaging.template_messages import TemplateOption
from crm_app.state import service_event

# What a value field holds at most: a little over what the service accepts, so an overlong
# value is refused with its reason rather than cut silently.
_HELD = templates.MAX_VALUE + 50


class TemplatePicker(rx.State, mixin=True):
    templates_only: bool = False  # a WhatsApp ticket past its 24-hour window
    wa_templates: list[TemplateOption] = []
    template_key: str = ""
    template_values: list[str] = []
    template_preview: str = ""
    template_error: str = ""
    _template_request: str = ""  # one send per choice, however often Send is pressed

    def _chosen_template(self) -> TemplateOption | None:
        return next((t for t in self.wa_templates if t.key == self.template_key), None)

    def _clear_template(self) -> None:
        self.template_key, self.template_preview, self.template_error = "", "", ""
        self.template_values, self._template_request = [], ""

    @rx.event
    def choose_template(self, key: str):
        """The agent picked a template: one empty field per variable, the preview at once."""
        self._clear_template()
        chosen = next((t for t in self.wa_templates if t.key == key), None)
        if chosen is None:
            self.template_error = "Choose one of the approved templates."
            return
        self.template_key = chosen.key
        self.template_values = [""] * chosen.variable_count
        self.template_preview = chosen.body
        self._template_request = uuid.uuid4().hex

    @rx.event
    def set_template_value(self, index: int, value: str):
        chosen = self._chosen_template()
        if (
            chosen is None
            or not isinstance(index, int)
            or isinstance(index, bool)
            or not isinstance(value, str)
            or not 0 <= index < len(self.template_values)
        ):
            return
        values = list(self.template_values)
        values[index] = value[:_HELD]
        self.template_values = values
        self.template_preview = templates.render(chosen.body, values)
        self.template_error = ""

    @service_event(error_var="template_error")
    def send_template(self, actor: Actor):
        """Send the chosen template with the values typed in (the service checks both)."""
        if not self.template_key:
            self.template_error = "Choose a template first."
            return None
        template_messages.send_template(
            actor,
            self._number,
            self.template_key,
            list(self.template_values),
            request_key=self._template_request or None,
        )
        self._clear_template()
        self._refresh()
        return rx.toast.success("Template queued: it goes out by WhatsApp in a moment")
