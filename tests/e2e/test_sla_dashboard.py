"""SLA settings, the dashboard, the warning board and the ticket's SLA card in Chromium, on a
few thousand demo tickets: a manager adds a policy for private-banking clients (a policy
without conditions is refused with a message), reads the dashboard, exports a table as CSV,
filters by team, and reassigns a ticket from the warning board."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import text

from crm_app.db import get_engine
from crm_app.services import dashboard, sla, tickets
from crm_app.services import portal as portal_service
from crm_app.tools.demo_data import seed_demo
from tests.e2e.session import signed_in
from tests.factories import make_client, make_user

TIMEOUT = 60_000


@pytest.fixture(autouse=True)
def _patient_expectations():
    """Pages here load a few thousand tickets' figures on a shared machine: wait longer."""
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


def test_manager_sets_an_sla_policy_reads_the_dashboard_and_works_the_board(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager", "Mona Manager")
    seed_demo(tickets=3000, clients=600, agents=8, random_seed=11)
    sla.scan_open_tickets()
    dashboard.refresh_rollups(rebuild=True)
    # A client rates an answer in the portal: the dashboard's CSAT card shows it.
    rater, agent = make_user("client", "Rita Rater"), make_user("agent", "Zed Csat")
    make_client(manager, "Rita Rater", portal_user=rater)
    rated = portal_service.requests.open_request(
        rater, subject="Statement", message="Where is it?", category="Other"
    )
    tickets.update_ticket(
        manager, rated, expected_version=None, assignee_id=agent.user_id, status="resolved"
    )
    portal_service.requests.rate_request(rater, rated, 5, "Quick.")

    context, page = signed_in(
        browser, app_url, manager.email, timeout=TIMEOUT, height=1100, width=1280
    )

    # SLA settings: a policy with no condition is refused; one for private banking is saved.
    page.get_by_role("link", name="SLA settings").click()
    expect(page).to_have_url(re.compile(r"/settings/sla$"))
    expect(page.locator("#policies")).to_contain_text(sla.DEFAULT_POLICY_NAME)
    page.locator("#new-policy").click()
    page.locator("#sla-name").fill("Private banking")
    page.locator("#sla-t_urgent_first_response").fill("15")
    page.locator("#sla-save").click()
    expect(page.get_by_role("alert")).to_contain_text("Give the policy a condition")
    page.locator("#sla-tier_private_banking").click()
    page.locator("#sla-position").fill("1")
    page.locator("#sla-t_normal_first_response").fill("120")
    page.locator("#sla-t_normal_resolution").fill("960")
    page.locator("#sla-save").click()
    expect(page.locator("#policies")).to_contain_text("tier: Private banking")
    page.locator("#new-rule").click()
    page.locator("#sla-name").fill("Breached: tell the managers")
    page.locator("#sla-trigger").select_option("breached")
    page.locator("#sla-notify_managers").click()
    page.locator("#sla-save").click()
    expect(page.locator("#rules")).to_contain_text("Breached: tell the managers")
    shoot(page, "sla-settings")

    # The dashboard: figures, charts, a CSV export and the team filter, without a reload.
    page.get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("#dash-stats")).to_contain_text("Open now")
    expect(page.locator(".recharts-wrapper").first).to_be_visible()
    expect(page.locator("#agent-table tbody tr").first).to_be_visible()
    csat_row = page.locator("#csat-table .csat-row", has_text="Zed Csat")
    expect(csat_row).to_contain_text("5.0 / 5")
    expect(csat_row).to_contain_text("100%")
    with page.expect_download() as download:
        page.locator("#export-agents").click()
    assert download.value.suggested_filename.startswith("agents_")
    page.wait_for_timeout(1500)  # let the charts finish their entry animation
    shoot(page, "sla-dashboard")
    first_agent = page.locator("#dash-agent option").nth(1).get_attribute("value")
    page.locator("#dash-agent").select_option(first_agent)
    expect(page.locator("#agent-table tbody tr")).to_have_count(1)
    expect(page.locator("#csat-empty")).to_be_visible()  # no ratings for that agent

    # The warning board: breached and near-breach tickets; reassign one from the list.
    page.get_by_role("link", name="SLA warnings").click()
    expect(page).to_have_url(re.compile(r"/sla-board$"))
    first = page.locator("#sla-board tbody tr").first
    expect(first).to_be_visible()
    number = first.locator("a").first.inner_text().lstrip("#")
    first.locator("select").select_option(label="Mona Manager")
    expect(page.get_by_text(f"#{number} reassigned")).to_be_visible()
    with get_engine().connect() as conn:
        assignee = conn.execute(
            text("SELECT assignee_id FROM ticket WHERE number = :n"), {"n": int(number)}
        ).scalar()
    assert assignee == manager.user_id
    shoot(page, "sla-board")

    # My work: the reassigned ticket is now the manager's, with its time left.
    page.get_by_role("link", name="My work").click()
    expect(page.locator("#my-tickets")).to_contain_text(f"#{number}")
    shoot(page, "sla-my-work")

    # The ticket shows its policy, targets with time left, and its SLA history.
    page.goto(f"{app_url}/tickets/{number}")
    panel = page.locator("#sla-panel")
    expect(panel).to_contain_text("First response", timeout=TIMEOUT)  # after the AI panel
    expect(panel.locator("#sla-policy")).not_to_be_empty()
    shoot(page, "sla-ticket-panel")
    context.close()
