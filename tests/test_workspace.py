"""The agent workspace through the real services on a real PostgreSQL: queue order and keyset
pages, filters and views, search, optimistic locking, macros, merge, bulk actions, assignment,
presence and the live change counter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from crm_app.db import session_scope
from crm_app.services import assignment, live, macros, presence, saved_views, search, tickets
from crm_app.services.errors import Conflict, InvalidInput, NotFound
from crm_app.services.tickets import QueueFilters
from models.audit import AuditLog
from models.ticket import Ticket, TicketMessage
from tests.factories import make_client, make_ticket, make_user


def _set(number: int, **values) -> None:
    with session_scope() as session:
        session.execute(update(Ticket).where(Ticket.number == number).values(**values))


def _all_pages(agent, filters: QueueFilters, page_size: int) -> list[int]:
    seen, cursor = [], ""
    while True:
        page = tickets.queue(agent, filters, after=cursor, page_size=page_size)
        seen += [row.number for row in page.items]
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor


def test_queue_puts_unread_first_then_sla_urgency_then_due_soonest(db: str) -> None:
    agent = make_user("agent")
    client_id = make_client(agent)
    read_on_track, read_breached, unread_near, read_near, unread_breached = (
        make_ticket(agent, client_id, f"Ticket {i}") for i in range(5)
    )
    now = datetime.now(UTC)
    for number in (read_on_track, read_breached, unread_near, read_near, unread_breached):
        _set(number, status="open", is_unread=False, sla_state="on_track")
    _set(read_breached, sla_state="breached")
    _set(unread_near, is_unread=True, sla_state="near_breach")
    _set(
        read_near,
        sla_state="near_breach",
        resolution_due_at=now + timedelta(hours=1),
        first_responded_at=now,
    )
    _set(unread_breached, is_unread=True, sla_state="breached")
    order = [row.number for row in tickets.queue(agent).items]
    assert order == [unread_breached, unread_near, read_breached, read_near, read_on_track]


def test_keyset_pages_walk_the_whole_queue_once_in_order(db: str) -> None:
    agent = make_user("agent")
    client_id = make_client(agent)
    numbers = [make_ticket(agent, client_id, f"Question {i}") for i in range(23)]
    for i, number in enumerate(numbers):
        _set(number, is_unread=i % 3 == 0, sla_state=["on_track", "near_breach", "breached"][i % 3])
    first = tickets.queue(agent, page_size=100)
    walked = _all_pages(agent, QueueFilters(), page_size=5)
    assert walked == [row.number for row in first.items]
    assert sorted(walked) == sorted(numbers)
    assert first.total == 23 and not first.total_capped


def test_queue_filters_combine(db: str) -> None:
    agent, other = make_user("agent"), make_user("agent")
    client_id = make_client(agent)
    mine_high = make_ticket(agent, client_id, "Mine high")
    tickets.update_ticket(agent, mine_high, expected_version=None, priority="high")
    make_ticket(agent, client_id, "Mine normal")
    theirs_high = make_ticket(other, client_id, "Theirs high")
    tickets.update_ticket(other, theirs_high, expected_version=None, priority="high")
    unassigned = make_ticket(agent, client_id, "Nobody's")
    tickets.update_ticket(agent, unassigned, expected_version=None, assignee_id=None)
    got = tickets.queue(agent, QueueFilters(assignee="mine", priority="high")).items
    assert [row.number for row in got] == [mine_high]
    got = tickets.queue(agent, QueueFilters(assignee="unassigned")).items
    assert [row.number for row in got] == [unassigned]
    today = datetime.now(UTC).date().isoformat()
    assert tickets.queue(agent, QueueFilters(created_from=today, created_to=today)).total == 4
    assert tickets.queue(agent, QueueFilters(created_to="2000-01-01")).total == 0
    assert tickets.queue(agent, QueueFilters(client="ada@x.example")).total == 4


@pytest.mark.parametrize(
    "bad",
    [
        QueueFilters(status="whatever"),
        QueueFilters(priority="huge"),
        QueueFilters(created_from="31/01/2026"),
        QueueFilters(assignee="someone"),
        QueueFilters(client="Robert'); DROP TABLE ticket;--"),
    ],
)
def test_bad_queue_filters_get_a_clear_error(db: str, bad: QueueFilters) -> None:
    agent = make_user("agent")
    with pytest.raises(InvalidInput) as refused:
        tickets.queue(agent, bad)
    assert refused.value.message


def test_a_forged_page_cursor_is_refused_not_crashed(db: str) -> None:
    agent = make_user("agent")
    with pytest.raises(InvalidInput):
        tickets.queue(agent, after="not-a-cursor")


def test_agents_save_their_own_views_and_never_see_others(db: str) -> None:
    alice, bob = make_user("agent"), make_user("agent")
    view = saved_views.save_view(
        alice, "Urgent email", QueueFilters(priority="urgent", channel="email")
    )
    assert saved_views.view_filters(alice, view.key).priority == "urgent"
    assert "Urgent email" in [v.name for v in saved_views.list_views(alice)]
    assert "Urgent email" not in [v.name for v in saved_views.list_views(bob)]
    with pytest.raises(NotFound):
        saved_views.view_filters(bob, view.key)
    with pytest.raises(Conflict):
        saved_views.save_view(alice, "Urgent email", QueueFilters())
    names = [v.name for v in saved_views.list_views(alice) if v.builtin]
    assert names == ["My open", "Unassigned", "Near SLA breach", "All open"]


def test_search_finds_words_by_prefix_in_bodies_and_highlights_them(db: str) -> None:
    agent = make_user("agent")
    client_id = make_client(agent)
    wanted = make_ticket(agent, client_id, "Question about my account")
    tickets.add_message(agent, wanted, "Your withdrawal of 5,000 EUR left today.")
    make_ticket(agent, client_id, "Address change")
    result = search.search_tickets(agent, "withdr")
    numbers = [hit.number for hit in result.hits]
    assert wanted in numbers
    hit = result.hits[numbers.index(wanted)]
    assert "<mark>withdraw" in hit.snippet_html.lower() or "<mark>" in hit.subject_html


def test_search_by_ticket_number_and_client_email(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent, "Grace Hopper"))
    assert [h.number for h in search.search_tickets(agent, f"#{number}").hits] == [number]
    assert [h.number for h in search.search_tickets(agent, "grace@x.example").hits] == [number]


def test_search_escapes_what_it_shows(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent), "<script>alert(1)</script> transfer")
    hit = search.search_tickets(agent, "transfer").hits[0]
    assert hit.number == number and "<script>" not in hit.subject_html


def test_second_save_on_a_stale_version_gets_a_clear_conflict(db: str) -> None:
    alice, bob = make_user("agent", "Alice Agent"), make_user("agent", "Bob Agent")
    number = make_ticket(alice, make_client(alice))
    seen_by_both = tickets.get_ticket(alice, number).ticket.version
    tickets.update_ticket(alice, number, expected_version=seen_by_both, status="pending")
    with pytest.raises(Conflict) as refused:
        tickets.update_ticket(bob, number, expected_version=seen_by_both, priority="urgent")
    assert "Alice Agent" in refused.value.message and "latest version" in refused.value.message
    detail = tickets.get_ticket(bob, number)
    assert detail.ticket.priority == "normal" and detail.ticket.status == "pending"
    tickets.update_ticket(bob, number, expected_version=detail.ticket.version, priority="urgent")


def test_macro_fills_placeholders_and_proposes_its_status(db: str) -> None:
    agent = make_user("agent", "Sam Carter")
    number = make_ticket(agent, make_client(agent, "Ada Lovelace"))
    macro = macros.save_macro(
        agent,
        title="Withdrawal done",
        body="Dear {client.first_name}, ticket {ticket.number} is done. {agent.name}",
        set_status="resolved",
    )
    draft = macros.draft_from_macro(agent, macro.id, number)
    assert draft.body == f"Dear Ada, ticket {number} is done. Sam Carter"
    assert draft.set_status == "resolved"


def test_macro_with_an_unknown_placeholder_is_refused(db: str) -> None:
    agent = make_user("agent")
    with pytest.raises(InvalidInput) as refused:
        macros.save_macro(agent, title="Bad", body="Hi {client.password}")
    assert "{client.password}" in refused.value.message


def test_merge_moves_messages_closes_duplicate_and_audits_both(db: str) -> None:
    agent = make_user("agent")
    client_id = make_client(agent)
    target = make_ticket(agent, client_id, "Wire missing")
    duplicate = make_ticket(agent, client_id, "Wire missing (again)")
    tickets.add_message(agent, duplicate, "Second copy of the question")
    tickets.merge_tickets(agent, duplicate, target)
    merged = tickets.get_ticket(agent, target)
    bodies = [m.body_text for m in merged.messages]
    assert "Second copy of the question" in bodies
    assert any(f"#{duplicate}" in b for b in bodies)
    closed = tickets.get_ticket(agent, duplicate)
    assert closed.ticket.status == "closed" and closed.merged_into_number == target
    with session_scope() as session:
        actions = set(
            session.execute(
                select(AuditLog.action).where(
                    AuditLog.action.in_(["ticket.merged_into", "ticket.merged_from"])
                )
            ).scalars()
        )
    assert actions == {"ticket.merged_into", "ticket.merged_from"}
    with pytest.raises(InvalidInput):
        tickets.merge_tickets(agent, duplicate, target)
    with pytest.raises(InvalidInput):
        tickets.merge_tickets(agent, target, target)


def test_bulk_actions_change_every_selected_ticket_and_audit_each(db: str) -> None:
    agent, other = make_user("agent"), make_user("agent")
    client_id = make_client(agent)
    numbers = [make_ticket(agent, client_id, f"Bulk {i}") for i in range(3)]
    result = tickets.bulk_update(agent, numbers, status="closed", assignee_id=other.user_id)
    assert result.changed == 3
    rows = tickets.queue(agent, QueueFilters(status="closed")).items
    assert {r.number for r in rows} == set(numbers)
    assert {r.assignee_name for r in rows} == {other.name}
    with pytest.raises(InvalidInput):
        tickets.bulk_update(agent, [], status="closed")


def test_round_robin_hands_tickets_to_available_agents_in_turn(db: str) -> None:
    manager = make_user("manager")
    a1, a2, away = make_user("agent"), make_user("agent"), make_user("agent")
    assignment.set_available(away, False)
    client_id = make_client(manager)
    numbers = [make_ticket(manager, client_id, f"RR {i}") for i in range(4)]
    tickets.bulk_update(manager, numbers, assignee_id=None)
    with pytest.raises(InvalidInput):
        assignment.assign_round_robin(manager, numbers)  # off until a manager turns it on
    with pytest.raises(Exception):  # noqa: B017 - an agent may not flip the setting
        assignment.set_round_robin(a1, True)
    assignment.set_round_robin(manager, True)
    assert assignment.assign_round_robin(manager, numbers) == 4
    names = [tickets.get_ticket(manager, n).ticket.assignee_name for n in numbers]
    assert names == [a1.name, a2.name, a1.name, a2.name]


def test_presence_shows_other_agents_viewing_or_replying(db: str) -> None:
    alice, bob = make_user("agent", "Alice A"), make_user("agent", "Bob B")
    number = make_ticket(alice, make_client(alice))
    assert presence.heartbeat(alice, number) == []
    others = presence.heartbeat(bob, number, "replying")
    assert [(p.name, p.activity) for p in others] == [("Alice A", "viewing")]
    assert [(p.name, p.activity) for p in presence.heartbeat(alice, number)] == [
        ("Bob B", "replying")
    ]
    presence.leave(bob, number)
    assert presence.heartbeat(alice, number) == []


def test_live_counter_moves_when_a_client_writes(db: str) -> None:
    agent = make_user("agent")
    client_user = make_user("client")
    number = make_ticket(agent, make_client(agent, portal_user=client_user))
    before = live.change_counter(agent)
    signature = live.ticket_signature(agent, number)
    tickets.add_message(client_user, number, "Any news on my transfer?")
    assert live.change_counter(agent) > before
    assert live.ticket_signature(agent, number) != signature


def test_opening_a_ticket_marks_it_read_and_agent_can_mark_it_unread(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    tickets.set_unread(agent, number, True)
    assert tickets.queue(agent).items[0].is_unread
    tickets.mark_read(agent, number)
    assert not tickets.queue(agent).items[0].is_unread


def test_ticket_view_has_client_profile_other_tickets_and_history(db: str) -> None:
    agent = make_user("agent")
    client_id = make_client(agent, "Ada Lovelace")
    older = make_ticket(agent, client_id, "Older question")
    number = make_ticket(agent, client_id, "New question")
    tickets.update_ticket(agent, number, expected_version=None, status="pending")
    detail = tickets.get_ticket(agent, number)
    assert detail.client and detail.client.net_worth.startswith("2,500,000")
    assert [t.number for t in detail.other_tickets] == [older]
    assert [h.action for h in detail.history] == ["status changed", "created"]
    with session_scope() as session:
        assert session.execute(select(TicketMessage.id)).first() is not None


def _score(message_id: int, ticket_number: int, label: str) -> None:
    from models.ai import MessageSentiment

    with session_scope() as session:
        ticket_id = session.execute(
            select(Ticket.id).where(Ticket.number == ticket_number)
        ).scalar_one()
        session.add(
            MessageSentiment(
                message_id=message_id,
                ticket_id=ticket_id,
                label=label,
                score=-0.8 if label == "negative" else 0.5,
                model="test",
            )
        )


def test_client_messages_show_their_sentiment_to_staff_only(db: str) -> None:
    agent = make_user("agent")
    client_user = make_user("client")
    number = make_ticket(agent, make_client(agent, portal_user=client_user))
    angry = tickets.add_message(client_user, number, "This is a disgrace, where is my money?")
    _score(angry.id, number, "negative")
    staff_view = {m.id: m.sentiment for m in tickets.get_ticket(agent, number).messages}
    assert staff_view[angry.id] == "negative"
    assert set(staff_view.values()) == {"", "negative"}  # agent replies carry no label
    client_view = tickets.get_ticket(client_user, number).messages
    assert {m.sentiment for m in client_view} == {""}


def test_queue_filters_on_the_sentiment_of_the_latest_client_message(db: str) -> None:
    agent = make_user("agent")
    client_user = make_user("client")
    client_id = make_client(agent, portal_user=client_user)
    calmed, upset, unscored = (make_ticket(agent, client_id, f"Mood {i}") for i in range(3))
    first = tickets.add_message(client_user, calmed, "Terrible service!")
    _score(first.id, calmed, "negative")
    later = tickets.add_message(client_user, calmed, "Thanks, all sorted now.")
    _score(later.id, calmed, "positive")
    _score(tickets.add_message(client_user, upset, "Still nothing. Awful.").id, upset, "negative")
    tickets.add_message(client_user, unscored, "Hello?")

    def numbers(label: str) -> list[int]:
        return [r.number for r in tickets.queue(agent, QueueFilters(sentiment=label)).items]

    assert numbers("negative") == [upset]  # the calmed client's latest message is positive
    assert numbers("positive") == [calmed]
    assert numbers("neutral") == []
    assert len(numbers("")) == 3
    with pytest.raises(InvalidInput):
        tickets.queue(agent, QueueFilters(sentiment="furious"))
    view = saved_views.save_view(agent, "Upset clients", QueueFilters(sentiment="negative"))
    assert saved_views.view_filters(agent, view.key).sentiment == "negative"


def test_new_tickets_go_round_robin_when_on_and_to_the_creator_when_off(db: str) -> None:
    manager = make_user("manager")
    a1, a2 = make_user("agent"), make_user("agent")
    client_id = make_client(manager)
    assert (
        tickets.create_ticket(manager, client_id=client_id, subject="Off", body="x").assignee_name
        == manager.name
    )
    assignment.set_round_robin(manager, True)
    rows = [
        tickets.create_ticket(manager, client_id=client_id, subject=f"On {i}", body="x")
        for i in range(3)
    ]
    assert [r.assignee_name for r in rows] == [a1.name, a2.name, a1.name]
    assert all(r.is_unread for r in rows)  # news for the agent who got it
    chosen = tickets.create_ticket(
        manager, client_id=client_id, subject="Chosen", body="x", assignee_id=a2.user_id
    )
    assert chosen.assignee_name == a2.name
    with pytest.raises(InvalidInput):
        tickets.create_ticket(
            manager,
            client_id=client_id,
            subject="Bad",
            body="x",
            assignee_id=make_user("client").user_id,
        )


def test_agent_availability_and_round_robin_status_are_reported(db: str) -> None:
    manager, agent = make_user("manager"), make_user("agent", "Ann Able")
    status = assignment.status(agent)
    assert not status.round_robin_enabled and status.you_are_available
    assert status.available_agents == ["Ann Able"]
    assignment.set_available(agent, False)
    assignment.set_round_robin(manager, True)
    status = assignment.status(agent)
    assert status.round_robin_enabled and not status.you_are_available
    assert status.available_agents == []


def test_stale_presence_rows_are_swept_on_a_schedule(db: str) -> None:
    from jobs.registry import scheduled_jobs
    from models.workspace import TicketPresence

    alice = make_user("agent")
    number = make_ticket(alice, make_client(alice))
    presence.heartbeat(alice, number)
    with session_scope() as session:
        session.execute(
            update(TicketPresence).values(seen_at=datetime.now(UTC) - timedelta(hours=2))
        )
    assert presence.sweep() == 1
    assert "crm_app.services.presence:sweep" in [job.func for job in scheduled_jobs()]


def test_macro_library_can_be_edited_and_deleted(db: str) -> None:
    agent = make_user("agent")
    macro = macros.save_macro(agent, title="Hello", body="Hi {client.first_name}")
    edited = macros.save_macro(
        agent,
        title="Hello again",
        body="Hi {agent.first_name}",
        set_priority="high",
        macro_id=macro.id,
    )
    assert (edited.id, edited.title, edited.set_priority) == (macro.id, "Hello again", "high")
    assert [m.title for m in macros.list_macros(agent)] == ["Hello again"]
    macros.delete_macro(agent, macro.id)
    assert macros.list_macros(agent) == []
    with pytest.raises(NotFound):
        macros.save_macro(agent, title="Gone", body="x", macro_id=macro.id)


def test_big_and_small_result_sets_page_in_the_same_order(db: str, monkeypatch) -> None:
    agent = make_user("agent")
    client_id = make_client(agent)
    numbers = [make_ticket(agent, client_id, f"Order {i}") for i in range(12)]
    for i, number in enumerate(numbers):
        _set(
            number,
            is_unread=i % 2 == 0,
            sla_state=["on_track", "near_breach", "breached", "met"][i % 4],
        )
    for filters in (
        QueueFilters(status="all"),
        QueueFilters(status="all", sla_state="met"),
        QueueFilters(status="all", sla_state="breached"),
    ):
        sorted_matches = _all_pages(agent, filters, page_size=2)  # counted: sort the matches
        monkeypatch.setattr(tickets.listing, "QUEUE_COUNT_CAP", 1)  # too many: walk the index
        walked = _all_pages(agent, filters, page_size=2)
        monkeypatch.undo()
        assert walked == sorted_matches
        states = {tickets.get_ticket(agent, n).ticket.sla_state for n in walked}
        assert filters.sla_state == "" or states == {filters.sla_state}
    assert len(_all_pages(agent, QueueFilters(status="all", sla_state="met"), 2)) == 3
