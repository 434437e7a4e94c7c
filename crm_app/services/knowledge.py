"""Search the firm's knowledge: resolved tickets, published FAQ entries and archived mail, ranked
by the product's hybrid search, each hit with where it came from.

Staff only. What a user may retrieve is decided inside the retrieval query
(`crm_app.ai.retrieval.visible_documents`): managers-only archives never reach an agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from crm_app.ai import retrieval
from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput
from models.archive import Archive, ArchiveMessage, Confidentiality
from models.retrieval import RetrievalDocument, SourceKind

KINDS = (SourceKind.RESOLVED_TICKET, SourceKind.FAQ, SourceKind.ARCHIVE_MESSAGE)
KIND_LABELS: dict[str, str] = {
    SourceKind.RESOLVED_TICKET: "Resolved ticket",
    SourceKind.FAQ: "FAQ",
    SourceKind.ARCHIVE_MESSAGE: "Archived email",
}


@dataclass(frozen=True)
class KnowledgeHit:
    document_id: int
    kind: str
    kind_label: str
    title: str
    snippet: str
    link: str
    score: float
    date: str
    sender: str = ""
    folder: str = ""
    message_id: str = ""
    archives: str = ""
    participants: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "kind": self.kind,
            "title": self.title,
            "snippet": self.snippet,
            "link": self.link,
            "score": self.score,
            "date": self.date,
            "sender": self.sender,
            "folder": self.folder,
            "message_id": self.message_id,
            "archives": self.archives,
            "participants": self.participants,
        }


def search_knowledge(
    actor: Actor | None, query: str, *, k: int = 10, kinds: list[str] | None = None
) -> list[KnowledgeHit]:
    """The best `k` documents for `query` that `actor` may see, with their provenance."""
    actor = require(actor, Action.VIEW_TICKETS)
    chosen = [str(kind) for kind in (kinds or KINDS)]
    if not set(chosen) <= {str(kind) for kind in KINDS}:
        raise InvalidInput("Choose tickets, FAQ or archived email.")
    hits = retrieval.search(actor, query, k=k, source_kinds=chosen)
    archive_ids = [h.document_id for h in hits if h.source_kind == SourceKind.ARCHIVE_MESSAGE]
    metas: dict[int, dict[str, Any]] = {}
    labels: dict[int, list[str]] = {}
    if archive_ids:
        with session_scope() as session:
            metas = dict(
                session.execute(
                    select(col(RetrievalDocument.id), col(RetrievalDocument.meta)).where(
                        col(RetrievalDocument.id).in_(archive_ids)
                    )
                ).all()
            )
            query_labels = (
                select(col(ArchiveMessage.document_id), col(Archive.label))
                .join(Archive, col(Archive.id) == col(ArchiveMessage.archive_id))
                .where(col(ArchiveMessage.document_id).in_(archive_ids))
                .distinct()
            )
            if not can(actor, Action.MANAGE_AI):
                query_labels = query_labels.where(
                    col(Archive.confidentiality) == Confidentiality.ALL_STAFF
                )
            for doc_id, label in session.execute(query_labels).tuples().all():
                labels.setdefault(doc_id, []).append(label)
    out = []
    for hit in hits:
        meta = metas.get(hit.document_id, {})
        sender = meta.get("from") or {}
        out.append(
            KnowledgeHit(
                document_id=hit.document_id,
                kind=hit.source_kind,
                kind_label=KIND_LABELS.get(hit.source_kind, hit.source_kind),
                title=hit.title or "(untitled)",
                snippet=" ".join(hit.snippet.split())[:300],
                link=hit.link,
                score=hit.score,
                date=hit.occurred_at[:10],
                sender=(sender.get("email") or "") if sender else "",
                folder=meta.get("folder") or "",
                message_id=meta.get("message_id") or "",
                archives=", ".join(sorted(labels.get(hit.document_id, []))) or hit.label,
                participants=[p["email"] for p in meta.get("to") or [] if p.get("email")],
            )
        )
    return out
