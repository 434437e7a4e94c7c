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
    assert [h["action"] for h in data["history"]][:2] == ["client.created",
                                                          "client.note_added"]
    assert clients.client_history(manager, client_id)[0].action == "data_exported"


def test_only_managers_handle_privacy_requests(db: str) -> None:
    manager = make_user("manager")
    client_id = make_client(manager)
    for role in ("agent", "marketing", "client", None):
        actor = make_user(role)
        for call in (lambda a: client_privacy.export_client_data(a, client_id),
                     lambda a: client_privacy.erase_client(a, client_id),
                     lambda a: client_privacy.set_legal_hold(a, client_id, True, "case 1")):
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
        bodies = session.execute(select(TicketMessage.body_text).where(
            TicketMessage.ticket_id == ticket.id)).scalars().all()
        assert bodies and set(bodies) == {"[erased]"}
        entries = session.execute(select(AuditLog).where(
            AuditLog.entity_type == "client", AuditLog.entity_id == client_id)).scalars().all()
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
