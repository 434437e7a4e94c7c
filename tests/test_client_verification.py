"""Clients made from an incoming message start unverified: an agent confirms them or merges
them into the client they belong to (real services on a real PostgreSQL; the profile's
handlers run on a stand-in tab)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from crm_app.auth.permissions import Actor
from crm_app.db import session_scope
from crm_app.services import client_duplicates, clients, tickets
from crm_app.services.clients import ClientDetail
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied
from models.client import Client
from models.ticket import Channel
from pages.client_profile.state import ClientProfileState
from tests.factories import make_client, make_user


def _unverified(actor: Actor, name: str, channel: str | None = Channel.EMAIL) -> int:
    """A client as the mail intake, web chat or WhatsApp makes one for someone unknown."""
    client_id = make_client(actor, name)
    with session_scope() as session:
        session.get(Client, client_id).verified = False
    if channel:
        tickets.create_ticket(
            actor,
            client_id=client_id,
            subject="Hello",
            body="First message",
            channel=channel,
            from_client=True,
        )
    return client_id


def _tab(actor: Actor, client: ClientDetail, **fields) -> SimpleNamespace:
    return SimpleNamespace(
        require_actor=lambda: actor,
        client=client,
        merge_open=True,
        merge_query="",
        merge_picks=[],
        merge_target_id=0,
        merge_target_label="",
        **fields,
    )


def test_an_agent_confirms_an_unverified_client_and_its_history_says_so(db: str) -> None:
    agent = make_user("agent", "Alex Agent")
    client_id = _unverified(agent, "Nora Newcomer")
    assert clients.get_client(agent, client_id).verified is False
    assert clients.unverified_origin(agent, client_id) == "an incoming email"

    clients.confirm_client(agent, client_id)

    assert clients.get_client(agent, client_id).verified is True
    confirmed = clients.client_history(agent, client_id)[0]
    assert (confirmed.who, confirmed.action) == ("Alex Agent", "confirmed")
    assert confirmed.changes == [("Verified", "False", "True")]


def test_the_origin_is_the_first_tickets_channel_or_an_incoming_message(db: str) -> None:
    agent = make_user("agent")
    chat = _unverified(agent, "Wendy Webchat", Channel.WEB_CHAT)
    tickets.create_ticket(agent, client_id=chat, subject="Later", body="x", channel=Channel.PHONE)
    assert clients.unverified_origin(agent, chat) == "a web chat"
    assert clients.unverified_origin(agent, _unverified(agent, "No Tickets", None)) == (
        "an incoming message"
    )


def test_the_unverified_filter_and_its_count_show_only_clients_waiting(db: str) -> None:
    agent = make_user("agent")
    make_client(agent, "Ada Lovelace")
    waiting = {_unverified(agent, "Nora Newcomer"), _unverified(agent, "Omar Other")}
    assert clients.count_unverified(agent) == 2
    listed = clients.list_clients(agent, filters={"verified": "no"})
    assert {row.id for row in listed.items} == waiting and listed.total == 2
    assert all(not row.verified for row in listed.items)

    clients.confirm_client(agent, min(waiting))
    client_duplicates.merge_clients(agent, make_client(agent, "Omar Known"), max(waiting))
    assert clients.count_unverified(agent) == 0
    assert clients.list_clients(agent, filters={"verified": "no"}).total == 0


def test_merging_an_unverified_client_moves_its_tickets_to_the_existing_one(db: str) -> None:
    agent = make_user("agent")
    known = make_client(agent, "Ada Lovelace")
    newcomer = _unverified(agent, "Augusta Lovelace")
    client_duplicates.merge_clients(agent, known, newcomer)

    assert [t.subject for t in clients.client_tickets(agent, known)] == ["Hello"]
    assert clients.get_client(agent, newcomer).merged_into_id == known
    assert clients.client_history(agent, known)[0].action == "merged"
    with pytest.raises(NotFound):  # merged away: nothing left to confirm
        clients.confirm_client(agent, newcomer)


def test_a_role_without_edit_clients_may_not_confirm_or_merge(db: str) -> None:
    agent, marketer = make_user("agent"), make_user("marketing")
    known, newcomer = make_client(agent, "Ada Lovelace"), _unverified(agent, "Nora Newcomer")
    with pytest.raises(PermissionDenied):
        clients.confirm_client(marketer, newcomer)
    with pytest.raises(PermissionDenied):
        client_duplicates.merge_clients(marketer, known, newcomer)
    detail = clients.get_client(marketer, newcomer)
    assert detail.verified is False and detail.merged_into_id == 0


def test_a_client_confirmed_already_is_refused_and_not_audited_twice(db: str) -> None:
    agent = make_user("agent")
    newcomer = _unverified(agent, "Nora Newcomer")
    clients.confirm_client(agent, newcomer)
    with pytest.raises(InvalidInput, match="confirmed already"):
        clients.confirm_client(agent, newcomer)
    with pytest.raises(InvalidInput, match="confirmed already"):  # created by staff: verified
        clients.confirm_client(agent, make_client(agent, "Ada Lovelace"))
    actions = [h.action for h in clients.client_history(agent, newcomer)]
    assert actions.count("confirmed") == 1


def test_the_profile_refuses_a_forged_merge_target_and_a_role_that_may_not_edit(db: str) -> None:
    agent, marketer = make_user("agent"), make_user("marketing")
    known, stranger = make_client(agent, "Ada Lovelace"), make_client(agent, "Sam Stranger")
    newcomer = _unverified(agent, "Augusta Lovelace")
    tab = _tab(agent, clients.get_client(agent, newcomer))
    handlers = ClientProfileState.event_handlers

    handlers["search_merge_targets"].fn(tab, "Lovelace")
    assert [p.id for p in tab.merge_picks] == [known]  # never the client itself
    answer = handlers["pick_merge_target"].fn(tab, stranger)  # an id the search did not offer
    assert "Choose a client from the list" in str(answer) and tab.merge_target_id == 0
    assert handlers["merge_into_target"].fn(tab) is None  # nothing chosen: nothing merged

    tab.merge_target_id = 999_999  # a forged target in the tab's state: the service refuses
    assert "does not exist" in str(handlers["merge_into_target"].fn(tab))
    assert clients.get_client(agent, newcomer).merged_into_id == 0

    as_marketer = _tab(marketer, clients.get_client(marketer, newcomer))
    assert "may not" in str(handlers["confirm"].fn(as_marketer)).lower()
    as_marketer.merge_target_id = known
    assert "may not" in str(handlers["merge_into_target"].fn(as_marketer)).lower()
    assert clients.get_client(agent, newcomer).verified is False

    handlers["pick_merge_target"].fn(tab, known)
    handlers["merge_into_target"].fn(tab)
    assert clients.get_client(agent, newcomer).merged_into_id == known
