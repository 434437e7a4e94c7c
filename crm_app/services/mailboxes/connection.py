"""A mailbox's IMAP and SMTP accounts, secrets decrypted, and the connection tests the page
runs."""

from __future__ import annotations

from crm_app.auth.permissions import Action, Actor, require
from crm_app.crypto import SecretUnreadable, decrypt_secret
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.mail.imap_client import ConnectionReport, ImapAccount, parse_folders
from crm_app.services.mail.smtp_test import SmtpAccount
from crm_app.settings import get_settings
from models.mailbox import ConnectionSecurity, Mailbox, OutboundKind


def _secret(token: str | None) -> str:
    if not token:
        return ""
    try:
        return decrypt_secret(token)
    except SecretUnreadable as error:
        raise InvalidInput(
            "A stored password cannot be decrypted with this installation's key: enter it again."
        ) from error


def _imap_account(box: Mailbox) -> ImapAccount:
    return ImapAccount(
        host=box.imap_host,
        port=box.imap_port,
        security=box.imap_security,
        user=box.imap_user,
        password=_secret(box.imap_secret),
        folders=parse_folders(box.imap_folders),
    )


def smtp_account(box: Mailbox) -> SmtpAccount | None:
    """The SMTP server replies from `box` go through (None: SendGrid). For the sending side:
    the product's own mail settings when the mailbox uses them."""
    if box.outbound == OutboundKind.SENDGRID:
        return None
    if box.outbound == OutboundKind.SYSTEM:
        settings = get_settings()
        security = {"ssl": ConnectionSecurity.TLS, "starttls": ConnectionSecurity.STARTTLS}.get(
            settings.smtp_tls, ConnectionSecurity.NONE
        )
        return SmtpAccount(
            host=settings.smtp_host or "",
            port=settings.smtp_port,
            security=security,
            user=settings.smtp_user or "",
            password=settings.smtp_password or "",
        )
    return SmtpAccount(
        host=box.smtp_host,
        port=box.smtp_port,
        security=box.smtp_security,
        user=box.smtp_user,
        password=_secret(box.smtp_secret),
    )


def _load(mailbox_id: int) -> Mailbox:
    with session_scope() as session:
        box = session.get(Mailbox, mailbox_id)
        if box is None:
            raise NotFound("There is no such mailbox.")
        session.expunge(box)
        return box


def test_incoming(actor: Actor, mailbox_id: int) -> ConnectionReport:
    """Sign in to the mailbox's IMAP server and open its folders (nothing is fetched).
    Side effects: none (a test is not audited)."""
    require(actor, Action.MANAGE_MAILBOXES)
    from crm_app.services.mail import imap_client

    box = _load(mailbox_id)
    if not box.imap_host:
        return ConnectionReport(False, "No IMAP server is set: this mailbox only sends.")
    return imap_client.test_connection(_imap_account(box))


def test_outgoing(actor: Actor, mailbox_id: int) -> ConnectionReport:
    """Connect, EHLO, TLS and sign in to the mailbox's SMTP server, or check its SendGrid key;
    nothing is sent. Side effects: none."""
    require(actor, Action.MANAGE_MAILBOXES)
    from crm_app.services.mail import smtp_test

    box = _load(mailbox_id)
    if box.outbound == OutboundKind.SENDGRID:
        return smtp_test.test_sendgrid(_secret(box.sendgrid_secret))
    account = smtp_account(box)
    assert account is not None
    if not account.host:
        if box.outbound == OutboundKind.SYSTEM:
            return ConnectionReport(
                True,
                "Uses the product's own mail settings: no CRM_SMTP_HOST is set, so replies "
                "go to the local mail sink (readable under Sent mail).",
            )
        return ConnectionReport(False, "No SMTP server is set.")
    report = smtp_test.test_smtp(account)
    if box.outbound == OutboundKind.SYSTEM:
        return ConnectionReport(
            report.ok, f"Uses the product's own mail settings. {report.message}"
        )
    return report
