"""One key per mail, equal whether it arrived by IMAP, in a PST or in an mbox."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from .headers import is_sane_message_id
from .model import Address, DateSource

_WS = re.compile(r"\s+")
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr)\s*:\s*)+", re.IGNORECASE)
_BODY_PREFIX_CHARS = 4000


def dedup_key(
    message_id: str | None,
    *,
    sender: Address | None,
    subject: str,
    date: datetime,
    date_source: DateSource,
    text_body: str,
) -> str:
    """`mid:<id>` when the Message-ID is sane, else `sha256:` over sender, subject, minute, body.

    The date only counts when it came from the mail itself (ingestion time differs per copy),
    and only to the minute, because PST submit times and Date headers round differently.
    """
    if message_id and is_sane_message_id(message_id):
        local, _, domain = message_id.strip().strip("<>").rpartition("@")
        return f"mid:{local}@{domain.lower()}"
    digest = hashlib.sha256()
    digest.update(((sender.email if sender else "") or "").lower().encode())
    digest.update(b"\x00")
    digest.update(_WS.sub(" ", _SUBJECT_PREFIX.sub("", subject or "")).strip().lower().encode())
    digest.update(b"\x00")
    if date_source is not DateSource.INGESTION:
        digest.update(date.strftime("%Y-%m-%dT%H:%M").encode())
    digest.update(b"\x00")
    body = _WS.sub(" ", (text_body or "")[:_BODY_PREFIX_CHARS]).strip()
    digest.update(body.encode("utf-8", "surrogatepass"))
    return f"sha256:{digest.hexdigest()}"
