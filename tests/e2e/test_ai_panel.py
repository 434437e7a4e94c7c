"""The AI panel in the ticket view, as an agent meets it in Chromium: sentiment, a
retrieval-only draft with its sources, inserting it into the composer, rating it."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.e2e.session import signed_in, ticket_with_known_answer

TIMEOUT = 60_000


def test_agent_sees_sentiment_and_a_sourced_retrieval_only_draft_and_inserts_it(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    agent, number, answered = ticket_with_known_answer(
        "This is unacceptable, my international wire still has not arrived at the other bank. "
        "When will it arrive?"
    )
    context, page = signed_in(
        browser, app_url, agent.email, timeout=TIMEOUT, width=1500, height=1000
    )
    page.goto(f"{app_url}/tickets/{number}")

    panel = page.locator("#ai-panel")
    expect(panel.locator("#ai-sentiment")).to_contain_text("negative", timeout=TIMEOUT)
    expect(panel.locator("#ai-draft")).to_contain_text("two business days", timeout=TIMEOUT)
    expect(panel.locator("#ai-draft")).to_contain_text("Dear Ada")
    expect(panel.locator("#ai-notice")).to_contain_text("Retrieval-only")
    source = panel.locator("a.ai-source").first
    expect(source).to_have_attribute("href", f"/tickets/{answered}")
    shoot(page, "ai-panel-retrieval-only")

    panel.locator("#ai-insert").click()
    expect(page.locator("#composer")).to_have_value(re.compile("two business days"))
    panel.get_by_role("button", name="Good draft").click()
    expect(page.get_by_text("your rating was recorded")).to_be_visible()
    shoot(page, "ai-panel-inserted")
    context.close()
