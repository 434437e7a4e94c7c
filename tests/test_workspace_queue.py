"""The queue side of the workspace through the real services on a real PostgreSQL: the
new-ticket client picker over the whole client base, search by references and client names
with totals and pages, calls and walk-ins logged as the client's words, and the time zone
preference."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from crm_app.db import session_scope
from crm_app.services import clients, preferences, search, tickets
from crm_app.services.errors import InvalidInput, PermissionDenied
from models.audit import AuditLog
from models.ticket import TicketMessage
from tests.factories import make_client, make_ticket, make_user


def _bulk_clients(count: int, prefix: str = "Aaron") -> None:
    """Many clients fast (straight SQL), alphabetically before anyone the test looks for."""
    with session_scope() as session:
        session.execute(
            text(
                "INSERT INTO client (name, email, risk_category, currency, created_at, updated_at) "
                "SELECT :prefix || ' ' || lpad(g::text, 5, '0'), 'bulk' || g || '@x.example', "
                "'moderate', 'USD', now(), now() FROM generate_series(1, :n) g"
            ),
            {"prefix": prefix, "n": count},
        )


def test_client_picker_searches_every_client_by_name_email_phone_and_number(db: str) -> None:
    agent = make_user("agent")
    _bulk_clients(5000)
    zoe = clients.create_client(agent, name="Zoe Zimmermann", email="zoe.z@example.org")
    with session_scope() as session:  # stored with spaces, as the demo data and imports hold it
        session.execute(
            text("UPDATE client SET phone = '+44 7700 900414' WHERE id = :id"), {"id": zoe.id}
        )
    assert [c.id for c in search.find_clients(agent, "zimm")] == [zoe.id]
    assert [c.id for c in search.find_clients(agent, "Zoe Zimmer")] == [zoe.id]
    assert [c.id for c in search.find_clients(agent, "zoe.z@example")] == [zoe.id]
    # Phone as typed with other spacing than stored, and the client number.
    assert [c.id for c in search.find_clients(agent, "07700900414"[1:])] == [zoe.id]
    assert [c.id for c in search.find_clients(agent, "900 414")] == [zoe.id]
    assert search.find_clients(agent, f"#{zoe.id}")[0].id == zoe.id
    picks = search.find_clients(agent, "aaron")
    assert len(picks) == search.PICK_LIMIT  # limited, never the whole base
    assert "#" in picks[0].label and "<" in picks[0].label


def test_client_picker_is_for_staff_only(db: str) -> None:
    with pytest.raises(PermissionDenied):
        search.find_clients(make_user("client"), "ada")


def _ticket_with_message(agent, body: str, subject: str = "Question") -> int:
    number = make_ticket(agent, make_client(agent, "Bea Berg"), subject)
    tickets.add_message(agent, number, body)
    return number


@pytest.mark.parametrize(
    ("written", "typed"),
    [
        ("the transfer carries reference WD-00012404. Please allow", "WD-00012404"),
        ("the transfer carries reference WD-00012404. Please allow", "wd00012404"),
        ("the transfer carries reference WD-00012404. Please allow", "00012404"),
        ("Please pay to GB29 NWBK 6016 1331 9268 19 today.", "GB29NWBK60161331926819"),
        ("Please pay to GB29NWBK60161331926819 today.", "GB29 NWBK 6016 1331 9268 19"),
        ("Our account number is 31926819, sort code 60-16-13.", "31926819"),
        ("Our account number is 31926819, sort code 60-16-13.", "601613"),
        ("Policy code AB-12.34 applies.", "AB-12.34"),
        ("Policy code AB-12.34 applies.", "AB12.34"),
    ],
)
def test_search_finds_references_inside_message_bodies(db: str, written: str, typed: str) -> None:
    agent = make_user("agent")
    wanted = _ticket_with_message(agent, f"Dear client,\n{written}\nKind regards")
    _ticket_with_message(agent, "Nothing to see: reference WD-99999999 and GB00 0000 0000 00.")
    result = search.search_tickets(agent, typed)
    assert [h.number for h in result.hits] == [wanted]
    assert result.kind == "reference" and result.total == 1
    assert "<mark>" in result.hits[0].snippet_html


def test_a_reference_and_words_together_narrow_the_tickets(db: str) -> None:
    agent = make_user("agent")
    _ticket_with_message(agent, "Wire WD-00012404 left today.", "Wire transfer")
    copy = _ticket_with_message(agent, "Statement WD-00012404 attached.", "Statement copy")
    assert [h.number for h in search.search_tickets(agent, "statement WD-00012404").hits] == [copy]


def test_search_finds_a_clients_tickets_by_their_name(db: str) -> None:
    agent = make_user("agent")
    ada = make_client(agent, "Ada Lovelace")
    mine = [make_ticket(agent, ada, f"Question {i}") for i in range(3)]
    make_ticket(agent, make_client(agent, "Grace Hopper"), "Question about Lovelace bonds")
    found = [h.number for h in search.search_tickets(agent, "ada lovelace").hits]
    assert found[:3] == sorted(mine, reverse=True)
    assert [h.number for h in search.search_tickets(agent, "Lovelace").hits][:3] == sorted(
        mine, reverse=True
    )


def _bulk_tickets(count: int, word: str) -> None:
    with session_scope() as session:
        session.execute(
            text(
                "WITH t AS (INSERT INTO ticket (subject, status, priority, channel, sla_state, "
                "is_unread, created_at, updated_at) SELECT 'Ticket ' || g, 'open', 'normal', "
                "'email', 'none', false, now(), now() FROM generate_series(1, :n) g RETURNING id) "
                "INSERT INTO ticket_message (ticket_id, sender_kind, body_text, is_internal, "
                "channel, created_at) SELECT id, 'client', 'About the ' || :word || ' account', "
                "false, 'email', now() FROM t"
            ),
            {"n": count, "word": word},
        )
        session.execute(text("ANALYZE ticket; ANALYZE ticket_message"))


def test_search_shows_an_exact_total_and_pages_beyond_the_first_25(db: str) -> None:
    agent = make_user("agent")
    _bulk_tickets(60, "escrow")
    first = search.search_tickets(agent, "escrow")
    assert (first.total, first.total_capped, len(first.hits), first.has_next) == (
        60,
        False,
        25,
        True,
    )
    third = search.search_tickets(agent, "escrow", page=3)
    assert len(third.hits) == 10 and not third.has_next
    seen = {
        h.number
        for page in (1, 2, 3)
        for h in search.search_tickets(agent, "escrow", page=page).hits
    }
    assert len(seen) == 60


def test_search_total_says_more_than_the_cap_instead_of_counting_everything(db: str) -> None:
    agent = make_user("agent")
    _bulk_tickets(search.SEARCH_CAP + 30, "custody")
    result = search.search_tickets(agent, "custody")
    assert result.total_capped and result.total == search.SEARCH_CAP
    assert search.search_tickets(agent, "custody", page=2).has_next


@pytest.mark.parametrize("channel", ["phone", "in_person"])
def test_a_call_or_walk_in_is_logged_as_the_clients_message_by_the_agent(
    db: str, channel: str
) -> None:
    agent = make_user("agent", name="Sam Agent")
    ada = make_client(agent, "Ada Lovelace")
    row = tickets.create_ticket(
        agent,
        client_id=ada,
        subject="Called about a withdrawal",
        body="I would like to withdraw 5,000 EUR.",
        channel=channel,
    )
    with session_scope() as session:
        message = session.execute(select(TicketMessage)).scalars().one()
        assert (message.sender_kind, message.channel, message.author_id) == (
            "client",
            channel,
            agent.user_id,
        )
        entry = (
            session.execute(select(AuditLog).where(AuditLog.action == "ticket.created"))
            .scalars()
            .one()
        )
        assert entry.changes["logged_for_client"] is True
    shown = tickets.get_ticket(agent, row.number).messages[0]
    assert (shown.sender_kind, shown.author_name, shown.logged_by) == (
        "client",
        "Ada Lovelace",
        "Sam Agent",
    )
    # The reply clock runs: the client is waiting for a first response.
    assert tickets.get_ticket(agent, row.number).first_response_due_at != ""


def test_an_agent_writing_to_a_client_stays_an_agent_message(db: str) -> None:
    agent = make_user("agent")
    row = tickets.create_ticket(
        agent,
        client_id=make_client(agent),
        subject="Your statement",
        body="Your statement is ready.",
        channel="email",
    )
    shown = tickets.get_ticket(agent, row.number).messages[0]
    assert (shown.sender_kind, shown.logged_by) == ("agent", "")


def test_a_client_message_needs_a_client(db: str) -> None:
    with pytest.raises(InvalidInput):
        tickets.create_ticket(
            make_user("agent"),
            client_id=None,
            subject="Call",
            body="Someone called.",
            channel="phone",
        )


def test_the_time_zone_preference_is_checked_stored_and_audited(db: str) -> None:
    agent = make_user("agent")
    assert preferences.time_zone(agent) == ""
    assert preferences.set_time_zone(agent, "Europe/London") == "Europe/London"
    assert preferences.time_zone(agent) == "Europe/London"
    with pytest.raises(InvalidInput):
        preferences.set_time_zone(agent, "Mars/Olympus_Mons")
    preferences.set_time_zone(agent, "")
    assert preferences.time_zone(agent) == ""
    with session_scope() as session:
        changes = [
            a.changes
            for a in session.execute(
                select(AuditLog)
                .where(AuditLog.action == "user.time_zone_changed")
                .order_by(AuditLog.id)
            ).scalars()
        ]
    assert changes == [
        {"time_zone": [None, "Europe/London"]},
        {"time_zone": ["Europe/London", None]},
    ]
