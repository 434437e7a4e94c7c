"""Unverified clients as an agent meets them in Chromium against the production build: the
list's "Unverified" filter, the profile's callout, confirming one and merging another into the
client it belongs to."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from crm_app.db import session_scope
from crm_app.services import clients as client_service
from crm_app.services import tickets
from models.client import Client
from models.ticket import Channel
from tests.e2e.session import signed_in
from tests.factories import make_client, make_user


def _unverified(actor, name: str, email: str) -> int:
    client_id = client_service.create_client(actor, name=name, email=email).id
    with session_scope() as session:
        session.get(Client, client_id).verified = False
    tickets.create_ticket(
        actor,
        client_id=client_id,
        subject="Question about my account",
        body="Hello, I wrote from a new address.",
        channel=Channel.EMAIL,
        from_client=True,
    )
    return client_id


def test_agent_filters_unverified_clients_confirms_one_and_merges_another(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    agent = make_user("agent", "Alex Agent")
    known = make_client(agent, "Margaret Hale")
    nora = _unverified(agent, "Nora Newcomer", "nora@new.example")
    _unverified(agent, "M. Hale", "m.hale@private.example")
    context, page = signed_in(browser, app_url, agent.email, landing="/tickets", width=1280)

    page.goto(f"{app_url}/clients")
    expect(page.locator("tr.client-row")).to_have_count(3)
    chip = page.locator("#filter-unverified")
    expect(chip).to_contain_text("2")
    chip.click()
    expect(page.locator("tr.client-row")).to_have_count(2)
    expect(page.locator("tr.client-row", has_text="Unverified")).to_have_count(2)
    shoot(page, "verification-01-unverified-filter")

    page.locator("tr.client-row", has_text="Nora Newcomer").get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/clients/{nora}$"))
    callout = page.locator("#unverified-callout")
    expect(callout).to_contain_text("Created from an incoming email")
    shoot(page, "verification-02-profile-callout")
    page.locator("#confirm-client").click()
    expect(callout).to_have_count(0)
    page.locator("#history-tab").click()
    expect(page.locator("#client-history")).to_contain_text("confirmed")
    shoot(page, "verification-03-confirmed")
    assert client_service.get_client(agent, nora).verified is True

    # The other one is Margaret writing from a private address: merged into her record.
    # Back on the list, the tab still has the filter on: one left to look at.
    page.goto(f"{app_url}/clients")
    expect(page.locator("#filter-unverified")).to_contain_text("1")
    expect(page.locator("tr.client-row")).to_have_count(1)
    page.locator("tr.client-row", has_text="M. Hale").get_by_role("link").click()
    page.locator("#merge-unverified").click()
    page.locator("#merge-search").fill("Margaret")
    page.locator(f"#pick-{known}").click()
    expect(page.get_by_role("dialog")).to_contain_text("Merge into Margaret Hale")
    shoot(page, "verification-04-merge-picker")
    page.locator("#merge-confirm").click()
    expect(page).to_have_url(re.compile(rf"/clients/{known}$"))
    expect(page.locator("#client-heading")).to_have_text("Margaret Hale")
    assert client_service.count_unverified(agent) == 0
    context.close()
