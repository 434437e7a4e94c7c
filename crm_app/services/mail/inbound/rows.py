"""The intake's rows: a fetched mail, its parse, the batch result, and the small records
the delivery passes between its steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from crm_app.services import events
from ingest.model import Message

LOOP_LIMIT = 10  # the same subject from the same sender this often...
LOOP_WINDOW = timedelta(minutes=10)  # ...within this long is a mail loop


@dataclass(frozen=True)
class FetchedMail:
    """One message as the server handed it over."""

    uid: int
    raw: bytes
    size: int | None = None  # RFC822.SIZE; None: len(raw)
    # Set when the message was not fetched (too large): it is recorded as failed with this.
    refused: str | None = None


@dataclass(frozen=True)
class MailboxRef:
    id: int
    name: str
    address: str


@dataclass
class BatchResult:
    imported: int = 0
    ignored: int = 0
    failed: int = 0
    duplicates: int = 0
    tickets_created: int = 0
    skipped: int = 0  # already recorded at this position (a replayed batch)
    events: list[events.Event] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        for name in ("imported", "ignored", "failed", "duplicates", "tickets_created", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.events.extend(other.events)


@dataclass
class _Parsed:
    mail: FetchedMail
    message: Message | None
    error: str | None
    key: str

    @property
    def parsed(self) -> Message:
        """The message of an item that parsed (every message the delivery gets did)."""
        assert self.message is not None
        return self.message


ParsedMail = _Parsed  # what `parse_batch` returns, for the poller's parse workers


def _sender(item: _Parsed) -> str:
    message = item.message
    return ((message.sender.email if message and message.sender else "") or "").lower()[:320]


@dataclass(frozen=True)
class _ClientRef:
    """The client columns the intake uses."""

    id: int
    name: str
    email: str | None
    merged_into_id: int | None
    net_worth_reporting: Any


@dataclass
class _OpenedTicket:
    id: int
    number: int
    subject: str
    assignee_id: int | None


@dataclass(frozen=True)
class _AckTicket:
    """The ticket columns `outbox.acknowledge` reads (no ORM load per new ticket)."""

    id: int
    number: int
    subject: str
    mailbox_id: int


class _NewTicket:
    """A ticket this batch opens (its row is written once the batch's clients exist)."""

    def __init__(self, item: _Parsed) -> None:
        self.item = item
        self.ticket: _OpenedTicket | None = None
        self.cc: list[str] = []  # the CC list it opens with (`_Delivery._copied`)

    @property
    def opened(self) -> _OpenedTicket:
        """The ticket row, once `_open_tickets` wrote it."""
        assert self.ticket is not None
        return self.ticket
