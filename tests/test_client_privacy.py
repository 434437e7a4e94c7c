"""Privacy requests through the real services: export everything about one client, erase by
anonymizing while tickets and audit keep their shape, and the legal hold that blocks erasure."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm_app.db import session_scope
from crm_app.services import client_privacy, clients
from crm_app.services.errors import Conflict, InvalidInput, PermissionDenied
from models.audit import AuditLog
from models.ticket import Ticket, TicketMessage
from tests.factories import make_client, make_ticket, make_user


def test_export_holds_the_record_notes_tickets_and_history_and_is_audited(db: str) -> None:
    manager = make_user("manager")
    client_id = make_client(manager, "Ada Lovelace")
    clients.add_note(manager, client_id, "Prefers calls after 5pm")
    make_ticket(manager, client_id, "Withdrawal request")
    data = json.loads(client_privacy.export_client_json(manager, client_id))
    assert data["client"]["name"] == "Ada Lovelace"
    assert data["client"]["net_worth"] == "2500000.00"
    assert data["notes"][0]["body"] == "Prefers calls after 5pm"
    assert data["tickets"][0]["subject"] == "Withdrawal request"
    assert "10,000 USD" in data["tickets"][0]["messages"][0]["text"]
    assert [h["action"] for h in data["history"]][:2] == ["client.created", "client.note_added"]
    assert clients.client_history(manager, client_id)[0].action == "data_exported"


def test_only_managers_handle_privacy_requests(db: str) -> None:
    manager = make_user("manager")
    client_id = make_client(manager)
    for role in ("agent", "marketing", "client", None):
        actor = make_user(role)
        for call in (
            lambda a: client_privacy.export_client_data(a, client_id),
            lambda a: client_privacy.erase_client(a, client_id),
            lambda a: client_privacy.set_legal_hold(a, client_id, True, "case 1"),
        ):
            with pytest.raises(PermissionDenied):
                call(actor)


def test_erasure_anonymizes_personal_data_but_keeps_tickets_and_audit_shape(db: str) -> None:
    manager = make_user("manager")
    client_id = make_client(manager, "Ada Lovelace")
    clients.update_client(manager, client_id, {"phone": "+44 20 7946 0958", "tags": "vip"})
    clients.add_note(manager, client_id, "Lives at 12 Baker Street")
    number = make_ticket(manager, client_id, "Withdrawal for Ada")
    client_privacy.erase_client(manager, client_id, reason="GDPR art. 17 request")

    detail = clients.get_client(manager, client_id)
    assert detail.erased and detail.name == f"Erased client #{client_id}"
    assert (detail.email, detail.phone, detail.net_worth, detail.tags) == ("", "", "", [])
    assert clients.list_notes(manager, client_id)[0].body == "[erased]"
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
        assert ticket.client_id == client_id and ticket.subject == "[erased]"
        bodies = (
            session.execute(
                select(TicketMessage.body_text).where(TicketMessage.ticket_id == ticket.id)
            )
            .scalars()
            .all()
        )
        assert bodies and set(bodies) == {"[erased]"}
        entries = (
            session.execute(
                select(AuditLog).where(
                    AuditLog.entity_type == "client", AuditLog.entity_id == client_id
                )
            )
            .scalars()
            .all()
        )
        dump = json.dumps([e.changes for e in entries])
    assert "Ada" not in dump and "Baker" not in dump and "+4420" not in dump
    actions = [h.action for h in clients.client_history(manager, client_id)]
    assert actions[0] == "erased" and {"created", "updated", "note_added"} <= set(actions)
    with pytest.raises(InvalidInput, match="erased"):
        clients.update_client(manager, client_id, {"name": "Ada again"})
    with pytest.raises(Conflict, match="erased already"):
        client_privacy.erase_client(manager, client_id)


def test_legal_hold_blocks_erasure_until_lifted_and_both_are_audited(db: str) -> None:
    manager = make_user("manager")
    client_id = make_client(manager, "Ada Lovelace")
    with pytest.raises(InvalidInput, match="why"):
        client_privacy.set_legal_hold(manager, client_id, True)
    client_privacy.set_legal_hold(manager, client_id, True, "FCA inquiry 2026-14")
    with pytest.raises(Conflict, match="legal hold"):
        client_privacy.erase_client(manager, client_id)
    assert clients.get_client(manager, client_id).name == "Ada Lovelace"
    client_privacy.set_legal_hold(manager, client_id, False)
    client_privacy.erase_client(manager, client_id)
    actions = [h.action for h in clients.client_history(manager, client_id)]
    assert actions[:3] == ["erased", "legal_hold_lifted", "legal_hold_set"]


def test_erasure_leaves_no_trace_in_ticket_history_retrieval_chunks_embeddings_or_drafts(
    db: str,
) -> None:
    from crm_app.ai import retrieval
    from crm_app.auth.permissions import SYSTEM
    from crm_app.services import tickets
    from models.ai import ReplySuggestion
    from models.retrieval import RetrievalChunk, RetrievalDocument

    manager = make_user("manager")
    client_id = make_client(manager, "Ada Lovelace")
    keep_id = make_client(manager, "Grace Hopper")
    number = make_ticket(manager, client_id, "Ada's withdrawal of 411,000 EUR")
    other = make_ticket(manager, keep_id, "Grace asks about fees")
    for n in (number, other):
        tickets.add_message(manager, n, "Done, the wire left today.")
        tickets.update_ticket(manager, n, expected_version=None, status="resolved")
    assert retrieval.index_resolved_tickets(provider=None) == 2
    retrieval.upsert_documents(
        SYSTEM,
        [
            retrieval.DocumentInput(
                source_kind="archive_message",
                source_ref="<m1@x.example>",
                title="Old mail",
                question="Ada wrote about her portfolio",
                answer="",
                audience="staff",
                participants=["Ada Lovelace <ada@x.example>", "desk@firm.example"],
                chunks=["Ada wrote about her portfolio"],
            )
        ],
        provider=None,
    )
    with session_scope() as session:
        ticket_id = session.execute(select(Ticket.id).where(Ticket.number == number)).scalar()
        session.add(ReplySuggestion(ticket_id=ticket_id, draft="Dear Ada, about 411,000 EUR"))

    client_privacy.erase_client(manager, client_id, reason="GDPR art. 17 request")

    with session_scope() as session:
        history = (
            session.execute(
                select(AuditLog.changes).where(
                    AuditLog.entity_type == "ticket", AuditLog.entity_id == ticket_id
                )
            )
            .scalars()
            .all()
        )
        documents = session.execute(select(RetrievalDocument)).scalars().all()
        chunks = session.execute(select(RetrievalChunk)).scalars().all()
        drafts = session.execute(select(ReplySuggestion.draft)).scalars().all()
        dump = json.dumps(
            [
                history,
                [(d.title, d.question, d.answer, d.participants) for d in documents],
                [c.text for c in chunks],
                drafts,
            ]
        )
    assert history and "Ada" not in dump and "411,000" not in dump
    assert any(entry.get("number") == number for entry in history)  # the shape stays
    assert {c.document_id for c in chunks} == {
        d.id for d in documents if d.source_ref == str(other)
    }
    assert "Grace" in dump  # other clients are untouched
    # The indexer does not bring the erased ticket back.
    assert retrieval.index_resolved_tickets(provider=None) == 0
