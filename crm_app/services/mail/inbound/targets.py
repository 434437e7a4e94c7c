"""Where the intake's mail goes: threading into existing tickets, the senders' clients (found or
created unverified), and the tickets a batch opens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session, col

from crm_app.services import assignment, bulk
from crm_app.services import sla as sla_service
from crm_app.services.mail.inbound.rows import (
    BatchResult,
    MailboxRef,
    _ClientRef,
    _NewTicket,
    _OpenedTicket,
    _Parsed,
    _sender,
)
from models.base import utcnow
from models.client import Client
from models.sla import SlaConfig
from models.ticket import (
    Channel,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from models.workspace import AssignmentSetting


class _Targets:
    """Thread each of the batch's wanted messages to a ticket, match or create the senders'
    clients, and open the new tickets (the first steps of `_Delivery`)."""

    def __init__(
        self,
        session: Session,
        mailbox: MailboxRef,
        wanted: list[_Parsed],
        result: BatchResult,
    ) -> None:
        self.session = session
        self.mailbox = mailbox
        self.wanted = wanted
        self.result = result
        # UID -> (ticket id, message id, what happened), for the inbound record.
        self.outcomes: dict[int, tuple[int, int, str]] = {}
        self.now = utcnow()

    # Which ticket each message goes to: an existing id, or a _NewTicket.
    def _targets(self) -> dict[int, int | _NewTicket]:
        session = self.session
        refs = {
            mid
            for item in self.wanted
            for mid in [item.parsed.in_reply_to, *item.parsed.references]
            if mid
        }
        by_message_id: dict[str, int | _NewTicket] = {}
        if refs:
            by_message_id.update(
                (mid, ticket_id)
                for ticket_id, mid in session.execute(
                    select(col(TicketMessage.ticket_id), col(TicketMessage.external_message_id))
                    .where(col(TicketMessage.external_message_id).in_(refs))
                    .order_by(col(TicketMessage.id))
                ).tuples()
            )
        numbers = {item.parsed.ticket_number for item in self.wanted} - {None}
        by_number: dict[int, int] = {}
        if numbers:
            by_number = dict(
                session.execute(
                    select(col(Ticket.number), col(Ticket.id)).where(
                        col(Ticket.number).in_(numbers)
                    )
                ).all()
            )
        known = {t for t in by_message_id.values() if isinstance(t, int)} | set(by_number.values())
        self.tickets = self._ticket_facts(known)
        targets: dict[int, int | _NewTicket] = {}
        for item in self.wanted:
            message, sender = item.parsed, _sender(item)
            target: int | _NewTicket | None = None
            for mid in [message.in_reply_to, *reversed(message.references)]:
                if mid and mid in by_message_id:
                    target = by_message_id[mid]
                    break
            if (
                target is None
                and message.ticket_number is not None
                and message.ticket_number in by_number
            ):
                candidate = by_number[message.ticket_number]
                if sender and sender in self.tickets.get(candidate, {}).get("emails", ()):
                    target = candidate
            if isinstance(target, int):
                target = self._live(target)
            if target is None:
                target = _NewTicket(item)
            targets[item.mail.uid] = target
            if message.message_id:
                by_message_id.setdefault(message.message_id, target)
        return targets

    def _ticket_facts(self, ids: set[int]) -> dict[int, dict[str, Any]]:
        """Status, merge target and the client's addresses of the tickets mail may go to."""
        facts: dict[int, dict[str, Any]] = {}
        pending = set(ids)
        for _ in range(5):  # merged tickets point on; a chain is short
            pending -= set(facts)
            if not pending:
                break
            for row in self.session.execute(
                select(
                    col(Ticket.id),
                    col(Ticket.status),
                    col(Ticket.merged_into_id),
                    col(Ticket.client_id),
                    col(Client.email),
                    col(Client.other_emails),
                )
                .outerjoin(Client, col(Client.id) == col(Ticket.client_id))
                .where(col(Ticket.id).in_(pending))
            ).all():
                emails = {(row.email or "").lower(), *(e.lower() for e in row.other_emails or [])}
                facts[row.id] = {
                    "status": row.status,
                    "merged_into": row.merged_into_id,
                    "client_id": row.client_id,
                    "emails": emails - {""},
                }
            pending = {f["merged_into"] for f in facts.values() if f["merged_into"]} - set(facts)
        return facts

    def _live(self, ticket_id: int) -> int | None:
        """Follow merges; a closed ticket takes no more mail (a new one opens)."""
        for _ in range(5):
            fact = self.tickets.get(ticket_id)
            if fact is None:
                return None
            if fact["merged_into"] is None:
                return None if fact["status"] == TicketStatus.CLOSED else ticket_id
            ticket_id = fact["merged_into"]
        return None

    def _clients(self, new: list[_NewTicket]) -> dict[str, _ClientRef]:
        """Sender address -> client, creating unverified clients for unknown senders (columns
        read and rows written set-wise: a batch meets hundreds of senders)."""
        emails = {_sender(t.item) for t in new} - {""}
        emails = {e for e in emails if "@" in e}
        found: dict[str, _ClientRef] = {}
        columns = (
            col(Client.id),
            col(Client.name),
            col(Client.email),
            col(Client.merged_into_id),
            col(Client.net_worth_reporting),
        )
        if emails:
            for row in self.session.execute(
                select(*columns)
                .where(
                    func.lower(col(Client.email)).in_(emails),
                    col(Client.deleted_at).is_(None),
                    col(Client.erased_at).is_(None),
                )
                .order_by(col(Client.verified).desc(), col(Client.id))
            ).all():
                found.setdefault((row.email or "").lower(), _ClientRef(*row._tuple()))
        merged = {c.merged_into_id for c in found.values() if c.merged_into_id}
        if merged:
            into = {
                row.id: _ClientRef(*row._tuple())
                for row in self.session.execute(
                    select(*columns).where(col(Client.id).in_(merged))
                ).all()
            }
            for email, client in list(found.items()):
                if client.merged_into_id in into:
                    found[email] = into[client.merged_into_id]
        self.created_clients: list[_ClientRef] = []
        rows: list[dict[str, Any]] = []
        wanted: list[str] = []
        for ticket in new:
            email = _sender(ticket.item)
            if email and "@" in email and email not in found and email not in wanted:
                sender = ticket.item.parsed.sender
                rows.append(
                    {
                        "name": ((sender.name if sender else "") or email.split("@", 1)[0])[:200],
                        "email": sender.email.strip()[:320] if sender else email,
                        "verified": False,
                        "created_at": self.now,
                        "updated_at": self.now,
                    }
                )
                wanted.append(email)
        if rows:
            table = Client.__table__  # type: ignore[attr-defined]  # SQLModel's metaclass sets it
            ids = self.session.scalars(
                sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
            )
            for email, values, client_id in zip(wanted, rows, ids, strict=True):
                client = _ClientRef(client_id, values["name"], values["email"], None, None)
                found[email] = client
                self.created_clients.append(client)
        return found

    def _open_tickets(
        self, targets: dict[int, int | _NewTicket], clients: dict[str, _ClientRef]
    ) -> list[_NewTicket]:
        session = self.session
        new = list(dict.fromkeys(t for t in targets.values() if isinstance(t, _NewTicket)))
        if not new:
            return []
        round_robin = session.execute(
            select(col(AssignmentSetting.round_robin_enabled)).where(col(AssignmentSetting.id) == 1)
        ).scalar_one_or_none()
        legacy = session.execute(
            select(SlaConfig).where(col(SlaConfig.priority) == TicketPriority.NORMAL)
        ).scalar_one_or_none()
        rows = []
        facts = []
        for target in new:
            message = target.item.parsed
            client = clients.get(_sender(target.item))
            row: dict[str, Any] = {
                "subject": " ".join((message.subject or "").split())[:300] or "(no subject)",
                "status": TicketStatus.NEW.value,
                "priority": TicketPriority.NORMAL.value,
                "channel": Channel.EMAIL.value,
                "client_id": client.id if client else None,
                "assignee_id": assignment.next_agent(session) if round_robin else None,
                "mailbox_id": self.mailbox.id,
                "cc_emails": target.cc,
                "is_unread": True,
                "created_at": self.now,
                "updated_at": self.now,
            }
            rows.append(row)
            facts.append(
                sla_service.NewTicketFacts(
                    client_id=row["client_id"],
                    net_worth_reporting=client.net_worth_reporting if client else None,
                    channel=row["channel"],
                    priority=row["priority"],
                    status=row["status"],
                    created_at=self.now,
                )
            )
        # The SLA clocks as `sla.on_ticket_event(created=True)` sets them, for the whole batch;
        # the ticket rows carry their due times and state from the start.
        clocks = sla_service.clocks_for_new_tickets(session, facts, self.now)
        for row, planned in zip(rows, clocks, strict=True):
            row.update(planned.ticket)
            if legacy is not None and row["first_response_due_at"] is None:
                # No policy gives a target: the built-in one (as `tickets.rows` does).
                row["first_response_due_at"] = self.now + timedelta(
                    minutes=legacy.first_response_minutes
                )
            if legacy is not None and row["resolution_due_at"] is None:
                row["resolution_due_at"] = self.now + timedelta(minutes=legacy.resolution_minutes)
        # Rows as plain values, not model instances: a batch opens hundreds of tickets.
        written = bulk.insert_rows(session, Ticket.__tablename__, rows, ("id", "number"))
        for target, row, (ticket_id, number) in zip(new, rows, written, strict=True):
            target.ticket = _OpenedTicket(ticket_id, number, row["subject"], row["assignee_id"])
        sla_service.write_new_ticket_clocks(
            session, clocks, [ticket_id for ticket_id, _ in written]
        )
        self.result.tickets_created += len(new)
        return new
