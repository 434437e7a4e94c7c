"""A web worker SIGKILLed while it saves a reply: nothing is saved; the tab reconnects to
another worker (its state is in Redis), where the agent's retry saves the reply exactly once and
a second click does not add it again.

(A reconnect re-runs the page's load, which starts a fresh draft; a retry that re-sends the
same draft is covered by the draft key, tests/test_faults_reply.py.)"""

from __future__ import annotations

import asyncio
import os
import signal

import psutil
from sqlalchemy import text

from tests.e2e.reflex_socket import Tab, sign_in_cookie
from tests.factories import PASSWORD, make_client, make_ticket, make_user, run_async
from tests.redis_server import redis_server
from tests.test_faults_reply import _messages, _wait_until_blocked_on_a_lock
from tests.test_workers import _handler, backend, pytestmark  # noqa: F401 - same skips


def _kill_server_on(url: str) -> None:
    """SIGKILL every process of the backend listening on `url`'s port (supervisor, workers)."""
    port = int(url.rsplit(":", 1)[1])
    listeners = {
        c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port and c.pid
    }
    for pid in listeners:
        os.killpg(os.getpgid(pid), signal.SIGKILL)


def test_reply_on_a_killed_worker_is_saved_once_when_retried_on_another(db: str, tmp_path) -> None:
    from crm_app.db import get_engine

    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    path = f"/tickets/{number}"
    reply = "We received your instruction and will execute it today."
    with (
        redis_server(tmp_path) as redis_url,
        backend(db, redis_url, "doomed") as doomed,
        backend(db, redis_url, "survivor") as survivor,
    ):
        cookie = sign_in_cookie(doomed, agent.email, PASSWORD)

        async def scenario() -> tuple[list[str], str]:
            tab = Tab(doomed, session_cookie=cookie)
            await tab.open(path)
            await tab.send(_handler("set_draft"), {"value": reply}, path)  # kept in Redis
            with get_engine().connect() as conn:  # the save waits on the ticket's row lock
                conn.execute(
                    text("SELECT id FROM ticket WHERE number = :n FOR UPDATE"), {"n": number}
                )
                await tab.send(_handler("send"), {}, path, wait=False)
                await asyncio.to_thread(_wait_until_blocked_on_a_lock)
                _kill_server_on(doomed)
                await asyncio.sleep(0.5)
                conn.rollback()
            after_kill = _messages(number)
            again = Tab(survivor, token=tab.token, session_cookie=cookie)
            await again.open(path)  # the same tab, reconnected to the other worker
            await again.send(_handler("set_draft"), {"value": reply}, path)
            await again.send(_handler("send"), {}, path)
            await again.send(_handler("send"), {}, path)  # an impatient second click
            await asyncio.sleep(0.5)
            await again.close()
            return after_kill, again.text()

        after_kill, frames = run_async(scenario())
        assert reply not in after_kill  # killed mid-transaction: nothing saved
        assert reply in frames
    assert _messages(number).count(reply) == 1
