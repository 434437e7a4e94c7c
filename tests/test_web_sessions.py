"""The session cookie's life: set only by the auth form posts, HttpOnly and Lax (Secure over
HTTPS), never an open redirect, dead everywhere after sign-out; forged events refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from crm_app.api import build_api
from crm_app.api.auth import safe_next
from crm_app.auth.cookies import without_private_cookies
from crm_app.auth.event_guard import EventRefused, fit
from crm_app.crypto import sign, signed_by_app
from crm_app.services import web_sessions
from tests.factories import PASSWORD, make_user, run_async


def _post_login(client: TestClient, email: str, password: str, **extra: str):
    return client.post(
        "/api/auth/login",
        data={"email": email, "password": password, **extra},
        follow_redirects=False,
    )


def test_signing_in_sets_an_http_only_lax_cookie_and_secure_only_over_https(db: str) -> None:
    user = make_user("agent")
    plain = _post_login(TestClient(build_api()), user.email, PASSWORD)
    assert plain.status_code == 303
    cookie = plain.headers["set-cookie"].lower()
    assert "crm_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie
    secure = _post_login(
        TestClient(build_api(), base_url="https://crm.example"), user.email, PASSWORD
    )
    session_cookie = next(
        c for c in secure.headers.get_list("set-cookie") if c.startswith("crm_session=")
    )
    assert "secure" in session_cookie.lower()


def test_the_next_page_after_sign_in_is_always_on_this_site(db: str) -> None:
    for hostile in ("//evil.example/x", "https://evil.example", "/\\evil.example", "", None):
        assert safe_next(hostile) == "/"
    assert safe_next("/tickets/12") == "/tickets/12"
    user = make_user("agent")
    response = _post_login(
        TestClient(build_api()), user.email, PASSWORD, next="https://evil.example/"
    )
    assert response.headers["location"] == "/"


def test_a_wrong_password_goes_back_with_a_message_only_the_app_can_sign(db: str) -> None:
    user = make_user("agent")
    response = _post_login(TestClient(build_api()), user.email, "not the password")
    assert response.status_code == 303 and "set-cookie" not in response.headers
    assert response.headers["location"].startswith("/login?error=")
    assert signed_by_app("Wrong email or password.", sign("Wrong email or password."))
    assert not signed_by_app("Call +1 555 0100 to unlock your account", "0" * 32)


def test_signing_out_kills_the_session_everywhere_and_clears_the_tab_storage(db: str) -> None:
    user = make_user("manager")
    client = TestClient(build_api())
    token = _post_login(client, user.email, PASSWORD).cookies["crm_session"]
    found = web_sessions.session_for_token(token)
    assert found is not None and found.actor.user_id == user.user_id
    out = TestClient(build_api()).post(
        "/api/auth/logout", cookies={"crm_session": token}, follow_redirects=False
    )
    assert out.status_code == 303 and out.headers["clear-site-data"] == '"storage"'
    assert (
        'crm_session=""' in out.headers["set-cookie"]
        or "max-age=0" in out.headers["set-cookie"].lower()
    )
    assert web_sessions.session_for_token(token) is None
    assert web_sessions.session_by_id(found.session_id) is None


def test_stored_request_headers_never_keep_the_private_cookies() -> None:
    header = "theme=dark; crm_session=SECRET; crm_device=DEVICE; lang=en"
    assert without_private_cookies(header) == "theme=dark; lang=en"


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("abc", int),
        ({"$ne": None}, str),
        (["1"], str),
        ("1", bool),
        (3, list),
        ({"email": "a"}, dict[str, int]),
        (True, int),
    ],
)
def test_event_arguments_of_the_wrong_type_are_refused(value: object, hint: type) -> None:
    with pytest.raises(EventRefused):
        fit(value, hint)


def test_event_arguments_of_the_right_type_pass() -> None:
    assert fit("12", int) == "12" and fit(12, int) == 12 and fit(None, int | None) is None
    assert fit({"email": "a@b.c", "rules": [{"op": "and"}]}, dict) == {
        "email": "a@b.c",
        "rules": [{"op": "and"}],
    }
    assert fit(["a", "b"], list[str]) == ["a", "b"]


def test_resetting_a_tab_stops_its_background_work() -> None:
    """A background import started under the old session must not write into the page the
    next session sees (crm_app/auth/middleware.py cancels the tab's other events)."""
    import asyncio

    from crm_app.auth.middleware import _stop_background_work

    async def scenario() -> tuple[bool, bool]:
        async def forever() -> None:
            await asyncio.sleep(60)

        mine = asyncio.create_task(forever(), name="reflex_event|s.run_import|TAB-1|tx1")
        other_tab = asyncio.create_task(forever(), name="reflex_event|s.run_import|TAB-2|tx2")
        await asyncio.sleep(0)
        _stop_background_work("TAB-1")
        await asyncio.sleep(0)
        result = mine.cancelled(), other_tab.cancelled()
        other_tab.cancel()
        return result

    mine_stopped, other_stopped = run_async(scenario())
    assert mine_stopped and not other_stopped


def test_the_session_cookie_is_read_as_a_browser_sends_it() -> None:
    from crm_app.auth.cookies import read_cookie

    assert read_cookie("a=b; c; crm_session=X", "crm_session") == "X"
    assert read_cookie('x="a; crm_session=Y', "crm_session") == "Y"
    # Two copies (one tossed in from a sibling domain): trust neither.
    assert read_cookie("crm_session=A; crm_session=B", "crm_session") == ""


def test_only_the_configured_hosts_are_answered(monkeypatch) -> None:
    from crm_app.api.security import host_allowed
    from crm_app.settings import get_settings

    def scope(host: str) -> dict:
        return {"type": "http", "headers": [(b"host", host.encode())]}

    assert host_allowed(scope("rebind.example"))  # nothing configured: any host
    monkeypatch.setenv("CRM_ALLOWED_HOSTS", "crm.firm.example")
    get_settings.cache_clear()
    try:
        assert host_allowed(scope("crm.firm.example:443"))
        assert not host_allowed(scope("rebind.example"))
    finally:
        monkeypatch.delenv("CRM_ALLOWED_HOSTS")
        get_settings.cache_clear()
