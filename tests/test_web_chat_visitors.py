"""A web chat visitor's conversation continues after a reload: the browser keeps a credential
the app signed for that site, with an expiry; the service verifies it on every call, so a
forged, altered, expired or another site's credential reaches no conversation, and a visitor
never reads another visitor's chat. A solved or closed chat is over: the next message starts a
new ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_app.api import build_api
from crm_app.api.security import SecurityMiddleware
from crm_app.db import session_scope
from crm_app.services import tickets
from crm_app.services.errors import PermissionDenied
from crm_app.services.messaging import web_chat
from crm_app.services.messaging.web_chat import credentials
from models.base import utcnow
from models.messaging import ChatVisitor
from tests.factories import make_user


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
