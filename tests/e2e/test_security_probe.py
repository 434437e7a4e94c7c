"""The probe an attacker would run against the production build, over the websocket itself:
every handler of every State called by users of each role with other people's ids and with
arguments of the wrong type; the tab reused after sign-out; a tab token without a session.
No frame may carry another user's data, and nothing of theirs may change."""

from __future__ import annotations

import asyncio

import pytest
import requests

import crm_app.crm_app  # noqa: F401 - registers every page, so every State is probed
from crm_app.auth.permissions import Actor
from crm_app.services import accounts, clients, tickets
from crm_app.state import AppState
from tests.e2e.reflex_socket import (
    Tab,
    excerpt_of,
    handlers_of,
    payloads_for,
    sign_in_cookie,
    sign_out,
)
from tests.factories import PASSWORD, make_client, make_user, run_async

SUBJECT = "Sentinel-subject-Q7X"
NOTE = "Sentinel-internal-note-K2P"
CLIENT_NAME = "Sentinelia Vault"
NET_WORTH_MARKS = ("7654321", "7,654,321", "7 654 321")
GENERIC_ERROR = "Something went wrong"


@pytest.fixture
def secrets(db: str) -> dict:
    """A manager's client with a large net worth and a ticket carrying an internal note."""
    manager = make_user("manager", name="Mona Sentinel-Manager")
    client_id = make_client(manager, CLIENT_NAME, net_worth="7654321.00")
    number = tickets.create_ticket(
        manager, client_id=client_id, subject=SUBJECT, body="Please move 5,000,000 EUR."
    ).number
    tickets.add_message(manager, number, NOTE, internal=True)
    return {"manager": manager, "client_id": client_id, "number": number}


def _snapshot(manager: Actor, number: int, client_id: int) -> tuple:
    detail = tickets.get_ticket(manager, number)
    client = clients.get_client(manager, client_id)
    users = [(u.id, u.role, u.is_active) for u in accounts.list_users(manager)]
    return (
        detail.ticket.subject,
        detail.ticket.status,
        len(detail.messages),
        str(client.net_worth),
        client.name,
        users,
    )


def _attacker(role: str | None, manager: Actor) -> Actor:
    attacker = make_user(role)
    if role == "client":  # a client with a ticket of their own, to have a foothold
        own = make_client(manager, "Ivan Attacker", portal_user=attacker)
        tickets.create_ticket(manager, client_id=own, subject="My own question", body="Hello")
    return attacker


async def _sweep(tab: Tab, targets: list[int], paths: list[str]) -> int:
    """Each handler with each payload, from each page in turn; answers read after each
    handler's batch."""
    sent = 0
    for handler in handlers_of(AppState):
        if handler.is_background:  # long-running loops; they re-check the session each turn
            continue
        for payload in payloads_for(handler, targets):
            await tab.send(handler.event_name, payload, paths[sent % len(paths)], wait=False)
            sent += 1
        await tab.settle(quiet=0.15)
    return sent


def sweep_as(app_url: str, cookie: str, paths: list[str], targets: list[int]) -> tuple[Tab, int]:
    """Open a tab with `cookie` on the first path and sweep every handler; the tab (its frames)
    and the number of events sent."""

    async def probe() -> tuple[Tab, int]:
        tab = Tab(app_url, session_cookie=cookie)
        await tab.open(paths[0])
        sent = await _sweep(tab, targets, paths)
        await tab.close()
        return tab, sent

    return run_async(probe())


@pytest.mark.parametrize("role", [None, "client", "marketing"])
def test_no_handler_gives_a_user_without_the_right_another_users_data(
    secrets: dict, app_url: str, role: str | None
) -> None:
    manager, number, client_id = secrets["manager"], secrets["number"], secrets["client_id"]
    attacker = _attacker(role, manager)
    before = _snapshot(manager, number, client_id)
    cookie = sign_in_cookie(app_url, attacker.email, PASSWORD)
    paths = [f"/tickets/{number}", f"/clients/{client_id}", "/users", "/portal"]
    targets = [number, client_id, manager.user_id or 1]
    tab, sent = sweep_as(app_url, cookie, paths, targets)
    seen = tab.text()
    assert sent > 300  # the sweep really covered the app's handlers
    forbidden = [SUBJECT, NOTE, manager.email, *NET_WORTH_MARKS, cookie]
    if role != "marketing":  # marketing may see client names, never their money
        forbidden.append(CLIENT_NAME)
    leaked = [mark for mark in forbidden if mark in seen]
    assert not leaked, f"{role} saw {leaked}"
    assert not excerpt_of(seen, GENERIC_ERROR), "a hostile argument crashed a handler"
    assert _snapshot(manager, number, client_id) == before


def test_a_tab_reused_after_sign_out_or_without_a_session_replays_nothing(
    secrets: dict, app_url: str
) -> None:
    manager, number = secrets["manager"], secrets["number"]
    manager_cookie = sign_in_cookie(app_url, manager.email, PASSWORD)
    client_user = make_user("client")
    path = f"/tickets/{number}"

    async def scenario() -> tuple[str, str, str]:
        tab = Tab(app_url, session_cookie=manager_cookie)
        await tab.open(path)
        await tab.wait_for(NOTE)  # the ticket loads after the hydrate: slower under load
        seen_by_manager = tab.text()
        await tab.close()
        # A bare tab token, no session at all: the server-side state of that tab is not sent.
        bare = Tab(app_url, token=tab.token)
        await bare.open(path)
        seen_bare = bare.text()
        await bare.close()
        # The manager signs out; someone else signs in on the same tab.
        sign_out(app_url, manager_cookie)
        other = Tab(
            app_url,
            token=tab.token,
            session_cookie=sign_in_cookie(app_url, client_user.email, PASSWORD),
        )
        await other.open(path)
        seen_after = other.text()
        await other.close()
        return seen_by_manager, seen_bare, seen_after

    seen_by_manager, seen_bare, seen_after = run_async(scenario())
    assert NOTE in seen_by_manager and SUBJECT in seen_by_manager  # the probe can see a leak
    assert manager_cookie not in seen_by_manager  # the token never travels in a delta
    for seen in (seen_bare, seen_after):
        assert not (
            excerpt_of(seen, NOTE) or excerpt_of(seen, SUBJECT) or excerpt_of(seen, manager.email)
        )
    # The signed-out session is dead everywhere.
    tab = Tab(app_url, session_cookie=manager_cookie)
    run_async(tab.open(path))
    assert not excerpt_of(tab.text(), NOTE)


def test_the_websocket_and_state_changing_requests_refuse_other_sites(
    db: str, app_url: str
) -> None:
    tab = Tab(app_url, origin="https://evil.example")
    with pytest.raises(Exception, match=r"(?i)connect"):
        run_async(tab.open("/"))
    response = requests.post(
        f"{app_url}/api/auth/login",
        data={"email": "a@b.c"},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 403
    preflight = requests.options(
        f"{app_url}/api/health",
        timeout=30,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in {k.lower() for k in preflight.headers}
    simple = requests.get(
        f"{app_url}/api/health", headers={"Origin": "https://evil.example"}, timeout=30
    )
    assert simple.headers.get("access-control-allow-origin") in (None, "")


def test_pages_carry_the_browser_security_headers_and_a_strict_script_policy(
    db: str, app_url: str
) -> None:
    page = requests.get(f"{app_url}/login/", timeout=30)
    headers = {k.lower(): v for k, v in page.headers.items()}
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "strict-origin" in headers["referrer-policy"]
    script_policy = headers["content-security-policy"].split(";")[0]
    assert "'unsafe-inline'" not in script_policy  # only the page's own inline scripts run
    assert "'sha256-" in script_policy


def test_the_session_cookie_is_http_only_and_lax(db: str, app_url: str) -> None:
    user = make_user("agent")
    response = requests.post(
        f"{app_url}/api/auth/login",
        data={"email": user.email, "password": PASSWORD},
        headers={"Origin": app_url},
        allow_redirects=False,
        timeout=30,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "crm_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain HTTP here; `Secure` over HTTPS (unit-tested)
    wrong = requests.post(
        f"{app_url}/api/auth/login",
        data={"email": user.email, "password": "not-the-password"},
        headers={"Origin": app_url},
        allow_redirects=False,
        timeout=30,
    )
    assert wrong.status_code == 303 and "set-cookie" not in wrong.headers
    assert "/login" in wrong.headers["location"]


def _upload(app_url: str, tab_token: str, cookie: str, handler: str) -> int:
    boundary = "----probe"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="x.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        + b"name,email\nMallory,m@evil.example\n"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = requests.post(
        f"{app_url}/_upload",
        data=body,
        timeout=30,
        headers={
            "reflex-client-token": tab_token,
            "reflex-event-handler": handler,
            "Origin": app_url,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        cookies={"crm_session": cookie},
    )
    return response.status_code


def test_an_upload_is_refused_into_a_tab_of_another_session(db: str, app_url: str) -> None:
    """The upload's handler runs on the named tab's state, as that tab's user: only the tab's
    own session may feed it (an agent must not import a file as the manager)."""
    from reflex_base.utils.format import format_event_handler

    from pages.client_import import ClientImportState

    handler = format_event_handler(ClientImportState.receive_upload)
    manager, agent = make_user("manager"), make_user("agent")
    manager_cookie = sign_in_cookie(app_url, manager.email, PASSWORD)
    agent_cookie = sign_in_cookie(app_url, agent.email, PASSWORD)

    async def scenario() -> tuple[int, int, str]:
        victim = Tab(app_url, session_cookie=manager_cookie)
        await victim.open("/import/clients")
        victim.frames.clear()
        foreign = await asyncio.to_thread(_upload, app_url, victim.token, agent_cookie, handler)
        await victim.settle()
        seen = victim.text()
        own = await asyncio.to_thread(_upload, app_url, victim.token, manager_cookie, handler)
        await victim.close()
        return foreign, own, seen

    foreign, own, seen = run_async(scenario())
    assert foreign == 403 and "Mallory" not in seen
    assert own < 400
