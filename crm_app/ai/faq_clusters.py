"""FAQ clustering: group client questions from a time window into topics without being told
how many. Each topic gets its representative question (the medoid), its size, its member
tickets and the best resolved answer from the retrieval store.

How (chosen on the development sets in bench/data, checked on the held-out set there):
- the sentence vectors are centred on the window's own mean before comparing them. Every
  question in a finance helpdesk shares a "banking question" direction; removing it spreads the
  topics apart. The shift is shrunk for small windows, where the mean is mostly noise;
- before that, questions in another language than the window's main one are moved by their
  language's offset (their mean minus the main language's; `crm_app.ai.languages` tells the
  language). The offline encoder is English-only: German or Spanish questions sit near each
  other whatever they ask, and made one topic per language. Removing a language's mean is the
  usual way to make sentence vectors language-neutral (Libovický et al. 2020, "On the Language
  Neutrality of Pre-trained Multilingual Representations"). A window in one language is
  unchanged. On `intents_*` (one question in six not in English) NMI went from 0.726 to 0.815;
  on English public intent sets (BANKING77, CLINC150, HWU64 subsets) it is the same as before;
- with the multilingual offline embedding (MiniLM beside USE, `crm_app.ai.embeddings`), a pair
  of questions in the main language is compared by the MiniLM half and a pair where either is
  in another language by the USE half, which puts a question and its translation together. On
  `intents_*` NMI went from 0.815 to 0.847; the English sets are unchanged (they use MiniLM,
  still the better model for English paraphrases);
- before embedding is compared, each English question's MiniLM vector leans a fifth of the way
  to the vector of its content words (`content_words`: the request's frame, "could you please
  tell me how I ...", dropped; negations kept). Short questions otherwise sit together by their
  frame. NMI rose on `intents_*` (0.847 -> 0.856), `support2_*` (0.930 -> 0.935) and the
  held-out set (0.861 -> 0.873), and stayed on `support_*` (0.776);
- the similarity blends those vectors with character n-gram TF-IDF, which catches the words a
  topic is named by (1099, SWIFT, RMD) even when typed with a typo. Another language's n-gram
  vectors are centred on that language's mean too (on their Gram matrix), so its function words
  ("ich", "meine") no longer tie its questions together;
- that similarity is blended with its second-order form: how alike two questions' nearest
  neighbours are (cosine of their top-k similarity profiles). Two phrasings of one intent that
  share few words still share neighbours; two intents that share a word ("card") do not. This
  raised NMI on every development set, most on the hard `intents_*` one (close intents, mixed
  languages and lengths), without being told the number of topics;
- average-linkage agglomerative clustering cut at a fixed distance: the number of topics
  follows the data, and the cut is in units of similarity, not of group count.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlmodel import col

from crm_app.ai import retrieval
from crm_app.ai.embeddings import (
    EmbeddingProvider,
    LocalMiniLM,
    LocalMultilingual,
    get_provider,
    split_halves,
)
from crm_app.ai.minilm import DIMENSIONS as ENGLISH_DIMENSIONS
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
LANGUAGE_SHRINK = 1  # another language's offset is removed with weight n / (n + LANGUAGE_SHRINK)
MAX_QUESTIONS = 5000
CONTENT_WEIGHT = 0.2  # share of the content words' vector in a question's MiniLM vector
# English words that frame a request (articles, pronouns, auxiliaries, prepositions, courtesy,
# question words); negations are not among them: "not received" is a topic's half.
REQUEST_FRAME = frozenset(
    """
    a an the this that these those my your our their his her its me i i'm i've i'd i'll im ive
    id we you he she it they them us him is are was were be been being am do does did doing
    have has had having will would shall should can could may might must to of for in on at by
    with from about as into over after before than then so and or but if please kindly hi
    hello hey dear thanks thank there here what which who whom whose when where why how just
    also still yet already some any again get got want wanted like need needed wondering
    wonder know let tell help
    """.split()  # noqa: SIM905 (a word list reads better as words)
)


@dataclass
class Topic:
    representative: str
    size: int
    ticket_numbers: list[int] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    best_answer: str = ""
    best_answer_link: str = ""


def language_groups(texts: list[str] | None, n: int) -> np.ndarray:
    """A group id per question, by language: 0 for the window's main language (the most
    common), 1.. for the others. One group when the texts are not known."""
    if texts is None:
        return np.zeros(n, dtype=int)
    from crm_app.ai import languages

    found = languages.detect(texts)
    ranked = [lang for lang, _ in Counter(found).most_common()]
    return np.array([ranked.index(lang) for lang in found], dtype=int)


def _language_offsets(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalised membership (n x groups: 1 / group size) and each row's weight: 0 in the
    main language, n / (n + LANGUAGE_SHRINK) in another language of n questions."""
    sizes = np.bincount(groups)
    members = np.zeros((len(groups), len(sizes)))
    members[np.arange(len(groups)), groups] = 1.0 / sizes[groups]
    weight = sizes / (sizes + LANGUAGE_SHRINK)
    weight[0] = 0.0
    return members, weight[groups]


def _centred(vectors: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each other language's mean moved onto the main language's, then every vector centred on
    the window's mean (shrunk for small windows), unit length again."""
    members, weight = _language_offsets(groups)
    means = members.T @ vectors  # one row per language
    aligned = vectors - weight[:, None] * (means[groups] - means[0])
    n = len(aligned)
    shifted = aligned - (n / (n + CENTRE_SHRINK)) * aligned.mean(axis=0, keepdims=True)
    return shifted / np.maximum(np.linalg.norm(shifted, axis=1, keepdims=True), 1e-12)


def _centred_gram(gram: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Cosines of feature vectors whose other-language rows are centred on their language's
    mean (x - w mean), computed from the Gram matrix alone: the sparse n-gram vectors are never
    made dense."""
    members, weight = _language_offsets(groups)
    to_means = (gram @ members)[:, groups] * weight[None, :]  # <x_i, w_j mean_j>
    between = (members.T @ gram @ members)[np.ix_(groups, groups)] * np.outer(weight, weight)
    centred = gram - to_means - to_means.T + between
    norms = np.sqrt(np.maximum(np.diag(centred), 1e-12))
    return centred / np.outer(norms, norms)


def _multilingual_similarity(
    english: np.ndarray, multilingual: np.ndarray, groups: np.ndarray
) -> np.ndarray:
    """Two questions in the window's main language are compared by MiniLM (the better model
    for English); a pair where either is in another language by the multilingual USE half
    (MiniLM reads only English, so its cosine there measures the language more than the
    question)."""
    by_english = _centred(english, groups)
    by_use = _centred(multilingual, groups)
    main = groups == 0
    return np.where(np.outer(main, main), by_english @ by_english.T, by_use @ by_use.T)


def similarity_matrix(vectors: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
    """Pairwise similarity in [-1, 1]: sentence vectors centred per language, blended with
    n-gram TF-IDF."""
    vectors = np.asarray(vectors, dtype=np.float64)
    groups = language_groups(texts, len(vectors))
    halves = split_halves(vectors)
    if halves is None:
        centred = _centred(vectors, groups)
        similarity = centred @ centred.T
    else:
        similarity = _multilingual_similarity(*halves, groups)
    if texts is not None and LEXICAL_WEIGHT > 0:
        from sklearn.feature_extraction.text import TfidfVectorizer

        try:
            tfidf = TfidfVectorizer(
                analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32
            ).fit_transform([t or "" for t in texts])
            # rows are L2-normalised by the vectorizer
            lexical = (tfidf @ tfidf.T).toarray().astype(np.float64)
            if groups.max() > 0:
                lexical = _centred_gram(lexical, groups)
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
    similarity = similarity_matrix(vectors, texts)
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


def content_words(text: str) -> str:
    """`text` without the English words that frame a request rather than name its topic
    ("could you please tell me how I ...", "I still have"); negations and every other word
    stay. The text itself when it has no such word, or nothing else."""
    words = re.findall(r"[\w']+", text.lower())
    kept = [w for w in words if w not in REQUEST_FRAME]
    return " ".join(kept) if kept and len(kept) < len(words) else text


def question_vectors(
    texts: list[str], vectors: np.ndarray, provider: EmbeddingProvider
) -> np.ndarray:
    """The provider's `vectors` of `texts` for clustering; with an offline provider, each
    question's MiniLM vector leans (CONTENT_WEIGHT) towards the vector of its content words: a
    short question's vector carries much of its frame ("How do I ...", "Can you please ..."),
    which ties questions on different topics together."""
    vectors = np.array(vectors, dtype=np.float32)  # a copy: the caller keeps its vectors
    if not isinstance(provider, LocalMiniLM | LocalMultilingual) or not texts:
        return vectors
    framed = [content_words(t) for t in texts]
    changed = [
        i for i, (text, words) in enumerate(zip(texts, framed, strict=True)) if text != words
    ]
    if not changed:
        return vectors
    english = vectors[changed, :ENGLISH_DIMENSIONS]
    scale = np.linalg.norm(english, axis=1, keepdims=True)  # 1/sqrt(2) beside USE, else 1
    content = LocalMiniLM().embed([framed[i] for i in changed])
    blended = (1 - CONTENT_WEIGHT) * english / np.maximum(scale, 1e-12) + CONTENT_WEIGHT * content
    blended /= np.maximum(np.linalg.norm(blended, axis=1, keepdims=True), 1e-12)
    vectors[changed, :ENGLISH_DIMENSIONS] = blended * scale
    return vectors


def cluster_texts(
    texts: list[str],
    provider: EmbeddingProvider | None = None,
    threshold: float = DISTANCE_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ids and the questions' (unweighted) vectors, as the FAQ job uses them."""
    provider = provider or get_provider()
    vectors = provider.embed(texts)
    labels = cluster_labels(question_vectors(texts, vectors, provider), texts, threshold)
    return labels, vectors


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
