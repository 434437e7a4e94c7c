"""The delivery of a batch's wanted messages: ticket messages and their attachments, existing
tickets touched (reopened, SLA), acknowledgements, audit entries and events."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import col

from crm_app import routes
from crm_app.auth.permissions import SYSTEM
from crm_app.services import attachments, audit, bulk, events
from crm_app.services import sla as sla_service
from crm_app.services.mail import cc as mail_cc
from crm_app.services.mail import outbox
from crm_app.services.mail.inbound.rows import (
    _AckTicket,
    _ClientRef,
    _NewTicket,
    _sender,
)
from crm_app.services.mail.inbound.targets import _Targets
from crm_app.services.tickets.rows import MAX_BODY
from crm_app.settings import get_settings
from ingest.model import Message
from models.client import Client
from models.ticket import (
    Attachment,
    Channel,
    SenderKind,
    Ticket,
    TicketMessage,
    TicketStatus,
)

log = logging.getLogger(__name__)

MAX_ATTACHMENTS = 100  # per message; more are listed in the body, not stored
_REOPENED = (TicketStatus.PENDING.value, TicketStatus.RESOLVED.value)


class _Delivery(_Targets):
    """Thread, open tickets, add messages and attachments for the batch's wanted messages."""

    def run(self) -> dict[int, tuple[int, int, str]]:
        targets = self._targets()
        self._copied(targets)
        clients = self._clients([t for t in targets.values() if isinstance(t, _NewTicket)])
        new_tickets = self._open_tickets(targets, clients)
        self._messages(targets)
        rows = self.message_rows
        touched = {t for t in targets.values() if isinstance(t, int)}
        self._touch(touched)
        self._follow_up(new_tickets)
        self._audit_and_events(targets, rows, new_tickets, clients)
        return self.outcomes

    def _copied(self, targets: dict[int, int | _NewTicket]) -> None:
        """Who else each message went to (its Cc and To, never the firm's own addresses), and
        the addresses the CC list of its ticket gains: everyone copied, and the sender of a
        follow-up who is not the ticket's client, in the order the batch met them."""
        own = mail_cc.own_addresses(self.session)
        self.message_cc: dict[int, list[str]] = {}
        self.cc_added: dict[int, list[str]] = {}  # existing ticket id -> addresses to add
        for item in self.wanted:
            copied = mail_cc.copied_on(item.parsed, own)
            self.message_cc[item.mail.uid] = copied
            target = targets[item.mail.uid]
            sender = mail_cc.plain_address(_sender(item))
            added = copied if sender is None else [sender, *copied]
            if isinstance(target, _NewTicket):
                requester = {_sender(target.item)}
                target.cc = mail_cc.merged(target.cc, added, own | requester)
            else:
                requester = self.tickets.get(target, {}).get("emails", set())
                self.cc_added[target] = mail_cc.merged(
                    self.cc_added.get(target, []), added, own | requester
                )

    def _follow_up(self, new: list[_NewTicket]) -> None:
        """The mailbox's acknowledgement for each new ticket when it sends them, in the batch's
        transaction (never to a machine sender or a loop: `outbox.acknowledge` decides and says
        why). The SLA clocks were written with the tickets (`_open_tickets`)."""
        if not new:
            return
        probe = _AckTicket(0, 0, "", self.mailbox.id)
        mailbox = outbox.mailbox_for_ticket(self.session, probe)  # type: ignore[arg-type]
        if mailbox is None or not mailbox.send_acknowledgement:
            return  # the same answer for every ticket of the batch: asked once
        for target in new:
            assert target.ticket is not None
            opened = target.ticket
            ticket = _AckTicket(opened.id, opened.number, opened.subject, self.mailbox.id)
            skipped = outbox.acknowledge(self.session, ticket, target.item.message)  # type: ignore[arg-type]
            if skipped:
                log.debug("no acknowledgement for #%s: %s", opened.number, skipped)

    def _messages(self, targets: dict[int, int | _NewTicket]) -> None:
        """The ticket messages and their attachments (a few statements for the batch)."""
        limit = get_settings().attachment_max_bytes
        data_dir = get_settings().data_dir
        rows: list[dict[str, Any]] = []
        files: list[tuple[int, dict[str, Any]]] = []  # (index of the message, attachment)
        for index, item in enumerate(self.wanted):
            target = targets[item.mail.uid]
            message = item.parsed
            body_text, quoted = _texts(message)
            notes: list[str] = []
            for part in message.attachments:
                name = attachments.clean_filename(part.filename or _default_name(part.content_type))
                if part.location is None or not part.sha256:
                    if part.size > limit:
                        notes.append(
                            f"[“{name}” ({attachments.size_label(part.size)}) is larger than "
                            f"{attachments.size_label(limit)} and was not kept]"
                        )
                    elif part.error:
                        notes.append(f"[“{name}” could not be read: {part.error[:120]}]")
                    continue
                if sum(1 for i, _ in files if i == index) >= MAX_ATTACHMENTS:
                    notes.append(f"[“{name}” not kept: more than {MAX_ATTACHMENTS} attachments]")
                    continue
                path = attachments.blob_path(part.sha256).relative_to(data_dir).as_posix()
                files.append(
                    (
                        index,
                        {
                            "filename": name,
                            "content_type": (part.content_type or "application/octet-stream")[:255],
                            "size_bytes": part.size,
                            "sha256": part.sha256,
                            "storage_path": path,
                            "content_id": part.content_id[:255] if part.content_id else None,
                            "is_inline": bool(part.is_inline and part.content_id),
                            "created_at": self.now,
                        },
                    )
                )
            if notes:
                body_text = (body_text + "\n\n" + "\n".join(notes)).strip()[:MAX_BODY]
            rows.append(
                {
                    "ticket_id": target.opened.id if isinstance(target, _NewTicket) else target,
                    "sender_kind": SenderKind.CLIENT.value,
                    "author_id": None,
                    "body_text": body_text,
                    "quoted_text": quoted,
                    "body_html": message.html_body,
                    "is_internal": False,
                    "channel": Channel.EMAIL.value,
                    "external_message_id": message.message_id[:998] if message.message_id else None,
                    "in_reply_to": message.in_reply_to[:998] if message.in_reply_to else None,
                    "references": " ".join(message.references) or None,
                    "cc_emails": self.message_cc[item.mail.uid],
                    "created_at": self.now,
                }
            )
        ids = [
            found[0]
            for found in bulk.insert_rows(self.session, TicketMessage.__tablename__, rows, ("id",))
        ]
        for row, message_id in zip(rows, ids, strict=True):
            row["id"] = message_id
        self.message_rows = {item.mail.uid: rows[i] for i, item in enumerate(self.wanted)}
        if not files:
            return
        for index, attachment in files:
            attachment["message_id"] = ids[index]
        attachment_ids = [
            found[0]
            for found in bulk.insert_rows(
                self.session,
                Attachment.__tablename__,
                [attachment for _, attachment in files],
                ("id",),
            )
        ]
        rewritten: dict[int, str] = {}
        for (index, attachment), attachment_id in zip(files, attachment_ids, strict=True):
            html = rewritten.get(index, rows[index]["body_html"])
            if html and attachment["content_id"]:
                # Inline images: the sanitized HTML's cid: points at the stored file.
                rewritten[index] = re.sub(
                    r"(?i)cid:" + re.escape(attachment["content_id"]) + r"(?=[\"'\s>])",
                    routes.attachment(attachment_id),
                    html,
                )
        if rewritten:
            self.session.execute(
                sa.update(TicketMessage),
                [{"id": ids[index], "body_html": html} for index, html in rewritten.items()],
            )

    def _touch(self, ticket_ids: set[int]) -> None:
        """Existing tickets that got mail: news for the queue; pending/resolved reopen."""
        if not ticket_ids:
            return
        status_before = dict(
            self.session.execute(
                select(col(Ticket.id), col(Ticket.status)).where(col(Ticket.id).in_(ticket_ids))
            ).all()
        )
        reopen = col(Ticket.status).in_(_REOPENED)
        self.session.execute(
            sa.update(Ticket)
            .where(col(Ticket.id).in_(ticket_ids))
            .values(
                updated_at=self.now,
                version=col(Ticket.version) + 1,
                is_unread=True,
                status=sa.case((reopen, TicketStatus.OPEN.value), else_=col(Ticket.status)),
                resolved_at=sa.case((reopen, None), else_=col(Ticket.resolved_at)),
                mailbox_id=func.coalesce(col(Ticket.mailbox_id), self.mailbox.id),
            )
            .execution_options(synchronize_session=False)
        )
        # The client answered: the SLA engine starts the next-response clock, resumes what a
        # pending status paused and runs a reopened ticket's resolution again. One ticket at
        # a time: follow-ups to existing tickets are the smaller part of a batch.
        reloaded = self.session.scalars(
            select(Ticket)
            .where(col(Ticket.id).in_(ticket_ids))
            .order_by(col(Ticket.id))
            .execution_options(populate_existing=True)
        )
        for ticket in reloaded:
            # New people copied on the thread join its CC list (the client's mail added them).
            current = list(ticket.cc_emails or [])
            cc = mail_cc.merged(current, self.cc_added.get(ticket.id or 0, []), set())
            if cc != current:
                ticket.cc_emails = cc
            sla_service.on_ticket_event(
                self.session,
                ticket,
                self.now,
                status_before=status_before.get(ticket.id),
                message="client",
            )

    def _audit_and_events(
        self,
        targets: dict[int, int | _NewTicket],
        rows: dict[int, dict[str, Any]],
        new_tickets: list[_NewTicket],
        clients: dict[str, _ClientRef],
    ) -> None:
        session, mailbox = self.session, self.mailbox
        entries: list[tuple[str, str, int | None, dict[str, Any] | None]] = [
            (
                "client.created",
                "client",
                client.id,
                {"name": client.name, "email": client.email, "source": "email", "verified": False},
            )
            for client in self.created_clients
        ]
        opened = {id(t) for t in new_tickets}
        first_of: set[int] = set()
        names = self._client_names(targets, clients)
        for item in self.wanted:
            target, row = targets[item.mail.uid], rows[item.mail.uid]
            creates = (
                isinstance(target, _NewTicket)
                and id(target) in opened
                and (id(target) not in first_of)
            )
            ticket_id = target.opened.id if isinstance(target, _NewTicket) else target
            number = target.opened.number if isinstance(target, _NewTicket) else None
            subject = target.opened.subject if isinstance(target, _NewTicket) else ""
            details: dict[str, Any] = {
                "channel": Channel.EMAIL.value,
                "mailbox": mailbox.address,
                "from": _sender(item),
                "message_id": row["id"],
            }
            if row["cc_emails"]:
                details["cc"] = ", ".join(row["cc_emails"])
            if creates:
                first_of.add(id(target))
                assert isinstance(target, _NewTicket)
                ticket = target.opened
                details.update(number=number, subject=subject, assignee_id=ticket.assignee_id)
                if ticket.assignee_id is not None:
                    details["round_robin"] = True
                entries.append(("ticket.created", "ticket", ticket_id, details))
                event = events.Event(
                    "ticket.created",
                    actor=SYSTEM,
                    ticket_id=ticket_id,
                    number=number,
                    subject=subject,
                    payload={
                        "assignee_id": ticket.assignee_id,
                        "channel": Channel.EMAIL.value,
                        "message_id": row["id"],
                        "mailbox_id": mailbox.id,
                    },
                )
            else:
                entries.append(("ticket.message_added", "ticket", ticket_id, details))
                event = events.Event(
                    "message.added",
                    actor=SYSTEM,
                    ticket_id=ticket_id,
                    number=number,
                    subject=subject,
                    payload={
                        "message_id": row["id"],
                        "internal": False,
                        "from_client": True,
                        "body": row["body_text"],
                        "channel": Channel.EMAIL.value,
                        "client_name": names.get(ticket_id, ""),
                        "assignee_id": target.opened.assignee_id
                        if isinstance(target, _NewTicket)
                        else None,
                        "mailbox_id": mailbox.id,
                    },
                )
            self.result.events.append(event)
            self.outcomes[item.mail.uid] = (
                ticket_id,
                row["id"],
                "new ticket" if creates else "added to ticket",
            )
        audit.record_many(session, SYSTEM, entries)
        self.result.imported += len(self.wanted)
        self._fill_event_facts()
        # Their outbox rows (webhooks) commit with the batch, not after it.
        self.result.events[:] = [
            e if e.staged else events.stage(self.session, e) for e in self.result.events
        ]

    def _client_names(
        self, targets: dict[int, int | _NewTicket], clients: dict[str, _ClientRef]
    ) -> dict[int, str]:
        names: dict[int, str] = {}
        for target in targets.values():
            if isinstance(target, _NewTicket):
                client = clients.get(_sender(target.item))
                names[target.opened.id] = client.name if client else ""
        return names

    def _fill_event_facts(self) -> None:
        """Number, subject, assignee and client name of existing tickets, for the events."""
        ids = {e.ticket_id for e in self.result.events if e.number is None}
        if not ids:
            return
        facts = {
            row.id: row
            for row in self.session.execute(
                select(
                    col(Ticket.id),
                    col(Ticket.number),
                    col(Ticket.subject),
                    col(Ticket.assignee_id),
                    col(Client.name),
                )
                .outerjoin(Client, col(Client.id) == col(Ticket.client_id))
                .where(col(Ticket.id).in_(ids))
            ).all()
        }
        for index, event in enumerate(self.result.events):
            fact = facts.get(event.ticket_id)
            if event.number is None and fact is not None:
                payload = {**event.payload, "assignee_id": fact.assignee_id}
                payload["client_name"] = payload.get("client_name") or fact.name or ""
                self.result.events[index] = replace(
                    event, number=fact.number, subject=fact.subject, payload=payload
                )


def _texts(message: Message) -> tuple[str, str | None]:
    """The new text of the mail and what is folded away (quoted history, signature)."""
    full = (message.text_body or "").strip()
    reply = (message.reply_text or "").strip()
    if not reply or reply == full:
        return full[:MAX_BODY], None
    rest = full.replace(reply, "", 1).strip() if reply in full else full
    if message.signature and message.signature not in rest:
        rest = f"{message.signature}\n\n{rest}".strip()
    return reply[:MAX_BODY], (rest[:MAX_BODY] or None)


def _default_name(content_type: str) -> str:
    main, _, sub = (content_type or "application/octet-stream").partition("/")
    return f"{main or 'attachment'}.{sub or 'bin'}"
