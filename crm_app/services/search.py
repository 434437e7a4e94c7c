"""Ticket search for staff: exact ticket number, client email, references, client names, or
ranked full text — with a total (exact up to SEARCH_CAP) and pages.

References agents paste ("WD-00012404", IBANs with or without their spaces, account numbers,
codes like "AB-12.34") are split apart by full text; each message keeps them normalized in a
generated column (`reference_tokens`, see `crm_reference_tokens` in the migrations) searched by
substring through a trigram index. A query's words that all start words of a client's name find
that client's tickets (trigram index on the name) ahead of the full-text matches.

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
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
    created_iso: str = ""  # ISO 8601 in UTC


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    kind: str  # "number", "email", "reference", "text" or "" (nothing to search)
    total: int = 0  # exact up to SEARCH_CAP
    total_capped: bool = False  # more than SEARCH_CAP match
    page: int = 1
    has_next: bool = False


# Totals are exact up to this many tickets ("1,000+" beyond); pages reach this far.
SEARCH_CAP = 1000
PAGE_SIZE = 25

# Kept in step with crm_reference_tokens() in the migrations: an IBAN in groups or not, or a run
# of letters/digits joined by - . / ; a token holds a digit and 4-40 characters once normalized.
REFERENCE_RE = re.compile(
    r"\b[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?\b"
    r"|\b[A-Za-z0-9]+(?:[-./][A-Za-z0-9]+)*"
)
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def normalized_reference(raw: str) -> str:
    return _NOT_ALNUM.sub("", raw).upper()


def reference_tokens(raw: str) -> list[str]:
    """The reference-like tokens of a text, normalized: what `reference_tokens` holds."""
    tokens = []
    for match in REFERENCE_RE.finditer(raw or ""):
        token = normalized_reference(match.group())
        if any(c.isdigit() for c in token) and 4 <= len(token) <= 40 and token not in tokens:
            tokens.append(token)
    return tokens


def split_query(raw: str) -> tuple[list[str], str]:
    """(reference tokens, the rest as words) of what an agent typed."""
    refs, rest, last = [], [], 0
    for match in REFERENCE_RE.finditer(raw):
        token = normalized_reference(match.group())
        if any(c.isdigit() for c in token) and 4 <= len(token) <= 40:
            refs.append(token)
            rest.append(raw[last : match.start()])
            last = match.end()
    rest.append(raw[last:])
    return list(dict.fromkeys(refs)), " ".join("".join(rest).split())


def tsquery_for(raw: str) -> str:
    """`'word' & 'other':*` from what a user typed: words only, so nothing can inject.

    As in search-as-you-type, the last word may be unfinished and matches as a prefix; the
    words before it are complete. (A prefix of a common word reads every key it starts, which
    GIN can only hold as a lossy bitmap on millions of messages.)"""
    words = _WORD.findall(raw.lower())[:MAX_TERMS]
    return (
        " & ".join(f"'{word}'" for word in words[:-1])
        + (" & " if len(words) > 1 else "")
        + (f"'{words[-1]}':*" if words else "")
    )


# Candidates per source (message bodies, subjects), newest first, ranked afterwards: one more
# than the cap, so a total can say "more than SEARCH_CAP".
CANDIDATES = SEARCH_CAP + 1
# Above this estimated share of matching rows, walking the newest rows finds the candidates
# sooner than a GIN bitmap over every match (which for a common word means ~1M row ids).
DENSE_SHARE = 0.01

ESTIMATE_SQL = (
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE search_vector @@ to_tsquery('english', :q)"
)
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
        created_iso=row.created_at.astimezone(UTC).isoformat(),
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


@dataclass(frozen=True)
class Candidates:
    ranked: list[tuple[int, int | None, float]]  # (ticket id, best message id, rank), best first
    capped: bool  # more tickets match than SEARCH_CAP (or than could be counted cheaply)


def _estimated_tickets(session: Any, table: str, matching_rows: float) -> float:
    """Matching rows of `table` as tickets (a ticket holds several messages)."""
    if table == "ticket":
        return matching_rows
    messages = session.execute(text(TABLE_ROWS_SQL), {"table": "ticket_message"}).scalar_one()
    tickets = session.execute(text(TABLE_ROWS_SQL), {"table": "ticket"}).scalar_one()
    return matching_rows * (tickets or 1) / (messages or 1)


def ranked_candidates(session: Any, tsquery: str) -> Candidates:
    """Tickets matching the full-text query, best first, at most CANDIDATES per source.

    The way to find them is chosen from PostgreSQL's own estimate of how many rows match (its
    statistics of the tsvector column): a word common enough to walk the newest rows for is
    one with more than SEARCH_CAP tickets on a big database, so its total is capped.
    """
    best: dict[int, tuple[float, int | None]] = {}
    capped = False
    for table, sql in CANDIDATES_SQL.items():
        plan = session.execute(text(ESTIMATE_SQL.format(table=table)), {"q": tsquery}).scalar_one()
        total = session.execute(text(TABLE_ROWS_SQL), {"table": table}).scalar_one() or 1
        rows: list[Any] = []
        matching = plan[0]["Plan"]["Plan Rows"]
        dense = matching / total >= DENSE_SHARE
        # On a small database a "dense" word still has few matches: read them all (exact).
        dense = dense and _estimated_tickets(session, table, matching) > SEARCH_CAP
        capped = capped or dense
        if dense:
            # The previous source may have left index scans off: max(id) needs its index.
            session.execute(text(RESET_SCANS))
            newest = session.execute(text(MAX_ID_SQL.format(table=table))).scalar_one()
            session.execute(text(WALK_NEWEST))
            rows = session.execute(
                text(sql), {"q": tsquery, "n": CANDIDATES, "floor": newest - DENSE_WINDOW[table]}
            ).all()
        if ran_dry(rows, table, walked=dense):  # rare words, or the guess was wrong: the GIN index
            rows = _gin_candidates(session, sql, tsquery, bounded=dense) or rows
        if len(rows) >= CANDIDATES:
            capped = True
        for ticket_id, message_id, rank, _ in rows:
            if ticket_id not in best or rank > best[ticket_id][0]:
                best[ticket_id] = (rank, message_id)
    session.execute(text(RESET_SCANS))
    ordered = sorted(best.items(), key=lambda item: (-item[1][0], -item[0]))
    ranked = [(ticket_id, message_id, rank) for ticket_id, (rank, message_id) in ordered]
    return Candidates(ranked=ranked[:SEARCH_CAP], capped=capped or len(ranked) > SEARCH_CAP)


# Tickets whose messages hold every reference token, newest message first; the best message
# (for the snippet) is the newest holding them. Trigram GIN finds the substrings.
REFERENCE_SQL = """
SELECT m.ticket_id, max(m.id) AS message_id
FROM ticket_message m
WHERE {conditions}
GROUP BY m.ticket_id
ORDER BY max(m.id) DESC
LIMIT :n
"""

# Clients whose name has every word of the query as the start of one of its words: the trigram
# index narrows by substring, the regex keeps word starts only ("ann" finds "Ann", not "Joanne").
CLIENT_NAME_SQL = """
SELECT t.id AS ticket_id
FROM ticket t
WHERE t.client_id IN (
    SELECT c.id FROM client c
    WHERE c.deleted_at IS NULL AND {conditions}
    LIMIT :clients)
ORDER BY t.id DESC
LIMIT :n
"""
MAX_NAME_CLIENTS = 50


def _like_fragment(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def reference_candidates(session: Any, refs: list[str]) -> Candidates:
    conditions = " AND ".join(f"m.reference_tokens LIKE :ref{i}" for i in range(len(refs)))
    params: dict[str, Any] = {f"ref{i}": _like_fragment(ref) for i, ref in enumerate(refs)}
    rows = session.execute(
        text(REFERENCE_SQL.format(conditions=conditions)), {**params, "n": CANDIDATES}
    ).all()
    return Candidates(
        ranked=[(r.ticket_id, r.message_id, 1.0) for r in rows[:SEARCH_CAP]],
        capped=len(rows) > SEARCH_CAP,
    )


def client_name_candidates(session: Any, words: list[str]) -> list[int]:
    """Ticket ids of the clients the words name, newest first (empty when they name none)."""
    words = [w for w in words if len(w) >= 2][:4]
    if not words:
        return []
    conditions, params = [], {}
    for i, word in enumerate(words):
        conditions.append(f"c.name ILIKE :like{i} AND c.name ~* :start{i}")
        params[f"like{i}"] = _like_fragment(word)
        params[f"start{i}"] = r"\m" + re.escape(word)
    return list(
        session.execute(
            text(CLIENT_NAME_SQL.format(conditions=" AND ".join(conditions))),
            {**params, "clients": MAX_NAME_CLIENTS, "n": CANDIDATES},
        ).scalars()
    )


def _reference_snippet(body: str, refs: list[str]) -> str:
    """The message text around the first reference it holds, escaped, the reference marked."""
    for match in REFERENCE_RE.finditer(body or ""):
        token = normalized_reference(match.group())
        if any(ref in token for ref in refs):
            start, end = max(match.start() - 70, 0), min(match.end() + 70, len(body))
            before = " ".join(body[start : match.start()].split())
            after = " ".join(body[match.end() : end].split())
            return (
                ("…" if start else "")
                + html.escape(before + " ")
                + f"<mark>{html.escape(match.group())}</mark>"
                + html.escape(" " + after)
                + ("…" if end < len(body) else "")
            )
    return ""


def _paged(rows: Sequence[Any], page: int, page_size: int) -> tuple[Sequence[Any], bool]:
    first = (page - 1) * page_size
    return rows[first : first + page_size], len(rows) > first + page_size


def search_tickets(
    actor: Actor, query: str, *, page: int = 1, limit: int = PAGE_SIZE
) -> SearchResult:
    """Find tickets: `#10042` or `10042` by number, an email by client, references in messages
    ("WD-00012404", IBANs, account numbers), a client's name, else ranked full text.

    `page` counts from 1 in pages of `limit`; the total is exact up to SEARCH_CAP."""
    require(actor, Action.VIEW_TICKETS)
    query = (query or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"Search for at most {MAX_QUERY_CHARS} characters.")
    limit = min(max(int(limit), 1), 100)
    page = min(max(int(page), 1), -(-SEARCH_CAP // limit))
    if not query:
        return SearchResult(hits=[], kind="")
    digits = query.lstrip("#")
    with session_scope() as session:
        if digits.isdigit() and len(digits) <= 9:
            rows = session.execute(
                text(_EXACT_SQL.format(condition="t.number = :number")),
                {"number": int(digits), "limit": 1},
            ).all()
            if rows:
                return SearchResult(hits=[_hit(r) for r in rows], kind="number", total=1)
        if "@" in query and " " not in query:
            rows = session.execute(
                text(
                    _EXACT_SQL.format(
                        condition="t.client_id IN (SELECT id FROM client WHERE email = :email)"
                    )
                ),
                {"email": query.lower(), "limit": SEARCH_CAP + 1},
            ).all()
            shown, more = _paged(rows[:SEARCH_CAP], page, limit)
            return SearchResult(
                hits=[_hit(r) for r in shown],
                kind="email",
                total=min(len(rows), SEARCH_CAP),
                total_capped=len(rows) > SEARCH_CAP,
                page=page,
                has_next=more,
            )
        refs, words = split_query(query)
        if refs:
            return _reference_search(session, refs, words, page, limit)
        tsquery = tsquery_for(query)
        if not tsquery:
            return SearchResult(hits=[], kind="text")
        named = client_name_candidates(session, _WORD.findall(query.lower())[:MAX_TERMS])
        found = ranked_candidates(session, tsquery)
        # A client's own tickets first, then what the words find in subjects and messages.
        seen = set(named)
        ordered = [(t, None) for t in named] + [(t, m) for t, m, _ in found.ranked if t not in seen]
        capped = found.capped or len(ordered) > SEARCH_CAP
        ordered = ordered[:SEARCH_CAP]
        top, more = _paged(ordered, page, limit)
        rows = (
            session.execute(
                text(PAGE_SQL),
                {
                    "q": tsquery,
                    "ticket_ids": [t for t, _ in top],
                    "message_ids": [m for _, m in top],
                },
            ).all()
            if top
            else []
        )
        return SearchResult(
            hits=[_hit(r, highlighted(r.subject_hl), highlighted(r.snippet_hl)) for r in rows],
            kind="text",
            total=len(ordered),
            total_capped=capped,
            page=page,
            has_next=more,
        )


_REFERENCE_PAGE_SQL = """
SELECT t.number, t.subject, t.status, t.priority, t.created_at,
       c.name AS client_name, u.name AS assignee_name, m.body_text
FROM unnest(CAST(:ticket_ids AS int[]), CAST(:message_ids AS int[]))
     WITH ORDINALITY AS top(ticket_id, message_id, position)
JOIN ticket t ON t.id = top.ticket_id
LEFT JOIN ticket_message m ON m.id = top.message_id
LEFT JOIN client c ON c.id = t.client_id
LEFT JOIN user_account u ON u.id = t.assignee_id
ORDER BY top.position
"""
# Words typed beside a reference narrow its tickets: in the subject or any message.
_WORDS_FILTER_SQL = """
SELECT t.id FROM ticket t, to_tsquery('english', :q) q
WHERE t.id = ANY(CAST(:ids AS int[])) AND (t.search_vector @@ q OR EXISTS (
    SELECT 1 FROM ticket_message m WHERE m.ticket_id = t.id AND m.search_vector @@ q))
"""


def _reference_search(
    session: Any, refs: list[str], words: str, page: int, limit: int
) -> SearchResult:
    found = reference_candidates(session, refs)
    ranked = [(t, m) for t, m, _ in found.ranked]
    tsquery = tsquery_for(words)
    if tsquery and ranked:
        keep = set(
            session.execute(
                text(_WORDS_FILTER_SQL), {"q": tsquery, "ids": [t for t, _ in ranked]}
            ).scalars()
        )
        ranked = [(t, m) for t, m in ranked if t in keep]
    top, more = _paged(ranked, page, limit)
    rows = (
        session.execute(
            text(_REFERENCE_PAGE_SQL),
            {"ticket_ids": [t for t, _ in top], "message_ids": [m for _, m in top]},
        ).all()
        if top
        else []
    )
    return SearchResult(
        hits=[_hit(r, snippet_html=_reference_snippet(r.body_text, refs)) for r in rows],
        kind="reference",
        total=len(ranked),
        total_capped=found.capped,
        page=page,
        has_next=more,
    )


# --- the new-ticket client picker ------------------------------------------------------------


@dataclass(frozen=True)
class ClientPick:
    id: int
    name: str
    email: str
    phone: str
    label: str  # "Ada Lovelace <ada@x.example> · #123"


PICK_LIMIT = 8
_PICK_SQL = """
SELECT c.id, c.name, coalesce(c.email, '') AS email, coalesce(c.phone, '') AS phone
FROM client c
WHERE c.deleted_at IS NULL AND c.merged_into_id IS NULL AND ({condition})
ORDER BY {order}
LIMIT :limit
"""


def find_clients(actor: Actor, query: str, *, limit: int = PICK_LIMIT) -> list[ClientPick]:
    """Clients for a picker as the agent types: by client number (`#123` or `123`), email,
    phone (any spacing) or name (word starts first, then substrings), best first.

    Name, email and phone go through their trigram indexes; at most `limit` rows come back."""
    require(actor, Action.VIEW_CLIENTS)
    term = " ".join((query or "").split())[:100]
    limit = min(max(int(limit), 1), 25)
    if not term:
        return []
    picks: dict[int, ClientPick] = {}

    def add(condition: str, order: str, params: dict[str, Any]) -> None:
        if len(picks) >= limit:
            return
        rows = session.execute(
            text(_PICK_SQL.format(condition=condition, order=order)), {**params, "limit": limit}
        ).all()
        for row in rows:
            if row.id not in picks and len(picks) < limit:
                label = f"{row.name} <{row.email}>" if row.email else row.name
                picks[row.id] = ClientPick(
                    id=row.id,
                    name=row.name,
                    email=row.email,
                    phone=row.phone,
                    label=f"{label} · #{row.id}",
                )

    number = term.lstrip("#")
    digits = re.sub(r"\D", "", term)
    with session_scope() as session:
        if number.isdigit() and len(number) <= 9:
            add("c.id = :id", "c.id", {"id": int(number)})
        if "@" in term:
            add(
                "c.email ILIKE :like",
                "c.email = :exact DESC, c.email",
                {"like": _like_fragment(term.lower()), "exact": term.lower()},
            )
        if len(digits) >= 4 and not re.search(r"[A-Za-z]", term):
            add("c.phone LIKE :like", "c.name", {"like": _like_fragment(term)})
            if len(picks) < limit and len(digits) >= 6:
                # Written with other spacing than stored ("7700900414" for "+44 7700 900414").
                add(
                    "regexp_replace(c.phone, '[^0-9]', '', 'g') LIKE :digits",
                    "c.name",
                    {"digits": _like_fragment(digits)},
                )
        if len(term) >= 2 and re.search(r"[A-Za-z]", term):
            words = _WORD.findall(term.lower())[:4]
            starts = " AND ".join(f"c.name ~* :start{i}" for i in range(len(words))) or "true"
            params = {f"start{i}": r"\m" + re.escape(w) for i, w in enumerate(words)}
            likes = " AND ".join(f"c.name ILIKE :like{i}" for i in range(len(words))) or "true"
            params.update({f"like{i}": _like_fragment(w) for i, w in enumerate(words)})
            add(f"{likes} AND {starts}", "c.name", params)
            add(
                "c.name ILIKE :whole OR c.email ILIKE :whole",
                "c.name",
                {"whole": _like_fragment(term)},
            )
    return list(picks.values())
