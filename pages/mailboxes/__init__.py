"""Mailboxes (managers): the firm's addresses, where their mail comes in (IMAP) and how replies
go out (SMTP, SendGrid or the product's own mail settings); a connection test for each
direction; each mailbox's health; and the messages that could not be imported.

Passwords and keys are write-only here: the page only learns whether one is set.
"""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action
from crm_app.components import confirm_dialog, empty_state
from crm_app.layout import signed_in_page
from crm_app.services.mailboxes import FailedImportRow, MailboxRow
from pages.mailboxes.form import mailbox_form, test_result
from pages.mailboxes.state import MailboxesState


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
        test_result(),
        rx.cond(s.form_open, mailbox_form()),
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
