"""The embedded default: with no mail server configured, replies go to the local SMTP sink, and
managers (only) read what it received, page by page, with no way to reach other files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_app import navigation, routes
from crm_app.services import system_mail, tickets
from crm_app.services.errors import NotFound, PermissionDenied
from crm_app.settings import get_settings
from jobs import mail_send
from tests.factories import first_manager, make_user
from tests.test_mail_out import RecordingSmtp, email_ticket


@pytest.fixture
def local_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """What `scripts/run` does without CRM_SMTP_HOST: the sink, and the settings pointing at it."""
    folder = tmp_path / "mail"
    sink = system_mail.start_sink(folder)
    monkeypatch.setenv("CRM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CRM_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("CRM_SMTP_TLS", "none")
    monkeypatch.setenv("CRM_MAIL_SINK_DIR", str(folder))
    get_settings.cache_clear()
    RecordingSmtp.current = RecordingSmtp()  # email_ticket's notice clearing: nothing to clear
    try:
        yield folder
    finally:
        system_mail.flush()
        sink.stop()
        get_settings.cache_clear()


def test_replies_land_in_the_local_sink_and_managers_read_them(db: str, local_sink: Path) -> None:
    agent = make_user("agent")
    number = email_ticket(agent)
    tickets.add_message(agent, number, "Your statement is attached.")
    assert mail_send.run().sent == 1
    system_mail.flush()
    manager = first_manager()
    listing = system_mail.list_sink(manager)
    assert listing.in_use
    [reply] = [r for r in listing.rows if f"[#{number}]" in r.subject]
    assert reply.recipients == "grace@x.example"
    mail = system_mail.read_sink_mail(manager, reply.name)
    assert "Your statement is attached." in mail.text
    names = [name for name, _ in mail.headers]
    assert {"Message-ID", "In-Reply-To", "References", "From", "To"} <= set(names)


def test_sent_mail_is_paginated_newest_first(db: str, local_sink: Path) -> None:
    manager = make_user("manager")
    system_mail.flush()
    for i in range(system_mail.SINK_PAGE_SIZE + 3):
        # Names sort by time, then a random id: write them as the sink does, in order.
        mail = f"From: a@b.example\r\nTo: c@d.example\r\nSubject: mail {i}\r\n\r\nbody {i}\r\n"
        (local_sink / f"20261201T1000{i:02d}-{i:012x}.eml").write_bytes(mail.encode())
    listing = system_mail.list_sink(manager, 1)
    own = [r for r in listing.rows if r.subject.startswith("mail ")]
    assert own[0].subject == f"mail {system_mail.SINK_PAGE_SIZE + 2}"
    assert listing.page_count == -(-listing.total // system_mail.SINK_PAGE_SIZE)
    last = system_mail.list_sink(manager, 999)  # past the end: the last page
    assert last.page == listing.page_count and last.rows


def test_sent_mail_is_for_managers_only_and_opens_only_sink_files(
    db: str, local_sink: Path
) -> None:
    for role in ("agent", "marketing", "client", None):
        with pytest.raises(PermissionDenied):
            system_mail.list_sink(make_user(role))
    manager = first_manager()
    (local_sink.parent / "secret.eml").write_bytes(b"Subject: not yours\r\n\r\nx")
    for name in ("../secret.eml", "secret.eml", "/etc/passwd", "20261201T100000-000000000000.eml"):
        with pytest.raises(NotFound):
            system_mail.read_sink_mail(manager, name)


def test_without_the_local_sink_the_page_says_so_and_the_sidebar_hides_it(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_MAIL_SINK_DIR", raising=False)
    get_settings.cache_clear()
    try:
        manager = make_user("manager")
        assert system_mail.list_sink(manager).in_use is False
        assert navigation._local_mail() == ()
        monkeypatch.setenv("CRM_MAIL_SINK_DIR", "/tmp/sink")
        get_settings.cache_clear()
        assert [e.route for e in navigation._local_mail()] == [routes.SENT_MAIL]
    finally:
        get_settings.cache_clear()
