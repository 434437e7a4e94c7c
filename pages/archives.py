"""Archives (`/settings/archives`): bring the firm's mail archives in — PST/OST, mbox or EML
uploaded in chunks straight to disk, or a file already on the server — and follow each import
live: state, progress, counts, ETA, errors per item; cancel and delete.

Managers always; agents when a manager allows it (the services check both on every event).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import confirm_dialog, empty_state, field, form_error
from crm_app.layout import signed_in_page
from crm_app.services import archives
from crm_app.services.archives import ArchiveRow, ItemErrorRow
from crm_app.services.errors import ServiceError
from crm_app.state import AppState, service_event
from pages.archive_folder import folder_import

UPLOAD_ID = "archive-upload"
# Sends the dropped files in resumable chunks to /api/archive-uploads (crm_app/api).
UPLOAD_SCRIPT = Path(__file__).resolve().parent.parent / "assets" / "archive_upload.js"
LIVE_POLL_SECONDS = 2.0
LIVE_MAX_SECONDS = 3600.0


class ArchivesState(AppState):
    rows: list[ArchiveRow] = []
    may_manage: bool = False
    agents_allowed: bool = False
    label: str = ""
    client_email: str = ""
    confidential: bool = False
    path_error: str = ""
    errors_of: int = 0
    item_errors: list[ItemErrorRow] = []
    _live_running: bool = False

    def _fetch(self, actor: Actor) -> None:
        self.rows = archives.list_archives(actor)

    @service_event
    def load(self, actor: Actor):
        self.may_manage = archives.may_manage_archives(actor)
        self.agents_allowed = archives.agents_may_import()
        self._fetch(actor)
        return ArchivesState.live_loop

    @rx.event
    def set_label(self, value: str):
        self.label = str(value or "")[:200]

    @rx.event
    def set_client_email(self, value: str):
        self.client_email = str(value or "")[:320]

    @rx.event
    def set_confidential(self, value: bool):
        self.confidential = bool(value)

    @service_event
    def uploads_finished(self, actor: Actor):
        """The upload script completed a file (it queued the archive): show it."""
        self._fetch(actor)
        return [rx.toast.success("Archive queued for import"), ArchivesState.live_loop]

    @service_event(error_var="path_error")
    def queue_path(self, actor: Actor, form: dict):
        self.path_error = ""
        path = str(form.get("server_path", "")).strip()[:4000]
        client_id = archives.find_client_by_email(actor, self.client_email)
        archives.queue_archive(
            actor, path, label=self.label, client_id=client_id, confidential=self.confidential
        )
        self._fetch(actor)
        return [rx.toast.success("Archive queued for import"), ArchivesState.live_loop]

    @service_event
    def cancel(self, actor: Actor, archive_id: int):
        status = archives.cancel_archive(actor, int(archive_id))
        self._fetch(actor)
        return rx.toast.info("Cancelled" if status == "cancelled" else "Stopping after this batch")

    @service_event
    def delete(self, actor: Actor, archive_id: int):
        result = archives.delete_archive(actor, int(archive_id))
        self._fetch(actor)
        if self.errors_of == archive_id:
            self.errors_of, self.item_errors = 0, []
        return rx.toast.success(f"Deleted: {result['documents']} messages removed from knowledge")

    @service_event
    def show_errors(self, actor: Actor, archive_id: int):
        self.item_errors = archives.item_errors(actor, int(archive_id))
        self.errors_of = int(archive_id)

    @rx.event
    def hide_errors(self):
        self.errors_of, self.item_errors = 0, []

    @service_event
    def set_agents_allowed(self, actor: Actor, allowed: bool):
        archives.set_agents_may_import(actor, bool(allowed))
        self.agents_allowed = bool(allowed)

    @rx.event(background=True)
    async def live_loop(self):
        """Refresh the list every few seconds while an import is queued or running."""
        async with self:
            if self._live_running:
                return
            self._live_running = True
        started = time.monotonic()
        try:
            while time.monotonic() - started < LIVE_MAX_SECONDS:
                await asyncio.sleep(LIVE_POLL_SECONDS)
                async with self:
                    if self.router.page.path != routes.ARCHIVES:
                        return
                    active = any(r.status in ("queued", "running") for r in self.rows)
                if not active:
                    return
                actor = await asyncio.to_thread(self.live_actor)
                if actor is None:
                    return
                try:
                    rows = await asyncio.to_thread(archives.list_archives, actor)
                except ServiceError:
                    return
                async with self:
                    self.rows = rows
        finally:
            async with self:
                self._live_running = False


_STATUS_COLORS = {
    "queued": "gray",
    "running": "blue",
    "done": "green",
    "failed": "red",
    "cancelled": "amber",
}


def _status(row: rx.Var) -> rx.Component:
    return rx.match(
        row.status,
        *[
            (status, rx.badge(status, color_scheme=color))
            for status, color in _STATUS_COLORS.items()
        ],
        rx.badge(row.status),
    )


def _count(label: str, value: rx.Var) -> rx.Component:
    return rx.text(rx.text.strong(value), f" {label}", size="1", color_scheme="gray")


def _archive_row(row: rx.Var) -> rx.Component:
    s = ArchivesState
    active = (row.status == "queued") | (row.status == "running")
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(row.label, weight="medium"),
                rx.text(
                    row.file_name,
                    rx.cond(row.client_name != "", rx.text.span(" · ", row.client_name)),
                    size="1",
                    color_scheme="gray",
                ),
                rx.cond(
                    row.confidentiality == "managers_only",
                    rx.badge("managers only", color_scheme="purple", size="1"),
                ),
                spacing="1",
            )
        ),
        rx.table.cell(_status(row)),
        rx.table.cell(
            rx.vstack(
                rx.progress(value=row.progress_percent, max=100, width="12rem"),
                rx.hstack(
                    _count("stored", row.messages),
                    _count("linked", row.duplicates),
                    _count("attachments", row.attachments),
                    _count("skipped", row.skipped),
                    _count("errors", row.errors),
                    spacing="2",
                    wrap="wrap",
                ),
                rx.text(row.eta_text, size="1", color_scheme="gray"),
                rx.cond(row.error != "", rx.text(row.error, size="1", color_scheme="red")),
                spacing="1",
            ),
            min_width="20rem",
        ),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    row.errors > 0,
                    rx.button(
                        "Errors",
                        size="1",
                        variant="soft",
                        on_click=s.show_errors(row.id),
                        aria_label="Show the items that could not be read",
                    ),
                ),
                rx.cond(
                    s.may_manage & active & ~row.cancel_requested,
                    rx.button("Cancel", size="1", variant="soft", on_click=s.cancel(row.id)),
                ),
                rx.cond(
                    s.may_manage & ~active,
                    confirm_dialog(
                        rx.button("Delete", size="1", variant="soft", color_scheme="red"),
                        "Delete this archive?",
                        "Its messages leave the knowledge store (documents, chunks and "
                        "embeddings); messages another archive also holds stay. Audited.",
                        confirm_label="Delete",
                        on_confirm=s.delete(row.id),
                    ),
                ),
                spacing="2",
            )
        ),
        class_name="archive-row",
    )


def _drop_zone() -> rx.Component:
    """Where files are dropped or chosen; `assets/archive_upload.js` does the sending and reads
    the label, client and confidentiality the page shows from the zone's data attributes."""
    s = ArchivesState
    return rx.box(
        rx.vstack(
            rx.icon("archive", size=28, color=rx.color("gray", 9)),
            rx.text("Drop PST, OST, mbox or EML files here, or click to choose"),
            rx.text(
                "Sent in chunks and written straight to disk, so gigabytes are fine; an "
                "interrupted upload resumes where it stopped (choose the same file again).",
                size="1",
                color_scheme="gray",
            ),
            align="center",
            spacing="1",
        ),
        rx.el.input(
            type="file",
            multiple=True,
            accept=",".join(archives.ARCHIVE_SUFFIXES),
            display="none",
            tab_index=-1,
        ),
        rx.script(src="/" + UPLOAD_SCRIPT.name),
        id=UPLOAD_ID,
        role="button",
        tab_index=0,
        aria_label="Choose archive files to upload",
        custom_attrs={
            "data-label": s.label,
            "data-client-email": s.client_email,
            "data-confidential": rx.cond(s.confidential, "true", "false"),
        },
        border=f"1px dashed {rx.color('gray', 7)}",
        border_radius="8px",
        padding="1.5rem",
        width="100%",
        cursor="pointer",
        _hover={"background": rx.color("gray", 2)},
        style={"&[data-dragging='true']": {"background": rx.color("accent", 3)}},
    )


def _intake() -> rx.Component:
    s = ArchivesState
    return rx.card(
        rx.vstack(
            rx.heading("Bring an archive in", size="3"),
            rx.hstack(
                field(
                    "Label",
                    rx.input(
                        value=s.label,
                        on_change=s.set_label,
                        placeholder="e.g. J. Smith mailbox 2015–2020",
                        id="archive-label",
                        width="18rem",
                    ),
                ),
                field(
                    "Client it concerns (email, optional)",
                    rx.input(
                        value=s.client_email,
                        on_change=s.set_client_email.debounce(300),
                        placeholder="client@example.com",
                        id="archive-client",
                        width="16rem",
                    ),
                ),
                rx.cond(
                    AppState.may(Action.MANAGE_AI),
                    rx.checkbox(
                        "Managers only",
                        checked=s.confidential,
                        on_change=s.set_confidential,
                        id="archive-confidential",
                    ),
                ),
                align="end",
                wrap="wrap",
                spacing="4",
            ),
            _drop_zone(),
            rx.text(
                "Files dropped now are labelled \u201c",
                rx.cond(s.label != "", s.label, "by their file name"),
                "\u201d",
                rx.cond(s.confidential, ", managers only", ", for all staff"),
                ".",
                size="1",
                color_scheme="gray",
                id="archive-intake-summary",
            ),
            rx.el.div(
                id="archive-upload-progress",
                style={
                    "width": "100%",
                    "& .archive-upload-item": {
                        "display": "flex",
                        "gap": "0.75rem",
                        "align_items": "center",
                        "font_size": "14px",
                        "padding": "0.25rem 0",
                    },
                    "& .archive-upload-item progress": {"width": "12rem"},
                    "& .archive-upload-item[data-state='failed']": {"color": rx.color("red", 11)},
                    "& .archive-upload-text": {"color": rx.color("gray", 11)},
                },
            ),
            # Clicked by the upload script when a file is complete and queued.
            rx.el.button(
                id="archive-upload-done",
                on_click=s.uploads_finished,
                type="button",
                hidden=True,
                aria_hidden="true",
            ),
            rx.cond(
                AppState.may(Action.MANAGE_AI),
                rx.form(
                    rx.hstack(
                        field(
                            "Or a file on the server (for archives too large to upload)",
                            rx.input(
                                name="server_path",
                                placeholder="/srv/archives/partner-2019.pst",
                                id="archive-server-path",
                                width="28rem",
                            ),
                        ),
                        rx.button("Import from path", type="submit", variant="soft"),
                        align="end",
                        wrap="wrap",
                    ),
                    form_error(s.path_error),
                    on_submit=s.queue_path,
                    reset_on_submit=True,
                ),
            ),
            folder_import(),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _errors_panel() -> rx.Component:
    s = ArchivesState
    return rx.cond(
        s.errors_of > 0,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading("Items that could not be read", size="3"),
                    rx.spacer(),
                    rx.button("Close", size="1", variant="ghost", on_click=s.hide_errors),
                    width="100%",
                ),
                rx.foreach(
                    s.item_errors,
                    lambda e: rx.text(
                        rx.cond(e.folder != "", rx.code(e.folder), ""),
                        " #",
                        e.position,
                        ": ",
                        e.message,
                        size="2",
                        color_scheme=rx.cond(e.fatal, "red", "gray"),
                    ),
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
            id="archive-errors",
        ),
    )


@signed_in_page(routes.ARCHIVES, "Archives", Action.VIEW_TICKETS, on_load=[ArchivesState.load])
def archives_page() -> rx.Component:
    s = ArchivesState
    return rx.vstack(
        rx.text(
            "Mail archives become knowledge: suggested replies and the knowledge search cite "
            "their messages. A message already in the product (same Message-ID) is linked, "
            "not stored twice.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            AppState.may(Action.MANAGE_AI),
            rx.checkbox(
                "Agents may bring in all-staff archives",
                checked=s.agents_allowed,
                on_change=s.set_agents_allowed,
                id="archive-agents-allowed",
            ),
        ),
        rx.cond(
            s.may_manage,
            _intake(),
            rx.callout(
                "Only managers bring archives in here, unless a manager allows agents.",
                icon="lock",
                width="100%",
            ),
        ),
        _errors_panel(),
        rx.cond(
            s.rows.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Archive", "State", "Progress", "")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(s.rows, _archive_row)),
                width="100%",
                id="archive-list",
            ),
            empty_state(
                "archive", "No archives yet", "Upload a PST, OST, mbox or EML file to begin."
            ),
        ),
        spacing="4",
        width="100%",
        max_width="1200px",
    )
