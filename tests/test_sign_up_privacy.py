"""Sign-up never tells a visitor whether an address is registered, mails the address's owner
instead (through a real SMTP server), and refuses easily guessed passwords."""

from __future__ import annotations

import email
import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_app.db import session_scope
from crm_app.services import accounts, system_mail
from crm_app.services.errors import InvalidInput
from crm_app.settings import get_settings
from models.user import User
from tests.factories import PASSWORD


@pytest.fixture
def mail_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real aiosmtpd server storing mail as files; the CRM configured to send to it."""
    system_mail.flush()  # mail queued by earlier tests goes where it was meant to
    folder = tmp_path / "mail"
    sink = system_mail.start_sink(folder)
    monkeypatch.setenv("CRM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CRM_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("CRM_SMTP_TLS", "none")
    monkeypatch.setenv("CRM_MAIL_FROM", "Finance CRM <no-reply@firm.example>")
    get_settings.cache_clear()
    try:
        yield folder
    finally:
        system_mail.flush()
        sink.stop()
        get_settings.cache_clear()


def _mails(folder: Path) -> list[email.message.EmailMessage]:
    system_mail.flush()
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def test_sign_up_with_a_registered_address_answers_the_same_and_mails_the_owner(
    db: str, mail_sink: Path
) -> None:
    accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    accounts.sign_up("ada@firm.example", "Ada", PASSWORD)
    # No error, nothing changed, nothing a form could show differently.
    assert accounts.sign_up("Ada@firm.example", "Eve", "another fine passphrase") is None
    with session_scope() as session:
        assert session.execute(select(func.count()).select_from(User)).scalar_one() == 2
        assert (
            session.execute(select(User.name).where(User.email == "ada@firm.example")).scalar_one()
            == "Ada"
        )
    # Sent from background threads: in either order.
    welcome, warning = sorted(_mails(mail_sink), key=lambda m: "was created" not in m.get_content())
    assert welcome["To"] == "ada@firm.example" and "was created" in welcome.get_content()
    assert warning["To"] == "ada@firm.example"
    assert warning["Subject"] == "Someone tried to sign up with your address"
    assert "sign in" in warning.get_content() and "reset" in warning.get_content()
    assert warning["From"] == "Finance CRM <no-reply@firm.example>"
    assert all(p.stat().st_mode & 0o077 == 0 for p in mail_sink.glob("*.eml"))


def test_repeated_sign_ups_with_a_registered_address_send_one_notice_an_hour(
    db: str, mail_sink: Path
) -> None:
    accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    for name in ("Eve", "Visit http://evil.example now", "Eve again"):
        assert accounts.sign_up("boss@firm.example", name, "another fine passphrase") is None
    (notice,) = _mails(mail_sink)
    assert "evil" not in notice.get_content()


def test_sign_up_succeeds_quickly_when_the_mail_server_is_down(
    db: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CRM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CRM_SMTP_PORT", "9")  # nothing listens: connection refused
    monkeypatch.setenv("CRM_SMTP_TLS", "none")
    get_settings.cache_clear()
    try:
        accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
        started = time.monotonic()
        assert accounts.sign_up("new@firm.example", "New", PASSWORD) is not None
        assert accounts.sign_up("new@firm.example", "New", PASSWORD) is None
        assert time.monotonic() - started < 5
        with caplog.at_level(logging.ERROR, logger="crm_app.system_mail"):
            system_mail.flush()
        assert any("not sent" in r.getMessage() for r in caplog.records)
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaa",
        "password123",
        "qwertyuiop",
        "1234567890",
        "Password2026!",
    ],
)
def test_easily_guessed_passwords_are_refused_with_a_reason(db: str, password: str) -> None:
    with pytest.raises(InvalidInput, match="stronger password") as refused:
        accounts.create_first_manager("boss@firm.example", "Boss", password)
    assert len(refused.value.message) > len("Choose a stronger password. ")
    accounts.create_first_manager("boss@firm.example", "Boss", PASSWORD)
    with pytest.raises(InvalidInput, match="stronger password"):
        accounts.sign_up("new@firm.example", "New", password)


def test_a_password_made_of_the_users_own_email_is_refused(db: str) -> None:
    with pytest.raises(InvalidInput, match="stronger password"):
        accounts.create_first_manager("morgan.smith@firm.example", "Morgan Smith", "morgansmith1")


def test_the_embedded_sink_stores_mail_sent_by_the_crm(tmp_path: Path) -> None:
    sink = system_mail.start_sink(tmp_path)
    try:
        settings = get_settings()
        sent = system_mail.send_now(
            system_mail.SystemMail(to="x@firm.example", subject="Hello", body="Body"),
            replace(settings, smtp_host="127.0.0.1", smtp_port=sink.port, smtp_tls="none"),
        )
        assert sent
        (stored,) = tmp_path.glob("*.eml")
        assert b"Subject: Hello" in stored.read_bytes()
    finally:
        sink.stop()
