"""Ticket tags: agents add and remove them (audited, under optimistic locking), macros add them
with the reply and not before, the queue filters by them, and the picker suggests tags in use."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_app.db import session_scope
from crm_app.services import macros, tickets
from crm_app.services.errors import Conflict, InvalidInput, PermissionDenied
from crm_app.services.tickets import QueueFilters
from crm_app.services.tickets.tags import clean_tags, parse_list
from models.audit import AuditLog
from tests.factories import make_client, make_ticket, make_user


def _version(actor, number: int) -> int:
    return tickets.get_ticket(actor, number).ticket.version


def test_tags_are_stored_lower_case_once_each_and_bad_ones_are_refused() -> None:
    assert clean_tags(["KYC", " kyc ", "Wire   Transfer"]) == ["kyc", "wire transfer"]
    assert parse_list("kyc, , Wire transfer") == ["kyc", "wire transfer"]
    for bad in ["", "x" * 41, "<script>", "a,b" * 0 + "tag;drop"]:
        with pytest.raises(InvalidInput):
            clean_tags([bad])
    with pytest.raises(InvalidInput):
        clean_tags([f"t{i}" for i in range(21)])


def test_an_agent_tags_a_ticket_and_the_history_says_what_changed(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    tickets.update_ticket(
        agent, number, expected_version=_version(agent, number), tags=["KYC", "wire"]
    )
    tickets.update_ticket(agent, number, expected_version=_version(agent, number), tags=["kyc"])
    detail = tickets.get_ticket(agent, number)
    assert detail.ticket.tags == ["kyc"]
    lines = [h.changes for h in detail.history if h.action == "tags changed"]
    assert "tags: +kyc +wire" in lines and "tags: -wire" in lines
    with session_scope() as session:
        actions = session.execute(select(AuditLog.action)).scalars().all()
    assert actions.count("ticket.tags_changed") == 2


def test_tagging_from_a_stale_view_is_refused(db: str) -> None:
    alice, bob = make_user("agent", "Alice A"), make_user("agent", "Bob B")
    number = make_ticket(alice, make_client(alice))
    seen = _version(alice, number)
    tickets.update_ticket(bob, number, expected_version=seen, priority="high")
    with pytest.raises(Conflict):
        tickets.update_ticket(alice, number, expected_version=seen, tags=["vip"])
    assert tickets.get_ticket(alice, number).ticket.tags == []


def test_a_macro_adds_its_tags_with_the_reply_and_not_before(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    macro = macros.save_macro(agent, title="KYC docs", body="Please send...", add_tags=["KYC"])
    assert macro.add_tags == ["kyc"]
    draft = macros.draft_from_macro(agent, macro.id, number)
    assert draft.add_tags == ["kyc"]
    assert tickets.get_ticket(agent, number).ticket.tags == []  # choosing only drafts
    tickets.add_message(
        agent,
        number,
        draft.body,
        add_tags=draft.add_tags,
        macro=draft.title,
        expected_version=_version(agent, number),
    )
    detail = tickets.get_ticket(agent, number)
    assert detail.ticket.tags == ["kyc"]
    with session_scope() as session:
        entry = session.execute(
            select(AuditLog.changes).where(AuditLog.action == "ticket.message_added")
        ).scalar_one()
    assert entry["tags"] == [[], ["kyc"]] and entry["macro"] == "KYC docs"


def test_a_client_cannot_tag_through_a_reply(db: str) -> None:
    agent, client_user = make_user("agent"), make_user("client")
    number = make_ticket(agent, make_client(agent, portal_user=client_user))
    with pytest.raises(PermissionDenied):
        tickets.add_message(client_user, number, "hello", add_tags=["vip"])
    with pytest.raises(PermissionDenied):
        tickets.update_ticket(client_user, number, expected_version=None, tags=["vip"])


def test_the_queue_filters_by_tag_and_rows_show_the_tags(db: str) -> None:
    agent = make_user("agent")
    client = make_client(agent)
    tagged = make_ticket(agent, client, "Tagged one")
    make_ticket(agent, client, "Untagged one")
    tickets.update_ticket(agent, tagged, expected_version=None, tags=["wire transfer"])
    page = tickets.queue(agent, QueueFilters(status="all", tag="Wire Transfer"))
    assert [t.number for t in page.items] == [tagged]
    assert page.items[0].tags == ["wire transfer"]
    with pytest.raises(InvalidInput):
        tickets.queue(agent, QueueFilters(status="all", tag="<b>"))


def test_the_picker_suggests_tags_in_use(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    tickets.update_ticket(agent, number, expected_version=None, tags=["kyc", "tax-2025"])
    assert tickets.suggest_tags(agent, "k") == ["kyc"]
    assert tickets.suggest_tags(agent, "2025") == ["tax-2025"]
    assert tickets.suggest_tags(agent, "%") == []
    with pytest.raises(PermissionDenied):
        tickets.suggest_tags(make_user("marketing"), "k")
