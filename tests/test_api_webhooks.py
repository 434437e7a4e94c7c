"""Webhooks out: ticket and message events reach a real local HTTP receiver, signed with the
endpoint's secret, retried with backoff after a failure, and never lost by a dead worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from crm_app.db import session_scope
from crm_app.services import events as events_service
from crm_app.services import portal as portal_service
from crm_app.services import tickets, webhooks
from crm_app.services.errors import InvalidInput, PermissionDenied
from crm_app.services.mail.inbound import FetchedMail, MailboxRef, import_batch
from jobs.registry import scheduled_jobs
from models.ticket import TicketMessage
from models.webhook import DeliveryStatus, WebhookDelivery
from tests.factories import make_client, make_ticket, make_user
from tests.mail_servers import make_mailbox, simple_message


@dataclass
class Receiver:
    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail_next: int = 0  # answer 500 to this many requests first


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers), body))
            status = 500 if state.fail_next > 0 else 204
            state.fail_next -= 1
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/crm"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _make_due_now() -> None:
    with session_scope() as session:
        session.execute(
            update(WebhookDelivery).values(
                next_attempt_at=WebhookDelivery.next_attempt_at - timedelta(days=1)
            )
        )


def _deliveries() -> list[WebhookDelivery]:
    with session_scope() as session:
        rows = session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars()
        return [WebhookDelivery.model_validate(r.model_dump()) for r in rows]


def test_events_are_posted_signed_with_the_endpoint_secret(db: str, receiver: Receiver) -> None:
    manager = make_user("manager")
    created = webhooks.register_endpoint(manager, receiver.url)
    number = make_ticket(manager, make_client(manager))
    tickets.add_message(manager, number, "We are on it.")
    tickets.update_ticket(manager, number, expected_version=None, priority="high")
    assert webhooks.deliver_due() == {"delivered": 3, "retrying": 0, "failed": 0}
    events = []
    for headers, body in receiver.received:
        expected = hmac.new(
            created.secret.encode(),
            headers["X-CRM-Timestamp"].encode() + b"." + body,
            hashlib.sha256,
        ).hexdigest()
        assert headers["X-CRM-Signature"] == f"sha256={expected}"
        payload = json.loads(body)
        assert payload["data"]["ticket"]["number"] == number
        assert headers["X-CRM-Event"] == payload["event"]
        events.append(payload["event"])
    assert events == ["ticket.created", "message.added", "ticket.updated"]
    assert {d.status for d in _deliveries()} == {DeliveryStatus.DELIVERED}


def test_a_failed_delivery_is_retried_with_backoff_until_it_succeeds(
    db: str, receiver: Receiver
) -> None:
    manager = make_user("manager")
    webhooks.register_endpoint(manager, receiver.url, ["ticket.created"])
    receiver.fail_next = 2
    make_ticket(manager, None)
    assert webhooks.deliver_due()["retrying"] == 1
    first = _deliveries()[0]
    assert first.status == DeliveryStatus.PENDING and first.last_status_code == 500
    assert webhooks.deliver_due() == {"delivered": 0, "retrying": 0, "failed": 0}  # not due yet
    _make_due_now()
    assert webhooks.deliver_due()["retrying"] == 1
    _make_due_now()
    assert webhooks.deliver_due()["delivered"] == 1
    final = _deliveries()[0]
    assert final.status == DeliveryStatus.DELIVERED and final.attempts == 3
    assert len(receiver.received) == 3
    assert webhooks.retry_delay(1) < webhooks.retry_delay(2) < webhooks.retry_delay(3)
    assert webhooks.retry_delay(50) == timedelta(seconds=webhooks.MAX_RETRY_SECONDS)


def test_a_delivery_is_given_up_after_the_last_attempt(db: str, receiver: Receiver) -> None:
    manager = make_user("manager")
    webhooks.register_endpoint(manager, receiver.url, ["ticket.created"])
    receiver.fail_next = 100
    make_ticket(manager, None)
    for _ in range(webhooks.MAX_ATTEMPTS):
        _make_due_now()
        webhooks.deliver_due()
    assert _deliveries()[0].status == DeliveryStatus.FAILED
    assert len(receiver.received) == webhooks.MAX_ATTEMPTS


def test_a_worker_that_dies_mid_delivery_loses_nothing(db: str, receiver: Receiver) -> None:
    manager = make_user("manager")
    webhooks.register_endpoint(manager, receiver.url, ["ticket.created"])
    make_ticket(manager, None)
    claimed = webhooks._claim(10)  # claimed, then the worker dies before posting
    assert len(claimed) == 1
    assert webhooks.deliver_due()["delivered"] == 0  # another worker leaves it alone: leased
    _make_due_now()  # the lease runs out
    assert webhooks.deliver_due()["delivered"] == 1
    assert len(receiver.received) == 1


def test_only_a_manager_registers_webhooks_and_urls_are_checked(db: str) -> None:
    with pytest.raises(PermissionDenied):
        webhooks.register_endpoint(make_user("agent"), "https://hooks.example/x")
    manager = make_user("manager")
    for bad in ("ftp://hooks.example/x", "https://user:pw@hooks.example/", "not a url"):
        with pytest.raises(InvalidInput):
            webhooks.register_endpoint(manager, bad)
    with pytest.raises(InvalidInput):
        webhooks.register_endpoint(manager, "https://hooks.example/x", ["ticket.deleted"])


def test_the_delivery_job_is_in_the_registry() -> None:
    job = next(j for j in scheduled_jobs() if j.id == "webhook_deliver")
    assert job.func == "jobs.webhook_deliver:run"


def test_a_crash_right_after_the_commit_loses_no_webhook(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox row is written in the action's own transaction: even when nothing runs after
    the commit (the process died there), every change has its delivery waiting."""
    manager, alice = make_user("manager"), make_user("client", name="Alice Client")
    make_client(manager, "Alice Client", portal_user=alice)
    webhooks.register_endpoint(manager, "https://hooks.example/crm")
    monkeypatch.setattr(events_service, "emit", lambda event: None)  # the crash
    number = make_ticket(manager, make_client(manager))
    tickets.add_message(manager, number, "We are on it.")
    tickets.update_ticket(manager, number, expected_version=None, priority="high")
    tickets.bulk_update(manager, [number], status="pending")
    portal_number = portal_service.requests.open_request(
        alice, subject="Transfer", message="Please move funds", category="Other"
    )
    portal_service.requests.add_comment(alice, portal_number, "Any news?")
    portal_service.requests.close_request(alice, portal_number)
    assert [(d.event, d.payload["data"]["ticket"]["number"]) for d in _deliveries()] == [
        ("ticket.created", number),
        ("message.added", number),
        ("ticket.updated", number),
        ("ticket.updated", number),
        ("ticket.created", portal_number),
        ("message.added", portal_number),
        ("ticket.updated", portal_number),
    ]


def test_a_failing_outbox_write_rolls_the_change_back(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = make_user("manager")
    webhooks.register_endpoint(manager, "https://hooks.example/crm")
    number = make_ticket(manager, make_client(manager))

    def broken(session, event):
        raise RuntimeError("outbox table unavailable")

    monkeypatch.setitem(events_service._in_transaction, "message.added", [broken])
    with pytest.raises(RuntimeError):
        tickets.add_message(manager, number, "Lost with its webhook, or kept with it.")
    with session_scope() as session:
        kept = session.execute(
            select(TicketMessage.id).where(
                TicketMessage.body_text == "Lost with its webhook, or kept with it."
            )
        ).first()
    assert kept is None


def test_a_crash_right_after_a_mail_import_loses_no_webhook(
    dovecot, mail_account, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = make_user("manager")
    webhooks.register_endpoint(manager, "https://hooks.example/crm", ["ticket.created"])
    ref = MailboxRef(make_mailbox(mail_account), "Client service", mail_account.user)
    raw = simple_message(
        sender="ada@client.example",
        to=mail_account.user,
        subject="Please call me",
        body="About my pension.",
        message_id="<webhook-crash@client.example>",
    )
    monkeypatch.setattr(events_service, "emit", lambda event: None)  # the crash
    assert import_batch(ref, "INBOX", 7, [FetchedMail(1, raw)]).imported == 1
    assert [d.event for d in _deliveries()] == ["ticket.created"]


def test_an_event_no_action_staged_still_reaches_the_outbox_after_the_commit(db: str) -> None:
    """A channel that only emits after its commit (the weaker, older way) still gets its
    webhooks; a staged event is not written twice."""
    manager = make_user("manager")
    webhooks.register_endpoint(manager, "https://hooks.example/crm")
    number = make_ticket(manager, make_client(manager))
    events_service.emit(events_service.Event("message.added", actor=manager, number=number))
    assert [d.event for d in _deliveries()] == ["ticket.created", "message.added"]
