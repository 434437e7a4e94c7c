"""Cc on the email channel, against a real Dovecot, a real SMTP server (aiosmtpd) and the real
PostgreSQL: who a client's mail was also sent to is kept on the message and joins the ticket's
CC list (never the firm's own mailboxes); an agent's reply goes To the client and Cc that list;
the agent edits it in the composer, where bad input gets a clear error; notes reach no one."""

from __future__ import annotations

from types import MethodType, SimpleNamespace

import pytest
from sqlalchemy import select

from crm_app.db import session_scope
from crm_app.services import tickets
from crm_app.services.errors import Conflict, InvalidInput, PermissionDenied
from crm_app.services.mail import cc as mail_cc
from jobs import mail_send
from jobs.imap_poll import poll_mailbox
from models.audit import AuditLog
from models.client import Client
from models.outbox import OutboundMessage
from models.ticket import Ticket
from pages.ticket.state import TicketState
from tests.factories import make_client, make_user
from tests.mail_servers import make_mailbox, simple_message
from tests.test_mail_in import messages
from tests.test_mail_out import RecordingSmtp, add_mailbox, email_ticket
from tests.test_mail_out import smtp as smtp  # the real SMTP server fixture

OTHER_MAILBOX = "private@firm.example"  # a second mailbox of the firm


def _ticket() -> Ticket:
    """The first ticket (the email one each test starts with)."""
    with session_scope() as session:
        return session.execute(select(Ticket).order_by(Ticket.id).limit(1)).scalar_one()


def _outbound() -> list[OutboundMessage]:
    with session_scope() as session:
        return list(session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def _client_mail_with_cc(account, **fields) -> bytes:
    values = {
        "sender": "Grace Hopper <grace@client.example>",
        # Our own mailbox in To (with a second recipient); ourselves again, a second mailbox
        # of the firm and entries that are no address in Cc.
        "to": f"Client Service <{account.user}>, Bob Banker <Bob@Client.example>",
        "subject": "Move my savings",
        "body": "Please move 5,000 EUR to savings. My husband Bob is copied.",
        "message_id": "<cc-1@client.example>",
        "extra_headers": [
            (
                "Cc",
                f"Carol <carol@client.example>, {account.user.upper()}, {OTHER_MAILBOX}, "
                '"undisclosed", "Eve" <eve@@client.example>, <not an address>',
            )
        ],
    }
    values.update(fields)
    return simple_message(**values)


def _first_mail(dovecot, account) -> tuple[int, Ticket]:
    """The client's first mail, polled from Dovecot by the mailbox it went to."""
    box = make_mailbox(account)
    add_mailbox(name="Private banking", address=OTHER_MAILBOX, is_default=False)
    dovecot.append(account, [_client_mail_with_cc(account)])
    result = poll_mailbox(box)
    assert result is not None and result.error is None and result.imported == 1
    return box, _ticket()


def test_a_clients_mail_keeps_who_else_it_went_to_and_the_ticket_lists_them(
    dovecot, mail_account, smtp: RecordingSmtp
) -> None:
    box, ticket = _first_mail(dovecot, mail_account)
    expected = ["bob@client.example", "carol@client.example"]
    [message] = messages(ticket.id)
    # The To besides our mailbox and the Cc, lower-cased; never one of the firm's mailboxes,
    # never the junk entry or the injected line.
    assert message.cc_emails == expected
    assert ticket.cc_emails == expected
    agent = make_user("agent")
    detail = tickets.get_ticket(agent, ticket.number)
    assert detail.cc_emails == expected
    assert detail.messages[0].cc == expected  # the timeline's "Cc: ..."
    with session_scope() as session:
        audited = session.execute(
            select(AuditLog.changes).where(AuditLog.action == "ticket.created")
        ).scalar_one()
    assert audited["cc"] == "bob@client.example, carol@client.example"

    # The client answers with someone new in Cc, and copies herself: the new person joins
    # the list, the client (the requester, in To of every reply) does not.
    dovecot.append(
        mail_account,
        [
            simple_message(
                sender="grace@client.example",
                to=mail_account.user,
                subject="Re: Move my savings",
                body="Adding our accountant.",
                message_id="<cc-2@client.example>",
                in_reply_to="<cc-1@client.example>",
                extra_headers=[("Cc", "Dan <dan@accounts.example>, grace@client.example")],
            ),
            # Bob answers too (reply all): he stays once, and the client is not added.
            simple_message(
                sender="bob@client.example",
                to=mail_account.user,
                subject="Re: Move my savings",
                body="Agreed.",
                message_id="<cc-3@client.example>",
                in_reply_to="<cc-1@client.example>",
                extra_headers=[("Cc", "grace@client.example, carol@client.example")],
            ),
        ],
    )
    assert poll_mailbox(box).imported == 2
    second, third = messages(ticket.id)[1:]
    assert second.cc_emails == ["dan@accounts.example"]  # the sender is the author, not a Cc
    assert third.cc_emails == ["grace@client.example", "carol@client.example"]
    assert _ticket().cc_emails == [*expected, "dan@accounts.example"]


def test_an_agents_reply_goes_to_the_client_and_in_cc_to_the_tickets_cc_list(
    dovecot, mail_account, smtp: RecordingSmtp
) -> None:
    _, ticket = _first_mail(dovecot, mail_account)
    agent = make_user("agent", "Alan Agent")
    smtp.forget_system_mail()
    reply = tickets.add_message(agent, ticket.number, "Done: 5,000 EUR moved.")
    assert reply.cc == ["bob@client.example", "carol@client.example"]
    assert mail_send.run().sent == 1
    [mail] = smtp.received
    assert str(mail["To"]) == "grace@client.example"
    assert str(mail["Cc"]) == "bob@client.example, carol@client.example"
    sender, recipients = smtp.envelopes[0]
    assert sender == mail_account.user
    assert recipients == ["grace@client.example", "bob@client.example", "carol@client.example"]
    # The firm never copies itself: no own mailbox in the headers or the envelope.
    headers = " ".join(str(mail[name] or "") for name in ("To", "Cc", "Bcc")).lower()
    assert mail_account.user not in headers and OTHER_MAILBOX not in headers
    assert mail_account.user not in recipients and OTHER_MAILBOX not in recipients
    shown = tickets.get_ticket(agent, ticket.number).messages[-1]
    assert shown.cc == ["bob@client.example", "carol@client.example"]

    # The agent edits the list in the composer: Bob out, Erin in. The ticket keeps it, the
    # change is audited, and the next mail goes to exactly those.
    version = tickets.get_ticket(agent, ticket.number).ticket.version
    tickets.add_message(
        agent,
        ticket.number,
        "Copying our adviser Erin.",
        cc=["carol@client.example", " Erin@Adviser.example ", "grace@client.example"],
        expected_version=version,
    )
    assert _ticket().cc_emails == ["carol@client.example", "erin@adviser.example"]
    assert mail_send.run().sent == 1
    second = smtp.received[1]
    assert str(second["Cc"]) == "carol@client.example, erin@adviser.example"
    assert smtp.envelopes[1][1] == [
        "grace@client.example",
        "carol@client.example",
        "erin@adviser.example",
    ]
    with session_scope() as session:
        changes = session.execute(
            select(AuditLog.changes)
            .where(AuditLog.action == "ticket.message_added")
            .order_by(AuditLog.id.desc())
            .limit(1)
        ).scalar_one()
    assert changes["cc"] == [
        ["bob@client.example", "carol@client.example"],
        ["carol@client.example", "erin@adviser.example"],
    ]
    history = tickets.get_ticket(agent, ticket.number).history[0].changes
    assert "+erin@adviser.example" in history and "-bob@client.example" in history

    # An internal note on the same ticket reaches no one, CC list or not.
    tickets.add_message(agent, ticket.number, "Erin is the client's new adviser.", internal=True)
    assert len(_outbound()) == 2
    assert mail_send.run().sent == 0 and len(smtp.received) == 2
    with pytest.raises(InvalidInput, match="never sent"):
        tickets.add_message(agent, ticket.number, "A note", internal=True, cc=["x@y.example"])


def test_a_cc_list_is_checked_in_the_service_whoever_calls_it(db, smtp: RecordingSmtp) -> None:
    add_mailbox()  # service@firm.example
    agent = make_user("agent")
    number = email_ticket(agent)
    hostile = [
        ("bob@x.example\r\nBcc: spy@evil.example", "is not an email address"),
        ("Bob <bob@x.example>", "is not an email address"),
        ("bob@x.example, carol@y.example", "is not an email address"),
        ("@x.example", "is not an email address"),
        ("service@firm.example", "firm's own mailboxes"),
        ("SERVICE@firm.example", "firm's own mailboxes"),
        ("no-reply@firm.example", "firm's own mailboxes"),  # the product's own sender
    ]
    for entry, said in hostile:
        with pytest.raises(InvalidInput, match=said):
            tickets.add_message(agent, number, "Reply", cc=[entry])
    with pytest.raises(InvalidInput, match="list of addresses"):
        tickets.add_message(agent, number, "Reply", cc="bob@x.example")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="list of addresses"):
        tickets.add_message(agent, number, "Reply", cc=[{"email": "bob@x.example"}])  # type: ignore[list-item]
    many = [f"person{n}@x.example" for n in range(mail_cc.MAX_CC + 1)]
    with pytest.raises(InvalidInput, match=f"At most {mail_cc.MAX_CC}"):
        tickets.add_message(agent, number, "Reply", cc=many)
    # Nothing of it was saved or queued.
    assert len(tickets.get_ticket(agent, number).messages) == 1
    assert _outbound() == [] and _ticket().cc_emails == []

    # Only staff may set it: the client from the portal, marketing and a login without a
    # role are refused, and so is checking what was typed.
    client_user = make_user("client")
    with session_scope() as session:
        session.get(Client, _ticket().client_id).portal_user_id = client_user.user_id
    for actor in (client_user, make_user("marketing"), make_user(None)):
        with pytest.raises(PermissionDenied):
            tickets.add_message(actor, number, "Reply", cc=["bob@x.example"])
        with pytest.raises(PermissionDenied):
            tickets.check_cc(actor, "bob@x.example")
    assert _ticket().cc_emails == []
    # A reply on a ticket of another channel cannot copy anyone.
    phone = tickets.create_ticket(
        agent, client_id=make_client(agent), subject="Call", body="Hi", channel="phone"
    ).number
    with pytest.raises(InvalidInput, match="Only replies by email"):
        tickets.add_message(agent, phone, "Reply", cc=["bob@x.example"])
    # A changed list is a change of the ticket: made against an old version, it is refused.
    stale = tickets.get_ticket(agent, number).ticket.version
    tickets.add_message(agent, number, "First answer.")
    with pytest.raises(Conflict):
        tickets.add_message(agent, number, "Second", cc=["bob@x.example"], expected_version=stale)
    assert _ticket().cc_emails == []


def _composer_tab(actor, number: int) -> SimpleNamespace:
    """A stand-in tab for the ticket page's handlers, loaded like the page loads."""
    tab = SimpleNamespace(
        require_actor=lambda: actor,
        _number=number,
        conflict="",
        draft="",
        internal=False,
        macro_status="",
        macro_priority="",
        macro_title="",
        macro_tags=[],
        _staged=[],
        staged_labels=[],
        _reply_key="",
        _just_cleared="",
        upload_error="",
        cc_emails=[],
        cc_draft=[],
        cc_error="",
        _cc_edited=False,
        shows_cc=True,
    )
    for name in ("_refresh", "_clear_draft", "_set_staged", "_take_cc", "_take_draft"):
        setattr(tab, name, MethodType(getattr(TicketState, name), tab))
    tab._refresh()
    return tab


def _handler(name: str):
    return TicketState.event_handlers[name].fn


def test_the_composers_cc_field_refuses_bad_input_clearly_and_sends_what_it_shows(
    db, smtp: RecordingSmtp
) -> None:
    add_mailbox()
    agent = make_user("agent")
    number = email_ticket(agent)
    tab = _composer_tab(agent, number)
    assert tab.cc_draft == [] and tab.client_email == "grace@x.example"

    _handler("add_cc")(tab, {"cc": "bob@x.example\r\nBcc: spy@evil.example"})
    assert "is not an email address" in tab.cc_error and tab.cc_draft == []
    _handler("commit_cc")(tab, "service@firm.example")
    assert "firm's own mailboxes" in tab.cc_error and tab.cc_draft == []
    # A forged form value of the wrong type: a clear toast, nothing changes.
    answer = _handler("add_cc")(tab, {"cc": ["bob@x.example"]})
    assert "not understood" in str(answer) and tab.cc_draft == []
    # While the field holds a refused entry, the reply waits (nothing is sent or saved).
    tab.draft = "Copying Bob and Carol."
    answer = _handler("send")(tab)
    assert "Check the Cc first" in str(answer)
    assert len(tickets.get_ticket(agent, number).messages) == 1

    # Enter with two pasted addresses, then leaving the field with a third.
    _handler("add_cc")(tab, {"cc": "bob@x.example; Carol@Y.example"})
    _handler("commit_cc")(tab, "dan@z.example")
    assert tab.cc_error == ""
    assert tab.cc_draft == ["bob@x.example", "carol@y.example", "dan@z.example"]
    _handler("remove_cc")(tab, "dan@z.example")
    _handler("remove_cc")(tab, "<script>")  # not in the list: nothing happens
    assert tab.cc_draft == ["bob@x.example", "carol@y.example"]
    _handler("send")(tab)
    assert tab.cc_draft == tab.cc_emails == ["bob@x.example", "carol@y.example"]
    assert mail_send.run().sent == 1
    assert str(smtp.received[-1]["Cc"]) == "bob@x.example, carol@y.example"

    # A note in the same composer goes to no one, whatever the Cc showed.
    tab.internal, tab.draft = True, "Bob is the client's husband."
    _handler("send")(tab)
    assert len(_outbound()) == 1 and mail_send.run().sent == 0


def _ticket_count() -> int:
    with session_scope() as session:
        return len(list(session.scalars(select(Ticket.id))))


def test_an_email_ticket_opened_with_cc_copies_them_on_its_first_mail_and_every_reply(
    db, smtp: RecordingSmtp
) -> None:
    add_mailbox()  # service@firm.example
    agent = make_user("agent")
    client_id = make_client(agent, "Grace Hopper")  # grace@x.example
    smtp.forget_system_mail()
    number = tickets.create_ticket(
        agent,
        client_id=client_id,
        subject="Your annual statement",
        body="Your statement is ready.",
        channel="email",
        # As typed in the form: commas, semicolons, spaces, a repeat and the client herself.
        cc=" Bob@Client.example; carol@client.example,bob@client.example  grace@x.example ",
    ).number
    assert _ticket().cc_emails == ["bob@client.example", "carol@client.example"]
    assert mail_send.run().sent == 1
    [mail] = smtp.received
    assert str(mail["To"]) == "grace@x.example"
    assert str(mail["Cc"]) == "bob@client.example, carol@client.example"
    assert smtp.envelopes[0][1] == [
        "grace@x.example",
        "bob@client.example",
        "carol@client.example",
    ]
    detail = tickets.get_ticket(agent, number)
    assert detail.cc_emails == ["bob@client.example", "carol@client.example"]
    assert detail.messages[0].cc == ["bob@client.example", "carol@client.example"]
    with session_scope() as session:
        audited = session.execute(
            select(AuditLog.changes).where(AuditLog.action == "ticket.created")
        ).scalar_one()
    assert audited["cc"] == "bob@client.example, carol@client.example"
    # A later reply goes to the same people.
    tickets.add_message(agent, number, "Any questions, just answer this mail.")
    assert mail_send.run().sent == 1
    assert str(smtp.received[1]["Cc"]) == "bob@client.example, carol@client.example"


def test_a_new_tickets_cc_is_checked_in_the_service_and_a_bad_one_saves_nothing(
    db, smtp: RecordingSmtp
) -> None:
    add_mailbox()
    agent = make_user("agent")
    client_id = make_client(agent, "Grace Hopper")

    def create(actor, cc: object, channel: str = "email") -> None:
        tickets.create_ticket(
            actor,
            client_id=client_id,
            subject="Statement",
            body="Ready.",
            channel=channel,
            cc=cc,  # type: ignore[arg-type]
        )

    refused = [
        ("bob@x.example, bob at client", "“bob” is not an email address"),
        ("bob@x.example\r\nBcc: spy@evil.example", "is not an email address"),
        ("Bob <bob@x.example>", "is not an email address"),
        ("bob@@x.example", "is not an email address"),
        ("carol@y.example; SERVICE@firm.example", "firm's own mailboxes"),
        (["bob@x.example"], "not understood"),  # a forged form value
        ("a" * (mail_cc.MAX_TYPED + 1), "too much text"),
    ]
    for typed, said in refused:
        with pytest.raises(InvalidInput, match=said):
            create(agent, typed)
    with pytest.raises(InvalidInput, match="Only email tickets"):
        create(agent, "bob@x.example", channel="phone")
    # A caller without the permission is refused before anything is read.
    for actor in (make_user("client"), make_user("marketing"), make_user(None)):
        with pytest.raises(PermissionDenied):
            create(actor, "bob@x.example")
    assert _ticket_count() == 0 and _outbound() == []
    with session_scope() as session:
        assert (
            session.scalars(select(AuditLog.id).where(AuditLog.action == "ticket.created")).all()
            == []
        )
