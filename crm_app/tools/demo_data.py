"""Opt-in demo data at any volume: agents, clients with finance fields, tickets, message threads.

Rows stream into PostgreSQL with COPY in chunks (one transaction per chunk), generated in Python
from small vocabularies, so a million tickets take minutes, not hours. Every address is under a
reserved example domain: mail to demo clients can never reach a real person.

Demo staff sign in with `DEMO_PASSWORD` (printed by `python -m crm_app.cli seed-demo`):
`agent001@demo.example.com` … and, on an instance with no manager yet, `manager@demo.example.com`.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import func, select
from sqlmodel import col

from crm_app.auth.passwords import hash_password
from crm_app.auth.permissions import SYSTEM
from crm_app.db import database_url, libpq_url, session_scope
from crm_app.services import audit
from crm_app.services.errors import Conflict, InvalidInput
from crm_app.services.sla import ensure_default_targets, sla_targets
from crm_app.settings import get_settings
from crm_app.tools.demo_vocabulary import (
    CHANNELS,
    CLIENT_EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    PRIORITIES,
    REGIONS,
    RISK_CATEGORIES,
    STATUS_BY_AGE,
    SUBJECTS,
    TOPICS,
)
from models.base import utcnow
from models.user import Role, User

log = logging.getLogger(__name__)

DEMO_DOMAIN = "demo.example.com"  # marks demo staff: its presence means "already seeded"
DEMO_PASSWORD = "demo-password-change-me"
DEMO_MANAGER_EMAIL = f"manager@{DEMO_DOMAIN}"
HISTORY_DAYS = 730  # tickets spread over the last two years
CLIENT_HISTORY_DAYS = 3 * 365
TICKETS_PER_CHUNK = 20_000
CLIENTS_PER_CHUNK = 50_000
COPY_CONNECTIONS = 2  # PostgreSQL ingests on this many backends while Python generates
NULL = "\\N"

ProgressCallback = Callable[["SeedProgress"], None]


@dataclass(frozen=True)
class SeedProgress:
    stage: str  # "clients" or "tickets"
    done: int
    total: int
    messages: int
    seconds: float


@dataclass(frozen=True)
class SeedResult:
    agents_created: int
    manager_created: bool
    clients: int
    tickets: int
    messages: int
    seconds: float


# --- small helpers ----------------------------------------------------------------------------


def _copy_text(value: str) -> str:
    """Escape a value for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _weighted(choices: Sequence[tuple[str, float]]) -> tuple[list[str], list[float]]:
    values = [value for value, _ in choices]
    cumulative, total = [], 0.0
    for _, weight in choices:
        total += weight
        cumulative.append(total)
    return values, [c / total for c in cumulative]


class _Timestamps:
    """Formats epoch seconds as UTC `timestamptz` text quickly (the hot loop's biggest cost)."""

    def __init__(self, first: int, last: int) -> None:
        self.base = first - first % 86400
        days = (last - self.base) // 86400 + 2
        start = datetime.fromtimestamp(self.base, UTC)
        self.days = [(start + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days)]

    def __call__(self, moment: int) -> str:
        day, seconds = divmod(moment - self.base, 86400)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return f"{self.days[day]} {hours:02d}:{minutes:02d}:{seconds:02d}+00"


def _reserve_ids(conn: psycopg.Connection, table: str, count: int, column: str = "id") -> list[int]:
    """Take `count` values from a column's sequence (safe beside concurrent inserts)."""
    rows = conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        (table, column, count),
    ).fetchall()
    conn.commit()
    return [row[0] for row in rows]


def _connect() -> psycopg.Connection:
    conn = psycopg.connect(libpq_url(database_url()), application_name="crm-seed-demo")
    # Demo rows can be re-seeded: trading crash durability for speed is fine here.
    conn.execute("SET synchronous_commit = off")
    conn.commit()
    return conn


# --- staff ----------------------------------------------------------------------------------


def has_demo_data() -> bool:
    with session_scope() as session:
        return (
            session.execute(
                select(func.count())
                .select_from(User)
                .where(col(User.email).like(f"%@{DEMO_DOMAIN}"))
            ).scalar_one()
            > 0
        )


def _ensure_staff(agents: int, password: str, rng: random.Random) -> tuple[list[int], int, bool]:
    """Demo agents agent001… up to `agents` (reusing existing ones), and a manager if none."""
    password_hash = hash_password(password)  # hashed once: argon2 is slow on purpose
    with session_scope() as session:
        existing = dict(
            session.execute(
                select(col(User.email), col(User.id)).where(
                    col(User.email).like(f"agent%@{DEMO_DOMAIN}")
                )
            ).all()
        )
        created: list[User] = []
        for n in range(1, agents + 1):
            email = f"agent{n:03d}@{DEMO_DOMAIN}"
            if email not in existing:
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                created.append(
                    User(email=email, name=name, password_hash=password_hash, role=Role.AGENT.value)
                )
        has_manager = (
            session.execute(
                select(func.count()).select_from(User).where(col(User.role) == Role.MANAGER.value)
            ).scalar_one()
            > 0
        )
        manager_created = False
        if not has_manager and DEMO_MANAGER_EMAIL not in existing:
            # Seeding an empty instance would otherwise lock out the first-manager setup page.
            created.append(
                User(
                    email=DEMO_MANAGER_EMAIL,
                    name="Demo Manager",
                    password_hash=password_hash,
                    role=Role.MANAGER.value,
                )
            )
            manager_created = True
        session.add_all(created)
        session.flush()
        agent_ids = sorted(
            [uid for email, uid in existing.items()]
            + [u.id for u in created if u.role == Role.AGENT.value and u.id is not None]
        )
        audit.record(
            session,
            SYSTEM,
            "demo.staff_seeded",
            "user",
            None,
            {"created": [u.email for u in created]},
        )
    agents_created = sum(1 for u in created if u.role == Role.AGENT.value)
    return agent_ids, agents_created, manager_created


# --- clients --------------------------------------------------------------------------------


def _client_rows(
    ids: Sequence[int], agent_ids: Sequence[int], now: int, rng: random.Random, ts: _Timestamps
) -> Iterator[str]:
    regions = [r[:3] for r in REGIONS]
    region_weights = _weighted([(str(i), r[3]) for i, r in enumerate(REGIONS)])[1]
    risks, risk_weights = _weighted(RISK_CATEGORIES)
    random_, choice, choices = rng.random, rng.choice, rng.choices
    lognorm, randint = rng.lognormvariate, rng.randint
    mu = math.log(1_500_000)
    for client_id in ids:
        first, last = choice(FIRST_NAMES), choice(LAST_NAMES)
        region, currency, phone_format = choices(regions, cum_weights=region_weights)[0]
        phone = phone_format.format(
            a=randint(201, 989), b=randint(0, 99), c=randint(0, 999), d=randint(0, 9_999_999)
        )
        cents = max(2_500_000, int(lognorm(mu, 1.1) * 100))
        # Clients predate the ticket history, so no ticket is older than its client.
        created = now - int((HISTORY_DAYS + random_() * CLIENT_HISTORY_DAYS) * 86400)
        email = f"{first.lower()}.{last.lower()}.{client_id}@{choice(CLIENT_EMAIL_DOMAINS)}"
        yield (
            f"{client_id}\t{first} {last}\t{email}\t{phone}\t{region}\t"
            f"{choices(risks, cum_weights=risk_weights)[0]}\t{cents // 100}.{cents % 100:02d}\t"
            f"{currency}\t{choice(agent_ids)}\t{NULL}\t{ts(created)}\t{ts(created)}\n"
        )


_CLIENT_COLUMNS = (
    "id, name, email, phone, region, risk_category, net_worth, currency, "
    "owner_agent_id, portal_user_id, created_at, updated_at"
)


def _copy_lines(
    conn: psycopg.Connection, statement: str, lines: Iterator[str], flush_every: int = 5000
) -> int:
    count = 0
    buffer: list[str] = []
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for line in lines:
            buffer.append(line)
            if len(buffer) >= flush_every:
                copy.write("".join(buffer))
                count += len(buffer)
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
            count += len(buffer)
    return count


class _ChunkStore:
    """COPYs chunks of tickets and messages on a few connections, each chunk one transaction."""

    def __init__(self, connections: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="seed-copy")
        self.limit = connections
        self.local = threading.local()
        self.connections: list[psycopg.Connection] = []
        self.lock = threading.Lock()
        self.pending: deque[tuple[Future[None], int]] = deque()

    def __enter__(self) -> _ChunkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for conn in self.connections:
            conn.close()

    def _store(self, ticket_lines: list[str], message_lines: list[str]) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = _connect()
            with self.lock:
                self.connections.append(conn)
        _copy_lines(conn, f"COPY ticket ({_TICKET_COLUMNS}) FROM STDIN", iter(ticket_lines))
        _copy_lines(
            conn, f"COPY ticket_message ({_MESSAGE_COLUMNS}) FROM STDIN", iter(message_lines)
        )
        conn.commit()

    def submit(self, ticket_lines: list[str], message_lines: list[str], *, done: int) -> None:
        # At most `limit` chunks wait in memory: wait for the oldest before queueing more.
        if len(self.pending) >= self.limit:
            self.pending[0][0].result()
        self.pending.append((self.pool.submit(self._store, ticket_lines, message_lines), done))

    def finished(self) -> Iterator[int]:
        """Ticket counts of the chunks committed so far (in order), raising any COPY error."""
        while self.pending and self.pending[0][0].done():
            future, done = self.pending.popleft()
            future.result()
            yield done

    def drain(self) -> Iterator[int]:
        while self.pending:
            future, done = self.pending.popleft()
            future.result()
            yield done


# --- tickets and messages -------------------------------------------------------------------


@dataclass
class _TicketContext:
    """Everything the ticket generator needs, bound once."""

    agent_ids: Sequence[int]
    client_ids: Sequence[int]
    clients: dict[int, tuple[str, str]]  # id -> (first name, currency)
    agent_names: dict[int, str]
    targets: dict[str, tuple[int, int]]
    now: float
    share: float
    messages_per_ticket: float
    ts: _Timestamps


class _TicketWriter:
    """Generates one chunk of tickets and their threads as COPY text lines."""

    def __init__(self, ctx: _TicketContext, rng: random.Random) -> None:
        self.ctx, self.rng = ctx, rng
        self.priorities = _weighted(PRIORITIES)
        self.channels = _weighted(CHANNELS)
        self.statuses = [(limit * 86400, _weighted(weights)) for limit, weights in STATUS_BY_AGE]
        esc = _copy_text
        self.topics = [
            (
                tuple(esc(s) for s in t.client_openings),
                tuple(esc(s) for s in t.agent_replies),
                tuple(esc(s) for s in t.client_followups),
                tuple(esc(s) for s in t.internal_notes),
            )
            for t in TOPICS
        ]
        self.messages = 0
        self.done = 0
        self._messages_at: dict[int, int] = {}

    def chunk(
        self, ticket_ids: Sequence[int], numbers: Sequence[int], created_times: Sequence[int]
    ) -> tuple[list[str], list[str]]:
        ctx, rng = self.ctx, self.rng
        random_, choice, choices = rng.random, rng.choice, rng.choices
        lognorm = rng.lognormvariate
        ts, now, share = ctx.ts, ctx.now, ctx.share
        now_int = int(now)
        priorities, priority_cum = self.priorities
        channels, channel_cum = self.channels
        targets = ctx.targets
        tickets: list[str] = []
        messages: list[str] = []
        open_statuses = ("new", "open", "pending")
        for ticket_id, number, created in zip(ticket_ids, numbers, created_times, strict=True):
            priority = choices(priorities, cum_weights=priority_cum)[0]
            channel = choices(channels, cum_weights=channel_cum)[0]
            age = now - created
            for limit, (statuses, status_cum) in self.statuses:
                if age < limit:
                    status = choices(statuses, cum_weights=status_cum)[0]
                    break
            subject, topic_index = choice(SUBJECTS)
            openings, replies, followups, notes = self.topics[topic_index]
            client_id = choice(ctx.client_ids)
            client, currency = ctx.clients[client_id]
            staff_opened = channel in ("phone", "agent")
            assigned = status != "new" or staff_opened or random_() < 0.4
            assignee = choice(ctx.agent_ids) if assigned else None
            agent = ctx.agent_names[assignee] if assignee else "Client Services"
            first_minutes, resolution_minutes = targets[priority]
            first_due = created + first_minutes * 60
            resolution_due = created + resolution_minutes * 60

            responded = resolved = closed = None
            if status != "new":
                responded = created + max(60, int(first_minutes * 60 * lognorm(-1.0, 0.8)))
                if responded >= now_int:
                    responded, status = None, "new"
            if status in ("resolved", "closed"):
                assert responded is not None
                resolved = responded + max(300, int(resolution_minutes * 60 * lognorm(-0.9, 0.9)))
                if resolved >= now_int:
                    resolved, status = None, "open"
                elif status == "closed":
                    closed = resolved + int(86400 * (1 + 4 * random_()))
                    if closed >= now_int:
                        closed, status = None, "resolved"

            # SLA state: the same rule as crm_app.services.sla (a scan right after changes nothing)
            if status in open_statuses:
                if (responded or now) > first_due or now > resolution_due:
                    sla = "breached"
                elif (responded is None and now >= created + (first_due - created) * share) or (
                    now >= created + (resolution_due - created) * share
                ):
                    sla = "near_breach"
                else:
                    sla = "on_track"
            else:
                finished = resolved or closed
                assert finished is not None  # a resolved or closed ticket was resolved
                sla = (
                    "breached"
                    if (responded or finished) > first_due or (finished > resolution_due)
                    else "met"
                )

            # The thread: the client writes, an agent answers at `responded`, then they alternate
            # until resolution (or now), with an occasional internal note.
            amount = f"{rng.randint(5, 500) * 1000:,} {currency}"
            fill = {"client": client, "agent": agent, "amount": amount, "ref": f"{ticket_id:08d}"}
            thread: list[tuple[int, str, str, bool]] = [  # (time, sender, body, internal)
                (
                    created,
                    "agent" if staff_opened else "client",
                    choice(openings).format_map(fill),
                    False,
                )
            ]
            if responded is None:
                if random_() < 0.3:
                    thread.append(
                        (
                            created + int((now_int - created) * random_() * 0.9),
                            "client",
                            "Any update on this, please?",
                            False,
                        )
                    )
            else:
                thread.append((responded, "agent", choice(replies).format_map(fill), False))
                target_count = 2 + int(random_() * (2 * ctx.messages_per_ticket - 3))
                end = resolved if resolved else now_int - 1
                span = max(end - responded - 1, 1)
                times = sorted(
                    responded + 1 + int(random_() * span) for _ in range(target_count - 2)
                )
                sender = "client"
                for moment in times:
                    if random_() < 0.12:
                        thread.append((moment, "agent", choice(notes), True))
                        continue
                    body = (
                        choice(followups)
                        if sender == "client"
                        else choice(replies).format_map(fill)
                    )
                    thread.append((moment, sender, body, False))
                    sender = "agent" if sender == "client" else "client"

            last_time, last_sender = thread[-1][0], thread[-1][1]
            updated = max(last_time, closed or resolved or 0)
            unread = "t" if status in open_statuses and last_sender == "client" else "f"
            tickets.append(
                f"{ticket_id}\t{number}\t{subject}\t{status}\t{priority}\t{channel}\t{client_id}\t"
                f"{assignee if assignee else NULL}\t{ts(first_due)}\t{ts(resolution_due)}\t"
                f"{ts(responded) if responded else NULL}\t{sla}\t{unread}\t{ts(created)}\t"
                f"{ts(updated)}\t{ts(resolved) if resolved else NULL}\t"
                f"{ts(closed) if closed else NULL}\n"
            )
            email = channel == "email"
            previous_id = NULL
            for seq, (moment, sender, body, internal) in enumerate(thread):
                author = assignee if sender == "agent" and assignee else NULL
                message_id = (
                    f"<{ticket_id}.{seq}@mail.{DEMO_DOMAIN}>" if email and not internal else NULL
                )
                messages.append(
                    f"{ticket_id}\t{sender}\t{author}\t{body}\t{NULL}\t"
                    f"{'t' if internal else 'f'}\t{'agent' if internal else channel}\t"
                    f"{message_id}\t{previous_id if message_id != NULL else NULL}\t{ts(moment)}\n"
                )
                if message_id != NULL:
                    previous_id = message_id
        self.messages += len(messages)
        self._messages_at[self.done + len(tickets)] = self.messages
        self.done += len(tickets)
        return tickets, messages

    def messages_upto(self, done: int) -> int:
        """Messages generated with the first `done` tickets (for progress lines)."""
        return self._messages_at.pop(done, self.messages)


_TICKET_COLUMNS = (
    "id, number, subject, status, priority, channel, client_id, assignee_id, "
    "first_response_due_at, resolution_due_at, first_responded_at, sla_state, is_unread, "
    "created_at, updated_at, resolved_at, closed_at"
)
_MESSAGE_COLUMNS = (
    "ticket_id, sender_kind, author_id, body_text, body_html, is_internal, "
    "channel, external_message_id, in_reply_to, created_at"
)


# --- entry point ----------------------------------------------------------------------------


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


__all__ = [
    "DEMO_DOMAIN",
    "DEMO_PASSWORD",
    "SeedProgress",
    "SeedResult",
    "has_demo_data",
    "seed_demo",
]
