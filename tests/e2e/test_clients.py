"""Clients in Chromium against the production build (diagnostic draft)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.factories import PASSWORD, make_client, make_user

TIMEOUT = 30_000


def test_diag(db: str, app_url: str, browser: Browser, shoot) -> None:
    agent = make_user("agent", "Alex Agent")
    make_client(agent, "Margaret Hale")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    logs: list[str] = []
    page.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
    page.goto(f"{app_url}/login")
    page.locator("#email").fill(agent.email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/tickets$"), timeout=TIMEOUT)
    page.get_by_role("link", name="Clients").click()
    try:
        expect(page.locator("tr.client-row", has_text="Margaret Hale")).to_be_visible()
    finally:
        shoot(page, "diag-clients")
        print("\n".join(logs))
