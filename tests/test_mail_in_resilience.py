"""Mail in under failure, against a real Dovecot: a 10,000-message mailbox read with the poll
process SIGKILLed once and the connection cut mid-way loses nothing and imports nothing twice;
two pollers at once never work the same mailbox; IDLE picks new mail up at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import func, select, text

from crm_app.db import session_scope
from crm_app.services import mailboxes
from crm_app.settings import PROJECT_ROOT
from jobs.imap_poll import mailbox_lock, poll_mailbox
from models.inbound_mail import InboundMail
from models.ticket import Ticket, TicketMessage
from tests.factories import first_manager
from tests.mail_servers import CuttingProxy, make_mailbox, simple_message

BIG = 10_000


def _recorded() -> int:
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(InboundMail)).scalar_one()


def _duplicated_message_ids() -> int:
    with session_scope() as session:
        return session.execute(
            text(
                "SELECT count(*) FROM (SELECT external_message_id FROM ticket_message "
                "GROUP BY external_message_id HAVING count(*) > 1) d"
            )
        ).scalar_one()


def _small(n: int, to: str) -> bytes:
    # Every fifth mail answers an earlier one, so threading runs through the whole import.
    parent = f"<big{n - 5}@client.example>" if n % 5 == 0 and n >= 5 else None
    return simple_message(
        sender=f"client{n % 300}@client.example",
        to=to,
        subject=f"Re: Question {n - 5}" if parent else f"Question {n}",
        body=f"Message {n}",
        message_id=f"<big{n}@client.example>",
        in_reply_to=parent,
    )


def test_ten_thousand_messages_survive_a_killed_poller_and_a_cut_connection(dovecot, mail_account):
    proxy = CuttingProxy(mail_account.port)
    try:
        box = make_mailbox(mail_account, imap_port=proxy.port)
        assert (
            dovecot.append(mail_account, (_small(n, mail_account.user) for n in range(BIG))) == BIG
        )

        # A jobs process polling the mailbox is killed without warning part-way through.
        job = subprocess.Popen(
            [sys.executable, "-m", "jobs.imap_poll", "--mailbox", str(box), "--batch", "100"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "CRM_LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        while _recorded() < 1500 and time.monotonic() < deadline and job.poll() is None:
            time.sleep(0.1)
        job.send_signal(signal.SIGKILL)
        job.wait()
        killed_at = _recorded()
        assert 0 < killed_at < BIG

        # The next poll's connection is cut in the middle of a fetch: it reconnects and resumes.
        proxy.cut_after(600_000)
        result = poll_mailbox(box)
        assert result is not None and result.error is None, result
        assert proxy.cuts == 1 and result.reconnects == 1
    finally:
        proxy.close()

    assert _recorded() == BIG  # 0 lost: every message of the mailbox has its record
    assert _duplicated_message_ids() == 0  # 0 duplicated
    with session_scope() as session:
        assert session.execute(select(func.count()).select_from(TicketMessage)).scalar_one() == BIG
        tickets = session.execute(select(func.count()).select_from(Ticket)).scalar_one()
    assert tickets == BIG - (BIG // 5 - 1)  # each reply joined its question's ticket
    position = mailboxes.folder_position(box, "INBOX")
    assert position is not None and position.last_uid == BIG
    assert mailboxes.get_mailbox(first_manager(), box).messages_imported == BIG


def test_two_pollers_never_work_the_same_mailbox_at_once(dovecot, mail_account):
    box = make_mailbox(mail_account)
    dovecot.append(mail_account, (_small(n, mail_account.user) for n in range(300)))
    # While one process holds the mailbox, another one skips it.
    with mailbox_lock(box) as held:
        assert held
        assert poll_mailbox(box) is None
    assert _recorded() == 0
    # Two at the same moment: one imports, the other (if it ran meanwhile) skipped; nothing twice.
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(poll_mailbox(box))) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.imported for r in results if r is not None) == 300
    assert _recorded() == 300 and _duplicated_message_ids() == 0


def test_idle_imports_new_mail_while_waiting(dovecot, mail_account):
    box = make_mailbox(mail_account)
    results: list = []
    poller = threading.Thread(target=lambda: results.append(poll_mailbox(box, idle_seconds=8)))
    started = time.monotonic()
    poller.start()
    time.sleep(1.5)
    dovecot.append(mail_account, [_small(1, mail_account.user)])
    deadline = time.monotonic() + 6
    while _recorded() == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    arrived = time.monotonic() - started
    poller.join()
    [result] = results
    assert result.idle_used and result.imported == 1
    assert arrived < 7  # imported during IDLE, not at the next poll
