"""Benchmark of the client database at volume (a script, not a test).

    python bench/clients.py [--clients 200000] [--runs 60] [--import-rows 100000]

Seeds (through `python -m crm_app.cli seed-demo`) a throwaway embedded database under
`bench/.data/clients` (gitignored; `BENCH_DATA_DIR` moves it) or reuses the one seeded before,
gives the demo clients countries, tags, consent and AUM once, then measures through the app's
services and, interleaved, as hand-written SQL over a bare psycopg connection:

- `search`: fuzzy search on name, email and phone (first page and its count),
- `filtered_page`: page 3 of a filtered, sorted list (risk, net worth range, region),
- `segment_count`: the count of a saved segment with five rules, three of them in a nested OR,

and the import of a CSV of `--import-rows` rows (a tenth update existing clients by email),
whose rows are removed again afterwards. Prints p50/p95 per measure and the ratio app/plain SQL
at p95; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR") or ROOT / "bench" / ".data" / "clients")
os.environ["CRM_DATA_DIR"] = str(DATA_DIR)
os.environ.pop("DATABASE_URL", None)  # never a configured server: this database is throwaway
os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")

import psycopg  # noqa: E402

from bench.timing import measure  # noqa: E402

SEARCH_TERMS = [
    "margret",
    "jonson",
    "olivia.m",
    "kowalsky",
    "hiroshi ta",
    "4420794",
    "ingrid",
    "garcia",
    "zainab",
    "dmitri pet",
]
IMPORT_DOMAIN = "import.bench.example"
SEGMENT_NAME = "Bench: five rules with a nested OR"
SEGMENT_RULES = {
    "op": "and",
    "rules": [
        {"field": "risk_category", "operator": "in", "value": ["moderate", "aggressive"]},
        {"field": "net_worth", "operator": "gte", "value": "1000000"},
        {
            "op": "or",
            "rules": [
                {"field": "tags", "operator": "has", "value": "vip"},
                {"field": "country", "operator": "eq", "value": "GB"},
                {"field": "has_open_ticket", "operator": "is_true", "value": ""},
            ],
        },
    ],
}


def seed_if_needed(clients: int) -> None:
    from crm_app.db import upgrade_to_head
    from crm_app.tools.demo_data import has_demo_data

    upgrade_to_head()
    if has_demo_data():
        print(f"reusing the bench database in {DATA_DIR.name}/", file=sys.stderr)
        return
    print(f"seeding {clients:,} clients (a minute or two)…", file=sys.stderr)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "crm_app.cli",
            "seed-demo",
            "--tickets",
            str(clients // 4),
            "--clients",
            str(clients),
            "--messages-per-ticket",
            "2",
        ],
        cwd=ROOT,
        check=True,
        env={**os.environ},
    )


def prepare(conn: psycopg.Connection) -> None:
    """Once: the fields the demo seeder leaves at defaults get realistic spreads; vacuum."""
    marker = DATA_DIR / "bench-clients-prepared"
    if marker.exists():
        return
    print("spreading countries, tags, consent and AUM (once)…", file=sys.stderr)
    conn.execute("""
        UPDATE client SET
          country = (ARRAY['GB','US','CH','DE','FR','SG','AE','HK','JP','CA'])[1 + id % 10],
          tags = CASE WHEN id % 7 = 0 THEN ARRAY['vip']::varchar[]
                      WHEN id % 11 = 0 THEN ARRAY['esg','family office']::varchar[]
                      ELSE '{}' END,
          marketing_consent = id % 3 <> 0,
          aum = round(net_worth * (0.2 + (id % 5) / 10.0), 2),
          kyc_status = (ARRAY['pending','verified','verified','expired'])[1 + id % 4]""")
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE client")
    conn.execute("VACUUM ANALYZE ticket")
    conn.autocommit = False
    marker.write_text("prepared\n")


def hand_search(conn: psycopg.Connection, term: str, trigram: bool) -> None:
    like = f"%{term}%"
    digits = "".join(ch for ch in term if ch.isdigit())
    where = "c.deleted_at IS NULL AND (c.name ILIKE %(like)s OR c.email ILIKE %(like)s"
    if len(digits) >= 3:
        where += " OR c.phone LIKE %(digits)s"
    if trigram:
        where += " OR c.name %%> %(term)s"
    where += ")"
    params = {"like": like, "digits": f"%{digits}%", "term": term}
    with conn.transaction():
        if trigram:
            conn.execute("SET LOCAL pg_trgm.word_similarity_threshold = 0.5")
        conn.execute(f"SELECT count(*) FROM client c WHERE {where}", params).fetchone()
        order = "word_similarity(%(term)s, c.name) DESC, " if trigram else "c.name, "
        conn.execute(
            f"SELECT c.*, u.name FROM client c LEFT JOIN user_account u ON u.id = "
            f"c.owner_agent_id WHERE {where} "
            f"ORDER BY {order}c.id LIMIT 25",
            params,
        ).fetchall()


def hand_filtered(conn: psycopg.Connection) -> None:
    where = (
        "c.deleted_at IS NULL AND c.risk_category = 'aggressive' AND c.net_worth >= 1000000"
        " AND c.net_worth <= 20000000 AND c.region ILIKE '%%Europe%%'"
    )
    with conn.transaction():
        conn.execute(f"SELECT count(*) FROM client c WHERE {where}").fetchone()
        conn.execute(
            "SELECT c.*, u.name FROM client c LEFT JOIN user_account u ON u.id = "
            f"c.owner_agent_id WHERE {where} ORDER BY c.name ASC NULLS LAST, c.id "
            "LIMIT 25 OFFSET 50"
        ).fetchall()


def hand_segment(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("""
            SELECT count(*) FROM client c
            WHERE c.deleted_at IS NULL AND c.risk_category IN ('moderate', 'aggressive')
              AND c.net_worth >= 1000000
              AND (c.tags @> ARRAY['vip']::varchar[] OR lower(c.country) = 'gb'
                   OR EXISTS (SELECT 1 FROM ticket t WHERE t.client_id = c.id
                              AND t.status IN ('new', 'open', 'pending')))""").fetchone()


def write_import_csv(conn: psycopg.Connection, path: Path, rows: int) -> None:
    """`rows` rows: 90% new clients, 10% existing ones by email (updates)."""
    rng = random.Random(5)
    existing = [
        e
        for (e,) in conn.execute(
            "SELECT email FROM client WHERE email IS NOT NULL ORDER BY id LIMIT %s", (rows // 10,)
        )
    ]
    conn.rollback()
    first = ["Ada", "Grace", "Alan", "Hedy", "Katherine", "Mary", "Edsger", "Barbara", "Linus"]
    last = ["Lovelace", "Hopper", "Turing", "Lamarr", "Johnson", "Jackson", "Dijkstra", "Liskov"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Full name", "Email", "Phone", "Country", "Net worth", "Risk", "Tags", "Consent"]
        )
        for i in range(rows):
            update = i % 10 == 0 and existing
            email = existing.pop() if update else f"client{i}@{IMPORT_DOMAIN}"
            writer.writerow(
                [
                    f"{rng.choice(first)} {rng.choice(last)} {i}",
                    email,
                    f"+44 20 7946 {rng.randint(0, 9999):04d}",
                    "GB",
                    f"{rng.randint(100_000, 90_000_000)}.00",
                    rng.choice(["conservative", "moderate", "aggressive"]),
                    rng.choice(["", "vip", "esg, family office"]),
                    rng.choice(["yes", "no"]),
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--import-rows", type=int, default=100_000)
    args = parser.parse_args()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    seed_if_needed(args.clients)

    from sqlalchemy import select

    from crm_app.auth.permissions import Actor
    from crm_app.db import database_url, libpq_url, session_scope
    from crm_app.services import client_import, clients, segments
    from crm_app.services.clients import has_trigram_search
    from models.segment import Segment
    from models.user import User

    conn = psycopg.connect(libpq_url(database_url()))
    prepare(conn)
    with session_scope() as session:
        user = (
            session.execute(select(User).where(User.role == "manager").order_by(User.id))
            .scalars()
            .first()
        )
        actor = Actor(user_id=user.id, role=user.role, name=user.name, email=user.email)
        segment = session.execute(
            select(Segment).where(Segment.name == SEGMENT_NAME)
        ).scalar_one_or_none()
        segment_id = segment.id if segment else None
    if segment_id is None:
        segment_id = segments.save_segment(actor, name=SEGMENT_NAME, rules=SEGMENT_RULES).id
    total = conn.execute("SELECT count(*) FROM client WHERE deleted_at IS NULL").fetchone()[0]
    conn.rollback()
    trigram = has_trigram_search()
    print(f"{total:,} live clients; pg_trgm {'on' if trigram else 'absent'}", file=sys.stderr)

    results: dict[str, float] = {"clients": total, "pg_trgm": int(trigram)}
    terms = SEARCH_TERMS
    measure(
        "search",
        args.runs,
        lambda i: clients.list_clients(actor, search=terms[i % len(terms)]),
        lambda i: hand_search(conn, terms[i % len(terms)], trigram),
        results,
    )
    filters = {
        "risk_category": "aggressive",
        "net_worth__min": "1000000",
        "net_worth__max": "20000000",
        "region": "Europe",
    }
    measure(
        "filtered_page",
        args.runs,
        lambda i: clients.list_clients(actor, filters=filters, sort="name", page=3),
        lambda i: hand_filtered(conn),
        results,
    )
    measure(
        "segment_count",
        args.runs,
        lambda i: segments.count_segment(actor, segment_id),
        lambda i: hand_segment(conn),
        results,
    )

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "import.csv"
        write_import_csv(conn, path, args.import_rows)
        mapping = {
            "Full name": "name",
            "Email": "email",
            "Phone": "phone",
            "Country": "country",
            "Net worth": "net_worth",
            "Risk": "risk_category",
            "Tags": "tags",
            "Consent": "marketing_consent",
        }
        result = client_import.import_clients(actor, path, mapping, source="bench")
    print(
        f"import: {result.rows:,} rows ({result.inserted:,} new, {result.updated:,} updated, "
        f"{result.rejected_count} rejected) in {result.seconds:.1f} s",
        file=sys.stderr,
    )
    results.update(
        {
            "import_rows": result.rows,
            "import_seconds": round(result.seconds, 2),
            "import_rows_per_s": round(result.rows_per_second),
        }
    )
    # Leave the bench database as it was for the next run.
    conn.execute("DELETE FROM audit_log WHERE action IN ('client.imported', 'clients.imported')")
    conn.execute("DELETE FROM client WHERE email LIKE %s", (f"%@{IMPORT_DOMAIN}",))
    conn.commit()
    conn.close()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
