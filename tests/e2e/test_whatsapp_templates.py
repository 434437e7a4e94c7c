"""WhatsApp's 24-hour window in Chromium: a manager lists a Twilio number's approved Content
templates on the channel settings page; on a ticket whose client last wrote over a day ago the
agent's composer offers only those, says why, and, with the keyboard alone, a template is
chosen, its variables filled in, previewed and sent; the real `twilio` client then delivers it
to a local fake of Twilio's Messages resource as ContentSid and ContentVariables."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from playwright.sync_api import Browser, expect
from sqlalchemy import update

from crm_app.db import session_scope
from crm_app.services.messaging import delivery, whatsapp
from models.messaging import Provider
from models.ticket import TicketMessage
from tests.e2e.session import signed_in
from tests.factories import make_user
from tests.fake_whatsapp import fake_twilio

TIMEOUT = 60_000
ACCOUNT_SID = "AC" + "0" * 30 + "34"
AUTH_TOKEN = "twilio-auth-token-for-the-browser-test"
STATEMENT_SID = "HX" + "0123456789abcdef" * 2
STATEMENT_BODY = "Hello {{1}}, your statement for {{2}} is ready."


def _client_wrote_a_day_ago() -> int:
    received = whatsapp.receive(
        whatsapp.InboundMessage(
            provider=Provider.TWILIO,
            external_id="SM" + "e" * 32,
            address="+4915123456789",
            profile_name="Grace Hopper",
            body="Is my transfer done?",
        )
    )
    with session_scope() as session:
        session.execute(
            update(TicketMessage).values(created_at=TicketMessage.created_at - timedelta(hours=25))
        )
    assert received.ticket_number is not None
    return received.ticket_number


def test_past_the_window_the_agent_sends_an_approved_template_with_the_keyboard(
    db: str, app_url: str, browser: Browser, shoot
):
    manager = make_user("manager")
    agent = make_user("agent", name="Sam Agent")
    with fake_twilio(ACCOUNT_SID, AUTH_TOKEN) as twilio_api:
        twilio_api.content_templates = {STATEMENT_SID: STATEMENT_BODY}
        _, admin = signed_in(browser, app_url, manager.email, timeout=TIMEOUT, height=1800)
        admin.goto(f"{app_url}/settings/channels")
        admin.locator("#twilio-enabled").click()
        admin.locator("#channel-account_sid").fill(ACCOUNT_SID)
        admin.locator("#channel-whatsapp_from").fill("whatsapp:+14155238886")
        admin.locator("#channel-api_base_url").fill(twilio_api.url)
        admin.locator("#channel-auth_token").fill(AUTH_TOKEN)
        admin.locator("#twilio-templates").fill(
            f"{STATEMENT_SID} | Statement ready | en | {STATEMENT_BODY}"
        )
        admin.locator("#twilio-save").click()
        expect(admin.get_by_text("Twilio settings saved.")).to_be_visible()
        expect(admin.locator("#twilio-templates")).to_have_value(
            f"{STATEMENT_SID} | Statement ready | en | {STATEMENT_BODY}"
        )
        shoot(admin, "whatsapp-templates-settings")

        number = _client_wrote_a_day_ago()
        _, desk = signed_in(browser, app_url, agent.email, timeout=TIMEOUT, height=1200)
        desk.goto(f"{app_url}/tickets/{number}")
        expect(desk.locator("#template-why")).to_contain_text("more than 24 hours ago")
        expect(desk.locator("#composer")).to_have_count(0)
        expect(desk.locator("#send-template")).to_be_disabled()

        # Keyboard only: open the select, take the template, type each value, send.
        desk.locator("#template-select").focus()
        desk.keyboard.press("Enter")
        expect(desk.get_by_role("option", name="Statement ready (en)")).to_be_visible()
        desk.keyboard.press("Enter")
        expect(desk.locator("#template-select")).to_contain_text("Statement ready (en)")
        expect(desk.locator("#template-preview")).to_contain_text(STATEMENT_BODY)
        desk.keyboard.press("Tab")
        expect(desk.locator("#template-value-0")).to_be_focused()
        desk.keyboard.type("Grace")
        desk.keyboard.press("Tab")
        desk.keyboard.type("March 2026")
        expect(desk.locator("#template-preview")).to_contain_text(
            "Hello Grace, your statement for March 2026 is ready."
        )
        shoot(desk, "whatsapp-template-picker")
        desk.keyboard.press("Tab")
        expect(desk.locator("#send-template")).to_be_focused()
        desk.keyboard.press("Enter")
        expect(desk.get_by_text("Template queued")).to_be_visible()
        expect(
            desk.locator(".message", has_text="[WhatsApp template “Statement ready (en)”]")
        ).to_contain_text("Hello Grace, your statement for March 2026 is ready.")

        report = delivery.run(run_seconds=10)
        assert report.sent == 1, report.errors
        form = dict(twilio_api.sends()[0].form)
        assert form["ContentSid"] == STATEMENT_SID and "Body" not in form
        assert json.loads(form["ContentVariables"]) == {"1": "Grace", "2": "March 2026"}
        assert form["To"] == "whatsapp:+4915123456789"
        expect(desk.locator(".delivery-sent")).to_contain_text("Sent by WhatsApp", timeout=TIMEOUT)
        expect(desk).to_have_url(re.compile(rf"/tickets/{number}$"))
        shoot(desk, "whatsapp-template-sent")
