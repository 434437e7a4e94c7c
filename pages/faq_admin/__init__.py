"""`/settings/faq`: the managers' FAQ. Entries written by hand and drafts the `faq_regen` job
made from clustered client questions ("Generate now" runs it, with its progress shown), each
with its topic size, sample questions, source tickets and compliance flags; edit, publish,
reject, merge two, unpublish; categories and order; each entry's version history; and what the
entries did for clients (views, searches, votes, deflected requests) with a small chart."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.components import confirm_dialog, empty_state
from crm_app.layout import signed_in_page
from crm_app.services.portal.knowledge import FaqReviewRow
from models.faq import FaqStatus
from pages.faq_admin.dialogs import entry_editor, merge_dialog, review_dialog
from pages.faq_admin.state import STATUS_COLOURS, STATUS_FILTERS, WINDOWS, FaqAdminState


def _row(entry: FaqReviewRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(entry.question, weight="medium"),
            rx.hstack(
                rx.cond(entry.category != "", rx.text(entry.category, size="1")),
                rx.cond(
                    entry.origin == "generated",
                    rx.badge("generated", variant="soft", color_scheme="blue", size="1"),
                ),
                rx.cond(
                    entry.updates_entry_id != 0,
                    rx.badge("update proposal", variant="soft", color_scheme="violet", size="1"),
                ),
                spacing="2",
                color_scheme="gray",
            ),
            max_width="26rem",
        ),
        rx.table.cell(
            rx.badge(
                entry.status, color_scheme=rx.match(entry.status, *STATUS_COLOURS.items(), "gray")
            )
        ),
        rx.table.cell(rx.cond(entry.topic_size > 0, entry.topic_size, "—")),
        rx.table.cell(
            rx.cond(
                entry.flags.length() > 0,
                rx.badge(entry.flags.length(), color_scheme="red", title=entry.flags.join(" ")),
                rx.text("—", color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.text(
                entry.views,
                " · ",
                entry.search_hits,
                " · ",
                entry.helpful_yes,
                "/",
                entry.helpful_no,
                " · ",
                entry.deflected,
                size="2",
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Review",
                    size="1",
                    variant="soft",
                    on_click=FaqAdminState.open_review(entry.id),
                    class_name="faq-review",
                ),
                rx.cond(
                    entry.status == FaqStatus.PUBLISHED.value,
                    rx.button(
                        "Unpublish",
                        size="1",
                        variant="soft",
                        color_scheme="amber",
                        on_click=FaqAdminState.set_status(entry.id, FaqStatus.UNPUBLISHED.value),
                        class_name="faq-unpublish",
                    ),
                    rx.button(
                        "Publish",
                        size="1",
                        variant="soft",
                        color_scheme="green",
                        on_click=FaqAdminState.set_status(entry.id, FaqStatus.PUBLISHED.value),
                        class_name="faq-publish",
                    ),
                ),
                rx.button(
                    "Merge…",
                    size="1",
                    variant="ghost",
                    on_click=FaqAdminState.start_merge(entry.id),
                    class_name="faq-merge",
                ),
                confirm_dialog(
                    rx.button("Delete", size="1", variant="ghost", color_scheme="red"),
                    "Delete entry",
                    "Delete this entry for good? Clients no longer see it.",
                    confirm_label="Delete",
                    on_confirm=FaqAdminState.delete(entry.id),
                ),
                spacing="2",
            )
        ),
        class_name="faq-row",
    )


def _generation_panel() -> rx.Component:
    s = FaqAdminState
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.text("Generate from client questions", weight="medium"),
                rx.cond(
                    s.run_status == "running",
                    rx.vstack(
                        rx.text(s.run_stage, size="2", id="faq-run-stage"),
                        rx.progress(value=s.run_percent, width="20rem"),
                        spacing="1",
                    ),
                    rx.text(
                        rx.cond(
                            s.run_id == 0,
                            "Never run yet: the job runs nightly, or start it now.",
                            s.run_summary,
                        ),
                        size="2",
                        color_scheme="gray",
                        id="faq-run-summary",
                    ),
                ),
                spacing="1",
                flex="1",
            ),
            rx.select(
                WINDOWS,
                value=s.window_days,
                on_change=FaqAdminState.set_window_days,
                aria_label="Days of client questions",
                size="2",
            ),
            rx.text("days", size="2"),
            rx.button(
                rx.icon("sparkles", size=16),
                "Generate now",
                on_click=FaqAdminState.generate_now,
                loading=s.run_status == "running",
                id="faq-generate",
            ),
            align="center",
            width="100%",
            spacing="3",
        ),
        width="100%",
    )


def _chart() -> rx.Component:
    return rx.cond(
        FaqAdminState.chart_data.length() > 0,
        rx.card(
            rx.text("How clients use the published entries", weight="medium", size="2"),
            rx.recharts.bar_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                rx.recharts.x_axis(data_key="entry", font_size=11),
                rx.recharts.y_axis(allow_decimals=False),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                rx.recharts.bar(data_key="views", fill="#8da4ef", is_animation_active=False),
                rx.recharts.bar(data_key="searches", fill="#3e63dd", is_animation_active=False),
                rx.recharts.bar(data_key="helped", fill="#30a46c", is_animation_active=False),
                rx.recharts.bar(data_key="not helped", fill="#e5484d", is_animation_active=False),
                rx.recharts.bar(data_key="deflected", fill="#f5a623", is_animation_active=False),
                data=FaqAdminState.chart_data,
                width="100%",
                height=220,
            ),
            width="100%",
            id="faq-chart",
        ),
    )


@signed_in_page(
    routes.FAQ_ADMIN, "Help centre FAQ", Action.MANAGE_FAQ, on_load=[FaqAdminState.load]
)
def faq_admin_page() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(
                FaqAdminState.deflection_text,
                size="2",
                color_scheme="gray",
                id="deflection-figures",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("plus", size=16),
                "New entry",
                on_click=FaqAdminState.new_entry,
                id="faq-new",
            ),
            width="100%",
            align="center",
        ),
        _generation_panel(),
        _chart(),
        rx.segmented_control.root(
            *[rx.segmented_control.item(label, value=label) for label in STATUS_FILTERS],
            value=FaqAdminState.status_filter,
            on_change=FaqAdminState.set_status_filter,
            id="faq-status-filter",
        ),
        rx.cond(
            FaqAdminState.entries.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in (
                                "Question",
                                "Status",
                                "Topic size",
                                "Flags",
                                "Views · searches · helped/not · deflected",
                                "",
                            )
                        ]
                    )
                ),
                rx.table.body(rx.foreach(FaqAdminState.entries, _row)),
                width="100%",
                variant="surface",
            ),
            empty_state(
                "book-open",
                "No entries here",
                "Generate drafts from client questions, or write the questions clients ask "
                "most; publish them for the portal's help centre.",
            ),
        ),
        entry_editor(),
        review_dialog(),
        merge_dialog(),
        width="100%",
        spacing="4",
    )
