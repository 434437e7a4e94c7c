"""The Ory sign-in flow in Chromium against the production build and a local fake Kratos:
from the sign-in page to the firm-account form, into the app as a new local user with no role,
and out again once the identity is disabled in Ory.

The fake Kratos is the e2e session's (tests/e2e/conftest.py): the app server runs with Ory in
`both` mode for every e2e run, which leaves built-in sign-in as it was; whoami is only asked
about sessions an Ory sign-in opened (cached 1 s).
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import E2eServices
from tests.factories import make_user
from tests.fake_kratos import RunningKratos

PASSWORD = "ory-password-123"
TIMEOUT = 30_000


@pytest.fixture
def kratos(e2e_services: E2eServices) -> RunningKratos:
    return e2e_services.kratos


def test_ory_sign_in_on_the_products_own_pages(
    db: str, kratos: RunningKratos, app_url: str, browser: Browser, shoot
) -> None:
    make_user("manager")  # an instance in use (an empty one sends sign-in to first setup)
    identity = kratos.kratos.add_identity("ory.person@firm.example", PASSWORD, "Ory Person")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.goto(f"{app_url}/login")
    shoot(page, "ory-login-link")
    page.locator("#ory-login-link").click()
    expect(page).to_have_url(re.compile(r"/ory/login$"))
    expect(page.get_by_text("Sign in with your firm account")).to_be_visible()

    page.locator("#ory-email").fill("ory.person@firm.example")
    page.locator("#ory-password").fill("wrong-password")
    page.locator("#ory-sign-in").click()
    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    shoot(page, "ory-login-error")

    page.locator("#ory-email").fill("ory.person@firm.example")
    page.locator("#ory-password").fill(PASSWORD)
    page.locator("#ory-sign-in").click()
    # A first-seen identity is a local user with no role: it waits for a manager.
    expect(page).to_have_url(re.compile(r"/waiting$"))
    expect(page.get_by_text("ory.person@firm.example")).to_be_visible()
    shoot(page, "ory-signed-in-waiting")
    assert [c for c in context.cookies() if c["name"] == "crm_session"]
    assert not [
        c for c in context.cookies() if "ory" in c["name"]
    ]  # Kratos' token stays server-side

    # Disabled in Ory: the next request finds no session.
    httpx.post(f"{kratos.url}/fake/identities/{identity.id}/disable")
    page.wait_for_timeout(1500)  # the whoami cache in this run is 1 s
    page.goto(f"{app_url}/waiting")
    expect(page).to_have_url(re.compile(r"/login$"))
    context.close()


def test_ory_recovery_page_asks_for_a_code_then_a_new_password(
    db: str, kratos: RunningKratos, app_url: str, browser: Browser, shoot
) -> None:
    kratos.kratos.add_identity("forgetful@firm.example", PASSWORD, "Forgetful")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.goto(f"{app_url}/ory/recovery")
    page.locator("#ory-email").fill("forgetful@firm.example")
    page.locator("#ory-send-code").click()
    expect(page.locator("#ory-code")).to_be_visible()
    code = httpx.get(
        f"{kratos.url}/fake/recovery-code", params={"email": "forgetful@firm.example"}
    ).json()["code"]
    page.locator("#ory-code").fill(code)
    page.locator("#ory-password").fill("a-brand-new-password")
    shoot(page, "ory-recovery-code")
    page.locator("#ory-recover").click()
    expect(page).to_have_url(re.compile(r"/waiting$"))
    context.close()
