"""SMTP PIPELINING (RFC 2920): against a real aiosmtpd server that offers it, the outbox's SMTP
transport sends MAIL, RCPT and DATA in one write, and still sorts refusals as the step-by-step
dialogue does. No database: the transport alone."""

from __future__ import annotations

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


def _transport(server: PipeliningServer) -> SmtpTransport:
    return SmtpTransport(SmtpSettings("127.0.0.1", server.port, ConnectionSecurity.NONE))


def test_a_pipelining_server_gets_each_mail_once_with_its_dots_intact(
    server: PipeliningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[bytes | str] = []
    original = smtplib.SMTP.send
    monkeypatch.setattr(smtplib.SMTP, "send", lambda self, s: (writes.append(s), original(self, s)))
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
    envelopes = [w for w in writes if isinstance(w, str) and w.startswith("MAIL FROM")]
    assert envelopes[0] == (
        "MAIL FROM:<service@firm.example>\r\nRCPT TO:<client@bank.example>\r\nDATA\r\n"
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
