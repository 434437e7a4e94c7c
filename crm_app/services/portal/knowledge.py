"""Knowledge before a ticket: the help centre's FAQ entries, their manager, suggestions while a
client writes a request, and deflection (the client read a suggestion and left without opening
a ticket), so the FAQ's effect can be measured.

Clients read published entries only; managers (`MANAGE_FAQ`) write entries by hand and move
them between draft, published and unpublished.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import func, select

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.portal.requests import own_client
from crm_app.services.tickets.rows import fmt
from models.base import utcnow
from models.faq import FaqEntry, FaqStatus
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


@dataclass(frozen=True)
class FaqRow:
    id: int
    question: str
    answer: str
    category: str
    position: int
    status: str
    views: int
    updated_at: str
    published_at: str


def _row(entry: FaqEntry) -> FaqRow:
    assert entry.id is not None
    return FaqRow(
        id=entry.id,
        question=entry.question,
        answer=entry.answer,
        category=entry.category,
        position=entry.position,
        status=entry.status,
        views=entry.views,
        updated_at=fmt(entry.updated_at),
        published_at=fmt(entry.published_at),
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
    query = select(FaqEntry).where(FaqEntry.status == FaqStatus.PUBLISHED.value)
    words = _words(text)
    if not words:
        return query.order_by(FaqEntry.category, FaqEntry.position, FaqEntry.id).limit(limit)
    score = sa.literal(0)
    hits = []
    for word in words:
        pattern = f"%{_escape_like(word)}%"
        in_question = FaqEntry.question.ilike(pattern, escape="\\")
        in_answer = FaqEntry.answer.ilike(pattern, escape="\\")
        score = score + sa.case((in_question, 2), else_=0) + sa.case((in_answer, 1), else_=0)
        hits.append(in_question | in_answer)
    return (
        query.where(sa.or_(*hits))
        .order_by(score.desc(), FaqEntry.position, FaqEntry.id)
        .limit(limit)
    )


def help_centre(actor: Actor, search: str = "") -> list[FaqRow]:
    """Published entries, by category and position; with `search`, the best matches first."""
    require(actor, Action.USE_PORTAL)
    with session_scope() as session:
        return [
            _row(e) for e in session.execute(_published_matching(search, SEARCH_LIMIT)).scalars()
        ]


def suggest(actor: Actor, text: str) -> list[FaqRow]:
    """Entries that may answer what the client is typing (nothing for fewer than one word)."""
    require(actor, Action.USE_PORTAL)
    if not _words(text):
        return []
    with session_scope() as session:
        return [
            _row(e) for e in session.execute(_published_matching(text, SUGGESTION_LIMIT)).scalars()
        ]


def view_entry(actor: Actor, entry_id: int) -> FaqRow:
    """A client opens a published entry: counted in its views."""
    require(actor, Action.USE_PORTAL)
    with session_scope() as session:
        entry = session.execute(
            sa.update(FaqEntry)
            .where(FaqEntry.id == int(entry_id), FaqEntry.status == FaqStatus.PUBLISHED.value)
            .values(views=FaqEntry.views + 1)
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
                select(Ticket.id).where(
                    Ticket.number == ticket_number, Ticket.client_id == client.id
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


@dataclass(frozen=True)
class DeflectionFigures:
    days: int
    deflected: int
    submitted: int

    @property
    def deflection_rate(self) -> float:
        total = self.deflected + self.submitted
        return self.deflected / total if total else 0.0


def deflection_figures(actor: Actor, days: int = 30) -> DeflectionFigures:
    """How often suggestions ended a request before it became a ticket, over `days`."""
    require(actor, Action.MANAGE_FAQ)
    days = min(max(int(days), 1), 366)
    with session_scope() as session:
        counts = dict(
            session.execute(
                select(FaqDeflection.outcome, func.count())
                .where(FaqDeflection.created_at > utcnow() - timedelta(days=days))
                .group_by(FaqDeflection.outcome)
            )
            .tuples()
            .all()
        )
    return DeflectionFigures(
        days=days,
        deflected=counts.get(DeflectionOutcome.DEFLECTED.value, 0),
        submitted=counts.get(DeflectionOutcome.SUBMITTED.value, 0),
    )


# --- the manager's page ---------------------------------------------------------------------


def list_entries(actor: Actor) -> list[FaqRow]:
    require(actor, Action.MANAGE_FAQ)
    with session_scope() as session:
        entries = session.execute(
            select(FaqEntry).order_by(FaqEntry.category, FaqEntry.position, FaqEntry.id).limit(500)
        ).scalars()
        return [_row(e) for e in entries]


def _clean(question: str, answer: str, category: str, position: int) -> tuple[str, str, str, int]:
    question = " ".join((question or "").split())
    answer = (answer or "").strip()
    category = " ".join((category or "").split())
    if not question or len(question) > 300:
        raise InvalidInput("Write the question (up to 300 characters).")
    if not answer or len(answer) > 20_000:
        raise InvalidInput("Write the answer (up to 20,000 characters).")
    if len(category) > 100:
        raise InvalidInput("A category may be at most 100 characters.")
    if not isinstance(position, int) or not -10_000 <= position <= 10_000:
        raise InvalidInput("The position must be a whole number.")
    return question, answer, category, position


def save_entry(
    actor: Actor,
    entry_id: int | None,
    *,
    question: str,
    answer: str,
    category: str = "",
    position: int = 0,
) -> FaqRow:
    """Create (`entry_id` None, as a draft) or edit an entry. Audited."""
    require(actor, Action.MANAGE_FAQ)
    question, answer, category, position = _clean(question, answer, category, position)
    with session_scope() as session:
        now = utcnow()
        if entry_id is None:
            entry = FaqEntry(
                created_by_id=actor.user_id, created_at=now, question=question, answer=answer
            )
            session.add(entry)
        else:
            entry = session.get(FaqEntry, int(entry_id), with_for_update=True)
            if entry is None:
                raise NotFound("That entry was deleted.")
        changes = {
            key: [getattr(entry, key), value]
            for key, value in (
                ("question", question),
                ("category", category),
                ("position", position),
            )
            if getattr(entry, key) != value
        }
        if entry.answer != answer:
            changes["answer"] = "changed"
        entry.question, entry.answer = question, answer
        entry.category, entry.position, entry.updated_at = category, position, now
        session.flush()
        audit.record(
            session,
            actor,
            "faq.created" if entry_id is None else "faq.edited",
            "faq_entry",
            entry.id,
            changes,
        )
        return _row(entry)


def set_status(actor: Actor, entry_id: int, status: str) -> FaqRow:
    """Publish, unpublish or send back to draft. Audited."""
    require(actor, Action.MANAGE_FAQ)
    if status not in {s.value for s in FaqStatus}:
        raise InvalidInput("Unknown status.")
    with session_scope() as session:
        entry = session.get(FaqEntry, int(entry_id), with_for_update=True)
        if entry is None:
            raise NotFound("That entry was deleted.")
        before = entry.status
        if before != status:
            entry.status = status
            entry.updated_at = utcnow()
            if status == FaqStatus.PUBLISHED:
                entry.published_at = entry.updated_at
            audit.record(
                session,
                actor,
                "faq.status_changed",
                "faq_entry",
                entry.id,
                {"status": [before, status]},
            )
        return _row(entry)


def delete_entry(actor: Actor, entry_id: int) -> None:
    require(actor, Action.MANAGE_FAQ)
    with session_scope() as session:
        entry = session.get(FaqEntry, int(entry_id))
        if entry is None:
            raise NotFound("That entry was already deleted.")
        audit.record(
            session, actor, "faq.deleted", "faq_entry", entry.id, {"question": entry.question}
        )
        session.delete(entry)
