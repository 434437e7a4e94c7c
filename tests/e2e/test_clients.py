"""Clients as an agent, a marketing user and a manager meet them, in Chromium against the
production build: search, profile edit with validation and history, hidden finances, and the
segment builder's live count."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from crm_app.services import clients as client_service
from tests.e2e.session import signed_in
from tests.factories import make_client, make_user

TIMEOUT = 30_000


def test_agent_finds_a_client_edits_with_validation_and_sees_the_change_in_history(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    agent = make_user("agent", "Alex Agent")
    make_client(agent, "Margaret Hale")
    make_client(agent, "Ada Lovelace")
    context, page = signed_in(browser, app_url, agent.email, landing="/tickets")

    page.goto(f"{app_url}/clients")  # a direct visit, not only through the sidebar
    expect(page.locator("#user-menu")).to_contain_text("Alex Agent")
    expect(page.locator("tr.client-row")).to_have_count(2)
    page.locator("#client-search").fill("hale")
    expect(page.locator("tr.client-row")).to_have_count(1)
    expect(page.locator("tr.client-row")).to_contain_text("Margaret Hale")
    shoot(page, "clients-01-agent-search")

    # Clicking anywhere on the row opens the profile.
    page.locator("tr.client-row", has_text="Margaret Hale").locator("td").nth(1).click()
    expect(page).to_have_url(re.compile(r"/clients/\d+$"))
    expect(page.locator("#client-heading")).to_have_text("Margaret Hale")
    page.locator("#profile-phone").fill("12345")
    page.locator("#save-client").click()
    expect(page.get_by_role("alert")).to_contain_text("phone number")
    shoot(page, "clients-02-profile-validation")

    page.locator("#profile-phone").fill("+44 20 7946 0958")
    page.locator("#profile-country").fill("GB")
    page.locator("#save-client").click()
    expect(page.locator("#profile-phone")).to_have_value("+442079460958")
    expect(page.get_by_role("alert")).to_have_count(0)
    page.locator("#history-tab").click()
    history = page.locator("#client-history")
    expect(history).to_contain_text("Alex Agent")
    expect(history).to_contain_text("+442079460958")
    shoot(page, "clients-03-profile-history")
    context.close()


def test_marketing_sees_clients_but_no_finance_fields(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    agent = make_user("agent")
    marketer = make_user("marketing", "Mia Marketing")
    client_id = make_client(agent, "Margaret Hale", net_worth="7300000")
    context, page = signed_in(browser, app_url, marketer.email, landing="/clients")

    row = page.locator("tr.client-row", has_text="Margaret Hale")
    expect(row).to_be_visible()
    expect(row).not_to_contain_text("7,300,000")
    expect(page.get_by_role("columnheader", name="Net worth")).to_have_count(0)
    expect(page.get_by_text("KYC", exact=True)).to_have_count(0)
    shoot(page, "clients-04-marketing-list")

    row.get_by_role("link", name="Margaret Hale").click()
    expect(page.locator("#client-heading")).to_have_text("Margaret Hale")
    expect(page.locator("#profile-net_worth")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("7300000")
    shoot(page, "clients-05-marketing-profile")
    assert client_service.get_client(marketer, client_id).net_worth == ""
    context.close()


def test_segment_builder_counts_matching_clients_while_editing(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager", "Morgan Manager")
    make_client(manager, "Margaret Hale")
    make_client(manager, "Ada Lovelace")
    make_client(manager, "Grace Hopper")
    context, page = signed_in(browser, app_url, manager.email, landing="/tickets")

    page.get_by_role("link", name="Segments").click()
    expect(page.locator("#segment-count")).to_have_text("3 matching clients")
    page.locator(".add-rule").first.click()
    value = page.locator(".rule-value input").first
    value.fill("Ada Lovelace")
    value.press("Tab")
    expect(page.locator("#segment-count")).to_have_text("1 matching clients")
    expect(page.locator("#segment-preview")).to_contain_text("Ada Lovelace")

    # A nested OR group widens the audience again.
    page.locator(".builder-group").first.get_by_role("combobox").click()
    page.get_by_role("option", name="or", exact=True).click()
    page.locator(".add-rule").first.click()
    second = page.locator(".rule-value input").nth(1)
    second.fill("Grace Hopper")
    second.press("Tab")
    expect(page.locator("#segment-count")).to_have_text("2 matching clients")
    page.locator("#segment-name").fill("Two pioneers")
    page.locator("#save-segment").click()
    expect(page.get_by_role("button", name="Two pioneers")).to_be_visible()
    shoot(page, "clients-06-segment-builder")
    context.close()


def test_agent_imports_a_csv_maps_columns_and_reads_the_rejected_rows(
    db: str, app_url: str, browser: Browser, shoot, tmp_path
) -> None:
    agent = make_user("agent", "Alex Agent")
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text(
        "Full name,E-mail,Mobile,Country,Segment\n"
        "Ada Lovelace,ada@x.example,+44 20 7946 0958,GB,vip\n"
        "Bad Email,not-an-email,,GB,\n"
        "Grace Hopper,grace@x.example,+1 202 555 0143,US,esg\n",
        encoding="utf-8",
    )
    context, page = signed_in(browser, app_url, agent.email, landing="/tickets")
    page.goto(f"{app_url}/clients")
    page.locator("#import-clients").click()
    expect(page).to_have_url(re.compile(r"/import/clients$"))
    page.locator("#client-csv input[type=file]").set_input_files(str(csv_file))
    page.locator("#upload-csv").click()
    mapping = page.locator("#column-mapping")
    expect(mapping).to_contain_text("Full name")
    # Known spellings are mapped already; the unknown column is mapped by hand to Tags.
    expect(page.locator("tr.mapping-row", has_text="E-mail")).to_contain_text("Email")
    page.locator("tr.mapping-row", has_text="Segment").get_by_role("combobox").click()
    page.get_by_role("option", name="Tags", exact=True).click()
    shoot(page, "clients-07-import-mapping")
    page.locator("#run-import").click()
    expect(page.locator("#import-summary")).to_contain_text("2 clients added, 0 updated")
    expect(page.locator("#rejected-count")).to_have_text("1 row rejected")
    expect(page.locator("tr.rejected-row")).to_contain_text("not a valid email")
    shoot(page, "clients-08-import-report")
    assert {c.name: c.tags for c in client_service.list_clients(agent).items} == {
        "Ada Lovelace": "vip",
        "Grace Hopper": "esg",
    }
    context.close()


def test_manager_holds_then_erases_a_client_and_merges_a_duplicate(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager", "Morgan Manager")
    erased_id = clients_create(manager, "Ada Lovelace", "ada@x.example")
    keep_id = clients_create(manager, "Grace Hopper", "grace@x.example")
    clients_create(manager, "Grace  Hopper", "GRACE@x.example")
    context, page = signed_in(browser, app_url, manager.email, landing="/tickets")

    page.goto(f"{app_url}/clients/{erased_id}")
    page.locator("#privacy-tab").click()
    page.locator("#hold-reason").fill("FCA inquiry 2026-14")
    page.locator("#toggle-hold").click()
    expect(page.locator("#legal-hold-status")).to_contain_text("FCA inquiry 2026-14")
    expect(page.locator("#erase-client")).to_be_disabled()
    shoot(page, "clients-09-legal-hold")
    page.locator("#toggle-hold").click()
    page.locator("#erase-client").click()
    page.locator("#confirm-erase").click()
    expect(page.locator("#client-heading")).to_have_text(f"Erased client #{erased_id}")

    page.goto(f"{app_url}/clients")
    page.locator("#find-duplicates").click()
    row = page.locator("tr.duplicate-row")
    expect(row).to_contain_text("same email")
    shoot(page, "clients-10-duplicates")
    row.get_by_role("button", name=re.compile("Merge into")).click()
    expect(page.get_by_text("No likely duplicates")).to_be_visible()
    assert [c.id for c in client_service.list_clients(manager, search="grace").items] == [keep_id]
    context.close()


def clients_create(actor, name: str, email: str) -> int:
    return client_service.create_client(actor, name=name, email=email).id


def test_clients_page_fits_1280_filters_apply_on_enter_and_columns_persist(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    from crm_app.services import currency_rates

    manager = make_user("manager", "Morgan Manager")
    currency_rates.set_rate(manager, "GBP", "1.27", "2026-11-30", "ECB")
    client_service.create_client(
        manager,
        name="Penelope Longname-Fitzwilliam",
        country="GB",
        currency="GBP",
        email="penelope.longname-fitzwilliam.private.office@very-long-domain.example",
        phone="+44 7700 900414",
        net_worth="1000000",
        tags="vip, esg, family-office",
    )
    client_service.create_client(
        manager, name="Dora Dollar", country="US", net_worth="1200000", email="dora@x.example"
    )
    context, page = signed_in(browser, app_url, manager.email, landing="/tickets", width=1280)
    page.goto(f"{app_url}/clients")
    expect(page.locator("tr.client-row")).to_have_count(2)
    fits = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    assert page.evaluate(fits)
    expect(page.locator("tr.client-row", has_text="Penelope")).to_contain_text("≈ USD 1,270,000")
    shoot(page, "clients-10-list-1280")

    # Enter applies a text filter at once; it never waits for the field to lose focus.
    country = page.locator(".filter-country input")
    country.fill("GB")
    country.press("Enter")
    expect(page.locator("tr.client-row")).to_have_count(1)
    expect(country).to_be_focused()
    # A short pause in typing applies it too.
    country.fill("")
    expect(page.locator("tr.client-row")).to_have_count(2)
    expect(country).to_be_focused()

    # Net worth compares in USD: GBP 1,000,000 (≈ USD 1.27 M) is above USD 1.25 M.
    page.locator(".filter-net_worth-min input").fill("1250000")
    page.locator(".filter-net_worth-min input").press("Enter")
    expect(page.locator("tr.client-row")).to_have_count(1)
    expect(page.locator("tr.client-row")).to_contain_text("Penelope")
    page.get_by_role("button", name="Clear").click()
    expect(page.locator("tr.client-row")).to_have_count(2)

    # The user's columns are remembered across visits.
    page.locator("#choose-columns").click()
    page.locator(".column-region").click()
    page.locator(".column-phone").click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("columnheader", name="Region")).to_have_count(1)
    page.reload()
    expect(page.locator("tr.client-row")).to_have_count(2)
    expect(page.get_by_role("columnheader", name="Region")).to_have_count(1)
    expect(page.get_by_role("columnheader", name="Phone")).to_have_count(0)
    assert page.evaluate(fits)
    shoot(page, "clients-11-chosen-columns")

    # A demo-data UK number does not block saving another field.
    page.get_by_role("link", name="Penelope Longname-Fitzwilliam").click()
    expect(page.locator("#profile-phone")).to_have_value("+447700900414")
    page.locator("#profile-region").fill("London")
    page.locator("#save-client").click()
    expect(page.get_by_text("Saved", exact=True)).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("#net-worth-converted")).to_have_text("≈ USD 1,270,000")
    shoot(page, "clients-12-uk-number-saved")
    context.close()


def test_manager_sets_an_exchange_rate_and_the_list_reconverts(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager", "Morgan Manager")
    client_service.create_client(manager, name="Yuki Yen", currency="JPY", net_worth="100000000")
    context, page = signed_in(browser, app_url, manager.email, landing="/tickets", width=1280)
    page.goto(f"{app_url}/settings/currency-rates")
    expect(page.locator("#missing-rates")).to_contain_text("JPY")
    page.get_by_role("combobox").nth(1).click()
    page.get_by_role("option", name="JPY", exact=True).click()
    page.locator("#rate-value").fill("0.0067")
    page.locator("#rate-date").fill("2026-11-30")
    page.locator("#rate-source").fill("ECB reference rate")
    page.locator("#save-rate").click()
    expect(page.locator("tr.rate-row", has_text="JPY")).to_contain_text("2026-11-30")
    expect(page.locator("#missing-rates")).to_have_count(0)
    shoot(page, "clients-13-currency-rates")
    page.goto(f"{app_url}/clients")
    expect(page.locator("tr.client-row")).to_contain_text("≈ USD 670,000")
    context.close()
