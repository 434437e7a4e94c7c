"""Sentiment of client messages: negative / neutral / positive with a signed score.

Offline default: a logistic regression over the sentence embedding plus a small financial
polarity lexicon (profits rise = good, losses widen = bad), trained from the labelled sentences
in `data/sentiment_train.csv` (written for this project) and shipped as `data/sentiment_model.json`.
Retrain with `python -m crm_app.ai.sentiment train`. With an LLM configured and
`use_for_sentiment` on, the LLM labels messages instead (falling back to the offline model when
it is down).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import Subquery, select
from sqlmodel import col

from crm_app.ai import llm
from crm_app.ai.embeddings import LocalMiniLM
from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from models.ai import MessageSentiment, SentimentLabel
from models.ticket import SenderKind, TicketMessage

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data"
TRAIN_FILE = DATA / "sentiment_train.csv"
MODEL_FILE = DATA / "sentiment_model.json"
LABELS = [
    SentimentLabel.NEGATIVE.value,
    SentimentLabel.NEUTRAL.value,
    SentimentLabel.POSITIVE.value,
]
OFFLINE_MODEL = "local/minilm-logreg-fin-lexicon"

# Direction words of financial reporting and client tone, counted as features.
_UP = (
    r"ros[ea]|rising|increas\w*|gr[eo]w\w*|jump\w*|surg\w*|soar\w*|improv\w*|rais\w*|record|"
    r"beat\w*|upgrad\w*|boost\w*|higher|strong\w*|profit(?!\s+warning)|won|win|gain\w*"
)
_DOWN = (
    r"fell|fall\w*|decreas\w*|declin\w*|drop\w*|slump\w*|plung\w*|los[st]\w*|cut\w*|"
    r"lower\w*|weak\w*|warn\w*|downgrad\w*|miss\w*|suspend\w*|fine[ds]?|red|deficit|"
    r"layoff\w*|closure|closing|widen\w*"
)
_GOOD = (
    r"thank\w*|great|excellent|appreciat\w*|happy|pleased|delighted|perfect|wonderful|"
    r"brilliant|fantastic|helpful|glad|good"
)
_BAD = (
    r"unacceptable|frustrat\w*|disappoint\w*|furious|angry|terrible|awful|ridiculous|"
    r"complain\w*|scam|worried|upset|fed up|wrong|overcharg\w*|crash\w*|never|still"
)
_LEXICON = [re.compile(rf"\b(?:{p})\b", re.IGNORECASE) for p in (_UP, _DOWN, _GOOD, _BAD)]


def lexicon_features(texts: list[str]) -> np.ndarray:
    counts = np.array(
        [[len(p.findall(t or "")) for p in _LEXICON] for t in texts], dtype=np.float32
    )
    return np.minimum(counts, 3.0) / 3.0


def features(texts: list[str]) -> np.ndarray:
    return np.hstack([LocalMiniLM().embed(texts), lexicon_features(texts)])


@dataclass(frozen=True)
class Sentiment:
    label: str
    score: float  # signed: P(positive) - P(negative)
    model: str


def _read_csv(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="") as handle:
        rows = [(r["text"], r["label"].strip().lower()) for r in csv.DictReader(handle)]
    return [t for t, _ in rows], [label for _, label in rows]


def train(path: Path = TRAIN_FILE, out: Path = MODEL_FILE) -> dict:
    from sklearn.linear_model import LogisticRegression

    texts, labels = _read_csv(path)
    model = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")
    model.fit(features(texts), labels)
    payload = {
        "classes": list(model.classes_),
        "coef": model.coef_.tolist(),
        "intercept": model.intercept_.tolist(),
        "embedding": LocalMiniLM.name,
        "train_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "examples": len(texts),
    }
    out.write_text(json.dumps(payload))
    _load_model.cache_clear()
    return payload


@lru_cache(maxsize=1)
def _load_model() -> tuple[list[str], np.ndarray, np.ndarray]:
    payload = json.loads(MODEL_FILE.read_text())
    return (
        payload["classes"],
        np.asarray(payload["coef"], dtype=np.float32),
        np.asarray(payload["intercept"], dtype=np.float32),
    )


def classify_offline(texts: list[str]) -> list[Sentiment]:
    if not texts:
        return []
    classes, coef, intercept = _load_model()
    logits = features(texts) @ coef.T + intercept
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    pos, neg = classes.index("positive"), classes.index("negative")
    return [
        Sentiment(classes[int(row.argmax())], round(float(row[pos] - row[neg]), 4), OFFLINE_MODEL)
        for row in probs
    ]


_LLM_PROMPT = (
    "Classify the sentiment of the client's message to their wealth manager as "
    "exactly one word: negative, neutral or positive."
)


def classify_llm(config: llm.LlmConfig, text: str) -> Sentiment:
    answer = llm.chat(
        config,
        [{"role": "system", "content": _LLM_PROMPT}, {"role": "user", "content": text[:4000]}],
        max_tokens=5,
        temperature=0.0,
    ).lower()
    for label in LABELS:
        if label in answer:
            score = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}[label]
            return Sentiment(label, score, f"litellm/{config.chat_model}")
    raise llm.LlmUnavailable("The language model gave no sentiment label.")


def classify(texts: list[str], config: llm.LlmConfig | None = None) -> list[Sentiment]:
    """Label texts through the LLM when configured for it, else (or when it fails) offline."""
    config = config if config is not None else llm.load_config()
    if config.chat_enabled and config.use_for_sentiment:
        try:
            return [classify_llm(config, t) for t in texts]
        except llm.LlmUnavailable as error:
            log.warning(
                "llm sentiment failed; using the offline model", extra={"error": str(error)}
            )
    return classify_offline(texts)


def score_new_client_messages(limit: int = 500) -> int:
    """Store the sentiment of client messages that have none yet (the indexing job calls this)."""
    with session_scope() as session:
        pending = (
            session.execute(
                select(
                    col(TicketMessage.id),
                    col(TicketMessage.ticket_id),
                    col(TicketMessage.body_text),
                )
                .outerjoin(
                    MessageSentiment, col(MessageSentiment.message_id) == col(TicketMessage.id)
                )
                .where(
                    col(TicketMessage.sender_kind) == SenderKind.CLIENT,
                    col(MessageSentiment.message_id).is_(None),
                )
                .order_by(col(TicketMessage.id))
                .limit(limit)
            )
            .tuples()
            .all()
        )
    if not pending:
        return 0
    results = classify([body for _, _, body in pending])
    with session_scope() as session:
        for (message_id, ticket_id, _), result in zip(pending, results, strict=True):
            session.merge(
                MessageSentiment(
                    message_id=message_id,
                    ticket_id=ticket_id,
                    label=result.label,
                    score=result.score,
                    model=result.model,
                )
            )
    return len(pending)


def sentiment_for_messages(actor: Actor, message_ids: list[int]) -> dict[int, Sentiment]:
    """Stored sentiment of these messages (staff only: it is an internal signal)."""
    require(actor, Action.VIEW_TICKETS)
    if not message_ids:
        return {}
    with session_scope() as session:
        rows = session.scalars(
            select(MessageSentiment).where(col(MessageSentiment.message_id).in_(message_ids))
        ).all()
        return {r.message_id: Sentiment(r.label, r.score, r.model) for r in rows}


def latest_ticket_sentiment() -> Subquery:
    """(ticket_id, label, score) of each ticket's latest scored client message, for queue
    queries to join and filter on (`.where(sub.c.label == "negative")`). Build the query in a
    service that has already checked the actor may view tickets."""
    return (
        select(
            col(MessageSentiment.ticket_id),
            col(MessageSentiment.label),
            col(MessageSentiment.score),
        )
        .distinct(col(MessageSentiment.ticket_id))
        .order_by(col(MessageSentiment.ticket_id), col(MessageSentiment.message_id).desc())
        .subquery("latest_sentiment")
    )


def score_message_now(message_id: int) -> Sentiment | None:
    """Score one message right away (the panel asks when the job has not got to it yet)."""
    with session_scope() as session:
        message = session.get(TicketMessage, message_id)
        if message is None or message.sender_kind != SenderKind.CLIENT:
            return None
        existing = session.get(MessageSentiment, message_id)
        if existing is not None:
            return Sentiment(existing.label, existing.score, existing.model)
        body, ticket_id = message.body_text, message.ticket_id
    result = classify([body])[0]
    with session_scope() as session:
        session.merge(
            MessageSentiment(
                message_id=message_id,
                ticket_id=ticket_id,
                label=result.label,
                score=result.score,
                model=result.model,
            )
        )
    return result


def vader_labels(texts: list[str]) -> list[str]:
    """VADER with its usual thresholds: the baseline the offline model must beat."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    labels = []
    for text in texts:
        compound = analyzer.polarity_scores(text)["compound"]
        labels.append(
            "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        )
    return labels


if __name__ == "__main__":
    if sys.argv[1:] == ["train"]:
        info = train()
        print(json.dumps({k: info[k] for k in ("classes", "examples", "train_sha256")}))
    else:
        print("usage: python -m crm_app.ai.sentiment train")
