"""What clients do with the help centre: search and open published entries, see suggestions
while writing a request, vote, and leave the request form (deflected or submitted)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.portal.knowledge.rows import FaqRow, _row
from crm_app.services.portal.requests import own_client
from models.base import utcnow
from models.faq import FaqEntry, FaqStatus, FaqVote
from models.portal import DeflectionOutcome, FaqDeflection
from models.ticket import Ticket

SUGGESTION_LIMIT = 5
SEARCH_LIMIT = 50
_WORD = re.compile(r"[\w€$£%-]{3,}", re.UNICODE)
# Words that match nearly every entry and tell nothing.
_STOP = frozenset(
    {"the", "and", "for", "you", "your", "are", "can", "how", "what", "when", "with", "from"}
    | {"this", "that", "have", "not", "our", "about"}
)


def _words(text: str) -> list[str]:
    seen: list[str] = []
    for word in _WORD.findall((text or "").lower()[:300]):
        if word not in _STOP and word not in seen:
            seen.append(word)
    return seen[:12]


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _published_matching(text: str, limit: int) -> sa.Select:
    """Published entries ranked by how many of the words they hold (question counts double)."""
    query = select(FaqEntry).where(col(FaqEntry.status) == FaqStatus.PUBLISHED.value)
    words = _words(text)
    if not words:
        return query.order_by(
            col(FaqEntry.category), col(FaqEntry.position), col(FaqEntry.id)
        ).limit(limit)
    score: sa.ColumnElement[int] = sa.literal(0)
    hits = []
    for word in words:
        pattern = f"%{_escape_like(word)}%"
        in_question = col(FaqEntry.question).ilike(pattern, escape="\\")
        in_answer = col(FaqEntry.answer).ilike(pattern, escape="\\")
        score = score + sa.case((in_question, 2), else_=0) + sa.case((in_answer, 1), else_=0)
        hits.append(in_question | in_answer)
    return (
        query.where(sa.or_(*hits))
        .order_by(score.desc(), col(FaqEntry.position), col(FaqEntry.id))
        .limit(limit)
    )


def help_centre(actor: Actor, search: str = "") -> list[FaqRow]:
    """Published entries, by category and position; with `search`, the best matches first."""
    require(actor, Action.USE_PORTAL)
    with session_scope() as session:
        entries = list(session.scalars(_published_matching(search, SEARCH_LIMIT)))
        if _words(search) and entries:
            # Counted as "found by a search" for the entries' measures (top results only).
            session.execute(
                sa.update(FaqEntry)
                .where(col(FaqEntry.id).in_([e.id for e in entries[:SUGGESTION_LIMIT]]))
                .values(search_hits=col(FaqEntry.search_hits) + 1)
            )
        return [_row(e) for e in entries]


def suggest(actor: Actor, text: str) -> list[FaqRow]:
    """Entries that may answer what the client is typing (nothing for fewer than one word)."""
    require(actor, Action.USE_PORTAL)
    if not _words(text):
        return []
    with session_scope() as session:
        return [_row(e) for e in session.scalars(_published_matching(text, SUGGESTION_LIMIT))]


def view_entry(actor: Actor, entry_id: int) -> FaqRow:
    """A client opens a published entry: counted in its views."""
    require(actor, Action.USE_PORTAL)
    with session_scope() as session:
        entry = session.execute(
            sa.update(FaqEntry)
            .where(
                col(FaqEntry.id) == int(entry_id), col(FaqEntry.status) == FaqStatus.PUBLISHED.value
            )
            .values(views=col(FaqEntry.views) + 1)
            .returning(FaqEntry)
        ).scalar_one_or_none()
        if entry is None:
            raise NotFound("That answer is no longer published.")
        return _row(entry)


def record_request_outcome(
    actor: Actor,
    *,
    query: str,
    suggested_ids: Sequence[int],
    viewed_ids: Sequence[int],
    ticket_number: int | None,
) -> bool:
    """The client leaves the new-request form (`ticket_number` None) or submits it. When
    entries were suggested, one event records how it ended: deflected (they read one and left
    without a ticket) or submitted. Returns whether an event was written."""
    require(actor, Action.USE_PORTAL)
    suggested = sorted({int(i) for i in suggested_ids})[:50]
    viewed = sorted({int(i) for i in viewed_ids} & set(suggested))
    if not suggested or (ticket_number is None and not viewed):
        return False
    with session_scope() as session:
        client = own_client(session, actor)
        ticket_id = None
        if ticket_number is not None:
            ticket_id = session.execute(
                select(col(Ticket.id)).where(
                    col(Ticket.number) == ticket_number, col(Ticket.client_id) == client.id
                )
            ).scalar_one_or_none()
        session.add(
            FaqDeflection(
                user_id=actor.user_id,
                client_id=client.id,
                outcome=(
                    DeflectionOutcome.SUBMITTED
                    if ticket_number is not None
                    else DeflectionOutcome.DEFLECTED
                ).value,
                query=(query or "")[:300],
                suggested_ids=suggested,
                viewed_ids=viewed,
                ticket_id=ticket_id,
                created_at=utcnow(),
            )
        )
    return True


def vote(actor: Actor, entry_id: int, helpful: bool) -> FaqRow:
    """A client's "did this help?" on a published entry; a second vote replaces the first."""
    require(actor, Action.USE_PORTAL)
    if actor.user_id is None:
        raise InvalidInput("Sign in to vote.")
    with session_scope() as session:
        entry = session.get(FaqEntry, int(entry_id), with_for_update=True)
        if entry is None or entry.status != FaqStatus.PUBLISHED:
            raise NotFound("That answer is no longer published.")
        session.execute(
            pg_insert(FaqVote)
            .values(
                entry_id=entry.id, user_id=actor.user_id, helpful=bool(helpful), created_at=utcnow()
            )
            .on_conflict_do_update(
                constraint="uq_faq_vote_entry_user",
                set_={"helpful": bool(helpful), "created_at": utcnow()},
            )
        )
        counts = dict(
            session.execute(
                select(col(FaqVote.helpful), func.count())
                .where(col(FaqVote.entry_id) == entry.id)
                .group_by(col(FaqVote.helpful))
            )
            .tuples()
            .all()
        )
        entry.helpful_yes, entry.helpful_no = counts.get(True, 0), counts.get(False, 0)
        return _row(entry)
