"""The channel settings page's state: the providers' settings and the chat sites, loaded and
changed through the services (which check the manager's permission on every call)."""

from __future__ import annotations

import reflex as rx

from crm_app.auth.permissions import Actor
from crm_app.services.messaging import channel_settings, web_chat
from crm_app.services.messaging.channel_settings import DeliveryRow, ProviderSettings
from crm_app.services.messaging.web_chat import SiteRow
from crm_app.settings import get_settings
from crm_app.state import AppState, service_event

SECRET_LABELS = {
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
    editing: SiteRow | None = None  # the chat site whose settings form is open

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
            new_secrets={k: values.get(k, "") for k in SECRET_LABELS},
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

    @rx.event
    def start_edit(self, site_id: int):
        """Open the settings form of a site the page listed (loaded for this manager)."""
        self.editing = next((site for site in self.sites if site.id == int(site_id)), None)
        self.error, self.form_version = "", self.form_version + 1

    @rx.event
    def cancel_edit(self):
        self.editing, self.error = None, ""

    @service_event(error_var="error")
    def save_site(self, actor: Actor, form: dict):
        if self.editing is None:
            return None
        saved = web_chat.update_site(
            actor,
            self.editing.id,
            name=str(form.get("name", "")),
            allowed_origins=str(form.get("allowed_origins", "")),
            brand_name=str(form.get("brand_name", "")),
            colour=str(form.get("colour", "")),
            greeting=str(form.get("greeting", "")),
            office_hours=str(form.get("office_hours", "")),
        )
        self.editing, self.error = None, ""
        self.load()
        return rx.toast.success(f"“{saved.name}” saved.")

    @service_event
    def set_site_enabled(self, actor: Actor, site_id: int, enabled: bool):
        saved = web_chat.set_site_enabled(actor, int(site_id), enabled)
        if self.editing is not None and self.editing.id == saved.id:
            self.editing = saved
        self.load()
        state = "on" if saved.enabled else "off: its widget says the chat is unavailable"
        return rx.toast.success(f"The chat on “{saved.name}” is {state}.")
