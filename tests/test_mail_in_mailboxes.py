"""The mailbox settings service: managers only, secrets write-only and encrypted, every change
audited, and the connection tests against real servers (Dovecot, aiosmtpd)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_app.db import session_scope
from crm_app.services import mailboxes, system_mail
from crm_app.services.errors import InvalidInput, PermissionDenied
from models.audit import AuditLog
from models.mailbox import Mailbox
from tests.factories import first_manager, make_user
from tests.mail_servers import make_mailbox


def test_secrets_are_write_only_encrypted_and_every_change_is_audited(db, mail_account):
    box = make_mailbox(mail_account)
    manager = first_manager()
    row = mailboxes.get_mailbox(manager, box)
    assert row.imap_password_set and not row.smtp_password_set
    assert mail_account.password not in repr(row)
    with session_scope() as session:
        stored = session.get(Mailbox, box)
        assert stored.imap_secret and mail_account.password not in stored.imap_secret
    # An empty password field keeps the stored one; a typed one replaces it.
    mailboxes.save_mailbox(manager, box, {"name": "Service desk", "imap_password": ""})
    assert mailboxes.get_mailbox(manager, box).imap_password_set
    mailboxes.save_mailbox(
        manager, box, {"smtp_password": "new-secret", "outbound": "smtp", "smtp_host": "127.0.0.1"}
    )
    mailboxes.set_enabled(manager, box, False)
    with session_scope() as session:
        entries = session.execute(
            select(AuditLog.action, AuditLog.changes)
            .where(AuditLog.entity_type == "mailbox")
            .order_by(AuditLog.id)
        ).all()
    assert [action for action, _ in entries] == [
        "mailbox.created",
        "mailbox.updated",
        "mailbox.updated",
        "mailbox.disabled",
    ]
    assert entries[1].changes["name"] == ["Client service", "Service desk"]
    assert entries[2].changes["smtp_password"] == "changed"
    assert "new-secret" not in str(entries) and mail_account.password not in str(entries)
    mailboxes.remove_mailbox(manager, box)
    assert mailboxes.list_mailboxes(manager) == []


def test_only_managers_manage_mailboxes(db):
    agent = make_user("agent")
    for call in (
        lambda: mailboxes.list_mailboxes(agent),
        lambda: mailboxes.save_mailbox(agent, None, {"name": "x", "address": "x@firm.example"}),
        lambda: mailboxes.test_incoming(agent, 1),
        lambda: mailboxes.remove_mailbox(agent, 1),
    ):
        with pytest.raises(PermissionDenied):
            call()


def test_a_mailbox_needs_a_valid_address_and_its_password(db):
    make_user("agent")
    manager = first_manager()
    with pytest.raises(InvalidInput, match="email address"):
        mailboxes.save_mailbox(manager, None, {"name": "Desk", "address": "not-an-address"})
    with pytest.raises(InvalidInput, match="IMAP password"):
        mailboxes.save_mailbox(
            manager,
            None,
            {
                "name": "Desk",
                "address": "desk@firm.example",
                "imap_host": "imap.firm.example",
                "imap_user": "desk",
            },
        )


def test_connection_tests_report_clearly_for_both_directions(db, mail_account, tmp_path):
    box = make_mailbox(mail_account, imap_folders="INBOX\nMissing")
    manager = first_manager()
    report = mailboxes.test_incoming(manager, box)
    assert not report.ok and "Missing" in report.message
    mailboxes.save_mailbox(manager, box, {"imap_folders": "INBOX"})
    assert mailboxes.test_incoming(manager, box).ok
    mailboxes.save_mailbox(manager, box, {"imap_password": "wrong"})
    report = mailboxes.test_incoming(manager, box)
    assert not report.ok and "refused the user name or password" in report.message

    sink = system_mail.start_sink(tmp_path / "sent")
    try:
        mailboxes.save_mailbox(
            manager,
            box,
            {
                "outbound": "smtp",
                "smtp_host": "127.0.0.1",
                "smtp_port": sink.port,
                "smtp_security": "none",
            },
        )
        report = mailboxes.test_outgoing(manager, box)
        assert report.ok and "SMTP OK" in report.message
        assert not list((tmp_path / "sent").glob("*"))  # nothing was sent
    finally:
        sink.stop()
    report = mailboxes.test_outgoing(manager, box)
    assert not report.ok and "Could not reach the SMTP server" in report.message


def test_the_outgoing_test_names_the_products_own_settings_whether_or_not_a_server_is_set(
    db, mail_account, tmp_path, monkeypatch
):
    from crm_app.settings import get_settings

    box = make_mailbox(mail_account)
    manager = first_manager()
    mailboxes.save_mailbox(manager, box, {"outbound": "system"})
    monkeypatch.delenv("CRM_SMTP_HOST", raising=False)
    get_settings.cache_clear()
    try:
        report = mailboxes.test_outgoing(manager, box)
        assert report.ok and "product's own mail settings" in report.message
        assert "local mail sink" in report.message
        sink = system_mail.start_sink(tmp_path / "sent")
        try:
            monkeypatch.setenv("CRM_SMTP_HOST", "127.0.0.1")
            monkeypatch.setenv("CRM_SMTP_PORT", str(sink.port))
            monkeypatch.setenv("CRM_SMTP_TLS", "none")
            get_settings.cache_clear()
            report = mailboxes.test_outgoing(manager, box)
            assert report.ok and "product's own mail settings" in report.message
            assert "SMTP OK" in report.message
        finally:
            sink.stop()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
