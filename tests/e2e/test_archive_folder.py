"""A mailbox folder imported as an archive in Chromium: a manager picks the mailbox, the server
lists its folders with their counts, the folder is queued with the intake label, and the page
follows the import (the job's work, run here) to its end."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from jobs import pst_ingest
from tests.e2e.session import signed_in
from tests.factories import first_manager
from tests.mail_servers import make_mailbox, simple_message

TIMEOUT = 60_000
FOLDER = "Desk archive 2019"


def test_manager_imports_a_mailbox_folder_and_follows_it_live(
    db: str, app_url: str, browser: Browser, shoot, dovecot, mail_account
) -> None:
    mails = [
        simple_message(
            sender=f"client{n}@bank.example",
            to=mail_account.user,
            subject=f"Bond ladder question {n}",
            body="When does the next rung mature?",
            message_id=f"<ladder-{n}@bank.example>",
        )
        for n in range(9)
    ]
    dovecot.append(mail_account, mails, folder=FOLDER)
    make_mailbox(mail_account)
    manager = first_manager()
    _, page = signed_in(browser, app_url, manager.email, timeout=TIMEOUT, width=1280, height=1000)
    page.goto(f"{app_url}/settings/archives")
    expect(page.get_by_text("No archives yet")).to_be_visible(timeout=TIMEOUT)
    page.locator("#archive-label").fill("Desk 2019")
    expect(page.locator("#archive-intake-summary")).to_contain_text("Desk 2019", timeout=TIMEOUT)

    page.locator("#archive-imap-mailbox").click()
    page.get_by_role("option", name=re.compile(re.escape(mail_account.user))).click()
    page.locator("#archive-imap-folder").click()
    page.get_by_role("option", name=f"{FOLDER} · 9 messages").click()
    shoot(page, "archive-folder-picked")
    page.locator("#archive-imap-import").click()
    expect(page.get_by_text("Folder queued for import")).to_be_visible(timeout=TIMEOUT)
    row = page.locator(".archive-row", has_text="Desk 2019")
    expect(row).to_contain_text("queued", timeout=TIMEOUT)
    expect(row).to_contain_text(FOLDER)

    assert [r.status for r in pst_ingest.drain()] == ["done"]
    expect(row).to_contain_text("done", timeout=TIMEOUT)
    expect(row).to_contain_text("9 stored")
    shoot(page, "archive-folder-imported")
    page.context.close()
