"""Likely duplicates and merging, through the real services and PostgreSQL."""

from __future__ import annotations

import pytest

from crm_app.services import client_duplicates, clients
from crm_app.services.errors import InvalidInput, PermissionDenied
from tests.factories import make_ticket, make_user


def _client(actor, name: str, **fields) -> int:
    return clients.create_client(actor, name=name, **fields).id


@pytest.mark.parametrize("trigram", [True, False], ids=["pg_trgm", "without_pg_trgm"])
def test_duplicates_are_found_by_email_phone_and_name(db: str, trigram: bool, monkeypatch) -> None:
    # Both paths run on the real server: a PostgreSQL without pg_trgm takes the plain one.
    if not trigram:
        monkeypatch.setattr(client_duplicates, "has_trigram_search", lambda: False)
    agent = make_user("agent")
    ada = _client(agent, "Ada Lovelace", email="ada@x.example", phone="+44 20 7946 0958")
    ada_dup = _client(agent, "A. Lovelace", email="ADA@x.example")
    phone_a = _client(agent, "Grace Hopper", phone="+1 202 555 0143")
    phone_b = _client(agent, "G. Hopper", phone="+12025550143")
    name_a = _client(agent, "Alan Turing")
    name_b = _client(agent, "alan  turing")
    _client(agent, "Someone Else", email="else@x.example")
    pairs = {(p.keep_id, p.other_id): p.reasons for p in client_duplicates.find_duplicates(agent)}
    assert "same email" in pairs[(ada, ada_dup)]
    assert "same phone" in pairs[(phone_a, phone_b)]
    assert any("name" in r for r in pairs[(name_a, name_b)])
    assert len(pairs) == 3
    if trigram and clients.has_trigram_search():  # typos only match with pg_trgm
        typo = _client(agent, "Margaret Hale")
        typo_b = _client(agent, "Margret Hale")
        assert (typo, typo_b) in {
            (p.keep_id, p.other_id) for p in client_duplicates.find_duplicates(agent)
        }


def test_merge_keeps_one_record_and_moves_tickets_notes_and_history(db: str) -> None:
    agent = make_user("agent")
    keep = _client(agent, "Ada Lovelace", email="ada@x.example", tags="vip")
    other = _client(
        agent,
        "Ada King",
        email="ada.king@x.example",
        phone="+44 20 7946 0958",
        region="London",
        tags="esg",
    )
    clients.add_note(agent, other, "Met at the Geneva conference")
    ticket_number = make_ticket(agent, other, "Transfer question")
    client_duplicates.merge_clients(agent, keep, other)

    kept = clients.get_client(agent, keep)
    assert kept.email == "ada@x.example" and kept.other_emails == "ada.king@x.example"
    assert kept.phone == "+442079460958" and kept.region == "London"  # empty fields filled
    assert kept.tags == ["vip", "esg"]
    assert [t.number for t in clients.client_tickets(agent, keep)] == [ticket_number]
    assert [n.body for n in clients.list_notes(agent, keep)] == ["Met at the Geneva conference"]
    actions = [h.action for h in clients.client_history(agent, keep)]
    assert actions[0] == "merged" and actions.count("created") == 2
    merged = clients.get_client(agent, other)
    assert merged.deleted and merged.merged_into_id == keep
    assert [c.id for c in clients.list_clients(agent).items] == [keep]
    assert client_duplicates.find_duplicates(agent) == []
    with pytest.raises(InvalidInput, match="merged"):
        client_duplicates.merge_clients(agent, keep, other)


def test_merge_refuses_the_same_client_and_users_who_may_not_edit(db: str) -> None:
    agent = make_user("agent")
    a, b = _client(agent, "Ada Lovelace"), _client(agent, "Ada Lovelace")
    with pytest.raises(InvalidInput, match="two different"):
        client_duplicates.merge_clients(agent, a, a)
    for role in ("marketing", "client", None):
        actor = make_user(role)
        with pytest.raises(PermissionDenied):
            client_duplicates.merge_clients(actor, a, b)
        with pytest.raises(PermissionDenied):
            client_duplicates.find_duplicates(actor)
