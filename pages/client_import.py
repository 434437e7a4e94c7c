"""Client import: upload a CSV (streamed to a server-side file in chunks), map its columns to
client fields, import with a progress bar, then read the report of rejected rows."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.components import empty_state, form_error
from crm_app.layout import signed_in_page
from crm_app.services import client_import, uploads
from crm_app.services.client_import import RejectedRow
from crm_app.services.errors import ServiceError
from crm_app.state import AppState
from crm_app.upload_guard import accept_uploads

SKIP = "skip"
UPLOAD_ID = "client-csv"
SHOWN_REJECTS = 200


# Checked by the upload guard before the first byte is read, and again by the handler.
IMPORT_UPLOAD = uploads.UploadPolicy(
    purpose="client-import",
    action=Action.EDIT_CLIENTS,
    max_file_bytes=client_import.MAX_FILE_BYTES,
    max_files=1,
    suffixes=(".csv", ".txt"),
)


class ClientImportState(AppState):
    step: str = "upload"  # upload -> map -> running -> done
    file_name: str = ""
    upload_percent: int = 0
    columns: list[str] = []
    sample: list[list[str]] = []
    field_options: list[list[str]] = []  # [key, label]
    mapping: dict[str, str] = {}
    all_or_nothing: bool = False
    stage: str = ""
    done_rows: int = 0
    total_rows: int = 0
    error: str = ""
    inserted: int = 0
    updated: int = 0
    rejected_count: int = 0
    rejected: list[RejectedRow] = []
    warned_count: int = 0
    warnings: list[RejectedRow] = []
    aborted: bool = False
    seconds: str = ""
    _path: str = ""
    _report_csv: bytes = b""

    @rx.var
    def percent(self) -> int:
        if self.stage == "saving":
            return 95
        return min(90, int(90 * self.done_rows / self.total_rows)) if self.total_rows else 0

    @rx.event
    def reset_import(self):
        if self._path:
            Path(self._path).unlink(missing_ok=True)
        self.step, self.file_name, self.error, self._path = "upload", "", "", ""
        self.columns, self.sample, self.mapping, self.rejected = [], [], {}, []
        self.warned_count, self.warnings = 0, []
        self.upload_percent = self.done_rows = self.total_rows = 0

    @rx.event
    def upload_progress(self, progress: dict):
        self.upload_percent = int(float(progress.get("progress", 0)) * 100)

    @rx.event(background=True)
    async def receive_upload(self, chunks: rx.UploadChunkIterator):
        """Stream the chunks to a server-side file; the file is never held in memory."""
        if not isinstance(chunks, rx.UploadChunkIterator):
            return  # called over the socket with made-up arguments, not through an upload
        try:
            async with self:
                self.error = ""
                actor = uploads.authorize(self.actor(), IMPORT_UPLOAD)  # before any byte
        except ServiceError as error:
            async with self:
                self.error = error.message
            return
        path = uploads.new_upload_path(IMPORT_UPLOAD, ".csv")
        name, size, files = "", 0, 0
        try:
            with path.open("wb") as out:
                async for chunk in chunks:
                    if chunk.filename != name:
                        name, files = chunk.filename, files + 1
                    size = max(size, chunk.offset + len(chunk.data))
                    uploads.check_chunk(IMPORT_UPLOAD, name, size, files)
                    out.seek(chunk.offset)
                    out.write(chunk.data)
            preview = client_import.preview_file(actor, path)
        except ServiceError as error:
            path.unlink(missing_ok=True)
            async with self:
                self.error = error.message
            return
        except BaseException:
            path.unlink(missing_ok=True)  # cancelled (client left) or failed mid-upload
            raise
        async with self:
            self._path, self.file_name = str(path), Path(name).name
            self.columns, self.sample = preview.columns, preview.sample
            self.field_options = [[key, label] for key, label in preview.fields]
            self.mapping = {c: preview.suggested[c] or SKIP for c in preview.columns}
            self.step = "map"

    @rx.event
    def set_mapping(self, column: str, key: str):
        self.mapping = {**self.mapping, column: key}

    @rx.event
    def set_all_or_nothing(self, value: bool):
        self.all_or_nothing = value

    @rx.event(background=True)
    async def run_import(self):
        async with self:
            actor = self.require_actor()
            path, source = Path(self._path), self.file_name or "csv import"
            mapping = {c: ("" if k == SKIP else k) for c, k in self.mapping.items()}
            strict = self.all_or_nothing
            self.step, self.error, self.stage = "running", "", "checking"
            self.done_rows = self.total_rows = 0
        progress = {"stage": "checking", "done": 0, "total": 0}
        lock = threading.Lock()

        def report(stage: str, done: int, total: int) -> None:
            with lock:
                progress.update(stage=stage, done=done, total=total)

        task = asyncio.create_task(
            asyncio.to_thread(
                client_import.import_clients,
                actor,
                path,
                mapping,
                all_or_nothing=strict,
                source=source,
                progress=report,
            )
        )
        while not task.done():
            await asyncio.sleep(0.3)
            with lock:
                snapshot = dict(progress)
            async with self:
                self.stage = snapshot["stage"]
                self.done_rows, self.total_rows = snapshot["done"], snapshot["total"]
        try:
            result = task.result()
        except ServiceError as error:
            async with self:
                self.error, self.step = error.message, "map"
            return
        async with self:
            self.inserted, self.updated = result.inserted, result.updated
            self.rejected_count, self.aborted = result.rejected_count, result.aborted
            self.rejected = result.rejected[:SHOWN_REJECTS]
            self.warned_count, self.warnings = result.warned_count, result.warnings[:SHOWN_REJECTS]
            self._report_csv = client_import.rejected_rows_csv(result)
            self.seconds = f"{result.seconds:.1f}"
            self.step = "done"
        path.unlink(missing_ok=True)

    @rx.event
    def download_report(self):
        return rx.download(data=self._report_csv, filename="rejected-rows.csv")


accept_uploads(ClientImportState.receive_upload, IMPORT_UPLOAD)


def _upload_step() -> rx.Component:
    s = ClientImportState
    return rx.vstack(
        rx.upload(
            rx.vstack(
                rx.icon("file-up", size=32),
                rx.text("Drop a CSV file here or click to choose one"),
                rx.text(rx.selected_files(UPLOAD_ID), size="1", color_scheme="gray"),
                align="center",
            ),
            id=UPLOAD_ID,
            accept={"text/csv": [".csv"]},
            max_files=1,
            padding="2rem",
            max_size=IMPORT_UPLOAD.max_file_bytes,
            border=f"2px dashed {rx.color('gray', 6)}",
            border_radius="8px",
            width="100%",
        ),
        rx.hstack(
            rx.button(
                rx.icon("upload"),
                "Upload",
                id="upload-csv",
                on_click=s.receive_upload(
                    rx.upload_files_chunk(upload_id=UPLOAD_ID, on_upload_progress=s.upload_progress)
                ),
            ),
            rx.cond(s.upload_percent > 0, rx.progress(value=s.upload_percent, width="12rem")),
            align="center",
        ),
        rx.text(
            "The first line names the columns. UTF-8, comma, semicolon or tab separated. "
            "Rows whose email matches a client update that client; blank cells leave a "
            "field as it is.",
            size="2",
            color_scheme="gray",
        ),
        width="100%",
        spacing="3",
    )


def _mapping_row(column: rx.Var[str]) -> rx.Component:
    s = ClientImportState
    return rx.table.row(
        rx.table.cell(rx.text(column, weight="medium")),
        rx.table.cell(
            rx.select.root(
                rx.select.trigger(width="16rem", aria_label="Field for " + column),
                rx.select.content(
                    rx.select.item("— skip this column —", value=SKIP),
                    rx.foreach(s.field_options, lambda f: rx.select.item(f[1], value=f[0])),
                ),
                value=s.mapping[column],
                on_change=lambda v: s.set_mapping(column, v),
            )
        ),
        class_name="mapping-row",
    )


def _map_step() -> rx.Component:
    s = ClientImportState
    return rx.vstack(
        rx.text("File: ", rx.text.strong(s.file_name), size="2"),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Column in the file"),
                    rx.table.column_header_cell("Client field"),
                )
            ),
            rx.table.body(rx.foreach(s.columns, _mapping_row)),
            variant="surface",
            id="column-mapping",
        ),
        rx.heading("First rows", size="3"),
        rx.table.root(
            rx.table.header(
                rx.table.row(rx.foreach(s.columns, lambda c: rx.table.column_header_cell(c)))
            ),
            rx.table.body(
                rx.foreach(
                    s.sample,
                    lambda row: rx.table.row(rx.foreach(row, lambda cell: rx.table.cell(cell))),
                )
            ),
            variant="surface",
            size="1",
            width="100%",
        ),
        rx.hstack(
            rx.checkbox(
                "Refuse the whole file if any row is invalid",
                checked=s.all_or_nothing,
                on_change=s.set_all_or_nothing,
            ),
            rx.spacer(),
            rx.button("Start over", variant="soft", color_scheme="gray", on_click=s.reset_import),
            rx.button(rx.icon("play"), "Import", id="run-import", on_click=s.run_import),
            width="100%",
            align="center",
        ),
        width="100%",
        spacing="3",
    )


def _running_step() -> rx.Component:
    s = ClientImportState
    return rx.vstack(
        rx.text(
            rx.cond(
                s.stage == "saving",
                "Saving to the database…",
                "Checking rows: "
                + s.done_rows.to_string()
                + " of about "
                + s.total_rows.to_string(),
            )
        ),
        rx.progress(value=s.percent, width="100%", id="import-progress"),
        width="100%",
        spacing="3",
    )


def _done_step() -> rx.Component:
    s = ClientImportState
    return rx.vstack(
        rx.cond(
            s.aborted,
            rx.callout(
                "Nothing was imported: some rows are invalid and the whole file was refused.",
                icon="triangle-alert",
                color_scheme="red",
                role="alert",
            ),
            rx.callout(
                s.inserted.to_string()
                + " clients added, "
                + s.updated.to_string()
                + " updated in "
                + s.seconds
                + " s.",
                icon="circle-check",
                color_scheme="green",
                id="import-summary",
            ),
        ),
        rx.cond(
            s.rejected_count > 0,
            rx.vstack(
                rx.hstack(
                    rx.heading(
                        s.rejected_count.to_string()
                        + rx.cond(s.rejected_count == 1, " row rejected", " rows rejected"),
                        size="4",
                        id="rejected-count",
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("download"),
                        "Download the report",
                        variant="soft",
                        on_click=s.download_report,
                    ),
                    width="100%",
                    align="center",
                ),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[rx.table.column_header_cell(h) for h in ("Line", "Email", "Reason")]
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            s.rejected,
                            lambda r: rx.table.row(
                                rx.table.cell(r.line),
                                rx.table.cell(r.email),
                                rx.table.cell(r.reason),
                                class_name="rejected-row",
                            ),
                        )
                    ),
                    variant="surface",
                    width="100%",
                    id="rejected-rows",
                ),
                width="100%",
            ),
            rx.text("Every row was accepted.", color_scheme="gray"),
        ),
        rx.cond(
            (s.warned_count > 0) & ~s.aborted,
            rx.callout(
                rx.vstack(
                    rx.text(
                        s.warned_count.to_string(),
                        " imported with a warning: check these numbers with the clients.",
                        id="import-warnings",
                    ),
                    rx.foreach(
                        s.warnings,
                        lambda w: rx.text("Line ", w.line.to_string(), ": ", w.reason, size="1"),
                    ),
                    spacing="1",
                ),
                icon="info",
                color_scheme="amber",
                width="100%",
            ),
        ),
        rx.hstack(
            rx.button("Import another file", variant="soft", on_click=s.reset_import),
            rx.link(rx.button("Go to clients"), href=routes.CLIENTS),
        ),
        width="100%",
        spacing="3",
    )


@signed_in_page(
    routes.CLIENT_IMPORT,
    "Import clients",
    Action.EDIT_CLIENTS,
    on_load=[ClientImportState.reset_import],
)
def client_import_page() -> rx.Component:
    s = ClientImportState
    return rx.vstack(
        form_error(s.error),
        rx.match(
            s.step,
            ("upload", _upload_step()),
            ("map", _map_step()),
            ("running", _running_step()),
            ("done", _done_step()),
            empty_state("file-question", "Nothing to import", "Upload a CSV file."),
        ),
        width="100%",
        spacing="4",
        max_width="64rem",
    )
