"""FAQ clustering: group client questions from a time window into topics without being told
how many. Average-linkage agglomerative clustering on cosine distance with a distance threshold
(so the number of topics follows the data); each topic gets its representative question (the
medoid), its size, its member tickets and the best resolved answer from the retrieval store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select

from crm_app.ai import retrieval
from crm_app.ai.embeddings import EmbeddingProvider, get_provider
from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput
from models.retrieval import SourceKind
from models.ticket import SenderKind, Ticket, TicketMessage

DISTANCE_THRESHOLD = 0.68  # cosine distance; tuned on the development sets in bench/data
MAX_QUESTIONS = 5000


@dataclass
class Topic:
    representative: str
    size: int
    ticket_numbers: list[int] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    best_answer: str = ""
    best_answer_link: str = ""


def cluster_labels(vectors: np.ndarray, threshold: float = DISTANCE_THRESHOLD) -> np.ndarray:
    """Cluster ids for unit vectors; the count is found, not given."""
    from sklearn.cluster import AgglomerativeClustering

    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold,
                                    metric="cosine", linkage="average")
    return model.fit_predict(vectors)


def cluster_texts(texts: list[str], provider: EmbeddingProvider | None = None,
                  threshold: float = DISTANCE_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    vectors = (provider or get_provider()).embed(texts)
    return cluster_labels(vectors, threshold), vectors


def _medoid(indices: list[int], vectors: np.ndarray) -> int:
    block = vectors[indices]
    return indices[int((block @ block.T).sum(axis=1).argmax())]


def client_questions(date_from: datetime, date_to: datetime) -> list[tuple[int, str]]:
    """(ticket number, first client message) for tickets opened in the window."""
    with session_scope() as session:
        first = (select(TicketMessage.ticket_id, TicketMessage.body_text,
                        TicketMessage.created_at)
                 .where(TicketMessage.sender_kind == SenderKind.CLIENT,
                        TicketMessage.is_internal.is_(False))
                 .distinct(TicketMessage.ticket_id)
                 .order_by(TicketMessage.ticket_id, TicketMessage.created_at).subquery())
        rows = session.execute(
            select(Ticket.number, first.c.body_text).join(first, first.c.ticket_id == Ticket.id)
            .where(Ticket.created_at >= date_from, Ticket.created_at < date_to)
            .order_by(Ticket.created_at).limit(MAX_QUESTIONS)
        ).all()
    return [(number, body) for number, body in rows if body.strip()]


def faq_topics(actor: Actor, date_from: datetime, date_to: datetime, *, min_size: int = 2,
               provider: EmbeddingProvider | None = None) -> list[Topic]:
    """Topics of client questions in [date_from, date_to), biggest first."""
    require(actor, Action.VIEW_TICKETS)
    if date_to <= date_from:
        raise InvalidInput("The window must end after it starts.")
    questions = client_questions(date_from, date_to)
    if not questions:
        return []
    provider = provider or get_provider()
    labels, vectors = cluster_texts([q for _, q in questions], provider)
    topics: list[Topic] = []
    for label in set(labels.tolist()):
        members = [i for i, lab in enumerate(labels) if lab == label]
        if len(members) < min_size:
            continue
        centre = _medoid(members, vectors)
        topic = Topic(representative=questions[centre][1], size=len(members),
                      ticket_numbers=[questions[i][0] for i in members],
                      questions=[questions[i][1] for i in members])
        hits = retrieval.search(actor, topic.representative, k=1,
                                source_kinds=[SourceKind.RESOLVED_TICKET, SourceKind.FAQ],
                                provider=provider, query_vector=vectors[centre])
        if hits:
            topic.best_answer, topic.best_answer_link = hits[0].answer, hits[0].link
        topics.append(topic)
    return sorted(topics, key=lambda t: -t.size)
