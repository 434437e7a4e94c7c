"""The ticket composer in Chromium against the production build: a macro only drafts until the
reply is sent (discarding it changes nothing), files attach in the composer and download from
the timeline, the bell tells an agent what concerns them, and replies with long unbroken text
stay clear of the side panel at 1280 and 1440 px."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, expect

from crm_app.services import macros, tickets
from tests.e2e.session import signed_in
from tests.factories import make_client, make_user

LIVE = 15_000
LONG_URL = "https://statements.example.com/download?ref=" + "A1b2C3d4E5" * 16
IBAN_RUN = "GB82WEST12345698765432" * 9


def test_macro_waits_for_the_send_and_a_discarded_draft_changes_nothing(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    alice = make_user("agent", name="Alice Archer")
    number = tickets.create_ticket(
        alice,
        client_id=make_client(alice, "Ada Lovelace"),
        subject="Is my withdrawal done?",
        body="Please confirm my withdrawal.",
    ).number
    tickets.add_message(alice, number, "We are checking.")  # the ticket is now open
    macros.save_macro(
        alice,
        title="Withdrawal done",
        set_status="resolved",
        set_priority="low",
        body="Dear {client.first_name}, your withdrawal is done. {agent.name}",
    )
    context, page = signed_in(browser, app_url, alice.email, width=1280, height=900)
    page.goto(f"{app_url}/tickets/{number}")
    expect(page.locator("#ticket-title")).to_contain_text("Is my withdrawal done?")

    def choose_macro() -> None:
        page.locator("#macro-select").click()
        page.get_by_role("option", name="Withdrawal done").click()
        expect(page.locator("#composer")).to_have_value(
            "Dear Ada, your withdrawal is done. Alice Archer"
        )

    choose_macro()
    expect(page.locator("#macro-status-chip")).to_contain_text("resolved")
    expect(page.locator("#macro-priority-chip")).to_contain_text("low")
    expect(page.locator("#status-select")).to_have_text("open")
    shoot(page, "composer-01-macro-chips")
    unchanged = tickets.get_ticket(alice, number).ticket
    assert (unchanged.status, unchanged.priority) == ("open", "normal")

    page.locator("#discard-draft").click()
    expect(page.locator("#composer")).to_have_value("")
    expect(page.locator("#macro-changes")).to_have_count(0)
    after_discard = tickets.get_ticket(alice, number).ticket
    assert (after_discard.status, after_discard.priority, after_discard.version) == (
        "open",
        "normal",
        unchanged.version,
    )

    choose_macro()
    page.get_by_role("button", name="Do not change the priority").click()
    expect(page.locator("#macro-priority-chip")).to_have_count(0)
    page.locator("#send").click()
    expect(page.locator(".message", has_text="your withdrawal is done")).to_be_visible()
    expect(page.locator("#status-select")).to_have_text("resolved")
    expect(page.locator("#priority-select")).to_have_text("normal")
    expect(page.locator("#macro-changes")).to_have_count(0)
    sent = tickets.get_ticket(alice, number)
    assert (sent.ticket.status, sent.ticket.priority) == ("resolved", "normal")
    [entry] = [h for h in sent.history if h.action == "message added" and "status" in h.changes]
    assert "open → resolved" in entry.changes and "Withdrawal done" in entry.changes
    shoot(page, "composer-02-macro-sent")
    context.close()


def test_send_carries_the_composers_text_so_keystrokes_the_server_has_not_seen_are_sent(
    db: str, app_url: str, browser: Browser
) -> None:
    """The composer's own updates are debounced and may reach a busy server after the send:
    the reply saved is the text on screen when Ctrl+Enter was pressed, not the last update."""
    alice = make_user("agent")
    number = tickets.create_ticket(
        alice, client_id=make_client(alice), subject="Transfer status", body="Where is it?"
    ).number
    context, page = signed_in(browser, app_url, alice.email, width=1280, height=900)
    page.goto(f"{app_url}/tickets/{number}")
    composer = page.locator("#composer")
    composer.fill("Your transfer")
    expect(page.locator("#send")).to_be_enabled()  # the server has this much
    # Text the server has not been told of (no input event, as if the update were in flight).
    composer.evaluate("el => { el.value = 'Your transfer left us today at 10:40.'; }")
    composer.focus()
    page.keyboard.press("Control+Enter")
    expect(page.locator(".message", has_text="left us today at 10:40")).to_be_visible()
    bodies = [m.body_text for m in tickets.get_ticket(alice, number).messages]
    assert bodies[-1] == "Your transfer left us today at 10:40."
    assert "Your transfer" not in bodies[:-1]  # sent once, whole
    expect(composer).to_have_value("")
    context.close()


def test_files_attach_in_the_composer_and_download_from_the_timeline(
    db: str, app_url: str, browser: Browser, shoot, tmp_path: Path
) -> None:
    alice = make_user("agent", name="Alice Archer")
    number = tickets.create_ticket(
        alice,
        client_id=make_client(alice, "Ada Lovelace"),
        subject="Statement please",
        body="Send my statement.",
    ).number
    context, page = signed_in(browser, app_url, alice.email, width=1280, height=900)
    page.goto(f"{app_url}/tickets/{number}")
    picker = page.locator("#composer-files input[type=file]")
    statement = b"%PDF-1.4 statement for Ada\n" * 2000
    picker.set_input_files(
        files=[
            {"name": "statement-Q3.pdf", "mimeType": "application/pdf", "buffer": statement},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"},
        ]
    )
    expect(page.locator("#staged-files")).to_contain_text("statement-Q3.pdf (53 KB)")
    expect(page.locator("#staged-files")).to_contain_text("notes.txt (5 B)")
    page.locator(".staged-file", has_text="notes.txt").get_by_role(
        "button", name="Remove this file"
    ).click()
    expect(page.locator(".staged-file")).to_have_count(1)
    # Too large for the limit: refused in the browser before any upload.
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as sparse:
        sparse.truncate(25 * 1024 * 1024 + 1)
    picker.set_input_files(str(huge))
    expect(page.locator("#upload-error")).to_contain_text("25.0 MB each")
    page.locator("#composer").fill("Here is your statement.")
    shoot(page, "composer-03-files-staged")
    page.locator("#send").click()
    reply = page.locator(".message", has_text="Here is your statement.")
    link = reply.locator("a.attachment")
    expect(link).to_contain_text("statement-Q3.pdf")
    expect(link).to_contain_text("53 KB")
    expect(page.locator("#staged-files")).to_have_count(0)
    expect(page.locator("#composer")).to_have_value("")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "statement-Q3.pdf"
    assert Path(download.value.path()).read_bytes() == statement
    href = link.get_attribute("href")
    signed = context.request.get(f"{app_url}{href}")
    assert signed.status == 200 and signed.headers["x-content-type-options"] == "nosniff"
    assert signed.headers["content-disposition"].startswith("attachment;")
    try:
        urllib.request.urlopen(f"{app_url}{href}", timeout=10)
        raise AssertionError("an anonymous download was served")
    except urllib.error.HTTPError as refused:
        assert refused.code == 401
    shoot(page, "composer-04-attachment-in-timeline")
    context.close()


def test_the_bell_shows_what_concerns_me_and_opens_the_ticket(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    alice = make_user("agent", name="Alice Archer")
    bob = make_user("agent", name="Bob Baker")
    ada = make_client(bob, "Ada Lovelace")
    first = tickets.create_ticket(
        bob, client_id=ada, subject="Wire to Zurich", body="Where is my wire?"
    ).number
    context, page = signed_in(browser, app_url, alice.email, width=1280, height=900)
    expect(page.locator("#notification-bell")).to_be_visible()
    expect(page.locator("#bell-count")).to_have_count(0)
    page.locator("#notification-bell").click()
    expect(page.locator("#notification-list")).to_contain_text("Nothing new")
    page.keyboard.press("Escape")

    tickets.update_ticket(bob, first, expected_version=None, assignee_id=alice.user_id)
    tickets.add_message(bob, first, "@Alice Archer can you take this one?", internal=True)
    expect(page.locator("#bell-count")).to_have_text("2", timeout=LIVE)
    page.locator("#notification-bell").click()
    expect(page.locator(".notification.unread")).to_have_count(2)
    expect(page.locator("#notification-list")).to_contain_text(
        f"#{first} assigned to you by Bob Baker"
    )
    expect(page.locator("#notification-list")).to_contain_text("Bob Baker mentioned you")
    shoot(page, "composer-05-bell-open")
    page.locator(".notification", has_text="assigned to you").click()
    expect(page).to_have_url(re.compile(rf"/tickets/{first}$"))
    expect(page.locator("#bell-count")).to_have_text("1")
    context.close()


def test_agent_replies_never_overlap_the_side_panel(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    alice = make_user("agent", name="Alice Archer")
    number = tickets.create_ticket(
        alice,
        client_id=make_client(alice, "Ada Lovelace"),
        subject="Where do I download it?",
        body=f"The link {LONG_URL} does not open.",
    ).number
    tickets.add_message(alice, number, f"Use this link: {LONG_URL}")
    tickets.add_message(alice, number, f"IBANs on file: {IBAN_RUN}", internal=True)
    context, page = signed_in(browser, app_url, alice.email, width=1280, height=900)
    for width in (1280, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{app_url}/tickets/{number}")
        expect(page.locator(".message")).to_have_count(3)
        side = page.locator("#ticket-side").bounding_box()
        assert side is not None
        for index in range(3):
            box = page.locator(".message").nth(index).bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= side["x"], (
                f"message {index} overlaps the side panel at {width} px"
            )
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        ), f"the page scrolls sideways at {width} px"
        shoot(page, f"composer-06-long-text-{width}")
    context.close()


def test_tags_added_in_the_sidebar_and_by_a_macro_filter_the_queue(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    alice = make_user("agent", name="Alice Archer")
    number = tickets.create_ticket(
        alice,
        client_id=make_client(alice, "Ada Lovelace"),
        subject="Proof of address for KYC",
        body="Which documents do you need?",
    ).number
    tickets.update_ticket(alice, number, expected_version=None, tags=["onboarding"])
    macros.save_macro(alice, title="KYC documents", body="Please send a bill.", add_tags=["kyc"])
    context, page = signed_in(browser, app_url, alice.email, width=1280, height=900)
    page.goto(f"{app_url}/tickets/{number}")
    expect(page.locator("#ticket-tags")).to_contain_text("onboarding")

    page.locator("#tag-input").fill("Private Banking")
    page.locator("#tag-input").press("Enter")
    expect(page.locator("#ticket-tags")).to_contain_text("private banking")
    expect(page.locator("#tag-input")).to_have_value("")
    page.get_by_role("button", name="Remove tag onboarding").click()
    expect(page.locator("#ticket-tags")).not_to_contain_text("onboarding")

    page.locator("#macro-select").click()
    page.get_by_role("option", name="KYC documents").click()
    expect(page.locator(".macro-tag-chip")).to_contain_text("kyc")
    assert "kyc" not in tickets.get_ticket(alice, number).ticket.tags  # not before the send
    shoot(page, "composer-04-tags")
    page.locator("#send").click()
    expect(page.locator("#ticket-tags")).to_contain_text("kyc")
    assert tickets.get_ticket(alice, number).ticket.tags == ["private banking", "kyc"]

    page.goto(f"{app_url}/tickets")
    page.locator("#tag-filter").fill("kyc")
    page.locator("#tag-filter").press("Enter")
    expect(page.locator(".ticket-row")).to_have_count(1)
    expect(page.locator(".ticket-row")).to_contain_text("Proof of address for KYC")
    shoot(page, "composer-05-queue-tag-filter")
    context.close()
