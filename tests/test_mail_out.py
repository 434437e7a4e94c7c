"""Mail out: an agent's reply on an email ticket leaves through the outbox to a real SMTP
server (aiosmtpd) with the right headers and parts; notes never do; failures are retried with
backoff or shown with their reason; acknowledgements are rate limited and never loop."""

from __future__ import annotations

import asyncio
import email
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from crm_app.auth.permissions import Actor
from crm_app.crypto import encrypt_secret
from crm_app.db import session_scope
from crm_app.services import attachments, channels, system_mail, tickets
from crm_app.services.errors import InvalidInput, PermissionDenied
from crm_app.services.mail import outbox
from crm_app.settings import get_settings
from ingest.model import Address, Automation
from jobs import mail_send
from models.base import utcnow
from models.mailbox import ConnectionSecurity, Mailbox, OutboundKind
from models.outbox import OutboundMessage
from models.ticket import Channel, SenderKind, Ticket, TicketMessage
from tests.factories import make_client, make_user

CLIENT_MAIL_ID = "<first-request@client.example>"


class RecordingSmtp:
    """aiosmtpd handler: keeps every accepted mail; `script` answers the next DATA commands
    with the given replies instead (a deferral, a refusal)."""

    current: RecordingSmtp  # the running test's server

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.script: list[str] = []
        self.delay = 0.0
        self.rcpt_delay = 0.0  # a slow RCPT: a client killed here has not started its DATA
        self.refuse_rcpt: set[str] = set()  # addresses RCPT answers with 550
        self.refuse_data: set[str] = set()  # a message to one of these is refused at its end
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        if address in self.refuse_rcpt:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            if self.refuse_data & set(envelope.rcpt_tos):
                return "554 5.7.1 Message rejected"
            if self.script:
                return self.script.pop(0)
            self.received.append(email.message_from_bytes(envelope.content, policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            return f"250 2.0.0 Ok: queued as Q{len(self.received)}"

    def forget_system_mail(self) -> None:
        """Drop the CRM's own notices (sign-up mails of the users a test made)."""
        system_mail.flush()
        with self._lock:
            self.received.clear()
            self.envelopes.clear()

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.received]


def start_smtp(handler: RecordingSmtp):
    """Start a real aiosmtpd server on a free port; `.port` is where to send."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingSmtp]:
    """A real SMTP server; the product's own mail settings point at it (the local default)."""
    handler = RecordingSmtp()
    RecordingSmtp.current = handler
    controller = start_smtp(handler)
    port = controller.port
    monkeypatch.setenv("CRM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CRM_SMTP_PORT", str(port))
    monkeypatch.setenv("CRM_SMTP_TLS", "none")
    monkeypatch.setenv("CRM_MAIL_FROM", "Finance CRM <no-reply@firm.example>")
    monkeypatch.setenv("CRM_OUTBOX_BACKOFF_SECONDS", "30")
    get_settings.cache_clear()
    handler.port = port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        controller.stop()
        get_settings.cache_clear()


def add_mailbox(**fields) -> int:
    values = {
        "name": "Client service",
        "address": "service@firm.example",
        "display_name": "Firm Client Service",
        "is_default": True,
        "outbound": OutboundKind.SYSTEM,
    }
    values.update(fields)
    with session_scope() as session:
        mailbox = Mailbox(**values)
        session.add(mailbox)
        session.flush()
        return mailbox.id


def email_ticket(agent: Actor, *, message_id: str = CLIENT_MAIL_ID) -> int:
    """An email ticket as mail in leaves it: the client's first mail, with its Message-ID."""
    client_id = make_client(agent, "Grace Hopper")
    number = tickets.create_ticket(
        agent,
        client_id=client_id,
        subject="Transfer to my savings account",
        body="Please move 5,000 EUR to savings.",
        channel=Channel.EMAIL,
        from_client=True,
    ).number
    with session_scope() as session:
        ticket_id = session.execute(select(Ticket.id).where(Ticket.number == number)).scalar_one()
        session.execute(
            update(TicketMessage)
            .where(TicketMessage.ticket_id == ticket_id)
            .values(external_message_id=message_id, channel=Channel.EMAIL)
        )
    RecordingSmtp.current.forget_system_mail()
    return number


def client_answers(number: int, message_id: str, in_reply_to: str) -> None:
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
        session.add(
            TicketMessage(
                ticket_id=ticket.id,
                sender_kind=SenderKind.CLIENT,
                body_text="Thanks, and one more question.",
                channel=Channel.EMAIL,
                external_message_id=message_id,
                in_reply_to=in_reply_to,
                created_at=utcnow() + timedelta(seconds=1),
            )
        )


def outbound_rows() -> list[OutboundMessage]:
    with session_scope() as session:
        return list(session.execute(select(OutboundMessage).order_by(OutboundMessage.id)).scalars())


def make_due() -> None:
    """Jump past every backoff, as if the wait had passed."""
    with session_scope() as session:
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.status == "queued")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def stage(tmp_name: str, data: bytes, content_type: str) -> attachments.StagedFile:
    sink = attachments.UploadSink(0)
    sink.write(tmp_name, 0, content_type, data)
    return sink.finish()[0]


# ---------------------------------------------------------------- the reply goes out


def test_reply_on_email_ticket_reaches_the_client_with_threading_headers_parts_and_files(
    db: str, smtp: RecordingSmtp
) -> None:
    add_mailbox()
    agent = make_user("agent", "Alan Agent")
    number = email_ticket(agent)
    statement = stage("statement.pdf", b"%PDF-1.4 quarterly statement", "application/pdf")
    row = tickets.add_message(
        agent, number, "Done: 5,000 EUR moved.\n\nSee https://firm.example/help", files=[statement]
    )
    assert row.delivery_status == "queued"
    # Queued with the reply, in its transaction: nothing is sent before the job runs.
    assert smtp.received == []
    [queued] = outbound_rows()
    assert queued.status == "queued"

    report = mail_send.run()
    assert report.sent == 1
    [mail] = smtp.received
    assert str(mail["From"]) == "Firm Client Service <service@firm.example>"
    assert str(mail["To"]) == "grace@x.example"
    assert str(mail["Subject"]) == f"Re: Transfer to my savings account [#{number}]"
    assert str(mail["In-Reply-To"]) == CLIENT_MAIL_ID
    assert CLIENT_MAIL_ID in str(mail["References"])
    with session_scope() as session:
        stored = session.get(TicketMessage, row.id)
        sent = session.get(OutboundMessage, queued.id)
    # The Message-ID the client's answer will point at is the one stored on the reply.
    assert str(mail["Message-ID"]) == stored.external_message_id
    assert stored.external_message_id.endswith("@firm.example>")
    assert stored.in_reply_to == CLIENT_MAIL_ID
    assert sent.status == "sent" and sent.sent_at is not None
    assert sent.provider_message_id == "Q1"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "5,000 EUR moved." in text
    assert '<a href="https://firm.example/help"' in html and "<p>" in html
    [attached] = list(mail.iter_attachments())
    assert attached.get_filename() == "statement.pdf"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_content() == b"%PDF-1.4 quarterly statement"
    assert smtp.envelopes == [("service@firm.example", ["grace@x.example"])]
    # The timeline shows it as sent.
    [_, reply] = tickets.get_ticket(agent, number).messages
    assert reply.delivery_status == "sent"


def test_second_reply_threads_under_the_clients_latest_answer(db: str, smtp: RecordingSmtp) -> None:
    add_mailbox()
    agent = make_user("agent")
    number = email_ticket(agent)
    first = tickets.add_message(agent, number, "First answer.")
    mail_send.run()
    first_id = str(smtp.received[0]["Message-ID"])
    client_answers(number, "<answer-2@client.example>", first_id)
    tickets.add_message(agent, number, "Second answer.")
    mail_send.run()
    second = smtp.received[1]
    assert str(second["In-Reply-To"]) == "<answer-2@client.example>"
    references = str(second["References"]).split()
    assert references == [CLIENT_MAIL_ID, first_id, "<answer-2@client.example>"]
    assert first.id != 0


def test_internal_note_on_email_ticket_is_never_sent(db: str, smtp: RecordingSmtp) -> None:
    add_mailbox()
    agent = make_user("agent")
    number = email_ticket(agent)
    tickets.add_message(agent, number, "Client is a PEP, check with compliance.", internal=True)
    assert outbound_rows() == []
    assert mail_send.run().sent == 0
    assert smtp.received == []
    with pytest.raises(ValueError), session_scope() as session:
        message = session.execute(
            select(TicketMessage).where(TicketMessage.is_internal.is_(True))
        ).scalar_one()
        ticket = session.get(Ticket, message.ticket_id)
        channels.enqueue_reply(session, ticket, message)


@pytest.mark.parametrize("channel", ["portal", "phone"])
def test_reply_on_other_channels_is_saved_and_not_sent(
    db: str, smtp: RecordingSmtp, channel: str
) -> None:
    agent = make_user("agent")
    client_id = make_client(agent)
    number = tickets.create_ticket(
        agent, client_id=client_id, subject="Question", body="Hello", channel=channel
    ).number
    smtp.forget_system_mail()
    row = tickets.add_message(agent, number, "Our answer.")
    assert row.delivery_status == ""
    assert outbound_rows() == []
    mail_send.run()
    assert smtp.received == []
    assert "not sent" in channels.reply_note(channel).lower()


def test_reply_to_email_client_without_address_is_refused_and_nothing_saved(
    db: str, smtp: RecordingSmtp
) -> None:
    from models.client import Client

    agent = make_user("agent")
    number = email_ticket(agent)
    with session_scope() as session:
        session.execute(update(Client).values(email=None))
    with pytest.raises(InvalidInput, match="no valid email address"):
        tickets.add_message(agent, number, "Reply")
    assert len(tickets.get_ticket(agent, number).messages) == 1
    assert outbound_rows() == []
    # Nor can an agent open an email ticket for nobody.
    with pytest.raises(InvalidInput, match="no valid email address"):
        tickets.create_ticket(
            agent, client_id=None, subject="No client", body="Hi", channel=Channel.EMAIL
        )


def test_without_any_mailbox_replies_go_out_with_the_products_own_sender(
    db: str, smtp: RecordingSmtp
) -> None:
    agent = make_user("agent")
    number = email_ticket(agent)
    tickets.add_message(agent, number, "Answer")
    mail_send.run()
    [mail] = smtp.received
    assert str(mail["From"]) == "Finance CRM <no-reply@firm.example>"


def test_ticket_of_a_mailbox_is_answered_from_that_mailbox_over_its_own_smtp(
    db: str, smtp: RecordingSmtp
) -> None:
    add_mailbox()  # the default
    own = add_mailbox(
        name="Private banking",
        address="private@firm.example",
        display_name="Private Banking",
        is_default=False,
        outbound=OutboundKind.SMTP,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,  # type: ignore[attr-defined]
        smtp_security=ConnectionSecurity.NONE,
        smtp_secret=encrypt_secret("unused"),
    )
    agent = make_user("agent")
    number = email_ticket(agent)
    with session_scope() as session:
        # What mail in records on the ticket (read with getattr until its column lands).
        received_by_own = SimpleNamespace(mailbox_id=own)
        assert outbox.mailbox_for_ticket(session, received_by_own).id == own
        no_mailbox = SimpleNamespace(mailbox_id=None)
        assert outbox.mailbox_for_ticket(session, no_mailbox).address == "service@firm.example"
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
        message = TicketMessage(ticket_id=ticket.id, sender_kind="agent", body_text="From own")
        session.add(message)
        session.flush()
        object.__setattr__(ticket, "mailbox_id", own)
        outbox.enqueue_email_reply(session, ticket, message)
    mail_send.run()
    [mail] = smtp.received
    assert str(mail["From"]) == "Private Banking <private@firm.example>"


# ---------------------------------------------------------------- failures


def test_temporary_failure_is_retried_with_backoff_then_sent_once(
    db: str, smtp: RecordingSmtp
) -> None:
    add_mailbox()
    agent = make_user("agent")
    number = email_ticket(agent)
    tickets.add_message(agent, number, "Answer")
    smtp.script = ["451 4.3.0 Try again later", "421 4.7.0 Too busy"]
    before = utcnow()
    assert mail_send.run().retrying == 1
    [row] = outbound_rows()
    assert row.status == "queued" and row.attempts == 1
    assert "451 4.3.0 Try again later" in row.last_error
    first_wait = (row.next_attempt_at - before).total_seconds()
    assert 30 * 0.8 - 1 <= first_wait <= 30 * 1.2 + 1
    # Not due yet: a run now sends nothing.
    assert mail_send.run().sent == 0
    make_due()
    before = utcnow()
    assert mail_send.run().retrying == 1
    [row] = outbound_rows()
    second_wait = (row.next_attempt_at - before).total_seconds()
    assert 60 * 0.8 - 1 <= second_wait <= 60 * 1.2 + 1  # doubled
    make_due()
    assert mail_send.run().sent == 1
    [row] = outbound_rows()
    assert row.status == "sent" and row.attempts == 3 and row.last_error is None
    assert len(smtp.received) == 1
    make_due()
    assert mail_send.run().sent == 0
    assert len(smtp.received) == 1


def test_unreachable_server_is_a_temporary_failure(
    db: str, smtp: RecordingSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = make_user("agent")
    number = email_ticket(agent)
    tickets.add_message(agent, number, "Answer")
    monkeypatch.setenv("CRM_SMTP_PORT", "9")  # nothing listens
    get_settings.cache_clear()
    mail_send.run()
    [row] = outbound_rows()
    assert row.status == "queued" and "Could not reach the mail server" in row.last_error


def test_running_out_of_attempts_marks_the_message_failed(
    db: str, smtp: RecordingSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_OUTBOX_MAX_ATTEMPTS", "2")
    get_settings.cache_clear()
    agent = make_user("agent")
    number = email_ticket(agent)
    tickets.add_message(agent, number, "Answer")
    smtp.script = ["451 busy", "451 still busy"]
    mail_send.run()
    make_due()
    assert mail_send.run().failed == 1
    [row] = outbound_rows()
    assert row.status == "failed" and row.last_error.startswith("Gave up after 2 attempts")


def test_permanent_failure_is_shown_with_its_reason_and_retry_sends_it(
    db: str, smtp: RecordingSmtp
) -> None:
    add_mailbox()
    agent = make_user("agent")
    number = email_ticket(agent)
    reply = tickets.add_message(agent, number, "Answer")
    smtp.script = ["550 5.1.1 <grace@x.example>: Recipient address rejected"]
    assert mail_send.run().failed == 1
    [row] = outbound_rows()
    assert row.status == "failed"
    shown = tickets.get_ticket(agent, number).messages[-1]
    assert shown.delivery_status == "failed"
    assert (
        "550 5.1.1" in shown.delivery_error and "Recipient address rejected" in shown.delivery_error
    )
    # Failed is final until a person decides: later runs leave it alone.
    make_due()
    assert mail_send.run().sent == 0
    with session_scope() as session:
        message_id = session.get(TicketMessage, reply.id).external_message_id

    outbox.retry(agent, reply.id)
    assert mail_send.run().sent == 1
    [mail] = smtp.received
    assert str(mail["Message-ID"]) == message_id  # the same mail, not a new one
    assert tickets.get_ticket(agent, number).messages[-1].delivery_status == "sent"
    with pytest.raises(InvalidInput):
        outbox.retry(agent, reply.id)  # sent: nothing to retry


def test_retry_needs_permission_to_edit_tickets(db: str, smtp: RecordingSmtp) -> None:
    agent = make_user("agent")
    number = email_ticket(agent)
    reply = tickets.add_message(agent, number, "Answer")
    smtp.script = ["554 5.7.1 rejected"]
    mail_send.run()
    for role in ("marketing", "client", None):
        with pytest.raises(PermissionDenied):
            outbox.retry(make_user(role), reply.id)
    assert outbound_rows()[0].status == "failed"


def test_parallel_workers_send_every_message_once(db: str, smtp: RecordingSmtp) -> None:
    agent = make_user("agent")
    number = email_ticket(agent)
    for i in range(60):
        tickets.add_message(agent, number, f"Answer {i}")
    smtp.delay = 0.002
    reports: list[mail_send.SendReport] = []

    def work() -> None:
        reports.append(mail_send.run(batch_size=5))

    workers = [threading.Thread(target=work) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ids = smtp.message_ids()
    assert len(ids) == 60 and len(set(ids)) == 60
    assert sum(r.sent for r in reports) == 60
    assert {r.status for r in outbound_rows()} == {"sent"}


def test_expired_claim_is_sent_again_with_the_same_message_id(db: str, smtp: RecordingSmtp) -> None:
    """A worker that died after claiming: when its lease ends another worker sends the row."""
    agent = make_user("agent")
    number = email_ticket(agent)
    tickets.add_message(agent, number, "Answer")
    [claimed] = outbox.claim("dead-worker", 10, lease_seconds=60)
    assert mail_send.run().sent == 0  # still leased
    with session_scope() as session:
        session.execute(
            update(OutboundMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    assert mail_send.run().sent == 1
    assert str(smtp.received[0]["Message-ID"]) == claimed.mail.message_id
    # The dead worker's late record cannot overwrite the new worker's.
    outbox.record_failure("dead-worker", claimed.outbound_id, 1, "late", permanent=True)
    assert outbound_rows()[0].status == "sent"


# ---------------------------------------------------------------- acknowledgement


def inbound(sender: str, *, automation: Automation | None = None, message_id: str = "<m@c>"):
    """The parsed mail mail-in hands over (only the fields acknowledge reads)."""
    return SimpleNamespace(
        sender=Address(sender, "Grace"),
        automation=automation,
        message_id=message_id,
        references=[],
    )


def acknowledge(number: int, parsed) -> str | None:
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
        return outbox.acknowledge(session, ticket, parsed)


def test_acknowledgement_is_sent_auto_submitted_at_most_once_per_sender_per_hour(
    db: str, smtp: RecordingSmtp
) -> None:
    add_mailbox(send_acknowledgement=True)
    agent = make_user("agent")
    first = email_ticket(agent, message_id="<a1@client.example>")
    assert acknowledge(first, inbound("grace@x.example", message_id="<a1@client.example>")) is None
    mail_send.run()
    [ack] = smtp.received
    assert str(ack["Auto-Submitted"]) == "auto-replied"
    assert f"#{first}" in str(ack["Subject"])
    assert str(ack["In-Reply-To"]) == "<a1@client.example>"
    assert f"#{first}" in ack.get_body(("plain",)).get_content()
    assert str(ack["From"]) == "Firm Client Service <service@firm.example>"
    # A second new ticket of the same sender within the hour: no second acknowledgement.
    second = email_ticket(agent, message_id="<a2@client.example>")
    reason = acknowledge(second, inbound("Grace@X.example"))
    assert reason is not None and "within the last hour" in reason
    # An hour later it may go again.
    with session_scope() as session:
        session.execute(
            update(OutboundMessage).values(created_at=utcnow() - timedelta(hours=1, minutes=1))
        )
    assert acknowledge(second, inbound("grace@x.example")) is None
    mail_send.run()
    [later] = smtp.received  # (the list was emptied when the second ticket was made)
    assert f"#{second}" in str(later["Subject"])
    # It sits on the timeline as a system message.
    kinds = [m.sender_kind for m in tickets.get_ticket(agent, first).messages]
    assert kinds == ["client", "system"]


@pytest.mark.parametrize(
    ("sender", "automation"),
    [
        ("grace@x.example", Automation("auto_reply", "Auto-Submitted: auto-replied")),
        ("grace@x.example", Automation("bulk", "Precedence: bulk")),
        ("MAILER-DAEMON@mx.client.example", None),
        ("postmaster@client.example", None),
        ("no-reply@client.example", None),
        ("service@firm.example", None),  # our own mailbox: a loop with ourselves
    ],
)
def test_acknowledgement_never_answers_machines_or_ourselves(
    db: str, smtp: RecordingSmtp, sender: str, automation: Automation | None
) -> None:
    add_mailbox(send_acknowledgement=True)
    agent = make_user("agent")
    number = email_ticket(agent)
    assert acknowledge(number, inbound(sender, automation=automation)) is not None
    assert outbound_rows() == []


def test_acknowledgement_off_unless_the_mailbox_asks_for_it(db: str, smtp: RecordingSmtp) -> None:
    add_mailbox(send_acknowledgement=False)
    agent = make_user("agent")
    number = email_ticket(agent)
    assert "off" in acknowledge(number, inbound("grace@x.example"))
    assert outbound_rows() == []


def test_a_new_channel_plugs_in_at_the_one_dispatch_point(db: str, smtp: RecordingSmtp) -> None:
    """WhatsApp (next issue) registers its enqueue function; the reply action calls it in the
    reply's transaction, and notes still never reach it."""
    calls: list[tuple[int, str]] = []
    channels.delivers(Channel.WHATSAPP)  # the built-in channels are registered first
    registered = channels._registry.pop(Channel.WHATSAPP, None)
    channels.register(
        Channel.WHATSAPP,
        lambda session, ticket, message: calls.append((ticket.number, message.body_text)),
    )
    try:
        agent = make_user("agent")
        number = tickets.create_ticket(
            agent, client_id=make_client(agent), subject="Chat", body="Hi", channel="whatsapp"
        ).number
        assert channels.delivers(Channel.WHATSAPP)
        tickets.add_message(agent, number, "A note", internal=True)
        row = tickets.add_message(agent, number, "Our answer")
        # The agent's opening message and the reply; never the note.
        assert calls == [(number, "Hi"), (number, "Our answer")]
        assert row.delivery_status == "queued"
    finally:
        channels._registry.pop(Channel.WHATSAPP, None)
        if registered is not None:
            channels.register(Channel.WHATSAPP, registered)


def test_an_email_ticket_an_agent_opens_goes_out_as_a_new_mail(
    db: str, smtp: RecordingSmtp
) -> None:
    agent = make_user("agent")
    client_id = make_client(agent, "Grace Hopper")
    smtp.forget_system_mail()
    number = tickets.create_ticket(
        agent,
        client_id=client_id,
        subject="Your annual statement",
        body="Your statement is ready.",
        channel=Channel.EMAIL,
    ).number
    assert mail_send.run().sent == 1
    [mail] = smtp.received
    assert str(mail["Subject"]) == f"Your annual statement [#{number}]"
    assert mail["In-Reply-To"] is None and mail["References"] is None
    assert "Your statement is ready." in mail.get_body(("plain",)).get_content()
