"""On the archives page: import a folder of a configured mailbox (IMAP) as an archive, labelled
like an upload (the label, client and confidentiality chosen above it).

The folder list comes from the mail server when a mailbox is picked; the import itself is the
ingest job's (`jobs/archive_imap.py`), read-only on the server.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from crm_app.auth.permissions import Actor
from crm_app.components import field, form_error
from crm_app.services import archives
from crm_app.services.archives import imap as archive_imap
from crm_app.state import AppState, service_event


class ArchiveFolderState(AppState):
    mailbox_choices: list[list[str]] = []  # [id, label]
    mailbox_id: str = ""
    folder_choices: list[list[str]] = []  # [name, "name · N messages"]
    folder: str = ""
    folder_error: str = ""
    folders_loading: bool = False

    @service_event(error_var="folder_error")
    def load_mailboxes(self, actor: Actor):
        self.mailbox_choices = [[str(i), label] for i, label in archive_imap.imap_mailboxes(actor)]

    @rx.event
    def choose_mailbox(self, mailbox_id: str):
        self.mailbox_id, self.folder, self.folder_choices = str(mailbox_id), "", []
        self.folder_error = ""
        if self.mailbox_id.isdigit():
            self.folders_loading = True
            return ArchiveFolderState.fetch_folders

    @service_event(error_var="folder_error")
    async def fetch_folders(self, actor: Actor):
        try:
            if not self.mailbox_id.isdigit():
                return
            mailbox_id = int(self.mailbox_id)
            found = await asyncio.to_thread(archive_imap.mailbox_folders, actor, mailbox_id)
            self.folder_choices = [[f.name, f"{f.name} · {f.messages:,} messages"] for f in found]
        finally:
            self.folders_loading = False

    @rx.event
    def choose_folder(self, folder: str):
        self.folder = str(folder)[:500]

    @service_event(error_var="folder_error")
    async def queue_folder(self, actor: Actor):
        """Queue the chosen folder, labelled with what the intake form above says."""
        from pages.archives import ArchivesState  # the page imports this module

        if not self.mailbox_id.isdigit() or not self.folder:
            self.folder_error = "Pick a mailbox and one of its folders."
            return None
        self.folder_error = ""
        intake = await self.get_state(ArchivesState)
        client_id = archives.find_client_by_email(actor, intake.client_email)
        await asyncio.to_thread(
            archive_imap.queue_imap_folder,
            actor,
            int(self.mailbox_id),
            self.folder,
            label=intake.label,
            client_id=client_id,
            confidential=intake.confidential,
        )
        self.folder = ""
        intake._fetch(actor)
        return [rx.toast.success("Folder queued for import"), ArchivesState.live_loop]


def folder_import() -> rx.Component:
    s = ArchiveFolderState
    return rx.vstack(
        rx.hstack(
            field(
                "Or a folder of a mailbox (read on the server, never marked read)",
                rx.select.root(
                    rx.select.trigger(
                        placeholder="Mailbox", width="16rem", id="archive-imap-mailbox"
                    ),
                    rx.select.content(
                        rx.foreach(s.mailbox_choices, lambda m: rx.select.item(m[1], value=m[0]))
                    ),
                    value=s.mailbox_id,
                    on_change=s.choose_mailbox,
                ),
            ),
            field(
                "Folder",
                rx.select.root(
                    rx.select.trigger(
                        placeholder=rx.cond(s.folders_loading, "Asking the server…", "Folder"),
                        width="18rem",
                        id="archive-imap-folder",
                    ),
                    rx.select.content(
                        rx.foreach(s.folder_choices, lambda f: rx.select.item(f[1], value=f[0]))
                    ),
                    value=s.folder,
                    on_change=s.choose_folder,
                    disabled=s.folder_choices.length() == 0,
                ),
            ),
            rx.button(
                "Import folder",
                variant="soft",
                on_click=s.queue_folder,
                disabled=s.folder == "",
                id="archive-imap-import",
            ),
            align="end",
            wrap="wrap",
        ),
        rx.cond(
            s.mailbox_choices.length() == 0,
            rx.text(
                "No mailbox with an IMAP server is configured (Settings → Mailboxes).",
                size="1",
                color_scheme="gray",
            ),
        ),
        form_error(s.folder_error),
        on_mount=s.load_mailboxes,
        width="100%",
        spacing="2",
    )
