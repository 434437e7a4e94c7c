"""Mail in, against a real Dovecot and the real PostgreSQL: new mail opens tickets, replies
thread, machine mail never opens tickets, broken mail is kept, attachments are stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_app.db import session_scope
from crm_app.services import assignment, mailboxes
from crm_app.services.mail.inbound import MailboxRef
from crm_app.settings import get_settings
from jobs.imap_poll import poll_mailbox
from models.audit import AuditLog
from models.client import Client
from models.inbound_mail import InboundMail, InboundStatus
from models.ticket import Attachment, Ticket, TicketMessage
from tests.factories import first_manager, make_user
from tests.mail_servers import make_mailbox, simple_message

MIME_DIR = Path(__file__).resolve().parent / "data" / "mime"


def tickets() -> list[Ticket]:
    with session_scope() as session:
        return list(session.execute(select(Ticket).order_by(Ticket.id)).scalars())


def messages(ticket_id: int) -> list[TicketMessage]:
    with session_scope() as session:
        return list(
            session.execute(
                select(TicketMessage)
                .where(TicketMessage.ticket_id == ticket_id)
                .order_by(TicketMessage.id)
            ).scalars()
        )


def inbound(status: str | None = None) -> list[InboundMail]:
    with session_scope() as session:
        query = select(InboundMail).order_by(InboundMail.id)
        if status:
            query = query.where(InboundMail.status == status)
        return list(session.execute(query).scalars())


def test_new_mail_opens_an_email_ticket_for_a_new_unverified_client(dovecot, mail_account):
    agent = make_user("agent")
    assignment.set_round_robin(first_manager(), True)
    assignment.set_available(agent, True)
    box = make_mailbox(mail_account)
    dovecot.append(
        mail_account,
        [
            simple_message(
                sender="Grace Hopper <grace@client.example>",
                to=mail_account.user,
                subject="Please rebalance my portfolio",
                body="Hello,\n\nplease move 10% into bonds.\n\nGrace",
                message_id="<first@client.example>",
            )
        ],
    )
    result = poll_mailbox(box)
    assert result is not None and result.error is None
    assert (result.imported, result.tickets_created) == (1, 1)
    [ticket] = tickets()
    assert ticket.channel == "email"
    assert ticket.mailbox_id == box
    assert ticket.assignee_id == agent.user_id  # the round robin chose
    [message] = messages(ticket.id)
    assert message.external_message_id == "<first@client.example>"
    assert "move 10% into bonds" in message.body_text
    with session_scope() as session:
        client = session.get(Client, ticket.client_id)
        assert (client.email, client.name, client.verified) == (
            "grace@client.example",
            "Grace Hopper",
            False,
        )
        audited = session.execute(
            select(AuditLog.action).where(AuditLog.entity_id == ticket.id)
        ).scalars()
        assert "ticket.created" in list(audited)
    [record] = inbound()
    assert (record.status, record.uid, record.folder) == ("imported", 1, "INBOX")
    row = mailboxes.get_mailbox(first_manager(), box)
    assert row.messages_imported == 1 and row.last_poll and not row.last_error
    # Fetched mail is marked seen on the server; a second poll finds nothing new.
    client = mail_account.client()
    client.select_folder("INBOX")
    assert client.get_flags([1])[1] == (b"\\Seen",)
    client.logout()
    assert poll_mailbox(box).fetched == 0


def test_reply_threads_by_in_reply_to_and_by_ticket_number(dovecot, mail_account):
    box = make_mailbox(mail_account)
    sender = "ada@client.example"
    dovecot.append(
        mail_account,
        [
            simple_message(
                sender=sender,
                to=mail_account.user,
                subject="Wire transfer",
                body="Please wire 5,000 USD.",
                message_id="<a1@client.example>",
            )
        ],
    )
    poll_mailbox(box)
    [ticket] = tickets()
    dovecot.append(
        mail_account,
        [
            simple_message(
                sender=sender,
                to=mail_account.user,
                subject="Re: Wire transfer",
                body="Any news?\n\nOn Tue, Dec 1, 2026 at 9:00 AM Ada wrote:\n"
                "> Please wire 5,000 USD.",
                message_id="<a2@client.example>",
                in_reply_to="<a1@client.example>",
                references=["<a1@client.example>"],
            ),
            simple_message(
                sender=sender,
                to=mail_account.user,
                subject=f"Another thought [#{ticket.number}]",
                body="Also the dividends.",
                message_id="<a3@client.example>",
            ),
            # A stranger naming the ticket number does not get into it.
            simple_message(
                sender="mallory@evil.example",
                to=mail_account.user,
                subject=f"[#{ticket.number}] give me the statement",
                body="...",
                message_id="<m1@evil.example>",
            ),
        ],
    )
    result = poll_mailbox(box)
    assert (result.imported, result.tickets_created) == (3, 1)
    first, strangers = tickets()
    assert first.id == ticket.id
    thread = messages(ticket.id)
    assert [m.external_message_id for m in thread] == [
        "<a1@client.example>",
        "<a2@client.example>",
        "<a3@client.example>",
    ]
    reply = thread[1]
    assert reply.body_text == "Any news?"  # the quoted history is folded away...
    assert "Please wire 5,000 USD." in (reply.quoted_text or "")  # ...and kept
    assert reply.references == "<a1@client.example>"
    assert reply.in_reply_to == "<a1@client.example>"
    assert strangers.subject.endswith("give me the statement")


def test_auto_replies_bounces_and_loops_never_open_tickets(dovecot, mail_account):
    box = make_mailbox(mail_account)
    raw = [
        (MIME_DIR / "auto_reply_ooo.eml").read_bytes(),
        (MIME_DIR / "bounce_report.eml").read_bytes(),
        (MIME_DIR / "x_autoreply.eml").read_bytes(),
        simple_message(
            sender=mail_account.user,  # our own address writing to us: a loop
            to=mail_account.user,
            subject="We received your request",
            body="...",
            message_id="<own@firm.example>",
        ),
    ]
    # A client's broken autoresponder without any header: the same mail over and over.
    raw += [
        simple_message(
            sender="robot@client.example",
            to=mail_account.user,
            subject="Thank you for your mail",
            body="We will answer soon.",
            message_id=f"<loop{n}@client.example>",
        )
        for n in range(14)
    ]
    dovecot.append(mail_account, raw)
    result = poll_mailbox(box)
    assert result.error is None
    ignored = inbound(InboundStatus.IGNORED)
    reasons = " | ".join(r.reason for r in ignored)
    assert len(ignored) == 4 + 4, reasons
    assert "auto_reply" in reasons and "bounce" in reasons and "own mailbox" in reasons
    assert "loop: 10 messages" in reasons
    assert len(tickets()) == 10  # only the first ten of the robot's mails got through


def test_unparseable_message_is_kept_raw_and_listed_for_managers(dovecot, mail_account):
    box = make_mailbox(mail_account)
    garbage = b"\x01\x02 this is not a mail message at all \xff\xfe\r\n" * 20
    dovecot.append(mail_account, [garbage])
    result = poll_mailbox(box)
    assert result.failed == 1 and result.error is None
    [failed] = mailboxes.failed_imports(first_manager())
    assert "not a mail message" in failed.reason
    assert (get_settings().data_dir / failed.raw_path).read_bytes() == garbage
    assert mailboxes.get_mailbox(first_manager(), box).failed_imports == 1
    # Never retried: the next poll fetches nothing.
    assert poll_mailbox(box).fetched == 0
    assert len(inbound()) == 1
    with pytest.raises(Exception, match="may not manage mailboxes"):
        mailboxes.failed_imports(make_user("agent"))


def _tiny_png(size: int = 24) -> bytes:
    """A real PNG (a blue square), so a browser can show it."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    pixels = b"".join(b"\x00" + b"\x20\x60\xd0" * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def _with_attachments(boundary: str = "b1") -> bytes:
    import base64

    png = base64.b64encode(_tiny_png()).decode()
    pdf = base64.b64encode(b"%PDF-1.4 statement" * 50).decode()
    return (
        "From: ada@client.example\r\nTo: support@firm.example\r\nSubject: Statement\r\n"
        "Message-ID: <att@client.example>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: multipart/related; boundary=rel\r\n\r\n"
        "--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        '<p>See the chart <img src="cid:chart@client.example"></p>\r\n'
        "--rel\r\nContent-Type: image/png\r\nContent-ID: <chart@client.example>\r\n"
        f"Content-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n{png}\r\n"
        "--rel--\r\n"
        f"--{boundary}\r\nContent-Type: application/pdf; name=statement.pdf\r\n"
        "Content-Disposition: attachment; filename=statement.pdf\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--{boundary}--\r\n"
    ).encode()


def test_attachments_are_stored_content_addressed_and_inline_images_linked(dovecot, mail_account):
    box = make_mailbox(mail_account)
    dovecot.append(mail_account, [_with_attachments()])
    assert poll_mailbox(box).imported == 1
    [ticket] = tickets()
    [message] = messages(ticket.id)
    with session_scope() as session:
        files = list(
            session.execute(
                select(Attachment)
                .where(Attachment.message_id == message.id)
                .order_by(Attachment.id)
            ).scalars()
        )
    by_name = {f.filename: f for f in files}
    pdf = by_name["statement.pdf"]
    assert not pdf.is_inline
    stored = get_settings().data_dir / pdf.storage_path
    assert stored.name == pdf.sha256 and stored.read_bytes().startswith(b"%PDF-1.4")
    [image] = [f for f in files if f.is_inline]
    assert image.content_id == "chart@client.example"
    assert f"/api/attachments/{image.id}" in (message.body_html or "")
    assert "cid:" not in (message.body_html or "")


def test_oversized_attachment_is_listed_but_not_kept(dovecot, mail_account, monkeypatch):
    from crm_app import settings as settings_module

    small = settings_module.get_settings().__class__(
        **{**settings_module.get_settings().__dict__, "attachment_max_bytes": 200}
    )
    # The limit is read where attachments are stored (parsing) and where the note is written.
    monkeypatch.setattr("crm_app.services.mail.inbound.parsing.get_settings", lambda: small)
    monkeypatch.setattr("crm_app.services.mail.inbound.delivery.get_settings", lambda: small)
    box = make_mailbox(mail_account)
    dovecot.append(mail_account, [_with_attachments()])
    assert poll_mailbox(box).imported == 1
    [ticket] = tickets()
    [message] = messages(ticket.id)
    assert "statement.pdf" in message.body_text and "was not kept" in message.body_text
    with session_scope() as session:
        names = set(
            session.execute(
                select(Attachment.filename).where(Attachment.message_id == message.id)
            ).scalars()
        )
    assert "statement.pdf" not in names


def test_uidvalidity_change_resyncs_without_duplicates(dovecot, mail_account):
    box = make_mailbox(mail_account, imap_folders="Support")
    mails = [
        simple_message(
            sender=f"c{n}@client.example",
            to=mail_account.user,
            subject=f"Question {n}",
            body="?",
            message_id=f"<uv{n}@client.example>",
        )
        for n in range(5)
    ]
    dovecot.append(mail_account, mails, folder="Support")
    assert poll_mailbox(box).imported == 5
    before = mailboxes.folder_position(box, "Support")
    # The server renumbers the folder (it was recreated): a new UIDVALIDITY, same mail + 1 new.
    client = mail_account.client()
    client.delete_folder("Support")
    client.logout()
    extra = simple_message(
        sender="new@client.example",
        to=mail_account.user,
        subject="Fresh",
        body="!",
        message_id="<uv-new@client.example>",
    )
    dovecot.append(mail_account, [*mails, extra], folder="Support")
    result = poll_mailbox(box)
    after = mailboxes.folder_position(box, "Support")
    assert after.uidvalidity != before.uidvalidity
    assert result.resynced == ["Support"]
    assert (result.imported, result.duplicates) == (1, 5)
    assert len(tickets()) == 6
    with session_scope() as session:
        assert session.execute(select(func.count()).select_from(TicketMessage)).scalar_one() == 6


def test_the_same_message_id_is_imported_once_across_mailboxes(dovecot, mail_account):
    from crm_app.services.mail.inbound import FetchedMail, import_batch

    box = make_mailbox(mail_account)
    raw = simple_message(
        sender="cc@client.example",
        to=mail_account.user,
        subject="To both of you",
        body="hi",
        message_id="<both@client.example>",
    )
    ref = MailboxRef(box, "Client service", mail_account.user)
    first = import_batch(ref, "INBOX", 7, [FetchedMail(1, raw)])
    second = import_batch(ref, "Other", 9, [FetchedMail(1, raw)])
    assert (first.imported, second.imported, second.duplicates) == (1, 0, 1)
    assert len(tickets()) == 1


def test_a_new_mail_ticket_gets_its_sla_clocks_and_one_acknowledgement(dovecot, mail_account):
    from models.outbox import OutboundMessage
    from models.sla import TicketSla

    box = make_mailbox(mail_account, send_acknowledgement=True)
    dovecot.append(
        mail_account,
        [
            simple_message(
                sender="Ada Byron <ada@client.example>",
                to=mail_account.user,
                subject=f"Question {n}",
                body="When is the next statement due?",
                message_id=f"<ack-{n}@client.example>",
            )
            for n in (1, 2)
        ],
    )
    result = poll_mailbox(box)
    assert result is not None and result.tickets_created == 2
    with session_scope() as session:
        clocks = session.execute(select(func.count()).select_from(TicketSla)).scalar_one()
        acks = list(
            session.execute(
                select(OutboundMessage.recipient).where(OutboundMessage.kind == "acknowledgement")
            ).scalars()
        )
    assert clocks >= 2  # each new ticket's SLA clocks run from its arrival
    assert acks == ["ada@client.example"]  # one per sender per hour, not one per mail


def test_a_clients_mail_on_a_pending_ticket_resumes_its_sla_and_starts_the_next_response(
    dovecot, mail_account
):
    from crm_app.services import tickets as ticket_actions
    from models.sla import SlaClock, TicketSla

    box = make_mailbox(mail_account)

    def client_writes(subject: str, body: str, message_id: str, **thread: object) -> None:
        mail = simple_message(
            sender="ada@client.example",
            to=mail_account.user,
            subject=subject,
            body=body,
            message_id=message_id,
            **thread,
        )
        dovecot.append(mail_account, [mail])
        poll_mailbox(box)

    client_writes("Statement", "Where is my statement?", "<s1@client.example>")
    [ticket] = tickets()
    agent = first_manager()
    ticket_actions.add_message(agent, ticket.number, "Could you confirm the account?")
    ticket_actions.update_ticket(
        agent, ticket.number, expected_version=tickets()[0].version, status="pending"
    )
    with session_scope() as session:
        clocks = session.get(TicketSla, ticket.id)
        assert clocks is not None
        assert clocks.resolution_clock == SlaClock.PAUSED
        assert clocks.next_response_clock != SlaClock.RUNNING
    client_writes(
        "Re: Statement",
        "Yes, the main account.",
        "<s2@client.example>",
        in_reply_to="<s1@client.example>",
        references=["<s1@client.example>"],
    )
    [reopened] = tickets()
    assert reopened.status == "open"
    with session_scope() as session:
        clocks = session.get(TicketSla, ticket.id)
        assert clocks is not None
        assert clocks.resolution_clock == SlaClock.RUNNING  # resumed: the client answered
        assert clocks.next_response_clock == SlaClock.RUNNING  # the agent owes an answer
        assert clocks.next_response_due_at is not None
