"""The client portal's rules, against a real PostgreSQL and a real SMTP server: getting in by a
one-time link, a client's own requests and nothing of anyone else's, notifications both ways,
CSAT, and the FAQ's suggestions and deflection."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from crm_app.auth.permissions import Actor
from crm_app.db import session_scope
from crm_app.services import accounts, attachments, invitations, system_mail, tickets
from crm_app.services import portal as portal_service
from crm_app.services.attachments import StagedFile
from crm_app.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from crm_app.settings import get_settings
from models.base import utcnow
from models.client import Client
from models.faq import FaqStatus
from models.notification import Notification
from models.portal import DeflectionOutcome, FaqDeflection, OneTimeLink
from models.sla import SlaClock, TicketSla
from models.ticket import Ticket, TicketMessage
from models.user import User, UserSession
from tests.factories import PASSWORD, make_client, make_user

requests_ = portal_service.requests
knowledge = portal_service.knowledge
NEW_PASSWORD = "a long and fresh passphrase"


@pytest.fixture
def mail_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real aiosmtpd server storing mail as files; the CRM configured to send to it."""
    system_mail.flush()
    folder = tmp_path / "mail"
    sink = system_mail.start_sink(folder)
    monkeypatch.setenv("CRM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CRM_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("CRM_SMTP_TLS", "none")
    monkeypatch.setenv("CRM_PUBLIC_URL", "https://portal.firm.example")
    get_settings.cache_clear()
    try:
        yield folder
    finally:
        system_mail.flush()
        sink.stop()
        get_settings.cache_clear()


def _mails(folder: Path, to: str | None = None) -> list[email.message.EmailMessage]:
    """Mail the CRM sent (to one address), without the sign-up notices of test users."""
    system_mail.flush()
    found = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]
    return [
        m
        for m in found
        if "Finance CRM account" not in m["Subject"] and (to is None or m["To"] == to)
    ]


def _token_in(message: email.message.EmailMessage) -> str:
    found = re.search(r"(?:set|reset)-password\?token=([\w-]+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def _client_actor(user_id: int) -> Actor:
    with session_scope() as session:
        user = session.get(User, user_id)
        return Actor(user_id=user.id, role=user.role, name=user.name, email=user.email)


@pytest.fixture
def two_clients(db: str) -> dict:
    """One agent, and two clients each with a portal account and a portal ticket."""
    manager = make_user("manager")
    agent = make_user("agent", name="Agnes Agent")
    alice, bob = make_user("client", name="Alice Client"), make_user("client", name="Bob Client")
    alice_client = make_client(manager, "Alice Client", portal_user=alice)
    bob_client = make_client(manager, "Bob Client", portal_user=bob)
    alice_ticket = requests_.open_request(
        alice, subject="Alice transfer", message="Please move funds", category="Other"
    )
    bob_ticket = requests_.open_request(
        bob, subject="Bob secret subject", message="Bob secret body", category="Tax"
    )
    tickets.update_ticket(manager, bob_ticket, expected_version=None, assignee_id=agent.user_id)
    return {
        "manager": manager,
        "agent": agent,
        "alice": alice,
        "bob": bob,
        "alice_client": alice_client,
        "bob_client": bob_client,
        "alice_ticket": alice_ticket,
        "bob_ticket": bob_ticket,
    }


# --- getting in -------------------------------------------------------------------------


def test_an_invitation_link_creates_the_clients_portal_account_once(
    db: str, mail_sink: Path
) -> None:
    agent = make_user("agent")
    client_id = make_client(agent, "Carla Invitee")
    sent = invitations.invite_client(agent, client_id)
    assert sent.email == "carla@x.example"
    (mail,) = _mails(mail_sink)
    assert mail["To"] == "carla@x.example"
    assert "https://portal.firm.example/portal/set-password?token=" in mail.get_content()
    token = _token_in(mail)
    assert invitations.describe_link(token).name == "Carla Invitee"

    email_address = invitations.use_link(token, NEW_PASSWORD, "Carla I.")
    assert email_address == "carla@x.example"
    with session_scope() as session:
        user = session.execute(select(User).where(User.email == email_address)).scalar_one()
        assert user.role == "client"
        assert session.get(Client, client_id).portal_user_id == user.id
        # Only the hash of the link is stored.
        assert token not in str(session.execute(select(OneTimeLink.token_hash)).scalars().all())
    assert accounts.log_in(email_address, NEW_PASSWORD, client_ip=None, device_id=None).token
    with pytest.raises(InvalidInput, match="expired or was already used"):
        invitations.use_link(token, NEW_PASSWORD)
    with pytest.raises(Conflict, match="already has portal access"):
        invitations.invite_client(agent, client_id)


def test_an_invitation_expires_and_a_new_one_revokes_the_last(db: str, mail_sink: Path) -> None:
    agent = make_user("agent")
    client_id = make_client(agent, "Dora Late")
    invitations.invite_client(agent, client_id)
    first = _token_in(_mails(mail_sink)[0])
    invitations.invite_client(agent, client_id)
    (second,) = {_token_in(m) for m in _mails(mail_sink)} - {first}
    with pytest.raises(InvalidInput):
        invitations.use_link(first, NEW_PASSWORD)  # replaced by the second
    with session_scope() as session:
        session.execute(
            sa.update(OneTimeLink).values(expires_at=OneTimeLink.expires_at - timedelta(days=30))
        )
    with pytest.raises(InvalidInput):
        invitations.use_link(second, NEW_PASSWORD)


def test_only_staff_who_edit_clients_may_invite(db: str) -> None:
    manager = make_user("manager")
    client_id = make_client(manager, "Eve Target")
    for role in ("client", "marketing"):
        with pytest.raises(PermissionDenied):
            invitations.invite_client(make_user(role), client_id)


def test_an_invitation_never_takes_over_a_staff_account(db: str, mail_sink: Path) -> None:
    manager = make_user("manager")
    agent = make_user("agent")
    client_id = make_client(manager, "Spy Client")
    with session_scope() as session:
        session.get(Client, client_id).email = agent.email
    invitations.invite_client(manager, client_id)
    with pytest.raises(Conflict, match="staff account"):
        invitations.use_link(_token_in(_mails(mail_sink)[0]), NEW_PASSWORD)
    with session_scope() as session:
        assert session.get(User, agent.user_id).role == "agent"


def test_a_password_reset_sets_the_new_password_and_ends_open_sessions(
    db: str, mail_sink: Path
) -> None:
    agent = make_user("agent")
    accounts.log_in(agent.email, PASSWORD, client_ip=None, device_id=None)
    invitations.request_password_reset(agent.email.upper())
    invitations.request_password_reset("nobody@firm.example")  # the same answer, no mail
    (mail,) = _mails(mail_sink, agent.email)
    invitations.use_link(_token_in(mail), NEW_PASSWORD)
    with session_scope() as session:
        open_sessions = session.execute(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == agent.user_id, UserSession.revoked_at.is_(None))
        ).scalar_one()
    assert open_sessions == 0
    with pytest.raises(InvalidInput):
        accounts.log_in(agent.email, PASSWORD, client_ip=None, device_id=None)
    assert accounts.log_in(agent.email, NEW_PASSWORD, client_ip=None, device_id=None).token
    # A second request within minutes sends nothing more (no inbox flooding).
    invitations.request_password_reset(agent.email)
    invitations.request_password_reset(agent.email)
    assert len(_mails(mail_sink, agent.email)) == 1


def test_staff_reset_links_open_the_staff_page_and_clients_links_the_portals(
    db: str, mail_sink: Path
) -> None:
    manager = make_user("manager")
    agent, client_user = make_user("agent"), make_user("client")
    make_client(manager, "Cleo Client", portal_user=client_user)
    invitations.request_password_reset(agent.email)
    invitations.request_password_reset(client_user.email)
    (staff_mail,) = _mails(mail_sink, agent.email)
    (client_mail,) = _mails(mail_sink, client_user.email)
    assert "https://portal.firm.example/reset-password?token=" in staff_mail.get_content()
    assert "https://portal.firm.example/portal/set-password?token=" in client_mail.get_content()
    # The staff link is the same one-time reset link: it works once, for that account.
    assert invitations.use_link(_token_in(staff_mail), NEW_PASSWORD) == agent.email
    with pytest.raises(InvalidInput):
        invitations.use_link(_token_in(staff_mail), NEW_PASSWORD + " again")


def test_with_ory_only_passwords_are_reset_in_ory_not_here(
    db: str, mail_sink: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = make_user("agent")
    monkeypatch.setenv("ORY_SDK_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CRM_AUTH_MODE", "ory")
    get_settings.cache_clear()
    for address in (agent.email, "nobody@firm.example"):  # the same answer for both
        with pytest.raises(PermissionDenied, match="Ory"):
            invitations.request_password_reset(address)
    assert _mails(mail_sink, agent.email) == []


def test_self_sign_up_links_only_by_the_address_on_the_client_record(
    db: str, mail_sink: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = make_user("manager")
    client_id = make_client(manager, "Fay Selfserve")
    with pytest.raises(PermissionDenied):
        invitations.request_portal_access("fay@x.example")  # closed by default
    monkeypatch.setenv("CRM_SIGNUP_DEFAULT_ROLE", "client")
    get_settings.cache_clear()
    invitations.request_portal_access("unknown@x.example")
    invitations.request_portal_access("FAY@x.example")
    (mail,) = _mails(mail_sink)
    assert mail["To"] == "fay@x.example"
    user_email = invitations.use_link(_token_in(mail), NEW_PASSWORD)
    with session_scope() as session:
        linked = session.get(Client, client_id).portal_user_id
        assert linked == session.execute(select(User.id).where(User.email == user_email)).scalar()


# --- requests ---------------------------------------------------------------------------


def test_a_client_reads_public_replies_but_never_internal_notes_or_sla(two_clients: dict) -> None:
    agent, alice, number = two_clients["agent"], two_clients["alice"], two_clients["alice_ticket"]
    tickets.add_message(agent, number, "We are on it.")
    tickets.add_message(agent, number, "Internal: check KYC @Agnes", internal=True)
    detail = requests_.get_request(alice, number)
    bodies = [m.body_text for m in detail.messages]
    assert bodies == ["Please move funds", "We are on it."]
    assert [m.author for m in detail.messages] == ["You", "Agnes Agent"]
    assert [m.from_me for m in detail.messages] == [True, False]
    shown = repr(detail)
    assert "KYC" not in shown and "sla" not in shown.lower() and "due" not in shown.lower()
    assert detail.ticket.category == "Other"


def test_every_portal_function_refuses_another_clients_ticket(two_clients: dict) -> None:
    alice, bob_ticket, bob = two_clients["alice"], two_clients["bob_ticket"], two_clients["bob"]
    before = requests_.get_request(bob, bob_ticket)
    calls = {
        "get": lambda: requests_.get_request(alice, bob_ticket),
        "comment": lambda: requests_.add_comment(alice, bob_ticket, "mine now"),
        "close": lambda: requests_.close_request(alice, bob_ticket),
        "reopen": lambda: requests_.reopen_request(alice, bob_ticket),
        "rate": lambda: requests_.rate_request(alice, bob_ticket, 1),
        "upload": lambda: requests_.start_upload(alice, bob_ticket),
    }
    for name, call in calls.items():
        with pytest.raises(NotFound):
            call()
        assert requests_.get_request(bob, bob_ticket) == before, name
    assert requests_.request_signature(alice, bob_ticket) == ""
    assert bob_ticket not in [t.number for t in requests_.list_requests(alice)]


def test_staff_and_roleless_users_cannot_use_portal_functions(two_clients: dict) -> None:
    for actor in (two_clients["agent"], two_clients["manager"], make_user(None)):
        with pytest.raises(PermissionDenied):
            requests_.list_requests(actor)
        with pytest.raises(PermissionDenied):
            requests_.get_request(actor, two_clients["bob_ticket"])


def test_a_client_cannot_use_staff_ticket_actions_on_any_ticket(two_clients: dict) -> None:
    alice = two_clients["alice"]
    for number in (two_clients["alice_ticket"], two_clients["bob_ticket"]):
        with pytest.raises((PermissionDenied, NotFound)):
            tickets.update_ticket(alice, number, expected_version=None, status="closed")
        with pytest.raises((PermissionDenied, NotFound)):
            tickets.add_message(alice, number, "note", internal=True)
        with pytest.raises((PermissionDenied, NotFound)):
            attachments.start_upload(alice, number)


def test_a_request_with_files_lists_open_ones_first(two_clients: dict) -> None:
    alice = two_clients["alice"]
    sink = requests_.start_upload(alice, None)
    sink.write("statement.pdf", 0, "application/pdf", b"%PDF-1.4 alice")
    staged = sink.finish()
    number = requests_.open_request(
        alice,
        subject="Statement",
        message="See attached",
        category="Statements & documents",
        files=staged,
    )
    (attachment,) = requests_.get_request(alice, number).messages[0].attachments
    assert attachment.filename == "statement.pdf"
    assert attachments.open_for_download(alice, attachment.id).filename == "statement.pdf"
    with pytest.raises(NotFound):
        attachments.open_for_download(two_clients["bob"], attachment.id)
    requests_.close_request(alice, two_clients["alice_ticket"])
    listed = requests_.list_requests(alice)
    assert [t.number for t in listed] == [number, two_clients["alice_ticket"]]
    assert [t.is_open for t in listed] == [True, False]
    with pytest.raises(InvalidInput, match="closed"):
        requests_.add_comment(alice, two_clients["alice_ticket"], "hello?")
    requests_.reopen_request(alice, two_clients["alice_ticket"])
    assert requests_.get_request(alice, two_clients["alice_ticket"]).ticket.is_open


def test_a_staged_file_from_another_upload_is_not_a_way_in(two_clients: dict) -> None:
    """A forged StagedFile naming a hash that is not stored is refused, never linked."""
    with pytest.raises(InvalidInput):
        requests_.add_comment(
            two_clients["alice"],
            two_clients["alice_ticket"],
            "x",
            files=[StagedFile(sha256="0" * 64, filename="a", content_type="x", size_bytes=1)],
        )


# --- notifications ----------------------------------------------------------------------


def test_a_client_comment_tells_the_assignee_in_the_app_and_by_mail(
    two_clients: dict, mail_sink: Path
) -> None:
    bob, agent, number = two_clients["bob"], two_clients["agent"], two_clients["bob_ticket"]
    requests_.add_comment(bob, number, "Any news?")
    with session_scope() as session:
        titles = (
            session.execute(select(Notification.title).where(Notification.user_id == agent.user_id))
            .scalars()
            .all()
        )
    assert any("answered on" in t for t in titles)
    mails = _mails(mail_sink, agent.email)
    assert len(mails) == 1 and f"/tickets/{number}" in mails[0].get_content()


def test_a_client_comment_on_an_unassigned_ticket_tells_the_queue(two_clients: dict) -> None:
    alice, number = two_clients["alice"], two_clients["alice_ticket"]
    tickets.update_ticket(two_clients["manager"], number, expected_version=None, assignee_id=None)
    requests_.add_comment(alice, number, "Hello?")
    with session_scope() as session:
        told = set(
            session.execute(
                select(Notification.user_id).where(
                    Notification.title.contains(f"answered on #{number} (unassigned)")
                )
            ).scalars()
        )
    assert {two_clients["agent"].user_id, two_clients["manager"].user_id} <= told


def test_a_new_request_nobody_was_given_tells_the_queue(two_clients: dict) -> None:
    with session_scope() as session:
        told = set(
            session.execute(
                select(Notification.user_id).where(
                    Notification.title.contains(
                        f"opened #{two_clients['alice_ticket']} (unassigned)"
                    )
                )
            ).scalars()
        )
    assert {two_clients["agent"].user_id, two_clients["manager"].user_id} <= told


def test_an_agent_reply_mails_the_client_a_link_but_never_for_notes_or_when_turned_off(
    two_clients: dict, mail_sink: Path
) -> None:
    agent, bob, number = two_clients["agent"], two_clients["bob"], two_clients["bob_ticket"]
    tickets.add_message(agent, number, "Internal only", internal=True)
    assert not _mails(mail_sink, bob.email)
    tickets.add_message(agent, number, "Here is your answer: 4.2%")
    (mail,) = _mails(mail_sink, bob.email)
    content = mail.get_content()
    assert f"https://portal.firm.example/portal/tickets/{number}" in content
    assert "4.2%" not in content  # the answer itself stays in the portal
    assert portal_service.notify.set_email_on_reply(bob, False) is False
    tickets.add_message(agent, number, "Second answer")
    assert len(_mails(mail_sink, bob.email)) == 1


def test_a_reply_on_an_email_ticket_is_left_to_the_email_channel(
    two_clients: dict, mail_sink: Path
) -> None:
    manager, bob = two_clients["manager"], two_clients["bob"]
    number = tickets.create_ticket(
        manager,
        client_id=two_clients["bob_client"],
        subject="By mail",
        body="Hi",
        channel="email",
    ).number
    tickets.add_message(manager, number, "Answer by mail")
    assert not _mails(mail_sink, bob.email)


# --- CSAT -------------------------------------------------------------------------------


def test_a_client_rates_only_a_solved_request_and_the_agent_sees_it(two_clients: dict) -> None:
    bob, agent, number = two_clients["bob"], two_clients["agent"], two_clients["bob_ticket"]
    with pytest.raises(InvalidInput, match="once it is solved"):
        requests_.rate_request(bob, number, 5)
    tickets.update_ticket(agent, number, expected_version=None, status="resolved")
    for bad in (0, 6, True):
        with pytest.raises(InvalidInput):
            requests_.rate_request(bob, number, bad)
    requests_.rate_request(bob, number, 2, "slow")
    requests_.rate_request(bob, number, 4, "fine after all")  # replaces the first
    assert portal_service.csat.rating_for_ticket(agent, number).score == 4
    (figures,) = portal_service.csat.agent_figures(agent)
    assert (figures.agent_id, figures.ratings, figures.average) == (agent.user_id, 1, 4.0)
    assert figures.satisfied_share == 1.0
    with pytest.raises(PermissionDenied):
        portal_service.csat.agent_figures(agent, agent_id=two_clients["manager"].user_id)
    with pytest.raises(PermissionDenied):
        portal_service.csat.rating_for_ticket(bob, number)
    assert requests_.get_request(bob, number).rating_score == 4


def test_csat_figures_follow_the_dashboards_date_range_and_team(two_clients: dict) -> None:
    manager, agent, bob = two_clients["manager"], two_clients["agent"], two_clients["bob"]
    number = two_clients["bob_ticket"]
    tickets.update_ticket(agent, number, expected_version=None, status="resolved")
    requests_.rate_request(bob, number, 3)
    today = utcnow().date()
    (row,) = portal_service.csat.agent_figures(manager, start=today, end=today)
    assert (row.agent_id, row.ratings, row.satisfied_share) == (agent.user_id, 1, 0.0)
    last_month = today - timedelta(days=40)
    assert (
        portal_service.csat.agent_figures(
            manager, start=last_month, end=last_month + timedelta(days=7)
        )
        == []
    )
    assert (
        portal_service.csat.agent_figures(
            manager, start=today, end=today, agent_ids=[manager.user_id]
        )
        == []
    )
    with pytest.raises(PermissionDenied):  # an agent asks for a team's: their own only
        portal_service.csat.agent_figures(agent, agent_ids=[manager.user_id])


# --- knowledge --------------------------------------------------------------------------


def test_suggestions_show_published_entries_only_and_deflection_is_recorded(
    two_clients: dict,
) -> None:
    manager, alice = two_clients["manager"], two_clients["alice"]
    published = knowledge.save_entry(
        manager,
        None,
        question="How do I change my bank account?",
        answer="Send a signed form.",
        category="Payments",
    )
    knowledge.set_status(manager, published.id, FaqStatus.PUBLISHED)
    draft = knowledge.save_entry(manager, None, question="Bank secrets draft", answer="No.")
    with pytest.raises(PermissionDenied):
        knowledge.save_entry(two_clients["agent"], None, question="q", answer="a")
    suggested = knowledge.suggest(alice, "change bank account")
    assert [e.id for e in suggested] == [published.id]
    assert draft.id not in [e.id for e in knowledge.help_centre(alice, "bank")]
    with pytest.raises(NotFound):
        knowledge.view_entry(alice, draft.id)
    assert knowledge.view_entry(alice, published.id).views == 1
    assert knowledge.record_request_outcome(
        alice,
        query="bank",
        suggested_ids=[published.id],
        viewed_ids=[published.id],
        ticket_number=None,
    )
    # Shown but not read, then left: no deflection claimed.
    assert not knowledge.record_request_outcome(
        alice, query="bank", suggested_ids=[published.id], viewed_ids=[], ticket_number=None
    )
    assert knowledge.record_request_outcome(
        alice,
        query="bank",
        suggested_ids=[published.id],
        viewed_ids=[],
        ticket_number=two_clients["alice_ticket"],
    )
    figures = knowledge.deflection_figures(manager)
    assert (figures.deflected, figures.submitted) == (1, 1)
    with session_scope() as session:
        outcomes = session.execute(select(FaqDeflection.outcome)).scalars().all()
    assert sorted(outcomes) == sorted([DeflectionOutcome.DEFLECTED, DeflectionOutcome.SUBMITTED])


def test_a_comment_is_stored_as_the_clients_on_the_portal_channel(two_clients: dict) -> None:
    alice, number = two_clients["alice"], two_clients["alice_ticket"]
    message_id = requests_.add_comment(alice, number, "Thanks")
    with session_scope() as session:
        message = session.get(TicketMessage, message_id)
        assert (message.sender_kind, message.channel, message.is_internal) == (
            "client",
            "portal",
            False,
        )


# --- SLA ----------------------------------------------------------------------------------


def _sla_clocks(number: int) -> TicketSla | None:
    with session_scope() as session:
        ticket_id = session.execute(select(Ticket.id).where(Ticket.number == number)).scalar_one()
        return session.get(TicketSla, ticket_id)


def test_portal_requests_and_client_replies_run_the_same_sla_clocks_as_staff_tickets(
    two_clients: dict,
) -> None:
    alice, agent = two_clients["alice"], two_clients["agent"]
    number = two_clients["alice_ticket"]
    opened = _sla_clocks(number)
    assert opened is not None, "a portal request gets the SLA engine's clocks"
    assert opened.policy_id is not None  # the default policy's targets
    assert opened.first_response_clock == SlaClock.RUNNING
    assert opened.resolution_clock == SlaClock.RUNNING

    tickets.add_message(agent, number, "Please send the signed form.", status="pending")
    waiting = _sla_clocks(number)
    assert waiting.first_response_clock == SlaClock.STOPPED
    assert waiting.resolution_clock == SlaClock.PAUSED

    requests_.add_comment(alice, number, "Here is the signed form.")
    answered = _sla_clocks(number)
    assert answered.resolution_clock == SlaClock.RUNNING  # the client's answer resumes it
    assert answered.next_response_clock == SlaClock.RUNNING  # and the agent owes a reply
