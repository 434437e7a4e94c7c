"""The ticket page's state: the ticket as it is now, the draft (text, files, a macro's
pending changes), field changes under optimistic locking, presence and live reload."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import reflex as rx

from crm_app import routes
from crm_app.auth.permissions import Actor
from crm_app.services import attachments, channels, live, macros, presence
from crm_app.services import tickets as ticket_service
from crm_app.services.attachments import StagedFile
from crm_app.services.errors import Conflict, InvalidInput, ServiceError
from crm_app.services.macros import MacroRow
from crm_app.services.mail import cc as mail_cc
from crm_app.services.mail import outbox
from crm_app.services.messaging import template_messages, web_chat
from crm_app.services.portal.csat import RatingRow, rating_for_ticket
from crm_app.services.presence import PresenceRow
from crm_app.services.tickets import ClientProfile, HistoryRow, MessageRow, TicketRow
from crm_app.state import AppState, service_event
from pages.ai_panel import AiPanelState
from pages.ticket.template_state import TemplatePicker

LIVE_POLL_SECONDS = 3
LIVE_MAX_SECONDS = 4 * 3600
UNASSIGNED = "— unassigned —"
UNASSIGNED_ID = "none"  # the picker's value for "nobody"
FILES_UPLOAD_ID = "composer-files"
CC_INPUT_ID = "cc-input"


def route_number(params: dict) -> int:
    raw = str(params.get("number", "")).strip().lstrip("#")
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("That is not a ticket number.")
    return int(raw)


class TicketState(TemplatePicker, AppState):
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
    macro_tags: list[str] = []
    tag_suggestions: list[str] = []
    staged_labels: list[str] = []  # "name (size)" of the files waiting for the send
    _staged: list[StagedFile] = []
    upload_error: str = ""
    uploading: bool = False
    staff: list[list[str]] = []  # [id, name] of everyone a ticket may be assigned to
    others_here: list[PresenceRow] = []
    csat: RatingRow | None = None  # the client's satisfaction rating, once they gave one
    merge_target: str = ""
    reply_note: str = ""  # what happens to a reply on this ticket's channel
    cc_emails: list[str] = []  # the ticket's CC list as stored
    cc_draft: list[str] = []  # the reply's Cc as the agent edits it in the composer
    cc_error: str = ""  # why what was typed into the Cc field is not an address
    chat_presence: str = ""  # a web chat's visitor: on the page, typing, or gone
    _number: int = 0
    _signature: str = ""
    _just_cleared: str = ""
    # The draft's key, kept with the tab's state from the first keystroke: a send retried
    # after a worker died past the commit carries it again and is not saved twice.
    _reply_key: str = ""
    _live_running: bool = False
    _cc_edited: bool = False  # the agent changed the Cc: the send sets the ticket's list

    @rx.var
    def presence_text(self) -> str:
        replying = [p.name for p in self.others_here if p.activity == "replying"]
        viewing = [p.name for p in self.others_here if p.activity != "replying"]
        parts = []
        if replying:
            parts.append(
                f"{', '.join(replying)} {'is' if len(replying) == 1 else 'are'} "
                "replying to this ticket"
            )
        if viewing:
            parts.append(
                f"{', '.join(viewing)} {'is' if len(viewing) == 1 else 'are'} viewing this ticket"
            )
        return " · ".join(parts)

    @rx.var
    def shows_cc(self) -> bool:
        """An email ticket: the reply goes out by mail, so the composer shows its To and Cc."""
        return self.ticket is not None and self.ticket.channel == "email"

    @rx.var
    def macro_titles(self) -> list[str]:
        return [m.title for m in self.macros]

    @rx.var
    def has_draft(self) -> bool:
        return bool(
            self.draft.strip()
            or self.staged_labels
            or self.macro_status
            or self.macro_priority
            or self.macro_tags
        )

    @rx.var
    def can_send(self) -> bool:
        return bool(self.draft.strip() or self.staged_labels) and not self.uploading

    def _set_staged(self, staged: list[StagedFile]) -> None:
        self._staged = staged
        self.staged_labels = [
            f"{f.filename} ({attachments.size_label(f.size_bytes)})" for f in staged
        ]

    def _clear_draft(self) -> None:
        self._just_cleared = self.draft
        self.draft, self.macro_title, self.macro_status, self.macro_priority = "", "", "", ""
        self.macro_tags = []
        self._reply_key = ""
        self.upload_error = ""
        self._set_staged([])
        self.cc_draft, self.cc_error, self._cc_edited = list(self.cc_emails), "", False

    def _refresh(self) -> None:
        """Load the ticket as it is now (after a conflict, a live change or a save)."""
        actor = self.require_actor()
        ticket_service.mark_read(actor, self._number)  # opening it, or seeing it live, reads it
        detail = ticket_service.get_ticket(actor, self._number)
        self.ticket, self.messages = detail.ticket, detail.messages
        self.client, self.other_tickets = detail.client, detail.other_tickets
        self.history, self.merged_into = detail.history, detail.merged_into_number or 0
        self.client_email = detail.client_email
        self.cc_emails = detail.cc_emails
        if not self._cc_edited:  # a CC added by the client's mail shows; the agent's edit stays
            self.cc_draft = list(detail.cc_emails)
        self.reply_note = channels.reply_note(detail.ticket.channel, detail.ticket.number)
        self.chat_presence = web_chat.presence_text(actor, detail.ticket.number)
        offer = (
            template_messages.composer_templates(actor, detail.ticket.number)
            if detail.ticket.channel == "whatsapp"
            else None
        )
        self.templates_only = offer is not None and offer.templates_only
        self.wa_templates = offer.templates if offer is not None else []
        self.first_response_due_at = detail.first_response_due_at
        self.resolution_due_at = detail.resolution_due_at
        self.assignee_id = str(detail.assignee_id) if detail.assignee_id else UNASSIGNED_ID
        self.csat = rating_for_ticket(actor, self._number)
        self._signature = live.ticket_signature(actor, self._number)

    def _not_found(self, message: str) -> None:
        self.ticket, self.messages, self.not_found = None, [], message

    @service_event(on_error="_not_found")
    def load(self, actor: Actor):
        self.not_found, self.conflict, self.merge_target = "", "", ""
        self.tag_suggestions = []
        self._clear_draft()
        self._clear_template()
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
            ticket_service.update_ticket(
                actor, self._number, expected_version=self.ticket.version, **change
            )
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

    @service_event
    def add_tag(self, actor: Actor, form: dict):
        """The tag typed in the sidebar's tag field (a form: Enter adds it)."""
        if self.ticket is None:
            return None
        tag = ticket_service.clean_tag(str((form or {}).get("tag", "")))
        self.tag_suggestions = []
        if tag in self.ticket.tags:
            return None
        return self._save(actor, tags=[*self.ticket.tags, tag])

    @service_event
    def remove_tag(self, actor: Actor, tag: str):
        if self.ticket is None or tag not in self.ticket.tags:
            return None
        return self._save(actor, tags=[t for t in self.ticket.tags if t != tag])

    @service_event
    def set_tag_input(self, actor: Actor, value: str):
        """Suggest tags in use as the agent types (the browser's list shows them). The field
        itself is the browser's (the form clears it on Enter): no echo can refill it."""
        self.tag_suggestions = ticket_service.suggest_tags(actor, value) if value.strip() else []

    @rx.event
    def set_draft(self, value: str):
        self._take_draft(value)

    def _take_draft(self, value: object) -> None:
        if not isinstance(value, str):
            return
        if not self.draft and value and value == self._just_cleared:
            return  # the composer's delayed echo of a text just sent or discarded
        self._just_cleared = ""
        self.draft = value
        if value and not self._reply_key:
            self._reply_key = uuid.uuid4().hex

    @rx.event
    def set_internal(self, value: bool):
        self.internal = value

    @service_event
    def send(self, actor: Actor, text: str | None = None):
        """Send the reply or note with its files and the chosen macro's fields, all at once.

        `text` is the composer's text as the browser held it when Send was pressed: the
        composer's own update (debounced, or on blur) may reach the server after this event
        when the worker is busy, and the reply must be what the agent saw, last keystrokes
        included. Without it (an older page), the draft as last received is sent."""
        if self.ticket is None:
            return None
        self._take_draft(text)
        changes = {"status": self.macro_status or None, "priority": self.macro_priority or None}
        replies_by_mail = self.shows_cc and not self.internal
        if replies_by_mail and self.cc_error:
            raise InvalidInput(f"Check the Cc first: {self.cc_error}")
        self._reply_key = self._reply_key or uuid.uuid4().hex
        try:
            row = ticket_service.add_message(
                actor,
                self._number,
                self.draft,
                internal=self.internal,
                files=self._staged,
                add_tags=self.macro_tags,
                macro=self.macro_title,
                expected_version=self.ticket.version,
                request_key=self._reply_key,
                cc=list(self.cc_draft) if replies_by_mail and self._cc_edited else None,
                **changes,
            )
        except Conflict as error:
            # Nothing was written: the draft stays, the view shows what changed meanwhile.
            self.conflict = error.message
            self._refresh()
            return None
        self._clear_draft()
        self._refresh()
        if self.internal:
            said = "Internal note added"
        elif row.delivery_status:
            said = f"Reply queued: it goes out by {channels.label(self.ticket.channel)} in a moment"
        else:
            said = "Reply " + self.reply_note[0].lower() + self.reply_note[1:]
        return [rx.clear_selected_files(FILES_UPLOAD_ID), rx.toast.success(said)]

    def _take_cc(self, actor: Actor, typed: object):
        """Addresses typed into the Cc field join the reply's Cc, checked as the send checks
        them; a refused entry stays in the field with the reason beside it."""
        if not isinstance(typed, str):
            raise InvalidInput("The Cc address was not understood.")
        if not typed.strip():
            self.cc_error = ""
            return None
        try:
            addresses = ticket_service.check_cc(actor, typed)
        except InvalidInput as error:
            self.cc_error = error.message
            return None
        draft = mail_cc.merged(self.cc_draft, addresses, set())
        if len(draft) < len(set(self.cc_draft) | set(addresses)):
            self.cc_error = f"At most {mail_cc.MAX_CC} people can be copied on a ticket."
            return None
        self.cc_draft, self.cc_error, self._cc_edited = draft, "", True
        return rx.set_value(CC_INPUT_ID, "")

    @service_event
    def add_cc(self, actor: Actor, form: dict):
        """Enter in the Cc field (a form): the typed addresses join the Cc."""
        return self._take_cc(actor, (form or {}).get("cc", ""))

    @service_event
    def commit_cc(self, actor: Actor, typed: str):
        """Leaving the Cc field: what was typed there joins the Cc, as Enter would."""
        return self._take_cc(actor, typed)

    @rx.event
    def remove_cc(self, address: str):
        if isinstance(address, str) and address in self.cc_draft:
            self.cc_draft = [a for a in self.cc_draft if a != address]
            self._cc_edited = True

    @service_event
    def retry_delivery(self, actor: Actor, message_id: int):
        """Send a reply whose delivery failed again (the service checks the permission)."""
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise InvalidInput("That is not a message.")
        outbox.retry(actor, message_id)
        self._refresh()
        return rx.toast.success("Sending again")

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
        self.macro_priority = (
            draft.set_priority if draft.set_priority != self.ticket.priority else ""
        )
        self.macro_tags = [t for t in draft.add_tags if t not in self.ticket.tags]
        self.internal = False
        return rx.set_focus("composer")

    @rx.event
    def drop_macro_status(self):
        self.macro_status = ""

    @rx.event
    def drop_macro_priority(self):
        self.macro_priority = ""

    @rx.event
    def drop_macro_tag(self, tag: str):
        self.macro_tags = [t for t in self.macro_tags if t != tag]

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
            sink = await asyncio.to_thread(
                attachments.start_upload, actor, number, already_staged=already
            )
            async for chunk in chunks:
                if not sink.staged and sink.receiving is None:
                    async with self:  # the first bytes of this upload: a fresh start
                        self.upload_error, self.uploading = "", True
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
            if self._number == number:
                self._set_staged([*self._staged, *staged])

    @service_event
    def toggle_unread(self, actor: Actor):
        if self.ticket is None:
            return None
        ticket_service.set_unread(actor, self._number, not self.ticket.is_unread)
        # Re-read without marking it read again (the agent just asked for unread).
        detail = ticket_service.get_ticket(actor, self._number)  # reads, never marks read
        self.ticket = detail.ticket
        return rx.toast.success("Marked unread" if detail.ticket.is_unread else "Marked read")

    @rx.event
    def set_merge_target(self, value: str):
        self.merge_target = value

    @service_event
    def merge(self, actor: Actor):
        target = self.merge_target.strip().lstrip("#")
        if not target.isdigit():
            return rx.toast.error(
                "Enter the number of the ticket to merge into.", position="top-center"
            )
        ticket_service.merge_tickets(actor, self._number, int(target))
        return [rx.redirect(routes.ticket(int(target))), rx.toast.success(f"Merged into #{target}")]

    def _live_tick(self, number: int, activity: str) -> tuple[list[PresenceRow], str, str] | None:
        """The live loop's check, in a thread: who else is here (telling them we are), the
        ticket's signature and the chat's presence; None when the session has ended."""
        actor = self.live_actor()
        if actor is None:
            return None
        others = presence.heartbeat(actor, number, activity)
        return others, live.ticket_signature(actor, number), web_chat.presence_text(actor, number)

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
                    if (
                        self.router.page.path != routes.TICKET
                        or self.ticket is None
                        or not self._number
                    ):
                        return
                    number, seen = self._number, self._signature
                    activity = "replying" if self.draft.strip() else "viewing"
                try:  # one trip to a thread for the session check and the three reads
                    tick = await asyncio.to_thread(self._live_tick, number, activity)
                except ServiceError:
                    return
                if tick is None:
                    return
                others, signature, chat_presence = tick
                changed = False
                async with self:
                    if self._number != number:
                        continue
                    # Written only when they moved: an unchanged write is a state write and a
                    # delta to the browser every few seconds for nothing.
                    if others != list(self.others_here):
                        self.others_here = others
                    if chat_presence != self.chat_presence:
                        self.chat_presence = chat_presence
                    if signature != seen:
                        # Ten reads: in a thread, so the worker's other tabs go on meanwhile.
                        await asyncio.to_thread(self._refresh)
                        changed = True
                if changed:
                    yield AiPanelState.load  # the assistant follows the newest client message
        finally:
            async with self:
                self._live_running = False
