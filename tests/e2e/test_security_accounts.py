"""Against the production build: uploads refused before a byte is stored for a user without
the permission, the import upload still working for an agent, the manager's sign-in throttles
section, and a sign-up form that answers the same for a registered address."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from reflex_base.utils.format import format_event_handler

from crm_app.services import accounts, uploads
from crm_app.services.errors import InvalidInput
from crm_app.settings import get_settings
from pages.client_import import ClientImportState
from tests.factories import PASSWORD, log_in, make_user, skip_login_waits

TIMEOUT = 30_000
IMPORT_HANDLER = format_event_handler(ClientImportState.receive_upload)
RAW_UPLOAD = """async ([handler, size]) => {
  const form = new FormData();
  form.append("files", new Blob([new Uint8Array(size)]), "clients.csv");
  const response = await fetch("/_upload", {method: "POST", body: form, headers: {
    "Reflex-Client-Token": window.sessionStorage.getItem("token"),
    "Reflex-Event-Handler": handler}});
  return [response.status, await response.text()];
}"""


def _context_with_session(
    browser: Browser, app_url: str, email: str
) -> tuple[BrowserContext, Page]:
    """A browser holding a session cookie for `email` (signed in through the service)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    context.add_cookies([{"name": "crm_session", "value": log_in(email), "url": app_url}])
    return context, context.new_page()


def _stored_uploads() -> list[Path]:
    roots = [uploads.uploads_root(), get_settings().data_dir / "client-imports"]
    return [p for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file()]


def test_upload_from_a_user_without_a_role_is_refused_before_a_byte_is_stored(
    db: str, app_url: str, browser: Browser
) -> None:
    no_role = make_user(None)
    context, page = _context_with_session(browser, app_url, no_role.email)
    page.goto(f"{app_url}/waiting")
    expect(page.locator("#waiting-message")).to_be_visible()
    before = set(_stored_uploads())
    status, body = page.evaluate(RAW_UPLOAD, [IMPORT_HANDLER, 3 * 1024 * 1024])
    assert status == 403, body
    assert set(_stored_uploads()) == before
    # Without any session, and to a handler that takes no uploads, it is the same.
    context.clear_cookies()
    status, _ = page.evaluate(RAW_UPLOAD, [IMPORT_HANDLER, 1024])
    assert status == 401
    status, _ = page.evaluate(
        RAW_UPLOAD, [IMPORT_HANDLER.replace("receive_upload", "run_import"), 1024]
    )
    assert status == 404
    context.close()


def test_agent_upload_passes_the_guard_and_lands_private(
    db: str, app_url: str, browser: Browser, tmp_path: Path
) -> None:
    agent = make_user("agent")
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text("Full name,E-mail\nAda Lovelace,ada@x.example\n", encoding="utf-8")
    context, page = _context_with_session(browser, app_url, agent.email)
    page.goto(f"{app_url}/import/clients")
    page.locator("#client-csv input[type=file]").set_input_files(str(csv_file))
    page.locator("#upload-csv").click()
    expect(page.locator("#column-mapping")).to_contain_text("Full name")
    (stored,) = [p for p in _stored_uploads() if p.parent.name == "client-import"]
    assert stored.stat().st_mode & 0o077 == 0
    context.close()


def test_manager_sees_and_clears_a_sign_in_throttle(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    target = make_user("agent", "Alex Agent")
    manager = make_user("manager", "Morgan Manager")
    for _ in range(4):
        with pytest.raises(InvalidInput):
            accounts.log_in(
                target.email, "wrong guess 123", client_ip="198.51.100.66", device_id=None
            )
        skip_login_waits()
    context, page = _context_with_session(browser, app_url, manager.email)
    page.goto(f"{app_url}/users")
    row = page.locator("tr.throttle-row", has_text=target.email)
    expect(row).to_contain_text("Account")
    expect(row).to_contain_text("4")
    expect(page.locator("tr.throttle-row", has_text="198.51.100.66")).to_be_visible()
    page.locator("#throttles").scroll_into_view_if_needed()
    shoot(page, "security-01-users-throttles")
    row.get_by_role("button", name="Clear").click()
    expect(page.locator("tr.throttle-row", has_text=target.email)).to_have_count(0)
    assert log_in(target.email, PASSWORD, client_ip="203.0.113.9")
    context.close()


def test_sign_up_answers_the_same_for_a_registered_address(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    taken = make_user("agent")
    notices = []
    for email in (taken.email, "brand.new@firm.example"):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        page.goto(f"{app_url}/signup")
        page.locator("#name").fill("Eve Visitor")
        page.locator("#email").fill(email)
        page.locator("#password").fill("a fine long passphrase")
        page.get_by_role("button", name="Create account").click()
        notice = page.locator("#signup-notice")
        expect(notice).to_be_visible()
        notices.append(notice.inner_text())
        expect(page).to_have_url(re.compile(r"/signup/?$"))
        shoot(page, "security-02-signup-notice")
        context.close()
    assert notices[0] == notices[1]


def test_sign_up_refuses_a_weak_password_with_a_reason(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    make_user("agent")  # the instance is set up
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.goto(f"{app_url}/signup")
    page.locator("#name").fill("Eve Visitor")
    page.locator("#email").fill("eve@firm.example")
    page.locator("#password").fill("aaaaaaaaaa")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose a stronger password")
    shoot(page, "security-03-signup-weak-password")
    context.close()
