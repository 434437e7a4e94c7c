"""The client record, its list, its profile and who may see what, through the real services."""

from __future__ import annotations

import pytest

from crm_app.services import client_fields, clients
from crm_app.services.errors import InvalidInput, NotAuthenticated, PermissionDenied
from tests.factories import make_client, make_ticket, make_user


def test_phone_numbers_are_stored_in_e164_and_bad_ones_are_refused(db: str) -> None:
    agent = make_user("agent")
    row = clients.create_client(agent, name="Hana Sato", phone="020 7946 0958", country="GB")
    assert row.phone == "+442079460958"
    with pytest.raises(InvalidInput, match="too few or too many digits"):
        clients.create_client(agent, name="Bad Phone", phone="+44 12")
    with pytest.raises(InvalidInput, match="start with \\+"):
        clients.create_client(agent, name="No Country", phone="020 7946 0958")


def test_possible_but_unassigned_numbers_are_saved_with_a_warning(db: str) -> None:
    agent = make_user("agent")
    # The demo data's own range: Ofcom keeps 07700 900xxx for drama, so it is possible, not valid.
    row = clients.create_client(agent, name="Drama Range", phone="+44 7700 900414")
    assert row.phone == "+447700900414"
    assert row.warnings and "not a number in use" in row.warnings[0]
    detail = clients.update_client(agent, row.id, {"other_phones": "+44 7700 900415"})
    assert detail.other_phones == "+447700900415" and "Other phone" in detail.warnings[0]
    assert not clients.update_client(agent, row.id, {"phone": "+44 20 7946 0958"}).warnings


def test_a_record_saved_under_older_rules_stays_editable_when_its_phone_is_untouched(
    db: str,
) -> None:
    from crm_app.db import session_scope
    from models.client import Client

    agent = make_user("agent")
    client_id = make_client(agent, "Old Record")
    with session_scope() as session:  # as the seeder or an older version stored it
        session.get(Client, client_id).phone = "+999 12"
    form = {
        "name": "Old Record Renamed",
        "phone": "+999 12",
        "other_phones": "",
        "email": "old@x.example",
        "country": "",
        "tags": "",
        "marketing_consent": False,
    }
    detail = clients.update_client(agent, client_id, form)
    assert (detail.name, detail.phone) == ("Old Record Renamed", "+999 12")
    history = clients.client_history(agent, client_id)[0]
    assert [c[0] for c in history.changes] == ["Name"]  # only the edited field is recorded
    with pytest.raises(InvalidInput, match="phone"):
        clients.update_client(agent, client_id, {**form, "phone": "+999 13"})


def test_profile_edit_validates_each_field_and_records_before_and_after(db: str) -> None:
    agent = make_user("agent")
    client_id = make_client(agent, "Ada Lovelace", net_worth="1000000")
    clients.update_client(
        agent,
        client_id,
        {
            "net_worth": "1,250,000.50",
            "aum": "800000",
            "kyc_status": "verified",
            "kyc_review_due": "2027-01-31",
            "tags": "vip, ESG",
            "country": "ch",
            "phone": "+41 44 668 18 00",
            "marketing_consent": True,
            "marketing_consent_source": "onboarding form",
            "kind": "company",
        },
    )
    detail = clients.get_client(agent, client_id)
    assert detail.net_worth == "1250000.50" and detail.aum == "800000.00"
    assert detail.tags == ["vip", "esg"] and detail.country == "CH"
    assert detail.phone == "+41446681800" and detail.marketing_consent_at
    history = clients.client_history(agent, client_id)
    assert history[0].action == "updated" and history[0].who == agent.name
    assert ("Net worth", "1000000.00", "1250000.50") in history[0].changes
    for bad, message in [
        ({"email": "not-an-email"}, "valid email"),
        ({"kyc_review_due": "31/01/2027"}, "date like"),
        ({"net_worth": "-5"}, "positive amount"),
        ({"risk_category": "yolo"}, "conservative"),
        ({"name": " "}, "needs a name"),
        ({"owner_agent_id": 999999}, "relationship manager"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            clients.update_client(agent, client_id, bad)


def test_custom_fields_are_typed_by_a_manager_and_checked_on_every_edit(db: str) -> None:
    manager, agent = make_user("manager"), make_user("agent")
    with pytest.raises(PermissionDenied):
        client_fields.define_custom_field(agent, key="tier", label="Tier", field_type="text")
    client_fields.define_custom_field(
        manager, key="tier", label="Tier", field_type="choice", choices="gold, silver"
    )
    client_fields.define_custom_field(
        manager, key="onboarded", label="Onboarded", field_type="date"
    )
    client_id = make_client(agent)
    clients.update_client(
        agent, client_id, {"custom_fields": {"tier": "Gold", "onboarded": "2025-02-01"}}
    )
    assert clients.get_client(agent, client_id).custom_fields == {
        "tier": "gold",
        "onboarded": "2025-02-01",
    }
    with pytest.raises(InvalidInput, match="gold, silver"):
        clients.update_client(agent, client_id, {"custom_fields": {"tier": "platinum"}})
    with pytest.raises(InvalidInput, match="Unknown custom field"):
        clients.update_client(agent, client_id, {"custom_fields": {"nope": "x"}})


def test_marketing_never_sees_net_worth_aum_or_kyc_anywhere(db: str) -> None:
    agent, marketing = make_user("agent"), make_user("marketing")
    client_id = make_client(agent, "Ada Lovelace", net_worth="2500000")
    clients.update_client(
        agent,
        client_id,
        {"aum": "900000", "kyc_status": "verified", "kyc_review_due": "2027-01-01"},
    )
    row = clients.list_clients(marketing).items[0]
    assert (row.net_worth, row.aum, row.kyc_status) == ("", "", "")
    detail = clients.get_client(marketing, client_id)
    assert (detail.net_worth, detail.aum, detail.kyc_status, detail.kyc_review_due) == (
        "",
        "",
        "",
        "",
    )
    for change in clients.client_history(marketing, client_id)[0].changes:
        if change[0] in ("Net worth", "Assets under management", "KYC status"):
            assert "900000" not in change[2] and change[2] == "hidden"
    # Nor can they learn it by filtering, sorting or editing.
    with pytest.raises(PermissionDenied):
        clients.list_clients(marketing, filters={"net_worth__min": "1000000"})
    with pytest.raises(PermissionDenied):
        clients.list_clients(marketing, sort="net_worth")
    with pytest.raises(PermissionDenied):
        clients.update_client(marketing, client_id, {"region": "EU"})
    # The agent sees them.
    assert clients.get_client(agent, client_id).aum == "900000.00"


def test_users_without_a_role_and_clients_get_nothing(db: str) -> None:
    agent = make_user("agent")
    client_id = make_client(agent)
    for actor in (make_user(None), make_user("client")):
        for call in (
            lambda a: clients.list_clients(a),
            lambda a: clients.get_client(a, client_id),
            lambda a: clients.client_history(a, client_id),
            lambda a: clients.list_notes(a, client_id),
            lambda a: clients.update_client(a, client_id, {"name": "X"}),
        ):
            with pytest.raises(PermissionDenied):
                call(actor)
    with pytest.raises(NotAuthenticated):
        clients.list_clients(None)  # type: ignore[arg-type]


def test_fuzzy_search_finds_clients_by_misspelt_name_email_and_phone_digits(db: str) -> None:
    agent = make_user("agent")
    clients.create_client(
        agent, name="Margaret Thatcher-Smith", email="maggie@example.org", phone="+44 20 7946 0001"
    )
    clients.create_client(agent, name="John Doe", email="jd@example.com")
    assert [r.name for r in clients.list_clients(agent, search="maggie").items] == [
        "Margaret Thatcher-Smith"
    ]
    assert [r.name for r in clients.list_clients(agent, search="7946 0001").items] == [
        "Margaret Thatcher-Smith"
    ]
    if clients.has_trigram_search():
        assert [r.name for r in clients.list_clients(agent, search="Margret").items] == [
            "Margaret Thatcher-Smith"
        ]
    assert clients.list_clients(agent, search="%").total == 0  # wildcards are literal


def test_list_filters_ranges_sorting_and_pages_run_in_sql(db: str) -> None:
    agent = make_user("agent")
    for n, worth in enumerate(["100000", "500000", "2000000", "9000000"]):
        clients.create_client(
            agent,
            name=f"Client {n}",
            net_worth=worth,
            risk_category="aggressive" if n % 2 else "moderate",
            tags="vip" if n >= 2 else "",
        )
    page = clients.list_clients(
        agent,
        filters={"net_worth__min": "400000", "net_worth__max": "5000000"},
        sort="net_worth",
        descending=True,
    )
    assert [r.name for r in page.items] == ["Client 2", "Client 1"]
    assert (
        clients.list_clients(agent, filters={"tag": "vip", "risk_category": "aggressive"}).total
        == 1
    )
    second = clients.list_clients(agent, page=2, page_size=3)
    assert second.total == 4 and [r.name for r in second.items] == ["Client 3"]
    with pytest.raises(InvalidInput):
        clients.list_clients(agent, sort="password_hash")
    with pytest.raises(InvalidInput):
        clients.list_clients(agent, filters={"net_worth__min": "lots"})


def test_soft_deleted_clients_leave_the_list_but_keep_their_tickets(db: str) -> None:
    agent = make_user("agent")
    client_id = make_client(agent)
    make_ticket(agent, client_id)
    clients.delete_client(agent, client_id)
    assert clients.list_clients(agent).total == 0
    assert len(clients.client_tickets(agent, client_id)) == 1
    clients.restore_client(agent, client_id)
    assert clients.list_clients(agent).total == 1


def test_notes_are_kept_on_the_profile_and_audited(db: str) -> None:
    agent = make_user("agent")
    client_id = make_client(agent)
    clients.add_note(agent, client_id, "Prefers calls after 5pm")
    assert [n.body for n in clients.list_notes(agent, client_id)] == ["Prefers calls after 5pm"]
    assert clients.client_history(agent, client_id)[0].action == "note_added"
    with pytest.raises(InvalidInput):
        clients.add_note(agent, client_id, "   ")


def test_each_user_chooses_the_list_columns_and_marketing_gets_no_finance_column(
    db: str,
) -> None:
    agent, other, marketing = make_user("agent"), make_user("agent"), make_user("marketing")
    assert clients.list_columns(agent) == list(clients.DEFAULT_LIST_COLUMNS)
    assert "net_worth" not in clients.list_columns(marketing)
    assert clients.save_list_columns(agent, ["aum", "email", "country"]) == [
        "email",
        "country",
        "aum",
    ]
    assert clients.list_columns(agent) == ["email", "country", "aum"]
    assert clients.list_columns(other) == list(clients.DEFAULT_LIST_COLUMNS)
    for bad in (["password_hash"], "email", [1], list(clients.LIST_COLUMNS)):
        with pytest.raises(InvalidInput):
            clients.save_list_columns(agent, bad)
    with pytest.raises(InvalidInput):
        clients.save_list_columns(marketing, ["net_worth"])
