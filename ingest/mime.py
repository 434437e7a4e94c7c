"""RFC 5322 / MIME bytes -> `Message`.

Parses with the email package's compat32 policy: it tolerates the broken mail real archives
hold (and is several times faster than `policy.default`); decoding of headers, charsets and
RFC 2231 parameters is done here, with fallbacks for mislabelled text.
"""

from __future__ import annotations

import binascii
import email
import email.errors
import email.generator
import email.message
import io
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .attachments import BLOCK_SIZE, AttachmentSink, DiscardSink, HashingWriter
from .automation import detect_automation
from .charsets import decode_text
from .errors import IngestError
from .headers import (
    date_from_received,
    decode_header_value,
    normalize_message_id,
    parse_addresses,
    parse_date,
    parse_references,
)
from .html import html_to_text
from .model import Attachment, DateSource, Message, Provenance, SourceKind
from .normalize import build_message

MAX_NESTING = 8  # message/rfc822 inside message/rfc822...: deeper ones are kept as files
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_BASE64_JUNK = bytes(sorted(set(range(256)) - set(_BASE64_ALPHABET)))  # bytes.translate deletes
# A base64 body at least this long is lifted out of the bytes before the email package parses
# them, see `_parse_bytes`.
_STASH_MIN_BYTES = 16 * 1024
_BASE64_HEADER = re.compile(rb"(?im)^content-transfer-encoding:[ \t]*base64[ \t]*\r?$")
_BLANK_LINE = re.compile(rb"\n\r?\n")
_BASE64_TEXT = _BASE64_ALPHABET + b"\r\n"
_STASHED = "_crm_stashed"  # a part's attribute: its payload as text and stashed byte runs
_BOUNDARY_LINE = re.compile(r"^--([^\s]{1,200})\s*$", re.MULTILINE)
_EMBEDDED_TYPES = ("message/rfc822", "message/global")
_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,200}:")


@dataclass
class _Parts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def looks_like_mime(head: bytes) -> bool:
    """Whether bytes start like an RFC 5322 message (a header field line)."""
    first = head.lstrip(b"\r\n").split(b"\n", 1)[0]
    return bool(_HEADER_LINE.match(first))


def parse_mime(
    raw: bytes,
    *,
    source: str = "<bytes>",
    kind: SourceKind = SourceKind.MIME,
    folder: str | None = None,
    position: int | None = None,
    sink: AttachmentSink | None = None,
    ingested_at: datetime | None = None,
) -> Message:
    """Normalize one MIME message. Raises `IngestError` (only) when it is not a message."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise IngestError(f"MIME input must be bytes, not {type(raw).__name__}", source=source)
    provenance = Provenance(source=source, kind=kind, folder=folder, position=position)
    try:
        parsed = _parse_bytes(bytes(raw))
        if not parsed.keys():
            raise IngestError("no RFC 5322 header found: not a mail message", source=source)
        return normalize_email(
            parsed, provenance, sink=sink or DiscardSink(), now=ingested_at or datetime.now(UTC)
        )
    except IngestError:
        raise
    except (Exception, RecursionError) as exc:  # any parser failure is this input's fault
        raise IngestError(f"unparseable MIME message: {exc!r}"[:300], source=source) from exc


def _parse_bytes(raw: bytes) -> email.message.Message:
    """`email.message_from_bytes`, with long base64 bodies kept out of the parser's way.

    The email package's feed parser splits a body into lines in Python, one by one: for a mail
    with a large attachment that is most of the parse, although the body is only ever decoded
    whole. So each long base64 body is replaced by a one-line marker before parsing, and
    afterwards each part whose payload holds markers gets its bodies back: a base64 part as byte
    slices that `_encoded_blocks` decodes from (with C-speed base64), any other part (text that
    only looks like base64) as its text again.
    """
    runs: list[memoryview] = []
    prefix = f"=crm-{secrets.token_hex(8)}-"
    view, kept, at = memoryview(raw), [], 0
    for start, end in _base64_bodies(raw):
        # The line ending before the next boundary stays: the parser counts it as the boundary's.
        end -= 2 if raw[end - 2 : end] == b"\r\n" else int(raw[end - 1 : end] == b"\n")
        kept += [view[at:start], f"{prefix}{len(runs)}=".encode()]
        runs.append(view[start:end])
        at = end
    parsed = email.message_from_bytes(b"".join([*kept, view[at:]]) if runs else raw)
    if runs:
        marker = re.compile(re.escape(prefix) + r"(\d+)=")
        for part in parsed.walk():
            payload = part.get_payload()
            if not isinstance(payload, str) or prefix not in payload:
                continue
            pieces: list[str | memoryview] = []
            at = 0
            for found in marker.finditer(payload):
                pieces += [payload[at : found.start()], runs[int(found.group(1))]]
                at = found.end()
            pieces.append(payload[at:])
            setattr(part, _STASHED, pieces)
            if _transfer_encoding(part) != "base64":
                _restore(part)
    return parsed


def _base64_bodies(raw: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each long body after a `Content-Transfer-Encoding: base64` header that
    holds base64 text alone: up to the next line starting with "-" (a boundary) or the end.
    Where a match is does not matter for correctness: a region of base64 characters and line
    breaks only cannot hold a boundary or a header line, and `_parse_bytes` gives any part that
    is not base64 its text back."""
    at = 0
    for header in _BASE64_HEADER.finditer(raw):
        if header.start() < at:
            continue
        blank = _BLANK_LINE.search(raw, header.end())
        if blank is None:
            return
        start = blank.end()
        end = raw.find(b"\n-", start)
        end = len(raw) if end < 0 else end + 1
        if end - start >= _STASH_MIN_BYTES and not raw[start:end].translate(None, _BASE64_TEXT):
            yield start, end
            at = end


def _restore(message: email.message.Message) -> None:
    """Put stashed runs back into the payloads of a message and its parts, as plain text (for
    re-serialising them: an embedded message stored as a file, a boundary repair)."""
    for part in message.walk():
        pieces = getattr(part, _STASHED, None)
        if pieces is not None:
            delattr(part, _STASHED)
            part.set_payload(
                "".join(p if isinstance(p, str) else bytes(p).decode("ascii") for p in pieces)
            )


def _transfer_encoding(part: email.message.Message) -> str:
    return str(part.get("Content-Transfer-Encoding", "")).strip().lower()


def normalize_email(
    msg: email.message.Message,
    provenance: Provenance,
    *,
    sink: AttachmentSink,
    now: datetime,
    depth: int = 0,
) -> Message:
    """An already-parsed `email.message.Message` -> `Message`."""
    msg = _repair_boundary(msg)
    subject = decode_header_value(msg.get("Subject"))
    senders = parse_addresses(msg.get_all("From") or []) or parse_addresses(
        msg.get_all("Sender") or []
    )
    sender = senders[0] if senders else None
    date = parse_date(msg.get("Date"), now=now)
    date_source = DateSource.HEADER
    if date is None:
        date = date_from_received(msg.get_all("Received") or [], now=now)
        date_source = DateSource.RECEIVED
    if date is None:
        date, date_source = now, DateSource.INGESTION

    parts = _Parts(defects=[type(d).__name__ for d in msg.defects])
    _collect(msg, parts, provenance, sink, now, depth, top=True)
    text_body = "\n\n".join(t for t in parts.plain if t.strip())
    if not text_body.strip() and parts.html:
        text_body = html_to_text("\n".join(parts.html))
    message_id = normalize_message_id(msg.get("Message-ID"))

    def header(name: str) -> str | None:
        value = msg.get(name)
        return None if value is None else decode_header_value(value)

    automation = detect_automation(
        header,
        content_type=msg.get_content_type(),
        report_type=str(msg.get_param("report-type") or "").lower(),
        sender=sender,
        return_path=msg.get("Return-Path"),
        subject=subject,
    )
    return build_message(
        message_id=message_id,
        in_reply_to=normalize_message_id(msg.get("In-Reply-To")),
        references=parse_references(" ".join(str(v) for v in msg.get_all("References") or [])),
        subject=subject,
        sender=sender,
        to=parse_addresses(msg.get_all("To") or []),
        cc=parse_addresses(msg.get_all("Cc") or []),
        reply_to=parse_addresses(msg.get_all("Reply-To") or []),
        date=date,
        date_source=date_source,
        text_body=text_body,
        raw_html="\n".join(parts.html) if parts.html else None,
        attachments=parts.attachments,
        automation=automation,
        provenance=provenance,
        defects=parts.defects,
    )


def _repair_boundary(msg: email.message.Message) -> email.message.Message:
    """A multipart whose declared boundary never occurs: re-parse with the one the body uses."""
    if msg.is_multipart() or msg.get_content_maintype() != "multipart":
        return msg
    payload = msg.get_payload()
    if not isinstance(payload, str):
        return msg
    match = _BOUNDARY_LINE.search(payload)
    if not match:
        return msg
    boundary = match.group(1).removesuffix("--")
    msg.set_param("boundary", boundary)
    _restore(msg)
    reparsed = _parse_bytes(msg.as_bytes())
    reparsed.defects.append(email.errors.StartBoundaryNotFoundDefect())
    return reparsed if reparsed.is_multipart() else msg


def _collect(
    part: email.message.Message,
    parts: _Parts,
    provenance: Provenance,
    sink: AttachmentSink,
    now: datetime,
    depth: int,
    *,
    top: bool = False,
) -> None:
    if not top:
        parts.defects.extend(type(d).__name__ for d in part.defects)
    content_type = part.get_content_type()
    if part.is_multipart():
        payload = part.get_payload()
        if part.get_content_maintype() == "message":
            parts.attachments.append(_embedded(part, payload, provenance, sink, now, depth))
            return
        for child in payload:
            if isinstance(child, email.message.Message):
                _collect(child, parts, provenance, sink, now, depth)
        return
    if part.get_content_maintype() == "multipart":
        # A multipart the parser could not split is kept as raw content, unless it holds none.
        raw = part.get_payload()
        if isinstance(raw, str) and not raw.strip():
            parts.defects.append("EmptyMultipartDefect")
            return
    disposition = part.get_content_disposition()
    filename = _filename(part)
    if content_type in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        text = _decode_body(part)
        (parts.plain if content_type == "text/plain" else parts.html).append(text)
        return
    if top and content_type.startswith("text/") and not filename:
        parts.plain.append(_decode_body(part))  # a bare text/enriched, text/calendar body...
        return
    parts.attachments.append(_attachment(part, filename, disposition, provenance, sink, now, depth))


def decoded_payload(part: email.message.Message) -> bytes:
    """The part's body with its transfer encoding undone; b"" for a multipart or none."""
    if hasattr(part, _STASHED):
        decoded = io.BytesIO()
        _stream_base64(_encoded_blocks(part), decoded)
        return decoded.getvalue()
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _decode_body(part: email.message.Message) -> str:
    payload = decoded_payload(part)
    try:
        declared = part.get_content_charset()
    except Exception:  # a malformed RFC 2231 charset parameter
        declared = None
    text, _ = decode_text(payload, declared)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _filename(part: email.message.Message) -> str | None:
    try:
        raw = part.get_filename()
    except Exception:
        raw = None
    if raw is None:
        return None
    name = decode_header_value(raw)
    return name or None


def _content_id(part: email.message.Message) -> str | None:
    value = part.get("Content-ID")
    if value is None:
        return None
    cid = str(value).strip().strip("<>").strip()
    return cid or None


def _attachment(
    part: email.message.Message,
    filename: str | None,
    disposition: str | None,
    provenance: Provenance,
    sink: AttachmentSink,
    now: datetime,
    depth: int,
) -> Attachment:
    content_type = part.get_content_type()
    writer = HashingWriter(sink.open(filename, content_type))
    error = None
    try:
        error = _stream_payload(part, writer)
    except Exception as exc:
        writer.abort()
        return Attachment(filename, content_type, 0, "", _content_id(part), error=repr(exc)[:200])
    size, sha, location = writer.finish()
    embedded = None
    if content_type == "message/rfc822" and depth < MAX_NESTING:
        # A message/rfc822 sent base64-encoded arrives as a leaf: parse its decoded bytes.
        decoded = decoded_payload(part)
        if decoded:
            try:
                embedded = normalize_email(
                    _parse_bytes(decoded), provenance, sink=sink, now=now,
                    depth=depth + 1,
                )  # fmt: skip
            except Exception as exc:
                error = f"embedded message unreadable: {exc!r}"[:200]
    cid = _content_id(part)
    return Attachment(
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=sha,
        content_id=cid,
        is_inline=disposition == "inline" or (disposition is None and cid is not None),
        location=location,
        embedded_message=embedded,
        error=error,
    )


def _stream_payload(part: email.message.Message, writer: HashingWriter) -> str | None:
    """Decode the part's transfer encoding block by block into the writer; return an error."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        data = decoded_payload(part)
        writer.write(data)
        return None
    encoding = _transfer_encoding(part)
    if encoding == "base64":
        return _stream_base64(_encoded_blocks(part), writer)
    if encoding == "quoted-printable":
        start = 0
        while start < len(payload):
            end = payload.find("\n", start + BLOCK_SIZE)
            end = len(payload) if end < 0 else end + 1
            writer.write(binascii.a2b_qp(payload[start:end].encode("ascii", "surrogateescape")))
            start = end
        return None
    if encoding in ("x-uuencode", "uuencode", "x-uue", "uue"):
        writer.write(decoded_payload(part))
        return None
    for start in range(0, len(payload), BLOCK_SIZE):
        block = payload[start : start + BLOCK_SIZE]
        try:
            writer.write(block.encode("ascii", "surrogateescape"))
        except UnicodeEncodeError:
            writer.write(block.encode("utf-8", "surrogateescape"))
    return None


def _encoded_blocks(part: email.message.Message) -> Iterator[bytes]:
    """A base64 part's encoded text as ASCII blocks of about BLOCK_SIZE, stashed runs included."""
    pieces = getattr(part, _STASHED, None)
    payload = part.get_payload()
    for piece in pieces if pieces is not None else [payload if isinstance(payload, str) else ""]:
        for start in range(0, len(piece), BLOCK_SIZE):
            block = piece[start : start + BLOCK_SIZE]
            yield block.encode("ascii", "ignore") if isinstance(block, str) else bytes(block)


def _stream_base64(blocks: Iterator[bytes], writer: HashingWriter | io.BytesIO) -> str | None:
    """Decode base64 blocks into the writer, ignoring line breaks and stray characters as mail
    readers do; return an error for a body that is not base64."""
    leftover = b""
    error = None
    for block in blocks:
        data = leftover + block.translate(None, _BASE64_JUNK)
        cut = len(data) - len(data) % 4
        data, leftover = data[:cut], data[cut:]
        try:
            writer.write(binascii.a2b_base64(data))
        except binascii.Error as exc:
            error = f"invalid base64: {exc}"
    if leftover.strip(b"="):
        padded = leftover + b"=" * (-len(leftover) % 4)
        try:
            writer.write(binascii.a2b_base64(padded))
        except binascii.Error:
            error = "truncated base64 at end of attachment"
    return error


def _embedded(
    part: email.message.Message,
    payload: object,
    provenance: Provenance,
    sink: AttachmentSink,
    now: datetime,
    depth: int,
) -> Attachment:
    inner = payload[0] if isinstance(payload, list) and payload else None
    writer = HashingWriter(sink.open(_filename(part), part.get_content_type()))
    error = None
    embedded = None
    try:
        if isinstance(inner, email.message.Message):
            _restore(inner)  # stored as the file it was: every body written out as text
            generator = email.generator.BytesGenerator(writer, mangle_from_=False)
            generator.flatten(inner)
            if depth < MAX_NESTING and part.get_content_type() in _EMBEDDED_TYPES:
                embedded = normalize_email(inner, provenance, sink=sink, now=now, depth=depth + 1)
    except Exception as exc:
        error = f"embedded message unreadable: {exc!r}"[:200]
    size, sha, location = writer.finish()
    filename = _filename(part)
    if filename is None and embedded is not None and embedded.subject:
        filename = f"{embedded.subject[:120]}.eml"
    return Attachment(
        filename=filename,
        content_type=part.get_content_type(),
        size=size,
        sha256=sha,
        content_id=_content_id(part),
        is_inline=False,
        location=location,
        embedded_message=embedded,
        error=error,
    )
