"""Benchmark of the dashboards and the SLA scan at volume (a script, not a test).

    python bench/dashboard.py [--tickets 1000000] [--clients N] [--runs 100] [--days 90]

Seeds (through `python -m crm_app.cli seed-demo`: tickets spread over the seeder's history,
with first responses and resolutions) a throwaway embedded database under
`bench/.data/dashboard-<tickets>` (gitignored; `BENCH_DATA_DIR` moves it) or reuses it, runs
the SLA scan (the first one builds the clocks of open tickets; the next is the steady scan a
job runs every minute), rebuilds the dashboard rollups, then times every dashboard query
through the product's services beside the plain SQL aggregate over the raw tables for the same
range, interleaved. Prints p50/p95 per query and the ratio product/plain SQL at p95; the last
line is one JSON object with `<query>_p95_ms`, `<query>_ratio` and `sla_scan_seconds`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=0, help="default: tickets / 5")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--days", type=int, default=90, help="the dashboard's date range")
    return parser.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
_TICKETS = ARGS.tickets if ARGS else 1_000_000
DATA_DIR = Path(
    os.environ.get("BENCH_DATA_DIR") or ROOT / "bench" / ".data" / f"dashboard-{_TICKETS}"
)
os.environ["CRM_DATA_DIR"] = str(DATA_DIR)
os.environ.pop("DATABASE_URL", None)  # never a configured server: this database is throwaway
os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("CRM_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")

from bench.timing import measure  # noqa: E402

_OPEN = "('new', 'open', 'pending')"
_TIER = (
    "CASE WHEN t.client_id IS NULL THEN 'none' WHEN c.net_worth_reporting IS NULL THEN 'retail' "
    "WHEN c.net_worth_reporting >= 5000000 THEN 'private_banking' "
    "WHEN c.net_worth_reporting >= 1000000 THEN 'premier' ELSE 'retail' END"
)
_SOLVED = "coalesce(t.resolved_at, t.closed_at)"

# The same figures as the services, straight from the raw tables (wall-clock minutes: the
# seeded tickets have no SLA clocks, so the product counts wall-clock minutes for them too).
PLAIN_SQL = {
    "daily_volume": f"""
        WITH c AS (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
                   FROM ticket t WHERE created_at < %(hi)s GROUP BY 1),
             s AS (SELECT ({_SOLVED} AT TIME ZONE 'UTC')::date AS day, count(*) AS n
                   FROM ticket t WHERE {_SOLVED} < %(hi)s GROUP BY 1),
             d AS (SELECT coalesce(c.day, s.day) AS day, coalesce(c.n, 0) AS created,
                          coalesce(s.n, 0) AS solved FROM c FULL JOIN s ON s.day = c.day)
        SELECT * FROM (SELECT day, created, solved,
                              sum(created - solved) OVER (ORDER BY day) AS backlog FROM d) x
        WHERE day >= %(lo_day)s ORDER BY day""",
    "response_times": f"""
        SELECT (SELECT row(count(m), avg(m), percentile_cont(0.5) WITHIN GROUP (ORDER BY m),
                           percentile_cont(0.9) WITHIN GROUP (ORDER BY m))
                FROM (SELECT extract(epoch FROM first_responded_at - created_at) / 60 AS m
                      FROM ticket WHERE first_responded_at >= %(lo)s
                        AND first_responded_at < %(hi)s) f),
               (SELECT row(count(m), avg(m), percentile_cont(0.5) WITHIN GROUP (ORDER BY m),
                           percentile_cont(0.9) WITHIN GROUP (ORDER BY m))
                FROM (SELECT extract(epoch FROM {_SOLVED} - created_at) / 60 AS m
                      FROM ticket t WHERE {_SOLVED} >= %(lo)s AND {_SOLVED} < %(hi)s) r)""",
    "sla_achievement": f"""
        SELECT count(*) FILTER (WHERE first_responded_at >= %(lo)s AND first_responded_at < %(hi)s
                                AND first_responded_at <= first_response_due_at),
               count(*) FILTER (WHERE first_responded_at >= %(lo)s AND first_responded_at < %(hi)s
                                AND first_responded_at > first_response_due_at),
               count(*) FILTER (WHERE {_SOLVED} >= %(lo)s AND {_SOLVED} < %(hi)s
                                AND {_SOLVED} <= resolution_due_at),
               count(*) FILTER (WHERE {_SOLVED} >= %(lo)s AND {_SOLVED} < %(hi)s
                                AND {_SOLVED} > resolution_due_at)
        FROM ticket t""",
    "agent_table": f"""
        SELECT t.assignee_id, u.name,
               count(*) FILTER (WHERE t.created_at >= %(lo)s AND t.created_at < %(hi)s),
               count(*) FILTER (WHERE {_SOLVED} >= %(lo)s AND {_SOLVED} < %(hi)s),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY
                 extract(epoch FROM t.first_responded_at - t.created_at) / 60)
                 FILTER (WHERE t.first_responded_at >= %(lo)s AND t.first_responded_at < %(hi)s)
        FROM ticket t LEFT JOIN user_account u ON u.id = t.assignee_id
        WHERE t.created_at >= %(lo)s OR t.first_responded_at >= %(lo)s OR {_SOLVED} >= %(lo)s
        GROUP BY t.assignee_id, u.name""",
    "sentiment_trend": """
        SELECT (m.created_at AT TIME ZONE 'UTC')::date, s.label, count(*), avg(s.score)
        FROM message_sentiment s JOIN ticket_message m ON m.id = s.message_id
        WHERE m.created_at >= %(lo)s AND m.created_at < %(hi)s GROUP BY 1, 2""",
    "open_now": f"SELECT sla_state, count(*) FROM ticket WHERE status IN {_OPEN} GROUP BY 1",
    "warning_board": f"""
        SELECT t.number, t.subject, t.priority, t.sla_state, u.name, t.queue_due_at
        FROM ticket t LEFT JOIN user_account u ON u.id = t.assignee_id
        WHERE t.status IN {_OPEN} AND t.sla_state IN ('near_breach', 'breached')
        ORDER BY t.queue_due_at, t.id LIMIT 200""",
}
for _dim, _expr in (
    ("agent", "t.assignee_id"),
    ("priority", "t.priority"),
    ("channel", "t.channel"),
    ("tier", _TIER),
):
    PLAIN_SQL[f"breaches_by_{_dim}"] = f"""
        SELECT {_expr} AS key,
               count(*) FILTER (WHERE first_responded_at >= %(lo)s AND first_responded_at < %(hi)s
                                AND first_responded_at > first_response_due_at)
             + count(*) FILTER (WHERE {_SOLVED} >= %(lo)s AND {_SOLVED} < %(hi)s
                                AND {_SOLVED} > resolution_due_at)
        FROM ticket t LEFT JOIN client c ON c.id = t.client_id
        WHERE first_responded_at >= %(lo)s OR {_SOLVED} >= %(lo)s GROUP BY 1"""


def seed_if_needed(tickets: int, clients: int) -> float | None:
    from crm_app.db import upgrade_to_head
    from crm_app.tools.demo_data import has_demo_data

    upgrade_to_head()
    if has_demo_data():
        print(f"reusing the bench database in {DATA_DIR.name}/", file=sys.stderr)
        return None
    print(f"seeding {tickets:,} tickets and {clients:,} clients…", file=sys.stderr)
    started = time.monotonic()
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
    return round(time.monotonic() - started, 1)


def main() -> None:
    assert ARGS is not None
    clients = ARGS.clients or max(ARGS.tickets // 5, 100)
    seed_seconds = seed_if_needed(ARGS.tickets, clients)

    import psycopg

    from crm_app.auth.permissions import Actor
    from crm_app.db import database_url, libpq_url
    from crm_app.services import dashboard, sla
    from crm_app.services.accounts import needs_setup
    from models.base import utcnow

    results: dict[str, float] = {"tickets": ARGS.tickets, "range_days": ARGS.days}
    if seed_seconds is not None:
        results["seed_seconds"] = seed_seconds
    conn = psycopg.connect(libpq_url(database_url()), autocommit=True)
    marker = DATA_DIR / "bench-prepared"
    if not marker.exists():
        print("vacuum analyze, first SLA scan (clocks for open tickets), rollups…", file=sys.stderr)
        conn.execute("VACUUM ANALYZE")
        first = sla.scan_open_tickets(escalate=False)
        results["sla_first_scan_seconds"] = round(first.seconds, 2)
        print(f"first scan: {first.log_fields()}", file=sys.stderr)
        started = time.monotonic()
        rebuilt = dashboard.refresh_rollups(rebuild=True)
        results["rollup_rebuild_seconds"] = round(time.monotonic() - started, 2)
        print(f"rollup rebuild: {rebuilt}", file=sys.stderr)
        conn.execute("VACUUM ANALYZE")
        marker.write_text("prepared\n")
    # The steady scan, as the job runs it every minute (a minute later than the last one).
    scans = []
    for i in range(3):
        result = sla.scan_open_tickets(utcnow() + timedelta(minutes=i + 1))
        scans.append(result.seconds)
    results["sla_scan_seconds"] = round(max(scans), 3)
    started = time.monotonic()
    dashboard.refresh_rollups(days=2)
    results["rollup_incremental_seconds"] = round(time.monotonic() - started, 2)
    results["open_tickets"] = conn.execute(
        f"SELECT count(*) FROM ticket WHERE status IN {_OPEN}"
    ).fetchone()[0]
    results["ticket_sla_rows"] = conn.execute("SELECT count(*) FROM ticket_sla").fetchone()[0]

    assert not needs_setup()
    manager_id = conn.execute(
        "SELECT id FROM user_account WHERE role = 'manager' ORDER BY id LIMIT 1"
    ).fetchone()[0]
    manager = Actor(user_id=manager_id, role="manager", name="Bench")
    today = datetime.now(UTC).date()
    f = dashboard.make_filter(today - timedelta(days=ARGS.days - 1), today)
    params = {
        "lo": datetime.combine(f.start, datetime.min.time(), UTC),
        "hi": datetime.combine(f.end + timedelta(days=1), datetime.min.time(), UTC),
        "lo_day": f.start,
    }
    product = {
        "daily_volume": lambda: dashboard.daily_volume(manager, f),
        "response_times": lambda: dashboard.response_times(manager, f),
        "sla_achievement": lambda: dashboard.sla_achievement(manager, f),
        "agent_table": lambda: dashboard.agent_table(manager, f),
        "sentiment_trend": lambda: dashboard.sentiment_trend(manager, f),
        "open_now": lambda: dashboard.open_now(manager),
        "warning_board": lambda: dashboard.warning_board(manager),
        **{
            f"breaches_by_{d}": (lambda d=d: dashboard.breaches_by(manager, f, d))
            for d in dashboard.BREAKDOWNS
        },
    }
    for name, call in product.items():
        sql = PLAIN_SQL[name]
        measure(
            name,
            ARGS.runs,
            lambda _i, call=call: call(),
            lambda _i, sql=sql: conn.execute(sql, params).fetchall(),
            results,
            cases=1,
        )
    conn.close()
    summary = {k: v for k, v in results.items() if not k.endswith("_p50_ms")}
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
