"""Suggested replies: grounded in resolved answers the agent may see, cached per latest client
message, retrieval-only without an LLM, through litellm with one, flagged for compliance."""

from __future__ import annotations

import pytest

from crm_app.ai import compliance, llm, retrieval, suggestions
from crm_app.ai.retrieval import DocumentInput
from crm_app.auth.permissions import SYSTEM
from crm_app.services import tickets
from crm_app.services.errors import InvalidInput, PermissionDenied
from models.retrieval import Audience, SourceKind
from tests.factories import make_client, make_user


def _client_ticket(agent, client_user, client_id, subject: str, question: str) -> int:
    number = tickets.create_ticket(
        agent, client_id=client_id, subject=subject, body="Ticket opened on the client's behalf."
    ).number
    tickets.add_message(client_user, number, question)
    return number


def _knowledge(agent) -> None:
    bob = make_client(agent, "Bob Stone")
    old = tickets.create_ticket(
        agent,
        client_id=bob,
        subject="Wire transfer timing",
        body="How long does an international wire take to arrive?",
    )
    tickets.add_message(
        agent,
        old.number,
        "Dear Bob,\n\nInternational wires arrive within two "
        "business days, Bob.\n\nKind regards,\nSam",
    )
    tickets.update_ticket(agent, old.number, expected_version=None, status="resolved")
    retrieval.index_resolved_tickets()


@pytest.fixture
def setting(db):
    agent = make_user("agent", name="Sam Agent")
    ada_user = make_user("client")
    ada = make_client(agent, "Ada Lovelace", portal_user=ada_user)
    _knowledge(agent)
    number = _client_ticket(
        agent,
        ada_user,
        ada,
        "Money abroad",
        "When will my international wire arrive at the other bank?",
    )
    return agent, ada_user, number


def test_without_llm_the_draft_is_the_best_resolved_answer_and_says_retrieval_only(setting):
    agent, _, number = setting
    pending = suggestions.request_suggestion(agent, number)
    assert pending.status == "pending"
    view = suggestions.generate_suggestion(agent, pending.id, config=llm.LlmConfig())
    assert view.mode == "retrieval_only"
    assert view.draft.startswith("Dear Ada,")
    assert "two business days" in view.draft
    assert "Bob" not in view.draft  # the other client's name never travels
    assert view.draft.rstrip().endswith("Sam Agent")
    assert view.sources[0]["link"].startswith("/tickets/")
    assert "retrieval-only" in suggestions.RETRIEVAL_ONLY_NOTE.lower()


def test_draft_is_cached_per_latest_client_message(setting):
    agent, ada_user, number = setting
    first = suggestions.request_suggestion(agent, number)
    suggestions.generate_suggestion(agent, first.id, config=llm.LlmConfig())
    again = suggestions.request_suggestion(agent, number)
    assert again.id == first.id and again.status == "ready"
    tickets.add_message(ada_user, number, "Also, what is the fee for that wire?")
    newer = suggestions.request_suggestion(agent, number)
    assert newer.id != first.id and newer.status == "pending"


def test_llm_path_goes_through_litellm_with_sources_and_key(setting, fake_openai):
    agent, _, number = setting
    pending = suggestions.request_suggestion(agent, number)
    view = suggestions.generate_suggestion(agent, pending.id, config=fake_openai.config())
    assert view.mode == "llm" and view.model == "openai/fake-chat"
    assert view.draft.startswith("Dear Ada")
    sent = fake_openai.requests[-1]
    assert sent["path"].endswith("/chat/completions")
    assert sent["auth"] == "Bearer sk-test-fake"
    prompt = sent["body"]["messages"][1]["content"]
    assert "[1]" in prompt and "two business days" in prompt
    assert "net worth: USD 2,500,000" in prompt  # agents may see client finances


def test_llm_outage_falls_back_to_retrieval_and_says_so(setting, fake_openai):
    agent, _, number = setting
    fake_openai.down = True
    pending = suggestions.request_suggestion(agent, number)
    view = suggestions.generate_suggestion(agent, pending.id, config=fake_openai.config())
    assert view.status == "ready" and view.mode == "retrieval_only"
    assert "did not answer" in view.error
    assert "two business days" in view.draft


def test_investment_reply_gets_the_disclaimer_and_risky_claims_are_flagged(setting, fake_openai):
    agent, _, number = setting
    fake_openai.reply = (
        "Dear Ada, you should move your savings into our growth fund; "
        "it is guaranteed to return 8% a year. Kind regards"
    )
    pending = suggestions.request_suggestion(agent, number)
    view = suggestions.generate_suggestion(agent, pending.id, config=fake_openai.config())
    assert compliance.FINANCE_DISCLAIMER in view.draft
    kinds = {flag["kind"] for flag in view.flags}
    assert {"guarantee", "advice_without_suitability"} <= kinds


def test_compliance_check_passes_a_plain_service_reply():
    assert compliance.check("Dear Ada, your statement is attached. Kind regards, Sam") == []
    flags = compliance.check("Your portfolio will double by next year.")
    assert {f.kind for f in flags} == {"promised_return", "missing_disclaimer"}


def test_suggestion_never_cites_what_the_agent_may_not_see(setting):
    agent, _, number = setting
    retrieval.upsert_documents(
        SYSTEM,
        [
            DocumentInput(
                source_kind=SourceKind.ARCHIVE_MESSAGE,
                source_ref="board-memo",
                title="International wire arrival board memo",
                question="When will international wires arrive at the other bank?",
                answer="CONFIDENTIAL: wires for insiders arrive same day.",
                audience=Audience.MANAGERS,
            )
        ],
    )
    manager = make_user("manager")
    agent_view = suggestions.generate_suggestion(
        agent, suggestions.request_suggestion(agent, number).id, config=llm.LlmConfig()
    )
    assert "board-memo" not in {s["ref"] for s in agent_view.sources}
    assert "CONFIDENTIAL" not in agent_view.draft
    manager_view = suggestions.generate_suggestion(
        manager, suggestions.request_suggestion(manager, number).id, config=llm.LlmConfig()
    )
    assert "board-memo" in {s["ref"] for s in manager_view.sources}
    # The manager's wider draft is cached apart: the agent's cached draft is untouched.
    assert suggestions.current_suggestion(agent, number).id == agent_view.id


def test_clients_and_roleless_users_get_no_suggestions(setting):
    _, ada_user, number = setting
    with pytest.raises(PermissionDenied):
        suggestions.request_suggestion(ada_user, number)
    with pytest.raises(PermissionDenied):
        suggestions.request_suggestion(make_user(None), number)


def test_ratings_insertions_and_edits_are_recorded(setting):
    agent, _, number = setting
    view = suggestions.generate_suggestion(
        agent, suggestions.request_suggestion(agent, number).id, config=llm.LlmConfig()
    )
    suggestions.rate_suggestion(agent, view.id, 1)
    suggestions.record_inserted(agent, view.id)
    kept = suggestions.record_sent(agent, view.id, view.draft + "\nP.S. Call me anytime.")
    assert 0.8 < kept < 1.0
    with pytest.raises(InvalidInput):
        suggestions.rate_suggestion(agent, view.id, 5)


def test_llm_key_is_encrypted_at_rest_and_only_managers_configure(db, fake_openai):
    from sqlalchemy import select

    from crm_app.db import session_scope
    from models.ai import LlmSettings

    manager = make_user("manager")
    with pytest.raises(PermissionDenied):
        llm.update_config(make_user("agent"), chat_model="openai/x")
    config = llm.update_config(
        manager,
        chat_model="openai/fake-chat",
        api_base=fake_openai.base_url,
        api_key="sk-live-secret",
    )
    with session_scope() as session:
        stored = session.execute(select(LlmSettings)).scalars().one()
        assert "sk-live-secret" not in stored.api_key_encrypted
    assert llm.load_config().api_key == "sk-live-secret"
    assert config.describe()["api_key_set"] is True and "sk-live" not in str(config.describe())
    with pytest.raises(InvalidInput):
        llm.update_config(manager, api_base="ftp://nope")
