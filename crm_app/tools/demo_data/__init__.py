"""Opt-in demo data at any volume: agents, clients with finance fields, tickets, message threads.

Rows stream into PostgreSQL with COPY in chunks (one transaction per chunk), generated in Python
from small vocabularies, so a million tickets take minutes, not hours. Every address is under a
reserved example domain: mail to demo clients can never reach a real person.

Demo staff sign in with `DEMO_PASSWORD` (printed by `python -m crm_app.cli seed-demo`):
`agent001@demo.example.com` … and, on an instance with no manager yet, `manager@demo.example.com`.

One import for callers, `from crm_app.tools.demo_data import seed_demo`; by what the code does:
- `seed`: the entry point, `seed_demo` (the chunk sizes and connection count live there)
- `staff`: demo agents and the manager, `has_demo_data`
- `clients`, `tickets`: the generators of clients, and of tickets with their threads
- `writer`: reserved ids, COPY, and the chunk store that writes while Python generates
- `common`: the constants, progress and result rows, and COPY text helpers the modules share
"""

from crm_app.tools.demo_data.common import (
    DEMO_DOMAIN,
    DEMO_MANAGER_EMAIL,
    DEMO_PASSWORD,
    ProgressCallback,
    SeedProgress,
    SeedResult,
)
from crm_app.tools.demo_data.seed import seed_demo
from crm_app.tools.demo_data.staff import has_demo_data

__all__ = [
    "DEMO_DOMAIN",
    "DEMO_MANAGER_EMAIL",
    "DEMO_PASSWORD",
    "ProgressCallback",
    "SeedProgress",
    "SeedResult",
    "has_demo_data",
    "seed_demo",
]
