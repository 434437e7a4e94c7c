"""Turning the best past answer into a draft for *this* client, and the checks every draft gets.

A past answer carries its own greeting, signature and the other client's facts; the draft
keeps only what the firm said and did, with this ticket's facts or marked blanks in place of the
other client's (`crm_app.ai.facts`), one greeting to this client and one sign-off by the agent
who asked. When the source answered a different question than this client's, the draft says
the team is looking into it instead of answering the wrong question.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from crm_app.ai import compliance, facts, topics

# Cosine between this client's question and the question the source answered (all-MiniLM-L6
# space) below which the source is taken to answer something else. Paraphrases of one request
# score well above it; different requests on one topic ("which documents?" / "is the review
# done?") below.
ANSWER_MIN_SIMILARITY = 0.5
# Share of topics two questions have in common (with the same act asked) at which they count as
# the same request: the whole match for a question in another language than the model's, and,
# for an English one the model already finds close (ENGLISH_TOPIC_FLOOR), the deciding vote.
TOPIC_MIN_AGREEMENT = 0.5
ENGLISH_TOPIC_FLOOR = 0.38
SIGN_OFF = "Kind regards,"
HOLDING_LINE = (
    "Thank you for your message. I am looking into your question and will come back to you shortly."
)
_THANKS_OPENING = re.compile(
    r"^(?:thank you|thanks|many thanks)(?: very much| so much)?(?: for (?:your|the) "
    r"(?:message|request|email|e-mail|enquiry|inquiry|question|note|patience|reply|form))?"
    r"[.!]\s*",
    re.IGNORECASE,
)
_INLINE_SIGN_OFF = re.compile(
    r"[\s,.]*\b(?:kind regards|best regards|warm regards|regards|best wishes|sincerely|"
    r"many thanks)\b[,.!]?(?:\s+[A-Z][\w-]+){0,3}\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Source:
    """What a draft may be built from: a past answer and the question it answered."""

    question: str
    answer: str
    kind: str = "resolved_ticket"  # "faq" sources are the firm's published text
    participants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Draft:
    text: str
    answered: bool
    similarity: float
    blanks: list[str] = field(default_factory=list)


Embed = Callable[[list[str]], np.ndarray]


def first_name(name: str) -> str:
    return name.split()[0] if name and name.strip() else ""


def _question_parts(text: str) -> list[str]:
    body = facts.letter_parts(text).body or text
    parts = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    return parts or [body]


# What a message asks for. Two questions on one topic that ask for different things ("is the
# review done?" / "which documents do you take?") have different answers.
_ACTS: dict[str, re.Pattern[str]] = {
    "status": re.compile(
        r"\b(?:has|have|is|are|was|were)\b[^?.!]*\b(?:complete|completed|done|finished|ready|"
        r"active|arrived|received|credited|executed|processed|approved|through)\b|"
        r"\bstill\s+(?:not|no|hasn't|haven't|do not|don't|does not|doesn't)\b|"
        r"\bnot\s+(?:yet\s+)?(?:arrived|received|reached|credited|been credited|in my account)|"
        r"\bwhere is\b|\bany update\b|\bmissing\b",
        re.IGNORECASE,
    ),
    "duration": re.compile(r"\bhow long\b|\bwhen will\b|\bhow soon\b|\bcut-?off\b", re.IGNORECASE),
    "cost": re.compile(r"\b(?:fees?|costs?|charges?|margin|pricing)\b", re.IGNORECASE),
    "thanks": re.compile(r"^(?:[^?]*\b(?:thank|thanks)\b[^?]*)$", re.IGNORECASE),
}


def acts(text: str) -> set[str]:
    body = facts.letter_parts(text).body or text
    return {name for name, pattern in _ACTS.items() if pattern.search(body)}


def similarity_to_source(question: str, source_question: str, embed: Embed) -> float:
    """How closely this question matches the question the source answered (its closest
    message: a resolved ticket's question holds all its client messages), 0 when they ask
    for nothing in common (a status against a how-to, thanks against a request)."""
    mine = facts.letter_parts(question).body or question
    theirs = _question_parts(source_question)
    if not mine.strip() or not theirs:
        return 0.0
    vectors = embed([mine, *theirs])
    scores = vectors[1:] @ vectors[0]
    best = int(np.argmax(scores))
    # The sentence model reads English only: a question in another language is matched by
    # the finance topics and the act both messages name (crm_app.ai.topics), and a close
    # agreement there counts as a paraphrase.
    agree = max(topics.agreement(mine, part) for part in theirs)
    if not topics.looks_english(mine):
        if agree >= TOPIC_MIN_AGREEMENT:
            return max(float(scores[best]), ANSWER_MIN_SIMILARITY + 0.25 * agree)
        asked, answered = topics.acts(mine), topics.acts(theirs[best])
        return 0.0 if (asked or answered) and not asked & answered else float(scores[best])
    asked, answered = acts(mine), acts(theirs[best])
    # Different things asked for: nothing in common ("is it done?" / "which documents?"). A
    # complaint that also asks when ("still not arrived, when will it?") shares "duration".
    if (asked or answered) and not asked & answered:
        return 0.0
    score = float(scores[best])
    if score >= ENGLISH_TOPIC_FLOOR and agree >= TOPIC_MIN_AGREEMENT:
        return max(score, ANSWER_MIN_SIMILARITY)
    return score


def _greeting(client_name: str) -> str:
    first = first_name(client_name)
    return f"Dear {first}," if first else "Hello,"


def _letter(greeting: str, body: str, agent_name: str, topic_text: str) -> str:
    parts = [greeting, "", body.strip()]
    if (
        compliance.touches_investments(topic_text + " " + body)
        and compliance.FINANCE_DISCLAIMER not in body
    ):
        parts += ["", compliance.FINANCE_DISCLAIMER]
    parts += ["", SIGN_OFF, agent_name or "Your client service team"]
    return "\n".join(parts)


def source_body(
    source: Source, *, question: str, client_name: str, agent_name: str, own_text: str
) -> str:
    """The source's answer without its greeting, signature, attachment claims and the other
    client's facts; a fact the other client asked about becomes the one this client's
    `question` names, details anywhere in this ticket (`own_text`) may stay."""
    letter = facts.letter_parts(source.answer)
    body = _THANKS_OPENING.sub("", letter.body.strip(), count=1)
    body = facts.drop_attachment_claims(body)
    greeted = facts.names_in(letter.greeting) if letter.greeting else set()
    if facts.has_title(letter.greeting):  # "Dear Mrs Walsh": a surname, not a first name
        greeted = set()
    clients = set(source.participants) | greeted
    others = facts.names_in(source.answer) - clients
    if source.kind == "faq":  # the firm's own published text: its numbers are the firm's
        return facts.scrub_names(body, clients | others, keep=[client_name, agent_name])
    return facts.scrub(
        body,
        source_question=source.question,
        own_text=question,
        names=others,
        source_clients=clients,
        client_first_name=first_name(client_name),
        keep=[client_name, agent_name, own_text],
    )


def draft_from_source(
    question: str,
    source: Source | None,
    *,
    client_name: str,
    agent_name: str,
    own_text: str,
    embed: Embed,
) -> Draft:
    """The retrieval-only draft: the best source rewritten for this client, or a holding reply
    when there is none or it answers a different question."""
    similarity = similarity_to_source(question, source.question, embed) if source else 0.0
    answered = source is not None and similarity >= ANSWER_MIN_SIMILARITY
    if answered:
        assert source is not None  # answered needs a source
        body = source_body(
            source,
            question=question,
            client_name=client_name,
            agent_name=agent_name,
            own_text=own_text,
        )
        text = f"Thank you for your message. {body} [1]" if body else HOLDING_LINE
    else:
        text = HOLDING_LINE
    letter = _letter(_greeting(client_name), text, agent_name, question)
    return Draft(letter, answered, round(similarity, 4), sorted(set(facts.BLANK.findall(letter))))


def finish_generated(
    draft: str,
    *,
    client_name: str,
    agent_name: str,
    sources: list[Source],
    own_text: str,
    topic_text: str,
) -> str:
    """A model's draft made safe: the sources' facts that are not this ticket's replaced by
    blanks, no attachment claims, one greeting and one sign-off (by this agent)."""
    letter = facts.letter_parts(draft)
    # A greeting left inside the body (a copied letter under the model's own greeting) goes.
    body = "\n".join(
        line for line in letter.body.splitlines() if not facts.is_greeting(line)
    ).strip()
    body = _INLINE_SIGN_OFF.sub("", facts.letter_parts(body).body or body).strip()
    if not letter.greeting:  # "Dear Ada, your wire ..." on one line
        match = re.match(r"^\s*(dear|hi|hello)\s+[\w'-]+,\s*", body, re.IGNORECASE)
        if match:
            body = body[match.end() :]
            body = body[:1].upper() + body[1:]
    names = set()
    for source in sources:
        names |= facts.names_in(source.answer, known=source.participants)
    body = facts.remove_foreign(
        body,
        [s.answer for s in sources],
        own_text,
        names=names - {client_name, agent_name, first_name(client_name)},
    )
    body = facts.drop_attachment_claims(body)
    greeting = _greeting(client_name)
    return _letter(greeting, body, agent_name, topic_text)


def grounding_flags(
    draft: str, *, sources: list[Source], own_text: str, answered: bool, best_question: str = ""
) -> list[compliance.ComplianceFlag]:
    """What the agent must know before sending: blanks to fill, a source that answered another
    question, and (a safety net) any detail of a source that is not this client's."""
    flags = compliance.check_grounding(
        draft, sources=[s.answer for s in sources], own_text=own_text
    )
    blanks = sorted(set(facts.BLANK.findall(draft)))
    if blanks:
        flags.append(
            compliance.ComplianceFlag(
                "blanks_to_fill",
                "Fill in the marked blanks with this client's details, or "
                "remove them, before sending.",
                ", ".join(blanks),
            )
        )
    if sources and not answered:
        flags.append(
            compliance.ComplianceFlag(
                "no_matching_answer",
                "No past answer replies to this client's question: the draft "
                "only acknowledges it. Write the answer yourself.",
                best_question[:160],
            )
        )
    return flags
