"""The mail a ticket reply becomes: subject with `[#number]`, threading headers, a text and a
sanitized HTML part, and the agent's attachments, as stdlib MIME (`policy.default`) for SMTP
or as SendGrid's v3 JSON. No I/O beyond reading the attachment blobs."""

from __future__ import annotations

import base64
import html
import random
import re
import sys
from dataclasses import dataclass, field
from email import contentmanager
from email.errors import MessageError
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from ingest.headers import parse_references, ticket_number
from ingest.html import sanitize_html


class _CachedHeaderRegistry(HeaderRegistry):
    """The stdlib registry builds a new header class on every lookup (a `type()` call per
    header of every mail); the classes never change, so build each once."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


# `policy.default`, with the header classes built once.
MAIL_POLICY = default_policy.clone(header_factory=_CachedHeaderRegistry())
# Keep References bounded (RFC 5322 §3.6.4 lets a sender trim the middle).
MAX_REFERENCES = 20
_URL = re.compile(r"(https?://[^\s<>\"']+)")


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    path: Path


@dataclass(frozen=True)
class OutgoingMail:
    """Everything one outbound email holds, independent of the transport."""

    from_header: str  # "Display Name <address>"
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    message_id: str  # with its angle brackets
    headers: dict[str, str]  # In-Reply-To, References, Auto-Submitted, ...
    text: str
    html: str
    attachments: tuple[OutgoingAttachment, ...] = field(default_factory=tuple)

    @property
    def envelope_sender(self) -> str:
        return parseaddr(self.from_header)[1]

    @property
    def recipients(self) -> list[str]:
        return [addr for _, addr in getaddresses([*self.to, *self.cc]) if addr]


def from_header(display_name: str, address: str) -> str:
    return formataddr((display_name, address)) if display_name else address


def new_message_id(from_address: str) -> str:
    domain = from_address.rpartition("@")[2].strip("<> ") or "localhost"
    return make_msgid(domain=domain)


def new_subject(subject: str, number: int) -> str:
    """`<subject> [#N]`: the number lets the client's answer thread back in by subject."""
    subject = " ".join((subject or "").split())
    return subject if ticket_number(subject) == number else f"{subject} [#{number}]"


def reply_subject(subject: str, number: int) -> str:
    """`Re: <subject> [#N]`."""
    subject = new_subject(subject, number)
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def references_for(parent_references: str | list[str] | None, parent_id: str | None) -> str:
    """The parent's References plus the parent's own Message-ID, trimmed from the middle."""
    chain = (
        parse_references(parent_references)
        if isinstance(parent_references, str) or parent_references is None
        else list(parent_references)
    )
    if parent_id and parent_id not in chain:
        chain.append(parent_id)
    if len(chain) > MAX_REFERENCES:
        chain = chain[:1] + chain[-(MAX_REFERENCES - 1) :]
    return " ".join(chain)


def text_to_html(text: str) -> str:
    """The agent's plain text as simple, sanitized HTML (paragraphs, line breaks, links)."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        escaped = html.escape(block)
        linked = _URL.sub(r'<a href="\1">\1</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    body = "\n".join(paragraphs)
    return sanitize_html(f'<div style="font-family: sans-serif; font-size: 14px">{body}</div>')


def to_mime(mail: OutgoingMail) -> EmailMessage:
    """The mail as MIME: multipart/alternative (text, HTML) inside multipart/mixed when files
    travel with it."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = mail.from_header
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id
    message["Date"] = formatdate(usegmt=True)
    for name, value in mail.headers.items():
        if value:
            message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    for item in mail.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            item.path.read_bytes(), maintype=maintype, subtype=subtype, filename=item.filename
        )
    return message


# The wire's line ends: SMTP wants CRLF.
WIRE_POLICY = MAIL_POLICY.clone(linesep="\r\n")
# Header values `to_wire` writes itself: printable ASCII words, single spaces, nothing the
# email package would parse into something else (encoded words, quoting, comments).
_PLAIN_VALUE = re.compile(r"[!-~]+( [!-~]+)*")
_PLAIN_ADDRESS = re.compile(
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+( [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)* )?"
    r"<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+>"
    r"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+"
)
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
# Headers the email package parses by their own grammar; of these only Subject is folded at its
# spaces like the unstructured rest (References, In-Reply-To, X-...).
_STRUCTURED_HEADERS = frozenset(
    {
        *_ADDRESS_HEADERS,
        *("resent-" + name for name in ("bcc", "cc", "date", "from", "sender", "to")),
        *("content-disposition", "content-transfer-encoding", "content-type", "date"),
        *("message-id", "mime-version", "orig-date", "subject"),
    }
)
_FOLDED_AT_SPACES = frozenset({"subject"})
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def to_wire(mail: OutgoingMail) -> bytes:
    """The mail as the bytes SMTP sends (CRLF line ends): what `to_mime(mail).as_bytes()`
    gives, byte for byte but for the random boundary and the Date.

    The stdlib builds and parses an object per header and folds each again on output, several
    milliseconds a mail: most of what the outbox spends. A mail without attachments whose
    headers are plain ASCII that fits a line (or folds at its spaces) is written here directly,
    its parts encoded by the stdlib's own choice (7bit, 8bit, quoted-printable or base64);
    anything else goes through `to_mime`."""
    fast = None if mail.attachments else _plain_alternative(mail)
    if fast is not None:
        return fast
    return to_mime(mail).as_bytes(policy=WIRE_POLICY)


def _plain_header(name: str, value: str) -> str | None:
    """`Name: value` folded as the email package folds it, or None when only it can."""
    if not _PLAIN_VALUE.fullmatch(value) or "=?" in value:
        return None
    line = f"{name}: {value}"
    limit = MAIL_POLICY.max_line_length or 78  # policy.default: 78
    if len(line) <= limit:
        return line
    key = name.lower()
    if key in _STRUCTURED_HEADERS and key not in _FOLDED_AT_SPACES and key != "message-id":
        return None  # addresses, dates...: the email package folds them its own way
    if 1 + len(value) <= limit:
        return f"{name}:\r\n {value}"  # the whole value moves to the next line when it fits
    if key == "message-id":
        return None if " " in value else line  # one token: longer than a line, kept whole
    folded: list[str] = []
    current = f"{name}:"
    for word in value.split(" "):
        if len(current) + 1 + len(word) > limit and current != f"{name}:":
            folded.append(current)
            current = ""
        current += " " + word
    folded.append(current)
    # A word longer than a line becomes encoded words there: left to the email package.
    return None if any(len(part) > limit for part in folded) else "\r\n".join(folded)


def _plain_alternative(mail: OutgoingMail) -> bytes | None:
    headers = [("From", mail.from_header), ("To", ", ".join(mail.to))]
    if mail.cc:
        headers.append(("Cc", ", ".join(mail.cc)))
    headers += [
        ("Subject", mail.subject),
        ("Message-ID", mail.message_id),
        ("Date", formatdate(usegmt=True)),
        *((name, value) for name, value in mail.headers.items() if value),
    ]
    lines = []
    for name, value in headers:
        if name.lower() in _ADDRESS_HEADERS and not all(
            _PLAIN_ADDRESS.fullmatch(address) for address in value.split(", ")
        ):
            return None
        line = _plain_header(name, value)
        if line is None:
            return None
        lines.append(line)
    try:
        parts = [
            _text_part(mail.text, "plain", mime_version=False),
            _text_part(mail.html, "html", mime_version=True),
        ]
    except UnicodeError:
        return None  # lone surrogates and the like: the email package says what to do
    boundary = _boundary(parts)
    lines += [
        "MIME-Version: 1.0",
        "Content-Type: multipart/alternative;",
        f' boundary="{boundary}"',
        "",
        "",
    ]
    head = "\r\n".join(lines).encode("ascii")
    separator = f"\r\n--{boundary}\r\n".encode("ascii")
    return (
        head
        + f"--{boundary}\r\n".encode("ascii")
        + separator.join(parts)
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )


def _text_part(text: str, subtype: str, *, mime_version: bool) -> bytes:
    """One text part as `EmailMessage.set_content` writes it (`add_alternative` gives the
    second part a MIME-Version of its own)."""
    cte, payload = contentmanager._encode_text(text, "utf-8", None, MAIL_POLICY)  # type: ignore[attr-defined]
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    if mime_version:
        head += "MIME-Version: 1.0\r\n"
    body = _LINE_BREAKS.sub("\r\n", payload).encode("ascii", "surrogateescape")
    return head.encode("ascii") + b"\r\n" + body


def _boundary(parts: list[bytes]) -> str:
    """A boundary in the email package's form that no part contains."""
    width = len(repr(sys.maxsize - 1))
    while True:
        boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{width}d}" + "=="
        if not any(boundary.encode("ascii") in part for part in parts):
            return boundary


def to_sendgrid(mail: OutgoingMail) -> dict:
    """The same mail as the body of SendGrid's `POST /v3/mail/send`."""
    sender = _address(mail.from_header)
    personalization: dict = {"to": [_address(a) for a in mail.to]}
    if mail.cc:
        personalization["cc"] = [_address(a) for a in mail.cc]
    body: dict = {
        "personalizations": [personalization],
        "from": sender,
        "subject": mail.subject,
        "content": [
            {"type": "text/plain", "value": mail.text},
            {"type": "text/html", "value": mail.html},
        ],
        "headers": {"Message-ID": mail.message_id, **{k: v for k, v in mail.headers.items() if v}},
    }
    if mail.attachments:
        body["attachments"] = [
            {
                "content": base64.b64encode(item.path.read_bytes()).decode("ascii"),
                "filename": item.filename,
                "type": item.content_type,
                "disposition": "attachment",
            }
            for item in mail.attachments
        ]
    return body


def _address(value: str) -> dict:
    name, addr = parseaddr(value)
    return {"email": addr, "name": name} if name else {"email": addr}


def valid_address(value: str) -> bool:
    """A single plain address the headers accept (no display name tricks, no line breaks)."""
    try:
        Address(addr_spec=value)
    except (ValueError, IndexError, TypeError, MessageError):  # "@x": a HeaderParseError
        return False
    return "@" in value and "\n" not in value and "\r" not in value
