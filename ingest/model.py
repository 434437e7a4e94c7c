"""The normalized shapes every mail source is turned into.

One `Message` shape for MIME, mbox, EML and PST alike; `NonMailItem` for calendar items,
contacts and the like found in archives; `ItemError` for anything skipped, so a walk over an
archive reports what it could not read instead of stopping.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class DateSource(enum.StrEnum):
    """Where a message's `date` came from, best first."""

    HEADER = "header"
    RECEIVED = "received"
    PST_SUBMIT_TIME = "pst_submit_time"
    PST_DELIVERY_TIME = "pst_delivery_time"
    PST_CREATION_TIME = "pst_creation_time"
    INGESTION = "ingestion"


class SourceKind(enum.StrEnum):
    MIME = "mime"
    EML = "eml"
    MBOX = "mbox"
    PST = "pst"


@dataclass(frozen=True)
class Address:
    """A mailbox with its display name (decoded); `email` may be empty for X.500-only senders."""

    email: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class Automation:
    """Why a message was recognized as machine-generated (so the CRM never answers it)."""

    kind: str  # "auto_reply", "bounce", "delivery_report", "bulk"
    reason: str  # the header or rule that decided, e.g. "Auto-Submitted: auto-replied"


@dataclass
class Attachment:
    """One attachment; its bytes went to an `AttachmentSink`, only metadata stays here."""

    filename: str | None
    content_type: str
    size: int
    sha256: str
    content_id: str | None = None
    is_inline: bool = False
    location: str | None = None  # where the sink stored the bytes, if it stored them
    embedded_message: Message | None = None  # a message/rfc822 or PST embedded message
    error: str | None = None  # the part could not be decoded completely


@dataclass
class Provenance:
    """Where an item was found."""

    source: str  # file path or mailbox name
    kind: SourceKind
    folder: str | None = None  # PST folder path or mailbox folder
    position: int | None = None  # index of the message inside an mbox / PST folder


@dataclass
class Message:
    """One mail, normalized."""

    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    subject: str
    ticket_number: int | None
    sender: Address | None
    to: list[Address]
    cc: list[Address]
    reply_to: list[Address]
    date: datetime  # timezone-aware, UTC
    date_source: DateSource
    text_body: str  # text/plain, else the HTML turned into readable text; full, quotes included
    html_body: str | None  # sanitized for display; None when the mail had no HTML
    reply_text: str  # the new text of a reply, without quoted history and signature
    signature: str | None
    attachments: list[Attachment]
    automation: Automation | None
    dedup_key: str
    provenance: Provenance
    item_class: str | None = None  # PST message class, e.g. "IPM.Note"
    transport_headers: str | None = None
    defects: list[str] = field(default_factory=list)  # tolerated damage, e.g. broken boundary

    @property
    def is_automated(self) -> bool:
        return self.automation is not None

    @property
    def participants(self) -> list[Address]:
        people = [self.sender] if self.sender else []
        return people + self.to + self.cc


@dataclass
class NonMailItem:
    """A calendar item, contact, task, note... found in an archive: recognized, not mail."""

    kind: str  # "calendar", "contact", "task", "note", "journal", "distribution_list", "other"
    item_class: str | None
    title: str
    body_text: str
    provenance: Provenance
    created: datetime | None = None
    modified: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ItemError:
    """Something that could not be read; the walk went on without it."""

    message: str
    provenance: Provenance
    fatal_for_file: bool = False  # the whole rest of the file was lost (crash, wrong format)


IngestRecord = Message | NonMailItem | ItemError
