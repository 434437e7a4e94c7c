"""The AI settings page and the panel with a language model configured, in Chromium: a manager
points the firm at an OpenAI-compatible server (the local fake), the key is never shown again,
the connection check answers, an agent gets a generated draft; and when the provider is down
both screens say so plainly while the agent still gets a retrieval-only draft."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.ai.conftest import FakeOpenAI, fake_openai  # noqa: F401 - the fake provider fixture
from tests.e2e.session import signed_in, ticket_with_known_answer
from tests.factories import make_user

TIMEOUT = 60_000
SECRET = "sk-test-fake"


def _configure(page: Page, app_url: str, fake: FakeOpenAI) -> None:
    page.goto(f"{app_url}/settings/ai")
    expect(page.locator("#ai-key-status")).to_have_text("API key: not set", timeout=TIMEOUT)
    page.locator("#ai-chat-model").fill("openai/fake-chat")
    page.locator("#ai-api-base").fill(fake.base_url)
    page.locator("#ai-api-key").fill(SECRET)
    page.locator("#ai-timeout-seconds").fill("5")
    page.locator("#ai-max-retries").fill("0")
    page.locator("#ai-save").click()
    expect(page.get_by_text("AI settings saved.")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#ai-key-status")).to_have_text("API key: set", timeout=TIMEOUT)
    expect(page.locator("#ai-mode")).to_have_text("LLM: openai/fake-chat", timeout=TIMEOUT)


def test_manager_configures_the_llm_and_the_agent_gets_a_generated_draft(
    db: str,
    app_url: str,
    browser: Browser,
    fake_openai: FakeOpenAI,  # noqa: F811
    shoot,
) -> None:
    agent, number, _ = ticket_with_known_answer("When will my international wire arrive?")
    manager = make_user("manager")
    _, page = signed_in(browser, app_url, manager.email, timeout=TIMEOUT, height=1000)
    page.get_by_role("link", name="AI settings").click()
    expect(page).to_have_url(re.compile(r"/settings/ai$"), timeout=TIMEOUT)
    _configure(page, app_url, fake_openai)

    # Write-only: after a reload the key is neither in the field nor anywhere on the page.
    page.reload()
    expect(page.locator("#ai-key-status")).to_have_text("API key: set", timeout=TIMEOUT)
    expect(page.locator("#ai-api-key")).to_have_value("", timeout=TIMEOUT)
    expect(page.locator("#ai-chat-model")).to_have_value("openai/fake-chat", timeout=TIMEOUT)
    assert SECRET not in page.content()

    page.locator("#ai-test-connection").click()
    expect(page.locator("#ai-check-result")).to_contain_text("Connected", timeout=TIMEOUT)
    shoot(page, "ai-settings-connected")
    page.context.close()

    fake_openai.reply = (
        "Dear Ada,\n\nYour international wire will arrive within two business "
        "days [1].\n\nKind regards,\nSam Agent"
    )
    _, page = signed_in(browser, app_url, agent.email, timeout=TIMEOUT, height=1000)
    expect(page.get_by_role("link", name="AI settings")).to_have_count(0)  # managers only
    page.goto(f"{app_url}/tickets/{number}")
    panel = page.locator("#ai-panel")
    expect(panel.locator("#ai-draft")).to_contain_text(
        "will arrive within two business days [1]", timeout=TIMEOUT
    )
    expect(panel.locator("#ai-mode-badge")).to_have_text("LLM", timeout=TIMEOUT)
    expect(panel.locator("#ai-notice")).to_have_count(0)  # not retrieval-only
    expect(panel.locator("a.ai-source").first).to_have_attribute(
        "href", re.compile(r"/tickets/"), timeout=TIMEOUT
    )
    chat_calls = [r for r in fake_openai.requests if r["path"].endswith("/chat/completions")]
    assert chat_calls and chat_calls[-1]["auth"] == f"Bearer {SECRET}"
    shoot(page, "ai-panel-llm-draft")
    page.context.close()


def test_provider_down_is_said_plainly_and_the_agent_still_gets_a_retrieval_draft(
    db: str,
    app_url: str,
    browser: Browser,
    fake_openai: FakeOpenAI,  # noqa: F811
    shoot,
) -> None:
    agent, number, _ = ticket_with_known_answer("When will my international wire arrive?")
    manager = make_user("manager")
    _, page = signed_in(browser, app_url, manager.email, timeout=TIMEOUT, height=1000)
    _configure(page, app_url, fake_openai)
    fake_openai.down = True
    page.locator("#ai-test-connection").click()
    expect(page.locator("#ai-check-result")).to_contain_text(
        "Provider unreachable", timeout=TIMEOUT
    )
    shoot(page, "ai-settings-provider-down")
    # Bad input gets a message, not a crash.
    page.locator("#ai-api-base").fill("ftp://nowhere")
    page.locator("#ai-save").click()
    expect(page.get_by_role("alert").filter(has_text="http(s) URL")).to_be_visible(timeout=TIMEOUT)
    page.context.close()

    _, page = signed_in(browser, app_url, agent.email, timeout=TIMEOUT, height=1000)
    page.goto(f"{app_url}/tickets/{number}")
    panel = page.locator("#ai-panel")
    expect(panel.locator(".ai-provider-down")).to_contain_text("did not answer", timeout=TIMEOUT)
    expect(panel.locator("#ai-mode-badge")).to_have_text("LLM down", timeout=TIMEOUT)
    expect(panel.locator("#ai-draft")).to_contain_text("two business days", timeout=TIMEOUT)
    shoot(page, "ai-panel-provider-down")
    page.context.close()


def test_agents_are_turned_away_from_the_ai_settings_page(
    db: str, app_url: str, browser: Browser
) -> None:
    agent = make_user("agent")
    _, page = signed_in(browser, app_url, agent.email, timeout=TIMEOUT, height=1000)
    page.goto(f"{app_url}/settings/ai")
    expect(page).to_have_url(re.compile(r"/tickets$"), timeout=TIMEOUT)
    page.context.close()
