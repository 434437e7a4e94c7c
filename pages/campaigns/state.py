"""The campaign pages' states: the list, and one campaign (compose with autosave, audience count,
preview, test send, send controls and results with keyset-paged recipients)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Actor
from crm_app.components import KeysetPaging
from crm_app.services.campaigns import audience, manage, results
from crm_app.services.campaigns.manage import CampaignRow
from crm_app.services.campaigns.results import RecipientRow
from crm_app.services.campaigns.template import PLACEHOLDERS
from crm_app.services.errors import InvalidInput
from crm_app.state import AppState, service_event

POLL_SECONDS = 2.0


def route_campaign_id(params: dict) -> int:
    raw = str(params.get("campaign_id", "")).strip()
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidInput("That is not a campaign.")
    return int(raw)


class CampaignListState(AppState):
    campaigns: list[CampaignRow] = []
    new_name: str = ""

    @service_event
    def load(self, actor: Actor):
        self.campaigns = manage.list_campaigns(actor)

    @rx.event
    def set_new_name(self, value: str):
        self.new_name = str(value)[:200]

    @service_event
    def create(self, actor: Actor):
        campaign_id = manage.create_campaign(actor, self.new_name)
        self.new_name = ""
        return rx.redirect(routes.campaign(campaign_id))


class CampaignState(KeysetPaging, AppState):
    campaign: CampaignRow | None = None
    not_found: str = ""
    error: str = ""
    saved_note: str = ""
    # compose
    senders: list[list[str]] = []  # [mailbox id, label, transport]
    segment_choices: list[list[str]] = []  # [id, name]
    plain_text: str = ""
    html_source: bool = False  # the body as HTML source instead of the rich editor
    # audience
    in_segments: int = 0
    included: int = 0
    left_out: list[list[str]] = []  # [why, count]
    # preview and test
    preview_index: int = 0
    preview_name: str = ""
    preview_email: str = ""
    preview_subject: str = ""
    preview_html: str = ""
    test_addresses: str = ""
    schedule_at: str = ""
    # results
    stats: dict[str, str] = {}
    progress: int = 0
    chart: list[dict[str, Any]] = []
    recipients: list[RecipientRow] = []
    recipients_total: int = 0
    recipient_filter: str = "all"
    _polling: bool = False

    @rx.var
    def placeholders(self) -> list[str]:
        return ["{{" + key + "}}" for key in PLACEHOLDERS]

    @rx.var
    def segment_rows(self) -> list[list[str]]:
        """[id, name, "in" | "", "out" | ""] per saved segment."""
        chosen = set(self.campaign.segment_ids) if self.campaign else set()
        left = set(self.campaign.exclude_segment_ids) if self.campaign else set()
        return [
            [i, n, "in" if int(i) in chosen else "", "out" if int(i) in left else ""]
            for i, n in self.segment_choices
        ]

    @rx.var
    def editable(self) -> bool:
        return self.campaign is not None and self.campaign.status in ("draft", "scheduled")

    @rx.var
    def export_url(self) -> str:
        return routes.campaign_export(self.campaign.id) if self.campaign else ""

    def _id(self) -> int:
        return route_campaign_id(self.router.page.params)

    def _reload(self, actor: Actor) -> None:
        campaign_id = self._id()
        self.campaign = manage.get_campaign(actor, campaign_id)
        self.plain_text = manage.generated_text(actor, campaign_id)
        self._count(actor)
        self._results(actor)

    def _count(self, actor: Actor) -> None:
        if self.campaign is None:  # no campaign open in this tab (a stray or forged event)
            return
        count = audience.count_audience(
            actor, self.campaign.segment_ids, self.campaign.exclude_segment_ids
        )
        self.in_segments, self.included = count.in_segments, count.included
        self.left_out = [[why, str(n)] for why, n in count.left_out() if n]

    def _results(self, actor: Actor) -> None:
        if self.campaign is None:
            return
        figures = results.stats(actor, self.campaign.id)
        rates = {
            key: figures.rate(getattr(figures, key))
            for key in ("delivered", "opened", "clicked", "bounced", "unsubscribed", "complained")
        }
        counts = ("total", "queued", "sent", "failed", "cancelled", "unconfirmed", *rates)
        self.stats = {
            **{k: str(getattr(figures, k)) for k in counts},
            **{f"{k}_rate": v for k, v in rates.items()},
        }
        self.progress = figures.progress
        self.chart = results.timeline(actor, self.campaign.id)
        self._fetch_recipients(actor)

    def _fetch_recipients(self, actor: Actor) -> None:
        if self.campaign is None:
            return
        found = results.recipients(
            actor, self.campaign.id, self.recipient_filter, after=self._page_start()
        )
        self.recipients, self.recipients_total = found.items, found.total
        self._page_loaded(found.next_cursor)

    def _fetch_page(self) -> None:
        self._fetch_recipients(self.require_actor())

    @service_event(error_var="not_found")
    def load(self, actor: Actor):
        self.not_found = self.error = self.saved_note = ""
        self.preview_index, self.recipient_filter = 0, "all"
        self.page, self._cursors = 1, [""]
        self.senders = [
            [str(s.mailbox_id), s.label, s.transport] for s in manage.sender_options(actor)
        ]
        self.segment_choices = [[str(i), n] for i, n in manage.segment_options(actor)]
        self._reload(actor)
        self._preview(actor)
        if self.campaign and self.campaign.status in ("scheduled", "sending", "paused"):
            return CampaignState.poll

    def _preview(self, actor: Actor) -> None:
        found = manage.preview(actor, self._id(), self.preview_index)
        if found is None:
            self.preview_name = self.preview_email = self.preview_subject = self.preview_html = ""
            return
        self.preview_name, self.preview_email = found.client_name, found.email
        self.preview_subject, self.preview_html = found.subject, found.html

    def _save(self, actor: Actor, form: dict[str, Any]) -> None:
        self.campaign = manage.save_draft(actor, self._id(), form)
        self.saved_note = "Saved " + datetime.now(UTC).strftime("%H:%M:%S UTC")
        self.error = ""

    @service_event(error_var="error")
    def autosave(self, actor: Actor, key: str, value: str):
        """Each field saves when it loses focus (the draft is never lost)."""
        self._autosave(actor, key, value)

    def _autosave(self, actor: Actor, key: str, value: str) -> None:
        if key not in ("name", "subject", "preheader", "body_html", "body_text"):
            return
        self._save(actor, {key: value})
        if key in ("body_html", "subject", "preheader"):
            self.plain_text = manage.generated_text(actor, self._id())
            self._preview(actor)

    @service_event(error_var="error")
    def save_body(self, actor: Actor, html: str):
        """The rich editor's changes, debounced in the browser: saved as they are typed."""
        self._autosave(actor, "body_html", html)

    @rx.event
    def set_html_source(self, on: bool):
        self.html_source = bool(on)

    @rx.event
    def set_plain_text(self, value: str):
        self.plain_text = str(value)[: manage.MAX_BODY]

    @service_event(error_var="error")
    def regenerate_text(self, actor: Actor):
        self._save(actor, {"body_text": ""})
        self.plain_text = manage.generated_text(actor, self._id())

    @service_event(error_var="error")
    def set_sender(self, actor: Actor, mailbox_id: str):
        self._save(actor, {"sender_mailbox_id": mailbox_id})

    @service_event(error_var="error")
    def set_rate(self, actor: Actor, value: str):
        self._save(actor, {"rate_per_second": value or 0})

    @service_event(error_var="error")
    def toggle_segment(self, actor: Actor, segment_id: str, exclude: bool):
        if self.campaign is None:
            return
        key = "exclude_segment_ids" if exclude else "segment_ids"
        current = set(getattr(self.campaign, key))
        wanted = int(segment_id) if str(segment_id).isdigit() else 0
        current ^= {wanted}
        self._save(actor, {key: sorted(current)})
        self._count(actor)
        self.preview_index = 0
        self._preview(actor)

    @service_event(error_var="error")
    def step_preview(self, actor: Actor, step: int):
        self.preview_index = max(0, self.preview_index + int(step))
        self._preview(actor)

    @rx.event
    def set_test_addresses(self, value: str):
        self.test_addresses = str(value)[:500]

    @rx.event
    def set_schedule_at(self, value: str):
        self.schedule_at = str(value)[:40]

    @service_event(error_var="error")
    def send_test(self, actor: Actor):
        sent = manage.send_test(actor, self._id(), self.test_addresses)
        return rx.toast.success(f"Test sent to {sent} address{'es' if sent > 1 else ''}.")

    @service_event(error_var="error")
    def send_now(self, actor: Actor):
        manage.schedule(actor, self._id())
        self._reload(actor)
        return [rx.toast.success("Sending starts within seconds."), CampaignState.poll]

    @service_event(error_var="error")
    def send_later(self, actor: Actor):
        try:
            when = datetime.fromisoformat(self.schedule_at).replace(tzinfo=UTC)
        except ValueError as error:
            raise InvalidInput("Pick a date and time (UTC) to send at.") from error
        if when <= datetime.now(UTC):
            raise InvalidInput("Pick a time in the future.")
        manage.schedule(actor, self._id(), when)
        self._reload(actor)

    @service_event(error_var="error")
    def control(self, actor: Actor, verb: str):
        action = {
            "pause": manage.pause,
            "resume": manage.resume,
            "cancel": manage.cancel,
            "unschedule": manage.unschedule,
        }.get(verb)
        if action is None:
            return
        action(actor, self._id())
        self._reload(actor)
        if verb == "resume":
            return CampaignState.poll

    @service_event
    def filter_recipients(self, status: str):
        self.recipient_filter = status if status in results.STATUS_FILTERS else "all"
        self._first_page()

    @rx.event(background=True)
    async def poll(self):
        """Refresh the progress while the campaign is on its way (one loop per tab)."""
        async with self:
            if self._polling:
                return
            self._polling = True
        try:
            for _ in range(int(3600 / POLL_SECONDS)):
                await asyncio.sleep(POLL_SECONDS)
                async with self:
                    actor = self.live_actor()
                    if actor is None or self.campaign is None:
                        return
                    try:
                        self.campaign = manage.get_campaign(actor, self.campaign.id)
                        self._results(actor)
                    except Exception:
                        return
                    if self.campaign.status not in ("scheduled", "sending", "paused"):
                        return
        finally:
            async with self:
                self._polling = False
