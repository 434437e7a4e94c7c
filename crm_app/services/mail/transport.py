"""Handing a composed mail to the outside: SMTP (stdlib `smtplib`, one connection reused for a
whole batch) or SendGrid (the official `sendgrid` client). Every failure is sorted into
`TemporaryFailure` (retry later: 4xx, network) or `PermanentFailure` (5xx: a person decides),
with the server's words as the reason."""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.error import URLError

from crm_app.services.mail.compose import OutgoingMail, to_sendgrid, to_wire
from models.mailbox import ConnectionSecurity

TIMEOUT_SECONDS = 30
_QUEUED_AS = re.compile(r"queued as\s+(\S+)", re.IGNORECASE)
_LEADING_DOT = re.compile(rb"(?m)^\.")  # dot-stuffing of the content (RFC 5321 4.5.2)


class DeliveryFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:2000]


class TemporaryFailure(DeliveryFailure):
    """Try again later (the server said 4xx, or it could not be reached)."""


class PermanentFailure(DeliveryFailure):
    """Retrying will not help (the server said 5xx, or the mail itself is wrong)."""


class Transport(Protocol):
    def send(
        self,
        mail: OutgoingMail,
        before_commit: Callable[[], None] | None = None,
        following: OutgoingMail | None = None,
    ) -> str | None:
        """Deliver one mail; returns the provider's id for it when it gives one.
        `before_commit` runs just before the step after which the server may have accepted
        the mail (the content, the API call): the outbox records the previous outcome there.
        `following`: the mail the next call will send, when the caller knows it (SMTP
        announces its envelope together with this mail's content)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # a ConnectionSecurity value
    user: str = ""
    password: str = ""


def _smtp_words(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"


class SmtpTransport:
    """One SMTP session, opened at the first mail and reused until `close`.

    Over a server that offers PIPELINING, the envelope of the `following` mail (MAIL, RCPT,
    DATA) goes in the same write as this mail's content, so each mail costs one round trip.
    That envelope commits nothing: the server accepts a mail only at the end of its content,
    which is sent by the next call, after `before_commit`. When that call does not come for
    that mail, the connection is closed instead, which makes the server drop the envelope."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        # The mail whose envelope was written after the last content, its replies unread.
        self._announced: OutgoingMail | None = None
        # The server may be waiting for a mail's content: the connection serves no other mail.
        self._in_data = False

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if not s.host:
            raise TemporaryFailure("No mail server is configured for this mailbox (SMTP host).")
        try:
            if s.security == ConnectionSecurity.TLS:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=TIMEOUT_SECONDS)
                if s.security == ConnectionSecurity.STARTTLS:
                    smtp.starttls(context=ssl.create_default_context())
            if s.user:
                smtp.login(s.user, s.password)
        except smtplib.SMTPAuthenticationError as error:
            words = _smtp_words(error.smtp_code, error.smtp_error)
            raise PermanentFailure(f"The mail server refused the login: {words}") from error
        except smtplib.SMTPResponseException as error:
            raise _classified(error.smtp_code, error.smtp_error) from error
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(
                f"Could not reach the mail server {s.host}:{s.port}: {error}"
            ) from error
        return smtp

    def send(
        self,
        mail: OutgoingMail,
        before_commit: Callable[[], None] | None = None,
        following: OutgoingMail | None = None,
    ) -> str | None:
        announced = self._in_data and self._announced is mail
        if self._in_data and not announced:
            self._drop()  # the server may wait for another mail's content: never send it this
        self._announced = None
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        recipients = mail.recipients
        if not recipients:
            raise PermanentFailure("The mail has no recipient address.")
        try:
            # smtplib.sendmail without discarding the final answer: its "queued as" id is the
            # provider's message id.
            smtp.ehlo_or_helo_if_needed()
            message = to_wire(mail)
            utf8 = _needs_utf8(mail) and smtp.has_extn("smtputf8")
            if smtp.has_extn("pipelining"):
                next_envelope = b""
                if following is not None and following.recipients:
                    next_utf8 = _needs_utf8(following) and smtp.has_extn("smtputf8")
                    next_envelope = _envelope(
                        following.envelope_sender, following.recipients, next_utf8
                    )
                self._in_data = True  # until the content is written (or the connection closed)
                code, answer = _send_pipelined(
                    smtp,
                    mail.envelope_sender,
                    recipients,
                    message,
                    utf8,
                    before_commit,
                    announced=announced,
                    next_envelope=next_envelope,
                )
                self._in_data = bool(next_envelope)
                self._announced = following if next_envelope else None
            else:
                code, answer = smtp.mail(mail.envelope_sender, ["SMTPUTF8"] if utf8 else [])
                if code != 250:
                    smtp.rset()
                    raise _classified(code, answer)
                refused = {}
                for recipient in recipients:
                    code, answer = smtp.rcpt(recipient)
                    if code not in (250, 251):
                        refused[recipient] = (code, answer)
                if len(refused) == len(recipients):
                    smtp.rset()
                    code, answer = next(iter(refused.values()))
                    raise _classified(code, answer)
                if before_commit is not None:
                    before_commit()
                code, answer = smtp.data(message)
            if code != 250:
                if not self._in_data:  # else RSET would become the next mail's content
                    smtp.rset()
                raise _classified(code, answer)
        except DeliveryFailure as failure:
            if failure.reason.split(": ", 1)[-1].startswith("421"):
                self.close()  # 421: the server is closing this connection
            raise
        except smtplib.SMTPResponseException as error:
            self.close()
            raise _classified(error.smtp_code, error.smtp_error) from error
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            raise TemporaryFailure(f"The connection to the mail server failed: {error}") from error
        text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
        match = _QUEUED_AS.search(text)
        return match.group(1) if match else None

    def close(self) -> None:
        if self._in_data:
            self._drop()  # QUIT now would be taken as a mail's content
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def _drop(self) -> None:
        """Close the connection without a word: a mail whose content did not end is dropped."""
        self._announced = None
        self._in_data = False
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def _envelope(sender: str, recipients: Sequence[str], utf8: bool) -> bytes:
    """MAIL, every RCPT and DATA, as one pipelined write."""
    options = " SMTPUTF8" if utf8 else ""
    commands = [f"MAIL FROM:{smtplib.quoteaddr(sender)}{options}"]
    commands += [f"RCPT TO:{smtplib.quoteaddr(recipient)}" for recipient in recipients]
    commands.append("DATA")
    return "".join(f"{command}\r\n" for command in commands).encode("utf-8" if utf8 else "ascii")


def _send_pipelined(
    smtp: smtplib.SMTP,
    sender: str,
    recipients: Sequence[str],
    message: bytes,
    utf8: bool,
    before_commit: Callable[[], None] | None,
    *,
    announced: bool = False,
    next_envelope: bytes = b"",
) -> tuple[int, bytes]:
    """One mail transaction over a server that offers PIPELINING (RFC 2920): MAIL, every RCPT
    and DATA go in one write and their replies are read after it, then the content: two round
    trips per mail instead of three plus one per recipient. `announced`: the envelope went
    with the previous mail's content (only its replies are read here); `next_envelope` goes
    with this content, so a run of mails costs one round trip each. Returns the reply to the
    content (or raises the refusal that came first, the transaction reset)."""
    if not announced:
        smtp.send(_envelope(sender, recipients, utf8))
    mail_reply = smtp.getreply()
    rcpt_replies = [smtp.getreply() for _ in recipients]
    data_reply = smtp.getreply()
    refused = [reply for reply in rcpt_replies if reply[0] not in (250, 251)]
    failure = None
    if mail_reply[0] != 250:
        failure = mail_reply
    elif len(refused) == len(recipients):
        failure = refused[0]
    elif data_reply[0] != 354:
        failure = data_reply
    if failure is not None:
        if data_reply[0] == 354:  # DATA was accepted anyway: end it empty, then reset
            smtp.send(b".\r\n")
            smtp.getreply()
        smtp.rset()
        raise _classified(*failure)
    if before_commit is not None:
        before_commit()
    content = _LEADING_DOT.sub(b"..", message)
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    smtp.send(content + b".\r\n" + next_envelope)
    return smtp.getreply()


def _needs_utf8(mail: OutgoingMail) -> bool:
    return not all(address.isascii() for address in [mail.envelope_sender, *mail.recipients])


def _classified(code: int, answer: bytes | str) -> DeliveryFailure:
    words = _smtp_words(code, answer)
    if 400 <= code < 500:
        return TemporaryFailure(f"The mail server deferred it: {words}")
    return PermanentFailure(f"The mail server refused it: {words}")


class SendGridTransport:
    """SendGrid's v3 API through its official client (`host` points it elsewhere in tests)."""

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com") -> None:
        from sendgrid import SendGridAPIClient

        self._client = SendGridAPIClient(api_key=api_key, host=host)
        self._client.client.timeout = TIMEOUT_SECONDS

    def send(
        self,
        mail: OutgoingMail,
        before_commit: Callable[[], None] | None = None,
        following: OutgoingMail | None = None,
    ) -> str | None:
        from python_http_client.exceptions import HTTPError

        if before_commit is not None:
            before_commit()
        try:
            response: Any = self._client.send(to_sendgrid(mail))
        except HTTPError as error:
            status = int(getattr(error, "status_code", 0) or 0)
            body = getattr(error, "body", b"")
            detail = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
            words = f"SendGrid answered {status}: {' '.join(detail.split())[:500]}"
            if status == 429 or status >= 500:
                raise TemporaryFailure(words) from error
            raise PermanentFailure(words) from error
        except (TimeoutError, URLError, OSError) as error:
            raise TemporaryFailure(f"Could not reach SendGrid: {error}") from error
        headers = getattr(response, "headers", None)
        return headers.get("X-Message-Id") if headers is not None else None

    def close(self) -> None:
        return None
