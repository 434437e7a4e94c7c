"""How a campaign's mail goes out: the sender (the mailbox's SMTP or SendGrid, or the
product's own), SMTP with the DATA phase split at the final dot, the MIME bytes per
recipient, and the test send."""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate

from crm_app.crypto import decrypt_secret
from crm_app.db import session_scope
from crm_app.services.campaigns.template import CampaignTemplate, RecipientValues
from crm_app.services.mail.compose import OutgoingMail
from crm_app.services.mail.transport import (
    DeliveryFailure,
    PermanentFailure,
    SmtpSettings,
    SmtpTransport,
    TemporaryFailure,
)
from crm_app.settings import get_settings
from models.campaign import Campaign
from models.mailbox import ConnectionSecurity, Mailbox, OutboundKind

_LEADING_DOT = re.compile(rb"(?m)^\.")
# A message this size goes out in the same write as its final dot (see `CampaignSmtp.deliver`):
# well under the 16 KiB a fresh TCP socket buffers, so that write never waits for the server.
INLINE_BYTES = 8192


@dataclass(frozen=True)
class SenderConfig:
    transport: str
    smtp: SmtpSettings | None = None
    sendgrid_key: str | None = None
    sendgrid_host: str = "https://api.sendgrid.com"


def sender_config(campaign: Campaign) -> SenderConfig:
    """How this campaign goes out: its mailbox's SMTP or SendGrid, or the product's own."""
    settings = get_settings()
    box: Mailbox | None = None
    if campaign.sender_mailbox_id:
        with session_scope() as session:
            box = session.get(Mailbox, campaign.sender_mailbox_id)
    if box is not None and box.outbound == OutboundKind.SENDGRID and box.sendgrid_secret:
        key = decrypt_secret(box.sendgrid_secret)
        return SenderConfig("sendgrid", sendgrid_key=key, sendgrid_host=settings.sendgrid_api_host)
    if box is not None and box.outbound == OutboundKind.SMTP:
        return SenderConfig(
            "smtp",
            smtp=SmtpSettings(
                host=box.smtp_host,
                port=box.smtp_port,
                security=box.smtp_security,
                user=box.smtp_user,
                password=decrypt_secret(box.smtp_secret) if box.smtp_secret else "",
            ),
        )
    if settings.sendgrid_api_key:
        return SenderConfig(
            "sendgrid",
            sendgrid_key=settings.sendgrid_api_key,
            sendgrid_host=settings.sendgrid_api_host,
        )
    security = {"ssl": ConnectionSecurity.TLS, "none": ConnectionSecurity.NONE}.get(
        settings.smtp_tls, ConnectionSecurity.STARTTLS
    )
    return SenderConfig(
        "smtp",
        smtp=SmtpSettings(
            host=settings.smtp_host or "",
            port=settings.smtp_port,
            security=security,
            user=settings.smtp_user or "",
            password=settings.smtp_password or "",
        ),
    )


class CampaignSmtp(SmtpTransport):
    """The transport's connection handling, with the DATA phase split at the final dot so the
    mark (`Ledger.begin_mark`) lands right before the point of no return.

    Each message costs one SMTP round trip: over PIPELINING the next recipient's envelope
    (MAIL, RCPT, DATA) goes in the same write as this message's final dot. An envelope commits
    nothing (the server accepts a message only at its dot), so when the next call is not for
    the announced recipient the connection is dropped, and the server forgets the envelope.
    `mark()` hands the database mark to PostgreSQL right before the dot and returns the wait
    for its answer, read after the dot: the two round trips overlap."""

    def __init__(self, settings: SmtpSettings) -> None:
        super().__init__(settings)
        self._announced_to: tuple[str, str] | None = None  # whose envelope went last
        self.dot_sent = False  # whether the last `deliver` got as far as the final dot
        self.eight_bit = False  # the server offers 8BITMIME (known once connected)

    def open(self) -> bool:
        """Connect now (so the message builder knows what the server offers); True when it
        offers 8BITMIME."""
        if self._smtp is None:
            self._smtp = self._connect()
            self._smtp.ehlo_or_helo_if_needed()
            # The data and its final dot are two writes: without NODELAY the dot waits for
            # the server's delayed ACK of the data (Nagle), ~40 ms a message.
            if self._smtp.sock is not None:
                self._smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.eight_bit = self._smtp.has_extn("8bitmime")
        return self.eight_bit

    def deliver(
        self,
        sender: str,
        recipient: str,
        data: bytes,
        mark: Callable[[], Callable[[], None]],
        following: str | None = None,
    ) -> str:
        announced = self._in_data and self._announced_to == (sender, recipient)
        if self._in_data and not announced:
            self._drop()  # the server may wait for another message's content
        self._announced_to = None
        eight_bit = self.eight_bit
        if self.open() != eight_bit:
            # A new connection to a server that now offers less (or more): the message was
            # built for the other; the caller builds it again.
            raise TemporaryFailure("The mail server's 8BITMIME support changed; trying again.")
        smtp = self._smtp
        assert smtp is not None
        pipelining = smtp.has_extn("pipelining")
        self.dot_sent = False
        pending: list[Callable[[], None]] = []  # the mark's answer, still to be read

        def settle() -> None:
            while pending:
                pending.pop()()

        try:
            # Addresses come from our own snapshot (lower-cased, no brackets): no parsing.
            if pipelining:  # RFC 2920: one write, three answers
                if not announced:
                    smtp.send(_envelope(sender, recipient, self.eight_bit))
                replies = [smtp.getreply() for _ in range(3)]
            else:
                replies = []
                for command in _envelope(sender, recipient, self.eight_bit).decode().splitlines():
                    smtp.send(command + "\r\n")
                    replies.append(smtp.getreply())
                    if replies[-1][0] >= 400:
                        break
            for (code, answer), wanted in zip(replies, ((250,), (250, 251), (354,)), strict=False):
                if code not in wanted:
                    settle()
                    self._in_data = False
                    if replies[-1][0] == 354:  # DATA accepted anyway: end it empty
                        smtp.send(b".\r\n")
                        smtp.getreply()
                    smtp.rset()
                    raise _classify(code, answer)
            if data.startswith(b".") or b"\n." in data:
                data = _LEADING_DOT.sub(b"..", data)
            if len(data) > INLINE_BYTES:
                smtp.send(data)  # the bulk before the mark: the last write must not wait
                data = b""
            next_envelope = b""
            if following and pipelining:
                next_envelope = _envelope(sender, following, self.eight_bit)
            # The mark, then the dot, back to back: once the mark's bytes are in the database
            # connection's socket, PostgreSQL runs it even if we die, so the one moment a
            # crash can lose a message is between these two writes (see the package docstring).
            # A message of up to INLINE_BYTES goes in the dot's write: the server has read all
            # we sent (it answered DATA), so the socket takes it at once, and one write a
            # message instead of two is fewer wake-ups of the server.
            pending.append(mark())
            self.dot_sent = True  # from here on the message may have been accepted
            smtp.send(data + b".\r\n" + next_envelope)
            self._in_data = bool(next_envelope)
            if next_envelope:
                self._announced_to = (sender, following or "")
            settle()
            code, answer = smtp.getreply()
        except DeliveryFailure:
            settle()
            raise
        except (OSError, smtplib.SMTPException) as error:
            settle()
            self._drop()
            raise TemporaryFailure(f"The connection to the mail server failed: {error}") from error
        if code != 250:
            raise _classify(code, answer)
        text = answer.decode("utf-8", "replace")
        return text.rsplit("queued as", 1)[-1].strip() if "queued as" in text else text[:200]


def _envelope(sender: str, recipient: str, eight_bit: bool = False) -> bytes:
    body = " BODY=8BITMIME" if eight_bit else ""
    return f"MAIL FROM:<{sender}>{body}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode()


def _classify(code: int, answer: bytes) -> DeliveryFailure:
    words = f"{code} {answer.decode('utf-8', 'replace')}"
    if 400 <= code < 500:
        return TemporaryFailure(f"The mail server deferred it: {words}")
    return PermanentFailure(f"The mail server refused it: {words}")


MAX_LINE = 990  # octets per line, under RFC 5322's 998 with room for the CRLF


def _part_body(content: str, eight_bit: bool, foldable: bool) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, the part's body ending in CRLF). Plain 7bit (or 8bit where
    the server offers 8BITMIME) with long lines folded at a space: a third smaller than base64
    and a few long lines instead of many short ones, which is what a server's time goes on.
    base64 when that cannot be done faithfully (a line with no space to fold at, a NUL, a
    `<pre>` whose spaces matter, non-ASCII text without 8BITMIME)."""
    text = content.replace("\r\n", "\n").replace("\r", "\n")
    plain = text.isascii()
    if "\x00" not in text and (plain or eight_bit):
        lines: list[bytes] = []
        for line in text.encode().split(b"\n"):
            while len(line) > MAX_LINE:
                cut = line.rfind(b" ", 0, MAX_LINE) if foldable else -1
                if cut <= 0:
                    break
                lines.append(line[:cut])
                line = line[cut + 1 :]
            if len(line) > MAX_LINE:
                break
            lines.append(line)
        else:
            return ("7bit" if plain else "8bit"), b"\r\n".join(lines) + b"\r\n"
    return "base64", base64.encodebytes(content.encode()).replace(b"\n", b"\r\n")


def _spaces_matter(html: str) -> bool:
    lowered = html.lower()
    return "<pre" in lowered or "<textarea" in lowered or "white-space" in lowered


class MimeBuilder:
    """Wire bytes for one recipient: the headers and parts every recipient shares are built
    once; per recipient only the subject, To, tokens and names change. `eight_bit`: the
    server offers 8BITMIME (then non-ASCII parts go as 8bit, not base64)."""

    def __init__(self, campaign: Campaign, template: CampaignTemplate) -> None:
        self.template = template
        name = campaign.from_name
        self.sender = campaign.from_email
        self.eight_bit = False
        from_value = formataddr((name, self.sender))
        if not from_value.isascii():
            from_value = formataddr((str(Header(name, "utf-8").encode()), self.sender))
        self.boundary = f"=_campaign_{campaign.id}_{uuid.uuid4().hex[:12]}"
        self.head = f"From: {from_value}\r\nMIME-Version: 1.0\r\n"

    def build(self, values: RecipientValues) -> tuple[str, bytes]:
        message = self.template.render(values)
        subject = message.subject
        if not subject.isascii():
            subject = Header(subject, "utf-8").encode()
        message_id = self.template.message_id(values.recipient_id)
        extra = "".join(f"{k}: {v}\r\n" for k, v in message.headers.items())
        b = self.boundary
        text_cte, text = _part_body(message.text, self.eight_bit, foldable=True)
        html_cte, html = _part_body(
            message.html, self.eight_bit, foldable=not _spaces_matter(message.html)
        )
        head = (
            f"{self.head}To: <{values.email}>\r\nSubject: {subject}\r\n"
            f"Date: {formatdate(usegmt=True)}\r\nMessage-ID: {message_id}\r\n{extra}"
            f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'
            f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: {text_cte}\r\n\r\n"
        ).encode()
        middle = (
            f"--{b}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: {html_cte}\r\n\r\n"
        ).encode()
        return message_id, b"".join((head, text, middle, html, f"--{b}--\r\n".encode()))


# --- test sends --------------------------------------------------------------------------------


def send_test_mail(campaign: Campaign, address: str, values: RecipientValues) -> None:
    """One test copy to a staff address through the campaign's own transport."""
    from crm_app.services.campaigns.manage import template_for
    from crm_app.services.mail.transport import SendGridTransport

    template = template_for(campaign)
    message = template.render(values)
    mail = OutgoingMail(
        from_header=formataddr((campaign.from_name, campaign.from_email)),
        to=(address,),
        cc=(),
        subject=f"[Test] {message.subject}",
        message_id=f"<campaign-{campaign.id}.test.{uuid.uuid4().hex[:12]}@{template.domain}>",
        headers=message.headers,
        text=message.text,
        html=message.html,
    )
    config = sender_config(campaign)
    transport: SmtpTransport | SendGridTransport
    if config.transport == "sendgrid":
        transport = SendGridTransport(config.sendgrid_key or "", config.sendgrid_host)
    else:
        assert config.smtp is not None
        transport = SmtpTransport(config.smtp)
    try:
        transport.send(mail)
    finally:
        transport.close()
