"""The outbox survives a jobs process killed in the middle of a batch: every message reaches the
SMTP server, counted there by Message-ID."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from crm_app.db import session_scope
from crm_app.services.mail import outbox
from crm_app.settings import PROJECT_ROOT
from jobs import mail_send
from models.outbox import OutboundMessage
from models.ticket import SenderKind, Ticket, TicketMessage
from tests.factories import make_user
from tests.test_mail_out import RecordingSmtp, email_ticket, smtp  # noqa: F401  (fixture)

ROWS = 150
LEASE_SECONDS = 3.0


def _queue_replies(number: int, count: int) -> None:
    """`count` agent replies queued as the reply action queues them (one transaction: fast)."""
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
        for i in range(count):
            message = TicketMessage(
                ticket_id=ticket.id, sender_kind=SenderKind.AGENT, body_text=f"Answer {i}"
            )
            session.add(message)
            session.flush()
            outbox.enqueue_email_reply(session, ticket, message)


def test_worker_killed_mid_batch_loses_nothing_and_resends_at_most_the_mail_in_flight(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
) -> None:
    agent = make_user("agent")
    number = email_ticket(agent)
    _queue_replies(number, ROWS)
    smtp.delay = 0.01  # slow enough that the kill lands inside a batch
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jobs.mail_send",
            "--batch-size",
            "50",
            "--lease-seconds",
            str(LEASE_SECONDS),
        ],
        cwd=PROJECT_ROOT,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 60
        while len(smtp.received) < 20 and time.monotonic() < deadline:
            assert worker.poll() is None, "the worker ended before it could be killed"
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    arrived_before = len(smtp.received)
    assert 20 <= arrived_before < ROWS
    with session_scope() as session:
        left_claimed = session.execute(
            select(OutboundMessage.id).where(OutboundMessage.status == "sending")
        ).all()
    assert left_claimed, "the kill left claimed rows behind (that is what this test is about)"

    # The next worker waits out the dead one's lease, then sends the rest.
    smtp.delay = 0.0
    time.sleep(LEASE_SECONDS + 0.2)
    mail_send.run(lease_seconds=LEASE_SECONDS)
    with session_scope() as session:
        statuses = collections.Counter(
            session.execute(select(OutboundMessage.status)).scalars().all()
        )
        expected_ids = set(
            session.execute(
                select(TicketMessage.external_message_id).where(
                    TicketMessage.sender_kind == SenderKind.AGENT
                )
            ).scalars()
        )
    assert statuses == {"sent": ROWS}
    arrived = collections.Counter(smtp.message_ids())
    assert set(arrived) == expected_ids  # none lost
    # Sent twice is possible only for the one mail the server had accepted when the process
    # died, before its row was recorded — and then with the same Message-ID.
    twice = [mid for mid, n in arrived.items() if n > 1]
    assert len(twice) <= 1 and all(arrived[mid] == 2 for mid in twice)
