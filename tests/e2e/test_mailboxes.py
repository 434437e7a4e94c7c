"""The mailboxes page in Chromium, against a real Dovecot: a manager adds the firm's mailbox,
the password is never shown again, "Test incoming" signs in to the server, a poll turns mail
into a ticket and the page shows its health and a failed import; agents do not see the page."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from jobs.imap_poll import poll_mailbox
from tests.e2e.session import signed_in
from tests.factories import make_user
from tests.mail_servers import simple_message

TIMEOUT = 60_000


def test_manager_adds_tests_and_watches_a_mailbox(
    db: str, app_url: str, browser: Browser, dovecot, shoot
) -> None:
    account = dovecot.add_user("service@firm.example")
    manager = make_user("manager")
    _, page = signed_in(browser, app_url, manager.email, timeout=TIMEOUT, height=1100)
    page.get_by_role("link", name="Mailboxes").click()
    expect(page).to_have_url(re.compile(r"/settings/mailboxes$"), timeout=TIMEOUT)
    expect(page.get_by_text("No mailboxes yet")).to_be_visible()
    shoot(page, "mailboxes-empty")

    page.locator("#add-mailbox").click()
    page.locator("#mailbox-name").fill("Client service")
    page.locator("#mailbox-address").fill(account.user)
    page.locator("#mailbox-imap-host").fill(account.host)
    page.locator("#mailbox-imap-port").fill(str(account.port))
    page.locator("#mailbox-imap-security").click()
    page.get_by_role("option", name="none").click()
    page.locator("#mailbox-imap-user").fill(account.user)
    page.locator("#mailbox-imap-password").fill(account.password)
    shoot(page, "mailboxes-form")
    page.locator("#save-mailbox").click()
    expect(page.get_by_text(f"Mailbox {account.user} added")).to_be_visible()
    row = page.locator(".mailbox-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Not polled yet")
    assert account.password not in page.content()

    row.locator(".test-incoming").click()
    expect(page.locator("#mailbox-test-result")).to_contain_text("IMAP OK", timeout=TIMEOUT)
    row.locator(".test-outgoing").click()
    expect(page.locator("#mailbox-test-result")).to_contain_text(
        "product's own mail settings", timeout=TIMEOUT
    )

    # Write-only secret: editing shows it as set, with an empty field.
    row.locator(".edit-mailbox").click()
    expect(page.locator("#mailbox-imap-password")).to_have_value("")
    expect(page.locator("#mailbox-form")).to_contain_text("set")
    page.get_by_role("button", name="Cancel").click()

    dovecot.append(
        account,
        [
            simple_message(
                sender="ada@client.example",
                to=account.user,
                subject="Please call me",
                body="About my pension.",
                message_id="<e2e1@client.example>",
            ),
            b"\x01\x02 not a message at all\r\n",
        ],
    )
    from crm_app.services import mailboxes
    from tests.factories import first_manager

    [box] = mailboxes.list_mailboxes(first_manager())
    result = poll_mailbox(box.id)
    assert result is not None and (result.imported, result.failed) == (1, 1)
    page.reload()
    expect(row).to_contain_text("1 imported", timeout=TIMEOUT)
    expect(row).to_contain_text("1 failed")
    expect(page.locator(".failed-import-row")).to_contain_text("not a mail message")
    shoot(page, "mailboxes-with-health")

    # The client's answer with quoted history, a signature and an inline image: the timeline
    # shows the new text and the image, and folds the rest away until asked.
    from sqlalchemy import select

    from crm_app.db import session_scope
    from models.ticket import Ticket
    from tests.test_mail_in import _with_attachments

    with session_scope() as session:
        number = session.execute(select(Ticket.number)).scalar_one()
    dovecot.append(
        account,
        [
            simple_message(
                sender="ada@client.example",
                to=account.user,
                subject=f"Re: Please call me [#{number}]",
                body="Tomorrow at ten works for me.\n\nOn Mon, Dec 1, 2026 at 9:00 AM Client "
                "service wrote:\n> When may we call you?\n> About your pension.",
                message_id="<e2e2@client.example>",
                in_reply_to="<e2e1@client.example>",
            ),
            _with_attachments()
            .replace(b"<att@client.example>", b"<e2e3@client.example>")
            .replace(b"Subject: Statement", f"Subject: Statement [#{number}]".encode()),
        ],
    )
    assert poll_mailbox(box.id).imported == 2
    page.goto(f"{app_url}/tickets/{number}")
    folded = page.locator(".quoted-text")
    expect(folded).to_have_count(1, timeout=TIMEOUT)
    expect(page.get_by_text("Tomorrow at ten works for me.")).to_be_visible()
    expect(folded.get_by_text("When may we call you?", exact=False)).not_to_be_visible()
    folded.locator("summary").click()
    expect(folded.get_by_text("When may we call you?", exact=False)).to_be_visible()
    image = page.locator(".inline-image img")
    expect(image).to_have_count(1)
    page.wait_for_function(
        "() => { const i = document.querySelector('.inline-image img'); "
        "return i && i.complete && i.naturalWidth > 0; }",
        timeout=TIMEOUT,
    )
    expect(page.locator("a.attachment", has_text="statement.pdf")).to_be_visible()
    shoot(page, "mail-ticket-timeline")

    page.goto(f"{app_url}/settings/mailboxes")
    row.locator(".toggle-mailbox").click()
    expect(row).to_contain_text("disabled", timeout=TIMEOUT)
    page.context.close()

    agent = make_user("agent")
    _, page = signed_in(browser, app_url, agent.email, timeout=TIMEOUT)
    expect(page.get_by_role("link", name="Mailboxes")).to_have_count(0)
    page.context.close()
