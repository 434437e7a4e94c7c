"""WhatsApp through Meta's Cloud API: the subscription handshake, X-Hub-Signature-256 over the
raw body (forgeries 403), text, media and status events, one message per event however often
it comes, replies through a local fake of the Graph API's messages endpoint, and the 24-hour
customer-service window (outside it only an approved template goes out)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from crm_app.api import build_api
from crm_app.api.security import SecurityMiddleware
from crm_app.db import session_scope
from crm_app.services import channels, tickets
from crm_app.services.errors import InvalidInput
from crm_app.services.messaging import delivery, template_messages
from crm_app.settings import get_settings
from models.messaging import ChannelDelivery, ChannelEvent
from models.outbox import OutboundMessage
from models.ticket import Attachment, Ticket, TicketMessage
from tests.factories import make_user
from tests.fake_whatsapp import MEDIA_BYTES, FakeServer, fake_graph

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "meta-verify-token-for-tests"
ACCESS_TOKEN = "EAAG-test-access-token"
PHONE_ID = "106540352242922"
PATH = "/api/webhooks/meta/whatsapp"
WA_ID = "4915123456789"


@pytest.fixture
def graph(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with fake_graph(ACCESS_TOKEN, PHONE_ID) as server:
        monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
        monkeypatch.setenv("META_VERIFY_TOKEN", VERIFY_TOKEN)
        monkeypatch.setenv("META_ACCESS_TOKEN", ACCESS_TOKEN)
        monkeypatch.setenv("META_PHONE_NUMBER_ID", PHONE_ID)
        monkeypatch.setenv("META_GRAPH_URL", server.url + "/v21.0")
        monkeypatch.setenv("CRM_WHATSAPP_TEMPLATES", "account_update:en_US")
        get_settings.cache_clear()
        yield server
    get_settings.cache_clear()


@pytest.fixture
def web(graph: FakeServer) -> TestClient:
    return TestClient(SecurityMiddleware(build_api()), base_url="http://crm.test")


def event(messages=None, statuses=None) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550100", "phone_number_id": PHONE_ID},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": "Grace Hopper"}, "wa_id": WA_ID}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }


def text_message(wamid: str = "wamid.HBgLNDkxNTEyMzQ1Njc4OQ==", body: str = "Hi there") -> dict:
    return {
        "from": WA_ID,
        "id": wamid,
        "timestamp": "1764590400",
        "type": "text",
        "text": {"body": body},
    }


def signature(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def post(web: TestClient, raw: bytes, header: str | None):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-Hub-Signature-256"] = header
    return web.post(PATH, content=raw, headers=headers)


def deliver(web: TestClient, payload: dict):
    raw = json.dumps(payload).encode()
    return post(web, raw, signature(raw))


def message_count() -> int:
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(TicketMessage)).scalar_one()


def test_meta_handshake_echoes_the_challenge_only_for_our_verify_token(web):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    answer = web.get(PATH, params=query)
    assert (answer.status_code, answer.text) == (200, "1158201444")
    assert web.get(PATH, params={**query, "hub.verify_token": "guess"}).status_code == 403
    assert web.get(PATH, params={**query, "hub.mode": "unsubscribe"}).status_code == 403
    assert web.get(PATH).status_code == 403


def test_meta_event_signed_with_the_app_secret_opens_a_whatsapp_ticket(web):
    response = deliver(web, event([text_message()]))
    assert response.status_code == 200, response.text
    with session_scope() as session:
        ticket = session.execute(select(Ticket)).scalar_one()
        message = session.execute(select(TicketMessage)).scalar_one()
    assert (ticket.channel, ticket.subject, message.body_text) == (
        "whatsapp",
        "Hi there",
        "Hi there",
    )


def test_unsigned_or_forged_meta_events_are_refused_with_403_and_recorded(web):
    payload = event([text_message()])
    raw = json.dumps(payload).encode()
    # The same JSON written differently is another body: its signature no longer matches.
    respaced = json.dumps(payload, indent=1).encode()
    hexdigest = signature(raw)[len("sha256=") :]
    for body, header in [
        (raw, None),
        (raw, ""),
        (raw, signature(raw, secret="not-our-secret")),
        (raw, "sha1=" + hexdigest),
        (raw, hexdigest),  # without the sha256= prefix
        (respaced, signature(raw)),
        (raw.replace(b"Hi there", b"Wire it all"), signature(raw)),
    ]:
        assert post(web, body, header).status_code == 403
    assert message_count() == 0
    with session_scope() as session:
        refused = session.execute(
            select(func.count()).select_from(ChannelEvent).where(ChannelEvent.outcome == "refused")
        ).scalar_one()
    assert refused == 7


def test_the_same_meta_event_delivered_twice_makes_one_message(web):
    payload = event([text_message()])
    assert deliver(web, payload).status_code == 200
    assert deliver(web, payload).status_code == 200
    assert message_count() == 1


def test_meta_media_are_fetched_through_the_graph_api_and_stored_as_attachments(
    web, graph: FakeServer
):
    image = {
        "from": WA_ID,
        "id": "wamid.image1",
        "timestamp": "1764590400",
        "type": "image",
        "image": {"id": "1234567890", "mime_type": "image/jpeg", "caption": "My ID card"},
    }
    assert deliver(web, event([image])).status_code == 200
    with session_scope() as session:
        attachment = session.execute(select(Attachment)).scalar_one()
        message = session.execute(select(TicketMessage)).scalar_one()
    assert message.body_text == "My ID card"
    assert (attachment.content_type, attachment.size_bytes) == ("image/jpeg", len(MEDIA_BYTES))
    assert all(r.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}" for r in graph.requests)


def _ticket(web) -> int:
    assert deliver(web, event([text_message()])).status_code == 200
    with session_scope() as session:
        return session.execute(select(Ticket.number)).scalar_one()


def test_agent_reply_goes_out_through_the_graph_api_and_statuses_update_it(web, graph):
    agent = make_user("agent")
    number = _ticket(web)
    tickets.add_message(agent, number, "We received your documents.")
    assert delivery.run(run_seconds=5).sent == 1
    sent = graph.sends()[0]
    assert sent.path == f"/v21.0/{PHONE_ID}/messages"
    assert sent.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"preview_url": False, "body": "We received your documents."},
    }
    with session_scope() as session:
        wamid = session.execute(select(OutboundMessage.provider_message_id)).scalar_one()
    read = event(
        statuses=[{"id": wamid, "status": "read", "timestamp": "1764590500", "recipient_id": WA_ID}]
    )
    assert deliver(web, read).status_code == 200
    with session_scope() as session:
        assert session.get(ChannelDelivery, wamid).state == "read"
    failed = event(
        statuses=[
            {
                "id": wamid,
                "status": "failed",
                "recipient_id": WA_ID,
                "errors": [{"code": 131047, "title": "Re-engagement message"}],
            }
        ]
    )
    assert deliver(web, failed).status_code == 200
    reply = tickets.get_ticket(agent, number).messages[-1]
    assert reply.delivery_status == "failed" and "131047" in reply.delivery_error


def test_outside_the_24_hour_window_only_an_approved_template_can_be_sent(web, graph):
    agent = make_user("agent")
    number = _ticket(web)
    with session_scope() as session:
        session.execute(
            update(TicketMessage).values(created_at=TicketMessage.created_at - timedelta(hours=25))
        )
    with pytest.raises(InvalidInput, match="24 hours"):
        tickets.add_message(agent, number, "Are you still there?")
    assert message_count() == 1
    with pytest.raises(InvalidInput, match="approved template"):
        template_messages.send_template(agent, number, "free_text_hack")
    template_messages.send_template(agent, number, "account_update:en_US")
    assert delivery.run(run_seconds=5).sent == 1
    assert graph.sends()[0].json["template"] == {
        "name": "account_update",
        "language": {"code": "en_US"},
    }


def test_the_composer_says_when_the_24_hour_window_closes_and_why_replies_are_refused(web):
    number = _ticket(web)
    assert "window for free replies closes" in channels.reply_note("whatsapp", number)
    with session_scope() as session:
        session.execute(
            update(TicketMessage).values(created_at=TicketMessage.created_at - timedelta(hours=25))
        )
    assert "approved template" in channels.reply_note("whatsapp", number)
