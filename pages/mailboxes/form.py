"""The mailbox form: address, IMAP in, mail out, write-only secrets, and the test result."""

from __future__ import annotations

import reflex as rx

from crm_app.components import field, form_error
from models.mailbox import AfterFetch, OutboundKind
from pages.mailboxes.state import OUTBOUND_LABELS, SECURITY, MailboxesState


def _secret_badge(is_set: rx.Var[bool]) -> rx.Component:
    return rx.cond(
        is_set,
        rx.badge("set", color_scheme="green", variant="soft"),
        rx.badge("not set", color_scheme="gray", variant="soft"),
    )


def text_input(label: str, key: str, **props) -> rx.Component:
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


def secret_input(label: str, key: str) -> rx.Component:
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


def labelled_switch(label: str, checked: rx.Var[bool], on_change, switch_id: str) -> rx.Component:
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


def choice(label: str, options: list[str], value, on_change, select_id: str) -> rx.Component:
    return field(label, rx.select(options, value=value, on_change=on_change, id=select_id))


def mailbox_form() -> rx.Component:
    s = MailboxesState
    grid = {"columns": "3", "spacing": "3", "width": "100%"}
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(s.editing_id > 0, "Edit mailbox", "Add a mailbox"), size="3"),
                rx.grid(
                    text_input("Name", "name", required=True, placeholder="Client service"),
                    text_input(
                        "Address",
                        "address",
                        required=True,
                        type="email",
                        placeholder="service@firm.example",
                    ),
                    text_input(
                        "Display name on replies", "display_name", placeholder="Firm client service"
                    ),
                    **grid,
                ),
                rx.hstack(
                    labelled_switch("Enabled", s.enabled, s.set_enabled, "mailbox-enabled"),
                    labelled_switch(
                        "Default for replies", s.is_default, s.set_is_default, "mailbox-default"
                    ),
                    labelled_switch(
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
                    text_input("IMAP host", "imap_host", placeholder="imap.firm.example"),
                    text_input("Port", "imap_port", input_mode="numeric"),
                    choice(
                        "Security",
                        SECURITY,
                        s.imap_security,
                        s.set_imap_security,
                        "mailbox-imap-security",
                    ),
                    text_input("User", "imap_user", auto_complete="off"),
                    secret_input("Password", "imap_password"),
                    text_input("Poll every (seconds)", "poll_seconds", input_mode="numeric"),
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
                    choice(
                        "After fetching",
                        [a.value for a in AfterFetch],
                        s.after_fetch,
                        s.set_after_fetch,
                        "mailbox-after-fetch",
                    ),
                    rx.cond(
                        s.after_fetch == AfterFetch.MOVE.value,
                        text_input("Move to folder", "move_to_folder", placeholder="Imported"),
                        rx.box(),
                    ),
                    **grid,
                ),
                labelled_switch(
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
                            for kind, label in OUTBOUND_LABELS.items()
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
                        text_input("SMTP host", "smtp_host", placeholder="smtp.firm.example"),
                        text_input("Port", "smtp_port", input_mode="numeric"),
                        choice(
                            "Security",
                            SECURITY,
                            s.smtp_security,
                            s.set_smtp_security,
                            "mailbox-smtp-security",
                        ),
                        text_input("User", "smtp_user", auto_complete="off"),
                        secret_input("Password", "smtp_password"),
                        **grid,
                    ),
                ),
                rx.cond(
                    s.outbound == OutboundKind.SENDGRID.value,
                    rx.box(secret_input("SendGrid API key", "sendgrid_key"), width="33%"),
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


def test_result() -> rx.Component:
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
