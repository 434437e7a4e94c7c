"""The auto-generated FAQ in Chromium: a manager generates drafts from resolved client
questions with "Generate now", reviews one (topic size, sample questions, source tickets,
history), approves and publishes it; a client finds it in the portal's help centre and says it
helped; the manager's chart counts it."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from crm_app.ai import retrieval
from tests.e2e.session import signed_in
from tests.factories import PASSWORD, make_client, make_user
from tests.test_faq_generation import (
    PASSWORD_ANSWER,
    PASSWORD_QUESTIONS,
    TAX_ANSWER,
    TAX_QUESTIONS,
    _topic_tickets,
)

TIMEOUT = 30_000
GENERATION = 120_000


def test_manager_generates_reviews_and_publishes_and_a_client_finds_it(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager", name="Mona Manager")
    agent = make_user("agent", name="Sam Agent")
    client_user = make_user("client", name="Patrick Walsh")
    client_id = make_client(agent, "Patrick Walsh", portal_user=client_user)
    _topic_tickets(agent, client_user, client_id, PASSWORD_QUESTIONS, PASSWORD_ANSWER)
    _topic_tickets(agent, client_user, client_id, TAX_QUESTIONS, TAX_ANSWER)
    retrieval.index_resolved_tickets()

    context, staff = signed_in(browser, app_url, manager.email, width=1280)
    staff.get_by_role("link", name="Help centre FAQ").click()
    expect(staff.locator("#faq-run-summary")).to_contain_text("Never run yet")
    staff.locator("#faq-generate").click()
    expect(staff.locator("#faq-run-summary")).to_contain_text("2 new drafts", timeout=GENERATION)
    rows = staff.locator(".faq-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("generated")
    assert "Walsh" not in staff.locator("table").inner_text()
    shoot(staff, "faq-01-drafts-generated")

    reset = staff.locator(".faq-row", has_text=re.compile("password", re.IGNORECASE))
    reset.locator(".faq-review").click()
    dialog = staff.get_by_role("dialog")
    expect(dialog).to_contain_text("Topic: 3 client questions")
    expect(dialog.locator(".faq-source-ticket")).to_have_count(3)
    expect(dialog.locator("#faq-history")).to_contain_text("generated")
    expect(dialog).to_contain_text("Forgot password")
    shoot(staff, "faq-02-review-draft")
    dialog.locator("#faq-approve").click()
    expect(reset).to_contain_text("published")
    shoot(staff, "faq-03-published")

    portal = browser.new_context(viewport={"width": 1280, "height": 900})
    portal.set_default_timeout(TIMEOUT)
    page = portal.new_page()
    page.goto(f"{app_url}/portal/login")
    page.locator("#email").fill(client_user.email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/portal/?$"), timeout=TIMEOUT)
    page.get_by_role("link", name="Help centre").click()
    expect(page.locator(".faq-entry")).to_have_count(1)
    page.locator("#help-search").fill("reset password")
    expect(page.locator(".faq-entry")).to_have_count(1)
    page.locator(".faq-entry").first.get_by_role("button").first.click()
    expect(page.get_by_text("Forgot password", exact=False)).to_be_visible()
    page.locator(".faq-helpful-yes").click()
    expect(page.get_by_text("Thank you for telling us.")).to_be_visible()
    shoot(page, "faq-04-help-centre-client")
    portal.close()

    staff.reload()
    expect(staff.locator("#faq-chart")).to_be_visible()
    expect(reset).to_contain_text("1/0")
    shoot(staff, "faq-05-measures-chart")
    context.close()
