"""The conversation column: messages as a timeline (with their attachments) and the
reply/internal-note composer with its pending macro changes and files."""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.base import Var

from crm_app.components import channel_badge, removable_chip
from crm_app.services import attachments
from crm_app.services.attachments import AttachmentRow
from crm_app.services.tickets import MessageRow
from crm_app.settings import get_settings
from crm_app.timefmt import when
from pages.ticket.cc_field import cc_field
from pages.ticket.state import FILES_UPLOAD_ID, TicketState
from pages.ticket.template_picker import template_picker


def _sentiment_badge(label: rx.Var[str]) -> rx.Component:
    return rx.badge(
        rx.icon(rx.match(label, ("negative", "frown"), ("positive", "smile"), "meh"), size=12),
        label,
        color_scheme=rx.match(label, ("negative", "red"), ("positive", "green"), "gray"),
        variant="surface",
        title="Sentiment of this client message",
        class_name="sentiment",
    )


def _attachment_link(item: AttachmentRow) -> rx.Component:
    # Document navigation: client-side routing would open the API URL as a (missing) page.
    return rx.el.a(
        rx.hstack(
            rx.icon("paperclip", size=14),
            rx.text(item.filename, size="1"),
            rx.text(item.size_label, size="1", color_scheme="gray"),
            spacing="1",
            align="center",
        ),
        href=item.url,
        reload_document=True,
        download=item.filename,
        class_name="attachment",
        title="Download " + item.filename,
        padding="0.15rem 0.5rem",
        border=f"1px solid {rx.color('gray', 6)}",
        border_radius="6px",
        color=rx.color("accent", 11),
        text_decoration="none",
        max_width="100%",
        overflow_wrap="anywhere",
        _hover={"background": rx.color("accent", 3)},
    )


def _queued_words(channel: rx.Var[str]) -> rx.Var[str]:
    return rx.match(
        channel,
        ("whatsapp", "Queued for sending by WhatsApp"),
        ("web_chat", "Queued for sending by web chat"),
        "Queued for sending by email",
    )


def _delivery(message: MessageRow) -> rx.Component:
    """Where an outgoing mail stands: queued (and why it waits), sent, or failed with the
    reason and a Retry."""
    waiting = rx.hstack(
        rx.icon("clock", size=14),
        rx.text(
            rx.cond(
                message.delivery_error != "",
                "Not sent yet, will retry: " + message.delivery_error,
                _queued_words(message.channel),
            ),
            size="1",
        ),
        align="center",
        spacing="1",
        color=rx.color("gray", 11),
        class_name="delivery delivery-queued",
    )
    return rx.match(
        message.delivery_status,
        ("queued", waiting),
        ("sending", waiting),
        (
            "sent",
            rx.hstack(
                rx.icon("check-check", size=14),
                rx.text(
                    rx.match(
                        message.channel,
                        ("whatsapp", "Sent by WhatsApp"),
                        ("web_chat", "Shown in the chat"),
                        "Sent by email",
                    ),
                    size="1",
                ),
                align="center",
                spacing="1",
                color=rx.color("green", 11),
                class_name="delivery delivery-sent",
            ),
        ),
        (
            "failed",
            rx.callout.root(
                rx.callout.icon(rx.icon("mail-x", size=16)),
                rx.hstack(
                    rx.callout.text(
                        rx.text.strong("Not sent: "),
                        message.delivery_error,
                        overflow_wrap="anywhere",
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("rotate-cw", size=14),
                        "Retry",
                        size="1",
                        color_scheme="red",
                        variant="soft",
                        on_click=TicketState.retry_delivery(message.id),
                        class_name="retry-delivery",
                    ),
                    align="center",
                    width="100%",
                ),
                color_scheme="red",
                size="1",
                role="alert",
                class_name="delivery delivery-failed",
            ),
        ),
        rx.fragment(),
    )


def _inline_image(item: AttachmentRow) -> rx.Component:
    """An image the mail showed in its text (cid:), shown as the sender meant it."""
    return rx.el.a(
        rx.image(
            src=item.url,
            alt=item.filename,
            max_width="min(100%, 480px)",
            max_height="360px",
            border_radius="4px",
        ),
        href=item.url,
        reload_document=True,
        title=item.filename,
        class_name="inline-image",
    )


def _folded(text: rx.Var[str]) -> rx.Component:
    """Quoted history and signature of a mail: folded away, one click (or Enter) to open."""
    return rx.el.details(
        rx.el.summary(
            rx.text("Show quoted text", size="1", color_scheme="gray", as_="span"),
            cursor="pointer",
        ),
        rx.text(
            text,
            white_space="pre-wrap",
            size="1",
            color_scheme="gray",
            overflow_wrap="anywhere",
            padding_top="0.25rem",
        ),
        class_name="quoted-text",
        padding_top="0.5rem",
    )


def message_bubble(message: MessageRow) -> rx.Component:
    kind = rx.cond(
        message.is_internal,
        "note",
        rx.cond(
            message.sender_kind == "client",
            "client",
            rx.cond(message.sender_kind == "system", "system", "agent"),
        ),
    )
    return rx.box(
        rx.hstack(
            rx.icon(
                rx.cond(
                    message.is_internal,
                    "lock",
                    rx.cond(message.sender_kind == "client", "user", "headset"),
                ),
                size=16,
            ),
            rx.text(message.author_name, weight="bold", size="2"),
            rx.match(
                kind,
                ("note", rx.badge("internal note", color_scheme="amber", variant="solid")),
                ("client", rx.badge("client", color_scheme="gray")),
                ("system", rx.badge("system", color_scheme="gray", variant="outline")),
                rx.badge("agent reply", color_scheme="blue"),
            ),
            channel_badge(message.channel),
            rx.cond(
                message.logged_by != "",
                rx.text(
                    "logged by ",
                    message.logged_by,
                    " · ",
                    message.channel,
                    size="1",
                    color_scheme="gray",
                    class_name="logged-by",
                ),
            ),
            rx.cond(message.sentiment != "", _sentiment_badge(message.sentiment)),
            rx.spacer(),
            when(message.created_iso),
            align="center",
            width="100%",
        ),
        rx.cond(
            message.cc.length() > 0,
            rx.text(
                "Cc: ",
                message.cc.join(", "),
                size="1",
                color_scheme="gray",
                overflow_wrap="anywhere",
                class_name="message-cc",
            ),
        ),
        rx.text(
            message.body_text,
            white_space="pre-wrap",
            padding_top="0.5rem",
            # Long unbroken runs (URLs, IBANs) wrap inside the bubble.
            overflow_wrap="anywhere",
        ),
        rx.cond(
            message.inline_images.length() > 0,
            rx.hstack(
                rx.foreach(message.inline_images, _inline_image),
                wrap="wrap",
                spacing="2",
                padding_top="0.5rem",
            ),
        ),
        rx.cond(message.quoted_text != "", _folded(message.quoted_text)),
        rx.cond(
            message.attachments.length() > 0,
            rx.hstack(
                rx.foreach(message.attachments, _attachment_link),
                wrap="wrap",
                spacing="2",
                padding_top="0.5rem",
            ),
        ),
        rx.cond(
            message.delivery_status != "",
            rx.box(_delivery(message), padding_top="0.5rem"),
        ),
        padding="0.75rem 1rem",
        border_radius="8px",
        # Replies sit indented, within the column (width 100% plus a margin overflowed it).
        width=rx.cond(message.sender_kind == "client", "100%", "calc(100% - 2rem)"),
        min_width="0",
        box_sizing="border-box",
        margin_left=rx.cond(message.sender_kind == "client", "0", "2rem"),
        class_name=rx.cond(message.is_internal, "message internal-note", "message"),
        background=rx.cond(
            message.is_internal,
            rx.color("amber", 3),
            rx.cond(message.sender_kind == "client", rx.color("gray", 3), rx.color("accent", 3)),
        ),
        border=rx.cond(message.is_internal, f"1px dashed {rx.color('amber', 8)}", "none"),
    )


def _chip(label: str, value: rx.Var[str], on_remove: rx.EventHandler, chip_id: str) -> rx.Component:
    return removable_chip(
        rx.text(label, " → ", rx.text.strong(value)),
        on_remove,
        f"Do not change the {label.lower()}",
        size="2",
        id=chip_id,
        class_name="macro-chip",
    )


def _pending_changes() -> rx.Component:
    """What sending will also do: the macro's fields (removable) and the attached files."""
    return rx.cond(
        (TicketState.macro_status != "")
        | (TicketState.macro_priority != "")
        | (TicketState.macro_tags.length() > 0)
        | (TicketState.staged_labels.length() > 0)
        | (TicketState.upload_error != "")
        | TicketState.uploading,
        rx.vstack(
            rx.cond(
                (TicketState.macro_status != "")
                | (TicketState.macro_priority != "")
                | (TicketState.macro_tags.length() > 0),
                rx.hstack(
                    rx.text(
                        "On send, “",
                        TicketState.macro_title,
                        "” also sets:",
                        size="1",
                        color_scheme="gray",
                    ),
                    rx.cond(
                        TicketState.macro_status != "",
                        _chip(
                            "Status",
                            TicketState.macro_status,
                            TicketState.drop_macro_status,
                            "macro-status-chip",
                        ),
                    ),
                    rx.cond(
                        TicketState.macro_priority != "",
                        _chip(
                            "Priority",
                            TicketState.macro_priority,
                            TicketState.drop_macro_priority,
                            "macro-priority-chip",
                        ),
                    ),
                    rx.foreach(
                        TicketState.macro_tags,
                        lambda tag: removable_chip(
                            rx.text("Tag + ", rx.text.strong(tag)),
                            TicketState.drop_macro_tag(tag),
                            "Do not add the tag " + tag,
                            size="2",
                            class_name="macro-chip macro-tag-chip",
                        ),
                    ),
                    align="center",
                    wrap="wrap",
                    spacing="2",
                    id="macro-changes",
                ),
            ),
            rx.cond(
                TicketState.staged_labels.length() > 0,
                rx.hstack(
                    rx.foreach(
                        TicketState.staged_labels,
                        lambda label, index: rx.badge(
                            rx.icon("paperclip", size=12),
                            label,
                            rx.icon_button(
                                rx.icon("x", size=12),
                                size="1",
                                variant="ghost",
                                color_scheme="gray",
                                on_click=TicketState.remove_file(index),
                                aria_label="Remove this file",
                            ),
                            variant="soft",
                            color_scheme="gray",
                            class_name="staged-file",
                            max_width="100%",
                            overflow_wrap="anywhere",
                        ),
                    ),
                    wrap="wrap",
                    spacing="2",
                    id="staged-files",
                ),
            ),
            rx.cond(
                TicketState.uploading,
                rx.hstack(rx.spinner(size="1"), rx.text("Uploading…", size="1"), align="center"),
            ),
            rx.cond(
                TicketState.upload_error != "",
                rx.callout(
                    TicketState.upload_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    role="alert",
                    width="100%",
                    id="upload-error",
                ),
            ),
            spacing="2",
            width="100%",
        ),
    )


def _attach_button() -> rx.Component:
    settings = get_settings()
    return rx.upload.root(
        rx.button(
            rx.icon("paperclip", size=14),
            "Attach files",
            size="1",
            variant="soft",
            color_scheme="gray",
            type="button",
            id="attach-files",
        ),
        id=FILES_UPLOAD_ID,
        multiple=True,
        max_size=settings.attachment_max_bytes,
        max_files=settings.attachment_max_files,
        on_drop=TicketState.receive_files(rx.upload_files_chunk(upload_id=FILES_UPLOAD_ID)),
        # Only the count travels: File objects do not serialize into an event.
        on_drop_rejected=lambda rejected: TicketState.files_rejected(rejected.length()),
        title=attachments.limits_text(),
    )


# The composer's text in the browser, sent with Send (see `TicketState.send`); null when the
# composer is not on the page (the server then uses the draft it has).
COMPOSER_TEXT: Var[str] = Var(
    _js_expr="(document.getElementById('composer')?.value ?? null)", _var_type=str
)


def _free_text() -> rx.Component:
    """The reply or note as the agent writes it, its files and Send."""
    return rx.fragment(
        rx.text_area(
            value=TicketState.draft,
            on_change=TicketState.set_draft.debounce(300),
            # Clicking Send blurs first: the last keystrokes reach the server before the send.
            on_blur=TicketState.set_draft,
            placeholder=rx.cond(
                TicketState.internal,
                "Note for colleagues (never sent); @name tells them…",
                "Write your reply…",
            ),
            rows="5",
            width="100%",
            id="composer",
        ),
        _pending_changes(),
        rx.hstack(
            _attach_button(),
            rx.text(
                rx.cond(
                    TicketState.internal,
                    "Only staff will see this note.",
                    TicketState.reply_note,
                ),
                size="1",
                color_scheme="gray",
                id="reply-note",
            ),
            rx.cond(
                TicketState.chat_presence != "",
                rx.badge(TicketState.chat_presence, color_scheme="blue", id="chat-presence"),
            ),
            rx.spacer(),
            rx.cond(
                TicketState.has_draft,
                rx.button(
                    "Discard",
                    variant="soft",
                    color_scheme="gray",
                    on_click=TicketState.discard_draft,
                    id="discard-draft",
                ),
            ),
            rx.button(
                rx.cond(TicketState.internal, "Add internal note", "Send reply"),
                on_click=TicketState.send(COMPOSER_TEXT),
                disabled=~TicketState.can_send,
                color_scheme=rx.cond(TicketState.internal, "amber", "accent"),
                id="send",
            ),
            width="100%",
            align="center",
            wrap="wrap",
        ),
    )


def composer() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.segmented_control.root(
                rx.segmented_control.item("Reply to client", value="reply"),
                rx.segmented_control.item("Internal note", value="note"),
                value=rx.cond(TicketState.internal, "note", "reply"),
                on_change=lambda value: TicketState.set_internal(value == "note"),
            ),
            rx.spacer(),
            # Past WhatsApp's window a reply is a template: a macro's text could not be sent.
            rx.cond(
                ~TicketState.templates_only | TicketState.internal,
                rx.select(
                    TicketState.macro_titles,
                    placeholder="Apply a macro…",
                    on_change=TicketState.apply_macro,
                    value="",
                    size="2",
                    aria_label="Apply a macro",
                    id="macro-select",
                ),
            ),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        cc_field(),
        rx.cond(
            TicketState.templates_only & ~TicketState.internal,
            template_picker(),
            _free_text(),
        ),
        width="100%",
        padding="1rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        background=rx.cond(TicketState.internal, rx.color("amber", 2), "transparent"),
    )
