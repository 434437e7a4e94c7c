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
    `sending` mark lands right before the point of no return."""

    def deliver(self, sender: str, recipient: str, data: bytes, before_dot: Callable) -> str:
        if self._smtp is None:
            self._smtp = self._connect()
            self._smtp.ehlo_or_helo_if_needed()
            # The data and its final dot are two writes: without NODELAY the dot waits for
            # the server's delayed ACK of the data (Nagle), ~40 ms a message.
            if self._smtp.sock is not None:
                self._smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        smtp = self._smtp
        try:
            # Addresses come from our own snapshot (lower-cased, no brackets): no parsing.
            commands = [f"MAIL FROM:<{sender}>", f"RCPT TO:<{recipient}>", "DATA"]
            if smtp.has_extn("pipelining"):  # RFC 2920: one write, three answers
                smtp.send("\r\n".join(commands) + "\r\n")
                replies = [smtp.getreply() for _ in commands]
            else:
                replies = []
                for command in commands:
                    smtp.send(command + "\r\n")
                    replies.append(smtp.getreply())
                    if replies[-1][0] >= 400:
                        break
            for (code, answer), wanted in zip(replies, ((250,), (250, 251), (354,)), strict=False):
                if code not in wanted:
                    smtp.rset()
                    raise _classify(code, answer)
            smtp.send(_LEADING_DOT.sub(b"..", data))
            before_dot()
            smtp.send(b".\r\n")
            code, answer = smtp.getreply()
        except DeliveryFailure:
            raise
        except (OSError, smtplib.SMTPException) as error:
            self._smtp = None
            raise TemporaryFailure(f"The connection to the mail server failed: {error}") from error
        if code != 250:
            raise _classify(code, answer)
        text = answer.decode("utf-8", "replace")
        return text.rsplit("queued as", 1)[-1].strip() if "queued as" in text else text[:200]


def _classify(code: int, answer: bytes) -> DeliveryFailure:
    words = f"{code} {answer.decode('utf-8', 'replace')}"
    if 400 <= code < 500:
        return TemporaryFailure(f"The mail server deferred it: {words}")
    return PermanentFailure(f"The mail server refused it: {words}")


class MimeBuilder:
    """Wire bytes for one recipient: the headers and parts every recipient shares are built
    once; per recipient only the subject, To, tokens and names change."""

    def __init__(self, campaign: Campaign, template: CampaignTemplate) -> None:
        self.template = template
        name = campaign.from_name
        self.sender = campaign.from_email
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
        text = base64.encodebytes(message.text.encode()).replace(b"\n", b"\r\n")
        html = base64.encodebytes(message.html.encode()).replace(b"\n", b"\r\n")
        head = (
            f"{self.head}To: <{values.email}>\r\nSubject: {subject}\r\n"
            f"Date: {formatdate(usegmt=True)}\r\nMessage-ID: {message_id}\r\n{extra}"
            f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'
            f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        middle = (
            f"--{b}\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
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
