"""The seeder's entry point (`python -m crm_app.cli seed-demo`): staff, then clients, then
tickets with their threads, with progress reports and one audit entry for the volume."""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime

from crm_app.auth.permissions import SYSTEM
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import Conflict, InvalidInput
from crm_app.services.sla import ensure_default_targets, sla_targets
from crm_app.settings import get_settings
from crm_app.tools.demo_data.clients import _CLIENT_COLUMNS, _client_rows
from crm_app.tools.demo_data.common import (
    CLIENT_HISTORY_DAYS,
    DEMO_PASSWORD,
    HISTORY_DAYS,
    ProgressCallback,
    SeedProgress,
    SeedResult,
    _Timestamps,
)
from crm_app.tools.demo_data.staff import _ensure_staff, has_demo_data
from crm_app.tools.demo_data.tickets import _TicketContext, _TicketWriter
from crm_app.tools.demo_data.writer import _ChunkStore, _connect, _copy_lines, _reserve_ids
from models.base import utcnow

log = logging.getLogger(__name__)


TICKETS_PER_CHUNK = 20_000
CLIENTS_PER_CHUNK = 50_000
COPY_CONNECTIONS = 2  # PostgreSQL ingests on this many backends while Python generates


def seed_demo(
    tickets: int,
    clients: int,
    messages_per_ticket: float = 5,
    agents: int = 20,
    *,
    append: bool = False,
    password: str = DEMO_PASSWORD,
    now: datetime | None = None,
    random_seed: int | None = None,
    progress: ProgressCallback | None = None,
) -> SeedResult:
    """Seed demo staff, `clients` clients and `tickets` tickets with message threads.

    Side effects: inserts users (demo agents, and a demo manager when the instance has none),
    clients, tickets and messages, committing chunk by chunk; records one audit entry for the
    staff and one for the volume. Refuses (Conflict) when demo data exists unless `append`.
    """
    if tickets < 0 or clients < 0 or agents < 1:
        raise InvalidInput("Counts must be positive (at least one agent).")
    if messages_per_ticket < 1.5:
        raise InvalidInput("Use at least 1.5 messages per ticket.")
    if tickets and not clients and not append:
        raise InvalidInput("Tickets need clients: pass a client count.")
    if has_demo_data() and not append:
        raise Conflict("This database already has demo data; use append to add more.")
    started = time.monotonic()
    now = now or utcnow()
    if now.tzinfo is None:
        raise InvalidInput("now must be timezone-aware")
    rng = random.Random(random_seed)
    ensure_default_targets()
    targets = sla_targets()
    agent_ids, agents_created, manager_created = _ensure_staff(agents, password, rng)

    now_seconds = now.timestamp()
    first_moment = int(now_seconds) - (HISTORY_DAYS + CLIENT_HISTORY_DAYS + 1) * 86400
    ts = _Timestamps(first_moment, int(now_seconds) + 400 * 86400)
    messages = 0

    def report(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(SeedProgress(stage, done, total, messages, time.monotonic() - started))

    with _connect() as conn:
        client_ids: list[int] = []
        for offset in range(0, clients, CLIENTS_PER_CHUNK):
            ids = _reserve_ids(conn, "client", min(CLIENTS_PER_CHUNK, clients - offset))
            _copy_lines(
                conn,
                f"COPY client ({_CLIENT_COLUMNS}) FROM STDIN",
                _client_rows(ids, agent_ids, int(now_seconds), rng, ts),
            )
            conn.commit()
            client_ids.extend(ids)
            report("clients", len(client_ids), clients)
        if not client_ids and tickets:
            client_ids = [row[0] for row in conn.execute("SELECT id FROM client ORDER BY id")]
            if not client_ids:
                raise InvalidInput("There are no clients to attach tickets to.")
        client_info = (
            {
                row[0]: (row[1], row[2])
                for row in conn.execute(
                    "SELECT id, split_part(name, ' ', 1), currency FROM client WHERE id = ANY(%s)",
                    (client_ids,),
                )
            }
            if tickets
            else {}
        )
        agent_names: dict[int, str] = dict(
            conn.execute(
                "SELECT id, name FROM user_account WHERE id = ANY(%s)", (agent_ids,)
            ).fetchall()
        )
        ctx = _TicketContext(
            agent_ids=agent_ids,
            client_ids=client_ids,
            clients=client_info,
            agent_names=agent_names,
            targets=targets,
            now=now_seconds,
            share=get_settings().sla_near_breach_share,
            messages_per_ticket=messages_per_ticket,
            ts=ts,
        )
        writer = _TicketWriter(ctx, rng)
        span = HISTORY_DAYS * 86400
        start_moment = int(now_seconds) - span
        # Python builds the next chunk while PostgreSQL ingests earlier ones on other connections.
        with _ChunkStore(COPY_CONNECTIONS) as store:
            for offset in range(0, tickets, TICKETS_PER_CHUNK):
                count = min(TICKETS_PER_CHUNK, tickets - offset)
                ids = _reserve_ids(conn, "ticket", count)
                numbers = _reserve_ids(conn, "ticket", count, "number")
                # Spread evenly and in order, so ticket numbers rise with creation time.
                created = [
                    start_moment + int((offset + i + rng.random()) * span / tickets)
                    for i in range(count)
                ]
                store.submit(*writer.chunk(ids, numbers, created), done=offset + count)
                for done in store.finished():
                    messages = writer.messages_upto(done)
                    report("tickets", done, tickets)
            for done in store.drain():
                messages = writer.messages_upto(done)
                report("tickets", done, tickets)
        conn.execute("ANALYZE client")
        conn.execute("ANALYZE ticket")
        conn.execute("ANALYZE ticket_message")
        conn.commit()

    seconds = time.monotonic() - started
    with session_scope() as session:
        audit.record(
            session,
            SYSTEM,
            "demo.seeded",
            "ticket",
            None,
            {
                "clients": clients,
                "tickets": tickets,
                "messages": messages,
                "seconds": round(seconds, 1),
            },
        )
    log.info(
        "demo data seeded",
        extra={
            "clients": clients,
            "tickets": tickets,
            "messages": messages,
            "seconds": round(seconds, 1),
        },
    )
    return SeedResult(
        agents_created=agents_created,
        manager_created=manager_created,
        clients=clients,
        tickets=tickets,
        messages=messages,
        seconds=seconds,
    )
