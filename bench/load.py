"""Load test of the agent workspace as the browser speaks to it (a script, not a test).

    python bench/load.py [--tickets 1000000] [--clients 200000] [--users 50] [--seconds 600]
                         [--workers 2] [--spawn-rate 5] [--think 2 8] [--max-events N]

Seeds (or reuses) the bench database of `bench/tickets.py` (`bench/.data/tickets`, moved with
`BENCH_DATA_DIR`), serves the production build on it with the run command and `--workers N`
(N backend workers on one port, tab state in a local Redis), and runs Locust headless on
loopback: each simulated agent signs in through the sign-in form, opens the websocket the
compiled frontend opens and works the queue with the events the frontend sends — open the
queue, filter it, search, open a ticket, reply, change its status — with a think time between
steps. An action's time runs from sending its event until the state change it asks for reaches
the agent (the delta a browser would render), so it includes queueing in the server.

Bounded in time (`--seconds`) and count (`--max-events`). Errors are events that got no answer in
10 s, answers that carry the error toast, and dropped connections. Memory of the web workers and
of PostgreSQL is sampled every 30 s: the first and last samples show whether it stays flat.

Prints progress on stderr and, last, one JSON object on stdout: `users`, `seconds`, `events`,
`errors`, `<action>_p50_ms` / `<action>_p95_ms` per action, `backend_rss_mb`, `postgres_rss_mb`,
`error_kinds` (each kind of error with its count, also listed on stderr).
"""

import sys
from pathlib import Path

# Run as a script: bench/ off the path, imports from the repository root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

# Locust patches the standard library for gevent: it must come before anything that opens sockets.
from gevent import monkey  # noqa: E402

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from typing import Any, ClassVar  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402
import requests  # noqa: E402
import socketio  # noqa: E402
from gevent.event import Event as GreenEvent  # noqa: E402
from locust import User, between, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR") or ROOT / "bench" / ".data" / "tickets")
os.environ["CRM_DATA_DIR"] = str(DATA_DIR)
os.environ.pop("DATABASE_URL", None)  # never a configured server: this database is throwaway
os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")

MB = 1024 * 1024
ANSWER_TIMEOUT = 10.0
NAMESPACE = "/_event"
ACTIONS = ("open_queue", "filter", "search", "open_ticket", "reply", "change_status")
SEARCH_TERMS = ["transfer", "statement", "withdrawal", "portfolio", "pension", "fees", "wire"]
CANNOT_ANSWER = "no WhatsApp number to answer"
FILTERS = [
    ("status_filter", "open"),
    ("status_filter", "pending"),
    ("priority_filter", "high"),
    ("priority_filter", "urgent"),
    ("channel_filter", "email"),
    ("assignee_filter", "me"),
    ("sla_filter", "breached"),
]


class Names:
    """Full event names and state names of the compiled app, taken from its own classes."""

    def __init__(self) -> None:
        from reflex.state import OnLoadInternalState, State

        from pages.ticket.state import TicketState
        from pages.tickets.state import TicketsState

        self.hydrate = f"{State.get_full_name()}.hydrate_and_load"
        self.on_load = f"{OnLoadInternalState.get_full_name()}.on_load_internal"
        self.queue = TicketsState.get_full_name()
        self.ticket = TicketState.get_full_name()


def _event(name: str, payload: dict, path: str) -> dict:
    parts = path.strip("/").split("/")
    query = {"number": parts[1]} if len(parts) == 2 and parts[1].isdigit() else {}
    return {
        "name": name,
        "payload": payload,
        "router_data": {"pathname": path, "asPath": path, "query": query},
    }


class AgentSocket:
    """One browser tab's websocket: send an event, wait until the state var it changes arrives."""

    def __init__(self, url: str, cookie: str, names: Names) -> None:
        self.url, self.cookie, self.names = url, cookie, names
        self.token = str(uuid.uuid4())
        self.path = "/tickets"
        self._waiting: tuple[str, str] | None = None
        self._answered = GreenEvent()
        self._answer: dict = {}
        self.failed_toast = False
        self.toast_text = ""
        self.queue_numbers: list[int] = []
        self.ticket_status = ""
        self.reply_note = ""  # what the composer says happens to a reply
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("event", self._on_frame, namespace=NAMESPACE)

    def _on_frame(self, frame: Any) -> None:
        if not isinstance(frame, dict):
            return
        for event in frame.get("events") or []:
            # An error toast arrives as a call of the page's toast function with "error".
            script = str((event.get("payload") or {}).get("function", ""))
            if "__toast" in script and '["error"]' in script:
                self.failed_toast = True
                self.toast_text = script.split('["error"](', 1)[-1][:120]
        delta = frame.get("delta") or {}
        queue = delta.get(self.names.queue) or {}
        for key, value in queue.items():
            if key.startswith("tickets_rx_state_") and isinstance(value, list):
                self.queue_numbers = [row["number"] for row in value if "number" in row]
        ticket = delta.get(self.names.ticket) or {}
        for key, value in ticket.items():
            if key.startswith("ticket_rx_state_") and isinstance(value, dict):
                self.ticket_status = str(value.get("status", ""))
            if key.startswith("reply_note_rx_state_"):
                self.reply_note = str(value)
        if self._waiting is not None:
            state, var = self._waiting
            changes = delta.get(state) or {}
            if any(key.startswith(f"{var}_rx_state_") for key in changes):
                self._answer = changes
                self._answered.set()

    def connect(self) -> None:
        self.sio.connect(
            f"{self.url}?token={self.token}",
            headers={"Cookie": f"crm_session={self.cookie}"},  # websocket-client adds Origin
            transports=["websocket"],
            namespaces=[NAMESPACE],
            socketio_path="/_event",
            auth={"event": _event(self.names.hydrate, {}, self.path)},
            wait_timeout=20,
        )

    def call(self, name: str, payload: dict, state: str, var: str, path: str = "") -> float:
        """Send one event; the milliseconds until `state`'s `var` came back changed."""
        self.path = path or self.path
        self._waiting, self.failed_toast = (state, var), False
        self._answered.clear()
        started = time.perf_counter()
        self.sio.emit("event", _event(name, payload, self.path), namespace=NAMESPACE)
        answered = self._answered.wait(ANSWER_TIMEOUT)
        elapsed = (time.perf_counter() - started) * 1000
        self._waiting = None
        if self.failed_toast:  # refused, whether or not the var it waits for came back
            raise RuntimeError(f"{name.rsplit('.', 1)[-1]} refused: {self.toast_text}")
        if not answered:
            raise TimeoutError(f"no answer to {name.rsplit('.', 1)[-1]} in {ANSWER_TIMEOUT:.0f} s")
        return elapsed

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


class Run:
    """What the Locust users share: the app's URL, the accounts, the timings."""

    url = ""
    names: Names
    accounts: ClassVar[list[tuple[str, str]]] = []
    timings: ClassVar[dict[str, list[float]]] = defaultdict(list)
    errors: ClassVar[dict[str, int]] = defaultdict(int)
    error_kinds: ClassVar[Counter[str]] = Counter()
    events = 0
    max_events = 0
    think = (2.0, 8.0)
    runner: Any = None
    next_account = 0


class Agent(User):
    """An agent at work: queue, filter, ticket, reply or status, search; a pause between."""

    wait_time = between(0.0, 0.0)  # replaced by the chosen think time in main()

    def on_start(self) -> None:
        email, password = Run.accounts[Run.next_account % len(Run.accounts)]
        Run.next_account += 1
        response = requests.post(
            f"{Run.url}/api/auth/login",
            data={"email": email, "password": password},
            headers={"Origin": Run.url},
            allow_redirects=False,
            timeout=30,
        )
        cookie = response.cookies.get("crm_session")
        if response.status_code != 303 or not cookie:
            raise RuntimeError(f"sign-in of {email} failed: {response.status_code}")
        self.tab = AgentSocket(Run.url, cookie, Run.names)
        self.tab.connect()

    def on_stop(self) -> None:
        self.tab.close()

    def _do(self, action: str, name: str, payload: dict, state: str, var: str, path: str = ""):
        if Run.max_events and Run.events >= Run.max_events:
            Run.runner.quit()
            return False
        Run.events += 1
        try:
            elapsed = self.tab.call(name, payload, state, var, path)
        except Exception as error:  # a timeout, an error toast or a dropped connection
            Run.errors[action] += 1
            Run.error_kinds[f"{action}: {type(error).__name__}: {error}"[:160]] += 1
            if Run.errors[action] <= 3:
                print(f"  {action}: {error}", file=sys.stderr)
            self.environment.events.request.fire(
                request_type="WS", name=action, response_time=0, response_length=0,
                exception=error, context={},
            )  # fmt: skip
            if not self.tab.sio.connected:
                self.tab = AgentSocket(Run.url, self.tab.cookie, Run.names)
                self.tab.connect()
            return False
        Run.timings[action].append(elapsed)
        self.environment.events.request.fire(
            request_type="WS", name=action, response_time=elapsed, response_length=0,
            exception=None, context={},
        )  # fmt: skip
        gevent.sleep(random.uniform(*Run.think))
        return True

    @task
    def work_a_ticket(self) -> None:
        n = Run.names
        tab = self.tab
        if not self._do("open_queue", n.on_load, {}, n.queue, "tickets", "/tickets"):
            return
        name, value = random.choice(FILTERS)
        filter_event = f"{n.queue}.set_filter"
        if not self._do("filter", filter_event, {"name": name, "value": value}, n.queue, "tickets"):
            return
        if not tab.queue_numbers:  # this filter found nothing: back to the open queue
            payload = {"name": name, "value": "open" if name == "status_filter" else ""}
            if not self._do("filter", filter_event, payload, n.queue, "tickets"):
                return
        if tab.queue_numbers:
            number = random.choice(tab.queue_numbers)
            path = f"/tickets/{number}"
            if not self._do("open_ticket", n.on_load, {}, n.ticket, "messages", path):
                return
            # An agent reads the composer's note: a ticket it says cannot be answered (a demo
            # WhatsApp ticket without the client's number) gets a status change instead.
            if random.random() < 0.5 and CANNOT_ANSWER not in tab.reply_note:
                text = f"Thank you, we are looking into it (load test {uuid.uuid4().hex[:8]})."
                tab.sio.emit(
                    "event",
                    _event(f"{n.ticket}.set_draft", {"value": text}, path),
                    namespace=NAMESPACE,
                )
                # As the page does: the composer's update, then Send carrying the text itself.
                send = {"text": text}
                if not self._do("reply", f"{n.ticket}.send", send, n.ticket, "messages", path):
                    return
            else:
                status = "open" if tab.ticket_status == "pending" else "pending"
                payload = {"status": status}
                event = f"{n.ticket}.change_status"
                if not self._do("change_status", event, payload, n.ticket, "ticket", path):
                    return
            self.tab.path = "/tickets"
            self._do("open_queue", n.on_load, {}, n.queue, "tickets", "/tickets")
        term = random.choice(SEARCH_TERMS)
        self._do("search", f"{n.queue}.run_search", {"form": {"q": term}}, n.queue, "search_hits")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def start_app(port: int, workers: int, database_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "REFLEX_USE_NPM": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    log = (DATA_DIR / "load-server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "crm_app.serve", "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    while not (_answers(f"{url}/api/health/ready") and _answers(url)):
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the app did not start: see {DATA_DIR / 'load-server.log'}")
        time.sleep(2)
    return server


def rss_mb(server: subprocess.Popen) -> tuple[float, float]:
    """RSS of the web workers (the serve process tree, the jobs process and Redis aside) and of
    PostgreSQL (its postmaster and backends)."""
    from bench.footprint import _postgres_processes

    backend = 0.0
    for process in [psutil.Process(server.pid), *psutil.Process(server.pid).children(True)]:
        try:
            command = " ".join(process.cmdline())
            if "-m jobs" in command or "redis-server" in command:
                continue
            backend += process.memory_info().rss
        except psutil.Error:
            continue
    postgres = 0.0
    for process in _postgres_processes(DATA_DIR / "pg"):
        try:
            postgres += process.memory_info().rss
        except psutil.Error:
            continue
    return round(backend / MB, 1), round(postgres / MB, 1)


def demo_accounts(users: int) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from crm_app.db import session_scope
    from crm_app.tools.demo_data import DEMO_DOMAIN, DEMO_PASSWORD
    from models.user import User as StaffUser

    with session_scope() as session:
        emails = session.scalars(
            select(StaffUser.email)
            .where(StaffUser.email.like(f"agent%@{DEMO_DOMAIN}"))  # type: ignore[attr-defined]
            .order_by(StaffUser.email)
            .limit(users)
        ).all()
    if not emails:
        raise SystemExit("the bench database has no demo agents")
    return [(email, DEMO_PASSWORD) for email in emails]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--spawn-rate", type=float, default=5.0)
    parser.add_argument("--think", type=float, nargs=2, default=(2.0, 8.0), metavar=("MIN", "MAX"))
    parser.add_argument("--max-events", type=int, default=0, help="stop after this many events")
    args = parser.parse_args()

    from bench.tickets import seed_if_needed
    from crm_app.db import database_url, libpq_url

    seed_if_needed(args.tickets, args.clients)
    url = libpq_url(database_url())
    port = _free_port()
    print(f"serving the production build with {args.workers} workers (minutes)…", file=sys.stderr)
    server = start_app(port, args.workers, url)
    samples: list[tuple[float, float]] = []
    try:
        Run.url = f"http://127.0.0.1:{port}"
        Run.names = Names()
        Run.accounts = demo_accounts(args.users)
        Run.max_events, Run.think = args.max_events, tuple(args.think)
        Agent.wait_time = between(*args.think)
        environment = Environment(user_classes=[Agent], events=events)
        Run.runner = environment.create_local_runner()
        samples.append(rss_mb(server))
        print(
            f"{args.users} agents for {args.seconds} s on {Run.url}; think {args.think} s",
            file=sys.stderr,
        )
        Run.runner.start(args.users, spawn_rate=args.spawn_rate)
        started = time.monotonic()

        def sample_memory() -> None:
            while True:
                gevent.sleep(30)
                samples.append(rss_mb(server))
                done = sum(len(v) for v in Run.timings.values())
                errors = sum(Run.errors.values())
                print(
                    f"  {time.monotonic() - started:5.0f} s: {done} events, {errors} errors, "
                    f"web {samples[-1][0]} MB, postgres {samples[-1][1]} MB",
                    file=sys.stderr,
                )

        sampler = gevent.spawn(sample_memory)
        gevent.spawn_later(args.seconds, Run.runner.quit)
        Run.runner.greenlet.join()
        elapsed = time.monotonic() - started
        sampler.kill()
        samples.append(rss_mb(server))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    result: dict[str, Any] = {
        "users": args.users,
        "seconds": round(elapsed),
        "workers": args.workers,
        "tickets": args.tickets,
        "think_seconds": list(args.think),
        "events": sum(len(v) for v in Run.timings.values()) + sum(Run.errors.values()),
        "errors": sum(Run.errors.values()),
    }
    for action in ACTIONS:
        values = Run.timings.get(action, [])
        result[f"{action}_count"] = len(values)
        result[f"{action}_p50_ms"] = percentile(values, 50)
        result[f"{action}_p95_ms"] = percentile(values, 95)
    result["backend_rss_mb_start"], result["postgres_rss_mb_start"] = samples[0]
    result["backend_rss_mb_max"] = max(s[0] for s in samples)
    result["backend_rss_mb"], result["postgres_rss_mb"] = samples[-1]
    result["error_kinds"] = dict(Run.error_kinds.most_common())
    for kind, count in Run.error_kinds.most_common():
        print(f"  {count:5d} × {kind}", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
