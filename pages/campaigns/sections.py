"""The cards of one campaign's page: compose, audience, preview, send controls and results."""

from __future__ import annotations

from typing import Any

import reflex as rx

from crm_app.components import data_table, paging_bar
from crm_app.components import field as labelled
from crm_app.components.rich_text import rich_text_editor
from crm_app.services.campaigns import results
from pages.campaigns.state import CampaignState


def campaign_status_badge(status: rx.Var) -> rx.Component:
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


def _card(title: str, *children: rx.Component, **props: Any) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="3"), *children, spacing="3", width="100%"),
        width="100%",
        **props,
    )


def compose_card() -> rx.Component:
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
        rx.hstack(
            rx.text("Body", size="2", weight="medium"),
            rx.spacer(),
            rx.text("HTML source", size="1", color_scheme="gray"),
            rx.switch(
                checked=s.html_source,
                on_change=CampaignState.set_html_source,
                id="campaign-html-source",
                size="1",
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            s.html_source,
            rx.text_area(
                default_value=c.body_html,
                on_blur=lambda v: s.autosave("body_html", v),
                disabled=~s.editable,
                rows="10",
                font_family="monospace",
                id="campaign-body",
                width="100%",
            ),
            rich_text_editor(
                default_value=c.body_html,
                on_change=CampaignState.save_body.debounce(800),
                read_only=~s.editable,
                placeholder="Write the message…",
                id="campaign-body-editor",
            ),
        ),
        rx.text(
            "Headings, paragraphs, bold, lists, quotes and links reach the inbox; scripts and "
            "remote content are removed when the draft is saved.",
            size="1",
            color_scheme="gray",
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


def audience_card() -> rx.Component:
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


def preview_card() -> rx.Component:
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


def send_controls() -> rx.Component:
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


def results_card() -> rx.Component:
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
            rx.spacer(),
            rx.link(
                rx.button(rx.icon("download"), "CSV", variant="soft"),
                href=s.export_url,
                id="campaign-export",
            ),
            width="100%",
            align="center",
        ),
        data_table(
            ["Recipient", "Status", "Sent", "Activity", "Error"],
            s.recipients,
            lambda r: rx.table.row(
                rx.table.cell(r.name, " <", r.email, ">"),
                rx.table.cell(r.status),
                rx.table.cell(r.sent_at),
                rx.table.cell(r.activity),
                rx.table.cell(r.error),
            ),
            empty=rx.text("Nobody yet: recipients are fixed when the send starts.", size="2"),
            footer=paging_bar(
                s, s.recipients_total.to_string() + " recipients", total_id="recipients-total"
            ),
            size="1",
            id="campaign-recipients",
        ),
    )
