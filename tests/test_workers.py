"""Several web workers behind one balancer: two backends sharing Redis (tab state) and
PostgreSQL. An agent on worker A sees, within the live-update interval, a reply another agent
sent on worker B and a ticket opened elsewhere in the open queue; the sign-in throttle counts
failures made on any worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import pytest
import requests

from crm_app.change_watch import POLL_SECONDS as QUEUE_POLL_SECONDS
from crm_app.settings import PROJECT_ROOT
from pages.ticket.state import LIVE_POLL_SECONDS, TicketState
from tests.e2e.reflex_socket import Tab, sign_in_cookie
from tests.factories import PASSWORD, make_client, make_ticket, make_user, run_async
from tests.redis_server import REDIS_SERVER, free_port, redis_server

pytestmark = [
    pytest.mark.embedded_only,
    pytest.mark.skipif(not Path(REDIS_SERVER).exists(), reason="needs Debian's redis-server"),
    pytest.mark.skipif(
        bool(os.environ.get("CRM_TEST_DATABASE_URL")),
        reason="about web workers, not the database: run once, against the embedded server",
    ),
]


@contextmanager
def backend(database_url: str, redis_url: str, name: str) -> Iterator[str]:
    """One production backend worker (no frontend build: the events are what matter)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "GRANIAN_WORKERS": "1",
        "REFLEX_USE_NPM": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    log_path = PROJECT_ROOT / "artifacts" / f"workers-{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "reflex", "run", "--env", "prod", "--backend-only",
             "--backend-port", str(port), "--loglevel", "warning"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"backend {name} exited: {log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/health/ready", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"backend {name} not ready in time") from None
                time.sleep(1)
        yield url
    finally:
        with suppress(ProcessLookupError):  # a crash test may have killed it already
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)


@pytest.fixture(scope="module")
def two_workers(database_url: str, tmp_path_factory) -> Iterator[tuple[str, str]]:
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(tmp_path_factory.mktemp("redis")))
        worker_a = stack.enter_context(backend(database_url, redis_url, "a"))
        worker_b = stack.enter_context(backend(database_url, redis_url, "b"))
        yield worker_a, worker_b


def _handler(name: str) -> str:
    return f"{TicketState.get_full_name()}.{name}"


def test_agent_on_one_worker_sees_a_reply_sent_on_another(
    db: str, two_workers: tuple[str, str]
) -> None:
    worker_a, worker_b = two_workers
    watcher, replier = make_user("agent"), make_user("agent")
    number = make_ticket(watcher, make_client(watcher))
    path = f"/tickets/{number}"
    reply = "Your transfer left our bank at 10:02."

    async def scenario() -> float:
        tab_a = Tab(worker_a, session_cookie=sign_in_cookie(worker_a, watcher.email, PASSWORD))
        tab_b = Tab(worker_b, session_cookie=sign_in_cookie(worker_b, replier.email, PASSWORD))
        await tab_a.open(path)
        await tab_b.open(path)
        assert reply not in tab_a.text()
        await tab_b.send(_handler("set_draft"), {"value": reply}, path)
        await tab_b.send(_handler("send"), {}, path)
        assert reply in tab_b.text()
        sent = time.monotonic()
        while reply not in tab_a.text() and time.monotonic() - sent < 15:
            await asyncio.sleep(0.2)
        seen_after = time.monotonic() - sent
        await tab_a.close()
        await tab_b.close()
        return seen_after

    seen_after = run_async(scenario())
    # One poll interval, plus the reload itself on a loaded machine.
    assert seen_after <= LIVE_POLL_SECONDS + 5
    # The worker that ran the send timed it for /api/metrics (per process here: no shared dir).
    scrape = requests.get(f"{worker_b}/api/metrics", timeout=30).text
    assert 'crm_event_duration_seconds_count{handler="TicketState.send"} 1.0' in scrape


def test_open_queue_shows_a_ticket_opened_elsewhere_within_the_interval(
    db: str, two_workers: tuple[str, str]
) -> None:
    """The queue's live reload runs its query off the event loop: the page still follows."""
    worker_a = two_workers[0]
    watcher, opener = make_user("agent"), make_user("agent")
    subject = "Standing order to the pension fund did not run"

    async def scenario() -> float:
        tab = Tab(worker_a, session_cookie=sign_in_cookie(worker_a, watcher.email, PASSWORD))
        await tab.open("/tickets")
        assert subject not in tab.text()
        await asyncio.to_thread(make_ticket, opener, make_client(opener), subject)
        made = time.monotonic()
        while subject not in tab.text() and time.monotonic() - made < 15:
            await asyncio.sleep(0.2)
        seen_after = time.monotonic() - made
        await tab.close()
        return seen_after

    assert run_async(scenario()) <= QUEUE_POLL_SECONDS + 5


def test_sign_in_throttle_counts_failures_made_on_every_worker(
    db: str, two_workers: tuple[str, str]
) -> None:
    worker_a, worker_b = two_workers
    agent = make_user("agent")
    for _ in range(4):  # past the free failures, on worker A
        response = requests.post(
            f"{worker_a}/api/auth/login",
            data={"email": agent.email, "password": "wrong password, guessed"},
            headers={"Origin": worker_a},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 303 and "crm_session" not in response.cookies
    # The right password from a new browser on worker B must wait like the guesser did.
    response = requests.post(
        f"{worker_b}/api/auth/login",
        data={"email": agent.email, "password": PASSWORD},
        headers={"Origin": worker_b},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303 and "crm_session" not in response.cookies
    assert "error=" in response.headers["location"]
