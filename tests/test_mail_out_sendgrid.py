"""Replies from a mailbox set to SendGrid go through the official client, pointed at a local
server that speaks SendGrid's v3 `POST /v3/mail/send`: the JSON holds the same mail as SMTP
would carry; 429/5xx are retried, other 4xx fail with SendGrid's words."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crm_app.crypto import encrypt_secret
from crm_app.services import tickets
from crm_app.settings import get_settings
from jobs import mail_send
from models.mailbox import OutboundKind
from tests.factories import make_user
from tests.test_mail_out import (
    CLIENT_MAIL_ID,
    RecordingSmtp,
    add_mailbox,
    email_ticket,
    outbound_rows,
    smtp,  # noqa: F401  (fixture: the CRM's own notices go there)
    stage,
)

API_KEY = "SG.test-key-for-the-fake"


class FakeSendGrid(ThreadingHTTPServer):
    """Just enough of SendGrid's v3 mail send: bearer auth, the required fields, 202 + id."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict] = []
        self.script: list[tuple[int, dict]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeSendGrid

    def log_message(self, *args: object) -> None:
        return None

    def _answer(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:  # http.server's hook name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        if self.path != "/v3/mail/send":
            return self._answer(404, {"errors": [{"message": "not found"}]})
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._answer(401, {"errors": [{"message": "authorization required"}]})
        if self.server.script:
            status, answer = self.server.script.pop(0)
            return self._answer(status, answer)
        missing = [k for k in ("personalizations", "from", "subject", "content") if k not in body]
        if missing:
            return self._answer(400, {"errors": [{"message": f"missing {missing}"}]})
        self.server.received.append(body)
        return self._answer(202, None, {"X-Message-Id": f"sg-{len(self.server.received)}"})


@pytest.fixture
def sendgrid(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSendGrid]:
    server = FakeSendGrid()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CRM_SENDGRID_API_HOST", server.url)
    get_settings.cache_clear()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        get_settings.cache_clear()


def _sendgrid_mailbox(key: str = API_KEY) -> None:
    add_mailbox(outbound=OutboundKind.SENDGRID, sendgrid_secret=encrypt_secret(key))


def test_reply_from_a_sendgrid_mailbox_goes_through_sendgrids_v3_api(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
    sendgrid: FakeSendGrid,
) -> None:
    _sendgrid_mailbox()
    agent = make_user("agent")
    number = email_ticket(agent)
    letter = stage("letter.txt", b"Confirmation letter", "text/plain")
    tickets.add_message(agent, number, "Your transfer is done.", files=[letter])
    assert mail_send.run().sent == 1
    [body] = sendgrid.received
    assert body["from"] == {"email": "service@firm.example", "name": "Firm Client Service"}
    assert body["personalizations"] == [{"to": [{"email": "grace@x.example"}]}]
    assert body["subject"] == f"Re: Transfer to my savings account [#{number}]"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert "Your transfer is done." in body["content"][0]["value"]
    assert body["headers"]["In-Reply-To"] == CLIENT_MAIL_ID
    assert CLIENT_MAIL_ID in body["headers"]["References"]
    [row] = outbound_rows()
    assert body["headers"]["Message-ID"] == row.headers["Message-ID"]
    assert row.status == "sent" and row.provider_message_id == "sg-1"
    [attached] = body["attachments"]
    assert attached["filename"] == "letter.txt"
    assert base64.b64decode(attached["content"]) == b"Confirmation letter"
    assert smtp.received == []  # nothing went the SMTP way


def test_sendgrid_rate_limit_is_retried_and_a_refusal_is_shown(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
    sendgrid: FakeSendGrid,
) -> None:
    _sendgrid_mailbox()
    agent = make_user("agent")
    number = email_ticket(agent)
    tickets.add_message(agent, number, "Answer")
    sendgrid.script = [(429, {"errors": [{"message": "too many requests"}]})]
    assert mail_send.run().retrying == 1
    [row] = outbound_rows()
    assert row.status == "queued" and "429" in row.last_error
    tickets.add_message(agent, number, "Second answer")
    sendgrid.script = [(400, {"errors": [{"message": "The from address is not verified"}]})]
    assert mail_send.run().failed == 1
    failed = [r for r in outbound_rows() if r.status == "failed"]
    assert len(failed) == 1 and "The from address is not verified" in failed[0].last_error


def test_a_wrong_sendgrid_key_fails_with_the_reason(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
    sendgrid: FakeSendGrid,
) -> None:
    _sendgrid_mailbox(key="SG.wrong")
    agent = make_user("agent")
    number = email_ticket(agent)
    tickets.add_message(agent, number, "Answer")
    assert mail_send.run().failed == 1
    [row] = outbound_rows()
    assert "401" in row.last_error and "authorization required" in row.last_error
