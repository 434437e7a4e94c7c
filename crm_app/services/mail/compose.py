"""The mail a ticket reply becomes: subject with `[#number]`, threading headers, a text and a
sanitized HTML part, and the agent's attachments, as stdlib MIME (`policy.default`) for SMTP
or as SendGrid's v3 JSON. No I/O beyond reading the attachment blobs."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
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
    except (ValueError, IndexError, TypeError):
        return False
    return "@" in value and "\n" not in value and "\r" not in value
