"""Mail out in Chromium against the production build: an agent's reply with a file and a Cc
(typed with the keyboard; a wrong address is refused in place) on an email ticket is queued,
sent (the job runs here, against a real SMTP server) and shown as sent; a refused one shows the
server's reason and Retry sends it; a manager reads what went out on "Sent mail (local)"."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from crm_app.settings import get_settings
from jobs import mail_send
from tests.e2e.conftest import E2eServices
from tests.e2e.session import signed_in
from tests.factories import first_manager, make_user
from tests.test_mail_out import RecordingSmtp, email_ticket, start_smtp

LIVE = 20_000


@pytest.fixture
def sink_and_refuser(e2e_services: E2eServices, monkeypatch: pytest.MonkeyPatch):
    """The session's local sink (files the web app lists, tests/e2e/conftest.py) and a
    second, scriptable SMTP server; this process (the jobs' step) sends to the sink."""
    refuser = RecordingSmtp()
    RecordingSmtp.current = refuser
    refusing = start_smtp(refuser)
    monkeypatch.setenv("CRM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CRM_SMTP_PORT", str(e2e_services.smtp_port))
    monkeypatch.setenv("CRM_SMTP_TLS", "none")
    monkeypatch.setenv("CRM_MAIL_FROM", "Firm Client Service <service@firm.example>")
    get_settings.cache_clear()

    def send_via(port: int) -> None:
        monkeypatch.setenv("CRM_SMTP_PORT", str(port))
        get_settings.cache_clear()

    try:
        yield e2e_services.mail_dir, refusing, refuser, send_via
    finally:
        refusing.stop()
        get_settings.cache_clear()


def test_reply_with_file_is_sent_a_refused_one_is_retried_and_managers_read_sent_mail(
    db: str, app_url: str, browser: Browser, shoot, sink_and_refuser
) -> None:
    mail_dir, refusing, refuser, send_via = sink_and_refuser
    agent = make_user("agent", name="Alice Archer")
    number = email_ticket(agent)
    context, page = signed_in(browser, app_url, agent.email, width=1280, height=900)
    page.goto(f"{app_url}/tickets/{number}")
    expect(page.locator("#ticket-title")).to_contain_text("Transfer to my savings", timeout=LIVE)
    expect(page.locator("#reply-note")).to_contain_text("Sent to the client by email")

    page.locator("#composer-files input[type=file]").set_input_files(
        files=[{"name": "statement.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4"}]
    )
    expect(page.locator("#staged-files")).to_contain_text("statement.pdf", timeout=LIVE)
    # Cc from the keyboard: a wrong entry is refused with its reason, a right one becomes a chip.
    expect(page.locator("#reply-to")).to_have_text("grace@x.example")
    cc_input = page.get_by_label("Add people to copy in Cc")
    cc_input.fill("bob at client")
    cc_input.press("Enter")
    expect(page.locator("#cc-error")).to_contain_text("is not an email address", timeout=LIVE)
    cc_input.fill("Bob@Client.example")
    cc_input.press("Enter")
    expect(page.locator(".cc-chip")).to_have_text("bob@client.example", timeout=LIVE)
    expect(page.locator("#cc-error")).to_have_count(0)
    expect(cc_input).to_have_value("")
    shoot(page, "mail-out-00-cc")
    page.locator("#composer").fill("Done: 5,000 EUR are on your savings account.")
    page.locator("#send").click()
    reply = page.locator(".message", has_text="5,000 EUR are on your savings")
    expect(reply.locator(".delivery-queued")).to_contain_text(
        "Queued for sending by email", timeout=LIVE
    )
    expect(reply.locator(".message-cc")).to_have_text("Cc: bob@client.example")
    shoot(page, "mail-out-01-queued")

    assert mail_send.run().sent == 1  # the jobs process's step, run here
    expect(reply.locator(".delivery-sent")).to_contain_text("Sent by email", timeout=LIVE)
    sent_files = list(mail_dir.glob("*.eml"))
    assert any(b"statement.pdf" in p.read_bytes() for p in sent_files)
    assert any(b"Cc: bob@client.example" in p.read_bytes() for p in sent_files)

    # The next one is refused for good: the reason shows, and Retry sends it.
    send_via(refusing.port)
    refuser.script = ["550 5.1.1 <grace@x.example>: mailbox unavailable"]
    page.locator("#composer").fill("One more thing about your transfer.")
    page.locator("#send").click()
    second = page.locator(".message", has_text="One more thing")
    expect(second.locator(".delivery-queued")).to_be_visible(timeout=LIVE)
    assert mail_send.run().failed == 1
    failed = second.locator(".delivery-failed")
    expect(failed).to_contain_text("550 5.1.1", timeout=LIVE)
    expect(failed).to_contain_text("mailbox unavailable")
    shoot(page, "mail-out-02-failed")
    failed.get_by_role("button", name="Retry").click()
    expect(second.locator(".delivery-queued")).to_be_visible(timeout=LIVE)
    assert mail_send.run().sent == 1
    expect(second.locator(".delivery-sent")).to_be_visible(timeout=LIVE)
    assert len(refuser.received) == 1
    shoot(page, "mail-out-03-retried")
    context.close()

    # A manager reads what the local sink received.
    manager = first_manager()
    context, page = signed_in(browser, app_url, manager.email, width=1280, height=900)
    expect(page.get_by_role("link", name="Sent mail (local)")).to_be_visible(timeout=LIVE)
    page.get_by_role("link", name="Sent mail (local)").click()
    row = page.locator(".sent-mail-row", has_text=f"[#{number}]")
    expect(row).to_have_count(1, timeout=LIVE)
    expect(row).to_contain_text("grace@x.example")
    row.locator(".open-mail").click()
    expect(page.locator("#sent-mail-text")).to_contain_text(
        "5,000 EUR are on your savings", timeout=LIVE
    )
    expect(page.locator("#sent-mail-headers")).to_contain_text("In-Reply-To")
    expect(page.locator("#sent-mail-headers")).to_contain_text("Message-ID")
    shoot(page, "mail-out-04-sent-mail")
    page.locator("#close-mail").click()
    context.close()
