"""Shared steps of the browser tests: a signed-in browser context, and a ticket whose answer the
firm already knows (for the assistant)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, BrowserContext, Page, expect

from crm_app.ai import retrieval
from crm_app.auth.permissions import Actor
from crm_app.services import tickets
from tests.factories import PASSWORD, make_client, make_user


def signed_in(
    browser: Browser,
    app_url: str,
    email: str,
    *,
    landing: str = "/tickets",
    timeout: int = 30_000,
    width: int = 1400,
    height: int = 900,
) -> tuple[BrowserContext, Page]:
    """A new browser context signed in through the login page, on the user's landing page."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(timeout)
    page = context.new_page()
    page.goto(f"{app_url}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(landing + "$"), timeout=timeout)
    return context, page


def ticket_with_known_answer(client_message: str) -> tuple[Actor, int, int]:
    """An agent, a resolved (and indexed) wire-transfer ticket, and Ada's open ticket whose
    latest client message is `client_message`; returns the agent, Ada's ticket number and the
    resolved ticket's number (the source a suggestion should cite)."""
    agent = make_user("agent", name="Sam Agent")
    bob = make_client(agent, "Bob Stone")
    old = tickets.create_ticket(
        agent,
        client_id=bob,
        subject="Wire transfer timing",
        body="How long does an international wire take to arrive?",
    )
    tickets.add_message(
        agent,
        old.number,
        "Dear Bob,\n\nInternational wires arrive within two business days.\n\nKind regards,\nSam",
    )
    tickets.update_ticket(agent, old.number, expected_version=None, status="resolved")
    retrieval.index_resolved_tickets()
    ada_user = make_user("client")
    ada = make_client(agent, "Ada Lovelace", portal_user=ada_user)
    number = tickets.create_ticket(
        agent, client_id=ada, subject="Money abroad", body="Opened for the client."
    ).number
    tickets.add_message(ada_user, number, client_message)
    return agent, number, old.number
