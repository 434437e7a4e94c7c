"""The AI panel in the ticket view, as an agent meets it in Chromium: sentiment, a
retrieval-only draft with its sources, inserting it into the composer, rating it."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from crm_app.ai import retrieval
from crm_app.services import tickets
from tests.factories import PASSWORD, make_client, make_user

TIMEOUT = 60_000


def test_agent_sees_sentiment_and_a_sourced_retrieval_only_draft_and_inserts_it(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    agent = make_user("agent", name="Sam Agent")
    bob = make_client(agent, "Bob Stone")
    old = tickets.create_ticket(agent, client_id=bob, subject="Wire transfer timing",
                                body="How long does an international wire take to arrive?")
    tickets.add_message(agent, old.number, "Dear Bob,\n\nInternational wires arrive within two "
                        "business days.\n\nKind regards,\nSam")
    tickets.change_status(agent, old.number, "resolved")
    retrieval.index_resolved_tickets()
    ada_user = make_user("client")
    ada = make_client(agent, "Ada Lovelace", portal_user=ada_user)
    number = tickets.create_ticket(agent, client_id=ada, subject="Money abroad",
                                   body="Opened for the client.").number
    tickets.add_message(ada_user, number, "This is unacceptable, my international wire still "
                        "has not arrived at the other bank. When will it arrive?")

    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.goto(f"{app_url}/login")
    page.locator("#email").fill(agent.email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/tickets$"), timeout=TIMEOUT)
    page.goto(f"{app_url}/tickets/{number}")

    panel = page.locator("#ai-panel")
    expect(panel.locator("#ai-sentiment")).to_contain_text("negative", timeout=TIMEOUT)
    expect(panel.locator("#ai-draft")).to_contain_text("two business days", timeout=TIMEOUT)
    expect(panel.locator("#ai-draft")).to_contain_text("Dear Ada")
    expect(panel.locator("#ai-notice")).to_contain_text("Retrieval-only")
    source = panel.locator("a.ai-source").first
    expect(source).to_have_attribute("href", f"/tickets/{old.number}")
    shoot(page, "ai-panel-retrieval-only")

    panel.locator("#ai-insert").click()
    expect(page.locator("#composer")).to_have_value(re.compile("two business days"))
    panel.get_by_role("button", name="Good draft").click()
    expect(page.get_by_text("your rating was recorded")).to_be_visible()
    shoot(page, "ai-panel-inserted")
    context.close()
