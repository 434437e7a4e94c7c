"""The outbound "Test connection": connect, EHLO, TLS and sign in, and send nothing.

Shared with the sending side: `SmtpAccount` and `open_smtp` are how a mailbox's SMTP server is
reached, for a test here and for real deliveries by the outbox.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass

from crm_app.services.mail.imap_client import ConnectionReport, MailConnectionError
from models.mailbox import ConnectionSecurity

DEFAULT_TIMEOUT = 30.0
SENDGRID_SCOPES_URL = "https://api.sendgrid.com/v3/scopes"


@dataclass(frozen=True)
class SmtpAccount:
    host: str
    port: int
    security: str  # ConnectionSecurity
    user: str = ""
    password: str = ""

    def __repr__(self) -> str:  # never the password
        return f"SmtpAccount({self.user or '-'}@{self.host}:{self.port}, {self.security})"


def open_smtp(account: SmtpAccount, *, timeout: float = DEFAULT_TIMEOUT) -> smtplib.SMTP:
    """An SMTP session after EHLO, TLS (as configured) and login (when a user is set).

    Raises MailConnectionError with a text a manager can act on; the caller quits the session.
    """
    where = f"{account.host}:{account.port}"
    context = ssl.create_default_context()
    try:
        if account.security == ConnectionSecurity.TLS:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                account.host, account.port, timeout=timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(account.host, account.port, timeout=timeout)
    except (OSError, smtplib.SMTPException) as error:
        raise MailConnectionError(f"Could not reach the SMTP server {where}: {error}") from error
    try:
        smtp.ehlo()
        if account.security == ConnectionSecurity.STARTTLS:
            if not smtp.has_extn("starttls"):
                raise MailConnectionError(f"The SMTP server {where} does not offer STARTTLS.")
            smtp.starttls(context=context)
            smtp.ehlo()
        if account.user:
            smtp.login(account.user, account.password)
    except smtplib.SMTPAuthenticationError as error:
        _quit(smtp)
        raise MailConnectionError(
            f"The SMTP server {where} refused the user name or password."
        ) from error
    except MailConnectionError:
        _quit(smtp)
        raise
    except (OSError, smtplib.SMTPException) as error:
        _quit(smtp)
        raise MailConnectionError(f"SMTP session with {where} failed: {error}") from error
    return smtp


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def test_smtp(account: SmtpAccount, *, timeout: float = 15.0) -> ConnectionReport:
    """Connect, EHLO, TLS and login; no mail is sent."""
    try:
        smtp = open_smtp(account, timeout=timeout)
    except MailConnectionError as error:
        return ConnectionReport(False, str(error))
    secured = "TLS" if account.security != ConnectionSecurity.NONE else "no TLS"
    signed_in = "signed in" if account.user else "no login needed"
    _quit(smtp)
    return ConnectionReport(
        True, f"SMTP OK: {account.host}:{account.port}, {secured}, {signed_in}."
    )


def test_sendgrid(api_key: str, *, timeout: float = 15.0) -> ConnectionReport:
    """Ask SendGrid which scopes the key has (a read; nothing is sent)."""
    request = urllib.request.Request(
        SENDGRID_SCOPES_URL, headers={"Authorization": f"Bearer {api_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            scopes = json.loads(response.read() or b"{}").get("scopes", [])
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            return ConnectionReport(False, "SendGrid refused the API key.")
        return ConnectionReport(False, f"SendGrid answered HTTP {error.code}.")
    except (OSError, ValueError) as error:
        return ConnectionReport(False, f"Could not reach SendGrid: {error}")
    if "mail.send" not in scopes:
        return ConnectionReport(False, "The SendGrid key works but may not send mail (mail.send).")
    return ConnectionReport(True, "SendGrid OK: the key may send mail.")
