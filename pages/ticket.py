"""One ticket: the conversation as a timeline, the reply/internal-note composer with macros
(drafts only: their status/priority go with the reply when it is sent) and attachments,
status/priority/assignee controls under optimistic locking, presence of other agents, the client
sidebar, merge, read/unread, the audit history, and live reload."""

from __future__ import annotations

import asyncio
import contextlib
import time

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Action, Actor
from crm_app.components import (
    confirm_dialog,
    empty_state,
    priority_badge,
    sla_badge,
    staff_picker,
    status_badge,
)
from crm_app.keyboard import ticket_shortcuts
from crm_app.layout import signed_in_page
from crm_app.services import attachments, live, macros, presence
from crm_app.services import tickets as ticket_service
from crm_app.services.attachments import AttachmentRow, StagedFile
from crm_app.services.errors import Conflict, InvalidInput, ServiceError
from crm_app.services.macros import MacroRow
from crm_app.services.presence import PresenceRow
from crm_app.services.tickets import ClientProfile, HistoryRow, MessageRow, TicketRow
from crm_app.settings import get_settings
from crm_app.state import AppState, service_event
from models.ticket import TicketPriority, TicketStatus
from pages.ai_panel import AiPanelState, ai_panel

LIVE_POLL_SECONDS = 3
LIVE_MAX_SECONDS = 4 * 3600
UNASSIGNED = "— unassigned —"
UNASSIGNED_ID = "none"  # the picker's value for "nobody"
FILES_UPLOAD_ID = "composer-files"


def route_number(params: dict) -> int:
    raw = str(params.get("number", "")).strip().lstrip("#")
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("That is not a ticket number.")
    return int(raw)


class TicketState(AppState):
    ticket: TicketRow | None = None
    messages: list[MessageRow] = []
    client: ClientProfile | None = None
    other_tickets: list[TicketRow] = []
    history: list[HistoryRow] = []
    merged_into: int = 0
    client_email: str = ""
    first_response_due_at: str = ""
    resolution_due_at: str = ""
    assignee_id: str = UNASSIGNED_ID  # the picker's value: a user id, or UNASSIGNED_ID
    not_found: str = ""
    conflict: str = ""
    draft: str = ""
    internal: bool = False
    macros: list[MacroRow] = []
    # What the chosen macro will set when the reply is sent (chips the agent can remove).
    macro_title: str = ""
    macro_status: str = ""
    macro_priority: str = ""
    staged_labels: list[str] = []  # "name (size)" of the files waiting for the send
    _staged: list[StagedFile] = []
    upload_error: str = ""
    uploading: bool = False
    staff: list[list[str]] = []  # [id, name] of everyone a ticket may be assigned to
    others_here: list[PresenceRow] = []
    merge_target: str = ""
    _number: int = 0
    _signature: str = ""
    _just_cleared: str = ""
    _live_running: bool = False

    @rx.var
    def presence_text(self) -> str:
        replying = [p.name for p in self.others_here if p.activity == "replying"]
        viewing = [p.name for p in self.others_here if p.activity != "replying"]
        parts = []
        if replying:
            parts.append(f"{', '.join(replying)} {'is' if len(replying) == 1 else 'are'} "
                         "replying to this ticket")
        if viewing:
            parts.append(f"{', '.join(viewing)} {'is' if len(viewing) == 1 else 'are'} "
                         "viewing this ticket")
        return " · ".join(parts)

    @rx.var
    def macro_titles(self) -> list[str]:
        return [m.title for m in self.macros]

    @rx.var
    def has_draft(self) -> bool:
        return bool(self.draft.strip() or self.staged_labels or self.macro_status
                    or self.macro_priority)

    @rx.var
    def can_send(self) -> bool:
        return bool(self.draft.strip() or self.staged_labels) and not self.uploading

    def _set_staged(self, staged: list[StagedFile]) -> None:
        self._staged = staged
        self.staged_labels = [f"{f.filename} ({attachments.size_label(f.size_bytes)})"
                              for f in staged]

    def _clear_draft(self) -> None:
        self._just_cleared = self.draft
        self.draft, self.macro_title, self.macro_status, self.macro_priority = "", "", "", ""
        self.upload_error = ""
        self._set_staged([])

    def _refresh(self) -> None:
        """Load the ticket as it is now (after a conflict, a live change or a save)."""
        actor = self.require_actor()
        detail = ticket_service.get_ticket(actor, self._number)
        self.ticket, self.messages = detail.ticket, detail.messages
        self.client, self.other_tickets = detail.client, detail.other_tickets
        self.history, self.merged_into = detail.history, detail.merged_into_number or 0
        self.client_email = detail.client_email
        self.first_response_due_at = detail.first_response_due_at
        self.resolution_due_at = detail.resolution_due_at
        self.assignee_id = str(detail.assignee_id) if detail.assignee_id else UNASSIGNED_ID
        self._signature = live.ticket_signature(actor, self._number)

    def _not_found(self, message: str) -> None:
        self.ticket, self.messages, self.not_found = None, [], message

    @service_event(on_error="_not_found")
    def load(self, actor: Actor):
        self.not_found, self.conflict, self.merge_target = "", "", ""
        self._clear_draft()
        self._number = route_number(self.router.page.params)
        self._refresh()
        self.macros = macros.list_macros(actor)
        self.staff = [[str(uid), name] for uid, name in ticket_service.staff_choices(actor)]
        self.others_here = presence.heartbeat(actor, self._number)
        return TicketState.live_loop

    def _save(self, actor: Actor, **change):
        """One field change, checked against the version this view shows."""
        if self.ticket is None:
            return None
        self.conflict = ""
        try:
            ticket_service.update_ticket(actor, self._number,
                                         expected_version=self.ticket.version, **change)
        except Conflict as error:
            # The callout says it (role=alert) above the refreshed view; no toast on top.
            self.conflict = error.message
            self._refresh()
            return None
        self._refresh()
        return rx.toast.success("Saved")

    @rx.event
    def leave(self):
        """The agent left the ticket page: drop their presence at once and stop polling."""
        number, self._number = self._number, 0
        actor = self.actor()
        if number and actor is not None:
            with contextlib.suppress(ServiceError):  # leaving never fails the navigation
                presence.leave(actor, number)

    @rx.event
    def dismiss_conflict(self):
        self.conflict = ""

    @service_event
    def change_status(self, actor: Actor, status: str):
        return self._save(actor, status=status)

    @service_event
    def change_priority(self, actor: Actor, priority: str):
        return self._save(actor, priority=priority)

    @service_event
    def change_assignee(self, actor: Actor, assignee_id: str):
        """`assignee_id`: a staff member's id from the picker, or UNASSIGNED_ID."""
        if assignee_id != UNASSIGNED_ID and not assignee_id.isdigit():
            raise InvalidInput("Choose someone from the list.")
        return self._save(actor, assignee_id=int(assignee_id) if assignee_id.isdigit() else None)

    @rx.event
    def set_draft(self, value: str):
        if not isinstance(value, str):
            return
        if not self.draft and value and value == self._just_cleared:
            return  # the composer's delayed echo of a text just sent or discarded
        self._just_cleared = ""
        self.draft = value

    @rx.event
    def set_internal(self, value: bool):
        self.internal = value

    @service_event
    def send(self, actor: Actor):
        """Send the reply or note with its files and the chosen macro's fields, all at once."""
        if self.ticket is None:
            return None
        changes = {"status": self.macro_status or None, "priority": self.macro_priority or None}
        try:
            ticket_service.add_message(
                actor, self._number, self.draft, internal=self.internal,
                files=self._staged, macro=self.macro_title,
                expected_version=self.ticket.version, **changes)
        except Conflict as error:
            # Nothing was written: the draft stays, the view shows what changed meanwhile.
            self.conflict = error.message
            self._refresh()
            return None
        self._clear_draft()
        self._refresh()
        return [rx.clear_selected_files(FILES_UPLOAD_ID),
                rx.toast.success("Internal note added" if self.internal else "Reply sent")]

    @rx.event
    def discard_draft(self):
        """Drop the draft: its text, files and the macro's pending changes (nothing is written)."""
        self._clear_draft()
        return rx.clear_selected_files(FILES_UPLOAD_ID)

    @service_event
    def apply_macro(self, actor: Actor, title: str):
        """Fill the composer from a macro; its status/priority wait for the send."""
        macro = next((m for m in self.macros if m.title == title), None)
        if macro is None or self.ticket is None:
            return None
        draft = macros.draft_from_macro(actor, macro.id, self._number)
        self.draft = draft.body if not self.draft.strip() else f"{self.draft}\n\n{draft.body}"
        self.macro_title = draft.title
        self.macro_status = draft.set_status if draft.set_status != self.ticket.status else ""
        self.macro_priority = (draft.set_priority
                               if draft.set_priority != self.ticket.priority else "")
        self.internal = False
        return rx.set_focus("composer")

    @rx.event
    def drop_macro_status(self):
        self.macro_status = ""

    @rx.event
    def drop_macro_priority(self):
        self.macro_priority = ""

    @rx.event
    def remove_file(self, index: int):
        if isinstance(index, int) and 0 <= index < len(self._staged):
            self._set_staged([f for i, f in enumerate(self._staged) if i != index])

    @rx.event
    def files_rejected(self, count: int):
        """The browser refused files over the limits (the server checks again on upload)."""
        what = "1 file" if count == 1 else f"{count} files"
        self.upload_error = f"Not attached ({what}): {attachments.limits_text()}"

    @rx.event(background=True)
    async def receive_files(self, chunks: rx.UploadChunkIterator):
        """Stream dropped files into the store. Permission is checked before the first chunk is
        read; an oversized file or one too many stops the upload at once."""
        async with self:
            actor, number, already = self.actor(), self._number, len(self._staged)
        sink = None
        try:
            sink = await asyncio.to_thread(attachments.start_upload, actor, number,
                                           already_staged=already)
            async for chunk in chunks:
                if not sink.staged and sink.receiving is None:
                    async with self:  # the first bytes of this upload: a fresh start
                        self.upload_error, self.uploading = "", True
                await asyncio.to_thread(sink.write, chunk.filename, chunk.offset,
                                        chunk.content_type, chunk.data)
            staged = await asyncio.to_thread(sink.finish)
        except ServiceError as error:
            if sink is not None:
                sink.abort()
            async with self:
                self.upload_error, self.uploading = error.message, False
            return
        async with self:
            self.uploading = False
            if self._number == number:
                self._set_staged([*self._staged, *staged])

    @service_event
    def toggle_unread(self, actor: Actor):
        if self.ticket is None:
            return None
        ticket_service.set_unread(actor, self._number, not self.ticket.is_unread)
        # Re-read without marking it read again (the agent just asked for unread).
        detail = ticket_service.get_ticket(actor, self._number, mark_read=False)
        self.ticket = detail.ticket
        return rx.toast.success("Marked unread" if detail.ticket.is_unread else "Marked read")

    @rx.event
    def set_merge_target(self, value: str):
        self.merge_target = value

    @service_event
    def merge(self, actor: Actor):
        target = self.merge_target.strip().lstrip("#")
        if not target.isdigit():
            return rx.toast.error("Enter the number of the ticket to merge into.",
                                  position="top-center")
        ticket_service.merge_tickets(actor, self._number, int(target))
        return [rx.redirect(routes.ticket(int(target))),
                rx.toast.success(f"Merged into #{target}")]

    @rx.event(background=True)
    async def live_loop(self):
        """Keep the view current and tell the others who is here: a heartbeat and a cheap
        version check every few seconds, through PostgreSQL so every worker agrees."""
        async with self:
            if self._live_running:
                return
            self._live_running = True
        started = time.monotonic()
        try:
            while time.monotonic() - started < LIVE_MAX_SECONDS:
                await asyncio.sleep(LIVE_POLL_SECONDS)
                async with self:
                    if (self.router.page.path != routes.TICKET or self.ticket is None
                            or not self._number):
                        return
                    number, seen = self._number, self._signature
                    activity = "replying" if self.draft.strip() else "viewing"
                actor = await asyncio.to_thread(self.live_actor)
                if actor is None:
                    return
                try:
                    others = await asyncio.to_thread(presence.heartbeat, actor, number, activity)
                    signature = await asyncio.to_thread(live.ticket_signature, actor, number)
                except ServiceError:
                    return
                changed = False
                async with self:
                    if self._number != number:
                        continue
                    self.others_here = others
                    if signature != seen:
                        self._refresh()
                        changed = True
                if changed:
                    yield AiPanelState.load  # the assistant follows the newest client message
        finally:
            async with self:
                self._live_running = False


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
        rx.hstack(rx.icon("paperclip", size=14), rx.text(item.filename, size="1"),
                  rx.text(item.size_label, size="1", color_scheme="gray"), spacing="1",
                  align="center"),
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


def _message(message: MessageRow) -> rx.Component:
    kind = rx.cond(message.is_internal, "note",
                   rx.cond(message.sender_kind == "client", "client",
                           rx.cond(message.sender_kind == "system", "system", "agent")))
    return rx.box(
        rx.hstack(
            rx.icon(rx.cond(message.is_internal, "lock",
                            rx.cond(message.sender_kind == "client", "user", "headset")),
                    size=16),
            rx.text(message.author_name, weight="bold", size="2"),
            rx.match(
                kind,
                ("note", rx.badge("internal note", color_scheme="amber", variant="solid")),
                ("client", rx.badge("client", color_scheme="gray")),
                ("system", rx.badge("system", color_scheme="gray", variant="outline")),
                rx.badge("agent reply", color_scheme="blue"),
            ),
            rx.badge(message.channel, variant="soft", color_scheme="gray"),
            rx.cond(message.logged_by != "", rx.text("logged by ", message.logged_by, " · ",
                    message.channel, size="1", color_scheme="gray", class_name="logged-by")),
            rx.cond(message.sentiment != "", _sentiment_badge(message.sentiment)),
            rx.spacer(),
            rx.text(message.created_at, size="1", color_scheme="gray"),
            align="center",
            width="100%",
        ),
        rx.text(message.body_text, white_space="pre-wrap", padding_top="0.5rem",
                # Long unbroken runs (URLs, IBANs) wrap inside the bubble.
                overflow_wrap="anywhere"),
        rx.cond(
            message.attachments.length() > 0,
            rx.hstack(rx.foreach(message.attachments, _attachment_link), wrap="wrap",
                      spacing="2", padding_top="0.5rem"),
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


def _chip(label: str, value: rx.Var[str], on_remove: rx.EventHandler,
          chip_id: str) -> rx.Component:
    return rx.badge(
        rx.text(label, " → ", rx.text.strong(value)),
        rx.icon_button(rx.icon("x", size=12), size="1", variant="ghost", color_scheme="gray",
                       on_click=on_remove, aria_label=f"Do not change the {label.lower()}"),
        variant="surface",
        size="2",
        id=chip_id,
        class_name="macro-chip",
    )


def _pending_changes() -> rx.Component:
    """What sending will also do: the macro's fields (removable) and the attached files."""
    return rx.cond(
        (TicketState.macro_status != "") | (TicketState.macro_priority != "")
        | (TicketState.staged_labels.length() > 0) | (TicketState.upload_error != "")
        | TicketState.uploading,
        rx.vstack(
            rx.cond(
                (TicketState.macro_status != "") | (TicketState.macro_priority != ""),
                rx.hstack(
                    rx.text("On send, “", TicketState.macro_title, "” also sets:", size="1",
                            color_scheme="gray"),
                    rx.cond(TicketState.macro_status != "",
                            _chip("Status", TicketState.macro_status,
                                  TicketState.drop_macro_status, "macro-status-chip")),
                    rx.cond(TicketState.macro_priority != "",
                            _chip("Priority", TicketState.macro_priority,
                                  TicketState.drop_macro_priority, "macro-priority-chip")),
                    align="center", wrap="wrap", spacing="2", id="macro-changes",
                ),
            ),
            rx.cond(
                TicketState.staged_labels.length() > 0,
                rx.hstack(
                    rx.foreach(TicketState.staged_labels, lambda label, index: rx.badge(
                        rx.icon("paperclip", size=12), label,
                        rx.icon_button(rx.icon("x", size=12), size="1", variant="ghost",
                                       color_scheme="gray",
                                       on_click=TicketState.remove_file(index),
                                       aria_label="Remove this file"),
                        variant="soft", color_scheme="gray", class_name="staged-file",
                        max_width="100%", overflow_wrap="anywhere")),
                    wrap="wrap", spacing="2", id="staged-files",
                ),
            ),
            rx.cond(TicketState.uploading,
                    rx.hstack(rx.spinner(size="1"), rx.text("Uploading…", size="1"),
                              align="center")),
            rx.cond(TicketState.upload_error != "",
                    rx.callout(TicketState.upload_error, icon="triangle-alert",
                               color_scheme="red", size="1", role="alert", width="100%",
                               id="upload-error")),
            spacing="2",
            width="100%",
        ),
    )


def _attach_button() -> rx.Component:
    settings = get_settings()
    return rx.upload.root(
        rx.button(rx.icon("paperclip", size=14), "Attach files", size="1", variant="soft",
                  color_scheme="gray", type="button", id="attach-files"),
        id=FILES_UPLOAD_ID,
        multiple=True,
        max_size=settings.attachment_max_bytes,
        max_files=settings.attachment_max_files,
        on_drop=TicketState.receive_files(rx.upload_files_chunk(upload_id=FILES_UPLOAD_ID)),
        # Only the count travels: File objects do not serialize into an event.
        on_drop_rejected=lambda rejected: TicketState.files_rejected(rejected.length()),
        title=attachments.limits_text(),
    )


def _composer() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.segmented_control.root(
                rx.segmented_control.item("Reply to client", value="reply"),
                rx.segmented_control.item("Internal note", value="note"),
                value=rx.cond(TicketState.internal, "note", "reply"),
                on_change=lambda value: TicketState.set_internal(value == "note"),
            ),
            rx.spacer(),
            rx.select(TicketState.macro_titles, placeholder="Apply a macro…",
                      on_change=TicketState.apply_macro, value="", size="2",
                      aria_label="Apply a macro", id="macro-select"),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        rx.text_area(
            value=TicketState.draft,
            on_change=TicketState.set_draft.debounce(300),
            # Clicking Send blurs first: the last keystrokes reach the server before the send.
            on_blur=TicketState.set_draft,
            placeholder=rx.cond(TicketState.internal,
                                "Note for colleagues (never sent); @name tells them…",
                                "Write your reply…"),
            rows="5",
            width="100%",
            id="composer",
        ),
        _pending_changes(),
        rx.hstack(
            _attach_button(),
            rx.text(rx.cond(TicketState.internal, "Only staff will see this note.",
                            "The client receives this reply."), size="1",
                    color_scheme="gray"),
            rx.spacer(),
            rx.cond(TicketState.has_draft,
                    rx.button("Discard", variant="soft", color_scheme="gray",
                              on_click=TicketState.discard_draft, id="discard-draft")),
            rx.button(
                rx.cond(TicketState.internal, "Add internal note", "Send reply"),
                on_click=TicketState.send,
                disabled=~TicketState.can_send,
                color_scheme=rx.cond(TicketState.internal, "amber", "accent"),
                id="send",
            ),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        width="100%",
        padding="1rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        background=rx.cond(TicketState.internal, rx.color("amber", 2), "transparent"),
    )


def _label(text: str) -> rx.Component:
    return rx.text(text, size="1", color_scheme="gray")


def _controls(ticket: TicketRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            _label("Status"),
            rx.select([s.value for s in TicketStatus], value=ticket.status,
                      on_change=TicketState.change_status, aria_label="Status",
                      id="status-select"),
            _label("Priority"),
            rx.select([p.value for p in TicketPriority], value=ticket.priority,
                      on_change=TicketState.change_priority, aria_label="Priority",
                      id="priority-select"),
            _label("Assignee"),
            staff_picker(TicketState.staff, value=TicketState.assignee_id,
                         on_change=TicketState.change_assignee, aria_label="Assignee",
                         id="assignee-select", none_value=UNASSIGNED_ID,
                         none_label=UNASSIGNED),
            rx.hstack(_label("SLA"), sla_badge(ticket.sla_state), align="center"),
            rx.text("First response due: ", TicketState.first_response_due_at, size="1"),
            rx.text("Resolution due: ", TicketState.resolution_due_at, size="1"),
            rx.hstack(
                rx.button(rx.cond(ticket.is_unread, "Mark read", "Mark unread"), size="1",
                          variant="soft", on_click=TicketState.toggle_unread, id="toggle-unread"),
                rx.text("version ", ticket.version, size="1", color_scheme="gray"),
                align="center",
                justify="between",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _client_card() -> rx.Component:
    client = TicketState.client
    return rx.card(
        rx.vstack(
            _label("Client"),
            rx.cond(
                client,
                rx.vstack(
                    rx.text(client.name, weight="bold"),
                    rx.text(client.email, size="2"),
                    rx.text(client.phone, size="2"),
                    rx.hstack(rx.badge(client.region, variant="soft"),
                              rx.badge("risk: ", client.risk_category, variant="outline")),
                    rx.cond(client.net_worth != "",
                            rx.text("Net worth: ", client.net_worth, size="2")),
                    spacing="1",
                ),
                rx.text("No client", color_scheme="gray"),
            ),
            rx.cond(
                TicketState.other_tickets.length() > 0,
                rx.vstack(
                    rx.divider(),
                    _label("Their other tickets"),
                    rx.foreach(TicketState.other_tickets, lambda t: rx.hstack(
                        rx.link("#", t.number, " ", t.subject,
                                href=routes.ticket(t.number), size="1"),
                        rx.spacer(), status_badge(t.status), width="100%", align="center")),
                    width="100%",
                    spacing="1",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _merge_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            _label("Merge this ticket into another (it closes, its messages move)"),
            rx.hstack(
                rx.input(placeholder="#number", value=TicketState.merge_target,
                         on_change=TicketState.set_merge_target, size="1", id="merge-target",
                         width="8rem"),
                confirm_dialog(
                    rx.button("Merge…", size="1", variant="soft", color_scheme="orange",
                              disabled=TicketState.merge_target == ""),
                    "Merge ticket",
                    "Move every message into #", TicketState.merge_target,
                    " and close this ticket? This cannot be undone.",
                    confirm_label="Merge", on_confirm=TicketState.merge,
                    color_scheme="orange", confirm_id="confirm-merge",
                ),
                align="center",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _history_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            _label("History"),
            rx.foreach(TicketState.history, lambda h: rx.vstack(
                rx.text(h.actor_name, " · ", h.action, size="1", weight="medium"),
                rx.cond(h.changes != "", rx.text(h.changes, size="1", color_scheme="gray")),
                rx.text(h.created_at, size="1", color_scheme="gray"),
                spacing="0",
            )),
            spacing="2",
            width="100%",
            max_height="20rem",
            overflow_y="auto",
        ),
        width="100%",
    )


def _ticket(ticket: TicketRow) -> rx.Component:
    return rx.hstack(
        ticket_shortcuts(on_reply=TicketState.set_internal(False),
                         on_note=TicketState.set_internal(True), on_send=TicketState.send),
        rx.vstack(
            rx.hstack(
                rx.link(rx.icon("arrow-left", size=16), "Queue", href=routes.TICKETS,
                        size="2"),
                rx.heading("#", ticket.number, " ", ticket.subject, size="5", id="ticket-title"),
                status_badge(ticket.status),
                priority_badge(ticket.priority),
                align="center",
                wrap="wrap",
            ),
            rx.cond(TicketState.merged_into > 0,
                    rx.callout(rx.hstack(rx.text("Merged into "),
                                         rx.link("#", TicketState.merged_into,
                                                 href=routes.ticket(TicketState.merged_into))),
                               icon="git-merge", color_scheme="gray", width="100%")),
            rx.cond(TicketState.presence_text != "",
                    rx.callout(TicketState.presence_text, icon="eye", color_scheme="blue",
                               width="100%", id="presence")),
            rx.cond(TicketState.conflict != "",
                    rx.callout(TicketState.conflict, icon="triangle-alert", color_scheme="red",
                               role="alert", width="100%", id="conflict")),
            rx.cond(TicketState.conflict != "",
                    rx.button("Dismiss", size="1", variant="ghost", color_scheme="gray",
                              on_click=TicketState.dismiss_conflict, id="dismiss-conflict")),
            rx.vstack(rx.foreach(TicketState.messages, _message), width="100%", spacing="3",
                      id="timeline"),
            _composer(),
            width="100%",
            # A flex item's min-width is its content's by default: without this, one long
            # unbroken line widens the column under the side panel.
            min_width="0",
            flex="1",
            spacing="3",
        ),
        # Keyboard shortcuts for this page: mount their component here.
        rx.vstack(
            _controls(ticket),
            # AI suggestion panel: add its component on the next line.
            ai_panel(),
            _client_card(),
            _merge_card(),
            _history_card(),
            width="20rem",
            flex_shrink="0",
            spacing="3",
            id="ticket-side",
        ),
        align="start",
        spacing="5",
        width="100%",
        on_unmount=TicketState.leave,
    )


@signed_in_page(routes.TICKET, "Ticket", Action.VIEW_TICKETS, on_load=[TicketState.load])
def ticket_page() -> rx.Component:
    return rx.cond(
        TicketState.ticket,
        _ticket(TicketState.ticket),
        rx.cond(
            TicketState.not_found != "",
            empty_state("search-x", "Ticket not found", TicketState.not_found),
            rx.spinner(),
        ),
    )
