"""Portal isolation probed as an attacker would, over the websocket of the production build:
two clients and one staff member. Every event handler of every State (portal and staff alike,
enumerated from the app's own state tree) is called by one client with the other client's
ticket, client record, attachment and user ids, from portal and staff pages. Nothing of the
other client may reach the browser, and nothing of theirs may change."""

from __future__ import annotations

import requests
from sqlalchemy import func, select

import crm_app.crm_app  # noqa: F401 - registers every page, so every State is probed
from crm_app.db import session_scope
from crm_app.services import portal as portal_service
from crm_app.services import tickets
from crm_app.state import AppState
from models.client import Client
from models.faq import FaqEntry
from models.portal import OneTimeLink, TicketRating
from pages.portal import PortalBase
from pages.ticket import TicketState
from tests.e2e.reflex_socket import Tab, excerpt_of, handlers_of, payloads_for, sign_in_cookie
from tests.factories import PASSWORD, make_client, make_user, run_async

BOB_SUBJECT = "Bob-sentinel-subject-P4W"
BOB_BODY = "Bob-sentinel-body-M8R"
BOB_FILE = "bob-sentinel-file.pdf"
BOB_REPLY = "Bob-sentinel-reply-T3N"
NOTE = "Sentinel-internal-note-V6J"
DRAFT = "Sentinel-draft-faq-H2K"
GENERIC_ERROR = "Something went wrong"


def _bobs_world() -> tuple:
    """What Bob's records look like, read as staff would (compared before and after)."""
    with session_scope() as session:
        return (
            session.execute(select(func.count()).select_from(OneTimeLink)).scalar_one(),
            session.execute(select(func.count()).select_from(TicketRating)).scalar_one(),
            session.execute(select(FaqEntry.status, FaqEntry.question)).all(),
            session.execute(select(Client.id, Client.portal_user_id, Client.name)).all(),
        )


def test_a_client_calling_every_handler_with_the_other_clients_ids_gets_nothing_of_theirs(
    db: str, app_url: str
) -> None:
    manager = make_user("manager")
    agent = make_user("agent")
    alice, bob = make_user("client", name="Alice Prober"), make_user("client", name="Bob Target")
    make_client(manager, "Alice Prober", portal_user=alice)
    bob_client = make_client(manager, "Bobbington Target", portal_user=bob)
    requests_ = portal_service.requests
    sink = requests_.start_upload(bob, None)
    sink.write(BOB_FILE, 0, "application/pdf", b"%PDF-1.4 bob")
    bob_ticket = requests_.open_request(
        bob, subject=BOB_SUBJECT, message=BOB_BODY, category="Tax", files=sink.finish()
    )
    tickets.add_message(agent, bob_ticket, BOB_REPLY)
    tickets.add_message(agent, bob_ticket, NOTE, internal=True)
    tickets.update_ticket(agent, bob_ticket, expected_version=None, status="resolved")
    requests_.rate_request(bob, bob_ticket, 3, "ok")
    draft = portal_service.knowledge.save_entry(manager, None, question=DRAFT, answer="secret")
    bob_detail = requests_.get_request(bob, bob_ticket)
    attachment_id = bob_detail.messages[0].attachments[0].id
    before_detail, before_world = bob_detail, _bobs_world()

    cookie = sign_in_cookie(app_url, alice.email, PASSWORD)
    paths = [
        f"/portal/tickets/{bob_ticket}",
        "/portal/new",
        "/portal",
        "/portal/help",
        "/portal/settings",
        f"/tickets/{bob_ticket}",
        f"/clients/{bob_client}",
        "/settings/faq",
    ]
    targets = [bob_ticket, bob_client, attachment_id, draft.id, bob.user_id or 1]
    portal_handlers = {h.event_name for h in handlers_of(PortalBase)}

    async def probe() -> tuple[str, int]:
        tab = Tab(app_url, session_cookie=cookie)
        await tab.open(paths[0])
        sent = 0
        for handler in handlers_of(AppState):
            if handler.is_background:  # live loops; they re-check the session each turn
                continue
            for payload in payloads_for(handler, targets):
                # Portal handlers from portal pages, the rest from every page in turn.
                pool = paths[:5] if handler.event_name in portal_handlers else paths
                await tab.send(handler.event_name, payload, pool[sent % len(pool)], wait=False)
                sent += 1
            await tab.settle(quiet=0.15)
        await tab.close()
        return tab.text(), sent

    seen, sent = run_async(probe())
    assert len(portal_handlers) >= 15 and sent > 300  # the sweep covered the portal's handlers
    leaked = [
        mark
        for mark in (
            BOB_SUBJECT,
            BOB_BODY,
            BOB_FILE,
            BOB_REPLY,
            NOTE,
            DRAFT,
            bob.email,
            "Bobbington",
            cookie,
        )
        if mark in seen
    ]
    assert not leaked, f"a client saw {leaked}"
    assert not excerpt_of(seen, GENERIC_ERROR), "a hostile argument crashed a handler"
    assert requests_.get_request(bob, bob_ticket) == before_detail
    assert _bobs_world() == before_world

    # The file route refuses her too; Bob himself still gets his file and his ticket.
    alice_file = requests.get(
        f"{app_url}/api/attachments/{attachment_id}", cookies={"crm_session": cookie}, timeout=30
    )
    assert alice_file.status_code == 404
    bob_cookie = sign_in_cookie(app_url, bob.email, PASSWORD)
    own = requests.get(
        f"{app_url}/api/attachments/{attachment_id}",
        cookies={"crm_session": bob_cookie},
        timeout=30,
    )
    assert own.status_code == 200

    async def bob_looks() -> str:
        tab = Tab(app_url, session_cookie=bob_cookie)
        await tab.open(f"/portal/tickets/{bob_ticket}")
        await tab.close()
        return tab.text()

    bobs_view = run_async(bob_looks())
    assert BOB_SUBJECT in bobs_view and BOB_REPLY in bobs_view  # the probe can see a leak
    assert NOTE not in bobs_view  # and Bob never sees the internal note either


def test_a_forged_set_password_post_is_refused_and_signs_nobody_in(db: str, app_url: str) -> None:
    response = requests.post(
        f"{app_url}/api/auth/set-password",
        data={"token": "forged-token", "password": "a long and fresh passphrase"},
        headers={"Origin": app_url},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303
    assert "crm_session" not in response.headers.get("set-cookie", "")
    assert "/portal/set-password" in response.headers["location"]


def test_a_client_calling_the_staff_ticket_view_on_their_own_ticket_gets_no_staff_fields(
    db: str, app_url: str
) -> None:
    """Their own ticket is theirs to read in the portal only: the staff view's handlers never
    leave its SLA state, priority or assignee in a client's browser."""
    manager = make_user("manager")
    alice = make_user("client")
    make_client(manager, "Alice Own", portal_user=alice)
    number = portal_service.requests.open_request(
        alice, subject="Own-ticket-subject-L5", message="Mine", category="Other"
    )
    cookie = sign_in_cookie(app_url, alice.email, PASSWORD)

    async def call() -> str:
        tab = Tab(app_url, session_cookie=cookie)
        await tab.open(f"/tickets/{number}")
        for name in ("load", "toggle_unread", "send"):
            await tab.send(f"{TicketState.get_full_name()}.{name}", {}, f"/tickets/{number}")
        await tab.close()
        return tab.text()

    seen = run_async(call())
    assert not excerpt_of(seen, "Own-ticket-subject-L5")
    assert not excerpt_of(
        seen, "on_track"
    )  # the SLA state of the ticket (the default targets apply)
