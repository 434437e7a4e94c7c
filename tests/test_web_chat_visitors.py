"""A web chat visitor's conversation continues after a reload: the browser keeps a credential
the app signed for that site, with an expiry; the service verifies it on every call, so a
forged, altered, expired or another site's credential reaches no conversation, and a visitor
never reads another visitor's chat. A solved or closed chat is over: the next message starts a
new ticket. A client signed in to the portal is recognised: no name and email step, the chat is
their client record's ticket, and it needs their session as well as the credential."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_app.api import build_api
from crm_app.api.security import SecurityMiddleware
from crm_app.db import session_scope
from crm_app.services import tickets
from crm_app.services.errors import NotAuthenticated, NotFound, PermissionDenied
from crm_app.services.messaging import web_chat
from crm_app.services.messaging.web_chat import credentials
from crm_app.services.portal import requests as portal_requests
from models.base import utcnow
from models.messaging import ChatVisitor
from models.ticket import Ticket
from tests.factories import make_client, make_user


@pytest.fixture
def site(db: str) -> web_chat.CreatedSite:
    return web_chat.create_site(make_user("manager"), name="Public website")


def _secret(credential: str) -> str:
    return credential.split(".")[1]


def _refused_everywhere(public_id: str, credential: str) -> None:
    with pytest.raises(PermissionDenied):
        web_chat.resume(public_id, credential)
    with pytest.raises(PermissionDenied):
        web_chat.lines(public_id, credential)
    with pytest.raises(PermissionDenied):
        web_chat.post_message(public_id, credential, "Let me in")
    with pytest.raises(PermissionDenied):
        web_chat.heartbeat(public_id, credential, typing=True)


def test_a_visitor_back_on_the_widget_continues_the_same_conversation(site):
    agent = make_user("agent", name="Sam Agent")
    public_id = site.site.public_id
    credential = web_chat.start(public_id, "Ada Visitor", "ada@visitor.example")
    number = web_chat.post_message(public_id, credential, "Can I move my ISA?")
    tickets.add_message(agent, number, "Yes, we can.")

    resumed = web_chat.resume(public_id, credential)

    assert resumed.visitor_name == "Ada Visitor"
    assert [(line.author, line.text) for line in resumed.lines] == [
        ("Ada Visitor", "Can I move my ISA?"),
        ("Sam", "Yes, we can."),
    ]
    assert web_chat.post_message(public_id, resumed.credential, "Great, thanks") == number
    assert web_chat.lines(public_id, credential)[-1].text == "Great, thanks"


def test_the_credential_lasts_thirty_days_and_a_visit_renews_it(site):
    public_id = site.site.public_id
    credential = web_chat.start(public_id, "Ada Visitor", "ada@visitor.example")
    web_chat.post_message(public_id, credential, "Hello")
    days = credentials.VALID_FOR.days
    expires = int(credential.split(".")[2])
    assert abs(expires - (utcnow() + timedelta(days=days)).timestamp()) < 60

    almost = credentials.issue(public_id, _secret(credential), utcnow() - timedelta(days=days - 1))
    renewed = web_chat.resume(public_id, almost).credential
    assert int(renewed.split(".")[2]) > int(almost.split(".")[2])

    expired = credentials.issue(public_id, _secret(credential), utcnow() - timedelta(days=days))
    _refused_everywhere(public_id, expired)


def test_a_forged_or_altered_credential_reaches_no_conversation(site):
    public_id = site.site.public_id
    credential = web_chat.start(public_id, "Ada Visitor", "ada@visitor.example")
    web_chat.post_message(public_id, credential, "My account number is 12345678")
    with session_scope() as session:
        visitor_id = session.execute(select(ChatVisitor.id)).scalar_one()
    version, secret, expires, signature = credential.split(".")
    forgeries = [
        str(visitor_id),  # a raw visitor id
        f"visitor:{visitor_id}",
        secret,  # the bare secret, unsigned
        f"{version}.{secret}.{int(expires) + 86400 * 365}.{signature}",  # a later expiry
        f"{version}.{secret}.{expires}.{'0' * len(signature)}",
        f"{version}.{secret}.{expires}",
        f"v2.{secret}.{expires}.{signature}",
        f"{version}.{'A' * len(secret)}.{expires}.{signature}",
        credential + "x",
        "",
        "x" * 500,
    ]
    for forged in forgeries:
        _refused_everywhere(public_id, forged)
    # A secret the app never issued, signed as the app would: no such visitor.
    unknown = credentials.issue(public_id, credentials.new_secret(), utcnow())
    _refused_everywhere(public_id, unknown)


def test_a_visitor_cannot_read_another_visitors_chat(site):
    public_id = site.site.public_id
    ada = web_chat.start(public_id, "Ada Visitor", "ada@visitor.example")
    web_chat.post_message(public_id, ada, "Ada's private question")
    bob = web_chat.start(public_id, "Bob Visitor", "bob@visitor.example")
    bob_ticket = web_chat.post_message(public_id, bob, "Bob's question")

    assert [line.text for line in web_chat.resume(public_id, bob).lines] == ["Bob's question"]
    # Bob's secret under Ada's signature, and Ada's secret under Bob's: both refused.
    ada_parts, bob_parts = ada.split("."), bob.split(".")
    _refused_everywhere(public_id, ".".join([bob_parts[0], ada_parts[1], *bob_parts[2:]]))
    _refused_everywhere(public_id, ".".join([ada_parts[0], bob_parts[1], *ada_parts[2:]]))
    assert web_chat.post_message(public_id, bob, "still mine") == bob_ticket


def test_another_sites_credential_is_refused(site):
    other = web_chat.create_site(make_user("manager"), name="Other website")
    credential = web_chat.start(site.site.public_id, "Ada Visitor", "ada@visitor.example")
    web_chat.post_message(site.site.public_id, credential, "Private question")
    _refused_everywhere(other.site.public_id, credential)
    # Re-signed for the other site: the secret belongs to this site's visitor only.
    moved = credentials.issue(other.site.public_id, _secret(credential), utcnow())
    _refused_everywhere(other.site.public_id, moved)


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_a_solved_or_closed_chat_starts_a_new_conversation(site, status):
    manager = make_user("manager")
    public_id = site.site.public_id
    credential = web_chat.start(public_id, "Ada Visitor", "ada@visitor.example")
    first = web_chat.post_message(public_id, credential, "First question")
    tickets.update_ticket(manager, first, expected_version=None, status=status)

    resumed = web_chat.resume(public_id, credential)
    assert (resumed.visitor_name, resumed.lines) == ("Ada Visitor", [])

    second = web_chat.post_message(public_id, resumed.credential, "A new question")
    assert second != first
    assert [line.text for line in web_chat.lines(public_id, credential)] == ["A new question"]
    assert tickets.get_ticket(manager, first).ticket.status == status


def test_the_api_refuses_a_forged_visitor_token(site):
    web = TestClient(SecurityMiddleware(build_api()), base_url="http://crm.test")
    headers = {"X-Chat-Site-Key": site.key}
    first = web.post(
        "/api/chat/messages",
        json={"name": "Seed", "email": "seed@clients.example", "text": "Hello"},
        headers=headers,
    ).json()
    token = first["visitor_token"]
    forged = token.rsplit(".", 1)[0] + ".0123456789abcdef0123456789abcdef"
    refused = web.post(
        "/api/chat/messages", json={"text": "more", "visitor_token": forged}, headers=headers
    )
    assert refused.status_code == 403
    again = web.post(
        "/api/chat/messages", json={"text": "more", "visitor_token": token}, headers=headers
    )
    assert again.status_code == 201 and again.json()["ticket_number"] == first["ticket_number"]


# ---------------------------------------------------------------- signed in to the portal


@pytest.fixture
def portal(site) -> dict:
    manager = make_user("manager")
    alice, bob = make_user("client", name="Alice Login"), make_user("client", name="Bob Login")
    return {
        "alice": alice,
        "bob": bob,
        "alice_client": make_client(manager, "Alice Client", portal_user=alice),
        "bob_client": make_client(manager, "Bob Client", portal_user=bob),
        "manager": manager,
    }


def test_a_client_signed_in_to_the_portal_chats_as_their_client_record(site, portal):
    alice = portal["alice"]
    public_id = site.site.public_id
    opened = web_chat.open_for_client(alice, public_id)
    assert (opened.visitor_name, opened.lines) == ("Alice Client", [])

    number = web_chat.post_message(
        public_id, opened.credential, "Where is my statement?", actor=alice
    )

    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
        visitor = session.execute(select(ChatVisitor)).scalar_one()
    assert (ticket.channel, ticket.client_id) == ("web_chat", portal["alice_client"])
    assert (visitor.email, visitor.portal_user_id) == (alice.email, alice.user_id)
    assert [row.number for row in portal_requests.list_requests(alice)] == [number]


def test_a_portal_chat_needs_the_accounts_session_as_well_as_the_credential(site, portal):
    alice, bob = portal["alice"], portal["bob"]
    public_id = site.site.public_id
    credential = web_chat.open_for_client(alice, public_id).credential
    web_chat.post_message(public_id, credential, "Alice's private question", actor=alice)

    _refused_everywhere(public_id, credential)  # signed out: the credential alone opens nothing
    with pytest.raises(PermissionDenied):
        web_chat.lines(public_id, credential, bob)
    with pytest.raises(PermissionDenied):
        web_chat.post_message(public_id, credential, "I am Alice", actor=bob)
    # Bob signed in with Alice's credential gets his own, empty, chat.
    assert web_chat.open_for_client(bob, public_id, credential).lines == []
    assert [line.text for line in web_chat.lines(public_id, credential, alice)] == [
        "Alice's private question"
    ]


def test_a_signed_in_client_continues_their_chat_in_another_browser(site, portal):
    alice = portal["alice"]
    public_id = site.site.public_id
    first_browser = web_chat.open_for_client(alice, public_id).credential
    number = web_chat.post_message(public_id, first_browser, "Started at home", actor=alice)

    elsewhere = web_chat.open_for_client(alice, public_id)  # nothing in this browser's storage

    assert [line.text for line in elsewhere.lines] == ["Started at home"]
    assert web_chat.post_message(public_id, elsewhere.credential, "At work", actor=alice) == number
    again = web_chat.open_for_client(alice, public_id, first_browser)
    assert [line.text for line in again.lines] == ["Started at home", "At work"]


def test_an_anonymous_visitor_giving_a_clients_address_does_not_see_their_portal_chat(site, portal):
    alice = portal["alice"]
    public_id = site.site.public_id
    mine = web_chat.open_for_client(alice, public_id).credential
    web_chat.post_message(public_id, mine, "Alice's private question", actor=alice)

    impostor = web_chat.start(public_id, "Alice", alice.email)

    assert web_chat.resume(public_id, impostor).lines == []
    # A signed-in client's browser holding an anonymous chat starts their own portal chat.
    assert [line.text for line in web_chat.open_for_client(alice, public_id, impostor).lines] == [
        "Alice's private question"
    ]


def test_only_a_client_with_a_linked_record_is_recognised(site, portal):
    public_id = site.site.public_id
    with pytest.raises(PermissionDenied):
        web_chat.open_for_client(make_user("agent"), public_id)
    with pytest.raises(NotAuthenticated):
        web_chat.open_for_client(None, public_id)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        web_chat.open_for_client(make_user("client"), public_id)  # linked to no client record
