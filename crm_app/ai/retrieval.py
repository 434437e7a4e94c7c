"""The retrieval store: index documents as chunks (full text + vectors) and search them with
reciprocal rank fusion, filtered by what the asking user may see.

Sources share one shape (`DocumentInput`): resolved tickets and FAQ entries are indexed here;
the archive ingest job hands its message chunks over in the same shape
(`SourceKind.ARCHIVE_MESSAGE`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import numpy as np
import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy import ColumnElement, CursorResult, and_, delete, func, literal, or_, select, text
from sqlmodel import Session, col

from crm_app import routes
from crm_app.ai.embeddings import EmbeddingProvider, embed_query, get_provider
from crm_app.ai.minilm import DIMENSIONS as ENGLISH_DIMENSIONS
from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput, NotAuthenticated, PermissionDenied
from models.base import utcnow
from models.client import Client
from models.retrieval import (
    Audience,
    RetrievalChunk,
    RetrievalDocument,
    SourceKind,
)
from models.ticket import SenderKind, Ticket, TicketMessage, TicketStatus

log = logging.getLogger(__name__)

RRF_K = 60  # the usual reciprocal-rank-fusion constant
# Weights of the two rankers in the fusion. Client questions share few exact words with past
# tickets, so meaning leads and full text breaks ties and catches codes, names and numbers
# (measured with bench/ai_eval.py on the development sets). A full-text rank counts in
# proportion to the share of the query's words the document holds (`_coverage`).
VECTOR_WEIGHT = 1.0
TEXT_WEIGHT = 0.3
CANDIDATES = 50  # per ranker, before fusion
CHUNK_CHARS = 1500
CHUNK_OVERLAP = 200
MAX_QUERY_CHARS = 4000


@dataclass
class DocumentInput:
    source_kind: str
    source_ref: str
    title: str = ""
    question: str = ""
    answer: str = ""
    audience: str = Audience.STAFF
    client_id: int | None = None
    link: str | None = None
    label: str | None = None
    participants: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    source_updated_at: datetime | None = None
    # Ready-made chunks (the archive job's); otherwise question and answer are chunked here.
    chunks: list[str] | None = None

    def chunk_texts(self) -> list[str]:
        if self.chunks:
            return [c for c in (c.strip() for c in self.chunks) if c]
        body = "\n\n".join(p for p in (self.title, self.question, self.answer) if p.strip())
        return chunk_text(body)

    def content_hash(self) -> str:
        payload = json.dumps(
            [
                self.title,
                self.question,
                self.answer,
                self.chunks,
                self.audience,
                self.client_id,
                self.label,
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class SearchHit:
    document_id: int
    source_kind: str
    source_ref: str
    title: str
    link: str
    snippet: str
    question: str
    answer: str
    label: str
    client_id: int | None
    occurred_at: str
    score: float
    text_rank: int | None
    vector_rank: int | None
    similarity: float


def chunk_text(body: str, size: int = CHUNK_CHARS, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Split on paragraph/sentence boundaries into chunks of about `size` characters."""
    body = body.strip()
    if len(body) <= size:
        return [body] if body else []
    chunks, start = [], 0
    while start < len(body):
        end = min(len(body), start + size)
        if end < len(body):
            floor = start + size // 2
            cut = max(body.rfind("\n", floor, end), body.rfind(". ", floor, end))
            end = cut + 1 if cut > 0 else end
        chunks.append(body[start:end].strip())
        if end >= len(body):
            break
        start = max(end - overlap, start + 1)
    return [c for c in chunks if c]


# --- indexing ---------------------------------------------------------------------------------


def upsert_documents(
    actor: Actor, documents: list[DocumentInput], provider: EmbeddingProvider | None = None
) -> int:
    """Insert or refresh documents and their chunks (embedded in batches). Returns how many
    documents changed. Unchanged documents embedded by the current model are left alone."""
    require(actor, Action.EDIT_TICKETS)
    if not documents:
        return 0
    provider = provider or get_provider()
    for doc in documents:
        if doc.source_kind not in {k.value for k in SourceKind}:
            raise InvalidInput(f"Unknown source kind {doc.source_kind!r}.")
        if doc.audience not in {a.value for a in Audience}:
            raise InvalidInput(f"Unknown audience {doc.audience!r}.")
    with session_scope() as session:
        existing = {
            (d.source_kind, d.source_ref): d
            for d in session.scalars(
                select(RetrievalDocument).where(
                    or_(
                        *[
                            and_(
                                col(RetrievalDocument.source_kind) == d.source_kind,
                                col(RetrievalDocument.source_ref) == d.source_ref,
                            )
                            for d in documents
                        ]
                    )
                )
            )
        }
        stale_models = set()
        if existing:
            stale_models = {
                row[0]
                for row in session.execute(
                    select(col(RetrievalChunk.document_id)).where(
                        col(RetrievalChunk.document_id).in_([d.id for d in existing.values()]),
                        or_(
                            col(RetrievalChunk.embedding_model).is_(None),
                            col(RetrievalChunk.embedding_model) != provider.name,
                        ),
                    )
                )
            }
        todo: list[tuple[DocumentInput, RetrievalDocument]] = []
        now = utcnow()
        for doc in documents:
            digest = doc.content_hash()
            row = existing.get((doc.source_kind, doc.source_ref))
            if row is not None and row.content_hash == digest and row.id not in stale_models:
                continue
            if row is None:
                row = RetrievalDocument(source_kind=doc.source_kind, source_ref=doc.source_ref)
                session.add(row)
            row.title, row.question, row.answer = doc.title[:500], doc.question, doc.answer
            row.audience, row.client_id, row.link, row.label = (
                doc.audience,
                doc.client_id,
                doc.link,
                doc.label,
            )
            row.participants, row.meta = list(doc.participants), dict(doc.metadata)
            row.occurred_at, row.source_updated_at = doc.occurred_at, doc.source_updated_at
            row.content_hash, row.updated_at = digest, now
            todo.append((doc, row))
        session.flush()
        if not todo:
            return 0
        session.execute(
            delete(RetrievalChunk).where(
                col(RetrievalChunk.document_id).in_([row.id for _, row in todo])
            )
        )
        pieces = [(row, i, chunk) for doc, row in todo for i, chunk in enumerate(doc.chunk_texts())]
        vectors: np.ndarray | list[Any] = (
            provider.embed([chunk for _, _, chunk in pieces]) if pieces else []
        )
        for (row, index, chunk), vector in zip(pieces, vectors, strict=True):
            assert row.id is not None  # flushed above
            session.add(
                RetrievalChunk(
                    document_id=row.id,
                    chunk_index=index,
                    text=chunk,
                    meta={"source_kind": row.source_kind, "client_id": row.client_id},
                    embedding=vector,
                    embedding_model=provider.name,
                )
            )
        return len(todo)


def delete_document(actor: Actor, source_kind: str, source_ref: str) -> bool:
    """Forget a source (e.g. an unpublished FAQ entry, a ticket reopened)."""
    require(actor, Action.EDIT_TICKETS)
    with session_scope() as session:
        result = cast(
            "CursorResult[Any]",
            session.execute(
                delete(RetrievalDocument).where(
                    col(RetrievalDocument.source_kind) == source_kind,
                    col(RetrievalDocument.source_ref) == source_ref,
                )
            ),
        )
        return bool(result.rowcount)


def resolved_ticket_document(session: Session, ticket: Ticket) -> DocumentInput | None:
    """A resolved ticket as question (the client's words) and answer (the agent's last reply).
    Internal notes never enter the store."""
    messages: Sequence[TicketMessage] = (
        session.execute(
            select(TicketMessage)
            .where(
                col(TicketMessage.ticket_id) == ticket.id, col(TicketMessage.is_internal).is_(False)
            )
            .order_by(col(TicketMessage.created_at), col(TicketMessage.id))
        )
        .scalars()
        .all()
    )
    if not messages:
        return None
    client_msgs = [m.body_text for m in messages if m.sender_kind == SenderKind.CLIENT]
    question = "\n\n".join(client_msgs) if client_msgs else messages[0].body_text
    replies = [m for m in messages[1:] if m.sender_kind == SenderKind.AGENT]
    if not replies:
        return None
    client = session.get(Client, ticket.client_id) if ticket.client_id else None
    return DocumentInput(
        source_kind=SourceKind.RESOLVED_TICKET,
        source_ref=str(ticket.number),
        title=ticket.subject,
        question=question.strip(),
        answer=replies[-1].body_text.strip(),
        audience=Audience.CLIENT,
        client_id=ticket.client_id,
        link=routes.ticket(ticket.number),
        participants=[client.name] if client else [],
        metadata={"ticket_number": ticket.number, "channel": ticket.channel},
        occurred_at=ticket.resolved_at or ticket.updated_at,
        source_updated_at=ticket.updated_at,
        chunks=[f"{ticket.subject}\n{question}".strip(), replies[-1].body_text.strip()],
    )


def index_resolved_tickets(limit: int = 200, provider: EmbeddingProvider | None = None) -> int:
    """Index resolved/closed tickets that are new or changed since last indexed; drop ones that
    were reopened. Incremental: compares the ticket's `updated_at` with what was indexed."""
    from crm_app.auth.permissions import SYSTEM

    done = {TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value}
    doc = RetrievalDocument
    with session_scope() as session:
        ref = sa.cast(Ticket.number, sa.String)
        changed: Sequence[Ticket] = (
            session.execute(
                select(Ticket)
                .outerjoin(
                    doc,
                    and_(
                        col(doc.source_kind) == SourceKind.RESOLVED_TICKET,
                        col(doc.source_ref) == ref,
                    ),
                )
                .where(
                    col(Ticket.status).in_(done),
                    or_(col(doc.id).is_(None), col(doc.source_updated_at) < col(Ticket.updated_at)),
                )
                .order_by(col(Ticket.updated_at))
                .limit(limit)
            )
            .scalars()
            .all()
        )
        inputs = [d for d in (resolved_ticket_document(session, t) for t in changed) if d]
        reopened: Sequence[int] = (
            session.execute(
                select(col(doc.id))
                .join(Ticket, ref == doc.source_ref)
                .where(
                    col(doc.source_kind) == SourceKind.RESOLVED_TICKET,
                    col(Ticket.status).not_in(done),
                )
            )
            .scalars()
            .all()
        )
        if reopened:
            session.execute(delete(doc).where(col(doc.id).in_(reopened)))
    return upsert_documents(SYSTEM, inputs, provider)


def reembed_stale(limit: int = 256, provider: EmbeddingProvider | None = None) -> int:
    """Re-embed chunks made by another model (after a model change), a batch at a time."""
    provider = provider or get_provider()
    with session_scope() as session:
        rows: Sequence[RetrievalChunk] = (
            session.execute(
                select(RetrievalChunk)
                .where(
                    or_(
                        col(RetrievalChunk.embedding_model).is_(None),
                        col(RetrievalChunk.embedding_model) != provider.name,
                    )
                )
                .order_by(col(RetrievalChunk.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        if not rows:
            return 0
        for row, vector in zip(rows, provider.embed([r.text for r in rows]), strict=True):
            row.embedding, row.embedding_model = vector.tolist(), provider.name
        return len(rows)


# --- search -----------------------------------------------------------------------------------


def visible_documents(actor: Actor | None) -> ColumnElement[bool]:
    """The SQL condition for documents `actor` may retrieve; raises for no role at all."""
    if actor is None:
        raise NotAuthenticated("Please sign in.")
    doc = RetrievalDocument
    if actor.is_system or can(actor, Action.MANAGE_AI):
        return literal(True)
    if can(actor, Action.VIEW_TICKETS):
        return col(doc.audience).in_([Audience.PUBLIC, Audience.CLIENT, Audience.STAFF])
    if can(actor, Action.USE_PORTAL):
        own_clients = select(col(Client.id)).where(col(Client.portal_user_id) == actor.user_id)
        return or_(
            col(doc.audience) == Audience.PUBLIC,
            and_(col(doc.audience) == Audience.CLIENT, col(doc.client_id).in_(own_clients)),
        )
    if actor.role:
        return col(doc.audience) == Audience.PUBLIC
    raise PermissionDenied("Your account has no role yet: a manager must assign one.")


def _filters(
    actor: Actor | None,
    source_kinds: list[str] | None,
    client_id: int | None,
    date_from: datetime | None,
    date_to: datetime | None,
) -> list[ColumnElement[bool]]:
    doc = RetrievalDocument
    conditions = [visible_documents(actor)]
    if source_kinds:
        unknown = set(source_kinds) - {k.value for k in SourceKind}
        if unknown:
            raise InvalidInput(f"Unknown source kind: {', '.join(sorted(unknown))}.")
        conditions.append(col(doc.source_kind).in_(source_kinds))
    if client_id is not None:
        conditions.append(col(doc.client_id) == client_id)
    if date_from is not None:
        conditions.append(col(doc.occurred_at) >= date_from)
    if date_to is not None:
        conditions.append(col(doc.occurred_at) <= date_to)
    return conditions


def _nearest(
    session: Session,
    query_vector: np.ndarray,
    model: str,
    conditions: list[ColumnElement[bool]],
) -> list[tuple[int, float]]:
    """(document id, cosine distance) of the chunks `model` embedded, nearest first."""
    chunk, doc = RetrievalChunk, RetrievalDocument
    dims = int(query_vector.shape[0])
    # A cast to the query's width matches a partial HNSW index's expression (for the offline
    # models' widths), so the planner can use it; other widths are scanned exactly.
    distance = sa.cast(chunk.embedding, Vector(dims)).cosine_distance(query_vector.tolist())
    width_ok = func.vector_dims(chunk.embedding) == dims
    nearest = (
        select(col(chunk.document_id), distance.label("distance"))
        .join(doc, col(doc.id) == col(chunk.document_id))
        .where(width_ok, col(chunk.embedding_model) == model, *conditions)
        .order_by(distance)
        .limit(CANDIDATES * 3)
    )
    return [(doc_id, float(dist)) for doc_id, dist in session.execute(nearest).tuples().all()]


def _coverage(
    session: Session, doc_ids: list[int], query: str, tsquery: ColumnElement[Any]
) -> dict[int, float]:
    """Per full-text candidate, the share of the query's lexemes its best chunk holds: one
    common word shared with a long question says little, an account code matched whole a lot.
    Counted for the few candidates only, not for every chunk that matches a word."""
    if not doc_ids:
        return {}
    chunk = RetrievalChunk
    query_words = func.tsvector_to_array(func.to_tsvector("english", query))
    word = func.unnest(func.tsvector_to_array(chunk.tsv)).column_valued("word")
    matched = select(func.count()).where(word == sa.any_(query_words)).scalar_subquery()
    share = sa.cast(func.max(matched), sa.Float) / func.greatest(func.cardinality(query_words), 1)
    rows = session.execute(
        select(col(chunk.document_id), share)
        .where(col(chunk.document_id).in_(doc_ids), col(chunk.tsv).op("@@")(tsquery))
        .group_by(col(chunk.document_id))
    ).tuples()
    found = {doc_id: min(1.0, float(value or 0.0)) for doc_id, value in rows}
    return {doc_id: found.get(doc_id, 0.0) for doc_id in doc_ids}


def _any_chunk_of(session: Session, model: str) -> bool:
    found = session.execute(
        select(col(RetrievalChunk.id)).where(col(RetrievalChunk.embedding_model) == model).limit(1)
    ).first()
    return found is not None


def search(
    actor: Actor | None,
    query: str,
    *,
    k: int = 5,
    source_kinds: list[str] | None = None,
    client_id: int | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    exclude_refs: list[tuple[str, str]] | None = None,
    provider: EmbeddingProvider | None = None,
    query_vector: np.ndarray | None = None,
) -> list[SearchHit]:
    """Hybrid search: full-text and vector rankings fused by reciprocal rank, best document
    first. Only documents the actor may see are ever considered."""
    conditions = _filters(actor, source_kinds, client_id, date_from, date_to)
    query = " ".join((query or "").split())[:MAX_QUERY_CHARS]
    if not query:
        raise InvalidInput("Type something to search for.")
    k = min(max(int(k), 1), 50)
    for kind, ref in exclude_refs or []:
        conditions.append(
            ~and_(
                col(RetrievalDocument.source_kind) == kind, col(RetrievalDocument.source_ref) == ref
            )
        )
    provider = provider or get_provider()
    if query_vector is None:
        query_vector = embed_query(provider, [query])[0]
    chunk, doc = RetrievalChunk, RetrievalDocument
    # Any word may match (OR), ranked by cover density: questions rarely share every word.
    tsquery = func.to_tsquery(
        "english", func.replace(sa.cast(func.plainto_tsquery("english", query), sa.Text), "&", "|")
    )
    text_rank = func.ts_rank_cd(chunk.tsv, tsquery)
    with session_scope() as session:
        text_rows = (
            session.execute(
                select(col(chunk.document_id), func.max(text_rank).label("rank"))
                .join(doc, col(doc.id) == col(chunk.document_id))
                .where(col(chunk.tsv).op("@@")(tsquery), *conditions)
                .group_by(col(chunk.document_id))
                .order_by(text("rank DESC"))
                .limit(CANDIDATES)
            )
            .tuples()
            .all()
        )
        session.execute(text("SET LOCAL hnsw.ef_search = 200"))
        vector_rows = _nearest(session, query_vector, provider.name, conditions)
        # While the store is re-embedded after a switch to the multilingual model, chunks still
        # holding the English model's vectors are found by the query's English half.
        english_half = getattr(provider, "english_half", None)
        if english_half and _any_chunk_of(session, english_half):
            half = query_vector[:ENGLISH_DIMENSIONS]
            if float(np.linalg.norm(half)) > 1e-6:
                legacy = _nearest(session, half / np.linalg.norm(half), english_half, conditions)
                vector_rows = sorted([*vector_rows, *legacy], key=lambda row: row[1])
        text_ranks = {doc_id: i + 1 for i, (doc_id, _) in enumerate(text_rows)}
        coverage = _coverage(session, list(text_ranks), query, tsquery)
        vector_ranks: dict[int, int] = {}
        similarity: dict[int, float] = {}
        for doc_id, dist in vector_rows:
            if doc_id not in vector_ranks:
                vector_ranks[doc_id] = len(vector_ranks) + 1
                similarity[doc_id] = 1.0 - float(dist)
        fused: dict[int, float] = {}
        for doc_id, rank in text_ranks.items():
            fused[doc_id] = TEXT_WEIGHT * coverage[doc_id] / (RRF_K + rank)
        for doc_id, rank in vector_ranks.items():
            fused[doc_id] = fused.get(doc_id, 0.0) + VECTOR_WEIGHT / (RRF_K + rank)
        best = sorted(fused, key=lambda d: (-fused[d], d))[:k]
        if not best:
            return []
        docs = {d.id: d for d in session.scalars(select(doc).where(col(doc.id).in_(best)))}
        snippets = dict(
            session.execute(
                select(col(chunk.document_id), col(chunk.text)).where(
                    col(chunk.document_id).in_(best), col(chunk.chunk_index) == 0
                )
            ).all()
        )
        return [
            SearchHit(
                document_id=d,
                source_kind=docs[d].source_kind,
                source_ref=docs[d].source_ref,
                title=docs[d].title,
                link=docs[d].link or "",
                snippet=(snippets.get(d) or "")[:300],
                question=docs[d].question,
                answer=docs[d].answer,
                label=docs[d].label or "",
                client_id=docs[d].client_id,
                occurred_at=when.isoformat() if (when := docs[d].occurred_at) else "",
                score=round(fused[d], 6),
                text_rank=text_ranks.get(d),
                vector_rank=vector_ranks.get(d),
                similarity=round(similarity.get(d, 0.0), 4),
            )
            for d in best
            if d in docs
        ]
