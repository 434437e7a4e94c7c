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
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from crm_app.ai import compliance, llm, retrieval
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
RETRIEVAL_ONLY_NOTE = ("Retrieval-only draft: composed from the best-matching resolved answer "
                       "because no language model is configured. Check it before sending.")
_GREETING = re.compile(r"^\s*(dear|hi|hello|good (morning|afternoon|evening))\b[^\n]*\n+",
                       re.IGNORECASE)
_SIGN_OFF = re.compile(r"\n+\s*(kind regards|best regards|regards|best wishes|sincerely|thanks,|"
                       r"thank you,)[\s\S]*$", re.IGNORECASE)


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
    return SuggestionView(id=row.id, status=row.status, mode=row.mode, model=row.model,
                          draft=row.draft, sources=list(row.sources), flags=list(row.flags),
                          error=row.error, message_id=row.message_id)


def _scope(actor: Actor) -> str:
    return "managers" if can(actor, Action.MANAGE_AI) else "staff"


def _ticket(session, number: int) -> Ticket:
    ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one_or_none()
    if ticket is None:
        raise NotFound(f"There is no ticket #{number}.")
    return ticket


def _latest_client_message_id(session, ticket_id: int) -> int | None:
    return session.execute(
        select(TicketMessage.id).where(TicketMessage.ticket_id == ticket_id,
                                       TicketMessage.sender_kind == SenderKind.CLIENT,
                                       TicketMessage.is_internal.is_(False))
        .order_by(TicketMessage.created_at.desc(), TicketMessage.id.desc()).limit(1)
    ).scalar_one_or_none()


def current_suggestion(actor: Actor, number: int) -> SuggestionView | None:
    """The cached draft for the ticket's latest client message, if one exists."""
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        ticket = _ticket(session, number)
        message_id = _latest_client_message_id(session, ticket.id)
        query = select(ReplySuggestion).where(ReplySuggestion.ticket_id == ticket.id,
                                              ReplySuggestion.scope == _scope(actor))
        query = query.where(ReplySuggestion.message_id.is_(None) if message_id is None
                            else ReplySuggestion.message_id == message_id)
        row = session.execute(query.order_by(ReplySuggestion.id.desc()).limit(1)).scalars().first()
        return _view(row) if row else None


def request_suggestion(actor: Actor, number: int, *, regenerate: bool = False) -> SuggestionView:
    """The cached draft, or a new pending one to generate in the background. Returns at once."""
    require(actor, Action.VIEW_TICKETS)
    existing = current_suggestion(actor, number)
    if existing is not None and not regenerate and existing.status != SuggestionStatus.FAILED:
        return existing
    with session_scope() as session:
        ticket = _ticket(session, number)
        if existing is not None:
            row = session.get(ReplySuggestion, existing.id)
            row.status, row.error, row.updated_at = SuggestionStatus.PENDING, "", utcnow()
            row.requested_by_id = actor.user_id
        else:
            row = ReplySuggestion(ticket_id=ticket.id,
                                  message_id=_latest_client_message_id(session, ticket.id),
                                  scope=_scope(actor), requested_by_id=actor.user_id)
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
    messages = session.execute(
        select(TicketMessage).where(TicketMessage.ticket_id == ticket.id,
                                    TicketMessage.is_internal.is_(False))
        .order_by(TicketMessage.created_at, TicketMessage.id)
    ).scalars().all()
    client = session.get(Client, ticket.client_id) if ticket.client_id else None
    profile: dict[str, str] = {}
    if client is not None:
        profile = {"name": client.name, "region": client.region or "",
                   "risk category": client.risk_category}
        # Money fields only for those allowed to see client finances.
        if can(actor, Action.VIEW_CLIENT_FINANCES) and client.net_worth is not None:
            profile["net worth"] = f"{client.currency} {client.net_worth:,.0f}"
    conversation = [("client" if m.sender_kind == SenderKind.CLIENT else "firm", m.body_text)
                    for m in messages]
    client_texts = [t for who, t in conversation if who == "client"]
    question = client_texts[-1] if client_texts else (
        conversation[0][1] if conversation else ticket.subject)
    return _Context(ticket, conversation, profile, client.name if client else "", question)


def _first_name(name: str) -> str:
    return name.split()[0] if name.strip() else ""


def _core_answer(answer: str, source_names: list[str], client_name: str) -> str:
    body = _SIGN_OFF.sub("", _GREETING.sub("", answer.strip())).strip()
    for name in source_names:  # another client's name never travels into this reply
        for part in {name, *name.split()}:
            if len(part) > 2:
                body = re.sub(rf"\b{re.escape(part)}\b", _first_name(client_name) or "you", body)
    return body


def compose_retrieval_only(ctx: _Context, hits: list[retrieval.SearchHit], agent_name: str
                           ) -> str:
    greeting = f"Dear {_first_name(ctx.client_name)}," if ctx.client_name else "Hello,"
    if hits:
        best = hits[0]
        body = _core_answer(best.answer or best.snippet, [], ctx.client_name)
        if best.client_id is not None:
            body = _core_answer(best.answer or best.snippet,
                                _participants(best.document_id), ctx.client_name)
        body = f"Thank you for your message. {body} [1]"
    else:
        body = ("Thank you for your message. We are looking into your request and will come "
                "back to you shortly.")
    parts = [greeting, "", body]
    if compliance.touches_investments(ctx.question + " " + body):
        parts += ["", compliance.FINANCE_DISCLAIMER]
    parts += ["", "Kind regards,", agent_name or "Your client service team"]
    return "\n".join(parts)


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
    "circumstances. If the reply touches investments, end with this disclaimer verbatim: "
    f"\"{compliance.FINANCE_DISCLAIMER}\""
)


def _llm_messages(ctx: _Context, hits: list[retrieval.SearchHit], agent_name: str,
                  config: llm.LlmConfig) -> list[dict[str, str]]:
    budget = config.max_context_tokens - llm.approx_tokens(SYSTEM_PROMPT) - config.max_output_tokens
    profile = "; ".join(f"{k}: {v}" for k, v in ctx.client_profile.items()) or "unknown client"
    conversation = "\n".join(f"{who.upper()}: {text}" for who, text in ctx.conversation[-8:])
    head = (f"Client profile: {profile}\nAgent: {agent_name}\nTicket subject: "
            f"{ctx.ticket.subject}\n\nConversation (oldest first):\n{conversation}\n\n")
    budget -= llm.approx_tokens(head)
    sources = []
    for i, hit in enumerate(hits, start=1):
        entry = f"[{i}] {hit.title}\nQ: {hit.question[:1500]}\nA: {hit.answer[:1500]}\n"
        if llm.approx_tokens(entry) > budget:
            break
        budget -= llm.approx_tokens(entry)
        sources.append(entry)
    user = head + "Sources:\n" + ("\n".join(sources) or "(none)") + \
        "\nDraft the reply to the client's latest message."
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _source_dicts(hits: list[retrieval.SearchHit]) -> list[dict[str, Any]]:
    return [{"n": i, "title": h.title or h.source_ref, "link": h.link, "kind": h.source_kind,
             "ref": h.source_ref, "snippet": (h.answer or h.snippet)[:240]}
            for i, h in enumerate(hits, start=1)]


def generate_suggestion(actor: Actor, suggestion_id: int,
                        config: llm.LlmConfig | None = None) -> SuggestionView:
    """Build the draft for a pending suggestion. Sources are searched *as the requesting actor*,
    so nothing they may not see is cited. A provider outage marks it failed with the reason."""
    require(actor, Action.VIEW_TICKETS)
    config = config if config is not None else llm.load_config()
    with session_scope() as session:
        row = session.get(ReplySuggestion, suggestion_id)
        if row is None:
            raise NotFound("That suggestion no longer exists.")
        ticket = session.get(Ticket, row.ticket_id)
        ctx = _context(actor, session, ticket)
    search_query = f"{ticket.subject}\n{ctx.question}"
    hits = retrieval.search(
        actor, search_query, k=SOURCES,
        source_kinds=[SourceKind.RESOLVED_TICKET, SourceKind.FAQ, SourceKind.ARCHIVE_MESSAGE],
        exclude_refs=[(SourceKind.RESOLVED_TICKET, str(ticket.number))])
    error, mode, model = "", SuggestionMode.RETRIEVAL_ONLY, ""
    if config.chat_enabled:
        try:
            draft = llm.chat(config, _llm_messages(ctx, hits, actor.name, config))
            mode, model = SuggestionMode.LLM, config.chat_model
            if (compliance.touches_investments(ctx.question + " " + draft)
                    and compliance.FINANCE_DISCLAIMER not in draft):
                draft = f"{draft}\n\n{compliance.FINANCE_DISCLAIMER}"
        except llm.LlmUnavailable as failure:
            error = f"{failure} The draft below is retrieval-only."
            draft = compose_retrieval_only(ctx, hits, actor.name)
    else:
        draft = compose_retrieval_only(ctx, hits, actor.name)
    flags = [f.as_dict() for f in compliance.check(draft)]
    with session_scope() as session:
        row = session.get(ReplySuggestion, suggestion_id)
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
        feedback = SuggestionFeedback(suggestion_id=suggestion_id, user_id=actor.user_id,
                                      **values)
        session.add(feedback)
        session.flush()
        audit.record(session, actor, f"ai.suggestion_{values['kind']}", "reply_suggestion",
                     suggestion_id, {k: v for k, v in values.items() if k != "final_text"})


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
