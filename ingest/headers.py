"""Header decoding: RFC 2047 words, 8-bit headers, addresses, thread ids and dates."""

from __future__ import annotations

import email.header
import email.utils
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from .charsets import decode_surrogate_escaped, decode_text
from .model import Address

_MSGID_RE = re.compile(r"<([^<>\s]{1,995})>")
_SANE_MSGID_RE = re.compile(r"^[^<>\s@]{1,500}@[^<>\s@]{1,400}$")
_TICKET_RE = re.compile(r"\[(?:ticket)?\s*#\s*(\d{1,12})\]", re.IGNORECASE)
_WS_RE = re.compile(r"\s+")
_EARLIEST_DATE = datetime(1980, 1, 1, tzinfo=UTC)
_FUTURE_SLACK = timedelta(days=2)


def decode_header_value(value: object) -> str:
    """Decode one header value to text: RFC 2047 encoded words, raw 8-bit bytes, folding."""
    if value is None:
        return ""
    text = header_text(value)
    if not text.isascii():
        text = decode_surrogate_escaped(text)
    if "=?" in text:
        text = _decode_encoded_words(text)
    return _WS_RE.sub(" ", text.replace("\r", "").replace("\n", "")).strip()


def header_text(value: object) -> str:
    """A raw header value as str; 8-bit bytes the email package wrapped in a Header decoded."""
    if not isinstance(value, email.header.Header):
        return str(value)
    try:
        parts = email.header.decode_header(value)
    except Exception:
        return str(value)
    return "".join(
        decode_text(chunk, charset)[0] if isinstance(chunk, bytes) else chunk
        for chunk, charset in parts
    )


def _decode_encoded_words(text: str) -> str:
    try:
        parts = email.header.decode_header(text)
    except Exception:  # malformed encoded word: keep the raw text rather than lose the header
        return text
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        elif charset is None:
            out.append(chunk.decode("raw-unicode-escape", errors="replace"))
        else:
            out.append(decode_text(chunk, charset)[0])
    return "".join(out)


def parse_addresses(values: Iterable[object]) -> list[Address]:
    """Addresses from raw header values, display names decoded; junk entries dropped."""
    texts = []
    for value in values:
        if value is None:
            continue
        text = header_text(value)
        if not text.isascii():
            text = decode_surrogate_escaped(text)
        texts.append(text.replace("\r", "").replace("\n", " "))
    if not texts:
        return []
    try:
        pairs = email.utils.getaddresses(texts)
    except Exception:  # getaddresses can trip on pathological input
        return []
    result = []
    for name, addr in pairs:
        addr = addr.strip().strip("<>").strip()
        name = decode_header_value(name).strip().strip('"').strip()
        if not addr and not name:
            continue
        if addr and "@" not in addr and not name:
            # "undisclosed-recipients:;" style groups and bare words are not mailboxes.
            continue
        result.append(Address(email=addr, name=name if name != addr else ""))
    return result


def normalize_message_id(value: object) -> str | None:
    """The first `<id>` in a Message-ID / In-Reply-To value, with its brackets."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    match = _MSGID_RE.search(text)
    if match:
        return f"<{match.group(1)}>"
    token = text.split()[0] if text.split() else ""
    if 0 < len(token) <= 995 and not token.isspace() and token.isascii():
        return f"<{token.strip('<>')}>"
    return None


def parse_references(value: object) -> list[str]:
    if value is None:
        return []
    seen: dict[str, None] = {}
    for match in _MSGID_RE.finditer(str(value)):
        seen.setdefault(f"<{match.group(1)}>", None)
    return list(seen)


def is_sane_message_id(message_id: str | None) -> bool:
    """A Message-ID good enough to deduplicate on: `<local@domain>`, printable, bounded."""
    if not message_id:
        return False
    inner = message_id.strip()[1:-1] if message_id.startswith("<") else message_id
    return bool(_SANE_MSGID_RE.match(inner)) and inner.isascii() and inner.isprintable()


def ticket_number(subject: str) -> int | None:
    match = _TICKET_RE.search(subject or "")
    return int(match.group(1)) if match else None


def parse_date(value: object, *, now: datetime | None = None) -> datetime | None:
    """An RFC 5322 date as aware UTC, or None when missing, broken or implausible."""
    if value is None:
        return None
    text = decode_header_value(value)
    if not text:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # "-0000" / missing zone: RFC 5322 says UTC
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    limit = (now or datetime.now(UTC)) + _FUTURE_SLACK
    if parsed < _EARLIEST_DATE or parsed > limit:
        return None
    return parsed


def date_from_received(values: Iterable[object], *, now: datetime | None = None) -> datetime | None:
    """The time the nearest hop stamped in its Received header (the date after the last ';')."""
    for value in values:
        text = str(value)
        if ";" not in text:
            continue
        parsed = parse_date(text.rsplit(";", 1)[1], now=now)
        if parsed is not None:
            return parsed
    return None
