"""The mailboxes page's state: the list with each mailbox's health, the add/edit form with
write-only secrets, the connection tests and the failed imports."""

from __future__ import annotations

import asyncio

import reflex as rx

from crm_app.auth.permissions import Actor
from crm_app.services import mailboxes
from crm_app.services.mailboxes import FailedImportRow, MailboxRow
from crm_app.state import AppState, service_event
from models.mailbox import AfterFetch, ConnectionSecurity, OutboundKind

SECURITY = [s.value for s in ConnectionSecurity]


OUTBOUND_LABELS = {
    OutboundKind.SYSTEM.value: "The product's own mail settings",
    OutboundKind.SMTP.value: "This mailbox's SMTP server",
    OutboundKind.SENDGRID.value: "SendGrid",
}


class MailboxesState(AppState):
    rows: list[MailboxRow] = []
    failed: list[FailedImportRow] = []
    # The form: closed, adding (editing_id 0) or editing a mailbox.
    form_open: bool = False
    editing_id: int = 0
    form_version: int = 0
    values: dict[str, str] = {}
    secrets_set: dict[str, bool] = {}
    imap_security: str = ConnectionSecurity.TLS.value
    smtp_security: str = ConnectionSecurity.STARTTLS.value
    outbound: str = OutboundKind.SYSTEM.value
    after_fetch: str = AfterFetch.MARK_SEEN.value
    enabled: bool = True
    is_default: bool = False
    use_idle: bool = True
    send_acknowledgement: bool = False
    error: str = ""
    # The last connection test: which mailbox, and what it said.
    test_mailbox_id: int = 0
    test_ok: bool = False
    test_message: str = ""

    @service_event
    def load(self, actor: Actor):
        self.rows = mailboxes.list_mailboxes(actor)
        self.failed = mailboxes.failed_imports(actor)

    def _fill(self, row: MailboxRow | None) -> None:
        self.error = ""
        self.form_version += 1
        self.form_open = True
        self.editing_id = row.id if row else 0
        keys = (
            "name",
            "address",
            "display_name",
            "imap_host",
            "imap_user",
            "imap_folders",
            "move_to_folder",
            "smtp_host",
            "smtp_user",
        )
        self.values = {key: str(getattr(row, key)) if row else "" for key in keys}
        self.values["imap_port"] = str(row.imap_port) if row else "993"
        self.values["smtp_port"] = str(row.smtp_port) if row else "587"
        self.values["poll_seconds"] = str(row.poll_seconds) if row else "60"
        if not row:
            self.values["imap_folders"] = "INBOX"
        self.secrets_set = {
            "imap_password": bool(row and row.imap_password_set),
            "smtp_password": bool(row and row.smtp_password_set),
            "sendgrid_key": bool(row and row.sendgrid_key_set),
        }
        self.imap_security = row.imap_security if row else ConnectionSecurity.TLS.value
        self.smtp_security = row.smtp_security if row else ConnectionSecurity.STARTTLS.value
        self.outbound = row.outbound if row else OutboundKind.SYSTEM.value
        self.after_fetch = row.after_fetch if row else AfterFetch.MARK_SEEN.value
        self.enabled = row.enabled if row else True
        self.is_default = row.is_default if row else not self.rows
        self.use_idle = row.use_idle if row else True
        self.send_acknowledgement = row.send_acknowledgement if row else False

    @service_event
    def start_add(self, actor: Actor):
        mailboxes.list_mailboxes(actor)  # managers only, before the form opens
        self._fill(None)

    @service_event
    def start_edit(self, actor: Actor, mailbox_id: int):
        self._fill(mailboxes.get_mailbox(actor, int(mailbox_id)))

    @rx.event
    def close_form(self):
        self.form_open = False
        self.error = ""

    @rx.event
    def set_imap_security(self, value: str):
        self.imap_security = str(value)[:32]

    @rx.event
    def set_smtp_security(self, value: str):
        self.smtp_security = str(value)[:32]

    @rx.event
    def set_outbound(self, value: str):
        self.outbound = str(value)[:32]

    @rx.event
    def set_after_fetch(self, value: str):
        self.after_fetch = str(value)[:32]

    @rx.event
    def set_enabled(self, value: bool):
        self.enabled = bool(value)

    @rx.event
    def set_is_default(self, value: bool):
        self.is_default = bool(value)

    @rx.event
    def set_use_idle(self, value: bool):
        self.use_idle = bool(value)

    @rx.event
    def set_send_acknowledgement(self, value: bool):
        self.send_acknowledgement = bool(value)

    @service_event(error_var="error")
    def save(self, actor: Actor, form: dict):
        self.error = ""
        data = {str(k): v for k, v in dict(form).items() if isinstance(v, str | int | bool)}
        data.update(
            imap_security=self.imap_security,
            smtp_security=self.smtp_security,
            outbound=self.outbound,
            after_fetch=self.after_fetch,
            enabled=self.enabled,
            is_default=self.is_default,
            use_idle=self.use_idle,
            send_acknowledgement=self.send_acknowledgement,
        )
        row = mailboxes.save_mailbox(actor, self.editing_id or None, data)
        self.form_open = False
        verb = "updated" if self.editing_id else "added"
        return [MailboxesState.load, rx.toast.success(f"Mailbox {row.address} {verb}")]

    @service_event
    def toggle(self, actor: Actor, mailbox_id: int, enabled: bool):
        mailboxes.set_enabled(actor, int(mailbox_id), bool(enabled))
        word = "enabled: its mail is fetched" if enabled else "disabled: no mail is fetched"
        return [MailboxesState.load, rx.toast.success(f"Mailbox {word}")]

    @service_event
    def remove(self, actor: Actor, mailbox_id: int):
        address = mailboxes.remove_mailbox(actor, int(mailbox_id))
        if self.editing_id == mailbox_id:
            self.form_open = False
        return [MailboxesState.load, rx.toast.success(f"Mailbox {address} removed")]

    @service_event
    async def test(self, actor: Actor, mailbox_id: int, direction: str):
        """A connection test (up to ~15 s against a slow server): off the event loop."""
        check = mailboxes.test_outgoing if direction == "out" else mailboxes.test_incoming
        report = await asyncio.to_thread(check, actor, int(mailbox_id))
        self.test_mailbox_id = int(mailbox_id)
        self.test_ok, self.test_message = report.ok, report.message
        label = "Incoming" if direction != "out" else "Outgoing"
        self.test_message = f"{label}: {report.message}"
