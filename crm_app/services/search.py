"""Ticket search for staff: exact ticket number, client email, or ranked full text.

Full text runs over stored `tsvector` columns (ticket subject, every message body) with GIN
indexes and prefix matching ("withdr" finds "withdrawal"). Ranking every match of a common word
(hundreds of thousands of messages) is what makes plain PostgreSQL slow, so the ranking is bounded:
each source gives at most CANDIDATES newest matches — found through the GIN index when the words
are rare, and by walking the newest rows when PostgreSQL's statistics say they are common (then a
few hundred rows hold enough matches) — and only those are ranked. Only the returned page gets
`ts_headline`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
_START, _STOP = "\x02", "\x03"
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchHit:
    number: int
    subject_html: str  # escaped, matching words in <mark>
    snippet_html: str
    status: str
    priority: str
    client_name: str
    assignee_name: str
    created_at: str


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    kind: str  # "number", "email", "text" or "" (nothing to search)


def tsquery_for(raw: str) -> str:
    """`'word' & 'other':*` from what a user typed: words only, so nothing can inject.

    As in search-as-you-type, the last word may be unfinished and matches as a prefix; the
    words before it are complete. (A prefix of a common word reads every key it starts, which
    GIN can only hold as a lossy bitmap on millions of messages.)"""
    words = _WORD.findall(raw.lower())[:MAX_TERMS]
    return " & ".join(f"'{word}'" for word in words[:-1]) + (" & " if len(words) > 1 else "") \
        + (f"'{words[-1]}':*" if words else "")


# Candidates per source (message bodies, subjects), newest first, ranked afterwards.
CANDIDATES = 200
# Above this estimated share of matching rows, walking the newest rows finds the candidates
# sooner than a GIN bitmap over every match (which for a common word means ~1M row ids).
DENSE_SHARE = 0.01

ESTIMATE_SQL = "EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE search_vector @@ " \
    "to_tsquery('english', :q)"
# Candidates are tickets: the newest MESSAGES_PER_CANDIDATE * n matching messages, grouped per
# ticket (a long thread must not fill every slot), each ticket with its best message. The last
# column is how many matches were read, so a caller knows whether the source ran dry.
MESSAGES_PER_CANDIDATE = 4
CANDIDATES_SQL = {
    "ticket_message": f"""
        WITH newest AS MATERIALIZED (
            SELECT m.ticket_id, m.id, ts_rank(m.search_vector, q) AS rank
            FROM ticket_message m, to_tsquery('english', :q) q
            WHERE m.search_vector @@ q AND m.id > :floor
            ORDER BY m.id DESC LIMIT :n * {MESSAGES_PER_CANDIDATE})
        SELECT ticket_id, (array_agg(id ORDER BY rank DESC, id DESC))[1] AS message_id,
               max(rank) AS rank, (SELECT count(*) FROM newest) AS matched
        FROM newest GROUP BY ticket_id ORDER BY max(id) DESC LIMIT :n""",
    "ticket": """
        SELECT t.id AS ticket_id, NULL::int AS message_id, 2 * ts_rank(t.search_vector, q) AS rank,
               :n AS matched
        FROM ticket t, to_tsquery('english', :q) q
        WHERE t.search_vector @@ q AND t.id > :floor ORDER BY t.id DESC LIMIT :n""",
}


# A walk over the newest rows that found this many tickets has a page to rank: the GIN lookup
# (slow for words that are each common but rarely together) is skipped.
ENOUGH_AFTER_WALK = 50


def ran_dry(rows: list, table: str, *, walked: bool = False) -> bool:
    """Whether the candidates found so far are too few, so the GIN index must be asked."""
    if walked and len(rows) >= ENOUGH_AFTER_WALK:
        return False
    if table != "ticket_message":
        return len(rows) < CANDIDATES
    return not rows or rows[0][3] < CANDIDATES * MESSAGES_PER_CANDIDATE
TABLE_ROWS_SQL = "SELECT greatest(reltuples, 1) FROM pg_class WHERE relname = :table"
# A walk over the newest rows stops after this many: a wrong "common" guess costs little.
DENSE_WINDOW = {"ticket_message": 50_000, "ticket": 20_000}
MAX_ID_SQL = "SELECT coalesce(max(id), 0) FROM {table}"
WALK_NEWEST = "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_indexscan = on"
USE_GIN = "SET LOCAL enable_bitmapscan = on; SET LOCAL enable_indexscan = off"
RESET_SCANS = "SET LOCAL enable_bitmapscan = on; SET LOCAL enable_indexscan = on"

# The returned page only: details and ts_headline for at most `limit` tickets.
PAGE_SQL = f"""
SELECT t.number, t.subject, t.status, t.priority, t.created_at,
       c.name AS client_name, u.name AS assignee_name,
       ts_headline('english', t.subject, q,
                   'HighlightAll=true, StartSel={_START}, StopSel={_STOP}') AS subject_hl,
       CASE WHEN m.id IS NULL THEN ''
            ELSE ts_headline('english', m.body_text, q,
                 'MaxFragments=2, MaxWords=18, MinWords=6, StartSel={_START}, StopSel={_STOP}')
       END AS snippet_hl
FROM unnest(CAST(:ticket_ids AS int[]), CAST(:message_ids AS int[]))
     WITH ORDINALITY AS top(ticket_id, message_id, position)
CROSS JOIN to_tsquery('english', :q) q
JOIN ticket t ON t.id = top.ticket_id
LEFT JOIN ticket_message m ON m.id = top.message_id
LEFT JOIN client c ON c.id = t.client_id
LEFT JOIN user_account u ON u.id = t.assignee_id
ORDER BY top.position
"""


_EXACT_SQL = """
SELECT t.number, t.subject, t.status, t.priority, t.created_at,
       c.name AS client_name, u.name AS assignee_name
FROM ticket t
LEFT JOIN client c ON c.id = t.client_id
LEFT JOIN user_account u ON u.id = t.assignee_id
WHERE {condition}
ORDER BY t.created_at DESC
LIMIT :limit
"""


def highlighted(fragment: str | None) -> str:
    """HTML-escape a headline, then turn its match markers into <mark> tags."""
    escaped = html.escape(fragment or "")
    return escaped.replace(_START, "<mark>").replace(_STOP, "</mark>")


def _hit(row: Any, subject_html: str | None = None, snippet_html: str = "") -> SearchHit:
    return SearchHit(
        number=row.number,
        subject_html=subject_html if subject_html is not None else html.escape(row.subject),
        snippet_html=snippet_html,
        status=row.status,
        priority=row.priority,
        client_name=row.client_name or "",
        assignee_name=row.assignee_name or "",
        created_at=row.created_at.strftime("%Y-%m-%d %H:%M UTC"),
    )


# Words that are each common but rarely together make the GIN intersection read ~1M row ids:
# after a walk over the newest rows, that lookup gets this long and the walk's matches stand.
GIN_AFTER_WALK_TIMEOUT_MS = 60


def _gin_candidates(session: Any, sql: str, tsquery: str, *, bounded: bool) -> list[Any]:
    params = {"q": tsquery, "n": CANDIDATES, "floor": 0}
    if not bounded:
        session.execute(text(USE_GIN))
        return session.execute(text(sql), params).all()
    savepoint = session.begin_nested()
    try:
        session.execute(text(USE_GIN))
        session.execute(text(f"SET LOCAL statement_timeout = {GIN_AFTER_WALK_TIMEOUT_MS}"))
        rows = session.execute(text(sql), params).all()
        session.execute(text("SET LOCAL statement_timeout = 0"))
        savepoint.commit()
        return rows
    except OperationalError:
        savepoint.rollback()
        return []


def ranked_candidates(session: Any, tsquery: str) -> list[tuple[int, int | None, float]]:
    """(ticket id, best message id or None for a subject match, rank), best first.

    Each source yields at most CANDIDATES newest matches; the way to find them is chosen from
    PostgreSQL's own estimate of how many rows match (its statistics of the tsvector column).
    """
    best: dict[int, tuple[float, int | None]] = {}
    for table, sql in CANDIDATES_SQL.items():
        plan = session.execute(text(ESTIMATE_SQL.format(table=table)), {"q": tsquery}
                               ).scalar_one()
        total = session.execute(text(TABLE_ROWS_SQL), {"table": table}).scalar_one() or 1
        rows: list[Any] = []
        dense = plan[0]["Plan"]["Plan Rows"] / total >= DENSE_SHARE
        if dense:
            # The previous source may have left index scans off: max(id) needs its index.
            session.execute(text(RESET_SCANS))
            newest = session.execute(text(MAX_ID_SQL.format(table=table))).scalar_one()
            session.execute(text(WALK_NEWEST))
            rows = session.execute(text(sql), {"q": tsquery, "n": CANDIDATES,
                                               "floor": newest - DENSE_WINDOW[table]}).all()
        if ran_dry(rows, table, walked=dense):  # rare words, or the guess was wrong: the GIN index
            rows = _gin_candidates(session, sql, tsquery, bounded=dense) or rows
        for ticket_id, message_id, rank, _ in rows:
            if ticket_id not in best or rank > best[ticket_id][0]:
                best[ticket_id] = (rank, message_id)
    session.execute(text(RESET_SCANS))
    ordered = sorted(best.items(), key=lambda item: (-item[1][0], -item[0]))
    return [(ticket_id, message_id, rank) for ticket_id, (rank, message_id) in ordered]


def search_tickets(actor: Actor, query: str, *, limit: int = 25) -> SearchResult:
    """Find tickets: `#10042` or `10042` by number, an email by client, else ranked full text."""
    require(actor, Action.VIEW_TICKETS)
    query = (query or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"Search for at most {MAX_QUERY_CHARS} characters.")
    limit = min(max(limit, 1), 100)
    if not query:
        return SearchResult(hits=[], kind="")
    digits = query.lstrip("#")
    with session_scope() as session:
        if digits.isdigit() and len(digits) <= 18:
            rows = session.execute(text(_EXACT_SQL.format(condition="t.number = :number")),
                                   {"number": int(digits), "limit": 1}).all()
            return SearchResult(hits=[_hit(r) for r in rows], kind="number")
        if "@" in query and " " not in query:
            rows = session.execute(
                text(_EXACT_SQL.format(
                    condition="t.client_id IN (SELECT id FROM client WHERE email = :email)")),
                {"email": query.lower(), "limit": limit},
            ).all()
            return SearchResult(hits=[_hit(r) for r in rows], kind="email")
        tsquery = tsquery_for(query)
        if not tsquery:
            return SearchResult(hits=[], kind="text")
        ranked = ranked_candidates(session, tsquery)
        top = ranked[:limit]
        rows = session.execute(text(PAGE_SQL), {
            "q": tsquery, "ticket_ids": [t for t, _, _ in top],
            "message_ids": [m for _, m, _ in top]}).all() if top else []
        return SearchResult(
            hits=[_hit(r, highlighted(r.subject_hl), highlighted(r.snippet_hl)) for r in rows],
            kind="text",
        )
