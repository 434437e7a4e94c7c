"""Attaching files in the portal (new request, comment): a State mixin, so each page keeps its
own staged files. Permission (the client's own ticket, or their own record for a new request)
is checked before the first byte is stored."""

from __future__ import annotations

import asyncio

import reflex as rx

from crm_app.services import attachments
from crm_app.services import portal as portal_service
from crm_app.services.attachments import StagedFile
from crm_app.services.errors import ServiceError
from crm_app.settings import get_settings

PORTAL_FILES_ID = "portal-files"


class PortalFiles(rx.State, mixin=True):
    staged_labels: list[str] = []
    upload_error: str = ""
    uploading: bool = False
    _staged: list[StagedFile] = []

    def _upload_target(self) -> int | None:
        """The ticket the files go to (None: a new request)."""
        return None

    def _set_staged(self, staged: list[StagedFile]) -> None:
        self._staged = staged
        self.staged_labels = [
            f"{f.filename} ({attachments.size_label(f.size_bytes)})" for f in staged
        ]

    @rx.event
    def remove_file(self, index: int):
        if isinstance(index, int) and 0 <= index < len(self._staged):
            self._set_staged([f for i, f in enumerate(self._staged) if i != index])

    @rx.event
    def files_rejected(self, count: int):
        what = "1 file" if count == 1 else f"{count} files"
        self.upload_error = f"Not attached ({what}): {attachments.limits_text()}"

    @rx.event(background=True)
    async def receive_files(self, chunks: rx.UploadChunkIterator):
        async with self:
            actor, target, already = self.actor(), self._upload_target(), len(self._staged)
            self.upload_error, self.uploading = "", True
        sink = None
        try:
            sink = await asyncio.to_thread(
                portal_service.requests.start_upload, actor, target, already_staged=already
            )
            async for chunk in chunks:
                await asyncio.to_thread(
                    sink.write, chunk.filename, chunk.offset, chunk.content_type, chunk.data
                )
            staged = await asyncio.to_thread(sink.finish)
        except ServiceError as error:
            if sink is not None:
                sink.abort()
            async with self:
                self.upload_error, self.uploading = error.message, False
            return
        async with self:
            self.uploading = False
            if self._upload_target() == target:
                self._set_staged([*self._staged, *staged])


def attach_control(state: type[PortalFiles]) -> rx.Component:
    """The attach button, the staged files (removable) and upload errors."""
    settings = get_settings()
    return rx.vstack(
        rx.hstack(
            rx.upload.root(
                rx.button(
                    rx.icon("paperclip", size=14),
                    "Attach files",
                    size="2",
                    variant="soft",
                    color_scheme="gray",
                    type="button",
                    id="portal-attach",
                ),
                id=PORTAL_FILES_ID,
                multiple=True,
                max_size=settings.attachment_max_bytes,
                max_files=settings.attachment_max_files,
                on_drop=state.receive_files(rx.upload_files_chunk(upload_id=PORTAL_FILES_ID)),
                on_drop_rejected=lambda rejected: state.files_rejected(rejected.length()),
                title=attachments.limits_text(),
            ),
            rx.cond(
                state.uploading, rx.hstack(rx.spinner(size="1"), rx.text("Uploading…", size="1"))
            ),
            rx.foreach(
                state.staged_labels,
                lambda label, index: rx.badge(
                    rx.icon("paperclip", size=12),
                    label,
                    rx.icon_button(
                        rx.icon("x", size=12),
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        type="button",
                        on_click=state.remove_file(index),
                        aria_label="Remove this file",
                    ),
                    variant="soft",
                    class_name="staged-file",
                ),
            ),
            align="center",
            wrap="wrap",
            spacing="2",
        ),
        rx.cond(
            state.upload_error != "",
            rx.callout(
                state.upload_error,
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                role="alert",
                width="100%",
            ),
        ),
        width="100%",
        spacing="2",
    )
