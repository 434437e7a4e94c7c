"""A manager defines a custom client field in the browser, and a saved segment is exported."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import Browser, expect

from crm_app.services import clients as client_service
from crm_app.services import segments
from tests.e2e.session import signed_in
from tests.factories import make_user


def test_manager_adds_a_custom_field_and_exports_a_segment(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager", "Morgan Manager")
    client_service.create_client(manager, name="Vera Vip", tags="vip")
    client_service.create_client(manager, name="Paul Plain")
    segments.save_segment(
        manager,
        name="VIPs",
        rules={"op": "and", "rules": [{"field": "tags", "operator": "has", "value": "vip"}]},
    )
    context, page = signed_in(browser, app_url, manager.email)

    page.goto(f"{app_url}/clients")
    page.locator("#custom-fields").click()
    expect(page.get_by_text("No custom fields yet")).to_be_visible()
    page.locator("#field-label").fill("Preferred contact time")
    page.locator("#field-key").fill("bad key!")
    page.locator("#add-field").click()
    expect(page.get_by_role("alert")).to_contain_text("A field key starts with a letter")
    page.locator("#field-key").fill("contact_time")
    page.locator("#field-label").fill("Preferred contact time")
    page.locator("#add-field").click()
    expect(page.locator("tr.custom-field-row")).to_contain_text("contact_time")
    shoot(page, "client-fields")

    page.goto(f"{app_url}/segments")
    page.get_by_role("button", name="VIPs").click()
    expect(page.locator("#segment-count")).to_contain_text("1 matching")
    with page.expect_download() as download_info:
        page.locator("#segment-export-csv").click()
    download = download_info.value
    assert download.suggested_filename == "segment-vips.csv"
    rows = list(csv.DictReader(io.StringIO(download.path().read_bytes().decode("utf-8-sig"))))
    assert [row["name"] for row in rows] == ["Vera Vip"]
    shoot(page, "segment-export")
    context.close()


def test_marketing_cannot_export_a_segment_built_on_net_worth(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    manager = make_user("manager", "Morgan Manager")
    marketer = make_user("marketing", "Mia Marketing")
    client_service.create_client(manager, name="Rich Client", net_worth="9000000")
    segments.save_segment(
        manager,
        name="Millionaires",
        rules={
            "op": "and",
            "rules": [{"field": "net_worth", "operator": "gte", "value": "1000000"}],
        },
    )
    context, page = signed_in(browser, app_url, marketer.email, landing="/clients")
    page.goto(f"{app_url}/segments")
    page.get_by_role("button", name="Millionaires").click()
    expect(page.get_by_role("alert").first).to_contain_text("net worth")
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    page.locator("#segment-export-csv").click()
    expect(page.get_by_text("You may not build segments on net worth").last).to_be_visible()
    page.wait_for_timeout(1000)
    assert downloads == []
    shoot(page, "segment-export-refused-marketing")
    context.close()
