"""Mailboxes (managers): the firm's addresses, where their mail comes in (IMAP) and how replies
go out (SMTP, SendGrid or the product's own mail settings); a connection test for each
direction; each mailbox's health; and the messages that could not be imported.

Passwords and keys are write-only here: the page only learns whether one is set.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import confirm_dialog, empty_state, field, form_error
from crm_app.layout import signed_in_page
from crm_app.services import mailboxes
from crm_app.services.mailboxes import FailedImportRow, MailboxRow
from crm_app.state import AppState, service_event
from models.mailbox import AfterFetch, ConnectionSecurity, OutboundKind

_SECURITY = [s.value for s in ConnectionSecurity]
_OUTBOUND_LABELS = {
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


def _secret_badge(is_set: rx.Var[bool]) -> rx.Component:
    return rx.cond(
        is_set,
        rx.badge("set", color_scheme="green", variant="soft"),
        rx.badge("not set", color_scheme="gray", variant="soft"),
    )


def _health(row: MailboxRow) -> rx.Component:
    return rx.vstack(
        rx.text(
            rx.cond(row.last_poll != "", "Last poll " + row.last_poll, "Not polled yet"),
            size="1",
        ),
        rx.text(row.messages_imported.to_string() + " imported", size="1", color_scheme="gray"),
        rx.cond(
            row.failed_imports > 0,
            rx.badge(row.failed_imports.to_string() + " failed", color_scheme="amber"),
        ),
        rx.cond(
            row.last_error != "",
            rx.tooltip(
                rx.text(
                    rx.icon("triangle-alert", size=12),
                    " Failing since ",
                    row.error_since,
                    size="1",
                    color_scheme="red",
                    class_name="mailbox-error",
                ),
                content=row.last_error,
            ),
        ),
        rx.cond(
            row.last_error != "",
            rx.text(row.last_error, size="1", color_scheme="red", max_width="20rem", trim="end"),
        ),
        spacing="1",
        align="start",
    )


def _row(row: MailboxRow) -> rx.Component:
    s = MailboxesState
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.hstack(
                    rx.text(row.name, weight="medium"),
                    rx.cond(row.is_default, rx.badge("default", variant="outline")),
                    spacing="2",
                ),
                rx.text(row.address, size="1", color_scheme="gray"),
                spacing="1",
            )
        ),
        rx.table.cell(
            rx.cond(
                row.enabled,
                rx.badge("enabled", color_scheme="green"),
                rx.badge("disabled", color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.cond(
                row.imap_host != "",
                rx.vstack(
                    rx.text(row.imap_host, ":", row.imap_port.to_string(), size="1"),
                    rx.text(
                        row.imap_security, " · ", row.imap_folders, size="1", color_scheme="gray"
                    ),
                    spacing="0",
                ),
                rx.text("no IMAP: sends only", size="1", color_scheme="gray"),
            )
        ),
        rx.table.cell(
            rx.match(
                row.outbound,
                ("smtp", rx.text(row.smtp_host, ":", row.smtp_port.to_string(), size="1")),
                ("sendgrid", rx.text("SendGrid", size="1")),
                rx.text("product's own settings", size="1"),
            )
        ),
        rx.table.cell(_health(row)),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=s.start_edit(row.id),
                    class_name="edit-mailbox",
                ),
                rx.button(
                    "Test incoming",
                    size="1",
                    variant="outline",
                    on_click=s.test(row.id, "in"),
                    class_name="test-incoming",
                ),
                rx.button(
                    "Test outgoing",
                    size="1",
                    variant="outline",
                    on_click=s.test(row.id, "out"),
                    class_name="test-outgoing",
                ),
                rx.button(
                    rx.cond(row.enabled, "Disable", "Enable"),
                    size="1",
                    variant="ghost",
                    on_click=s.toggle(row.id, ~row.enabled),
                    class_name="toggle-mailbox",
                ),
                confirm_dialog(
                    rx.button(
                        "Remove",
                        size="1",
                        variant="ghost",
                        color_scheme="red",
                        class_name="remove-mailbox",
                    ),
                    "Remove this mailbox?",
                    "Its mail is no longer fetched and its import records are deleted. "
                    "Tickets that came in through it stay.",
                    confirm_label="Remove mailbox",
                    on_confirm=s.remove(row.id),
                ),
                spacing="2",
                wrap="wrap",
            )
        ),
        class_name="mailbox-row",
        vertical_align="top",
    )


def _input(label: str, key: str, **props) -> rx.Component:
    return field(
        label,
        rx.input(
            name=key,
            id=f"mailbox-{key.replace('_', '-')}",
            default_value=MailboxesState.values[key],
            width="100%",
            **props,
        ),
    )


def _secret(label: str, key: str) -> rx.Component:
    s = MailboxesState
    return rx.vstack(
        rx.hstack(
            rx.text(label, as_="label", size="2", weight="medium"),
            _secret_badge(s.secrets_set[key]),
            spacing="2",
            align="center",
        ),
        rx.input(
            name=key,
            id=f"mailbox-{key.replace('_', '-')}",
            type="password",
            auto_complete="new-password",
            placeholder=rx.cond(s.secrets_set[key], "Leave empty to keep", "Not set"),
            width="100%",
        ),
        spacing="1",
        width="100%",
    )


def _switch(label: str, checked: rx.Var[bool], on_change, switch_id: str) -> rx.Component:
    return rx.text(
        rx.hstack(
            rx.switch(checked=checked, on_change=on_change, id=switch_id),
            label,
            spacing="2",
            align="center",
        ),
        as_="label",
        size="2",
    )


def _select(label: str, options: list[str], value, on_change, select_id: str) -> rx.Component:
    return field(label, rx.select(options, value=value, on_change=on_change, id=select_id))


def _form() -> rx.Component:
    s = MailboxesState
    grid = {"columns": "3", "spacing": "3", "width": "100%"}
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(s.editing_id > 0, "Edit mailbox", "Add a mailbox"), size="3"),
                rx.grid(
                    _input("Name", "name", required=True, placeholder="Client service"),
                    _input(
                        "Address",
                        "address",
                        required=True,
                        type="email",
                        placeholder="service@firm.example",
                    ),
                    _input(
                        "Display name on replies", "display_name", placeholder="Firm client service"
                    ),
                    **grid,
                ),
                rx.hstack(
                    _switch("Enabled", s.enabled, s.set_enabled, "mailbox-enabled"),
                    _switch(
                        "Default for replies", s.is_default, s.set_is_default, "mailbox-default"
                    ),
                    _switch(
                        "Acknowledge new requests",
                        s.send_acknowledgement,
                        s.set_send_acknowledgement,
                        "mailbox-ack",
                    ),
                    spacing="5",
                    wrap="wrap",
                ),
                rx.divider(),
                rx.heading("Incoming mail (IMAP)", size="2"),
                rx.grid(
                    _input("IMAP host", "imap_host", placeholder="imap.firm.example"),
                    _input("Port", "imap_port", input_mode="numeric"),
                    _select(
                        "Security",
                        _SECURITY,
                        s.imap_security,
                        s.set_imap_security,
                        "mailbox-imap-security",
                    ),
                    _input("User", "imap_user", auto_complete="off"),
                    _secret("Password", "imap_password"),
                    _input("Poll every (seconds)", "poll_seconds", input_mode="numeric"),
                    **grid,
                ),
                rx.grid(
                    field(
                        "Folders to read (one per line)",
                        rx.text_area(
                            name="imap_folders",
                            id="mailbox-imap-folders",
                            default_value=s.values["imap_folders"],
                            rows="2",
                            width="100%",
                        ),
                    ),
                    _select(
                        "After fetching",
                        [a.value for a in AfterFetch],
                        s.after_fetch,
                        s.set_after_fetch,
                        "mailbox-after-fetch",
                    ),
                    rx.cond(
                        s.after_fetch == AfterFetch.MOVE.value,
                        _input("Move to folder", "move_to_folder", placeholder="Imported"),
                        rx.box(),
                    ),
                    **grid,
                ),
                _switch(
                    "Use IMAP IDLE where the server offers it (mail arrives at once)",
                    s.use_idle,
                    s.set_use_idle,
                    "mailbox-idle",
                ),
                rx.divider(),
                rx.heading("Outgoing mail", size="2"),
                rx.radio_group.root(
                    rx.hstack(
                        *[
                            rx.text(
                                rx.hstack(rx.radio_group.item(value=kind), label, spacing="2"),
                                as_="label",
                                size="2",
                            )
                            for kind, label in _OUTBOUND_LABELS.items()
                        ],
                        spacing="5",
                        wrap="wrap",
                    ),
                    value=s.outbound,
                    on_change=s.set_outbound,
                    id="mailbox-outbound",
                ),
                rx.cond(
                    s.outbound == OutboundKind.SMTP.value,
                    rx.grid(
                        _input("SMTP host", "smtp_host", placeholder="smtp.firm.example"),
                        _input("Port", "smtp_port", input_mode="numeric"),
                        _select(
                            "Security",
                            _SECURITY,
                            s.smtp_security,
                            s.set_smtp_security,
                            "mailbox-smtp-security",
                        ),
                        _input("User", "smtp_user", auto_complete="off"),
                        _secret("Password", "smtp_password"),
                        **grid,
                    ),
                ),
                rx.cond(
                    s.outbound == OutboundKind.SENDGRID.value,
                    rx.box(_secret("SendGrid API key", "sendgrid_key"), width="33%"),
                ),
                rx.cond(
                    s.outbound == OutboundKind.SYSTEM.value,
                    rx.text(
                        "Replies go out through the CRM_SMTP_* settings (with none set, to the "
                        "local mail sink).",
                        size="1",
                        color_scheme="gray",
                    ),
                ),
                form_error(s.error),
                rx.hstack(
                    rx.button("Save mailbox", type="submit", id="save-mailbox"),
                    rx.button(
                        "Cancel",
                        type="button",
                        variant="soft",
                        color_scheme="gray",
                        on_click=s.close_form,
                    ),
                    spacing="3",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=s.save,
            key=s.form_version.to_string(),
            id="mailbox-form",
        ),
        width="100%",
    )


def _test_result() -> rx.Component:
    s = MailboxesState
    return rx.cond(
        s.test_message != "",
        rx.callout(
            s.test_message,
            icon=rx.cond(s.test_ok, "circle-check", "circle-x"),
            color_scheme=rx.cond(s.test_ok, "green", "red"),
            width="100%",
            id="mailbox-test-result",
        ),
    )


def _failed_row(row: FailedImportRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.received, size="1")),
        rx.table.cell(rx.text(row.mailbox, " / ", row.folder, " #", row.uid.to_string(), size="1")),
        rx.table.cell(rx.text(row.sender, size="1")),
        rx.table.cell(rx.text(row.subject, size="1")),
        rx.table.cell(rx.text(row.size_label, size="1")),
        rx.table.cell(rx.code(row.reason, size="1", white_space="normal")),
        class_name="failed-import-row",
    )


def _failed() -> rx.Component:
    s = MailboxesState
    return rx.vstack(
        rx.heading("Failed imports", size="3"),
        rx.text(
            "Messages the parser could not read or store. Each is kept as it arrived (under "
            "the data folder, in mail-failed/) and is not fetched again.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            s.failed.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Received", "Where", "From", "Subject", "Size", "Error")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(s.failed, _failed_row)),
                width="100%",
                variant="surface",
                id="failed-imports",
            ),
            rx.text(
                "None: every fetched message was imported or recorded.",
                size="2",
                id="no-failed-imports",
            ),
        ),
        spacing="2",
        width="100%",
    )


@signed_in_page(
    routes.MAILBOXES, "Mailboxes", Action.MANAGE_MAILBOXES, on_load=[MailboxesState.load]
)
def mailboxes_page() -> rx.Component:
    s = MailboxesState
    return rx.vstack(
        rx.hstack(
            rx.text(
                "Mail to these addresses becomes tickets; replies to those tickets go out "
                "from the address the mail came to. Passwords and keys are stored encrypted "
                "and never shown. Every change is audited.",
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("plus", size=14), "Add mailbox", on_click=s.start_add, id="add-mailbox"
            ),
            width="100%",
            align="center",
        ),
        _test_result(),
        rx.cond(s.form_open, _form()),
        rx.cond(
            s.rows.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Mailbox", "State", "Incoming", "Outgoing", "Health", "")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(s.rows, _row)),
                width="100%",
                variant="surface",
                id="mailboxes-table",
            ),
            empty_state(
                "mail",
                "No mailboxes yet",
                "Add the firm's support address: its mail then arrives here as tickets.",
            ),
        ),
        _failed(),
        spacing="4",
        width="100%",
    )
