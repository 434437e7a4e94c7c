"""FAQ drafts written by a configured language model: grounded only in the topic's own resolved
answers (sent scrubbed), scrubbed again on the way back, given the finance disclaimer and
checked for compliance; an outage falls back to the best resolved answer."""

from __future__ import annotations

import json

import pytest

from crm_app.ai import compliance, retrieval
from crm_app.services import faq_generation
from crm_app.services.portal import knowledge
from tests.factories import make_client, make_user
from tests.test_faq_generation import (
    PASSWORD_ANSWER,
    PASSWORD_QUESTIONS,
    TAX_ANSWER,
    TAX_QUESTIONS,
    _topic_tickets,
)


@pytest.fixture
def seeded(db: str):
    manager, agent, client_user = make_user("manager"), make_user("agent"), make_user("client")
    client_id = make_client(agent, name="Patrick Walsh", portal_user=client_user)
    _topic_tickets(agent, client_user, client_id, PASSWORD_QUESTIONS, PASSWORD_ANSWER)
    _topic_tickets(agent, client_user, client_id, TAX_QUESTIONS, TAX_ANSWER)
    retrieval.index_resolved_tickets()
    return manager


def test_llm_draft_is_grounded_in_its_topic_scrubbed_disclaimed_and_flagged(
    seeded, fake_openai
) -> None:
    fake_openai.reply = (
        "Q: How do I reset my portal password, Patrick Walsh?\n"
        "A: Use Forgot password on the sign-in page. Account 44556677 is safe, and your "
        "portfolio is guaranteed to grow."
    )
    run = faq_generation.generate(seeded, config=fake_openai.config())
    assert run.drafts_created == 2
    prompts = [json.dumps(r["body"]["messages"]) for r in fake_openai.requests]
    assert len(prompts) == 2
    # Each prompt holds its own topic's answer only, and no client detail.
    assert sum("Forgot password" in p for p in prompts) == 1
    assert not any("Forgot password" in p and "1099 forms" in p for p in prompts)
    assert not any(detail in p for p in prompts for detail in ("Walsh", "44556677", "12,500"))
    drafts = knowledge.list_entries(seeded, "draft")
    assert len(drafts) == 2
    for draft in drafts:
        assert draft.question.startswith("How do I reset my portal password")
        assert "Walsh" not in draft.question and "44556677" not in draft.answer
        assert compliance.FINANCE_DISCLAIMER in draft.answer  # it mentions a portfolio
        assert any("Guarantees" in flag for flag in draft.flags)


def test_llm_outage_falls_back_to_the_best_resolved_answer(seeded, fake_openai) -> None:
    fake_openai.down = True
    run = faq_generation.generate(seeded, config=fake_openai.config())
    assert run.status == "finished" and run.drafts_created == 2
    answers = [d.answer for d in knowledge.list_entries(seeded, "draft")]
    assert any("Forgot password" in a for a in answers)
    assert any("1099 forms are published" in a for a in answers)
