"""A new instance as its first users meet it, in Chromium against the production build:
bootstrap a manager, sign up a second user who signs in and waits for a role, get one, work a
ticket."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

MANAGER = ("Morgan Manager", "morgan@firm.example", "manager-pass-123")
AGENT = ("Alex Agent", "alex@firm.example", "agent-pass-1234")
TIMEOUT = 30_000


def _fill_form(page: Page, **fields: str) -> None:
    for field_id, value in fields.items():
        page.locator(f"#{field_id}").fill(value)


def _log_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login")
    _fill_form(page, email=email, password=password)
    page.get_by_role("button", name="Sign in").click()


def _log_out(page: Page) -> None:
    tab_token = page.evaluate("window.sessionStorage.getItem('token')")
    page.locator("#user-menu").click()
    page.locator("#sign-out").click()
    expect(page).to_have_url(re.compile(r"/login$"), timeout=TIMEOUT)
    # Signing out gives the tab a new state token and drops the HttpOnly session cookie.
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("window.sessionStorage.getItem('token')") != tab_token
    assert not [c for c in page.context.cookies() if c["name"] == "crm_session"]


def test_manager_bootstrap_role_assignment_and_agent_ticket_flow(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()

    # An empty instance offers to create the first manager.
    page.goto(app_url)
    expect(page).to_have_url(re.compile(r"/setup$"), timeout=TIMEOUT)
    expect(page.get_by_text("Create the first manager")).to_be_visible()
    shoot(page, "01-setup")
    _fill_form(page, name=MANAGER[0], email=MANAGER[1], password=MANAGER[2])
    page.get_by_role("button", name="Create manager and sign in").click()
    expect(page).to_have_url(re.compile(r"/tickets$"), timeout=TIMEOUT)
    expect(page.get_by_text("No tickets here")).to_be_visible()
    expect(page.get_by_role("link", name="Users & roles")).to_be_visible()
    shoot(page, "02-manager-empty-queue")
    _log_out(page)

    # A second person signs up and sees only the waiting page.
    page.goto(f"{app_url}/signup")
    _fill_form(page, name=AGENT[0], email=AGENT[1], password=AGENT[2])
    page.get_by_role("button", name="Create account").click()
    # The same answer whether or not the address is taken; then they sign in.
    expect(page.locator("#signup-notice")).to_contain_text("you can sign in")
    _log_in(page, app_url, AGENT[1], AGENT[2])
    expect(page).to_have_url(re.compile(r"/waiting$"), timeout=TIMEOUT)
    expect(page.locator("#waiting-message")).to_contain_text("a manager must assign you a role")
    shoot(page, "03-waiting-for-role")
    page.goto(f"{app_url}/tickets")  # no way around it
    expect(page).to_have_url(re.compile(r"/waiting$"), timeout=TIMEOUT)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"), timeout=TIMEOUT)

    # The manager makes them an agent.
    _log_in(page, app_url, MANAGER[1], MANAGER[2])
    expect(page).to_have_url(re.compile(r"/tickets$"), timeout=TIMEOUT)
    page.get_by_role("link", name="Users & roles").click()
    row = page.locator("tr.user-row", has_text=AGENT[1])
    expect(row).to_contain_text("waiting for a role")
    row.get_by_role("combobox").click()
    page.get_by_role("option", name="agent", exact=True).click()
    expect(row).not_to_contain_text("waiting for a role")
    shoot(page, "04-manager-assigns-agent")
    _log_out(page)

    # The agent signs in, adds a client and works a ticket end to end.
    _log_in(page, app_url, AGENT[1], AGENT[2])
    expect(page).to_have_url(re.compile(r"/tickets$"), timeout=TIMEOUT)
    expect(page.get_by_role("link", name="Users & roles")).to_have_count(0)
    page.get_by_role("link", name="Clients").click()
    expect(page.get_by_text("No clients yet")).to_be_visible()
    page.locator("#new-client").click()
    _fill_form(
        page,
        **{
            "client-name": "Ada Lovelace",
            "client-email": "ada@example.com",
            "net-worth": "2500000",
        },
    )
    page.locator("#create-client").click()
    expect(page).to_have_url(re.compile(r"/clients/\d+$"), timeout=TIMEOUT)  # the new profile
    expect(page.get_by_text("Ada Lovelace").first).to_be_visible()
    page.get_by_role("link", name="Clients").click()
    expect(page.locator("tr.client-row", has_text="Ada Lovelace")).to_contain_text("2,500,000")
    shoot(page, "05-clients")

    page.get_by_role("link", name="Tickets").click()
    page.locator("#new-ticket").click()
    page.locator("#client-search").fill("Ada")
    page.locator(".client-pick", has_text="Ada Lovelace").click()
    expect(page.locator("#picked-client")).to_contain_text("Ada Lovelace")
    _fill_form(page, subject="Withdrawal request", body="Please wire 10,000 USD to my account.")
    shoot(page, "06-new-ticket-dialog")
    page.locator("#create-ticket").click()
    expect(page).to_have_url(re.compile(r"/tickets/\d+$"), timeout=TIMEOUT)
    expect(page.locator("#ticket-title")).to_contain_text("Withdrawal request")

    page.locator("#composer").fill("We have received your request and will confirm today.")
    page.locator("#send").click()
    expect(page.locator(".message", has_text="will confirm today")).to_be_visible()
    page.get_by_role("radio", name="Internal note").click()
    page.locator("#composer").fill("Check the KYC review date before releasing funds.")
    page.locator("#send").click()
    expect(page.locator(".internal-note", has_text="KYC review date")).to_be_visible()
    page.locator("#status-select").click()
    page.get_by_role("option", name="pending", exact=True).click()
    expect(page.locator("#ticket-title").locator("..")).to_contain_text("pending")
    shoot(page, "07-ticket-view")

    page.get_by_role("link", name="Tickets").click()
    ticket_row = page.locator("tr.ticket-row", has_text="Withdrawal request")
    expect(ticket_row).to_contain_text("Ada Lovelace")
    expect(ticket_row).to_contain_text("pending")
    shoot(page, "08-agent-queue")
    context.close()
