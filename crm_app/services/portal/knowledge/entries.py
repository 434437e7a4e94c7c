"""The FAQ manager's writes: create and edit, publish and the other status changes, merge,
delete. Each keeps a version and an audit entry."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.portal.knowledge.indexing import _sync_retrieval
from crm_app.services.portal.knowledge.rows import FaqRow, _row
from models.base import utcnow
from models.faq import FaqEntry, FaqEntryVersion, FaqStatus


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
