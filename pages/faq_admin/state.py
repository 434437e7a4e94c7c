"""The FAQ review page's state: entries with their filters, the editor, merge, generation runs and
their progress, and the effect measures."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Actor
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
