"""The limits archives share and the frozen rows handed to pages and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Session-level advisory lock key space for "this archive is being read by a live worker".
ARCHIVE_LOCK_CLASS = 7_242_016
ARCHIVE_SUFFIXES = (".pst", ".ost", ".mbox", ".mbx", ".mbs", ".eml")
MAX_BODY_CHARS = 200_000
MAX_ANSWER_CHARS = 4_000
MAX_SOURCE_REF = 300


@dataclass(frozen=True)
class ArchiveRow:
    id: int
    label: str
    file_name: str
    source: str
    confidentiality: str
    client_id: int | None
    client_name: str
    owner_name: str
    status: str
    cancel_requested: bool
    messages: int
    duplicates: int
    attachments: int
    skipped: int
    errors: int
    bytes_total: int
    bytes_done: int
    progress_percent: int
    eta_seconds: int | None
    eta_text: str
    error: str
    created_at: str
    finished_at: str


@dataclass(frozen=True)
class ItemErrorRow:
    position: int | None
    folder: str
    message: str
    fatal: bool


@dataclass(frozen=True)
class ArchivedMessageView:
    document_id: int
    subject: str
    sender: str
    recipients: str
    cc: str
    date: str
    message_id: str
    in_reply_to: str
    folder: str
    archive_labels: list[str]
    body: str
    attachments: list[dict[str, Any]]


@dataclass(frozen=True)
class CorrespondenceRow:
    document_id: int
    subject: str
    sender: str
    date: str
    snippet: str
    link: str
