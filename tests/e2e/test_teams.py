"""Teams in Chromium: a manager creates a team under Settings → Teams, adds two members by
typing part of their names, and filters the dashboard by that team (only its members' rows)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from crm_app.services import dashboard, tickets
from tests.e2e.session import signed_in
from tests.factories import make_client, make_user

TIMEOUT = 60_000


def test_manager_builds_a_team_by_typing_names_and_filters_the_dashboard_by_it(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager", "Tess Manager")
    ann = make_user("agent", "Annika Quist")
    bob = make_user("agent", "Bruno Quist")
    make_user("agent", "Carla Outside")
    client = make_client(manager, "Dora Client")
    for agent in (ann, bob, manager):
        number = tickets.create_ticket(
            manager, client_id=client, subject=f"For {agent.name}", body="?"
        ).number
        tickets.update_ticket(manager, number, expected_version=None, assignee_id=agent.user_id)
    dashboard.refresh_rollups()
    expect.set_options(timeout=30_000)  # a shared machine: pages take a few seconds
    try:
        _build_team_and_filter(browser, app_url, manager.email, shoot)
    finally:
        expect.set_options(timeout=5_000)


def _build_team_and_filter(browser: Browser, app_url: str, email: str, shoot) -> None:
    context, page = signed_in(browser, app_url, email, timeout=TIMEOUT, height=1000, width=1280)
    page.get_by_role("link", name="Teams").click()
    expect(page).to_have_url(re.compile(r"/settings/teams$"))
    expect(page.get_by_text("No teams yet")).to_be_visible()
    page.locator("#new-team-name").fill("Quist desk")
    page.locator("#team-create").click()
    expect(page.locator("#team-list")).to_contain_text("Quist desk")

    search = page.locator("#member-search")
    for typed, name in (("annik", "Annika Quist"), ("bruno q", "Bruno Quist")):
        search.press_sequentially(typed, delay=40)
        option = page.locator("#member-options .member-match", has_text=name)
        expect(option).to_be_visible()
        expect(page.locator("#member-options")).not_to_contain_text("Carla Outside")
        option.click()
        expect(page.locator("#team-members")).to_contain_text(name)
        expect(search).to_have_value("")
    expect(page.locator("#team-members .team-member")).to_have_count(2)
    shoot(page, "teams-settings")

    page.get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("#agent-table tbody tr")).to_have_count(3)
    page.locator("#dash-agent").select_option(label="Quist desk (2)")
    rows = page.locator("#agent-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#agent-table")).to_contain_text("Annika Quist")
    expect(page.locator("#agent-table")).to_contain_text("Bruno Quist")
    expect(page.locator("#agent-table")).not_to_contain_text("Tess Manager")
    expect(page.locator("#dash-stats")).to_contain_text("2")  # open now: the team's two
    shoot(page, "teams-dashboard")
    context.close()
