"""The web chat: a visitor's conversation is a `web_chat` ticket in the one queue; they see
staff answers (never internal notes) while on the page, and get them by email once they left;
other front ends post with the site's key; abuse is limited (rates, sizes, honeypot, text
only) and only the listed origins may frame the widget."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from crm_app.api import build_api
from crm_app.api.security import SecurityMiddleware
from crm_app.db import session_scope
from crm_app.services import tickets
from crm_app.services.errors import PermissionDenied, RateLimited
from crm_app.services.messaging import web_chat
from models.client import Client
from models.messaging import ChatVisitor
from models.outbox import OutboundMessage
from models.ticket import Ticket, TicketMessage
from tests.factories import make_user


@pytest.fixture
def site(db: str) -> web_chat.CreatedSite:
    manager = make_user("manager")
    return web_chat.create_site(
        manager,
        name="Public website",
        allowed_origins="https://www.firm.example\nhttps://help.firm.example",
        brand_name="Firm Help",
        colour="#1d4ed8",
        greeting="Welcome!",
        office_hours="Mon–Fri 8–18",
    )


@pytest.fixture
def web(db: str) -> TestClient:
    return TestClient(SecurityMiddleware(build_api()), base_url="http://crm.test")


def _messages() -> int:
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(TicketMessage)).scalar_one()


def test_a_chat_is_a_web_chat_ticket_and_the_visitor_sees_answers_but_never_notes(site):
    agent = make_user("agent")
    public_id = site.site.public_id
    token = web_chat.start(public_id, "Ada Visitor", "ada@visitor.example", remote_addr="192.0.2.1")
    number = web_chat.post_message(public_id, token, "Can I open an ISA online?")
    with session_scope() as session:
        ticket = session.execute(select(Ticket)).scalar_one()
        client = session.get(Client, ticket.client_id)
    assert (ticket.channel, ticket.number, client.email) == (
        "web_chat",
        number,
        "ada@visitor.example",
    )
    tickets.add_message(agent, number, "Internal: check KYC first", internal=True)
    tickets.add_message(agent, number, "Yes, from the portal.")
    lines = web_chat.lines(public_id, token)
    assert [(line.from_visitor, line.text) for line in lines] == [
        (True, "Can I open an ISA online?"),
        (False, "Yes, from the portal."),
    ]
    # The same visitor writing again continues the ticket.
    assert web_chat.post_message(public_id, token, "Thanks!") == number


def test_reply_is_shown_in_the_chat_while_the_visitor_is_there_and_emailed_once_they_left(site):
    agent = make_user("agent")
    public_id = site.site.public_id
    token = web_chat.start(public_id, "Ada Visitor", "ada@visitor.example")
    number = web_chat.post_message(public_id, token, "Hello?")
    tickets.add_message(agent, number, "Hi Ada!")
    with session_scope() as session:
        row = session.execute(select(OutboundMessage)).scalar_one()
        assert (row.channel, row.status) == ("web_chat", "sent")
        session.execute(
            update(ChatVisitor).values(last_seen_at=ChatVisitor.last_seen_at - web_chat.ON_PAGE * 2)
        )
    later = tickets.add_message(agent, number, "Sorry we missed you: here is the answer.")
    with session_scope() as session:
        email = session.execute(
            select(OutboundMessage).where(OutboundMessage.message_id == later.id)
        ).scalar_one()
    assert (email.channel, email.to_addrs, email.status) == (
        "email",
        "ada@visitor.example",
        "queued",
    )


def test_the_agent_sees_whether_the_visitor_is_on_the_page_and_typing(site):
    agent = make_user("agent")
    public_id = site.site.public_id
    token = web_chat.start(public_id, "Ada Visitor", "ada@visitor.example")
    number = web_chat.post_message(public_id, token, "Hello?")
    web_chat.heartbeat(public_id, token, typing=True)
    status = web_chat.visitor_status(agent, number)
    assert status is not None and status.on_page and status.typing
    with session_scope() as session:
        session.execute(
            update(ChatVisitor).values(last_seen_at=ChatVisitor.last_seen_at - web_chat.ON_PAGE * 2)
        )
    status = web_chat.visitor_status(agent, number)
    assert not status.on_page and not status.typing


def test_chat_api_takes_messages_only_with_the_sites_key(site, web):
    message = {"name": "Seed System", "email": "seed@clients.example", "text": "From the seed"}
    assert web.post("/api/chat/messages", json=message).status_code == 403
    wrong = {"X-Chat-Site-Key": web_chat.KEY_PREFIX + "not-the-key-at-all-000000"}
    assert web.post("/api/chat/messages", json=message, headers=wrong).status_code == 403
    headers = {"X-Chat-Site-Key": site.key}
    answer = web.post("/api/chat/messages", json=message, headers=headers)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    more = {"text": "And a second line", "visitor_token": body["visitor_token"]}
    again = web.post(
        "/api/chat/messages", json=more, headers={"Authorization": f"Bearer {site.key}"}
    )
    assert again.status_code == 201 and again.json()["ticket_number"] == body["ticket_number"]
    assert _messages() == 2


def test_chat_sizes_are_limited_and_a_filled_honeypot_stores_nothing(site, web):
    headers = {"X-Chat-Site-Key": site.key}
    person = {"name": "Bot", "email": "bot@spam.example"}
    too_long = web.post("/api/chat/messages", json={**person, "text": "x" * 2001}, headers=headers)
    assert too_long.status_code == 422
    huge = web.post(
        "/api/chat/messages",
        content=b'{"text": "' + b"x" * 20000 + b'"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    honeypot = web.post(
        "/api/chat/messages",
        json={**person, "text": "Buy now", "website": "http://spam.example"},
        headers=headers,
    )
    assert honeypot.status_code == 201 and honeypot.json()["ticket_number"] is None
    assert _messages() == 0
    token = web_chat.start(site.site.public_id, "Bot", "bot@spam.example", honeypot="filled")
    assert web_chat.post_message(site.site.public_id, token, "spam") is None
    assert _messages() == 0


def test_a_visitor_writing_too_fast_is_slowed_down(site):
    public_id = site.site.public_id
    token = web_chat.start(public_id, "Ada Visitor", "ada@visitor.example")
    for index in range(web_chat.PER_VISITOR_PER_MINUTE):
        web_chat.post_message(public_id, token, f"message {index}")
    with pytest.raises(RateLimited):
        web_chat.post_message(public_id, token, "one more")
    assert _messages() == web_chat.PER_VISITOR_PER_MINUTE


def test_one_network_cannot_flood_the_chat_from_many_visitors(site):
    public_id = site.site.public_id
    sent = 0
    with pytest.raises(RateLimited):
        for visitor in range(web_chat.PER_IP_PER_MINUTE + 1):
            token = web_chat.start(
                public_id, f"V {visitor}", f"v{visitor}@x.example", remote_addr="198.51.100.7"
            )
            web_chat.post_message(public_id, token, "hi", remote_addr="198.51.100.7")
            sent += 1
    assert sent <= web_chat.PER_IP_PER_MINUTE


def test_chat_text_is_kept_as_text_never_as_html(site):
    public_id = site.site.public_id
    token = web_chat.start(public_id, "Mallory", "m@x.example")
    web_chat.post_message(public_id, token, '<img src=x onerror="alert(1)">')
    with session_scope() as session:
        message = session.execute(select(TicketMessage)).scalar_one()
    assert message.body_html is None
    assert web_chat.lines(public_id, token)[0].text == '<img src=x onerror="alert(1)">'


def test_another_sites_token_does_not_reach_the_conversation(site):
    manager = make_user("manager")
    other = web_chat.create_site(manager, name="Other site")
    token = web_chat.start(site.site.public_id, "Ada Visitor", "ada@visitor.example")
    web_chat.post_message(site.site.public_id, token, "Private question")
    with pytest.raises(PermissionDenied):
        web_chat.lines(other.site.public_id, token)


def test_only_the_listed_origins_may_frame_the_chat_widget(site):
    app = FastAPI()

    @app.get("/{path:path}")
    def page(path: str) -> HTMLResponse:
        return HTMLResponse("<html><body>page</body></html>")

    client = TestClient(SecurityMiddleware(app))
    widget = client.get(f"/chat/{site.site.public_id}")
    policy = widget.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://www.firm.example https://help.firm.example" in policy
    assert "x-frame-options" not in widget.headers
    unknown = client.get("/chat/no-such-site")
    assert unknown.headers["content-security-policy"].endswith("frame-ancestors 'self'")
    elsewhere = client.get("/tickets")
    assert "frame-ancestors 'none'" in elsewhere.headers["content-security-policy"]
    assert elsewhere.headers["x-frame-options"] == "DENY"


def test_the_loader_script_opens_the_sites_chat_and_carries_settings_only_as_data(site, web):
    manager = make_user("manager")
    web_chat.update_site(
        manager,
        site.site.id,
        name="Public website",
        allowed_origins="https://www.firm.example",
        brand_name="</script><script>alert(1)</script>",
        colour="#1d4ed8",
        greeting="",
        office_hours="",
        enabled=True,
    )
    answer = web.get(f"/api/chat/loader.js?site={site.site.public_id}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert f"/chat/{site.site.public_id}" in answer.text
    assert '"Chat with </script><script>alert(1)</script>"' in answer.text  # a JSON string
    assert web.get("/api/chat/loader.js?site=nope").status_code == 404
