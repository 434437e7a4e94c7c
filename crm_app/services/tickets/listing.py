"""Reading the queue: the agent queue (filters, built-in views, keyset pages compiled once)
and a client's own tickets for the portal. Reads only: nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from psycopg.rows import dict_row
from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import get_engine, session_scope
from crm_app.services.errors import InvalidInput
from crm_app.services.tickets.rows import TicketRow, choice, fmt, iso, ticket_row
from crm_app.services.tickets.tags import clean_tag
from models.ai import MessageSentiment, SentimentLabel
from models.client import Client
from models.ticket import (
    OPEN_STATUSES,
    Channel,
    SenderKind,
    SlaState,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from models.user import User


def portal_tickets(actor: Actor) -> list[TicketRow]:
    """A client's own tickets, newest first."""
    require(actor, Action.USE_PORTAL)
    with session_scope() as session:
        rows = session.execute(
            select(Ticket, col(Client.name).label("client_name"))
            .join(Client, col(Client.id) == col(Ticket.client_id))
            .where(col(Client.portal_user_id) == actor.user_id)
            .order_by(col(Ticket.created_at).desc())
            .limit(200)
        ).all()
        return [ticket_row(row.Ticket, row.client_name, None) for row in rows]


# --- the agent queue: filters, views, keyset pages ------------------------------------------

QUEUE_COUNT_CAP = 10_000
_T = Ticket.__table__  # type: ignore[attr-defined]  # set by SQLModel's metaclass


@dataclass(frozen=True)
class QueueFilters:
    """A combination of queue filters; empty strings mean "any"."""

    status: str = "open"  # "open" (new, open, pending), one status, or "all"
    priority: str = ""
    channel: str = ""
    assignee: str = "anyone"  # "anyone", "mine", "unassigned" or a user id
    client: str = ""  # a client id or email
    sla_state: str = ""
    created_from: str = ""  # YYYY-MM-DD, inclusive
    created_to: str = ""  # YYYY-MM-DD, inclusive
    sentiment: str = ""  # of the latest client message: negative, neutral or positive
    tag: str = ""  # tickets carrying this tag

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> QueueFilters:
        known = cls.__dataclass_fields__
        return cls(**{k: str(v) for k, v in (raw or {}).items() if k in known and v is not None})


BUILTIN_VIEWS: dict[str, tuple[str, QueueFilters]] = {
    "my_open": ("My open", QueueFilters(status="open", assignee="mine")),
    "unassigned": ("Unassigned", QueueFilters(status="open", assignee="unassigned")),
    "near_breach": ("Near SLA breach", QueueFilters(status="open", sla_state="near_breach")),
    "all_open": ("All open", QueueFilters(status="open")),
}


@dataclass(frozen=True)
class QueuePage:
    items: list[TicketRow]
    total: int  # exact up to QUEUE_COUNT_CAP
    total_capped: bool
    next_cursor: str  # "" on the last page
    page_size: int


def _parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{what} must be a date like 2026-01-31.") from None


def queue_conditions(actor: Actor, filters: QueueFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.status == "open":
        conditions.append(_T.c.status.in_([s.value for s in OPEN_STATUSES]))
    elif filters.status in {s.value for s in TicketStatus}:
        conditions.append(_T.c.status == filters.status)
    elif filters.status not in ("all", ""):
        raise InvalidInput("Unknown status filter.")
    if filters.priority:
        conditions.append(_T.c.priority == choice(filters.priority, TicketPriority, "Priority"))
    if filters.channel:
        conditions.append(_T.c.channel == choice(filters.channel, Channel, "Channel"))
    if filters.tag.strip():
        conditions.append(_T.c.tags.contains([clean_tag(filters.tag)]))
    if filters.sla_state:
        state = choice(filters.sla_state, SlaState, "SLA state")
        conditions.append(_T.c.sla_state == state)
        # The queue bucket encodes SLA urgency: saying which buckets can hold this state lets
        # the ordered walk skip the others (met tickets sit behind every breached one).
        urgency = _BUCKET_URGENCY.get(state, 2)
        conditions.append(_T.c.queue_bucket.in_([urgency, 3 + urgency]))
    assignee = filters.assignee or "anyone"
    if assignee == "mine":
        conditions.append(_T.c.assignee_id == actor.user_id)
    elif assignee == "unassigned":
        conditions.append(_T.c.assignee_id.is_(None))
    elif assignee.isdigit():
        conditions.append(_T.c.assignee_id == int(assignee))
    elif assignee != "anyone":
        raise InvalidInput("Assignee must be anyone, mine, unassigned or a user id.")
    client = filters.client.strip()
    if client:
        if client.isdigit() and len(client) < 10:
            conditions.append(_T.c.client_id == int(client))
        elif "@" in client:
            conditions.append(
                _T.c.client_id.in_(
                    select(col(Client.id)).where(col(Client.email) == client.lower())
                )
            )
        else:
            raise InvalidInput("Filter clients by their id or email address.")
    if filters.sentiment:
        conditions.append(
            _T.c.id.in_(
                _latest_client_sentiment(choice(filters.sentiment, SentimentLabel, "Sentiment"))
            )
        )
    if filters.created_from:
        start = datetime.combine(_parse_day(filters.created_from, "From"), time.min, UTC)
        conditions.append(_T.c.created_at >= start)
    if filters.created_to:
        end = datetime.combine(_parse_day(filters.created_to, "To"), time.min, UTC)
        conditions.append(_T.c.created_at < end + timedelta(days=1))
    return conditions


def _latest_client_sentiment(label: str) -> sa.Select:
    """Ids of tickets whose latest client message was scored `label` (a set as large as the
    scored messages with that label, never a walk over every ticket)."""
    latest = (
        select(func.max(col(TicketMessage.id)))
        .where(
            col(TicketMessage.ticket_id) == col(MessageSentiment.ticket_id),
            col(TicketMessage.sender_kind) == SenderKind.CLIENT,
        )
        .scalar_subquery()
    )
    return select(col(MessageSentiment.ticket_id)).where(
        col(MessageSentiment.label) == label, col(MessageSentiment.message_id) == latest
    )


# SLA state -> its part of queue_bucket (see QUEUE_BUCKET_SQL in models/ticket.py).
_BUCKET_URGENCY = {SlaState.BREACHED.value: 0, SlaState.NEAR_BREACH.value: 1}


def _decode_cursor(cursor: str) -> tuple[int, str, int]:
    try:
        bucket, due, ticket_id = cursor.split("|")
        return int(bucket), due, int(ticket_id)
    except ValueError:
        raise InvalidInput(
            "That page link is no longer valid: start from the first page."
        ) from None


QUEUE_COLUMNS = (
    _T.c.id,
    _T.c.number,
    _T.c.subject,
    _T.c.status,
    _T.c.priority,
    _T.c.channel,
    _T.c.sla_state,
    _T.c.is_unread,
    _T.c.created_at,
    _T.c.updated_at,
    _T.c.version,
    _T.c.tags,
    _T.c.queue_bucket,
    sa.cast(_T.c.queue_due_at, sa.Text).label("due_key"),
)


def queue_count_query(actor: Actor, filters: QueueFilters) -> sa.Select:
    """How many tickets match, counted up to QUEUE_COUNT_CAP + 1."""
    return select(func.count().label("matching")).select_from(
        select(sa.literal(1))
        .select_from(_T)
        .where(*queue_conditions(actor, filters))
        .limit(QUEUE_COUNT_CAP + 1)
        .subquery()
    )


def queue_page_query(
    actor: Actor,
    filters: QueueFilters,
    *,
    after: str = "",
    page_size: int = 25,
    total: int | None = None,
) -> sa.Select:
    """One page in queue order after the keyset cursor `after`.

    With `total` known and within QUEUE_COUNT_CAP, the page is the top of the matching rows
    sorted (at most the cap of them, found through whichever index suits the filters);
    otherwise the queue index is walked in order. Walking is what a first page of a big queue
    wants, but when the matches sit late in the order (a date range of old, settled tickets)
    it reads most of the table before it finds them.
    """
    conditions = queue_conditions(actor, filters)
    if after:
        bucket, due, ticket_id = _decode_cursor(after)
        conditions.append(
            tuple_(_T.c.queue_bucket, _T.c.queue_due_at, _T.c.id)
            > tuple_(
                sa.literal(bucket),
                sa.cast(sa.literal(due), sa.DateTime(timezone=True)),
                sa.literal(ticket_id),
            )
        )
    page = (
        select(
            *QUEUE_COLUMNS,
            col(Client.name).label("client_name"),
            col(User.name).label("assignee_name"),
        )
        .select_from(_T)
        .outerjoin(Client, col(Client.id) == _T.c.client_id)
        .outerjoin(User, col(User.id) == _T.c.assignee_id)
        .order_by(_T.c.queue_bucket, _T.c.queue_due_at, _T.c.id)
        .limit(page_size + 1)
    )
    if total is None or total > QUEUE_COUNT_CAP:
        return page.where(*conditions)
    # Materialized: PostgreSQL must collect the matches' sort keys first (ix_ticket_filters
    # holds them) and cannot fall back to the ordered walk; the top of at most the cap of
    # them is sorted, and only that page's rows are read in full.
    matches = (
        select(_T.c.id, _T.c.queue_bucket, _T.c.queue_due_at)
        .where(*conditions)
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    top = (
        select(matches.c.id)
        .order_by(matches.c.queue_bucket, matches.c.queue_due_at, matches.c.id)
        .limit(page_size + 1)
        .scalar_subquery()
    )
    return page.where(_T.c.id == sa.func.any(sa.func.array(top)))


_PG_DIALECT = postgresql_psycopg.dialect()


class _Compiled(NamedTuple):
    sql: str
    params: dict[str, Any]


@lru_cache(maxsize=1024)
def _compiled(statement_key: tuple) -> _Compiled:
    """SQL text and parameters of one queue statement, compiled once per exact input.

    The key holds everything the statement is built from (the actor's id, the filters, the
    cursor, the page size, the count's shape); the built-in views are the same few keys for
    every page load, so they are never rebuilt nor recompiled."""
    kind, user_id, role, filters, after, page_size, total = statement_key
    actor = Actor(user_id=user_id, role=role, name="", email="")
    statement = (
        queue_count_query(actor, filters)
        if kind == "count"
        else queue_page_query(actor, filters, after=after, page_size=page_size, total=total)
    )
    compiled = statement.compile(dialect=_PG_DIALECT, compile_kwargs={"render_postcompile": True})
    return _Compiled(str(compiled), dict(compiled.params))


def _page_shape(total: int | None) -> int | None:
    """What of the count the page query depends on: within the cap (a sort of the matches)
    or not (the ordered walk) — so pages of any size of queue share their compiled SQL."""
    return None if total is None or total > QUEUE_COUNT_CAP else 0


def queue(
    actor: Actor,
    filters: QueueFilters | None = None,
    *,
    after: str = "",
    page_size: int = 25,
    with_count: bool = True,
) -> QueuePage:
    """One page of the agent queue in the default order (unread/new, SLA urgency, due soonest,
    oldest), read with a keyset cursor so deep pages cost the same as the first."""
    require(actor, Action.VIEW_TICKETS)
    filters = filters or QueueFilters()
    page_size = min(max(page_size, 1), 100)
    key = (actor.user_id, actor.role, filters, after, page_size)
    count_sql = _compiled(("count", *key, None)) if with_count else None
    with get_engine().connect() as conn:
        # Plain psycopg, unprepared: each statement is planned for its own values (the filters
        # decide the best index), with no ORM rows built for a read-only page.
        raw = conn.connection.driver_connection
        assert raw is not None  # the psycopg connection of a live pool connection
        raw.rollback()  # a no-op unless the pool's liveness check left a transaction open
        # Two reads need no transaction: autocommit spares the BEGIN and ROLLBACK round trips.
        raw.autocommit = True
        try:
            with raw.cursor(row_factory=dict_row) as cur:
                total = None
                if count_sql is not None:
                    total = cur.execute(count_sql.sql, count_sql.params, prepare=False).fetchone()[
                        "matching"
                    ]
                page_sql = _compiled(("page", *key, _page_shape(total)))
                rows = cur.execute(page_sql.sql, page_sql.params, prepare=False).fetchall()
        finally:
            raw.autocommit = False
    total = total or 0
    more = len(rows) > page_size
    rows = rows[:page_size]
    items = [
        TicketRow(
            number=r["number"],
            subject=r["subject"],
            status=r["status"],
            priority=r["priority"],
            channel=r["channel"],
            sla_state=r["sla_state"],
            is_unread=r["is_unread"],
            client_name=r["client_name"] or "",
            assignee_name=r["assignee_name"] or "",
            created_at=fmt(r["created_at"]),
            updated_at=fmt(r["updated_at"]),
            version=r["version"],
            created_iso=iso(r["created_at"]),
            tags=list(r["tags"] or []),
        )
        for r in rows
    ]
    last = rows[-1] if rows else None
    return QueuePage(
        items=items,
        total=min(total, QUEUE_COUNT_CAP),
        total_capped=total > QUEUE_COUNT_CAP,
        next_cursor=(
            f"{last['queue_bucket']}|{last['due_key']}|{last['id']}" if more and last else ""
        ),
        page_size=page_size,
    )
