"""Knowledge before a ticket: the help centre's FAQ entries, their manager, suggestions while a
client writes a request, and deflection (the client read a suggestion and left without opening
a ticket), so the FAQ's effect can be measured.

Clients read published entries only; managers (`MANAGE_FAQ`) write entries by hand or review
the drafts the `faq_regen` job made (`crm_app.services.faq_generation`): edit, publish, reject,
merge two, unpublish. Every change is kept as a version and audited. Published entries are
also FAQ sources of the retrieval store (suggested replies cite them); leaving "published"
removes them from it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col

from crm_app import routes
from crm_app.ai import retrieval
from crm_app.auth.permissions import SYSTEM, Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.portal.requests import own_client
from crm_app.services.tickets.rows import fmt
from models.base import utcnow
from models.faq import FaqEntry, FaqEntryVersion, FaqStatus, FaqVote
from models.portal import DeflectionOutcome, FaqDeflection
from models.retrieval import Audience, RetrievalDocument, SourceKind
from models.ticket import Ticket
from models.user import User

log = logging.getLogger(__name__)

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
                select(col(FaqDeflection.outcome), func.count())
                .where(col(FaqDeflection.created_at) > utcnow() - timedelta(days=days))
                .group_by(col(FaqDeflection.outcome))
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


@dataclass(frozen=True)
class FaqReviewRow:
    """An entry as the manager's page shows it: what clients see, where a generated draft came
    from, its compliance flags and its measures."""

    id: int
    question: str
    answer: str
    category: str
    position: int
    status: str
    origin: str
    updated_at: str
    topic_size: int
    sample_questions: list[str]
    source_tickets: list[int]
    flags: list[str]
    updates_entry_id: int
    updates_question: str
    version: int
    views: int
    search_hits: int
    helpful_yes: int
    helpful_no: int
    deflected: int


@dataclass(frozen=True)
class VersionRow:
    version: int
    change: str
    question: str
    answer: str
    category: str
    status: str
    changed_by: str
    created_at: str


def _deflections_by_entry(session: sa.orm.Session) -> dict[int, int]:
    """Clients who read the entry (suggested while writing a request) and left without one."""
    entry_id = func.unnest(col(FaqDeflection.viewed_ids)).label("entry_id")
    rows = (
        session.execute(
            select(entry_id).where(col(FaqDeflection.outcome) == DeflectionOutcome.DEFLECTED.value)
        )
        .tuples()
        .all()
    )
    counts: dict[int, int] = {}
    for (value,) in rows:
        counts[int(value)] = counts.get(int(value), 0) + 1
    return counts


def list_entries(actor: Actor, status: str = "") -> list[FaqReviewRow]:
    """Entries for review (merged ones left out), drafts with their provenance; `status`
    narrows the list to one status."""
    require(actor, Action.MANAGE_FAQ)
    if status and status not in {s.value for s in FaqStatus}:
        raise InvalidInput("Unknown status.")
    with session_scope() as session:
        query = select(FaqEntry).where(col(FaqEntry.status) != FaqStatus.MERGED.value)
        if status:
            query = query.where(col(FaqEntry.status) == status)
        entries = list(
            session.scalars(
                query.order_by(
                    col(FaqEntry.category), col(FaqEntry.position), col(FaqEntry.id)
                ).limit(500)
            )
        )
        targets = {e.updates_entry_id for e in entries if e.updates_entry_id}
        target_questions = (
            dict(
                session.execute(
                    select(col(FaqEntry.id), col(FaqEntry.question)).where(
                        col(FaqEntry.id).in_(targets)
                    )
                ).all()
            )
            if targets
            else {}
        )
        deflected = _deflections_by_entry(session)
        return [
            FaqReviewRow(
                id=e.id or 0,
                question=e.question,
                answer=e.answer,
                category=e.category,
                position=e.position,
                status=e.status,
                origin=e.origin,
                updated_at=fmt(e.updated_at),
                topic_size=e.topic_size,
                sample_questions=list(e.sample_questions or []),
                source_tickets=[int(n) for n in e.source_tickets or []],
                flags=[str(f.get("message", "")) for f in e.compliance_flags or []],
                updates_entry_id=e.updates_entry_id or 0,
                updates_question=target_questions.get(e.updates_entry_id or 0, ""),
                version=e.version,
                views=e.views,
                search_hits=e.search_hits,
                helpful_yes=e.helpful_yes,
                helpful_no=e.helpful_no,
                deflected=deflected.get(e.id or 0, 0),
            )
            for e in entries
        ]


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


def record_version(session: sa.orm.Session, entry: FaqEntry, actor: Actor, change: str) -> None:
    """Keep the entry as it stands after `change` (flushed first so a new entry has its id)."""
    session.flush()
    last = session.execute(
        select(func.max(col(FaqEntryVersion.version))).where(
            col(FaqEntryVersion.entry_id) == entry.id
        )
    ).scalar_one()
    assert entry.id is not None  # flushed above
    entry.version = (last or 0) + 1
    session.add(
        FaqEntryVersion(
            entry_id=entry.id,
            version=entry.version,
            change=change[:40],
            question=entry.question,
            answer=entry.answer,
            category=entry.category,
            position=entry.position,
            status=entry.status,
            changed_by_id=actor.user_id,
            created_at=utcnow(),
        )
    )


def _document(entry: FaqEntry) -> retrieval.DocumentInput:
    return retrieval.DocumentInput(
        source_kind=SourceKind.FAQ.value,
        source_ref=str(entry.id),
        title=entry.question,
        question=entry.question,
        answer=entry.answer,
        audience=Audience.PUBLIC.value,
        link=f"{routes.PORTAL_HELP}#faq-{entry.id}",
        label=entry.category or None,
        occurred_at=entry.published_at,
        source_updated_at=entry.updated_at,
    )


def _sync_retrieval(entry_ids: Sequence[int]) -> None:
    """After the change committed: published entries are (re)indexed as FAQ sources, others
    leave the store. A failure here is logged, never undoes the manager's change: the
    `ai_index` job's next pass is not needed for correctness, the next publish re-indexes."""
    with session_scope() as session:
        entries = {
            e.id: e
            for e in session.scalars(select(FaqEntry).where(col(FaqEntry.id).in_(list(entry_ids))))
        }
        documents = [
            _document(e) for e in entries.values() if e.status == FaqStatus.PUBLISHED.value
        ]
    gone = [i for i in entry_ids if i not in entries or entries[i].status != FaqStatus.PUBLISHED]
    try:
        retrieval.upsert_documents(SYSTEM, documents)
        for entry_id in gone:
            retrieval.delete_document(SYSTEM, SourceKind.FAQ.value, str(entry_id))
    except Exception:
        log.exception("FAQ entries not synced to the retrieval store", extra={"ids": entry_ids})


def sync_published_to_retrieval() -> int:
    """Bring the retrieval store's FAQ sources in line with the published entries (entries
    published before FAQ sources existed, a sync that failed): index what is published,
    remove what is not. Unchanged documents are left alone. Returns the documents removed."""
    with session_scope() as session:
        published = list(
            session.scalars(
                select(FaqEntry).where(col(FaqEntry.status) == FaqStatus.PUBLISHED.value)
            )
        )
        documents = [_document(e) for e in published]
        indexed = session.scalars(
            select(col(RetrievalDocument.source_ref)).where(
                col(RetrievalDocument.source_kind) == SourceKind.FAQ.value
            )
        )
        stale = set(indexed) - {str(e.id) for e in published}
    retrieval.upsert_documents(SYSTEM, documents)
    for ref in stale:
        retrieval.delete_document(SYSTEM, SourceKind.FAQ.value, ref)
    return len(stale)


def save_entry(
    actor: Actor,
    entry_id: int | None,
    *,
    question: str,
    answer: str,
    category: str = "",
    position: int = 0,
) -> FaqRow:
    """Create (`entry_id` None, as a draft) or edit an entry. Versioned and audited."""
    require(actor, Action.MANAGE_FAQ)
    question, answer, category, position = _clean(question, answer, category, position)
    with session_scope() as session:
        now = utcnow()
        entry: FaqEntry | None
        if entry_id is None:
            entry = FaqEntry(
                created_by_id=actor.user_id, created_at=now, question=question, answer=answer
            )
            session.add(entry)
        else:
            entry = session.get(FaqEntry, int(entry_id), with_for_update=True)
            if entry is None or entry.status == FaqStatus.MERGED:
                raise NotFound("That entry was deleted or merged.")
        changes: dict[str, Any] = {
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
        if entry_id is None or changes:
            record_version(session, entry, actor, "created" if entry_id is None else "edited")
        audit.record(
            session,
            actor,
            "faq.created" if entry_id is None else "faq.edited",
            "faq_entry",
            entry.id,
            changes,
        )
        row = _row(entry)
    if entry.status == FaqStatus.PUBLISHED:
        _sync_retrieval([row.id])
    return row


def set_status(actor: Actor, entry_id: int, status: str) -> FaqRow:
    """Publish, unpublish, reject or send back to draft. Publishing a draft that proposes an
    update to another entry puts its text into that entry (which keeps its place, measures
    and status "published") and folds the draft into it. Versioned and audited."""
    require(actor, Action.MANAGE_FAQ)
    if status not in {s.value for s in FaqStatus} - {FaqStatus.MERGED.value}:
        raise InvalidInput("Unknown status.")
    touched: list[int] = []
    with session_scope() as session:
        entry = session.get(FaqEntry, int(entry_id), with_for_update=True)
        if entry is None or entry.status == FaqStatus.MERGED:
            raise NotFound("That entry was deleted or merged.")
        if entry.answer.startswith("No resolved answer") and status == FaqStatus.PUBLISHED:
            raise InvalidInput("Write the answer before publishing this entry.")
        target = (
            session.get(FaqEntry, entry.updates_entry_id, with_for_update=True)
            if entry.updates_entry_id and status == FaqStatus.PUBLISHED
            else None
        )
        now = utcnow()
        if target is not None and target.status != FaqStatus.MERGED:
            before = {"question": target.question, "status": target.status}
            target.question, target.answer = entry.question, entry.answer
            target.compliance_flags = entry.compliance_flags
            target.topic_size, target.sample_questions = entry.topic_size, entry.sample_questions
            target.source_tickets = entry.source_tickets
            target.status, target.updated_at = FaqStatus.PUBLISHED.value, now
            target.published_at = target.published_at or now
            record_version(session, target, actor, "updated from draft")
            entry.status, entry.merged_into_id, entry.updated_at = (
                FaqStatus.MERGED.value,
                target.id,
                now,
            )
            record_version(session, entry, actor, "applied")
            audit.record(
                session,
                actor,
                "faq.update_applied",
                "faq_entry",
                target.id,
                {"from_draft": entry.id, "before": before},
            )
            touched = [target.id or 0, entry.id or 0]
            row = _row(target)
        else:
            previous = entry.status
            if previous != status:
                entry.status = status
                entry.updated_at = now
                if status == FaqStatus.PUBLISHED:
                    entry.published_at = entry.updated_at
                record_version(session, entry, actor, status)
                audit.record(
                    session,
                    actor,
                    "faq.status_changed",
                    "faq_entry",
                    entry.id,
                    {"status": [previous, status]},
                )
                touched = [entry.id or 0]
            row = _row(entry)
    if touched:
        _sync_retrieval(touched)
    return row


def merge_entries(actor: Actor, source_id: int, target_id: int) -> FaqRow:
    """Fold `source_id` into `target_id`: the target keeps its text and gains the source's
    topic (questions, tickets, size); the source leaves the list (and the help centre).
    Versioned and audited."""
    require(actor, Action.MANAGE_FAQ)
    source_id, target_id = int(source_id), int(target_id)
    if source_id == target_id:
        raise InvalidInput("Choose two different entries to merge.")
    with session_scope() as session:
        pair = {
            e.id: e
            for e in session.scalars(
                select(FaqEntry)
                .where(col(FaqEntry.id).in_([source_id, target_id]))
                .order_by(col(FaqEntry.id))
                .with_for_update()
            )
        }
        source, target = pair.get(source_id), pair.get(target_id)
        if source is None or target is None or FaqStatus.MERGED in (source.status, target.status):
            raise NotFound("One of the entries was deleted or merged.")
        target.topic_size += source.topic_size
        target.sample_questions = list(
            dict.fromkeys([*target.sample_questions, *source.sample_questions])
        )[:10]
        target.source_tickets = list(
            dict.fromkeys([*target.source_tickets, *source.source_tickets])
        )[:100]
        target.views += source.views
        target.updated_at = source.updated_at = utcnow()
        source.status, source.merged_into_id = FaqStatus.MERGED.value, target.id
        record_version(session, target, actor, f"merged #{source.id} in")
        record_version(session, source, actor, f"merged into #{target.id}")
        audit.record(session, actor, "faq.merged", "faq_entry", target.id, {"merged": source.id})
        row = _row(target)
    _sync_retrieval([source_id, target_id])
    return row


def versions(actor: Actor, entry_id: int) -> list[VersionRow]:
    """The entry's history, newest first, with who made each change."""
    require(actor, Action.MANAGE_FAQ)
    with session_scope() as session:
        rows = (
            session.execute(
                select(FaqEntryVersion, col(User.name))
                .outerjoin(User, col(User.id) == col(FaqEntryVersion.changed_by_id))
                .where(col(FaqEntryVersion.entry_id) == int(entry_id))
                .order_by(col(FaqEntryVersion.version).desc())
                .limit(100)
            )
            .tuples()
            .all()
        )
        return [
            VersionRow(
                version=v.version,
                change=v.change,
                question=v.question,
                answer=v.answer,
                category=v.category,
                status=v.status,
                changed_by=name or ("the FAQ job" if v.changed_by_id is None else "(deleted)"),
                created_at=fmt(v.created_at),
            )
            for v, name in rows
        ]


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
    _sync_retrieval([int(entry_id)])
