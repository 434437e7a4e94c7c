"""Email campaigns for marketing: the list, and one campaign's page — compose (autosaved),
audience with a live count and who is left out, preview per recipient, test send, send now or
later with a progress bar, and results (rates, chart, recipients, CSV)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import empty_state, form_error
from crm_app.components import field as labelled
from crm_app.layout import signed_in_page
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


class CampaignState(AppState):
    campaign: CampaignRow | None = None
    not_found: str = ""
    error: str = ""
    saved_note: str = ""
    # compose
    senders: list[list[str]] = []  # [mailbox id, label, transport]
    segment_choices: list[list[str]] = []  # [id, name]
    plain_text: str = ""
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
    recipient_page: int = 0
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
        self.recipients, self.recipients_total = results.recipients(
            actor, self.campaign.id, self.recipient_filter, self.recipient_page
        )

    @service_event(error_var="not_found")
    def load(self, actor: Actor):
        self.not_found = self.error = self.saved_note = ""
        self.preview_index, self.recipient_page, self.recipient_filter = 0, 0, "all"
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
        if key not in ("name", "subject", "preheader", "body_html", "body_text"):
            return
        self._save(actor, {key: value})
        if key in ("body_html", "subject", "preheader"):
            self.plain_text = manage.generated_text(actor, self._id())
            self._preview(actor)

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
    def filter_recipients(self, actor: Actor, status: str):
        self.recipient_filter = status if status in results.STATUS_FILTERS else "all"
        self.recipient_page = 0
        self._results(actor)

    @service_event
    def page_recipients(self, actor: Actor, step: int):
        self.recipient_page = max(0, self.recipient_page + (1 if int(step) > 0 else -1))
        self._results(actor)

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


# --- components --------------------------------------------------------------------------------


def _status_badge(status: rx.Var) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(
            status,
            ("draft", "gray"),
            ("scheduled", "blue"),
            ("sending", "amber"),
            ("paused", "orange"),
            ("sent", "green"),
            "red",
        ),
        id="campaign-status",
    )


@signed_in_page(
    routes.CAMPAIGNS, "Campaigns", Action.MANAGE_CAMPAIGNS, on_load=[CampaignListState.load]
)
def campaigns_page() -> rx.Component:
    s = CampaignListState
    return rx.vstack(
        rx.hstack(
            rx.input(
                placeholder="Name of a new campaign",
                value=s.new_name,
                on_change=s.set_new_name,
                width="22rem",
                id="new-campaign-name",
            ),
            rx.button(rx.icon("plus"), "New campaign", on_click=s.create, id="new-campaign"),
        ),
        rx.cond(
            s.campaigns.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Campaign", "Status", "Subject", "Recipients", "Updated")
                        ]
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        s.campaigns,
                        lambda c: rx.table.row(
                            rx.table.cell(rx.link(c.name, href=routes.campaign(c.id))),
                            rx.table.cell(_status_badge(c.status)),
                            rx.table.cell(c.subject),
                            rx.table.cell(c.recipients_total),
                            rx.table.cell(c.updated_at),
                        ),
                    )
                ),
                width="100%",
                variant="surface",
            ),
            empty_state("megaphone", "No campaigns yet", "Name one above to start a draft."),
        ),
        width="100%",
        spacing="4",
    )


def _card(title: str, *children: rx.Component, **props: Any) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="3"), *children, spacing="3", width="100%"),
        width="100%",
        **props,
    )


def _compose() -> rx.Component:
    s = CampaignState
    c = s.campaign
    return _card(
        "Message",
        labelled(
            "Name",
            rx.input(
                default_value=c.name,
                on_blur=lambda v: s.autosave("name", v),
                disabled=~s.editable,
                id="campaign-name",
                width="100%",
            ),
        ),
        labelled(
            "Sender",
            rx.select.root(
                rx.select.trigger(placeholder="Choose a mailbox", width="100%"),
                rx.select.content(
                    rx.foreach(
                        s.senders,
                        lambda o: rx.select.item(o[1] + " · " + o[2], value=o[0]),
                    )
                ),
                value=c.sender_mailbox_id.to_string(),
                on_change=s.set_sender,
                disabled=~s.editable,
            ),
        ),
        labelled(
            "Subject",
            rx.input(
                default_value=c.subject,
                on_blur=lambda v: s.autosave("subject", v),
                disabled=~s.editable,
                id="campaign-subject",
                width="100%",
            ),
        ),
        labelled(
            "Preheader (the preview line in the inbox)",
            rx.input(
                default_value=c.preheader,
                on_blur=lambda v: s.autosave("preheader", v),
                disabled=~s.editable,
                id="campaign-preheader",
                width="100%",
            ),
        ),
        rx.hstack(
            rx.text("Personalize:", size="2", color_scheme="gray"),
            rx.foreach(s.placeholders, lambda p: rx.code(p)),
            rx.text("with a fallback: {{first_name|there}}", size="1", color_scheme="gray"),
            wrap="wrap",
            align="center",
        ),
        labelled(
            "Body (HTML: headings, paragraphs, bold, lists, links; scripts and remote content "
            "are removed)",
            rx.text_area(
                default_value=c.body_html,
                on_blur=lambda v: s.autosave("body_html", v),
                disabled=~s.editable,
                rows="10",
                font_family="monospace",
                id="campaign-body",
                width="100%",
            ),
        ),
        labelled(
            "Plain-text part (generated; edit to override)",
            rx.text_area(
                value=s.plain_text,
                on_change=CampaignState.set_plain_text,
                on_blur=lambda v: s.autosave("body_text", v),
                disabled=~s.editable,
                rows="6",
                id="campaign-text",
                width="100%",
            ),
        ),
        rx.hstack(
            rx.button(
                "Regenerate text from HTML",
                variant="soft",
                on_click=s.regenerate_text,
                disabled=~s.editable,
            ),
            rx.spacer(),
            rx.text(s.saved_note, size="1", color_scheme="gray", id="campaign-saved"),
            width="100%",
        ),
    )


def _segment_toggles(exclude: bool) -> rx.Component:
    s = CampaignState
    return rx.flex(
        rx.foreach(
            s.segment_rows,
            lambda seg: rx.checkbox(
                seg[1],
                checked=seg[3 if exclude else 2] != "",
                on_change=lambda _v: s.toggle_segment(seg[0], exclude),
                disabled=~s.editable,
            ),
        ),
        wrap="wrap",
        gap="3",
    )


def _audience() -> rx.Component:
    s = CampaignState
    return _card(
        "Audience",
        rx.text("Send to clients in any of these segments", size="2", weight="medium"),
        rx.cond(
            s.segment_choices.length() > 0,
            _segment_toggles(False),
            rx.text("No saved segments yet: build one on the Segments page.", size="2"),
        ),
        rx.text("Leave out clients in these segments", size="2", weight="medium"),
        _segment_toggles(True),
        rx.hstack(
            rx.heading(s.included.to_string() + " recipients", size="5", id="audience-count"),
            rx.text("of ", s.in_segments, " clients in the segments", color_scheme="gray"),
            align="baseline",
        ),
        rx.cond(
            s.left_out.length() > 0,
            rx.vstack(
                rx.text("Left out, and why:", size="2"),
                rx.foreach(s.left_out, lambda r: rx.text("• ", r[1], " — ", r[0], size="2")),
                spacing="1",
                id="audience-left-out",
            ),
        ),
        rx.text(
            "Only clients with marketing consent are included; unsubscribed, bounced and "
            "complained addresses never are.",
            size="1",
            color_scheme="gray",
        ),
    )


def _preview() -> rx.Component:
    s = CampaignState
    return _card(
        "Preview",
        rx.cond(
            s.preview_email != "",
            rx.vstack(
                rx.hstack(
                    rx.button(
                        rx.icon("chevron-left"),
                        variant="soft",
                        on_click=s.step_preview(-1),
                        aria_label="Previous recipient",
                    ),
                    rx.text("As ", rx.text.strong(s.preview_name), " <", s.preview_email, ">"),
                    rx.button(
                        rx.icon("chevron-right"),
                        variant="soft",
                        on_click=s.step_preview(1),
                        aria_label="Next recipient",
                        id="preview-next",
                    ),
                    align="center",
                ),
                rx.text(rx.text.strong("Subject: "), s.preview_subject, id="preview-subject"),
                rx.box(
                    rx.html(s.preview_html),
                    border=f"1px solid {rx.color('gray', 6)}",
                    border_radius="6px",
                    padding="1rem",
                    width="100%",
                    max_height="28rem",
                    overflow_y="auto",
                    background="white",
                    style={
                        "& h1": {"font_size": "1.5em", "font_weight": "700", "margin": "0.4em 0"},
                        "& h2": {"font_size": "1.25em", "font_weight": "700", "margin": "0.4em 0"},
                        "& p": {"margin": "0.5em 0"},
                        "& a": {"color": "#1f4fd1", "text_decoration": "underline"},
                        "& ul, & ol": {"padding_left": "1.5em"},
                    },
                    id="preview-body",
                ),
                width="100%",
            ),
            rx.text("Choose a segment with recipients to preview the message.", size="2"),
        ),
        rx.hstack(
            rx.input(
                placeholder="staff addresses, comma separated",
                value=s.test_addresses,
                on_change=s.set_test_addresses,
                width="100%",
                id="test-addresses",
            ),
            rx.button("Send test", variant="soft", on_click=s.send_test, id="send-test"),
            width="100%",
        ),
    )


def _send_controls() -> rx.Component:
    s = CampaignState
    status = s.campaign.status
    return rx.hstack(
        rx.cond(
            status == "draft",
            rx.hstack(
                rx.button(rx.icon("send"), "Send now", on_click=s.send_now, id="send-now"),
                rx.input(
                    type="datetime-local",
                    value=s.schedule_at,
                    on_change=s.set_schedule_at,
                    aria_label="Send at (UTC)",
                ),
                rx.button("Schedule (UTC)", variant="soft", on_click=s.send_later),
                rx.text("Max per second (0: no limit)", size="1", color_scheme="gray"),
                rx.input(
                    placeholder="0",
                    default_value=s.campaign.rate_per_second.to_string(),
                    on_blur=s.set_rate,
                    width="5rem",
                    aria_label="Throttle, messages per second",
                ),
                align="center",
            ),
        ),
        rx.cond(
            status == "scheduled",
            rx.hstack(
                rx.text("Scheduled for ", s.campaign.scheduled_at),
                rx.button("Back to draft", variant="soft", on_click=s.control("unschedule")),
                align="center",
            ),
        ),
        rx.cond(
            status == "sending",
            rx.button("Pause", variant="soft", on_click=s.control("pause"), id="pause"),
        ),
        rx.cond(
            status == "paused",
            rx.button("Resume", on_click=s.control("resume"), id="resume"),
        ),
        rx.cond(
            (status == "sending") | (status == "paused") | (status == "scheduled"),
            rx.button("Cancel", color_scheme="red", variant="soft", on_click=s.control("cancel")),
        ),
        align="center",
        wrap="wrap",
    )


def _figure(label: str, key: str, rate: bool = True) -> rx.Component:
    s = CampaignState
    return rx.card(
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray"),
            rx.heading(s.stats[key], size="5"),
            rx.cond(rate, rx.text(s.stats[key + "_rate"], size="1")),
            spacing="1",
        ),
        min_width="7.5rem",
        id=f"stat-{key}",
    )


def _results() -> rx.Component:
    s = CampaignState
    return _card(
        "Results",
        rx.hstack(
            rx.progress(value=s.progress, width="100%", id="send-progress"),
            rx.text(s.progress.to_string() + "%", size="2"),
            width="100%",
            align="center",
        ),
        rx.flex(
            _figure("Sent", "sent", rate=False),
            _figure("Delivered", "delivered"),
            _figure("Opened", "opened"),
            _figure("Clicked", "clicked"),
            _figure("Bounced", "bounced"),
            _figure("Unsubscribed", "unsubscribed"),
            _figure("Complained", "complained"),
            wrap="wrap",
            gap="2",
        ),
        rx.text(
            "Queued ",
            s.stats["queued"],
            " · failed ",
            s.stats["failed"],
            " · left out at send time ",
            s.stats["cancelled"],
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            s.chart.length() > 0,
            rx.recharts.bar_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                rx.recharts.x_axis(data_key="hour"),
                rx.recharts.y_axis(),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                rx.recharts.bar(data_key="sent", fill="#8da4ef", name="sent"),
                rx.recharts.bar(data_key="opened", fill="#30a46c", name="opened"),
                rx.recharts.bar(data_key="clicked", fill="#f76b15", name="clicked"),
                data=s.chart,
                width="100%",
                height=220,
            ),
        ),
        rx.hstack(
            rx.select(
                list(results.STATUS_FILTERS),
                value=s.recipient_filter,
                on_change=s.filter_recipients,
                aria_label="Show recipients",
            ),
            rx.text(s.recipients_total.to_string() + " recipients", size="2"),
            rx.spacer(),
            rx.button(
                rx.icon("chevron-left"),
                variant="soft",
                on_click=s.page_recipients(-1),
                aria_label="Previous",
            ),
            rx.text("page ", (s.recipient_page + 1).to_string(), size="2"),
            rx.button(
                rx.icon("chevron-right"),
                variant="soft",
                on_click=s.page_recipients(1),
                aria_label="Next",
            ),
            rx.link(
                rx.button(rx.icon("download"), "CSV", variant="soft"),
                href=s.export_url,
                id="campaign-export",
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            s.recipients.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Recipient", "Status", "Sent", "Activity", "Error")
                        ]
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        s.recipients,
                        lambda r: rx.table.row(
                            rx.table.cell(r.name, " <", r.email, ">"),
                            rx.table.cell(r.status),
                            rx.table.cell(r.sent_at),
                            rx.table.cell(r.activity),
                            rx.table.cell(r.error),
                        ),
                    )
                ),
                width="100%",
                size="1",
                id="campaign-recipients",
            ),
            rx.text("Nobody yet: recipients are fixed when the send starts.", size="2"),
        ),
    )


@signed_in_page(routes.CAMPAIGN, "Campaign", Action.MANAGE_CAMPAIGNS, on_load=[CampaignState.load])
def campaign_page() -> rx.Component:
    s = CampaignState
    return rx.cond(
        s.campaign,
        rx.vstack(
            rx.hstack(
                rx.link("← Campaigns", href=routes.CAMPAIGNS, size="2"),
                rx.heading(s.campaign.name, size="6"),
                _status_badge(s.campaign.status),
                rx.spacer(),
                _send_controls(),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            form_error(s.error),
            rx.grid(
                rx.vstack(_compose(), _audience(), width="100%"),
                rx.vstack(_preview(), width="100%"),
                columns="2",
                gap="4",
                width="100%",
            ),
            _results(),
            width="100%",
            spacing="4",
        ),
        rx.cond(
            s.not_found != "",
            empty_state("megaphone", "Campaign not found", s.not_found),
            rx.spinner(),
        ),
    )
