"""A reply is saved once or not at all, whatever kills the process writing it, and the agent's
retry (the same draft, the same key) never saves it twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select, text

from crm_app.settings import PROJECT_ROOT
from tests.factories import make_client, make_ticket, make_user

KEY = "draft-key-0123456789abcdef"
WRITER = """
import sys
from crm_app.services import tickets
from crm_app.auth.permissions import Actor
actor = Actor(user_id=int(sys.argv[1]), role="agent", name="Agent", email=sys.argv[2])
number, key = int(sys.argv[3]), sys.argv[4]
print("writing", flush=True)
row = tickets.add_message(actor, number, "Funds were sent today.", request_key=key)
print("saved", row.id, flush=True)
sys.stdin.read()  # wait to be killed, as a worker dies before its answer reaches the browser
"""


def _messages(number: int) -> list[str]:
    from crm_app.db import get_engine
    from models.ticket import Ticket, TicketMessage

    with get_engine().connect() as conn:
        return list(
            conn.execute(
                select(TicketMessage.body_text)
                .join(Ticket, Ticket.id == TicketMessage.ticket_id)
                .where(Ticket.number == number)
                .order_by(TicketMessage.id)
            ).scalars()
        )


def _wait_until_blocked_on_a_lock() -> None:
    from crm_app.db import get_engine

    deadline = time.monotonic() + 30
    with get_engine().connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar_one()
            if waiting:
                return
            conn.rollback()
            time.sleep(0.05)
    raise AssertionError("the writer never reached the ticket's lock")


def _start_writer(agent, number: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(agent.user_id), agent.email, str(number), KEY],
        cwd=PROJECT_ROOT,
        env={**os.environ},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_retried_reply_with_the_same_key_is_saved_once(db: str) -> None:
    from crm_app.services import tickets
    from models.audit import AuditLog

    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    first = tickets.add_message(agent, number, "Funds were sent today.", request_key=KEY)
    again = tickets.add_message(agent, number, "Funds were sent today.", request_key=KEY)
    assert again.id == first.id
    assert _messages(number).count("Funds were sent today.") == 1
    from crm_app.db import get_engine

    with get_engine().connect() as conn:
        audited = conn.execute(
            select(func.count()).where(AuditLog.action == "ticket.message_added")
        ).scalar_one()
    assert audited == 1
    # A new draft (a new key) is a new reply.
    tickets.add_message(agent, number, "Funds were sent today.", request_key=KEY + "-next")
    assert _messages(number).count("Funds were sent today.") == 2


def test_a_reply_key_is_not_usable_by_another_user(db: str) -> None:
    from crm_app.services import tickets
    from crm_app.services.errors import InvalidInput

    agent, other = make_user("agent"), make_user("agent")
    number = make_ticket(agent, make_client(agent))
    tickets.add_message(agent, number, "Funds were sent today.", request_key=KEY)
    with pytest.raises(InvalidInput):
        tickets.add_message(other, number, "Something else", request_key=KEY)


def test_a_writer_killed_before_its_commit_saves_nothing_and_the_retry_saves_once(
    db: str,
) -> None:
    from crm_app.db import get_engine
    from crm_app.services import tickets

    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    before = _messages(number)
    # Hold the ticket's row lock so the writer is stopped inside its transaction.
    with get_engine().connect() as conn:
        conn.execute(text("SELECT id FROM ticket WHERE number = :n FOR UPDATE"), {"n": number})
        writer = _start_writer(agent, number)
        assert writer.stdout.readline().strip() == "writing"
        _wait_until_blocked_on_a_lock()  # the writer is mid-transaction now
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        conn.rollback()
    assert _messages(number) == before
    tickets.add_message(agent, number, "Funds were sent today.", request_key=KEY)
    assert _messages(number).count("Funds were sent today.") == 1


def test_a_writer_killed_after_its_commit_is_not_duplicated_by_the_retry(db: str) -> None:
    from crm_app.services import tickets

    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    writer = _start_writer(agent, number)
    assert writer.stdout.readline().strip() == "writing"
    saved = writer.stdout.readline().split()
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    assert saved[0] == "saved"
    retried = tickets.add_message(agent, number, "Funds were sent today.", request_key=KEY)
    assert retried.id == int(saved[1])
    assert _messages(number).count("Funds were sent today.") == 1
