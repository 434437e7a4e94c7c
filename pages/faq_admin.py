"""`/settings/faq`: the managers' FAQ. Entries written by hand and drafts the `faq_regen` job
made from clustered client questions ("Generate now" runs it, with its progress shown), each
with its topic size, sample questions, source tickets and compliance flags; edit, publish,
reject, merge two, unpublish; categories and order; each entry's version history; and what the
entries did for clients (views, searches, votes, deflected requests) with a small chart."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import confirm_dialog, empty_state, field, form_error
from crm_app.layout import signed_in_page
from crm_app.services import faq_generation
from crm_app.services import portal as portal_service
from crm_app.services.errors import InvalidInput, ServiceError
from crm_app.services.faq_generation import RunRow
from crm_app.services.portal.knowledge import FaqReviewRow, VersionRow
from crm_app.state import AppState, error_toast, service_event
from models.faq import FaqStatus

STATUS_COLOURS = {
    "draft": "gray",
    "published": "green",
    "unpublished": "amber",
    "rejected": "red",
}
STATUS_FILTERS = {"All": "", "Drafts": "draft", "Published": "published"} | {
    "Unpublished": "unpublished",
    "Rejected": "rejected",
}
WINDOWS = ["30", "90", "180", "365"]
PROGRESS_POLL_SECONDS = 1.0
PROGRESS_MAX_SECONDS = 3600


class FaqAdminState(AppState):
    entries: list[FaqReviewRow] = []
    status_filter: str = "All"
    editing_id: int = 0  # 0: a new entry
    editor_open: bool = False
    form_error: str = ""
    draft_question: str = ""
    draft_answer: str = ""
    draft_category: str = ""
    draft_position: str = "0"
    deflected: int = 0
    submitted: int = 0
    # Bumped on each opening so the editor's uncontrolled inputs remount with their values.
    form_version: int = 0
    # The generation run last seen (none yet: id 0).
    window_days: str = "90"
    run_id: int = 0
    run_status: str = ""
    run_stage: str = ""
    run_percent: int = 0
    run_summary: str = ""
    # The review dialog (details and history) and the merge dialog.
    review_id: int = 0
    history: list[VersionRow] = []
    merge_source_id: int = 0
    _watching: bool = False

    def _show_run(self, run: RunRow | None) -> None:
        if run is None:
            self.run_id, self.run_status, self.run_stage = 0, "", ""
            self.run_percent, self.run_summary = 0, ""
            return
        self.run_id, self.run_status, self.run_stage = run.id, run.status, run.stage
        self.run_percent = run.percent
        if run.status == "failed":
            self.run_summary = f"The last run failed ({run.finished_at}): {run.error[:200]}"
        else:
            self.run_summary = (
                f"{run.questions} client questions of the last {run.window_days} days, "
                f"{run.topics} topics large enough: {run.drafts_created} new drafts, "
                f"{run.updates_proposed} updates proposed"
                + (f" (finished {run.finished_at})." if run.finished_at else ".")
            )

    def _fetch(self, actor: Actor) -> None:
        self.entries = portal_service.knowledge.list_entries(
            actor, STATUS_FILTERS.get(self.status_filter, "")
        )

    @service_event
    def load(self, actor: Actor):
        self._fetch(actor)
        figures = portal_service.knowledge.deflection_figures(actor)
        self.deflected, self.submitted = figures.deflected, figures.submitted
        self._show_run(faq_generation.latest_run(actor))
        if self.run_status == "running":
            return FaqAdminState.watch_progress

    @service_event
    def set_status_filter(self, actor: Actor, value: str | list[str]):
        if not isinstance(value, str) or value not in STATUS_FILTERS:
            return
        self.status_filter = value
        self._fetch(actor)

    @rx.event
    def set_window_days(self, value: str):
        if value in WINDOWS:
            self.window_days = value

    @rx.var
    def deflection_text(self) -> str:
        total = self.deflected + self.submitted
        if not total:
            return "No request form has shown suggestions in the last 30 days."
        return (
            f"Last 30 days: {self.deflected} of {total} clients who were shown suggestions "
            f"left without opening a ticket ({self.deflected / total:.0%})."
        )

    @rx.var
    def chart_data(self) -> list[dict[str, Any]]:
        """The published entries clients used most, for the chart."""
        published = [e for e in self.entries if e.status == FaqStatus.PUBLISHED.value]
        published.sort(key=lambda e: -(e.views + e.search_hits + e.helpful_yes + e.deflected))
        return [
            {
                "entry": e.question if len(e.question) <= 28 else e.question[:27] + "…",
                "views": e.views,
                "searches": e.search_hits,
                "helped": e.helpful_yes,
                "not helped": e.helpful_no,
                "deflected": e.deflected,
            }
            for e in published[:8]
        ]

    @rx.var
    def reviewed(self) -> FaqReviewRow | None:
        return next((e for e in self.entries if e.id == self.review_id), None)

    @rx.var
    def merge_targets(self) -> list[FaqReviewRow]:
        return [e for e in self.entries if e.id != self.merge_source_id]

    # --- generation ---------------------------------------------------------------------

    @rx.event(background=True)
    async def generate_now(self):
        """Claim a run (refused politely while one runs) and do it here, the progress shown by
        `watch_progress`. The service checks the permission."""
        async with self:
            actor, days = self.actor(), int(self.window_days)
        try:
            if actor is None:
                raise InvalidInput("Your session has ended: please sign in again.")
            run = await asyncio.to_thread(faq_generation.start_run, actor, days)
        except ServiceError as error:
            yield error_toast(error)
            return
        async with self:
            self._show_run(run)
        yield FaqAdminState.watch_progress
        try:
            run = await asyncio.to_thread(faq_generation.run_generation, run.id, actor)
        except Exception:
            yield rx.toast.error("The FAQ generation failed: see the run's message.")
        else:
            yield rx.toast.success(
                f"FAQ generated: {run.drafts_created} new drafts, "
                f"{run.updates_proposed} updates proposed"
            )
        async with self:
            self._show_run(await asyncio.to_thread(faq_generation.latest_run, actor))
            self._fetch(actor)

    @rx.event(background=True)
    async def watch_progress(self):
        """Refresh the run's progress every second while it runs (a run started by the
        schedule or by another manager too)."""
        async with self:
            if self._watching:
                return
            self._watching = True
        started = time.monotonic()
        try:
            while time.monotonic() - started < PROGRESS_MAX_SECONDS:
                await asyncio.sleep(PROGRESS_POLL_SECONDS)
                actor = await asyncio.to_thread(self.live_actor)
                if actor is None:
                    return
                try:
                    run = await asyncio.to_thread(faq_generation.latest_run, actor)
                except ServiceError:
                    return
                async with self:
                    if self.router.page.path != routes.FAQ_ADMIN:
                        return
                    self._show_run(run)
                    if run is None or run.status != "running":
                        self._fetch(actor)
                        return
        finally:
            async with self:
                self._watching = False

    # --- editing ------------------------------------------------------------------------

    @rx.event
    def new_entry(self):
        self.editing_id, self.form_error = 0, ""
        self.draft_question = self.draft_answer = self.draft_category = ""
        self.draft_position = "0"
        self.form_version += 1
        self.editor_open = True

    @rx.event
    def edit_entry(self, entry_id: int):
        entry = next((e for e in self.entries if e.id == entry_id), None)
        if entry is None:
            return
        self.editing_id, self.form_error = entry.id, ""
        self.draft_question, self.draft_answer = entry.question, entry.answer
        self.draft_category, self.draft_position = entry.category, str(entry.position)
        self.form_version += 1
        self.review_id = 0
        self.editor_open = True

    @rx.event
    def set_editor_open(self, value: bool):
        self.editor_open = bool(value)

    @service_event(error_var="form_error")
    def save(self, actor: Actor, form: dict):
        position = str(form.get("position", "0")).strip() or "0"
        if not position.lstrip("-").isdigit():
            raise InvalidInput("The position must be a whole number.")
        portal_service.knowledge.save_entry(
            actor,
            self.editing_id or None,
            question=str(form.get("question", "")),
            answer=str(form.get("answer", "")),
            category=str(form.get("category", "")),
            position=int(position),
        )
        self.editor_open = False
        return [FaqAdminState.load, rx.toast.success("Saved")]

    @service_event
    def set_status(self, actor: Actor, entry_id: int, status: str):
        portal_service.knowledge.set_status(actor, entry_id, status)
        self.review_id = 0
        labels = {"published": "Published", "unpublished": "Unpublished", "rejected": "Rejected"}
        return [FaqAdminState.load, rx.toast.success(labels.get(status, "Saved"))]

    @service_event
    def delete(self, actor: Actor, entry_id: int):
        portal_service.knowledge.delete_entry(actor, entry_id)
        return [FaqAdminState.load, rx.toast.success("Deleted")]

    # --- review, history, merge ---------------------------------------------------------

    @service_event
    def open_review(self, actor: Actor, entry_id: int):
        if entry_id not in [e.id for e in self.entries]:
            return
        self.history = portal_service.knowledge.versions(actor, entry_id)
        self.review_id = entry_id

    @rx.event
    def set_review_open(self, value: bool):
        if not value:
            self.review_id, self.history = 0, []

    @rx.event
    def start_merge(self, entry_id: int):
        if entry_id in [e.id for e in self.entries]:
            self.merge_source_id = entry_id

    @rx.event
    def set_merge_open(self, value: bool):
        if not value:
            self.merge_source_id = 0

    @service_event
    def merge_into(self, actor: Actor, target_id: int):
        portal_service.knowledge.merge_entries(actor, self.merge_source_id, target_id)
        self.merge_source_id = 0
        return [FaqAdminState.load, rx.toast.success("Merged")]


def _editor() -> rx.Component:
    s = FaqAdminState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(s.editing_id == 0, "New entry", "Edit entry")),
            rx.form(
                rx.vstack(
                    field(
                        "Question",
                        rx.input(
                            name="question",
                            id="faq-question",
                            default_value=s.draft_question,
                            required=True,
                            width="100%",
                        ),
                    ),
                    field(
                        "Answer",
                        rx.text_area(
                            name="answer",
                            id="faq-answer",
                            rows="8",
                            default_value=s.draft_answer,
                            required=True,
                            width="100%",
                        ),
                    ),
                    rx.hstack(
                        field(
                            "Category",
                            rx.input(
                                name="category",
                                id="faq-category",
                                default_value=s.draft_category,
                                width="100%",
                            ),
                        ),
                        field(
                            "Position",
                            rx.input(
                                name="position",
                                id="faq-position",
                                default_value=s.draft_position,
                                type="number",
                                width="100%",
                            ),
                        ),
                        width="100%",
                    ),
                    form_error(s.form_error),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button("Save", type="submit", id="faq-save"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=FaqAdminState.save,
                key=s.form_version,
            ),
            max_width="40rem",
        ),
        open=s.editor_open,
        on_open_change=FaqAdminState.set_editor_open,
    )


def _version(version: VersionRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(version.version),
        rx.table.cell(version.change),
        rx.table.cell(version.changed_by),
        rx.table.cell(version.created_at),
        rx.table.cell(rx.text(version.question, size="1")),
    )


def _review_dialog() -> rx.Component:
    s = FaqAdminState
    entry = s.reviewed
    return rx.dialog.root(
        rx.dialog.content(
            rx.cond(
                entry,
                rx.vstack(
                    rx.dialog.title(entry.question),
                    rx.cond(
                        entry.updates_entry_id != 0,
                        rx.callout(
                            rx.text(
                                "Proposes new text for the published entry: ",
                                entry.updates_question,
                            ),
                            icon="refresh-cw",
                            size="1",
                            color_scheme="blue",
                        ),
                    ),
                    rx.text(entry.answer, white_space="pre-wrap", size="2"),
                    rx.cond(
                        entry.flags.length() > 0,
                        rx.vstack(
                            rx.foreach(
                                entry.flags,
                                lambda flag: rx.callout(
                                    flag, icon="triangle-alert", color_scheme="red", size="1"
                                ),
                            ),
                            width="100%",
                            spacing="1",
                            id="faq-flags",
                        ),
                    ),
                    rx.cond(
                        entry.topic_size > 0,
                        rx.vstack(
                            rx.heading("Topic: ", entry.topic_size, " client questions", size="2"),
                            rx.unordered_list(
                                rx.foreach(
                                    entry.sample_questions,
                                    lambda q: rx.list_item(rx.text(q, size="2")),
                                )
                            ),
                            rx.hstack(
                                rx.text("Source tickets:", size="2"),
                                rx.foreach(
                                    entry.source_tickets,
                                    lambda n: rx.link(
                                        "#",
                                        n,
                                        href=routes.ticket(n),
                                        size="2",
                                        class_name="faq-source-ticket",
                                    ),
                                ),
                                wrap="wrap",
                                spacing="2",
                            ),
                            spacing="1",
                            width="100%",
                        ),
                    ),
                    rx.heading("History", size="2"),
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(h)
                                    for h in ("Version", "Change", "By", "When", "Question")
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(s.history, _version)),
                        size="1",
                        width="100%",
                        id="faq-history",
                    ),
                    rx.hstack(
                        rx.button(
                            "Edit",
                            variant="soft",
                            on_click=FaqAdminState.edit_entry(entry.id),
                        ),
                        rx.cond(
                            entry.status != FaqStatus.PUBLISHED.value,
                            rx.button(
                                "Approve and publish",
                                color_scheme="green",
                                on_click=FaqAdminState.set_status(
                                    entry.id, FaqStatus.PUBLISHED.value
                                ),
                                id="faq-approve",
                            ),
                        ),
                        rx.cond(
                            entry.status == FaqStatus.DRAFT.value,
                            rx.button(
                                "Reject",
                                variant="soft",
                                color_scheme="red",
                                on_click=FaqAdminState.set_status(
                                    entry.id, FaqStatus.REJECTED.value
                                ),
                                id="faq-reject",
                            ),
                        ),
                        rx.spacer(),
                        rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            max_width="52rem",
        ),
        open=s.review_id != 0,
        on_open_change=FaqAdminState.set_review_open,
    )


def _merge_dialog() -> rx.Component:
    s = FaqAdminState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Merge into…"),
            rx.dialog.description(
                "The chosen entry keeps its text and takes over this one's topic (questions "
                "and tickets); this one leaves the list and the help centre.",
                size="2",
            ),
            rx.vstack(
                rx.foreach(
                    s.merge_targets,
                    lambda e: rx.hstack(
                        rx.text(e.question, size="2", flex="1"),
                        rx.badge(e.status),
                        rx.button("Merge here", size="1", on_click=FaqAdminState.merge_into(e.id)),
                        width="100%",
                        align="center",
                        class_name="faq-merge-target",
                    ),
                ),
                max_height="24rem",
                overflow_y="auto",
                width="100%",
                padding_y="0.5rem",
            ),
            rx.hstack(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                justify="end",
            ),
            max_width="40rem",
        ),
        open=s.merge_source_id != 0,
        on_open_change=FaqAdminState.set_merge_open,
    )


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
        _editor(),
        _review_dialog(),
        _merge_dialog(),
        width="100%",
        spacing="4",
    )
