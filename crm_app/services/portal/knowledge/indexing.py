"""Published entries as FAQ sources of the retrieval store: (re)indexed when published,
removed when they leave "published"."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlmodel import col

from crm_app import routes
from crm_app.ai import retrieval
from crm_app.auth.permissions import SYSTEM
from crm_app.db import session_scope
from models.faq import FaqEntry, FaqStatus
from models.retrieval import Audience, RetrievalDocument, SourceKind

log = logging.getLogger(__name__)


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
