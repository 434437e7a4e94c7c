"""The client portal in Chromium against the production build, as two clients and an agent use
it: the agent invites a client from the profile, the client chooses a password from the mailed
link, opens a request with a file (FAQ suggestions appear as they type), the agent answers in
the staff view, the client sees it live, comments and rates it; a second client sees none of it
by any route."""

from __future__ import annotations

import re
import time
from email import message_from_bytes, policy
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

from crm_app.services import portal as portal_service
from crm_app.settings import get_settings
from models.faq import FaqStatus
from tests.e2e.conftest import E2eServices
from tests.e2e.session import signed_in
from tests.factories import PASSWORD, make_client, make_user

TIMEOUT = 30_000
LIVE = 20_000
ADA_PASSWORD = "a long and fresh passphrase"
BOB_SUBJECT = "Bob-only-subject-Z9"


def _link_mailed_to(
    mail_dir: Path, address: str, page: str = "/portal/set-password", timeout: float = 30.0
) -> str:
    """The path and query of the one-time link to `page` in the newest mail to `address`
    (the app server mails through the e2e session's sink, tests/e2e/conftest.py)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml"), reverse=True):
            mail = message_from_bytes(path.read_bytes(), policy=policy.default)
            found = re.search(
                rf"https?://[^/\s]+({re.escape(page)}\?token=[\w-]+)", mail.get_content()
            )
            if mail["To"] == address and found:
                return found.group(1)
        time.sleep(0.5)
    raise AssertionError(f"no link to {page} was mailed to {address}")


def _portal_sign_in(
    browser: Browser, app_url: str, email: str, password: str
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.goto(f"{app_url}/portal/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/portal/?$"), timeout=TIMEOUT)
    return context, page


def test_invite_request_live_answer_comment_and_rating_and_the_other_client_sees_nothing(
    db: str, app_url: str, browser: Browser, shoot, e2e_services: E2eServices
) -> None:
    manager = make_user("manager", name="Mona Manager")
    agent = make_user("agent", name="Sam Agent")
    ada_client = make_client(agent, "Ada Portal")
    bob_user = make_user("client", name="Bob Other")
    make_client(manager, "Bob Other", portal_user=bob_user)
    portal_service.requests.open_request(
        bob_user, subject=BOB_SUBJECT, message="Bob's private matter", category="Tax"
    )
    entry = portal_service.knowledge.save_entry(
        manager,
        None,
        question="How do I get my quarterly statement?",
        answer="Statements are in the Documents tab on the first day of each quarter.",
        category="Statements",
    )
    portal_service.knowledge.set_status(manager, entry.id, FaqStatus.PUBLISHED)

    # The agent invites Ada from her profile.
    staff_context, staff = signed_in(browser, app_url, agent.email, width=1280)
    staff.goto(f"{app_url}/clients/{ada_client}")
    staff.locator("#invite-portal").click()
    shoot(staff, "portal-01-invite-dialog")
    staff.locator("#confirm-invite").click()
    expect(staff.get_by_text("Invitation sent to ada@x.example")).to_be_visible()

    # Ada opens the mailed link, chooses a password and is in her portal.
    client_context = browser.new_context(viewport={"width": 1280, "height": 900})
    client_context.set_default_timeout(TIMEOUT)
    ada = client_context.new_page()
    link = _link_mailed_to(e2e_services.mail_dir, "ada@x.example")
    ada.goto(f"{app_url}{link}")
    expect(ada.locator("#link-email")).to_contain_text("ada@x.example")
    expect(ada.locator("#name")).to_have_value("Ada Portal")
    ada.locator("#password").fill(ADA_PASSWORD)
    shoot(ada, "portal-02-set-password")
    ada.locator("#set-password").click()
    expect(ada).to_have_url(re.compile(r"/portal/?$"), timeout=TIMEOUT)
    expect(ada.get_by_text("No requests yet")).to_be_visible()
    expect(ada.locator("#portal-firm")).to_contain_text(get_settings().firm_name)
    shoot(ada, "portal-03-empty-portal")
    # The link worked once.
    ada_again = client_context.new_page()
    ada_again.goto(f"{app_url}{link}")
    expect(ada_again.locator("#link-problem")).to_contain_text("expired or was already used")
    ada_again.close()

    # A new request: suggestions appear as she types; a file goes with it.
    ada.locator("#new-request").click()
    expect(ada).to_have_url(re.compile(r"/portal/new$"))
    ada.locator("#request-category").click()
    ada.get_by_role("option", name="Statements & documents").click()
    ada.locator("#request-subject").fill("Quarterly statement missing")
    expect(ada.locator("#faq-suggestions")).to_contain_text("quarterly statement")
    ada.locator(".faq-suggestion").first.click()
    expect(ada.locator(".faq-suggestion-answer")).to_contain_text("Documents tab")
    ada.locator("#request-message").fill("I cannot find my Q3 statement. My tax form attached.")
    ada.locator("#portal-files input[type=file]").set_input_files(
        files=[{"name": "tax-form.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 x"}]
    )
    expect(ada.locator(".staged-file")).to_contain_text("tax-form.pdf")
    shoot(ada, "portal-04-new-request-suggestions")
    ada.locator("#request-send").click()
    expect(ada).to_have_url(re.compile(r"/portal/tickets/\d+$"), timeout=TIMEOUT)
    number = int(ada.url.rstrip("/").rsplit("/", 1)[-1])
    expect(ada.locator("#portal-ticket-title")).to_contain_text("Quarterly statement missing")
    expect(ada.locator(".portal-attachment")).to_contain_text("tax-form.pdf")

    # The agent answers in the staff view (and writes an internal note the client never sees).
    staff.goto(f"{app_url}/tickets/{number}")
    expect(staff.locator(".message", has_text="Q3 statement")).to_be_visible()
    attachment_href = staff.locator("a.attachment").first.get_attribute("href")
    staff.get_by_role("radio", name="Internal note").click()
    staff.locator("#composer").fill("Internal: KYC file is stale, check before sending.")
    staff.locator("#send").click()
    expect(staff.locator(".internal-note", has_text="KYC file is stale")).to_be_visible()
    staff.get_by_role("radio", name="Reply to client").click()
    staff.locator("#composer").fill("Dear Ada, your Q3 statement is now in the Documents tab.")
    staff.locator("#send").click()
    expect(staff.locator(".message", has_text="now in the Documents tab")).to_be_visible()

    # Ada sees it live, without reloading; never the internal note.
    expect(ada.locator(".portal-message.reply", has_text="now in the Documents tab")).to_be_visible(
        timeout=LIVE
    )
    expect(ada.locator(".portal-message.reply")).to_contain_text("Sam Agent")
    assert "KYC file is stale" not in ada.content()
    # A refused message stays in the box, to be corrected rather than typed again.
    too_long = "Found it. " * 10_001
    ada.locator("#portal-comment").fill(too_long)
    ada.locator("#portal-send").click()
    expect(ada.get_by_text("at most 100,000 characters")).to_be_visible()
    assert ada.locator("#portal-comment").input_value() == too_long
    shoot(ada, "portal-05a-refused-comment-kept")
    ada.locator("#portal-comment").fill("Found it, thank you!")
    ada.locator("#portal-send").click()
    expect(ada.locator(".portal-message.mine", has_text="Found it")).to_be_visible()
    expect(ada.locator("#portal-comment")).to_have_value("")  # sent: the box is empty again
    shoot(ada, "portal-05-conversation-live")

    # The agent solves it; Ada rates the answer.
    staff.reload()
    expect(staff.locator(".message", has_text="Found it")).to_be_visible()
    staff.locator("#status-select").click()
    staff.get_by_role("option", name="resolved", exact=True).click()
    expect(ada.locator("#csat-card")).to_be_visible(timeout=LIVE)
    ada.locator("#csat-5").click()
    ada.locator("#csat-comment").fill("Quick and clear.")
    ada.locator("#csat-send").click()
    expect(ada.locator("#csat-given")).to_contain_text("5 of 5")
    shoot(ada, "portal-06-rated")
    staff.reload()
    expect(staff.locator("#ticket-csat")).to_contain_text("5 / 5")
    expect(staff.locator("#ticket-csat")).to_contain_text("Quick and clear.")
    shoot(staff, "portal-07-staff-sees-csat")

    ada.goto(f"{app_url}/portal")
    expect(ada.locator(".portal-request", has_text="Quarterly statement missing")).to_contain_text(
        "Solved"
    )
    shoot(ada, "portal-08-request-list")

    # Bob, another client, sees none of it by any route.
    bob_context, bob = _portal_sign_in(browser, app_url, bob_user.email, PASSWORD)
    expect(bob.locator(".portal-request", has_text=BOB_SUBJECT)).to_be_visible()
    assert "Quarterly statement" not in bob.content()
    bob.goto(f"{app_url}/portal/tickets/{number}")
    expect(bob.get_by_text("Request not found")).to_be_visible()
    assert "Q3 statement" not in bob.content() and "Found it" not in bob.content()
    shoot(bob, "portal-09-other-client-refused")
    assert bob_context.request.get(f"{app_url}{attachment_href}").status == 404
    assert client_context.request.get(f"{app_url}{attachment_href}").status == 200
    # The staff pages are not his either.
    bob.goto(f"{app_url}/tickets/{number}")
    expect(bob).to_have_url(re.compile(r"/portal/?$"), timeout=TIMEOUT)
    assert "Quarterly statement" not in bob.content()
    bob.goto(f"{app_url}/portal")
    bob.locator("#portal-sign-out").click()
    expect(bob).to_have_url(re.compile(r"/portal/login/?$"), timeout=TIMEOUT)
    for context in (bob_context, client_context, staff_context):
        context.close()


def test_the_help_centre_searches_published_entries_only(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager")
    carol = make_user("client", name="Carol Reader")
    make_client(manager, "Carol Reader", portal_user=carol)
    for question, status in (
        ("When are statements issued?", FaqStatus.PUBLISHED),
        ("Draft-only answer about fees", FaqStatus.DRAFT),
    ):
        entry = portal_service.knowledge.save_entry(
            manager, None, question=question, answer=f"Answer to: {question}"
        )
        portal_service.knowledge.set_status(manager, entry.id, status)
    # The manager writes one by hand and publishes it.
    staff_context, staff = signed_in(browser, app_url, manager.email, width=1280)
    staff.get_by_role("link", name="Help centre FAQ").click()
    expect(staff.locator(".faq-row")).to_have_count(2)
    staff.locator("#faq-new").click()
    staff.locator("#faq-question").fill("Can I change my bank account for withdrawals?")
    staff.locator("#faq-answer").fill(
        "Answer to: Can I change my bank account? Yes, with a signed form."
    )
    staff.locator("#faq-category").fill("Payments")
    staff.locator("#faq-save").click()
    new_row = staff.locator(".faq-row", has_text="change my bank account")
    expect(new_row).to_contain_text("draft")
    new_row.locator(".faq-publish").click()
    expect(new_row).to_contain_text("published")
    shoot(staff, "portal-11-faq-manager")
    staff_context.close()
    context, page = _portal_sign_in(browser, app_url, carol.email, PASSWORD)
    page.get_by_role("link", name="Help centre").click()
    expect(page.locator(".faq-entry")).to_have_count(2)
    page.locator("#help-search").fill("bank account")
    expect(page.locator(".faq-entry")).to_have_count(1)
    page.locator(".faq-entry").first.get_by_role("button").click()
    expect(page.get_by_text("Answer to: Can I change my bank account")).to_be_visible()
    assert "Draft-only" not in page.content()
    shoot(page, "portal-10-help-centre")
    context.close()


def test_staff_reset_a_forgotten_password_from_the_sign_in_page(
    db: str, app_url: str, browser: Browser, shoot, e2e_services: E2eServices
) -> None:
    """The portal's recovery, for staff: the same non-revealing answer, a one-time link."""
    make_user("manager")  # an instance in use (an empty one sends sign-in to first setup)
    agent = make_user("agent", name="Forgetful Agent")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.goto(f"{app_url}/login")
    page.locator("#forgot-link").click()
    expect(page).to_have_url(re.compile(r"/forgot-password$"))
    for address in ("nobody@firm.example", agent.email):  # the same answer, known or not
        page.locator("#email").fill(address)
        page.locator("#send-reset-link").click()
        expect(page.locator("#link-notice")).to_contain_text("If this address can be used")
    shoot(page, "staff-reset-01-forgot-password")

    link = _link_mailed_to(e2e_services.mail_dir, agent.email, "/reset-password")
    page.goto(f"{app_url}{link}")
    expect(page.locator("#link-email")).to_contain_text(agent.email)
    page.locator("#password").fill(ADA_PASSWORD)
    shoot(page, "staff-reset-02-new-password")
    page.locator("#set-password").click()
    expect(page).to_have_url(re.compile(r"/tickets$"), timeout=TIMEOUT)  # signed in
    again = context.new_page()
    again.goto(f"{app_url}{link}")
    expect(again.locator("#link-problem")).to_contain_text("expired or was already used")
    shoot(again, "staff-reset-03-link-used")
    context.close()

    # The new password is the one that signs in now.
    fresh = browser.new_context(viewport={"width": 1280, "height": 900})
    fresh.set_default_timeout(TIMEOUT)
    login = fresh.new_page()
    login.goto(f"{app_url}/login")
    login.locator("#email").fill(agent.email)
    login.locator("#password").fill(ADA_PASSWORD)
    login.get_by_role("button", name="Sign in").click()
    expect(login).to_have_url(re.compile(r"/tickets$"), timeout=TIMEOUT)
    fresh.close()
