"""Raw PST items (plain values read by `pst_child`) -> normalized records.

This runs inside the PST child processes, next to the pypff reading, so every child both reads
and normalizes its own file and several files are worked on at once. Nothing here touches
pypff; `normalize_raw_item` never raises.
"""

from __future__ import annotations

import email.message
import email.parser
import mimetypes
from datetime import datetime
from typing import Any

from striprtf.striprtf import rtf_to_text

from .automation import detect_automation
from .charsets import decode_text
from .headers import (
    date_from_received,
    decode_header_value,
    normalize_message_id,
    parse_addresses,
    parse_date,
    parse_references,
)
from .html import html_to_text
from .model import (
    Address,
    Attachment,
    DateSource,
    IngestRecord,
    ItemError,
    Message,
    NonMailItem,
    Provenance,
    SourceKind,
)
from .normalize import build_message
from .pst_child import ATTACH_EMBEDDED_MESSAGE

# Message classes that are mail (including reports and meeting mail); others are non-mail.
_MAIL_CLASS_PREFIXES = ("ipm.note", "ipm.post", "report.", "ipm.schedule.", "ipm.outlook.recall",
                        "ipm.sharing", "ipm.taskrequest")  # fmt: skip
_NON_MAIL_KINDS = (
    ("ipm.appointment", "calendar"),
    ("ipm.contact", "contact"),
    ("ipm.distlist", "distribution_list"),
    ("ipm.task", "task"),
    ("ipm.stickynote", "note"),
    ("ipm.activity", "journal"),
    ("ipm.microsoft.scheduledata.freebusy", "free_busy"),
)
_CODEPAGES = {
    65001: "utf-8", 20127: "ascii", 28591: "latin-1", 936: "gb18030", 54936: "gb18030",
    950: "big5hkscs", 932: "cp932", 949: "cp949", 50220: "iso2022_jp", 50221: "iso2022_jp",
    50222: "iso2022_jp", 51932: "euc_jp", 51949: "euc_kr", 20866: "koi8_r", 21866: "koi8_u",
    1200: "utf-16-le", 1201: "utf-16-be", 10000: "mac_roman", 65000: "utf-7",
}  # fmt: skip
_HEADER_PARSER = email.parser.HeaderParser()


def codepage_charset(codepage: int | None) -> str | None:
    if not codepage:
        return None
    if codepage in _CODEPAGES:
        return _CODEPAGES[codepage]
    if 28592 <= codepage <= 28606:
        return f"iso8859-{codepage - 28590}"
    return f"cp{codepage}"


def item_kind(message_class: str | None) -> str | None:
    """None for mail, else the kind of non-mail item ("calendar", "contact", ...)."""
    lowered = (message_class or "ipm.note").lower()
    if lowered.startswith(_MAIL_CLASS_PREFIXES) or lowered == "ipm":
        return None
    for prefix, kind in _NON_MAIL_KINDS:
        if lowered.startswith(prefix):
            return kind
    return "other"


def normalize_raw_item(raw: dict[str, Any], source: str, now: datetime) -> IngestRecord:
    """One raw item from the child -> a normalized record (never raises)."""
    provenance = Provenance(
        source=source, kind=SourceKind.PST, folder=raw.get("folder"), position=raw.get("index")
    )
    try:
        if raw["type"] == "error":
            return ItemError(str(raw.get("error")), provenance)
        if raw["type"] == "untyped":
            return NonMailItem(
                kind=item_kind(raw.get("message_class")) or "other",
                item_class=raw.get("message_class"),
                title=raw.get("subject") or "",
                body_text="",
                provenance=provenance,
                created=raw.get("creation_time"),
            )
        kind = item_kind(raw.get("message_class"))
        if kind is not None:
            return _non_mail(raw, kind, provenance)
        return message_from_raw(raw, provenance, now)
    except (Exception, RecursionError) as exc:
        return ItemError(f"item could not be normalized: {type(exc).__name__}: {exc}", provenance)


def _bodies(raw: dict[str, Any]) -> tuple[str, str | None]:
    """(plain text, raw HTML text) from the plain/HTML/RTF bodies of an item."""
    plain = decode_text(raw["plain"], "utf-8")[0] if raw.get("plain") else ""
    html = (
        decode_text(raw["html"], codepage_charset(raw.get("codepage")))[0]
        if raw.get("html")
        else None
    )
    if not plain.strip() and html:
        plain = html_to_text(html)
    if not plain.strip() and raw.get("rtf"):
        plain = rtf_text(raw["rtf"])
    return plain.replace("\r\n", "\n").strip(), html


def rtf_text(rtf: bytes) -> str:
    try:
        return rtf_to_text(rtf.decode("latin-1"), errors="ignore")
    except Exception:  # a hand-written RTF scanner: damaged RTF must not lose the item
        return ""


def _non_mail(raw: dict[str, Any], kind: str, provenance: Provenance) -> NonMailItem:
    body, _ = _bodies(raw)
    contact = (raw.get("contact") or {}) if kind == "contact" else {}
    details = {key: value for key, value in contact.items() if value}
    return NonMailItem(
        kind=kind,
        item_class=raw.get("message_class"),
        title=raw.get("subject") or "",
        body_text=body,
        provenance=provenance,
        created=raw.get("creation_time"),
        modified=raw.get("modification_time"),
        details=details,
    )


def _mapi_sender(raw: dict[str, Any]) -> Address | None:
    addrtype = (raw.get("sender_addrtype") or "SMTP").upper()
    email_address = raw.get("sender_smtp") or (
        raw.get("sender_email") if addrtype == "SMTP" else None
    )
    email_address = email_address or (
        raw.get("representing_email") if "@" in (raw.get("representing_email") or "") else ""
    )
    name = raw.get("sender_name") or raw.get("representing_name") or ""
    if not email_address and not name:
        return None
    return Address(email=email_address or "", name=name if name != email_address else "")


def _mapi_recipients(raw: dict[str, Any], kind: int) -> list[Address]:
    result = []
    for recipient_kind, name, address in raw.get("recipients") or []:
        if recipient_kind != kind:
            continue
        clean_name = (name or "").strip("'\" ")
        name_shown = "" if clean_name == address else clean_name
        result.append(Address(email=address or "", name=name_shown))
    return result


def message_from_raw(
    raw: dict[str, Any], provenance: Provenance, now: datetime, depth: int = 0
) -> Message:
    headers_text = raw.get("transport_headers")
    headers: email.message.Message | None = None
    if headers_text and headers_text.strip():
        headers = _HEADER_PARSER.parsestr(headers_text.replace("\r\n", "\n").strip() + "\n\n")

    def header(name: str) -> str | None:
        value = headers.get(name) if headers is not None else None
        return None if value is None else decode_header_value(value)

    subject = raw.get("subject") or header("Subject") or ""
    sender = None
    to = cc = reply_to = []
    if headers is not None:
        senders = parse_addresses(headers.get_all("From") or [])
        sender = senders[0] if senders else None
        to = parse_addresses(headers.get_all("To") or [])
        cc = parse_addresses(headers.get_all("Cc") or [])
        reply_to = parse_addresses(headers.get_all("Reply-To") or [])
    sender = sender or _mapi_sender(raw)
    to = to or _mapi_recipients(raw, 1)
    cc = cc or _mapi_recipients(raw, 2)

    date, date_source = _message_date(raw, headers, now)
    message_id = normalize_message_id(raw.get("message_id") or header("Message-ID"))
    text_body, html = _bodies(raw)
    attachments = [_attachment(a, provenance, now, depth) for a in raw.get("attachments") or []]
    has_type = headers is not None and "Content-Type" in headers
    content_type = headers.get_content_type() if headers is not None and has_type else ""
    report_type = (
        str(headers.get_param("report-type") or "") if headers is not None and content_type else ""
    )
    automation = detect_automation(
        header,
        content_type=content_type,
        report_type=report_type.lower(),
        sender=sender,
        return_path=header("Return-Path"),
        subject=subject,
        item_class=raw.get("message_class"),
    )
    return build_message(
        message_id=message_id,
        in_reply_to=normalize_message_id(raw.get("in_reply_to") or header("In-Reply-To")),
        references=parse_references(raw.get("references") or header("References")),
        subject=subject,
        sender=sender,
        to=to,
        cc=cc,
        reply_to=reply_to,
        date=date,
        date_source=date_source,
        text_body=text_body,
        raw_html=html or None,
        attachments=attachments,
        automation=automation,
        provenance=provenance,
        defects=list(raw.get("errors") or []),
        item_class=raw.get("message_class"),
        transport_headers=headers_text or None,
    )


def _message_date(
    raw: dict[str, Any], headers: email.message.Message | None, now: datetime
) -> tuple[datetime, DateSource]:
    if headers is not None:
        parsed = parse_date(headers.get("Date"), now=now)
        if parsed is not None:
            return parsed, DateSource.HEADER
    for key, source in (
        ("submit_time", DateSource.PST_SUBMIT_TIME),
        ("delivery_time", DateSource.PST_DELIVERY_TIME),
    ):
        if raw.get(key) is not None:
            return raw[key], source
    if headers is not None:
        parsed = date_from_received(headers.get_all("Received") or [], now=now)
        if parsed is not None:
            return parsed, DateSource.RECEIVED
    if raw.get("creation_time") is not None:
        return raw["creation_time"], DateSource.PST_CREATION_TIME
    return now, DateSource.INGESTION


def _attachment(a: dict[str, Any], provenance: Provenance, now: datetime, depth: int) -> Attachment:
    filename = a.get("filename") or a.get("display_name")
    embedded = None
    error = a.get("error")
    if a.get("embedded") is not None and depth < 8:
        try:
            embedded = message_from_raw(a["embedded"], provenance, now, depth + 1)
        except Exception as exc:
            error = f"embedded message could not be normalized: {exc}"
    if a.get("method") == ATTACH_EMBEDDED_MESSAGE:
        content_type = "application/vnd.ms-outlook"  # the bytes are Outlook properties, not MIME
    else:
        content_type = (
            (a.get("mime_tag") or "").strip().lower()
            or (mimetypes.guess_type(filename)[0] if filename else None)
            or "application/octet-stream"
        )
    return Attachment(
        filename=filename,
        content_type=content_type,
        size=a.get("size") or 0,
        sha256=a.get("sha256") or "",
        content_id=(a.get("content_id") or "").strip("<> ") or None,
        is_inline=bool(a.get("content_id")) or bool((a.get("flags") or 0) & 0x4),
        location=a.get("location"),
        embedded_message=embedded,
        error=error,
    )
