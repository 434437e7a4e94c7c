"""FAQ generation (the `faq_regen` job and the manager's "Generate now"): client questions of a
window are clustered into topics (`crm_app.ai.faq_clusters`, the number found, not given); each
topic large enough becomes a draft entry with its size, sample questions and source tickets.

The answer is grounded only in that topic's best resolved answers: written by the language
model when one is configured, else taken from the best answer itself. Client names, account
numbers, amounts, email addresses and other identifying details are scrubbed from everything
an entry holds. A draft close to an existing entry proposes an update to it instead of a new
entry (or refreshes the open draft it matches). One run at a time: a second start is refused
while one runs (a partial unique index on `faq_run`), and a run whose process died is taken
as failed after `STALE_AFTER`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from crm_app.ai import compliance, facts, faq_clusters, llm
from crm_app.ai.embeddings import EmbeddingProvider, get_provider
from crm_app.auth.permissions import SYSTEM, Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import Conflict, InvalidInput
from crm_app.services.portal.knowledge import record_version
from crm_app.services.tickets.rows import fmt
from models.base import utcnow
from models.client import Client
from models.faq import FaqEntry, FaqOrigin, FaqRun, FaqRunStatus, FaqStatus
from models.retrieval import RetrievalDocument, SourceKind
from models.ticket import Ticket

log = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 90
MIN_TOPIC_SIZE = 3  # questions a topic needs before it deserves an entry
SAMPLE_QUESTIONS = 5
SOURCE_ANSWERS = 3  # best resolved answers an LLM draft is grounded in
ANSWER_CANDIDATES = 10  # the topic's resolved answers (closest questions first) compared
# Cosine (MiniLM) between a topic's question and an entry's at which they are the same question.
DUPLICATE_SIMILARITY = 0.8
STALE_AFTER = timedelta(minutes=30)
# Newest client questions of the window a run clusters (pairwise similarity is n², in memory).
MAX_QUESTIONS = 3000
NO_ANSWER = "No resolved answer in this topic yet: write the answer before publishing."
# Kinds of detail an entry never holds (dates and times of one client's case neither).
_SCRUBBED_KINDS = frozenset(facts.BLANKS) - {"name"}
_SALUTATION = re.compile(r"^(?:hello|hi|hey|dear|good (?:morning|afternoon|evening))\b", re.I)
_BLANK_RUN = re.compile(r"(?:\[(?:amount|figure)\]\s*){2,}")


@dataclass(frozen=True)
class RunRow:
    id: int
    status: str
    stage: str
    done: int
    total: int
    questions: int
    topics: int
    drafts_created: int
    updates_proposed: int
    error: str
    started_at: str
    finished_at: str
    window_days: int

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


def _run_row(run: FaqRun) -> RunRow:
    assert run.id is not None
    return RunRow(
        id=run.id,
        status=run.status,
        stage=run.stage,
        done=run.done,
        total=run.total,
        questions=run.questions,
        topics=run.topics,
        drafts_created=run.drafts_created,
        updates_proposed=run.updates_proposed,
        error=run.error,
        started_at=fmt(run.started_at),
        finished_at=fmt(run.finished_at),
        window_days=run.window_days,
    )


# --- scrubbing --------------------------------------------------------------------------------


def scrub(text: str, names: set[str] | frozenset[str] = frozenset()) -> str:
    """`text` without client names (`names`, and those in greetings, signatures and after a
    title), account numbers, IBANs, amounts, figures, email addresses, phone numbers, addresses,
    dates or references: each replaced by its marked blank ("[amount]")."""
    text = text or ""
    for fact in reversed(facts.find(text)):
        if fact.kind in _SCRUBBED_KINDS:
            text = text[: fact.start] + facts.BLANKS[fact.kind] + text[fact.end :]
    text = facts.scrub_names(text, set(names) | facts.names_in(text))
    return _BLANK_RUN.sub("[amount] ", text).strip()


def _question_text(text: str, names: set[str]) -> str:
    """A client's message as an entry's question: its first question sentence, scrubbed."""
    body = facts.letter_parts(text).body or text
    sentences = [scrub(s, names) for s in re.split(r"(?<=[.!?])\s+|\n+", body) if s.strip()] or [
        scrub(body, names)
    ]
    first = next((i for i, s in enumerate(sentences) if s.endswith("?")), None)
    if first is None:
        asked = sentences[0]
    else:
        # The question with the sentences that set it up ("My father died. What now?"), when
        # they are short and about the matter, not the writer ("Hello, this is [name].").
        setup = [
            s for s in sentences[:first] if not facts.BLANK.search(s) and not _SALUTATION.match(s)
        ]
        asked = " ".join([*setup, sentences[first]])
        if len(asked) > 200:
            asked = sentences[first]
    asked = " ".join(asked.split())[:300]
    return asked[:1].upper() + asked[1:] if asked else ""


def _answer_text(answer: str, names: set[str]) -> str:
    """A resolved reply as an entry's answer: no greeting, sign-off, attachment claim or
    identifying detail."""
    body = facts.drop_attachment_claims(facts.letter_parts(answer).body or answer)
    body = re.sub(
        r"^(?:thank you|thanks)[^.!\n]*[.!]\s*", "", body.strip(), count=1, flags=re.IGNORECASE
    )
    scrubbed = scrub(body, names)
    # A sentence that needed a blank was about one client's case: not for a public answer.
    paragraphs = [
        " ".join(
            sentence
            for sentence in re.split(r"(?<=[.!?])[ \t]+", paragraph.strip())
            if sentence.strip() and not facts.BLANK.search(sentence)
        )
        for paragraph in re.split(r"\n\s*\n", scrubbed)
    ]
    kept = "\n\n".join(p for p in paragraphs if p)
    return kept or scrubbed


# --- runs -------------------------------------------------------------------------------------


def start_run(actor: Actor, window_days: int = DEFAULT_WINDOW_DAYS) -> RunRow:
    """Claim the one running slot; refused (`Conflict`) while another run is going."""
    require(actor, Action.MANAGE_FAQ)
    try:
        window_days = int(window_days)
    except (TypeError, ValueError):
        raise InvalidInput("The window is a number of days.") from None
    if not 1 <= window_days <= 730:
        raise InvalidInput("Choose a window between 1 and 730 days.")
    now = utcnow()
    with session_scope() as session:
        session.execute(
            update(FaqRun)
            .where(
                col(FaqRun.status) == FaqRunStatus.RUNNING.value,
                col(FaqRun.heartbeat_at) < now - STALE_AFTER,
            )
            .values(
                status=FaqRunStatus.FAILED.value,
                finished_at=now,
                error="The run stopped answering (its process ended).",
            )
        )
    try:
        with session_scope() as session:
            run = FaqRun(
                started_by_id=actor.user_id,
                window_days=window_days,
                stage="Starting",
                started_at=now,
                heartbeat_at=now,
            )
            session.add(run)
            session.flush()
            audit.record(
                session, actor, "faq.generation_started", "faq_run", run.id, {"days": window_days}
            )
            return _run_row(run)
    except IntegrityError:
        running = latest_run(actor)
        since = f" (started {running.started_at})" if running else ""
        raise Conflict(
            f"The FAQ is already being generated{since}. Its drafts appear here when it "
            "finishes; try again then."
        ) from None


def latest_run(actor: Actor) -> RunRow | None:
    require(actor, Action.MANAGE_FAQ)
    with session_scope() as session:
        run = session.execute(
            select(FaqRun).order_by(col(FaqRun.started_at).desc(), col(FaqRun.id).desc()).limit(1)
        ).scalar_one_or_none()
        return _run_row(run) if run else None


def _progress(run_id: int, **values: object) -> None:
    with session_scope() as session:
        session.execute(
            update(FaqRun).where(col(FaqRun.id) == run_id).values(heartbeat_at=utcnow(), **values)
        )


@dataclass
class _Topic:
    questions: list[tuple[int, str]]  # (ticket number, text), closest to the centre first
    vector: np.ndarray  # unit centre of the topic's question vectors


def _topics(
    questions: list[tuple[int, str]], provider: EmbeddingProvider, min_size: int
) -> list[_Topic]:
    labels, vectors = faq_clusters.cluster_texts([q for _, q in questions], provider)
    topics = []
    for label in sorted(set(labels.tolist())):
        members = [i for i, lab in enumerate(labels) if lab == label]
        if len(members) < min_size:
            continue
        centre = vectors[members].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        order = sorted(members, key=lambda i: -float(vectors[i] @ centre))
        topics.append(_Topic([questions[i] for i in order], centre))
    return sorted(topics, key=lambda t: -len(t.questions))


def _best_answers(numbers: list[int]) -> list[tuple[str, str, set[str]]]:
    """(question, answer, client names) of the topic's own resolved tickets, in the topic's
    order (closest to its centre first)."""
    refs = [str(n) for n in numbers]
    with session_scope() as session:
        rows = (
            session.execute(
                select(
                    col(RetrievalDocument.source_ref),
                    col(RetrievalDocument.question),
                    col(RetrievalDocument.answer),
                    col(RetrievalDocument.participants),
                ).where(
                    col(RetrievalDocument.source_kind) == SourceKind.RESOLVED_TICKET.value,
                    col(RetrievalDocument.source_ref).in_(refs),
                )
            )
            .tuples()
            .all()
        )
    by_ref = {ref: (q, a, set(p or [])) for ref, q, a, p in rows if (a or "").strip()}
    return [by_ref[ref] for ref in refs if ref in by_ref]


def _client_names(numbers: list[int]) -> set[str]:
    with session_scope() as session:
        names = session.scalars(
            select(col(Client.name))
            .join(Ticket, col(Ticket.client_id) == col(Client.id))
            .where(col(Ticket.number).in_(numbers))
        )
        return {n for n in names if n}


_LLM_SYSTEM = (
    "You write one entry of a wealth-management firm's public help centre. Use only facts "
    "stated in the firm's answers you are given; if they do not answer the question, say the "
    "client should contact their adviser. Never include names, account numbers, amounts, "
    "email addresses or any detail of one client's case. Reply exactly as:\n"
    "Q: <the question, as a client would ask it>\nA: <the answer, a few sentences>"
)


def _llm_draft(
    config: llm.LlmConfig, questions: list[str], answers: list[str]
) -> tuple[str, str] | None:
    prompt = "Client questions:\n" + "\n".join(f"- {q}" for q in questions)
    prompt += "\n\nThe firm's answers:\n" + "\n\n".join(
        f"[{i}] {a}" for i, a in enumerate(answers, 1)
    )
    try:
        reply = llm.chat(
            config,
            [{"role": "system", "content": _LLM_SYSTEM}, {"role": "user", "content": prompt}],
        )
    except llm.LlmUnavailable as error:
        log.warning("faq draft falls back to the best answer", extra={"error": str(error)})
        return None
    match = re.search(r"Q:\s*(.+?)\s*\n+\s*A:\s*(.+)", reply, re.DOTALL)
    if not match:
        return None
    return match.group(1).strip(), match.group(2).strip()


def _consensus_first(answers: list[str], provider: EmbeddingProvider) -> list[str]:
    """The topic's answers, the one most like the others first: the firm's usual answer to
    the question, not one agent's answer to one client's variant of it."""
    unique = list(dict.fromkeys(answers))
    if len(unique) < 3:
        return unique
    vectors = provider.embed(unique)
    agreement = (vectors @ vectors.T).sum(axis=1)
    return [unique[i] for i in np.argsort(-agreement, kind="stable")]


def _draft(
    topic: _Topic, config: llm.LlmConfig, provider: EmbeddingProvider
) -> tuple[str, str, list[dict[str, str]]]:
    numbers = [n for n, _ in topic.questions]
    names = _client_names(numbers)
    sources = _best_answers(numbers)
    for _, _, participants in sources:
        names |= participants
    # The question closest to the topic's centre that is asked as a question.
    candidates = [_question_text(q, names) for _, q in topic.questions[:10]]
    question = next((c for c in candidates if c.endswith("?")), candidates[0])
    answers = _consensus_first(
        [a for a in (_answer_text(a, names | p) for _, a, p in sources[:ANSWER_CANDIDATES]) if a],
        provider,
    )[:SOURCE_ANSWERS]
    answer = answers[0] if answers else ""
    if answers and config.chat_enabled:
        written = _llm_draft(
            config, [_question_text(q, names) for _, q in topic.questions][:8], answers
        )
        if written:
            # Scrubbed again: a model may repeat a detail it was told to leave out.
            question, answer = scrub(written[0], names)[:300], scrub(written[1], names)
    if not answer:
        answer = NO_ANSWER
    if compliance.touches_investments(answer) and compliance.FINANCE_DISCLAIMER not in answer:
        answer = f"{answer}\n\n{compliance.FINANCE_DISCLAIMER}"
    flags = [f.as_dict() for f in compliance.check(answer)]
    if answer == NO_ANSWER:
        flags.append({"kind": "no_source_answer", "message": NO_ANSWER, "excerpt": ""})
    return question, answer, flags


def _existing(provider: EmbeddingProvider) -> tuple[list[FaqEntry], np.ndarray]:
    with session_scope() as session:
        entries = list(
            session.scalars(
                select(FaqEntry).where(
                    col(FaqEntry.status) != FaqStatus.MERGED.value,
                    col(FaqEntry.updates_entry_id).is_(None),
                )
            )
        )
        session.expunge_all()
    vectors = provider.embed([e.question for e in entries]) if entries else np.zeros((0, 1))
    return entries, vectors


def run_generation(
    run_id: int,
    actor: Actor = SYSTEM,
    *,
    provider: EmbeddingProvider | None = None,
    min_size: int = MIN_TOPIC_SIZE,
    config: llm.LlmConfig | None = None,
) -> RunRow:
    """Do the claimed run `run_id` to the end, recording progress on its row as it goes."""
    provider = provider or get_provider()
    try:
        with session_scope() as session:
            run = session.get(FaqRun, run_id)
            if run is None or run.status != FaqRunStatus.RUNNING:
                raise InvalidInput("That run is not running.")
            window_days = run.window_days
        now = utcnow()
        _progress(run_id, stage="Reading client questions")
        questions = faq_clusters.client_questions(
            now - timedelta(days=window_days), now, MAX_QUESTIONS
        )
        _progress(run_id, stage="Finding topics", questions=len(questions))
        topics = _topics(questions, provider, min_size) if len(questions) >= min_size else []
        _progress(run_id, stage="Drafting entries", topics=len(topics), total=len(topics))
        entries, entry_vectors = _existing(provider)
        config = config if config is not None else llm.load_config()
        created = proposed = 0
        for done, topic in enumerate(topics, 1):
            question, answer, flags = _draft(topic, config, provider)
            match: FaqEntry | None = None
            if len(entries):
                scores = entry_vectors @ topic.vector
                best = int(np.argmax(scores))
                # The topic's centre against the entry's question: both are the same question.
                if float(scores[best]) >= DUPLICATE_SIMILARITY:
                    match = entries[best]
            kind = _save_draft(run_id, actor, topic, question, answer, flags, match)
            created += kind == "created"
            proposed += kind == "proposed"
            _progress(
                run_id,
                done=done,
                drafts_created=created,
                updates_proposed=proposed,
                stage=f"Drafting entries ({done} of {len(topics)})",
            )
        _progress(
            run_id, status=FaqRunStatus.FINISHED.value, stage="Finished", finished_at=utcnow()
        )
    except Exception as error:
        log.exception("faq generation failed", extra={"run_id": run_id})
        _progress(
            run_id,
            status=FaqRunStatus.FAILED.value,
            stage="Failed",
            error=str(error)[:2000] or type(error).__name__,
            finished_at=utcnow(),
        )
        raise
    with session_scope() as session:
        run = session.get(FaqRun, run_id)
        assert run is not None
        return _run_row(run)


def _save_draft(
    run_id: int,
    actor: Actor,
    topic: _Topic,
    question: str,
    answer: str,
    flags: list[dict[str, str]],
    match: FaqEntry | None,
) -> str:
    """Write the topic's draft; returns "created", "proposed" (an update to a published or
    unpublished entry), "refreshed" (an open draft got the new topic) or "skipped" (the
    manager rejected this question before)."""
    numbers = [n for n, _ in topic.questions]
    names = _client_names(numbers)
    provenance: dict[str, Any] = {
        "run_id": run_id,
        "topic_size": len(topic.questions),
        "sample_questions": list(
            dict.fromkeys(_question_text(q, names) for _, q in topic.questions)
        )[:SAMPLE_QUESTIONS],
        "source_tickets": numbers[:50],
        "compliance_flags": flags,
    }
    now = utcnow()
    with session_scope() as session:
        target_id = None
        if match is not None:
            if match.status == FaqStatus.REJECTED:
                return "skipped"
            if match.status == FaqStatus.DRAFT:
                entry = session.get(FaqEntry, match.id, with_for_update=True)
                if entry is None:
                    return "skipped"
                for key, value in provenance.items():
                    setattr(entry, key, value)
                entry.updated_at = now
                return "refreshed"
            target_id = match.id
            open_proposal = session.execute(
                select(FaqEntry).where(
                    col(FaqEntry.updates_entry_id) == target_id,
                    col(FaqEntry.status) == FaqStatus.DRAFT.value,
                )
            ).scalar_one_or_none()
            if open_proposal is not None:
                open_proposal.question, open_proposal.answer = question, answer
                for key, value in provenance.items():
                    setattr(open_proposal, key, value)
                open_proposal.updated_at = now
                record_version(session, open_proposal, actor, "regenerated")
                return "proposed"
        entry = FaqEntry(
            question=question,
            answer=answer,
            category=match.category if match is not None else "",
            origin=FaqOrigin.GENERATED.value,
            updates_entry_id=target_id,
            created_at=now,
            updated_at=now,
            **provenance,
        )
        session.add(entry)
        session.flush()
        record_version(session, entry, actor, "generated")
        audit.record(
            session,
            actor,
            "faq.drafted",
            "faq_entry",
            entry.id,
            {"topic_size": len(topic.questions), "updates_entry_id": target_id},
        )
        return "proposed" if target_id else "created"


def generate(
    actor: Actor,
    window_days: int = DEFAULT_WINDOW_DAYS,
    *,
    provider: EmbeddingProvider | None = None,
    min_size: int = MIN_TOPIC_SIZE,
    config: llm.LlmConfig | None = None,
) -> RunRow:
    """Claim a run and do it (the job and "Generate now" alike)."""
    run = start_run(actor, window_days)
    return run_generation(run.id, actor, provider=provider, min_size=min_size, config=config)
