"""FAQ clustering: group client questions from a time window into topics without being told
how many. Each topic gets its representative question (the medoid), its size, its member
tickets and the best resolved answer from the retrieval store.

How (chosen on the development sets in bench/data, checked on the held-out set there):
- the sentence vectors are centred on the window's own mean before comparing them. Every
  question in a finance helpdesk shares a "banking question" direction; removing it spreads the
  topics apart. The shift is shrunk for small windows, where the mean is mostly noise;
- the similarity blends those vectors with character n-gram TF-IDF, which catches the words a
  topic is named by (1099, SWIFT, RMD) even when typed with a typo;
- that similarity is blended with its second-order form: how alike two questions' nearest
  neighbours are (cosine of their top-k similarity profiles). Two phrasings of one intent that
  share few words still share neighbours; two intents that share a word ("card") do not. This
  raised NMI on every development set, most on the hard `intents_*` one (close intents, mixed
  languages and lengths), without being told the number of topics;
- average-linkage agglomerative clustering cut at a fixed distance: the number of topics
  follows the data, and the cut is in units of similarity, not of group count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlmodel import col

from crm_app.ai import retrieval
from crm_app.ai.embeddings import EmbeddingProvider, get_provider
from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput
from models.retrieval import SourceKind
from models.ticket import SenderKind, Ticket, TicketMessage

DISTANCE_THRESHOLD = 0.80  # on the blended, centred similarity below
LEXICAL_WEIGHT = 0.2  # share of character n-gram TF-IDF in the similarity
SECOND_ORDER_WEIGHT = 0.5  # share of the shared-neighbour similarity
NEIGHBOURS = 5  # size of each question's neighbour profile
CENTRE_SHRINK = 10  # the mean is subtracted with weight n / (n + CENTRE_SHRINK)
MAX_QUESTIONS = 5000


@dataclass
class Topic:
    representative: str
    size: int
    ticket_numbers: list[int] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    best_answer: str = ""
    best_answer_link: str = ""


def _centred(vectors: np.ndarray) -> np.ndarray:
    n = len(vectors)
    shifted = vectors - (n / (n + CENTRE_SHRINK)) * vectors.mean(axis=0, keepdims=True)
    return shifted / np.maximum(np.linalg.norm(shifted, axis=1, keepdims=True), 1e-12)


def similarity_matrix(vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
    """Pairwise similarity in [-1, 1]: centred sentence vectors blended with n-gram TF-IDF."""
    vectors = np.asarray(vectors, dtype=np.float32)
    centred = _centred(vectors)
    similarity = centred @ centred.T
    if texts is not None and LEXICAL_WEIGHT > 0:
        from sklearn.feature_extraction.text import TfidfVectorizer

        try:
            tfidf = TfidfVectorizer(
                analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32
            ).fit_transform([t or "" for t in texts])
            lexical = (tfidf @ tfidf.T).toarray()  # rows are L2-normalised by the vectorizer
            similarity = (1 - LEXICAL_WEIGHT) * similarity + LEXICAL_WEIGHT * lexical
        except ValueError:  # no n-grams at all (empty or one-character texts)
            pass
    return similarity


def shared_neighbour_similarity(similarity: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """Cosine of the rows' top-`k` similarity profiles (each row keeps its own k+1 largest
    non-negative entries, itself included, and zeros elsewhere)."""
    n = len(similarity)
    k = min(k, n - 1)
    if k < 1:
        return similarity
    kth = np.partition(similarity, n - 1 - k, axis=1)[:, n - 1 - k]
    profile = np.where(similarity >= kth[:, None], np.maximum(similarity, 0.0), 0.0)
    profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12)
    return profile @ profile.T


def cluster_labels(
    vectors: np.ndarray, texts: list[str] | None = None, threshold: float = DISTANCE_THRESHOLD
) -> np.ndarray:
    """Cluster ids (0..k-1) for unit vectors (and their texts); the count is found, not given."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    similarity = similarity_matrix(vectors, texts).astype(np.float64)
    if SECOND_ORDER_WEIGHT > 0:
        similarity = (1 - SECOND_ORDER_WEIGHT) * similarity + SECOND_ORDER_WEIGHT * (
            shared_neighbour_similarity(similarity)
        )
    distance = np.clip(1.0 - similarity, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    distance = (distance + distance.T) / 2  # exact symmetry for squareform
    tree = linkage(squareform(distance, checks=False), method="average")
    raw = fcluster(tree, threshold, criterion="distance")
    # Renumber by first appearance so ids are stable and start at 0.
    return _renumber(raw)


def _renumber(raw: np.ndarray) -> np.ndarray:
    mapping: dict[int, int] = {}
    return np.array([mapping.setdefault(int(x), len(mapping)) for x in raw], dtype=int)


def cluster_texts(
    texts: list[str],
    provider: EmbeddingProvider | None = None,
    threshold: float = DISTANCE_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    vectors = (provider or get_provider()).embed(texts)
    return cluster_labels(vectors, texts, threshold), vectors


def _medoid(indices: list[int], vectors: np.ndarray) -> int:
    block = vectors[indices]
    return indices[int((block @ block.T).sum(axis=1).argmax())]


def client_questions(
    date_from: datetime, date_to: datetime, limit: int = MAX_QUESTIONS
) -> list[tuple[int, str]]:
    """(ticket number, first client message) for tickets opened in the window, the newest
    `limit` of them, oldest first."""
    with session_scope() as session:
        first = (
            select(
                col(TicketMessage.ticket_id),
                col(TicketMessage.body_text),
                col(TicketMessage.created_at),
            )
            .where(
                col(TicketMessage.sender_kind) == SenderKind.CLIENT,
                col(TicketMessage.is_internal).is_(False),
            )
            .distinct(col(TicketMessage.ticket_id))
            .order_by(col(TicketMessage.ticket_id), col(TicketMessage.created_at))
            .subquery()
        )
        rows = (
            session.execute(
                select(col(Ticket.number), first.c.body_text)
                .join(first, first.c.ticket_id == Ticket.id)
                .where(col(Ticket.created_at) >= date_from, col(Ticket.created_at) < date_to)
                .order_by(col(Ticket.created_at).desc())
                .limit(limit)
            )
            .tuples()
            .all()
        )
    return [(number, body) for number, body in reversed(rows) if body.strip()]


def faq_topics(
    actor: Actor,
    date_from: datetime,
    date_to: datetime,
    *,
    min_size: int = 2,
    provider: EmbeddingProvider | None = None,
) -> list[Topic]:
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
        topic = Topic(
            representative=questions[centre][1],
            size=len(members),
            ticket_numbers=[questions[i][0] for i in members],
            questions=[questions[i][1] for i in members],
        )
        hits = retrieval.search(
            actor,
            topic.representative,
            k=1,
            source_kinds=[SourceKind.RESOLVED_TICKET, SourceKind.FAQ],
            provider=provider,
            query_vector=vectors[centre],
        )
        if hits:
            topic.best_answer, topic.best_answer_link = hits[0].answer, hits[0].link
        topics.append(topic)
    return sorted(topics, key=lambda t: -t.size)
