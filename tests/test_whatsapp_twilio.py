"""WhatsApp through Twilio: signed webhooks in (Twilio's own signature algorithm, computed with
the official `RequestValidator`), forgeries refused, one message per webhook however often it
comes, media from the Twilio API host only, replies out through the real `twilio` client to a
local fake of Twilio's REST API, and delivery reports on the sent message."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from crm_app.api import build_api
from crm_app.api.security import SecurityMiddleware
from crm_app.db import session_scope
from crm_app.services import tickets
from crm_app.services.errors import InvalidInput
from crm_app.services.mail import outbox
from crm_app.services.messaging import delivery
from crm_app.settings import get_settings
from models.client import Client
from models.messaging import ChannelDelivery, ChannelEvent
from models.outbox import OutboundMessage
from models.ticket import Attachment, Ticket, TicketMessage
from tests.factories import make_user
from tests.fake_whatsapp import MEDIA_BYTES, FakeServer, fake_twilio

TOKEN = "twilio-auth-token-for-tests"
SID = "AC" + "0" * 30 + "12"
PUBLIC = "https://crm.firm.example"
PATH = "/api/webhooks/twilio/whatsapp"
CLIENT_NUMBER = "+4915123456789"


class MultiDict:
    """Form fields with repeated keys, as a Flask MultiDict (what RequestValidator reads)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def __iter__(self):
        return iter(dict.fromkeys(k for k, _ in self.pairs))

    def getall(self, key: str) -> list[str]:
        return [v for k, v in self.pairs if k == key]


def sign(url: str, pairs: list[tuple[str, str]], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, MultiDict(pairs))


@pytest.fixture
def twilio_api(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with fake_twilio(SID, TOKEN) as server:
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", SID)
        monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "whatsapp:+14155238886")
        monkeypatch.setenv("TWILIO_API_BASE_URL", server.url)
        monkeypatch.setenv("CRM_PUBLIC_URL", PUBLIC)
        get_settings.cache_clear()
        yield server
    get_settings.cache_clear()


@pytest.fixture
def web(twilio_api: FakeServer) -> TestClient:
    return TestClient(SecurityMiddleware(build_api()), base_url="http://10.0.0.5:3000")


def inbound(sid: str = "SM" + "a" * 32, body: str = "Hello, is my transfer done?", **extra: str):
    pairs = [
        ("MessageSid", sid),
        ("SmsMessageSid", sid),
        ("AccountSid", SID),
        ("From", f"whatsapp:{CLIENT_NUMBER}"),
        ("To", "whatsapp:+14155238886"),
        ("Body", body),
        ("NumMedia", "0"),
        ("ProfileName", "Grace Hopper"),
        ("WaId", CLIENT_NUMBER.lstrip("+")),
        ("SmsStatus", "received"),
    ]
    given = dict(extra)
    pairs = [(k, given.pop(k, v)) for k, v in pairs] + list(given.items())
    return pairs


def post(web: TestClient, pairs, signature: str | None, query: str = "", headers=None):
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    if signature is not None:
        all_headers["X-Twilio-Signature"] = signature
    return web.post(
        PATH + (f"?{query}" if query else ""), content=urlencode(pairs), headers=all_headers
    )


def counts() -> tuple[int, int, int]:
    with session_scope() as session:
        return (
            session.execute(select(func.count()).select_from(Ticket)).scalar_one(),
            session.execute(select(func.count()).select_from(TicketMessage)).scalar_one(),
            session.execute(
                select(func.count())
                .select_from(ChannelEvent)
                .where(ChannelEvent.outcome == "refused")
            ).scalar_one(),
        )


def test_signed_twilio_message_opens_a_whatsapp_ticket_of_the_client_with_that_number(web):
    manager = make_user("manager")
    with session_scope() as session:
        session.add(Client(name="Grace Hopper", phone="+49 151 2345 6789", email="g@x.example"))
    pairs = inbound()
    response = post(web, pairs, sign(PUBLIC + PATH, pairs))
    assert response.status_code == 200, response.text
    assert "<Response>" in response.text
    with session_scope() as session:
        ticket = session.execute(select(Ticket)).scalar_one()
        client = session.get(Client, ticket.client_id)
        message = session.execute(select(TicketMessage)).scalar_one()
        assert (ticket.channel, client.email) == ("whatsapp", "g@x.example")
        assert ticket.subject == "Hello, is my transfer done?"
        assert message.sender_kind == "client" and message.channel == "whatsapp"
        number = ticket.number
    # A second message from the same number continues the same ticket.
    pairs = inbound(sid="SM" + "b" * 32, body="Any news?")
    assert post(web, pairs, sign(PUBLIC + PATH, pairs)).status_code == 200
    assert counts()[:2] == (1, 2)
    detail = tickets.get_ticket(manager, number)
    assert [m.body_text for m in detail.messages][-1] == "Any news?"


def test_unknown_number_gets_an_unverified_client_named_after_the_whatsapp_profile(web):
    pairs = inbound()
    assert post(web, pairs, sign(PUBLIC + PATH, pairs)).status_code == 200
    with session_scope() as session:
        client = session.execute(select(Client)).scalar_one()
        assert (client.name, client.phone, client.verified) == (
            "Grace Hopper",
            CLIENT_NUMBER,
            False,
        )


def test_unsigned_or_forged_twilio_webhooks_are_refused_with_403_and_recorded(web):
    pairs = inbound()
    good = sign(PUBLIC + PATH, pairs)
    forged = [
        None,  # unsigned
        "",
        sign(PUBLIC + PATH, pairs, token="someone-elses-token"),
        sign("https://evil.example" + PATH, pairs),  # signed for another address
        sign(PUBLIC + PATH + "?x=1", pairs),  # for another query string
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
    ]
    for signature in forged:
        assert post(web, pairs, signature).status_code == 403
    # A valid signature over other parameters: the body was changed on the way.
    tampered = inbound(body="Send my money to account 666")
    assert post(web, tampered, good).status_code == 403
    assert counts() == (0, 0, len(forged) + 1)


def test_twilio_signature_holds_with_or_without_the_default_port_and_with_a_query(web):
    query = "site=main&lang=de"
    variants = [
        (PUBLIC + PATH + "?" + query, "SM" + "1" * 32),
        ("https://crm.firm.example:443" + PATH + "?" + query, "SM" + "2" * 32),
    ]
    for url, sid in variants:
        pairs = inbound(sid=sid)
        assert post(web, pairs, sign(url, pairs), query=query).status_code == 200
    # The signature covers the query: the same one on another query is refused.
    pairs = inbound(sid="SM" + "3" * 32)
    assert (
        post(web, pairs, sign(PUBLIC + PATH + "?" + query, pairs), query="site=other").status_code
        == 403
    )
    assert counts()[1] == 2


def test_twilio_signature_covers_every_value_of_a_repeated_form_key(web):
    pairs = [*inbound(), ("Tag", "b"), ("Tag", "a")]
    signature = sign(PUBLIC + PATH, pairs)
    assert post(web, pairs, signature).status_code == 200
    dropped = [*inbound(sid="SM" + "c" * 32), ("Tag", "b")]
    assert post(web, dropped, sign(PUBLIC + PATH, [*dropped, ("Tag", "a")])).status_code == 403


def test_the_same_twilio_webhook_delivered_twice_makes_one_message(web):
    pairs = inbound()
    signature = sign(PUBLIC + PATH, pairs)
    assert post(web, pairs, signature).status_code == 200
    assert post(web, pairs, signature).status_code == 200
    assert counts() == (1, 1, 0)


def test_twilio_media_are_stored_as_attachments_fetched_from_the_twilio_api_host_only(
    web, twilio_api: FakeServer
):
    media = f"{twilio_api.url}/2010-04-01/Accounts/{SID}/Messages/MM1/Media/ME1"
    elsewhere = "http://127.0.0.2:9/steal-credentials"
    pairs = inbound(
        body="My passport",
        NumMedia="2",
        MediaUrl0=media,
        MediaContentType0="image/jpeg",
        MediaUrl1=elsewhere,
        MediaContentType1="image/png",
    )
    assert post(web, pairs, sign(PUBLIC + PATH, pairs)).status_code == 200
    with session_scope() as session:
        attachment = session.execute(select(Attachment)).scalar_one()
        message = session.execute(select(TicketMessage)).scalar_one()
    assert attachment.content_type == "image/jpeg" and attachment.size_bytes == len(MEDIA_BYTES)
    assert "image/png not kept" in message.body_text
    fetched = [r for r in twilio_api.requests if r.method == "GET"]
    assert len(fetched) == 1 and fetched[0].headers["Authorization"] == twilio_api.auth_header


def _ticket_from_client(web) -> int:
    pairs = inbound()
    assert post(web, pairs, sign(PUBLIC + PATH, pairs)).status_code == 200
    with session_scope() as session:
        return session.execute(select(Ticket.number)).scalar_one()


def test_agent_reply_on_a_whatsapp_ticket_goes_out_through_the_twilio_client(
    web, twilio_api: FakeServer
):
    agent = make_user("agent")
    number = _ticket_from_client(web)
    row = tickets.add_message(agent, number, "Yes, it left this morning.")
    assert row.delivery_status == "queued"
    report = delivery.run(run_seconds=5)
    assert report.sent == 1, report.errors
    sent = twilio_api.sends()[0]
    form = dict(sent.form)
    assert sent.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert form["To"] == f"whatsapp:{CLIENT_NUMBER}" and form["From"] == "whatsapp:+14155238886"
    assert form["Body"] == "Yes, it left this morning."
    assert form["StatusCallback"] == PUBLIC + PATH
    with session_scope() as session:
        outbound = session.execute(select(OutboundMessage)).scalar_one()
        assert outbound.status == "sent" and outbound.provider_message_id.startswith("SM")
        provider_id = outbound.provider_message_id
    # Twilio reports the delivery on the status callback, signed like any webhook.
    status = [
        ("MessageSid", provider_id),
        ("MessageStatus", "delivered"),
        ("AccountSid", SID),
        ("To", f"whatsapp:{CLIENT_NUMBER}"),
    ]
    assert post(web, status, sign(PUBLIC + PATH, status)).status_code == 200
    with session_scope() as session:
        assert session.get(ChannelDelivery, provider_id).state == "delivered"
    failed = [*status[:1], ("MessageStatus", "undelivered"), ("ErrorCode", "63016"), *status[2:]]
    assert post(web, failed, sign(PUBLIC + PATH, failed)).status_code == 200
    detail = tickets.get_ticket(agent, number)
    reply = detail.messages[-1]
    assert reply.delivery_status == "failed" and "63016" in reply.delivery_error
    outbox.retry(agent, reply.id)
    assert delivery.run(run_seconds=5).sent == 1
    assert len(twilio_api.sends()) == 2


def test_twilio_refusing_a_reply_marks_it_failed_with_twilios_reason(web, twilio_api: FakeServer):
    agent = make_user("agent")
    number = _ticket_from_client(web)
    twilio_api.fail_next.append(
        (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
    )
    tickets.add_message(agent, number, "Hello")
    report = delivery.run(run_seconds=5)
    assert report.failed == 1
    reply = tickets.get_ticket(agent, number).messages[-1]
    assert reply.delivery_status == "failed"
    assert "21211" in reply.delivery_error and "Invalid 'To' Phone Number" in reply.delivery_error


def test_twilio_server_error_is_retried_later(web, twilio_api: FakeServer):
    agent = make_user("agent")
    number = _ticket_from_client(web)
    twilio_api.fail_next.append((503, {"code": 20500, "message": "Unavailable", "status": 503}))
    tickets.add_message(agent, number, "Hello")
    report = delivery.run(run_seconds=5)
    assert (report.sent, report.retrying) == (0, 1)
    with session_scope() as session:
        assert session.execute(select(OutboundMessage.status)).scalar_one() == "queued"


def test_whatsapp_reply_longer_than_twilio_allows_is_refused_and_nothing_saved(web):
    agent = make_user("agent")
    number = _ticket_from_client(web)
    with pytest.raises(InvalidInput, match="1,600"):
        tickets.add_message(agent, number, "x" * 1601)
    assert counts()[1] == 1


def test_agent_cannot_open_a_whatsapp_conversation_the_client_did_not_start(web):
    agent = make_user("agent")
    with session_scope() as session:
        client = Client(name="Grace Hopper", phone=CLIENT_NUMBER)
        session.add(client)
        session.flush()
        client_id = client.id
    with pytest.raises(InvalidInput, match="has not written on WhatsApp"):
        tickets.create_ticket(
            agent, client_id=client_id, subject="Hello", body="Hi", channel="whatsapp"
        )
    assert counts()[:2] == (0, 0)
