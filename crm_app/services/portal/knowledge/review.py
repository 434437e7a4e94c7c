"""The FAQ manager's reads: entries for review with their measures, an entry's versions, and
how often suggestions ended a request before it became a ticket."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput
from crm_app.services.portal.knowledge.rows import DeflectionFigures, FaqReviewRow, VersionRow
from crm_app.services.tickets.rows import fmt
from models.base import utcnow
from models.faq import FaqEntry, FaqEntryVersion, FaqStatus
from models.portal import DeflectionOutcome, FaqDeflection
from models.user import User


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
