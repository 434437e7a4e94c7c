"""WhatsApp's approved templates: outside the 24-hour window only a template a manager listed
for the provider goes out, its variables filled in and checked; Twilio gets the ContentSid with
ContentVariables (through the real `twilio` client, to a local fake of its Messages resource),
Meta the template's name, language and body parameters. A template the browser made up is
refused and audited, and nothing is saved; the ticket page's picker handlers, called directly
with hostile input, send nothing the service would not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from types import MethodType, SimpleNamespace

import pytest
import reflex as rx
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from crm_app.api import build_api
from crm_app.api.security import SecurityMiddleware
from crm_app.auth.event_guard import EventRefused, checked_payload
from crm_app.db import session_scope
from crm_app.services import tickets
from crm_app.services.errors import InvalidInput, NotAuthenticated, PermissionDenied
from crm_app.services.messaging import channel_settings, delivery, template_messages, templates
from crm_app.settings import get_settings
from models.audit import AuditLog
from models.outbox import OutboundMessage
from models.ticket import Ticket, TicketMessage
from pages.ticket import TicketState
from tests import test_whatsapp_meta as meta_hooks
from tests import test_whatsapp_twilio as twilio_hooks
from tests.factories import make_client, make_ticket, make_user
from tests.fake_whatsapp import FakeServer, fake_graph, fake_twilio

STATEMENT_SID = "HX" + "0123456789abcdef" * 2
REMINDER_SID = "HX" + "fedcba9876543210" * 2
STATEMENT_BODY = "Hello {{1}}, your statement for {{2}} is ready."
TWILIO_TEMPLATES = (
    f"{STATEMENT_SID} | Statement ready | en | {STATEMENT_BODY}\n"
    f"{REMINDER_SID} | Call us back | en | Please call your adviser back."
)
META_TEMPLATES = f"statement_ready | en_US | {STATEMENT_BODY}\naccount_update:de"


@pytest.fixture
def providers(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeServer, FakeServer]]:
    """Both providers' fakes, set up as in production (templates from the environment)."""
    with (
        fake_twilio(twilio_hooks.SID, twilio_hooks.TOKEN) as twilio_api,
        fake_graph(meta_hooks.ACCESS_TOKEN, meta_hooks.PHONE_ID) as graph,
    ):
        twilio_api.content_templates = {
            STATEMENT_SID: STATEMENT_BODY,
            REMINDER_SID: "Please call your adviser back.",
        }
        graph.content_templates = {
            "statement_ready:en_US": STATEMENT_BODY,
            "account_update:de": "Ihr Konto hat eine Neuigkeit.",
        }
        for name, value in {
            "TWILIO_AUTH_TOKEN": twilio_hooks.TOKEN,
            "TWILIO_ACCOUNT_SID": twilio_hooks.SID,
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
            "TWILIO_API_BASE_URL": twilio_api.url,
            "TWILIO_WHATSAPP_TEMPLATES": TWILIO_TEMPLATES,
            "CRM_PUBLIC_URL": twilio_hooks.PUBLIC,
            "META_APP_SECRET": meta_hooks.APP_SECRET,
            "META_VERIFY_TOKEN": meta_hooks.VERIFY_TOKEN,
            "META_ACCESS_TOKEN": meta_hooks.ACCESS_TOKEN,
            "META_PHONE_NUMBER_ID": meta_hooks.PHONE_ID,
            "META_GRAPH_URL": graph.url + "/v21.0",
            "CRM_WHATSAPP_TEMPLATES": META_TEMPLATES,
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield twilio_api, graph
    get_settings.cache_clear()


@pytest.fixture
def twilio_api(providers) -> FakeServer:
    return providers[0]


@pytest.fixture
def graph(providers) -> FakeServer:
    return providers[1]


@pytest.fixture
def web(providers) -> TestClient:
    return TestClient(SecurityMiddleware(build_api()), base_url="http://10.0.0.5:3000")


def twilio_ticket(web: TestClient) -> int:
    """A client wrote through Twilio: their WhatsApp ticket's number."""
    pairs = twilio_hooks.inbound()
    signature = twilio_hooks.sign(twilio_hooks.PUBLIC + twilio_hooks.PATH, pairs)
    assert twilio_hooks.post(web, pairs, signature).status_code == 200
    with session_scope() as session:
        return session.execute(select(Ticket.number).order_by(Ticket.id.desc())).scalars().first()


def meta_ticket(web: TestClient) -> int:
    """A client wrote through Meta's Cloud API: their WhatsApp ticket's number."""
    raw = json.dumps(meta_hooks.event([meta_hooks.text_message()])).encode()
    response = web.post(
        meta_hooks.PATH,
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_hooks.signature(raw),
        },
    )
    assert response.status_code == 200
    with session_scope() as session:
        return session.execute(select(Ticket.number).order_by(Ticket.id.desc())).scalars().first()


def close_window() -> None:
    """The client's last message is 25 hours old: the 24-hour window has closed."""
    with session_scope() as session:
        session.execute(
            update(TicketMessage).values(created_at=TicketMessage.created_at - timedelta(hours=25))
        )


def message_count() -> int:
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(TicketMessage)).scalar_one()


def refusals() -> list[dict]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(AuditLog.changes).where(AuditLog.action == "ticket.template_refused")
            )
        )


# --- what the composer offers -----------------------------------------------------------------


def test_the_composer_offers_only_templates_once_the_24_hour_window_has_closed(web):
    agent = make_user("agent")
    number = twilio_ticket(web)
    offer = template_messages.composer_templates(agent, number)
    assert not offer.templates_only and offer.provider == "twilio"
    close_window()
    offer = template_messages.composer_templates(agent, number)
    assert offer.templates_only
    assert [(t.key, t.label, t.variable_count) for t in offer.templates] == [
        (STATEMENT_SID, "Statement ready (en)", 2),
        (REMINDER_SID, "Call us back (en)", 0),
    ]
    # A free reply is refused with the reason; the template goes out.
    with pytest.raises(InvalidInput, match="approved template"):
        tickets.add_message(agent, number, "Are you there?")
    template_messages.send_template(agent, number, REMINDER_SID)
    assert delivery.run(run_seconds=5).sent == 1


def test_the_composer_offers_the_templates_of_the_provider_the_client_wrote_by(web):
    agent = make_user("agent")
    number = meta_ticket(web)
    close_window()
    offer = template_messages.composer_templates(agent, number)
    assert offer.provider == "meta"
    assert [t.key for t in offer.templates] == ["statement_ready:en_US", "account_update:de"]
    email_ticket = make_ticket(agent, make_client(agent))
    assert template_messages.composer_templates(agent, email_ticket).templates == []


# --- Twilio: ContentSid and ContentVariables on the wire ------------------------------------


def test_a_twilio_template_goes_out_as_content_sid_with_content_variables(web, twilio_api):
    agent = make_user("agent")
    number = twilio_ticket(web)
    close_window()
    template_messages.send_template(agent, number, STATEMENT_SID, ["Grace", "March 2026"])
    # The timeline shows the text as the client reads it.
    last = tickets.get_ticket(agent, number).messages[-1]
    assert last.body_text == (
        "[WhatsApp template “Statement ready (en)”]\n"
        "Hello Grace, your statement for March 2026 is ready."
    )
    assert last.delivery_status == "queued"
    report = delivery.run(run_seconds=5)
    assert report.sent == 1, report.errors
    sent = twilio_api.sends()[0]
    form = dict(sent.form)
    assert sent.path == f"/2010-04-01/Accounts/{twilio_hooks.SID}/Messages.json"
    assert form["ContentSid"] == STATEMENT_SID
    assert json.loads(form["ContentVariables"]) == {"1": "Grace", "2": "March 2026"}
    assert "Body" not in form  # the approved text is Twilio's, not ours
    assert form["To"] == f"whatsapp:{twilio_hooks.CLIENT_NUMBER}"
    assert form["From"] == "whatsapp:+14155238886"
    assert form["StatusCallback"] == twilio_hooks.PUBLIC + twilio_hooks.PATH
    with session_scope() as session:
        outbound = session.execute(select(OutboundMessage)).scalar_one()
    assert outbound.status == "sent" and outbound.provider_message_id.startswith("SM")


def test_a_twilio_template_without_variables_sends_no_content_variables(web, twilio_api):
    agent = make_user("agent")
    number = twilio_ticket(web)
    close_window()
    template_messages.send_template(agent, number, REMINDER_SID, [])
    assert delivery.run(run_seconds=5).sent == 1
    form = dict(twilio_api.sends()[0].form)
    assert form["ContentSid"] == REMINDER_SID and "ContentVariables" not in form


def test_a_template_twilio_no_longer_has_fails_with_twilios_reason(web, twilio_api):
    agent = make_user("agent")
    number = twilio_ticket(web)
    close_window()
    del twilio_api.content_templates[REMINDER_SID]  # deleted in the Twilio console meanwhile
    template_messages.send_template(agent, number, REMINDER_SID)
    assert delivery.run(run_seconds=5).failed == 1
    last = tickets.get_ticket(agent, number).messages[-1]
    assert last.delivery_status == "failed" and "21655" in last.delivery_error


# --- Meta: name, language and body parameters -----------------------------------------------


def test_a_meta_template_goes_out_with_its_values_as_body_parameters(web, graph):
    agent = make_user("agent")
    number = meta_ticket(web)
    close_window()
    template_messages.send_template(agent, number, "statement_ready:en_US", ["Grace", "March"])
    template_messages.send_template(agent, number, "account_update:de")
    report = delivery.run(run_seconds=5)
    assert report.sent == 2, report.errors
    with_values, without = (r.json for r in graph.sends())
    assert with_values == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": meta_hooks.WA_ID,
        "type": "template",
        "template": {
            "name": "statement_ready",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Grace"},
                        {"type": "text", "text": "March"},
                    ],
                }
            ],
        },
    }
    assert without["template"] == {"name": "account_update", "language": {"code": "de"}}


# --- refusals: forged templates, bad values, wrong tickets, no permission -------------------


def test_a_made_up_template_is_refused_audited_and_nothing_is_saved_or_sent(web, twilio_api):
    agent = make_user("agent")
    number = twilio_ticket(web)
    close_window()
    before = message_count()
    for forged in [
        "HX" + "9" * 32,  # a well-formed ContentSid this account never listed
        "statement_ready:en_US",  # Meta's template, on a ticket that came by Twilio
        "Statement ready",  # the friendly name instead of the ContentSid
        STATEMENT_SID.lower() + " ",
        "x" * 5000,
    ]:
        with pytest.raises(InvalidInput, match="not one of the approved templates"):
            template_messages.send_template(agent, number, forged, ["Grace", "March"])
    assert message_count() == before
    assert delivery.run(run_seconds=5).sent == 0 and twilio_api.sends() == []
    assert len(refusals()) == 5 and refusals()[0]["template"] == "HX" + "9" * 32
    for not_a_key in ["", "   ", None, 42, ["HX"]]:
        with pytest.raises(InvalidInput, match="Choose a template"):
            template_messages.send_template(agent, number, not_a_key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (["Grace"], "takes 2 values; 1 was given"),
        (["Grace", "March", "extra"], "takes 2 values; 3 were given"),
        (["Grace", "   "], r"\{\{2\}\} is empty"),
        (["Grace\nWire 10,000 USD to", "March"], r"\{\{1\}\} may not hold line breaks"),
        (["Grace\tX", "March"], "may not hold line breaks, tabs"),
        (["Grace      Hopper", "March"], "more than 4 spaces"),
        (["G" * 257, "March"], "longer than 256 characters"),
        ("Grace, March", "values were not understood"),
        ([1, 2], "values were not understood"),
        ({"1": "Grace", "2": "March"}, "values were not understood"),
    ],
)
def test_template_values_are_checked_before_anything_is_saved(web, values, reason):
    agent = make_user("agent")
    number = twilio_ticket(web)
    close_window()
    before = message_count()
    with pytest.raises(InvalidInput, match=reason):
        template_messages.send_template(agent, number, STATEMENT_SID, values)
    assert message_count() == before and refusals() == []


def test_a_filled_in_template_longer_than_whatsapp_allows_is_refused(web):
    agent = make_user("agent")
    channel_settings.save_provider(
        make_user("manager"),
        "twilio",
        enabled=True,
        values={
            "templates": f"{STATEMENT_SID} | Long | en | {'x' * 600} {{{{1}}}} {{{{2}}}} {{{{3}}}}"
        },
        new_secrets={},
    )
    number = twilio_ticket(web)
    close_window()
    with pytest.raises(InvalidInput, match="WhatsApp allows 1,024"):
        template_messages.send_template(agent, number, STATEMENT_SID, ["y" * 200] * 3)


def test_a_value_that_looks_like_a_placeholder_is_sent_as_written(web, twilio_api):
    agent = make_user("agent")
    number = twilio_ticket(web)
    close_window()
    template_messages.send_template(agent, number, STATEMENT_SID, ["{{2}}", "<b>March</b>"])
    assert (
        tickets.get_ticket(agent, number)
        .messages[-1]
        .body_text.endswith("Hello {{2}}, your statement for <b>March</b> is ready.")
    )
    assert delivery.run(run_seconds=5).sent == 1
    assert json.loads(dict(twilio_api.sends()[0].form)["ContentVariables"]) == {
        "1": "{{2}}",
        "2": "<b>March</b>",
    }


def test_templates_are_refused_on_tickets_that_are_not_whatsapp_and_to_non_staff(web):
    agent = make_user("agent")
    email_number = make_ticket(agent, make_client(agent))
    with pytest.raises(InvalidInput, match="Templates are for WhatsApp tickets"):
        template_messages.send_template(agent, email_number, REMINDER_SID)
    number = twilio_ticket(web)
    close_window()
    for outsider in (make_user(None), make_user("marketing"), make_user("client")):
        with pytest.raises(PermissionDenied):
            template_messages.send_template(outsider, number, REMINDER_SID)
        with pytest.raises(PermissionDenied):
            template_messages.composer_templates(outsider, number)
    with pytest.raises(Exception, match="no ticket #999999"):
        template_messages.send_template(agent, 999999, REMINDER_SID)
    assert message_count() == 2  # the email ticket's first message and the client's


def test_pressing_send_template_twice_sends_it_once(web, twilio_api):
    agent = make_user("agent")
    number = twilio_ticket(web)
    close_window()
    key = "k" * 32
    first = template_messages.send_template(agent, number, REMINDER_SID, request_key=key)
    again = template_messages.send_template(agent, number, REMINDER_SID, request_key=key)
    assert first == again and message_count() == 2
    assert delivery.run(run_seconds=5).sent == 1 and len(twilio_api.sends()) == 1


def test_a_template_records_the_first_response_and_the_audit_entry(web):
    agent = make_user("agent")
    number = twilio_ticket(web)
    close_window()
    template_messages.send_template(agent, number, STATEMENT_SID, ["Grace", "March"])
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
        entry = session.execute(
            select(AuditLog.changes).where(AuditLog.action == "ticket.message_added")
        ).scalar_one()
    assert ticket.first_responded_at is not None and ticket.status == "open"
    assert entry["template"] == STATEMENT_SID and entry["delivery"] == "queued (whatsapp)"


# --- the manager's settings -----------------------------------------------------------------


def test_a_manager_lists_each_providers_templates_and_the_composer_offers_them(web):
    manager = make_user("manager")
    sid = "HX" + "a" * 32
    channel_settings.save_provider(
        manager,
        "twilio",
        enabled=True,
        values={"templates": f"  {sid} |  Payment due | en_GB | Dear {{{{1}}}},\\nyou owe.  "},
        new_secrets={},
    )
    shown = channel_settings.provider_settings(manager, "twilio").setting_values["templates"]
    assert shown == f"{sid} | Payment due | en_GB | Dear {{{{1}}}},\\nyou owe."
    number = twilio_ticket(web)
    close_window()
    (offered,) = template_messages.composer_templates(make_user("agent"), number).templates
    assert (offered.key, offered.label, offered.variable_count) == (sid, "Payment due (en_GB)", 1)
    assert offered.body == "Dear {{1}},\nyou owe."  # the page's \n is a line break
    # The environment's templates no longer apply: the page's list replaced them.
    with pytest.raises(InvalidInput, match="not one of the approved templates"):
        template_messages.send_template(make_user("agent"), number, STATEMENT_SID, ["a", "b"])
    with session_scope() as session:
        saved = session.execute(
            select(AuditLog.changes).where(AuditLog.action == "channel.settings_saved")
        ).scalar_one()
    assert saved["templates"] == [sid]


@pytest.mark.parametrize(
    ("provider", "line", "reason"),
    [
        ("twilio", "HX123 | Short | en | Hi", "is not a ContentSid"),
        ("twilio", "Statement ready | en | Hi {{1}}", "is not a ContentSid"),
        ("twilio", f"{STATEMENT_SID}", "needs a friendly name"),
        ("twilio", f"{STATEMENT_SID} | Gap | en | Hi {{{{1}}}} and {{{{3}}}}", "without gaps"),
        ("twilio", f"{STATEMENT_SID} | A | en\n{STATEMENT_SID} | B | en", "listed twice"),
        ("meta", "Statement Ready | en_US", "is not a template name"),
        ("meta", "statement_ready | english please", "is not a language code"),
        ("meta", "statement_ready | en_US | Hi {{0}}", "without gaps"),
        ("meta", f"statement_ready | en_US | {'x' * 1100}", "longer than 1,024"),
    ],
)
def test_template_lines_a_provider_would_not_take_are_refused_with_their_line(
    db, provider, line, reason
):
    manager = make_user("manager")
    with pytest.raises(InvalidInput, match=reason):
        channel_settings.save_provider(
            manager, provider, enabled=True, values={"templates": line}, new_secrets={}
        )


def test_only_a_manager_sets_the_templates(db):
    with pytest.raises(PermissionDenied):
        channel_settings.save_provider(
            make_user("agent"),
            "twilio",
            enabled=True,
            values={"templates": f"{STATEMENT_SID} | Mine | en"},
            new_secrets={},
        )


def test_the_older_meta_form_name_colon_language_is_still_read():
    parsed = templates.parse("account_update:en_US, welcome, reminder:de", "meta")
    assert parsed.problems == ()
    assert [(t.name, t.language, t.variable_count) for t in parsed.templates] == [
        ("account_update", "en_US", 0),
        ("welcome", "en_US", 0),
        ("reminder", "de", 0),
    ]


# --- the ticket page's template picker, its handlers called as a browser would ---------------


def _picker_tab(actor, number: int) -> SimpleNamespace:
    """A stand-in tab for the ticket page, loaded as the page loads (the picker's offer too)."""

    def require_actor():
        if actor is None:
            raise NotAuthenticated("Your session has ended: please sign in again.")
        return actor

    tab = SimpleNamespace(
        require_actor=require_actor,
        _number=number,
        _cc_edited=False,
        templates_only=False,
        wa_templates=[],
        template_key="",
        template_values=[],
        template_preview="",
        template_error="",
        _template_request="",
    )
    for name in ("_refresh", "_clear_template", "_chosen_template"):
        setattr(tab, name, MethodType(getattr(TicketState, name), tab))
    if actor is not None:
        tab._refresh()
    return tab


def _handler(name: str):
    return TicketState.event_handlers[name].fn


def test_the_picker_fills_the_preview_as_the_agent_types_and_sends_that_text(web, twilio_api):
    agent = make_user("agent")
    number = twilio_ticket(web)
    tab = _picker_tab(agent, number)
    assert not tab.templates_only  # the window is open: the normal composer
    close_window()
    tab._refresh()
    assert tab.templates_only and [t.key for t in tab.wa_templates] == [
        STATEMENT_SID,
        REMINDER_SID,
    ]
    _handler("choose_template")(tab, STATEMENT_SID)
    assert tab.template_values == ["", ""] and tab.template_preview == STATEMENT_BODY
    _handler("set_template_value")(tab, 0, "Grace")
    assert tab.template_preview == "Hello Grace, your statement for {{2}} is ready."
    _handler("set_template_value")(tab, 1, "March")
    answer = _handler("send_template")(tab)
    assert "Template queued" in str(answer) and tab.template_error == ""
    assert tab.template_key == "" and tab.template_values == []
    assert (
        tickets.get_ticket(agent, number)
        .messages[-1]
        .body_text.endswith("Hello Grace, your statement for March is ready.")
    )
    # A second press of a send already made (the choice is gone): nothing more goes out.
    _handler("send_template")(tab)
    assert "Choose a template" in tab.template_error
    assert delivery.run(run_seconds=5).sent == 1


def test_the_pickers_handlers_refuse_hostile_input_without_sending(web, twilio_api):
    agent = make_user("agent")
    number = twilio_ticket(web)
    close_window()
    tab = _picker_tab(agent, number)
    _handler("choose_template")(tab, "HX" + "9" * 32)
    assert tab.template_key == "" and "approved templates" in tab.template_error
    _handler("choose_template")(tab, STATEMENT_SID)
    for index, value in [(-1, "x"), (2, "x"), (True, "x"), ("0", "x"), (0, ["x"]), (0, None)]:
        _handler("set_template_value")(tab, index, value)
    assert tab.template_values == ["", ""]
    _handler("set_template_value")(tab, 0, "G" * 100_000)
    assert len(tab.template_values[0]) < 400  # the tab holds no more than it could send
    _handler("set_template_value")(tab, 1, "March")
    _handler("send_template")(tab)
    assert "longer than 256 characters" in tab.template_error
    # The tab's choice tampered with: the service checks the template itself.
    tab.template_key, tab.template_values = "HX" + "9" * 32, ["Grace", "March"]
    _handler("send_template")(tab)
    assert "not one of the approved templates" in tab.template_error
    tab.template_key, tab.template_values = STATEMENT_SID, ["Grace"]
    _handler("send_template")(tab)
    assert "takes 2 values; 1 was given" in tab.template_error
    assert message_count() == 1 and twilio_api.sends() == []
    assert len(refusals()) == 1


def test_the_picker_sends_nothing_for_a_signed_out_tab_or_a_role_without_tickets(web):
    number = twilio_ticket(web)
    close_window()
    signed_out = _picker_tab(None, number)
    signed_out.template_key, signed_out.template_values = REMINDER_SID, []
    _handler("send_template")(signed_out)
    assert "sign in again" in signed_out.template_error
    marketing = _picker_tab(make_user("agent"), number)
    marketer = make_user("marketing")
    marketing.require_actor = lambda: marketer
    _handler("choose_template")(marketing, REMINDER_SID)
    _handler("send_template")(marketing)
    assert "may not edit tickets" in marketing.template_error
    assert message_count() == 1


def test_the_event_guard_refuses_forged_argument_types_for_the_picker():
    name = f"{TicketState.get_full_name()}.set_template_value"
    with pytest.raises(EventRefused):
        checked_payload(rx.State, name, {"index": [0], "value": "x"})
    with pytest.raises(EventRefused):
        checked_payload(rx.State, name, {"index": 0, "value": "x", "actor": {"role": "manager"}})
    send = f"{TicketState.get_full_name()}.send_template"
    with pytest.raises(EventRefused):
        checked_payload(rx.State, send, {"template_key": STATEMENT_SID})
