"""A campaign's SMTP wire, against a real aiosmtpd that offers PIPELINING and one that does not:
one round trip and one write per message where it is offered (the next envelope pipelined with
each final dot), each recipient sent once when the server refuses some of them, and the
short-line 7bit/8bit parts, small or large, carrying exactly what was written."""

from __future__ import annotations

import smtplib
import time

import pytest
from sqlalchemy import text

from crm_app.db import session_scope
from crm_app.services.campaigns import delivery, manage
from crm_app.services.campaigns.delivery.transports import INLINE_BYTES, MAX_LINE, _part_body
from tests.factories import make_user
from tests.test_campaigns import _campaign, _clients, _segment, offer_pipelining
from tests.test_mail_out import RecordingSmtp, add_mailbox, smtp  # noqa: F401


@pytest.fixture(params=["pipelining", "lock-step"])
def server(request: pytest.FixtureRequest, smtp: RecordingSmtp) -> RecordingSmtp:  # noqa: F811
    """The test's aiosmtpd, offering PIPELINING (as production servers do) or not (as aiosmtpd
    does by itself)."""
    if request.param == "pipelining":
        offer_pipelining(smtp)
    return smtp


def _statuses(campaign_id: int) -> dict[str, tuple[str, str | None]]:
    with session_scope() as session:
        rows = session.execute(
            text("SELECT email, status, error FROM campaign_recipient WHERE campaign_id = :c"),
            {"c": campaign_id},
        ).all()
    return {email: (status, error) for email, status, error in rows}


def test_refusals_mid_run_fail_only_their_recipient_and_the_rest_go_once(
    db: str, server: RecordingSmtp
) -> None:
    add_mailbox()
    marketer = make_user("marketing")
    _clients(8)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    server.forget_system_mail()
    server.refuse_rcpt = {"c2@x.example"}  # refused at RCPT: its DATA is never accepted
    server.refuse_data = {"c4@x.example", "c8@x.example"}  # refused at the end of the data
    manage.schedule(marketer, campaign_id)
    report = delivery.run(run_seconds=30)
    assert (report.sent, report.failed) == (5, 3)
    received = sorted(rcpt for _, (rcpt,) in server.envelopes)
    assert received == [f"c{i}@x.example" for i in (1, 3, 5, 6, 7)]
    statuses = _statuses(campaign_id)
    assert statuses["c2@x.example"][0] == "failed" and "550" in (statuses["c2@x.example"][1] or "")
    assert statuses["c4@x.example"][0] == "failed" and "554" in (statuses["c4@x.example"][1] or "")
    assert statuses["c8@x.example"][0] == "failed"
    assert {e for e, (s, _) in statuses.items() if s == "sent"} == set(received)


def test_parts_keep_their_text_exactly_and_fall_back_to_base64_when_they_must(
    db: str, server: RecordingSmtp
) -> None:
    add_mailbox()
    marketer = make_user("marketing")
    _clients(1)
    long_paragraph = "Our view on the quarter ahead, fund by fund. " * 60  # ~2,700 characters
    greeting = "<p>Dear {{first_name|client}}, Grüße aus Zürich.</p>"
    campaign_id = _campaign(
        marketer, [_segment(marketer, "VIP", "vip")], body_html=f"{greeting}<p>{long_paragraph}</p>"
    )
    server.forget_system_mail()
    manage.schedule(marketer, campaign_id)
    assert delivery.run(run_seconds=30).sent == 1
    (mail,) = server.received
    html_part = mail.get_body(("html",))
    text_part = mail.get_body(("plain",))
    assert html_part["Content-Transfer-Encoding"] == "8bit"  # aiosmtpd offers 8BITMIME
    html = html_part.get_content()
    assert "Grüße aus Zürich" in html
    assert " ".join(long_paragraph.split()) in " ".join(html.split())  # folded at spaces only
    assert "Grüße aus Zürich" in text_part.get_content()
    raw = mail.as_bytes()
    assert max(len(line) for line in raw.split(b"\n")) <= 998


def test_over_pipelining_each_message_is_one_write_and_large_ones_arrive_whole(
    db: str, server: RecordingSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message up to INLINE_BYTES goes out in the same write as its final dot and the next
    envelope; a larger one is written before the mark; lines starting with a dot survive."""
    writes: list[bytes | str] = []
    original = smtplib.SMTP.send
    monkeypatch.setattr(smtplib.SMTP, "send", lambda self, s: (writes.append(s), original(self, s)))
    add_mailbox()
    marketer = make_user("marketing")
    _clients(6)
    vip = _segment(marketer, "VIP", "vip")
    dotted = "<p>.Hidden line one</p><p>..two dots</p><p>Dear {{first_name|client}}</p>"
    small = _campaign(marketer, [vip], body_html=dotted)
    big_paragraph = "Our view on the quarter ahead, fund by fund. " * 400  # ~18,000 characters
    big = _campaign(marketer, [vip], body_html=f"{dotted}<p>{big_paragraph}</p>")
    server.forget_system_mail()
    pipelined = hasattr(server, "handle_EHLO")
    for campaign_id in (small, big):
        manage.schedule(marketer, campaign_id)
        writes.clear()
        assert delivery.run(run_seconds=30).sent == 6
        content = [w for w in writes if b"Subject:" in (w if isinstance(w, bytes) else w.encode())]
        assert len(content) == 6
        if pipelined:
            per_message = 1 if campaign_id == small else 2
            assert len(writes) == 2 + 6 * per_message + 1  # EHLO, first envelope, ..., QUIT
    assert len(server.received) == 12
    for mail in server.received:
        text_part = mail.get_body(("plain",)).get_content()
        assert ".Hidden line one" in text_part and "..two dots" in text_part
    big_html = server.received[-1].get_body(("html",)).get_content()
    assert len(big_html) > INLINE_BYTES
    assert " ".join(big_paragraph.split()) in " ".join(big_html.split())


def test_a_part_that_cannot_be_folded_faithfully_goes_as_base64() -> None:
    word = "x" * (MAX_LINE + 10)
    assert _part_body(f"<p>{word}</p>", eight_bit=True, foldable=True)[0] == "base64"
    spaced = "word " * 400
    assert _part_body(f"<pre>{spaced}</pre>", eight_bit=True, foldable=False)[0] == "base64"
    assert _part_body("Zürich", eight_bit=False, foldable=True)[0] == "base64"
    assert _part_body("Zürich", eight_bit=True, foldable=True) == ("8bit", "Zürich\r\n".encode())
    cte, body = _part_body(spaced, eight_bit=False, foldable=True)
    assert cte == "7bit" and all(len(line) <= MAX_LINE for line in body.split(b"\r\n"))
    assert body.replace(b"\r\n", b" ").split() == spaced.encode().split()


_KILLED_AFTER_THE_MARK = """
import os, signal, sys
from crm_app.services.campaigns.delivery import Ledger
ledger = Ledger()
ledger.conn.execute("UPDATE campaign_recipient SET worker = %s, status = 'claimed'",
                    (ledger.worker,))
ledger.begin_mark(int(sys.argv[1]))  # its bytes, no wait
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_mark_whose_bytes_were_written_commits_even_when_the_worker_dies_at_once(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
) -> None:
    """The premise of writing the dot right after the mark, before its answer: PostgreSQL runs
    a statement it has received although its client was killed before reading the answer."""
    import os
    import subprocess
    import sys

    add_mailbox()
    marketer = make_user("marketing")
    _clients(1)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    manage.schedule(marketer, campaign_id)
    delivery.start_due_campaigns()
    with session_scope() as session:
        rid = session.execute(text("SELECT id FROM campaign_recipient")).scalar_one()
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_AFTER_THE_MARK, str(rid)],
        env={**os.environ, "DATABASE_URL": db},
        timeout=60,
    )
    assert child.returncode == -9
    with session_scope() as session:
        reached = session.execute(text("SELECT reached FROM campaign_worker")).scalar_one()
    assert reached == rid
    alive = delivery.Ledger()
    try:
        deadline = time.monotonic() + 10  # until the server has ended the dead session
        while alive.reconcile()["unconfirmed"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        alive.close()
    assert _statuses(campaign_id)["c1@x.example"][0] == "sent"  # never sent again
