"""Benchmark of the agent workspace at volume (a script, not a test).

    python bench/tickets.py [--tickets 1000000] [--clients 200000] [--runs 200] [--browser]

Seeds (through `python -m crm_app.cli seed-demo`) a throwaway embedded database under
`bench/.data/tickets` (gitignored; `BENCH_DATA_DIR` moves it) or reuses the one seeded before,
then measures the server-side time of the default queue page, a filtered queue page, a deep
keyset page, a full-text search (rare and common terms; the common ones match at least 5% of all
messages) and opening a ticket with 50 messages — each through the app's service and as the same
plain SQL over a bare psycopg connection, interleaved. With `--browser` it also serves the
production build on the bench database and times the queue page in Chromium until its rows are
visible. Prints p50/p95 per measure and the ratio app/plain SQL at p95; the last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR") or ROOT / "bench" / ".data" / "tickets")
os.environ["CRM_DATA_DIR"] = str(DATA_DIR)
os.environ.pop("DATABASE_URL", None)  # never a configured server: this database is throwaway
os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")

import psycopg  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from bench.timing import measure  # noqa: E402

# Words of the demo vocabulary: which of them match >= 5% of messages is measured, not assumed.
COMMON_CANDIDATES = [
    "withdrawal",
    "transfer",
    "account",
    "please",
    "statement",
    "portfolio",
    "thank",
    "update",
    "fund",
    "payment",
    "wire",
]
RARE_PREFIXES = ["withdr", "rebalanc", "beneficiar", "custod", "pension"]
RARE_NAMES = ["kwame", "ingrid", "zainab", "hiroshi", "dmitri", "xylophone"]
THREAD_SUBJECT = "Bench: a long thread"
THREAD_MESSAGES = 50


def _literal_sql(statement) -> str:
    return str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


def seed_if_needed(tickets: int, clients: int) -> None:
    from crm_app.db import upgrade_to_head
    from crm_app.tools.demo_data import has_demo_data

    upgrade_to_head()
    if has_demo_data():
        print(f"reusing the bench database in {DATA_DIR.name}/", file=sys.stderr)
        return
    print(f"seeding {tickets:,} tickets and {clients:,} clients (minutes)…", file=sys.stderr)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "crm_app.cli",
            "seed-demo",
            "--tickets",
            str(tickets),
            "--clients",
            str(clients),
            "--messages-per-ticket",
            "5",
        ],
        cwd=ROOT,
        check=True,
        env={**os.environ},
    )


def prepare(conn: psycopg.Connection) -> None:
    """One-time: vacuum (index-only scans, fresh statistics) and a few 50-message threads."""
    marker = DATA_DIR / "bench-prepared"
    if marker.exists():
        return
    conn.autocommit = True
    print("vacuum analyze (once)…", file=sys.stderr)
    conn.execute("VACUUM ANALYZE ticket")
    conn.execute("VACUUM ANALYZE ticket_message")
    conn.execute("VACUUM ANALYZE client")
    conn.autocommit = False
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM ticket WHERE status = 'open' ORDER BY id DESC LIMIT 20"
        )
    ]
    for ticket_id in ids:
        have = conn.execute(
            "SELECT count(*) FROM ticket_message WHERE ticket_id = %s", (ticket_id,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO ticket_message (ticket_id, sender_kind, body_text, is_internal, channel,"
            " created_at) SELECT %s, CASE WHEN g %% 2 = 0 THEN 'client' ELSE 'agent' END,"
            " 'Follow-up ' || g || ' on the transfer and the statement, thank you.', false,"
            " 'email', now() - (60 - g) * interval '1 minute' FROM generate_series(1, %s) g",
            (ticket_id, max(THREAD_MESSAGES - have, 0)),
        )
        conn.execute("UPDATE ticket SET subject = %s WHERE id = %s", (THREAD_SUBJECT, ticket_id))
    conn.commit()
    marker.write_text("prepared\n")


def common_terms(conn: psycopg.Connection) -> tuple[list[str], dict[str, float]]:
    """Candidate words matching at least 5% of all messages (measured once, then cached)."""
    cache = DATA_DIR / "bench-common-terms.json"
    if cache.exists():
        shares = json.loads(cache.read_text())
    else:
        total = conn.execute(
            "SELECT reltuples FROM pg_class WHERE relname = 'ticket_message'"
        ).fetchone()[0]
        shares = {}
        for word in COMMON_CANDIDATES:
            hits = conn.execute(
                "SELECT count(*) FROM ticket_message WHERE search_vector @@ "
                "to_tsquery('english', %s)",
                (f"'{word}':*",),
            ).fetchone()[0]
            shares[word] = round(hits / max(total, 1), 4)
        conn.rollback()
        cache.write_text(json.dumps(shares))
    return [w for w, share in shares.items() if share >= 0.05], shares


def browser_queue_ms(url: str, email: str, password: str) -> float:
    """Time from navigation to the queue's rows being visible, signed in, in Chromium."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.goto(f"{url}/login")
        page.locator("#email").fill(email)
        page.locator("#password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/tickets", timeout=60_000)
        page.locator(".ticket-row").first.wait_for(timeout=60_000)
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            page.goto(f"{url}/tickets")
            page.locator(".ticket-row").first.wait_for(timeout=30_000)
            timings.append(time.perf_counter() - started)
        browser.close()
    return round(statistics.median(timings) * 1000, 1)


def serve_and_time_browser(email: str, password: str, database_url: str) -> float:
    from tests.e2e.conftest import _free_port

    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REFLEX_USE_NPM": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    log = (DATA_DIR / "bench-server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reflex",
            "run",
            "--env",
            "prod",
            "--single-port",
            "--frontend-port",
            str(port),
            "--backend-port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import urllib.request

        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError("the app exited: see bench-server.log") from None
                time.sleep(1)
        return browser_queue_ms(url, email, password)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--browser",
        action="store_true",
        help="also time the queue page in Chromium (builds and serves the app)",
    )
    args = parser.parse_args()

    seed_if_needed(args.tickets, args.clients)
    from crm_app.auth.permissions import Actor
    from crm_app.db import database_url, libpq_url
    from crm_app.services import search, tickets
    from crm_app.services.tickets import (
        BUILTIN_VIEWS,
        QueueFilters,
        queue_count_query,
        queue_page_query,
    )
    from crm_app.tools.demo_data import DEMO_DOMAIN, DEMO_PASSWORD

    url = libpq_url(database_url())
    conn = psycopg.connect(url)
    prepare(conn)
    rng = random.Random(7)
    agents = conn.execute(
        "SELECT id, name, email FROM user_account WHERE role = 'agent' "
        "AND email LIKE %s ORDER BY id",
        (f"%@{DEMO_DOMAIN}",),
    ).fetchall()
    actors = [Actor(user_id=a[0], role="agent", name=a[1], email=a[2]) for a in agents]
    max_client = conn.execute("SELECT max(id) FROM client").fetchone()[0]
    counts = conn.execute(
        "SELECT (SELECT reltuples::bigint FROM pg_class WHERE relname='ticket'),"
        " (SELECT reltuples::bigint FROM pg_class WHERE relname="
        "'ticket_message')"
    ).fetchone()
    conn.rollback()

    def plain(statements: list[str]) -> None:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
                cur.fetchall()
        conn.rollback()

    def queue_case(filters: QueueFilters, actor: Actor, after: str = ""):
        # As the app does: the capped count first, whose result picks the page's query shape.
        count = queue_count_query(actor, filters)
        total = conn.execute(_literal_sql(count)).fetchone()[0]
        conn.rollback()
        page = queue_page_query(actor, filters, after=after, page_size=25, total=total)
        return filters, actor, after, [_literal_sql(count), _literal_sql(page)]

    results: dict[str, float] = {"tickets": counts[0], "messages": counts[1]}

    # 1. the default queue page: the built-in views, for different agents
    views = [f for _, f in BUILTIN_VIEWS.values()]
    cases = [queue_case(views[i % len(views)], actors[i % len(actors)]) for i in range(40)]
    measure(
        "queue_default",
        args.runs,
        lambda i: tickets.queue(cases[i % 40][1], cases[i % 40][0]),
        lambda i: plain(cases[i % 40][3]),
        results,
        cases=40,
    )

    # 2. filtered pages: combinations over open and all statuses
    def random_filters() -> QueueFilters:
        day = rng.randint(1, 700)
        return rng.choice(
            [
                QueueFilters(
                    status="open",
                    priority=rng.choice(["high", "urgent", "normal"]),
                    channel=rng.choice(["email", "portal", "whatsapp"]),
                ),
                QueueFilters(
                    status="all",
                    channel=rng.choice(["web_chat", "phone"]),
                    sla_state=rng.choice(["met", "breached"]),
                ),
                QueueFilters(status="all", client=str(rng.randint(1, max_client))),
                QueueFilters(status="closed", priority="urgent", assignee=str(actors[0].user_id)),
                QueueFilters(status="all", created_from=_day(day), created_to=_day(day - 3)),
            ]
        )

    cases = [queue_case(random_filters(), actors[i % len(actors)]) for i in range(40)]
    measure(
        "queue_filtered",
        args.runs,
        lambda i: tickets.queue(cases[i % 40][1], cases[i % 40][0]),
        lambda i: plain(cases[i % 40][3]),
        results,
        cases=40,
    )

    # 3. deep pages: keyset cursors far into all tickets (found once with a slow OFFSET)
    cursors = []
    for offset in rng.sample(range(10_000, max(counts[0] - 100, 10_001)), 8):
        row = conn.execute(
            "SELECT queue_bucket, queue_due_at::text, id FROM ticket "
            "ORDER BY queue_bucket, queue_due_at, id OFFSET %s LIMIT 1",
            (offset,),
        ).fetchone()
        cursors.append(f"{row[0]}|{row[1]}|{row[2]}")
    conn.rollback()
    everything = QueueFilters(status="all")
    cases = [queue_case(everything, actors[0], cursors[i % len(cursors)]) for i in range(8)]
    measure(
        "queue_deep",
        args.runs,
        lambda i: tickets.queue(actors[0], everything, after=cases[i % 8][2]),
        lambda i: plain(cases[i % 8][3]),
        results,
        cases=8,
    )

    # 4. search: common words (>= 5% of messages), rare prefixes and names, pairs
    common, shares = common_terms(conn)
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(common)]
    terms = common + RARE_PREFIXES + RARE_NAMES + pairs
    rng.shuffle(terms)
    print(f"search terms: {terms}; shares of messages: {shares}", file=sys.stderr)
    results["search_common_terms"] = len(common)

    def pg(sql: str) -> str:
        return re.sub(r"(?<!:):([a-z_]+)", r"%(\1)s", sql)

    def plain_search(term: str) -> None:
        q = search.tsquery_for(term)
        best: dict[int, tuple[float, int | None]] = {}
        with conn.cursor() as cur:
            for table, sql in search.CANDIDATES_SQL.items():
                plan = cur.execute(
                    pg(search.ESTIMATE_SQL.format(table=table)), {"q": q}
                ).fetchone()[0]
                total = cur.execute(pg(search.TABLE_ROWS_SQL), {"table": table}).fetchone()[0]
                rows: list = []
                dense = plan[0]["Plan"]["Plan Rows"] / total >= search.DENSE_SHARE
                if dense:
                    cur.execute(search.RESET_SCANS)
                    newest = cur.execute(search.MAX_ID_SQL.format(table=table)).fetchone()[0]
                    cur.execute(search.WALK_NEWEST)
                    rows = cur.execute(
                        pg(sql),
                        {
                            "q": q,
                            "n": search.CANDIDATES,
                            "floor": newest - search.DENSE_WINDOW[table],
                        },
                    ).fetchall()
                if search.ran_dry(rows, table, walked=dense):
                    cur.execute("SAVEPOINT gin")
                    cur.execute(search.USE_GIN)
                    if dense:
                        cur.execute(
                            f"SET LOCAL statement_timeout = {search.GIN_AFTER_WALK_TIMEOUT_MS}"
                        )
                    try:
                        rows = (
                            cur.execute(
                                pg(sql), {"q": q, "n": search.CANDIDATES, "floor": 0}
                            ).fetchall()
                            or rows
                        )
                        cur.execute("SET LOCAL statement_timeout = 0")
                        cur.execute("RELEASE SAVEPOINT gin")
                    except psycopg.errors.QueryCanceled:
                        cur.execute("ROLLBACK TO SAVEPOINT gin")
                for ticket_id, message_id, rank, _ in rows:
                    if ticket_id not in best or rank > best[ticket_id][0]:
                        best[ticket_id] = (rank, message_id)
            cur.execute(search.RESET_SCANS)
            top = sorted(best.items(), key=lambda item: (-item[1][0], -item[0]))[:25]
            if top:
                cur.execute(
                    pg(search.PAGE_SQL),
                    {
                        "q": q,
                        "ticket_ids": [t for t, _ in top],
                        "message_ids": [m for _, (_, m) in top],
                    },
                ).fetchall()
        conn.rollback()

    measure(
        "search",
        args.runs,
        lambda i: search.search_tickets(actors[0], terms[i % len(terms)]),
        lambda i: plain_search(terms[i % len(terms)]),
        results,
        cases=len(terms),
    )

    # 5. opening a ticket with 50 messages (timeline, client sidebar, other tickets, history)
    threads = [
        r[0]
        for r in conn.execute("SELECT number FROM ticket WHERE subject = %s", (THREAD_SUBJECT,))
    ]
    conn.rollback()

    def plain_open(number: int) -> None:
        with conn.cursor() as cur:
            t = cur.execute("SELECT * FROM ticket WHERE number = %s", (number,)).fetchone()
            ticket_id, client_id, assignee_id = t[0], t[6], t[7]
            cur.execute("SELECT * FROM client WHERE id = %s", (client_id,)).fetchall()
            cur.execute("SELECT * FROM user_account WHERE id = %s", (assignee_id,)).fetchall()
            cur.execute(
                "SELECT m.id, m.sender_kind, m.body_text, m.is_internal, m.channel, "
                "m.created_at, u.name FROM ticket_message m LEFT JOIN user_account u "
                "ON u.id = m.author_id WHERE m.ticket_id = %s "
                "ORDER BY m.created_at, m.id",
                (ticket_id,),
            ).fetchall()
            cur.execute(
                "SELECT * FROM ticket WHERE client_id = %s AND id <> %s "
                "ORDER BY created_at DESC LIMIT 10",
                (client_id, ticket_id),
            ).fetchall()
            cur.execute(
                "SELECT a.action, u.name, a.changes, a.created_at FROM audit_log a "
                "LEFT JOIN user_account u ON u.id = a.actor_id WHERE a.entity_type = "
                "'ticket' AND a.entity_id = %s ORDER BY a.id DESC LIMIT 50",
                (ticket_id,),
            ).fetchall()
        conn.rollback()

    measure(
        "ticket_open",
        args.runs,
        lambda i: tickets.get_ticket(actors[0], threads[i % len(threads)]),
        lambda i: plain_open(threads[i % len(threads)]),
        results,
        cases=len(threads),
    )

    if args.browser:
        results["browser_queue_visible_ms"] = serve_and_time_browser(
            agents[0][2], DEMO_PASSWORD, database_url()
        )

    failures = [
        k
        for k, v in results.items()
        if k.endswith("_p95_ms")
        and "_sql_" not in k
        and v > (250 if k.startswith("search") else 150)
    ]
    failures += [k for k, v in results.items() if k.endswith("_ratio") and v > 2]
    if results.get("browser_queue_visible_ms", 0) > 1500:
        failures.append("browser_queue_visible_ms")
    results["targets_met"] = not failures
    print(json.dumps(results))
    return 0


def _day(days_ago: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(days=days_ago)).date().isoformat()


if __name__ == "__main__":
    sys.exit(main())
