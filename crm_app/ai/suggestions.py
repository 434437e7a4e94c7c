"""Suggested replies: a draft grounded in what the firm already answered, with its sources,
the finance disclaimer where it belongs, and compliance flags for the agent.

`request_suggestion` returns at once (a cached draft, or a pending row); `generate_suggestion`
does the slow part and is run in the background (the panel's background event, or a job).
Drafts are cached per latest client message and per visibility scope, so an agent never gets a
draft that a manager's wider sources produced.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from crm_app.ai import compliance, drafting, llm, retrieval
from crm_app.ai.embeddings import get_provider
from crm_app.auth.permissions import Action, Actor, can, require
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotFound
from models.ai import (
    ReplySuggestion,
    SuggestionFeedback,
    SuggestionMode,
    SuggestionStatus,
)
from models.base import utcnow
from models.client import Client
from models.retrieval import SourceKind
from models.ticket import SenderKind, Ticket, TicketMessage

log = logging.getLogger(__name__)

SOURCES = 4
RETRIEVAL_ONLY_NOTE = (
    "Retrieval-only draft: composed from the best-matching resolved answer "
    "because no language model is configured. Check it before sending."
)


@dataclass(frozen=True)
class SuggestionView:
    id: int
    status: str
    mode: str
    model: str
    draft: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    message_id: int | None = None


def _view(row: ReplySuggestion) -> SuggestionView:
    assert row.id is not None
    return SuggestionView(
        id=row.id,
        status=row.status,
        mode=row.mode,
        model=row.model,
        draft=row.draft,
        sources=list(row.sources),
        flags=list(row.flags),
        error=row.error,
        message_id=row.message_id,
    )


def _scope(actor: Actor) -> str:
    return "managers" if can(actor, Action.MANAGE_AI) else "staff"


def _ticket(session, number: int) -> Ticket:
    ticket = session.execute(
        select(Ticket).where(col(Ticket.number) == number)
    ).scalar_one_or_none()
    if ticket is None:
        raise NotFound(f"There is no ticket #{number}.")
    return ticket


def _latest_client_message_id(session, ticket_id: int) -> int | None:
    return session.execute(
        select(col(TicketMessage.id))
        .where(
            col(TicketMessage.ticket_id) == ticket_id,
            col(TicketMessage.sender_kind) == SenderKind.CLIENT,
            col(TicketMessage.is_internal).is_(False),
        )
        .order_by(col(TicketMessage.created_at).desc(), col(TicketMessage.id).desc())
        .limit(1)
    ).scalar_one_or_none()


def current_suggestion(actor: Actor, number: int) -> SuggestionView | None:
    """The cached draft for the ticket's latest client message, if one exists."""
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        ticket = _ticket(session, number)
        assert ticket.id is not None
        message_id = _latest_client_message_id(session, ticket.id)
        query = select(ReplySuggestion).where(
            col(ReplySuggestion.ticket_id) == ticket.id, col(ReplySuggestion.scope) == _scope(actor)
        )
        query = query.where(
            col(ReplySuggestion.message_id).is_(None)
            if message_id is None
            else col(ReplySuggestion.message_id) == message_id
        )
        row = (
            session.execute(query.order_by(col(ReplySuggestion.id).desc()).limit(1))
            .scalars()
            .first()
        )
        return _view(row) if row else None


def request_suggestion(actor: Actor, number: int, *, regenerate: bool = False) -> SuggestionView:
    """The cached draft, or a new pending one to generate in the background. Returns at once."""
    require(actor, Action.VIEW_TICKETS)
    existing = current_suggestion(actor, number)
    if existing is not None and not regenerate and existing.status != SuggestionStatus.FAILED:
        return existing
    with session_scope() as session:
        ticket = _ticket(session, number)
        assert ticket.id is not None
        row: ReplySuggestion | None
        if existing is not None:
            row = session.get(ReplySuggestion, existing.id)
            assert row is not None  # the view was read a moment ago
            row.status, row.error, row.updated_at = SuggestionStatus.PENDING, "", utcnow()
            row.requested_by_id = actor.user_id
        else:
            row = ReplySuggestion(
                ticket_id=ticket.id,
                message_id=_latest_client_message_id(session, ticket.id),
                scope=_scope(actor),
                requested_by_id=actor.user_id,
            )
            session.add(row)
        session.flush()
        return _view(row)


@dataclass
class _Context:
    ticket: Ticket
    conversation: list[tuple[str, str]]  # (who, text), no internal notes
    client_profile: dict[str, str]
    client_name: str
    question: str


def _context(actor: Actor, session, ticket: Ticket) -> _Context:
    messages = (
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
    client = session.get(Client, ticket.client_id) if ticket.client_id else None
    profile: dict[str, str] = {}
    if client is not None:
        profile = {
            "name": client.name,
            "region": client.region or "",
            "risk category": client.risk_category,
        }
        # Money fields only for those allowed to see client finances.
        if can(actor, Action.VIEW_CLIENT_FINANCES) and client.net_worth is not None:
            profile["net worth"] = f"{client.currency} {client.net_worth:,.0f}"
    conversation = [
        ("client" if m.sender_kind == SenderKind.CLIENT else "firm", m.body_text) for m in messages
    ]
    client_texts = [t for who, t in conversation if who == "client"]
    question = (
        client_texts[-1]
        if client_texts
        else (conversation[0][1] if conversation else ticket.subject)
    )
    return _Context(ticket, conversation, profile, client.name if client else "", question)


def _own_text(ctx: _Context) -> str:
    """This ticket's own words: the facts a draft may repeat."""
    return "\n".join(
        [ctx.ticket.subject, *(text for _, text in ctx.conversation), *ctx.client_profile.values()]
    )


def _draft_source(hit: retrieval.SearchHit) -> drafting.Source:
    return drafting.Source(
        question=hit.question or hit.title,
        answer=hit.answer or hit.snippet,
        kind=hit.source_kind,
        participants=tuple(_participants(hit.document_id)) if hit.client_id is not None else (),
    )


def compose_retrieval_only(
    ctx: _Context,
    hits: list[retrieval.SearchHit],
    agent_name: str,
    embed: drafting.Embed | None = None,
) -> drafting.Draft:
    """The best source rewritten for this client (its facts replaced by this ticket's or by
    marked blanks), or a holding reply when no source answers the client's question."""
    embed = embed or get_provider().embed
    return drafting.draft_from_source(
        ctx.question,
        _draft_source(hits[0]) if hits else None,
        client_name=ctx.client_name,
        agent_name=agent_name,
        own_text=_own_text(ctx),
        embed=embed,
    )


def _participants(document_id: int) -> list[str]:
    from models.retrieval import RetrievalDocument

    with session_scope() as session:
        doc = session.get(RetrievalDocument, document_id)
        return list(doc.participants) if doc else []


SYSTEM_PROMPT = (
    "You draft replies for the client service team of a wealth and advisory firm. Write in the "
    "firm's voice: warm, precise, plain English, no jargon, no emojis, addressed to the client by "
    "first name and signed by the agent. Ground every factual statement in the numbered sources "
    "and cite them like [1]; if the sources do not answer the question, say the team will follow "
    "up rather than inventing facts. Never promise returns, never guarantee outcomes, never give "
    "a personal recommendation without noting it depends on the client's risk profile and "
    "circumstances. The sources are other clients' cases: never copy their amounts, account, "
    "IBAN or reference numbers, names, dates, addresses or phone numbers; use only this "
    "client's details from the conversation, or leave a blank such as [amount] or [date] for "
    "the agent. Never say anything is attached or enclosed. Write one greeting and one "
    "sign-off, as the agent named below. If no source answers the client's actual question, "
    "do not answer a different one: say the team is looking into it. If the reply touches "
    "investments, end with this disclaimer verbatim: "
    f'"{compliance.FINANCE_DISCLAIMER}"'
)


def _llm_messages(
    ctx: _Context, hits: list[retrieval.SearchHit], agent_name: str, config: llm.LlmConfig
) -> list[dict[str, str]]:
    budget = config.max_context_tokens - llm.approx_tokens(SYSTEM_PROMPT) - config.max_output_tokens
    profile = "; ".join(f"{k}: {v}" for k, v in ctx.client_profile.items()) or "unknown client"
    conversation = "\n".join(f"{who.upper()}: {text}" for who, text in ctx.conversation[-8:])
    head = (
        f"Client profile: {profile}\nAgent: {agent_name}\nTicket subject: "
        f"{ctx.ticket.subject}\n\nConversation (oldest first):\n{conversation}\n\n"
    )
    budget -= llm.approx_tokens(head)
    sources = []
    for i, hit in enumerate(hits, start=1):
        entry = f"[{i}] {hit.title}\nQ: {hit.question[:1500]}\nA: {hit.answer[:1500]}\n"
        if llm.approx_tokens(entry) > budget:
            break
        budget -= llm.approx_tokens(entry)
        sources.append(entry)
    user = (
        head
        + "Sources:\n"
        + ("\n".join(sources) or "(none)")
        + "\nDraft the reply to the client's latest message."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _source_dicts(hits: list[retrieval.SearchHit]) -> list[dict[str, Any]]:
    return [
        {
            "n": i,
            "title": h.title or h.source_ref,
            "link": h.link,
            "kind": h.source_kind,
            "ref": h.source_ref,
            "snippet": (h.answer or h.snippet)[:240],
        }
        for i, h in enumerate(hits, start=1)
    ]


def generate_suggestion(
    actor: Actor, suggestion_id: int, config: llm.LlmConfig | None = None
) -> SuggestionView:
    """Build the draft for a pending suggestion. Sources are searched *as the requesting actor*,
    so nothing they may not see is cited. A provider outage marks it failed with the reason."""
    require(actor, Action.VIEW_TICKETS)
    config = config if config is not None else llm.load_config()
    with session_scope() as session:
        row = session.get(ReplySuggestion, suggestion_id)
        if row is None:
            raise NotFound("That suggestion no longer exists.")
        ticket = session.get(Ticket, row.ticket_id)
        assert ticket is not None  # the foreign key keeps it
        ctx = _context(actor, session, ticket)
    search_query = f"{ticket.subject}\n{ctx.question}"
    hits = retrieval.search(
        actor,
        search_query,
        k=SOURCES,
        source_kinds=[SourceKind.RESOLVED_TICKET, SourceKind.FAQ, SourceKind.ARCHIVE_MESSAGE],
        exclude_refs=[(SourceKind.RESOLVED_TICKET, str(ticket.number))],
    )
    error, mode, model = "", SuggestionMode.RETRIEVAL_ONLY, ""
    sources = [_draft_source(h) for h in hits]
    own_text = _own_text(ctx)
    answered = True
    if config.chat_enabled:
        try:
            generated = llm.chat(config, _llm_messages(ctx, hits, actor.name, config))
            mode, model = SuggestionMode.LLM, config.chat_model
            # The post-check: the model's draft keeps none of the sources' foreign facts.
            draft = drafting.finish_generated(
                generated,
                client_name=ctx.client_name,
                agent_name=actor.name,
                sources=sources,
                own_text=own_text,
                topic_text=ctx.question,
            )
        except llm.LlmUnavailable as failure:
            error = f"{failure} The draft below is retrieval-only."
    if mode == SuggestionMode.RETRIEVAL_ONLY:
        composed = compose_retrieval_only(ctx, hits, actor.name)
        draft, answered = composed.text, composed.answered
    flags = [f.as_dict() for f in compliance.check(draft)]
    flags += [
        f.as_dict()
        for f in drafting.grounding_flags(
            draft,
            sources=sources,
            own_text=own_text,
            answered=answered,
            best_question=sources[0].question if sources else "",
        )
    ]
    with session_scope() as session:
        row = session.get(ReplySuggestion, suggestion_id)
        assert row is not None  # read above
        row.draft, row.sources, row.flags = draft, _source_dicts(hits), flags
        row.mode, row.model, row.error = mode, model, error
        row.status, row.updated_at = SuggestionStatus.READY, utcnow()
        session.flush()
        return _view(row)


def fail_suggestion(suggestion_id: int, reason: str) -> None:
    with session_scope() as session:
        row = session.get(ReplySuggestion, suggestion_id)
        if row is not None:
            row.status, row.error, row.updated_at = SuggestionStatus.FAILED, reason[:500], utcnow()


def _feedback(actor: Actor, suggestion_id: int, **values: Any) -> None:
    with session_scope() as session:
        row = session.get(ReplySuggestion, suggestion_id)
        if row is None:
            raise NotFound("That suggestion no longer exists.")
        feedback = SuggestionFeedback(suggestion_id=suggestion_id, user_id=actor.user_id, **values)
        session.add(feedback)
        session.flush()
        audit.record(
            session,
            actor,
            f"ai.suggestion_{values['kind']}",
            "reply_suggestion",
            suggestion_id,
            {k: v for k, v in values.items() if k != "final_text"},
        )


def rate_suggestion(actor: Actor, suggestion_id: int, rating: int) -> None:
    require(actor, Action.VIEW_TICKETS)
    if rating not in (1, -1):
        raise InvalidInput("Rate a draft up (+1) or down (-1).")
    _feedback(actor, suggestion_id, kind="rating", rating=rating)


def record_inserted(actor: Actor, suggestion_id: int) -> None:
    require(actor, Action.EDIT_TICKETS)
    _feedback(actor, suggestion_id, kind="inserted")


def record_sent(actor: Actor, suggestion_id: int, final_text: str) -> float:
    """Record what the agent sent after inserting the draft; returns the share kept."""
    require(actor, Action.EDIT_TICKETS)
    with session_scope() as session:
        row = session.get(ReplySuggestion, suggestion_id)
        if row is None:
            raise NotFound("That suggestion no longer exists.")
        draft = row.draft
    kept = round(difflib.SequenceMatcher(None, draft, final_text or "").ratio(), 4)
    _feedback(actor, suggestion_id, kind="sent", kept_ratio=kept, final_text=final_text)
    return kept
