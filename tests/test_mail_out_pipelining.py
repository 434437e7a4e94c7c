"""SMTP PIPELINING (RFC 2920): against a real aiosmtpd server that offers it, the outbox's SMTP
transport sends MAIL, RCPT and DATA in one write, and still sorts refusals as the step-by-step
dialogue does. No database: the transport alone."""

from __future__ import annotations

import email
import email.policy
import smtplib
from collections.abc import Iterator
from typing import Any

import pytest

from crm_app.services.mail.compose import OutgoingMail
from crm_app.services.mail.transport import PermanentFailure, SmtpSettings, SmtpTransport
from models.mailbox import ConnectionSecurity
from tests.test_mail_out import start_smtp


class PipeliningServer:
    """aiosmtpd handler that offers PIPELINING, refuses one recipient and counts the writes
    of each transaction's commands (one write: the client pipelined)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.before_content: list[int] = []
        self.port = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), envelope.original_content))
        return f"250 2.0.0 Ok: queued as P{len(self.received)}"


@pytest.fixture
def server() -> Iterator[PipeliningServer]:
    handler = PipeliningServer()
    controller = start_smtp(handler)  # type: ignore[arg-type]
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()


def _mail(to: tuple[str, ...], text: str = "Dear client,\n.\nA line with a dot.") -> OutgoingMail:
    return OutgoingMail(
        from_header="Firm <service@firm.example>",
        to=to,
        cc=(),
        subject="Your statement",
        message_id="<pipelined@firm.example>",
        headers={},
        text=text,
        html="<p>Dear client</p>",
    )


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes | str]:
    """Every write of the SMTP client, in order."""
    written: list[bytes | str] = []
    original = smtplib.SMTP.send
    monkeypatch.setattr(
        smtplib.SMTP, "send", lambda self, s: (written.append(s), original(self, s))
    )
    return written


def _transport(server: PipeliningServer) -> SmtpTransport:
    return SmtpTransport(SmtpSettings("127.0.0.1", server.port, ConnectionSecurity.NONE))


def test_a_pipelining_server_gets_each_mail_once_with_its_dots_intact(
    server: PipeliningServer, writes: list[bytes | str]
) -> None:
    transport = _transport(server)
    commits: list[int] = []
    try:
        first = transport.send(_mail(("client@bank.example",)), lambda: commits.append(1))
        second = transport.send(_mail(("client@bank.example", "nobody@bank.example")))
    finally:
        transport.close()
    assert (first, second) == ("P1", "P2")
    assert commits == [1]  # the hook ran, before the content
    assert server.received[1][0] == ["client@bank.example"]  # the refused one is left out
    body = server.received[0][1]
    assert b"\r\n.\r\nA line with a dot." in body  # dot-stuffing undone by the server
    envelopes = [w for w in writes if isinstance(w, bytes) and w.startswith(b"MAIL FROM")]
    assert envelopes[0] == (
        b"MAIL FROM:<service@firm.example>\r\nRCPT TO:<client@bank.example>\r\nDATA\r\n"
    )


def test_a_pipelined_mail_whose_every_recipient_is_refused_fails_for_good_and_the_next_goes(
    server: PipeliningServer,
) -> None:
    transport = _transport(server)
    try:
        with pytest.raises(PermanentFailure, match="550"):
            transport.send(_mail(("nobody@bank.example",)))
        assert transport.send(_mail(("client@bank.example",))) == "P1"
    finally:
        transport.close()
    assert [rcpts for rcpts, _ in server.received] == [["client@bank.example"]]


def test_the_next_mails_envelope_goes_with_the_content_and_is_dropped_when_it_is_not_sent(
    server: PipeliningServer, writes: list[bytes | str]
) -> None:
    first, second, third = (_mail(("client@bank.example",), text=f"Mail {n}") for n in range(3))
    transport = _transport(server)
    commits: list[str] = []
    try:
        assert transport.send(first, lambda: commits.append("first"), following=second) == "P1"
        # The second mail's envelope travelled with the first one's content: one write.
        assert writes[-1].endswith(
            b".\r\nMAIL FROM:<service@firm.example>\r\nRCPT TO:<client@bank.example>\r\nDATA\r\n"
        )
        before = len(writes)
        assert transport.send(second, lambda: commits.append("second"), following=third) == "P2"
        assert len(writes) == before + 1  # its content (with the third's envelope) only
    finally:
        transport.close()  # the third is never sent: closing drops its envelope, no mail
    assert commits == ["first", "second"]
    # A connection that announced a mail serves no other: a new one is opened for it.
    transport = _transport(server)
    try:
        transport.send(first, following=second)
        assert transport.send(third) == "P4"
    finally:
        transport.close()
    # Each mail that was sent arrived once; the envelopes announced but not sent left nothing.
    texts = [_text(body) for _, body in server.received]
    assert texts == ["Mail 0", "Mail 1", "Mail 0", "Mail 2"]


def _text(body: bytes) -> str:
    message = email.message_from_bytes(body, policy=email.policy.default)
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content().strip()


def test_a_refused_content_with_the_next_envelope_announced_leaves_the_next_mail_to_go(
    server: PipeliningServer,
) -> None:
    refused = _mail(("client@bank.example",), text="refuse me")
    after = _mail(("client@bank.example",), text="deliver me")
    original = server.handle_DATA

    async def handle_data(srv: Any, session: Any, envelope: Any) -> str:
        if b"refuse me" in envelope.original_content:
            return "554 5.7.1 Content rejected"
        return await original(srv, session, envelope)

    server.handle_DATA = handle_data  # type: ignore[method-assign]
    transport = _transport(server)
    try:
        with pytest.raises(PermanentFailure, match="554"):
            transport.send(refused, following=after)
        assert transport.send(after) == "P1"
    finally:
        transport.close()
    assert [b"deliver me" in body for _, body in server.received] == [True]
