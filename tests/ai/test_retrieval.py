"""The retrieval store: hybrid search finds what the firm already answered, incrementally
indexed, and never returns what the asking user may not see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_app.ai import retrieval
from crm_app.ai.retrieval import DocumentInput
from crm_app.auth.permissions import SYSTEM
from crm_app.services import tickets
from crm_app.services.errors import InvalidInput, PermissionDenied
from models.retrieval import Audience, SourceKind
from tests.factories import make_client, make_ticket, make_user


def _resolve(agent, number: int, answer: str) -> None:
    tickets.add_message(agent, number, answer)
    tickets.update_ticket(agent, number, expected_version=None, status="resolved")


def _doc(ref: str, question: str, answer: str = "", **kw) -> DocumentInput:
    return DocumentInput(
        source_kind=kw.pop("source_kind", SourceKind.RESOLVED_TICKET),
        source_ref=ref,
        title=question[:60],
        question=question,
        answer=answer,
        **kw,
    )


def test_resolved_tickets_are_indexed_and_found_by_meaning(db: str) -> None:
    agent = make_user("agent")
    client = make_client(agent)
    wire = tickets.create_ticket(
        agent,
        client_id=client,
        subject="Wire transfer limits",
        body="What is the daily limit for outgoing wire transfers?",
    )
    _resolve(agent, wire.number, "Outgoing wires are limited to 50,000 USD per day.")
    tax = tickets.create_ticket(
        agent,
        client_id=client,
        subject="Tax documents",
        body="When will my 1099 tax form be available?",
    )
    _resolve(agent, tax.number, "1099 forms are published in your portal by mid-February.")
    make_ticket(agent, client, subject="Still open")  # open tickets are not knowledge yet

    assert retrieval.index_resolved_tickets() == 2
    assert retrieval.index_resolved_tickets() == 0  # incremental: nothing changed

    hits = retrieval.search(agent, "how much money can I send abroad in a single day")
    assert hits[0].source_ref == str(wire.number)
    assert hits[0].link == f"/tickets/{wire.number}"
    assert "50,000" in hits[0].answer
    hits = retrieval.search(agent, "tax statement")
    assert hits[0].source_ref == str(tax.number)


def test_reopened_ticket_leaves_the_store_and_changed_answer_is_reindexed(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, None, subject="Fee schedule")
    _resolve(agent, number, "Our advisory fee is 1% a year.")
    retrieval.index_resolved_tickets()
    tickets.update_ticket(agent, number, expected_version=None, status="open")
    retrieval.index_resolved_tickets()
    assert retrieval.search(agent, "advisory fee") == []
    _resolve(agent, number, "Our advisory fee is 0.8% a year from January.")
    retrieval.index_resolved_tickets()
    assert "0.8%" in retrieval.search(agent, "advisory fee")[0].answer


def test_internal_notes_never_enter_the_store(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, None, subject="Margin call")
    tickets.add_message(agent, number, "SECRET-NOTE client is a flight risk", internal=True)
    _resolve(agent, number, "Your margin call was covered by the deposit.")
    retrieval.index_resolved_tickets()
    hit = retrieval.search(agent, "margin call")[0]
    assert "SECRET-NOTE" not in hit.question + hit.answer + hit.snippet
    assert retrieval.search(agent, "SECRET-NOTE flight risk")[0].source_ref == str(number)
    assert "flight" not in retrieval.search(agent, "flight risk")[0].answer


def test_filters_by_source_client_and_date(db: str) -> None:
    agent = make_user("agent")
    ada, bob = make_client(agent, "Ada Lovelace"), make_client(agent, "Bob Stone")
    old = datetime(2024, 1, 5, tzinfo=UTC)
    retrieval.upsert_documents(
        SYSTEM,
        [
            _doc(
                "1",
                "How do I rebalance my portfolio?",
                client_id=ada,
                occurred_at=old,
                audience=Audience.CLIENT,
            ),
            _doc(
                "2",
                "How do I rebalance my portfolio quarterly?",
                client_id=bob,
                occurred_at=old + timedelta(days=300),
                audience=Audience.CLIENT,
            ),
            _doc(
                "faq-1",
                "Rebalancing explained",
                "We rebalance twice a year.",
                source_kind=SourceKind.FAQ,
                audience=Audience.PUBLIC,
            ),
        ],
    )
    refs = lambda hits: {h.source_ref for h in hits}  # noqa: E731
    assert refs(retrieval.search(agent, "rebalance", client_id=ada)) == {"1"}
    assert refs(retrieval.search(agent, "rebalance", source_kinds=["faq"])) == {"faq-1"}
    assert refs(
        retrieval.search(
            agent, "rebalance", source_kinds=["resolved_ticket"], date_from=old + timedelta(days=30)
        )
    ) == {"2"}
    with pytest.raises(InvalidInput):
        retrieval.search(agent, "rebalance", source_kinds=["gossip"])
    with pytest.raises(InvalidInput):
        retrieval.search(agent, "   ")


def test_search_never_returns_what_the_user_may_not_see(db: str) -> None:
    manager = make_user("manager")
    agent = make_user("agent")
    ada_user, bob_user = make_user("client"), make_user("client")
    ada = make_client(agent, "Ada Lovelace", portal_user=ada_user)
    bob = make_client(agent, "Bob Stone", portal_user=bob_user)
    retrieval.upsert_documents(
        SYSTEM,
        [
            _doc(
                "ada",
                "Pension transfer to another provider",
                client_id=ada,
                audience=Audience.CLIENT,
            ),
            _doc(
                "bob", "Pension transfer to a new provider", client_id=bob, audience=Audience.CLIENT
            ),
            _doc(
                "board",
                "Pension transfer fee waiver for insiders",
                audience=Audience.MANAGERS,
                source_kind=SourceKind.ARCHIVE_MESSAGE,
            ),
            _doc(
                "staff",
                "Pension transfer checklist for agents",
                audience=Audience.STAFF,
                source_kind=SourceKind.ARCHIVE_MESSAGE,
            ),
            _doc(
                "faq",
                "How pension transfers work",
                source_kind=SourceKind.FAQ,
                audience=Audience.PUBLIC,
            ),
        ],
    )

    def seen(actor) -> set[str]:
        return {h.source_ref for h in retrieval.search(actor, "pension transfer", k=10)}

    assert seen(manager) == {"ada", "bob", "board", "staff", "faq"}
    assert seen(agent) == {"ada", "bob", "staff", "faq"}
    assert seen(ada_user) == {"ada", "faq"}
    assert seen(bob_user) == {"bob", "faq"}
    assert seen(make_user("marketing")) == {"faq"}
    with pytest.raises(PermissionDenied):
        retrieval.search(make_user(None), "pension transfer")


def test_archive_chunks_are_taken_in_the_same_shape(db: str) -> None:
    agent = make_user("agent")
    long_body = " ".join(f"Paragraph {i} about custody accounts and settlement." for i in range(30))
    retrieval.upsert_documents(
        SYSTEM,
        [
            DocumentInput(
                source_kind=SourceKind.ARCHIVE_MESSAGE,
                source_ref="msg-1@archive",
                title="Custody migration",
                chunks=retrieval.chunk_text(long_body + " ESCROW-TOKEN"),
                participants=["ops@firm.example"],
                metadata={"mailbox": "ops"},
            )
        ],
    )
    hit = retrieval.search(agent, "ESCROW-TOKEN")[0]
    assert hit.source_ref == "msg-1@archive"
    assert len(retrieval.chunk_text(long_body)) > 1


def test_model_change_reembeds_in_background_without_mixing_spaces(db: str) -> None:
    agent = make_user("agent")
    retrieval.upsert_documents(SYSTEM, [_doc("1", "Close my brokerage account")])

    class OtherModel:
        name = "test/other-model"

        def embed(self, texts):
            import numpy as np

            vectors = np.ones((len(texts), 8), dtype=np.float32)
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    other = OtherModel()
    # Before re-embedding, the new model's vector search sees nothing (never mixes spaces) ...
    hits = retrieval.search(agent, "zzzz", provider=other)
    assert hits == []
    assert retrieval.reembed_stale(provider=other) == 1
    assert retrieval.search(agent, "zzzz", provider=other)[0].source_ref == "1"


def test_one_shared_common_word_does_not_outrank_meaning_but_a_full_match_does(db: str) -> None:
    """Full text counts by how much of the query a document holds: a past ticket that shares
    only "bank" with a long question no longer jumps over the one that means the same, while
    one that holds every word of it still comes first."""
    import numpy as np

    agent = make_user("agent")
    query = "When will my transfer to the new custodian bank arrive"
    # Cosine similarity of each document to the query, so the vector ranking is known.
    placed = {
        "Moving my portfolio elsewhere": 0.90,  # the same meaning, no word in common
        "Quarterly statement request": 0.85,
        "Change of address form": 0.84,
        "Closing a savings plan": 0.83,
        "Transfer to a new custodian bank: when does it arrive": 0.80,  # every word
        "Bank holiday opening hours": 0.79,  # one common word
    }

    class Placed:
        name = "test/placed"

        def embed(self, texts):
            vectors = np.zeros((len(texts), 8), dtype=np.float32)
            for row, text in enumerate(texts):
                if text == query:
                    vectors[row, 0] = 1.0
                else:
                    cosine = placed[text]
                    vectors[row, 0] = cosine
                    vectors[row, 1 + list(placed).index(text)] = np.sqrt(1 - cosine**2)
            return vectors

    provider = Placed()
    retrieval.upsert_documents(
        SYSTEM,
        [_doc(str(i), text, chunks=[text]) for i, text in enumerate(placed)],
        provider=provider,
    )
    order = [hit.title for hit in retrieval.search(agent, query, k=6, provider=provider)]
    assert order[:2] == [
        "Transfer to a new custodian bank: when does it arrive",
        "Moving my portfolio elsewhere",
    ]
    assert order.index("Bank holiday opening hours") > order.index("Moving my portfolio elsewhere")
