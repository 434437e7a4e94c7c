"""The auto-generated FAQ: the job drafts entries from clustered client questions, scrubbed of
client details and deduplicated; managers review, publish (help centre + retrieval store),
merge, reject; every change is versioned; clients' use of an entry is measured."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from crm_app.ai import retrieval
from crm_app.auth.permissions import SYSTEM
from crm_app.db import session_scope
from crm_app.services import faq_generation, tickets
from crm_app.services.errors import Conflict, PermissionDenied
from crm_app.services.portal import knowledge
from jobs import faq_regen
from jobs.registry import scheduled_jobs
from models.base import utcnow
from models.faq import FaqRun
from models.retrieval import SourceKind
from tests.factories import make_client, make_user

PASSWORD_QUESTIONS = [
    "Hello, this is Patrick Walsh. I forgot my portal password, how do I reset it?",
    "How can I reset my password for the client portal? My account is 44556677.",
    "My portal password no longer works, please help me reset it. patrick.walsh@mail.example",
]
PASSWORD_ANSWER = (
    "Dear Patrick Walsh,\n\nThank you for your message. Use 'Forgot password' on the portal "
    "sign-in page; the reset link is valid for one hour. Your account 44556677 with a balance "
    "of EUR 12,500.00 is not affected.\n\nKind regards,\nMaria Jensen"
)
TAX_QUESTIONS = [
    "When will my 1099 tax form be available?",
    "Where can I download my 1099 tax form?",
    "I still have not received my 1099 tax form, can you send it to walsh@mail.example?",
]
TAX_ANSWER = (
    "Hi Patrick,\n\n1099 forms are published in the portal under Documents by mid-February."
    "\n\nBest regards,\nMaria Jensen"
)


def _topic_tickets(agent, client_user, client_id: int, questions: list[str], answer: str):
    numbers = []
    for text in questions:
        number = tickets.create_ticket(
            agent, client_id=client_id, subject="Question", body="Opened for the client."
        ).number
        tickets.add_message(client_user, number, text)
        tickets.add_message(agent, number, answer)
        tickets.update_ticket(agent, number, expected_version=None, status="resolved")
        numbers.append(number)
    return numbers


@pytest.fixture
def people(db: str):
    manager, agent, client_user = make_user("manager"), make_user("agent"), make_user("client")
    client_id = make_client(agent, name="Patrick Walsh", portal_user=client_user)
    return manager, agent, client_user, client_id


def _seed(people) -> tuple[list[int], list[int]]:
    _, agent, client_user, client_id = people
    password = _topic_tickets(agent, client_user, client_id, PASSWORD_QUESTIONS, PASSWORD_ANSWER)
    tax = _topic_tickets(agent, client_user, client_id, TAX_QUESTIONS, TAX_ANSWER)
    retrieval.index_resolved_tickets()
    return password, tax


def test_generation_drafts_one_entry_per_topic_grounded_in_its_resolved_answer(people) -> None:
    manager = people[0]
    password, tax = _seed(people)
    run = faq_generation.generate(manager)
    assert (run.status, run.questions, run.topics, run.drafts_created) == ("finished", 6, 2, 2)
    assert run.done == run.total == 2
    drafts = knowledge.list_entries(manager, "draft")
    assert sorted(sorted(d.source_tickets) for d in drafts) == sorted([password, tax])
    assert all(d.topic_size == 3 and d.origin == "generated" for d in drafts)
    by_tickets = {tuple(sorted(d.source_tickets)): d for d in drafts}
    reset = by_tickets[tuple(password)]
    assert "Forgot password" in reset.answer and "password" in reset.question.lower()
    # The sentence about one client's account and balance stays out of a public answer.
    assert "balance" not in reset.answer and "[" not in reset.answer + reset.question
    assert reset.question.endswith("?")
    assert len(reset.sample_questions) == 3


def test_entries_never_hold_client_names_account_numbers_amounts_or_emails(people) -> None:
    manager = people[0]
    _seed(people)
    faq_generation.generate(manager)
    drafts = knowledge.list_entries(manager, "draft")
    assert drafts
    for draft in drafts:
        text = " ".join([draft.question, draft.answer, *draft.sample_questions])
        for detail in ("Patrick", "Walsh", "Maria", "Jensen", "44556677", "12,500", "@mail"):
            assert detail not in text, (detail, text)


def test_scrub_removes_identifying_details() -> None:
    text = (
        "Dear Mrs Okafor, your IBAN DE89 3704 0044 0532 0130 00 received EUR 2,300.50; "
        "write to chidi.okafor@mail.example or call +44 20 7946 0958."
    )
    scrubbed = faq_generation.scrub(text, {"Chidi Okafor"})
    for detail in ("Okafor", "DE89", "2,300", "chidi", "7946"):
        assert detail not in scrubbed, scrubbed


def test_a_second_run_while_one_runs_is_refused_politely(people) -> None:
    manager = people[0]
    first = faq_generation.start_run(manager)
    with pytest.raises(Conflict, match="already being generated"):
        faq_generation.start_run(manager)
    # A run whose process died stops blocking once its heartbeat is stale.
    with session_scope() as session:
        session.execute(
            update(FaqRun)
            .where(FaqRun.id == first.id)
            .values(heartbeat_at=utcnow() - timedelta(hours=2))
        )
    second = faq_generation.start_run(manager)
    assert second.id != first.id
    assert faq_generation.latest_run(manager).id == second.id


def test_only_managers_generate_the_faq(people) -> None:
    _, agent, client_user, _ = people
    for actor in (agent, client_user):
        with pytest.raises(PermissionDenied):
            faq_generation.start_run(actor)


def test_a_draft_close_to_a_published_entry_proposes_an_update(people) -> None:
    manager = people[0]
    _seed(people)
    published = knowledge.save_entry(
        manager, None, question="How do I reset my portal password?", answer="Call us."
    )
    knowledge.set_status(manager, published.id, "published")
    run = faq_generation.generate(manager)
    assert (run.drafts_created, run.updates_proposed) == (1, 1)
    proposal = next(d for d in knowledge.list_entries(manager, "draft") if d.updates_entry_id)
    assert proposal.updates_entry_id == published.id
    # A second run refreshes the open proposal instead of adding another.
    again = faq_generation.generate(manager)
    assert again.drafts_created == 0
    assert len([d for d in knowledge.list_entries(manager, "draft") if d.updates_entry_id]) == 1
    # Publishing the proposal puts its text into the published entry.
    knowledge.set_status(manager, proposal.id, "published")
    entries = {e.id: e for e in knowledge.list_entries(manager)}
    assert proposal.id not in entries
    assert "Forgot password" in entries[published.id].answer
    history = knowledge.versions(manager, published.id)
    assert history[0].change == "updated from draft" and history[0].changed_by == manager.name
    assert [v.version for v in history] == sorted((v.version for v in history), reverse=True)


def test_published_entries_are_retrieval_sources_and_unpublished_ones_leave(people) -> None:
    manager, agent = people[0], people[1]
    entry = knowledge.save_entry(
        manager,
        None,
        question="How long does an international wire transfer take?",
        answer="International wires arrive within two business days.",
        category="Payments",
    )

    def faq_hits() -> list[str]:
        hits = retrieval.search(
            agent, "wire transfer duration", k=5, source_kinds=[SourceKind.FAQ.value]
        )
        return [h.source_ref for h in hits]

    assert faq_hits() == []
    knowledge.set_status(manager, entry.id, "published")
    assert faq_hits() == [str(entry.id)]
    knowledge.set_status(manager, entry.id, "unpublished")
    assert faq_hits() == []


def test_merge_reject_and_versions_record_who_changed_what(people) -> None:
    manager = people[0]
    _seed(people)
    faq_generation.generate(manager)
    first, second = knowledge.list_entries(manager, "draft")
    knowledge.merge_entries(manager, second.id, first.id)
    merged = {e.id: e for e in knowledge.list_entries(manager)}
    assert second.id not in merged
    assert merged[first.id].topic_size == 6
    assert sorted(merged[first.id].source_tickets) == sorted(
        first.source_tickets + second.source_tickets
    )
    knowledge.save_entry(
        manager, first.id, question=first.question, answer="Edited answer.", category="Access"
    )
    knowledge.set_status(manager, first.id, "rejected")
    changes = [v.change for v in knowledge.versions(manager, first.id)]
    assert changes == ["rejected", "edited", f"merged #{second.id} in", "generated"]
    assert knowledge.versions(manager, first.id)[-1].changed_by == manager.name


def test_views_searches_votes_and_deflections_are_counted_per_entry(people) -> None:
    manager, _, client_user, _ = people
    entry = knowledge.save_entry(
        manager, None, question="How do I reset my portal password?", answer="Use Forgot password."
    )
    knowledge.set_status(manager, entry.id, "published")
    assert [e.id for e in knowledge.help_centre(client_user, "reset password")] == [entry.id]
    knowledge.view_entry(client_user, entry.id)
    knowledge.vote(client_user, entry.id, helpful=False)
    knowledge.vote(client_user, entry.id, helpful=True)  # a second vote replaces the first
    knowledge.record_request_outcome(
        client_user,
        query="password",
        suggested_ids=[entry.id],
        viewed_ids=[entry.id],
        ticket_number=None,
    )
    row = next(e for e in knowledge.list_entries(manager) if e.id == entry.id)
    assert (row.views, row.search_hits, row.helpful_yes, row.helpful_no, row.deflected) == (
        1,
        1,
        1,
        0,
        1,
    )


def test_the_faq_job_is_in_the_registry() -> None:
    job = next(j for j in scheduled_jobs() if j.id == "faq_regen")
    assert job.func == "jobs.faq_regen:run"


def test_the_job_indexes_entries_published_before_and_drops_stale_faq_sources(people) -> None:
    manager, agent = people[0], people[1]
    entry = knowledge.save_entry(
        manager, None, question="How long does an international wire take?", answer="Two days."
    )
    knowledge.set_status(manager, entry.id, "published")
    retrieval.delete_document(SYSTEM, SourceKind.FAQ.value, str(entry.id))  # as before FAQ sources
    retrieval.upsert_documents(
        SYSTEM,
        [retrieval.DocumentInput(source_kind="faq", source_ref="999", question="Gone", answer="x")],
    )
    faq_regen.run()

    refs = {
        h.source_ref
        for h in retrieval.search(agent, "international wire", k=10, source_kinds=["faq"])
    }
    assert refs == {str(entry.id)}
