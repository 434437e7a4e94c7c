"""A marketing user's campaign in Chromium against the production build: compose (autosaved),
pick the audience and see who is left out, preview per recipient, test-send to staff, send
(the job runs here, to a real SMTP server), watch the progress and read the results; the
recipient's one-click unsubscribe is a plain HTTP POST; the client's profile lists it."""

from __future__ import annotations

import re
import urllib.request

from playwright.sync_api import Browser, expect

from crm_app.db import session_scope
from crm_app.services import segments
from crm_app.services.campaigns import delivery
from crm_app.services.campaigns.template import recipient_token
from models.mailbox import ConnectionSecurity, OutboundKind
from tests.e2e.session import signed_in
from tests.factories import make_user
from tests.test_campaigns import _clients
from tests.test_mail_out import RecordingSmtp, add_mailbox, start_smtp

LIVE = 20_000


def test_marketing_composes_previews_test_sends_sends_and_tracks_a_campaign(
    db: str, app_url: str, browser: Browser, shoot
) -> None:
    from sqlalchemy import text

    server = RecordingSmtp()
    RecordingSmtp.current = server
    controller = start_smtp(server)
    try:
        add_mailbox(
            outbound=OutboundKind.SMTP,
            smtp_host="127.0.0.1",
            smtp_port=controller.port,
            smtp_security=ConnectionSecurity.NONE,
        )
        marketer = make_user("marketing", name="Mara Marketing")
        _clients(12)
        _clients(3, consent=False, start=12)
        rules = {"op": "and", "rules": [{"field": "tags", "operator": "has", "value": "vip"}]}
        segments.save_segment(marketer, name="VIP clients", rules=rules)
        server.forget_system_mail()

        context, page = signed_in(
            browser, app_url, marketer.email, landing="/clients", width=1280, height=1000
        )
        page.goto(f"{app_url}/campaigns")
        page.locator("#new-campaign-name").fill("Autumn outlook")
        page.locator("#new-campaign").click()
        expect(page.locator("#campaign-status")).to_have_text("draft", timeout=LIVE)
        page.locator("#campaign-subject").fill("Your outlook, {{first_name|there}}")
        page.locator("#campaign-preheader").fill("Markets and rates this autumn")
        # The body in the rich editor: a heading from the toolbar, a paragraph, bold by keyboard.
        page.locator("#campaign-body-editor .ql-editor").click()
        page.keyboard.type("Autumn outlook")
        page.locator("#campaign-body-editor span.ql-header .ql-picker-label").click()
        page.locator('#campaign-body-editor span.ql-header .ql-picker-item[data-value="2"]').click()
        page.locator("#campaign-body-editor .ql-editor").press("End")
        page.keyboard.press("Enter")
        page.keyboard.type("Dear {{first_name|client}}, markets were ")
        page.keyboard.press("Control+b")
        page.keyboard.type("calm")
        page.keyboard.press("Control+b")
        page.keyboard.type(".")
        expect(page.locator("#campaign-saved")).to_contain_text("Saved", timeout=LIVE)
        expect(page.locator("#campaign-text")).to_have_value(
            re.compile("Autumn outlook"), timeout=LIVE
        )
        # The stored HTML, as the source view shows it: sanitized, with the editor's markup.
        page.locator("#campaign-html-source").click()
        source = page.locator("#campaign-body")
        expect(source).to_have_value(re.compile(r"<h2>Autumn outlook</h2>"), timeout=LIVE)
        expect(source).to_have_value(re.compile(r"<strong>calm</strong>"))
        source.fill(
            source.input_value() + '<p><a href="https://firm.example/outlook">Read it</a></p>'
        )
        page.locator("#campaign-text").click()  # the source loses focus: autosave
        expect(page.locator("#campaign-text")).to_have_value(re.compile("Read it"), timeout=LIVE)
        page.locator("#campaign-html-source").click()  # back to the editor, with the link
        expect(page.locator("#campaign-body-editor .ql-editor a")).to_have_text("Read it")
        page.get_by_role("checkbox", name="VIP clients").first.click()
        expect(page.locator("#audience-count")).to_have_text("12 recipients", timeout=LIVE)
        expect(page.locator("#audience-left-out")).to_contain_text("3 — no marketing consent")
        expect(page.locator("#preview-subject")).to_contain_text("Your outlook, Client")
        page.locator("#preview-next").click()
        shoot(page, "campaign-01-compose")

        page.locator("#test-addresses").fill(marketer.email)
        page.locator("#send-test").click()
        expect(page.get_by_text("Test sent to 1 address")).to_be_visible(timeout=LIVE)
        assert [r for _, (r,) in server.envelopes] == [marketer.email]
        server.forget_system_mail()

        page.locator("#send-now").click()
        expect(page.locator("#campaign-status")).to_have_text("scheduled", timeout=LIVE)
        assert delivery.run(run_seconds=30).sent == 12  # the jobs process's step, run here
        expect(page.locator("#campaign-status")).to_have_text("sent", timeout=LIVE)
        expect(page.locator("#stat-sent")).to_contain_text("12", timeout=LIVE)
        assert len(server.envelopes) == 12

        with session_scope() as session:
            rid = session.execute(
                text("SELECT id FROM campaign_recipient ORDER BY id LIMIT 1")
            ).scalar_one()
        token = recipient_token(rid)
        urllib.request.urlopen(f"{app_url}/api/campaigns/open/{token}.gif").read()
        one_click = urllib.request.Request(
            f"{app_url}/api/campaigns/unsubscribe/{token}",
            data=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        with urllib.request.urlopen(one_click) as answer:
            assert answer.status == 200
        page.reload()
        expect(page.locator("#stat-opened")).to_contain_text("1", timeout=LIVE)
        expect(page.locator("#stat-unsubscribed")).to_contain_text("1", timeout=LIVE)
        expect(page.locator("#campaign-recipients")).to_contain_text("opened")
        shoot(page, "campaign-02-results")

        csv = page.request.get(f"{app_url}{page.locator('#campaign-export').get_attribute('href')}")
        assert csv.status == 200 and csv.text().count("\n") == 13

        with session_scope() as session:
            client_id = session.execute(
                text("SELECT client_id FROM campaign_recipient WHERE id = :id"), {"id": rid}
            ).scalar_one()
        page.goto(f"{app_url}/clients/{client_id}")
        page.get_by_role("tab", name="Campaigns").click()
        expect(page.locator("#client-campaigns")).to_contain_text("Autumn outlook", timeout=LIVE)
        shoot(page, "campaign-03-client-profile")
        context.close()
    finally:
        controller.stop()
