"""Notifications: who is told what, once, and that each user reads and clears only their own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from crm_app.db import session_scope
from crm_app.services import notifications, tickets
from crm_app.services.errors import NotAuthenticated, NotFound, PermissionDenied
from crm_app.services.notifications import find_mentions
from jobs import sla_scan
from models.base import utcnow
from models.ticket import Ticket
from tests.factories import make_client, make_ticket, make_user


def _kinds(actor) -> list[str]:
    return [n.kind for n in notifications.list_notifications(actor)]


def test_assignee_is_notified_when_a_colleague_assigns_them(db: str) -> None:
    alice, bob = make_user("agent", "Alice Archer"), make_user("agent", "Bob Baker")
    number = make_ticket(alice, make_client(alice))
    assert _kinds(alice) == [] and _kinds(bob) == []  # creating it for oneself tells no one
    tickets.update_ticket(alice, number, expected_version=None, assignee_id=bob.user_id)
    [note] = notifications.list_notifications(bob)
    assert note.kind == "assigned" and f"#{number}" in note.title
    assert "Alice Archer" in note.title and note.link == f"/tickets/{number}"
    assert notifications.unread_count(bob) == 1 and _kinds(alice) == []
    tickets.bulk_update(bob, [number], assignee_id=alice.user_id)
    assert _kinds(alice) == ["assigned"]


def test_assigning_oneself_sends_no_notification(db: str) -> None:
    alice, bob = make_user("agent"), make_user("agent")
    number = make_ticket(alice, make_client(alice))
    tickets.update_ticket(bob, number, expected_version=None, assignee_id=bob.user_id)
    assert _kinds(bob) == []


def test_assignee_is_told_when_the_client_answers(db: str) -> None:
    agent, client_user = make_user("agent"), make_user("client")
    number = make_ticket(agent, make_client(agent, "Ada Lovelace", portal_user=client_user))
    tickets.add_message(agent, number, "We are on it.")
    assert _kinds(agent) == []  # the agent's own reply is not news to them
    tickets.add_message(client_user, number, "Any news?")
    [note] = notifications.list_notifications(agent)
    assert note.kind == "client_replied" and "Ada Lovelace answered" in note.title


def test_mention_parser_matches_names_emails_and_unique_first_names() -> None:
    staff = [
        (1, "Ann Lee", "ann.lee@firm.example"),
        (2, "Ann Moss", "amoss@firm.example"),
        (3, "Bob Baker", "bob@firm.example"),
        (4, "Bo Chen", "bo@firm.example"),
    ]
    assert find_mentions("@Ann Lee please check", staff) == {1}
    assert find_mentions("cc @amoss@firm.example.", staff) == {2}
    assert find_mentions("@amoss and @bob: look", staff) == {2, 3}
    assert find_mentions("@Ann can you", staff) == set()  # two Anns: ambiguous, no one
    assert find_mentions("@Bob, see above", staff) == {3}
    assert find_mentions("@Bo see", staff) == {4}  # not Bob: the name must end there
    assert find_mentions("mail x@bob.example or bob@firm.example", staff) == set()
    assert find_mentions("@bobby hi", staff) == set()


def test_staff_named_in_an_internal_note_are_notified_not_in_a_reply(db: str) -> None:
    alice, bob = make_user("agent", "Alice Archer"), make_user("agent", "Bob Baker")
    number = make_ticket(alice, make_client(alice))
    tickets.add_message(alice, number, "Dear client, @Bob Baker will call you.")
    assert _kinds(bob) == []
    tickets.add_message(
        alice, number, "@Bob Baker can you check the KYC? @Alice Archer", internal=True
    )
    [note] = notifications.list_notifications(bob)
    assert note.kind == "mentioned" and "Alice Archer mentioned you" in note.title
    assert _kinds(alice) == []  # not for mentioning oneself


def test_sla_near_breach_warns_the_assignee_once(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    with session_scope() as session:  # created long enough ago to be near its first response
        session.execute(
            update(Ticket)
            .where(Ticket.number == number)
            .values(created_at=utcnow() - timedelta(hours=7))
        )
    sla_scan.run()
    sla_scan.run()
    assert _kinds(agent) == ["sla_near_breach"]
    assert f"#{number}" in notifications.list_notifications(agent)[0].title


def test_a_user_reads_and_clears_only_their_own_notifications(db: str) -> None:
    alice, bob, client_user = make_user("agent"), make_user("agent"), make_user("client")
    number = make_ticket(alice, make_client(alice))
    tickets.update_ticket(alice, number, expected_version=None, assignee_id=bob.user_id)
    [note] = notifications.list_notifications(bob)
    with pytest.raises(NotFound):
        notifications.do_mark_read(alice, note.id)
    assert notifications.do_mark_all_read(alice) == 0
    assert notifications.unread_count(bob) == 1
    assert notifications.do_mark_read(bob, note.id) == f"/tickets/{number}"
    assert notifications.unread_count(bob) == 0
    assert notifications.list_notifications(bob)[0].is_read
    with pytest.raises(PermissionDenied):
        notifications.list_notifications(client_user)
    with pytest.raises(NotAuthenticated):
        notifications.unread_count(None)
