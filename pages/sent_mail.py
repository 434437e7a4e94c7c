"""Sent mail (local), managers: what the local SMTP sink received — ticket replies,
acknowledgements and the CRM's own notices — when no real mail server is configured, so the
whole loop can be seen without one. A mail opens with its text and headers."""

from __future__ import annotations

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import data_table, empty_state, numbered_pager
from crm_app.layout import signed_in_page
from crm_app.services import system_mail
from crm_app.services.errors import InvalidInput
from crm_app.services.system_mail import SinkMail, SinkMailRow
from crm_app.state import AppState, service_event


class SentMailState(AppState):
    rows: list[SinkMailRow] = []
    total: int = 0
    page: int = 1
    page_count: int = 1
    in_use: bool = True
    opened: SinkMail | None = None

    @rx.var
    def total_label(self) -> str:
        return f"{self.total:,} mail" if self.total == 1 else f"{self.total:,} mails"

    def _load_page(self, actor: Actor, page: int) -> None:
        listing = system_mail.list_sink(actor, page)
        self.rows, self.total = listing.rows, listing.total
        self.page, self.page_count, self.in_use = listing.page, listing.page_count, listing.in_use

    @service_event
    def load(self, actor: Actor):
        self.opened = None
        self._load_page(actor, 1)

    @service_event
    def go_to(self, actor: Actor, page: int):
        if not isinstance(page, int) or isinstance(page, bool):
            raise InvalidInput("That is not a page.")
        self._load_page(actor, page)

    @service_event
    def open_mail(self, actor: Actor, name: str):
        self.opened = system_mail.read_sink_mail(actor, name)

    @rx.event
    def close_mail(self):
        self.opened = None

    @rx.event
    def set_open(self, value: bool):
        if not value:
            self.opened = None


def _row(row: SinkMailRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.date, size="1", white_space="nowrap")),
        rx.table.cell(rx.text(row.sender, size="2", overflow_wrap="anywhere")),
        rx.table.cell(rx.text(row.recipients, size="2", overflow_wrap="anywhere")),
        rx.table.cell(
            rx.button(
                row.subject,
                variant="ghost",
                size="2",
                on_click=SentMailState.open_mail(row.name),
                text_align="left",
                white_space="normal",
                height="auto",
                aria_label="Open the mail " + row.subject,
                class_name="open-mail",
            )
        ),
        class_name="sent-mail-row",
    )


def _pager() -> rx.Component:
    s = SentMailState
    return numbered_pager(s.total_label, s.page, s.page_count, s.go_to, "sent-mail-total")


def _reader() -> rx.Component:
    opened = SentMailState.opened
    return rx.dialog.root(
        rx.dialog.content(
            rx.cond(
                opened,
                rx.vstack(
                    rx.dialog.title(opened.subject),
                    rx.box(
                        rx.text(
                            opened.text,
                            white_space="pre-wrap",
                            overflow_wrap="anywhere",
                            size="2",
                        ),
                        padding="0.75rem",
                        border=f"1px solid {rx.color('gray', 5)}",
                        border_radius="6px",
                        width="100%",
                        id="sent-mail-text",
                    ),
                    rx.cond(
                        opened.attachments.length() > 0,
                        rx.hstack(
                            rx.foreach(
                                opened.attachments,
                                lambda name: rx.badge(
                                    rx.icon("paperclip", size=12), name, variant="soft"
                                ),
                            ),
                            wrap="wrap",
                        ),
                    ),
                    rx.heading("Headers", size="3"),
                    rx.box(
                        rx.foreach(
                            opened.headers,
                            lambda pair: rx.text(
                                rx.text.strong(pair[0], ": "),
                                pair[1],
                                size="1",
                                font_family="monospace",
                                overflow_wrap="anywhere",
                            ),
                        ),
                        width="100%",
                        id="sent-mail-headers",
                    ),
                    rx.hstack(
                        rx.spacer(),
                        rx.dialog.close(rx.button("Close", variant="soft", id="close-mail")),
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            max_width="52rem",
        ),
        open=opened.is_not_none(),
        on_open_change=SentMailState.set_open,
    )


@signed_in_page(
    routes.SENT_MAIL, "Sent mail (local)", Action.VIEW_AUDIT_LOG, on_load=[SentMailState.load]
)
def sent_mail_page() -> rx.Component:
    s = SentMailState
    return rx.vstack(
        rx.text(
            "No mail server is configured, so the CRM keeps what it sends here instead: "
            "replies to clients, acknowledgements and its own notices. Nothing leaves this "
            "machine. To send real mail, set up a mailbox with SMTP or SendGrid (see the README).",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            ~s.in_use,
            empty_state(
                "mail",
                "The local mail sink is not in use",
                "Mail goes to the configured mail server; read it in that server's mailboxes.",
            ),
            data_table(
                ["Date", "From", "To", "Subject"],
                s.rows,
                _row,
                empty=empty_state(
                    "mail",
                    "Nothing sent yet",
                    "Reply to an email ticket: the mail appears here a few seconds later.",
                ),
                footer=_pager(),
                variant="surface",
                id="sent-mail-table",
            ),
        ),
        _reader(),
        spacing="4",
        width="100%",
    )
