"""The REST API as its users meet it, against the production build: a token made on the
profile page (shown once) drives /api/v1 like curl would (who am I, open a ticket, answer it),
and /api/docs renders Swagger UI from the app's own files under the app's CSP."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect

from tests.e2e.session import signed_in
from tests.factories import make_user


def test_a_token_from_the_profile_page_opens_and_answers_a_ticket(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    agent = make_user("agent", name="Api Agent")
    context, page = signed_in(browser, app_url, agent.email)
    page.goto(f"{app_url}/profile")
    expect(page.locator("#no-tokens")).to_be_visible()
    page.locator("#token-name").fill("website form")
    page.locator("#token-scope").click()
    page.get_by_role("option", name="write").click()
    page.locator("#create-token").click()
    token_box = page.locator("#new-token")
    expect(token_box).to_contain_text("crm_pat_")
    token = token_box.inner_text().strip()
    shoot(page, "api-profile-token-created")
    page.locator("#dismiss-token").click()
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.get_by_text("website form")).to_be_visible()

    api = httpx.Client(base_url=app_url, headers={"Authorization": f"Bearer {token}"})
    me = api.get("/api/v1/users/me").json()
    assert me["email"] == agent.email and me["role"] == "agent"
    created = api.post(
        "/api/v1/tickets", json={"subject": "Through the API", "body": "Opened by a script."}
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    replied = api.post(f"/api/v1/tickets/{number}/replies", json={"body": "Answered by API."})
    assert replied.status_code == 201, replied.text
    shown = api.get(f"/api/v1/tickets/{number}").json()
    assert [m["body_text"] for m in shown["messages"]] == [
        "Opened by a script.",
        "Answered by API.",
    ]
    # Cross-site browser calls with the session cookie stay refused.
    cookie = next(c for c in context.cookies() if c["name"] == "crm_session")["value"]
    forged = httpx.post(
        f"{app_url}/api/v1/tickets/{number}/notes",
        json={"body": "forged"},
        headers={"Origin": "https://evil.example", "Cookie": f"crm_session={cookie}"},
    )
    assert forged.status_code == 403

    # Revoked on the page: the script's next request is refused.
    page.reload()
    page.get_by_role("button", name="Revoke").click()
    page.get_by_role("button", name="Revoke").last.click()
    expect(page.get_by_text("revoked", exact=True)).to_be_visible()
    assert api.get("/api/v1/users/me").status_code == 401
    context.close()


def test_the_api_docs_page_renders_from_local_files(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(app_url) else None
        ),
    )
    page.goto(f"{app_url}/api/docs")
    expect(page.get_by_text("Finance CRM API")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("/api/v1/tickets").first).to_be_visible()
    shoot(page, "api-docs")
    assert blocked == [] and outside == []
    context.close()
