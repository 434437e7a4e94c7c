"""Bulk email campaigns against a real PostgreSQL and a real SMTP server (aiosmtpd): audience
rules (consent, suppression, exclusions), the send engine (snapshot once, each recipient once,
RFC 8058 headers), unsubscribe, signed links, and SendGrid (batched personalizations through
the official client to a local fake of v3 mail send; signed Event Webhook)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import text

from crm_app.auth.permissions import Actor
from crm_app.db import session_scope
from crm_app.services import segments
from crm_app.services.campaigns import audience, delivery, manage, results
from crm_app.services.campaigns.template import recipient_token
from crm_app.services.errors import InvalidInput, PermissionDenied
from models.mailbox import OutboundKind
from tests.factories import make_user
from tests.test_mail_out import RecordingSmtp, add_mailbox, smtp  # noqa: F401
from tests.test_mail_out_sendgrid import API_KEY, FakeSendGrid, sendgrid  # noqa: F401


def _clients(count: int, *, consent: bool = True, tag: str = "vip", start: int = 0) -> None:
    with session_scope() as session:
        session.execute(
            text(
                "INSERT INTO client (name, email, marketing_consent, tags, risk_category, "
                "currency, kind, verified, created_at, updated_at) "
                "SELECT 'Client' || g || ' Number' || g, 'c' || g || '@x.example', :consent, "
                "ARRAY[:tag]::varchar[], 'moderate', 'USD', 'individual', true, now(), now() "
                "FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g"
            ),
            {"consent": consent, "tag": tag, "a": start + 1, "b": start + count},
        )


def _segment(actor, name: str, tag: str) -> int:
    rules = {"op": "and", "rules": [{"field": "tags", "operator": "has", "value": tag}]}
    return segments.save_segment(actor, name=name, rules=rules).id


def _campaign(marketer, segment_ids: list[int], **form) -> int:
    campaign_id = manage.create_campaign(marketer, "Autumn outlook")
    manage.save_draft(
        marketer,
        campaign_id,
        {
            "subject": "Hello {{first_name|there}}",
            "preheader": "Our view on the quarter",
            "body_html": '<p>Dear {{first_name|client}},</p><p><a href="https://firm.example/'
            'outlook?q=1">Read the outlook</a></p><script>alert(1)</script>',
            "segment_ids": segment_ids,
            **form,
        },
    )
    return campaign_id


async def _pipelining_ehlo(
    server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
) -> list[str]:
    session.host_name = hostname
    return [*responses[:-1], "250-PIPELINING", responses[-1]]


def offer_pipelining(smtp: RecordingSmtp) -> None:  # noqa: F811
    """Make the test's aiosmtpd offer PIPELINING, as production servers do (aiosmtpd reads
    pipelined commands in order but does not announce them); from its next connection on."""
    smtp.handle_EHLO = _pipelining_ehlo  # type: ignore[attr-defined]


def _send_all(campaign_id: int, marketer) -> delivery.RunReport:
    manage.schedule(marketer, campaign_id)
    report = delivery.run(run_seconds=30)
    return report


def test_audience_needs_consent_and_suppression_wins_and_the_count_says_why(db: str) -> None:
    marketer = make_user("marketing")
    _clients(5, consent=True)
    _clients(3, consent=False, start=5)
    _clients(2, tag="press", start=8)  # in the exclusion segment, with consent
    with session_scope() as session:
        session.execute(text("UPDATE client SET tags = tags || '{press}' WHERE id IN (1, 9)"))
        session.execute(
            text("INSERT INTO suppression (email, reason, source, created_at) VALUES "
                 "('c2@x.example', 'complaint', 'test', now())")
        )  # fmt: skip
    vip, press = _segment(marketer, "VIP", "vip"), _segment(marketer, "Press", "press")
    count = audience.count_audience(marketer, [vip], [press])
    assert count.in_segments == 8
    assert count.excluded == 1 and count.no_consent == 3 and count.suppressed == 1
    assert count.included == 3  # c3, c4, c5


def test_a_template_may_not_name_a_finance_field(db: str) -> None:
    marketer = make_user("marketing")
    campaign_id = manage.create_campaign(marketer, "Leak")
    with pytest.raises(InvalidInput, match="net_worth"):
        manage.save_draft(marketer, campaign_id, {"body_html": "<p>You have {{net_worth}}</p>"})


def test_an_agent_may_not_manage_campaigns(db: str) -> None:
    with pytest.raises(PermissionDenied):
        manage.create_campaign(make_user("agent"), "Nope")


def test_each_recipient_gets_one_message_with_one_click_unsubscribe_headers(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
) -> None:
    add_mailbox()
    marketer = make_user("marketing")
    smtp.forget_system_mail()
    _clients(30)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    report = _send_all(campaign_id, marketer)
    assert report.sent == 30 and report.campaigns_finished == 1
    recipients = sorted(rcpt for _, (rcpt,) in smtp.envelopes)
    assert recipients == sorted(f"c{i}@x.example" for i in range(1, 31))
    mail = smtp.received[0]
    assert mail["Subject"].startswith("Hello Client")
    unsubscribe = str(mail["List-Unsubscribe"])
    assert unsubscribe.startswith("<mailto:service@firm.example?subject=unsubscribe")
    assert "<http://localhost:3000/api/campaigns/unsubscribe/" in unsubscribe
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = mail.get_body(("html",)).get_content()
    assert "<script" not in html and "Our view on the quarter" in html
    assert "/api/campaigns/click/" in html and "/api/campaigns/open/" in html
    # A second run sends nothing more: the snapshot was taken once.
    assert delivery.run(run_seconds=5).sent == 0
    assert results.stats(marketer, campaign_id).sent == 30


def test_one_click_unsubscribe_is_a_plain_post_and_later_sends_skip_the_address(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
) -> None:
    from crm_app.api import build_api

    add_mailbox()
    marketer = make_user("marketing")
    _clients(3)
    segment = _segment(marketer, "VIP", "vip")
    first = _campaign(marketer, [segment])
    _send_all(first, marketer)
    with session_scope() as session:
        rid = session.execute(
            text("SELECT id FROM campaign_recipient WHERE email = 'c1@x.example'")
        ).scalar_one()
    api = TestClient(build_api())
    token = recipient_token(rid)
    page = api.get(f"/api/campaigns/unsubscribe/{token}")
    assert page.status_code == 200 and "c1@x.example" in page.text
    answer = api.post(
        f"/api/campaigns/unsubscribe/{token}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert api.post(f"/api/campaigns/unsubscribe/{token[:-1]}x").status_code == 404
    smtp.forget_system_mail()
    second = _campaign(marketer, [segment])
    assert audience.count_audience(marketer, [segment], []).suppressed == 1
    _send_all(second, marketer)
    assert sorted(r for _, (r,) in smtp.envelopes) == ["c2@x.example", "c3@x.example"]


def test_a_tampered_click_link_is_refused_and_a_genuine_one_redirects(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
) -> None:
    from crm_app.api import build_api

    add_mailbox()
    marketer = make_user("marketing")
    smtp.forget_system_mail()
    _clients(1)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    _send_all(campaign_id, marketer)
    html = smtp.received[0].get_body(("html",)).get_content()
    link = html.split('href="')[1].split('"')[0].replace("&amp;", "&")
    path = urlsplit(link)
    api = TestClient(build_api())
    genuine = api.get(f"{path.path}?{path.query}", follow_redirects=False)
    assert genuine.status_code == 302
    assert genuine.headers["location"] == "https://firm.example/outlook?q=1"
    query = parse_qs(path.query)
    evil = api.get(
        path.path, params={"u": "https://evil.example/", "s": query["s"][0]}, follow_redirects=False
    )
    assert evil.status_code == 403
    pixel = html.split('<img src="')[1].split('"')[0]
    assert api.get(urlsplit(pixel).path).headers["content-type"] == "image/gif"
    stats = results.stats(marketer, campaign_id)
    assert stats.clicked == 1 and stats.opened == 1


def test_sendgrid_gets_batched_personalizations_through_the_official_client(
    db: str,
    sendgrid: FakeSendGrid,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crm_app.crypto import encrypt_secret

    monkeypatch.setattr(delivery.runner, "SENDGRID_BATCH", 40)
    add_mailbox(outbound=OutboundKind.SENDGRID, sendgrid_secret=encrypt_secret(API_KEY))
    marketer = make_user("marketing")
    _clients(100)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    report = _send_all(campaign_id, marketer)
    assert report.sendgrid_calls == 3 and report.sent == 100
    sizes = [len(body["personalizations"]) for body in sendgrid.received]
    assert sizes == [40, 40, 20]
    one = sendgrid.received[0]["personalizations"][0]
    assert one["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert one["custom_args"]["recipient_id"]
    assert one["substitutions"]["-token-"].startswith(one["custom_args"]["recipient_id"] + "-")
    with session_scope() as session:
        ids = session.execute(
            text("SELECT DISTINCT provider_message_id FROM campaign_recipient")
        ).scalars()
        assert sorted(ids) == ["sg-1", "sg-2", "sg-3"]


def _signed(key: ec.EllipticCurvePrivateKey, body: bytes, timestamp: int) -> dict[str, str]:
    signature = key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp),
        "Content-Type": "application/json",
    }


def test_sendgrid_events_are_verified_and_count_once(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crm_app.api import build_api

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", base64.b64encode(public).decode())
    add_mailbox()
    marketer = make_user("marketing")
    _clients(2)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    _send_all(campaign_id, marketer)
    with session_scope() as session:
        r1, r2 = session.execute(text("SELECT id FROM campaign_recipient ORDER BY id")).scalars()
    now = int(time.time())
    events = [
        {"email": "c1@x.example", "event": "delivered", "sg_event_id": "e1",
         "timestamp": now, "recipient_id": str(r1)},
        {"email": "c1@x.example", "event": "open", "sg_event_id": "e2",
         "timestamp": now, "recipient_id": str(r1)},
        {"email": "c2@x.example", "event": "bounce", "type": "bounce", "sg_event_id": "e3",
         "timestamp": now, "recipient_id": str(r2)},
        {"email": "c2@x.example", "event": "spamreport", "sg_event_id": "e4",
         "timestamp": now, "recipient_id": str(r2)},
    ]  # fmt: skip
    body = json.dumps(events).encode()
    api = TestClient(build_api())
    url = "/api/webhooks/sendgrid/events"
    assert api.post(url, content=body, headers=_signed(key, body, now)).json()["applied"] == 4
    again = api.post(url, content=body, headers=_signed(key, body, now)).json()
    assert again == {"applied": 0, "duplicate": 4, "ignored": 0}
    tampered = body.replace(b"bounce", b"delivr")
    assert api.post(url, content=tampered, headers=_signed(key, body, now)).status_code == 403
    assert api.post(url, content=body).status_code == 403
    old = now - 3600
    assert api.post(url, content=body, headers=_signed(key, body, old)).status_code == 403
    monkeypatch.setenv("SENDGRID_WEBHOOK_TOLERANCE_SECONDS", "0")
    assert api.post(url, content=body, headers=_signed(key, body, old)).status_code == 200
    stats = results.stats(marketer, campaign_id)
    assert (stats.delivered, stats.opened, stats.bounced, stats.complained) == (1, 1, 1, 1)
    with session_scope() as session:
        reason = session.execute(
            text("SELECT reason FROM suppression WHERE email = 'c2@x.example'")
        ).scalar_one()
    assert reason == "hard_bounce"  # the first strong reason stays


def test_pause_stops_claims_and_cancel_drops_the_queue(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
) -> None:
    add_mailbox()
    marketer = make_user("marketing")
    _clients(10)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    manage.schedule(marketer, campaign_id)
    assert delivery.materialize(campaign_id)
    manage.pause(marketer, campaign_id)
    assert delivery.run(run_seconds=5).sent == 0
    manage.resume(marketer, campaign_id)
    manage.cancel(marketer, campaign_id)
    assert delivery.run(run_seconds=5).sent == 0
    assert results.stats(marketer, campaign_id).cancelled == 10


def _snapshot_taken(clients: int) -> int:
    """A started campaign to `clients` clients, its recipients queued: for the ledger alone."""
    marketer = make_user("marketing")
    add_mailbox()
    _clients(clients)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    manage.schedule(marketer, campaign_id)
    delivery.materialize(campaign_id)
    return campaign_id


def test_a_dead_workers_rows_are_settled_without_a_second_send(db: str) -> None:
    """A killed worker's claimed rows up to its last mark (the dot may have left) count as
    sent and are never sent again; the rows after it go back to the queue; a `sending` row (a
    SendGrid request that may have left) counts as sent."""
    campaign_id = _snapshot_taken(4)
    dead = delivery.Ledger()
    claimed = dead.claim(campaign_id, 3)
    dead.record(claimed[0].id, "sent", "Q1")  # an outcome not written yet
    dead.mark(claimed[1].id)
    other = dead.claim(campaign_id, 1)
    dead.mark_batch_sending([other[0].id], "batch")
    dead.conn.close()  # as when the process is killed: the server drops its advisory lock
    alive = delivery.Ledger()
    try:
        # The server ends the dead session's backend (and its lock) a moment after it closes.
        deadline = time.monotonic() + 10
        settled = alive.reconcile()
        while settled == {"released": 0, "unconfirmed": 0} and time.monotonic() < deadline:
            time.sleep(0.05)
            settled = alive.reconcile()
        assert settled == {"released": 1, "unconfirmed": 3}
    finally:
        alive.close()
    with session_scope() as session:
        rows = dict(session.execute(text("SELECT id, status FROM campaign_recipient")).all())
        workers = session.execute(text("SELECT count(*) FROM campaign_worker")).scalar_one()
    assert rows == {
        claimed[0].id: "sent",
        claimed[1].id: "sent",
        claimed[2].id: "queued",
        other[0].id: "sent",
    }
    assert workers == 0  # the dead one's row went with its rows, the live one's at close


def _kill(ledger: delivery.Ledger) -> dict[str, int]:
    """Close `ledger`'s connection as a SIGKILL would, and settle its rows from another."""
    ledger.conn.close()
    alive = delivery.Ledger()
    try:
        deadline = time.monotonic() + 10  # until the server has ended the dead session
        settled = alive.reconcile()
        while settled == {"released": 0, "unconfirmed": 0} and time.monotonic() < deadline:
            time.sleep(0.05)
            settled = alive.reconcile()
        return settled
    finally:
        alive.close()


def _recipient_rows() -> dict[int, tuple[str, str | None, str | None, bool]]:
    with session_scope() as session:
        rows = session.execute(
            text(
                "SELECT id, status, provider_message_id, error, unconfirmed FROM campaign_recipient"
            )
        ).all()
    return {i: (status, pid, error, unconfirmed) for i, status, pid, error, unconfirmed in rows}


def test_a_refusal_is_written_with_the_next_mark_and_outcomes_keep_their_text(db: str) -> None:
    """A failure never waits for the batch's end: a crash after the next mark leaves it failed
    (not counted sent); the server's words go through exactly, quotes and all."""
    campaign_id = _snapshot_taken(3)
    worker = delivery.Ledger()
    first, second, third = worker.claim(campaign_id, 3)
    worker.mark(first.id)
    worker.record(first.id, "sent", 'Q"1\\')
    words = 'The mail server refused it: 554 "no" \\ {x, y} ü'
    worker.record(second.id, "failed", error=words)  # refused at RCPT: never marked
    worker.mark(third.id)
    assert _kill(worker) == {"released": 0, "unconfirmed": 1}
    rows = _recipient_rows()
    assert rows[second.id] == ("failed", None, words, False)
    assert rows[first.id] == ("sent", 'Q"1\\', None, False)  # went with the failure
    assert rows[third.id] == ("sent", None, None, True)  # the dot may have left: never resent


def test_a_later_batch_is_judged_by_its_own_marks_even_with_lower_ids(db: str) -> None:
    """Rows given back to the queue have lower ids than a batch already sent: when a worker
    claims them after that batch, the old `reached` must not count them sent."""
    campaign_id = _snapshot_taken(4)
    with session_scope() as session:
        ids = sorted(session.execute(text("SELECT id FROM campaign_recipient")).scalars())
        # The two lowest are held elsewhere for now (as by a worker that will die).
        session.execute(
            text("UPDATE campaign_recipient SET status = 'claimed' WHERE id = ANY(:ids)"),
            {"ids": ids[:2]},
        )
    worker = delivery.Ledger()
    batch = worker.claim(campaign_id, 4)
    assert [c.id for c in batch] == ids[2:]
    for item in batch:
        worker.mark(item.id)
        worker.record(item.id, "sent", f"Q{item.id}")
    worker.settle_batch()
    with session_scope() as session:
        session.execute(
            text("UPDATE campaign_recipient SET status = 'queued' WHERE id = ANY(:ids)"),
            {"ids": ids[:2]},
        )
    assert [c.id for c in worker.claim(campaign_id, 4)] == ids[:2]
    assert _kill(worker) == {"released": 2, "unconfirmed": 0}
    rows = _recipient_rows()
    assert [rows[i][:2] for i in ids] == [
        ("queued", None),
        ("queued", None),
        ("sent", f"Q{ids[2]}"),
        ("sent", f"Q{ids[3]}"),
    ]


def _scheduled_for_a_job(server: RecordingSmtp, clients: int) -> tuple[Actor, int]:
    """(marketer, campaign id): a campaign to `clients` clients, due now, for a jobs process."""
    add_mailbox()
    marketer = make_user("marketing")
    server.forget_system_mail()
    _clients(clients)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    manage.schedule(marketer, campaign_id)
    return marketer, campaign_id


def test_a_second_jobs_process_waits_while_the_first_takes_the_snapshot(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
) -> None:
    """`--until-idle` stops when nothing is left to send, not when another process is still
    snapshotting a due campaign (its rows are about to come)."""
    import os
    import subprocess
    import sys

    import psycopg

    from crm_app.db import libpq_url
    from crm_app.settings import PROJECT_ROOT

    _, campaign_id = _scheduled_for_a_job(smtp, 5)
    with psycopg.connect(libpq_url(db)) as snapshotting:  # holds the row as materialize does
        snapshotting.execute("SELECT id FROM campaign WHERE id = %s FOR UPDATE", (campaign_id,))
        assert delivery.run(run_seconds=5).snapshots_elsewhere == 1
        command = [sys.executable, "-m", "jobs.campaign_send", "--until-idle"]
        job = subprocess.Popen(command, cwd=PROJECT_ROOT, env=dict(os.environ))
        try:
            time.sleep(3)
            assert job.poll() is None  # still waiting, not gone
        finally:
            snapshotting.rollback()
        assert job.wait(timeout=120) == 0
    assert sorted(rcpt for _, (rcpt,) in smtp.envelopes) == [f"c{i}@x.example" for i in range(1, 6)]


@pytest.mark.parametrize("pipelining", [False, True])
def test_a_job_killed_mid_send_and_restarted_sends_everyone_exactly_once(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
    pipelining: bool,
) -> None:
    """SIGKILL of a real jobs process in the middle of a campaign, then a restart."""
    import os
    import signal
    import subprocess
    import sys

    from crm_app.settings import PROJECT_ROOT

    if pipelining:
        offer_pipelining(smtp)
    marketer, campaign_id = _scheduled_for_a_job(smtp, 60)
    # Slow enough for the kill to land mid-campaign, in a recipient's envelope (before its
    # DATA): the crash the design sends exactly once. A kill while the server holds a
    # message's DATA is the at-most-once window `delivery` explains (that one is not resent).
    smtp.rcpt_delay = 0.03
    command = [sys.executable, "-m", "jobs.campaign_send", "--until-idle"]
    job = subprocess.Popen(command, cwd=PROJECT_ROOT, env=dict(os.environ))
    deadline = time.monotonic() + 60
    while len(smtp.envelopes) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert 0 < len(smtp.envelopes) < 60
    smtp.rcpt_delay = 0
    subprocess.run(command, cwd=PROJECT_ROOT, env=dict(os.environ), check=True, timeout=120)
    received = sorted(rcpt for _, (rcpt,) in smtp.envelopes)
    assert received == sorted(f"c{i}@x.example" for i in range(1, 61))
    stats = results.stats(marketer, campaign_id)
    assert stats.sent == 60 and stats.queued == 0


def test_a_clients_profile_lists_the_campaigns_they_received(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
) -> None:
    add_mailbox()
    marketer = make_user("marketing")
    _clients(2)
    campaign_id = _campaign(marketer, [_segment(marketer, "VIP", "vip")])
    _send_all(campaign_id, marketer)
    [received] = results.campaigns_of_client(marketer, 1)
    assert received.campaign_id == campaign_id and received.name == "Autumn outlook"


# SendGrid's published test vector for the signed Event Webhook (sendgrid-python's unit tests).
SENDGRID_TEST_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe6"
    "2gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)
SENDGRID_TEST_SIGNATURE = (
    "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+"
    "uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
)
SENDGRID_TEST_TIMESTAMP = "1600112502"
SENDGRID_TEST_PAYLOAD = (
    json.dumps(
        [
            {
                "email": "hello@world.com",
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-"
                "5F5FC76C-9.0",
                "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                "timestamp": 1600112492,
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    + "\r\n"
).encode()


def test_sendgrids_own_signed_test_payload_is_accepted_and_its_tampered_variants_refused(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_app.api import build_api

    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", SENDGRID_TEST_KEY)
    api = TestClient(build_api())
    url = "/api/webhooks/sendgrid/events"
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": SENDGRID_TEST_SIGNATURE,
        "X-Twilio-Email-Event-Webhook-Timestamp": SENDGRID_TEST_TIMESTAMP,
        "Content-Type": "application/json",
    }
    # Signed in 2020: a replay under the default tolerance.
    assert api.post(url, content=SENDGRID_TEST_PAYLOAD, headers=headers).status_code == 403
    monkeypatch.setenv("SENDGRID_WEBHOOK_TOLERANCE_SECONDS", "0")
    assert api.post(url, content=SENDGRID_TEST_PAYLOAD, headers=headers).status_code == 200
    for tampered_body, tampered_headers in (
        (SENDGRID_TEST_PAYLOAD.replace(b"hello", b"hellp"), headers),
        (SENDGRID_TEST_PAYLOAD.rstrip(), headers),
        (
            SENDGRID_TEST_PAYLOAD,
            {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": "1600112503"},
        ),
        (SENDGRID_TEST_PAYLOAD, {**headers, "X-Twilio-Email-Event-Webhook-Signature": "bad"}),
        (SENDGRID_TEST_PAYLOAD, {"Content-Type": "application/json"}),
    ):
        answer = api.post(url, content=tampered_body, headers=tampered_headers)
        assert answer.status_code == 403
    with session_scope() as session:
        reason = session.execute(
            text("SELECT reason FROM suppression WHERE email = 'hello@world.com'")
        ).scalar_one()
    assert reason == "hard_bounce"


def test_the_throttle_holds_a_worker_to_the_configured_rate() -> None:
    pacer = delivery.Pacer(200)
    started = time.monotonic()
    for _ in range(41):
        pacer.wait()
    assert time.monotonic() - started >= 0.19  # 40 intervals of 5 ms
    batch = delivery.Pacer(1000)
    started = time.monotonic()
    batch.wait(100)
    batch.wait(100)  # a SendGrid batch of 100 waits 100 intervals
    assert time.monotonic() - started >= 0.09


def test_a_mailto_unsubscribe_request_suppresses_the_address_and_opens_no_ticket(
    db: str,
    smtp: RecordingSmtp,  # noqa: F811
    dovecot,
    mail_account,
) -> None:
    """The mailto half of List-Unsubscribe: the mail a mail program sends to that address,
    read by the mailbox poll, unsubscribes the recipient at once; a forged token is a mail."""
    from urllib.parse import unquote

    from jobs.imap_poll import poll_mailbox
    from models.inbound_mail import InboundStatus
    from tests.mail_servers import make_mailbox, simple_message

    add_mailbox()
    intake = make_mailbox(mail_account)
    marketer = make_user("marketing")
    _clients(2)
    segment = _segment(marketer, "VIP", "vip")
    _send_all(_campaign(marketer, [segment]), marketer)
    sent = next(m for m in smtp.received if "c1@x.example" in str(m["To"]))
    mailto = str(sent["List-Unsubscribe"]).split(">")[0].removeprefix("<mailto:")
    address, _, query = mailto.partition("?")
    subject = unquote(query.removeprefix("subject="))
    token = subject.split()[-1]
    forged = f"{token.split('-')[0]}-{'0' * 20}"
    dovecot.append(
        mail_account,
        [
            simple_message(
                sender="c1@x.example", to=address, subject=subject, body="",
                message_id="<unsub-1@x.example>",
            ),
            simple_message(
                sender="c2@x.example", to=address, subject=f"unsubscribe {forged}",
                body="", message_id="<unsub-2@x.example>",
            ),
        ],
    )  # fmt: skip
    assert poll_mailbox(intake).error is None
    with session_scope() as session:
        rows = {r.message_id: r for r in session.execute(text("SELECT * FROM inbound_mail")).all()}
        suppressed = session.execute(text("SELECT email, reason, source FROM suppression")).all()
        unsubscribed = (
            session.execute(
                text("SELECT email FROM campaign_recipient WHERE unsubscribed_at IS NOT NULL")
            )
            .scalars()
            .all()
        )
        opened = session.execute(text("SELECT count(*) FROM ticket")).scalar_one()
    genuine = rows["<unsub-1@x.example>"]
    assert genuine.status == InboundStatus.IGNORED
    assert "unsubscribe request" in genuine.reason and "c1@x.example" in genuine.reason
    assert suppressed == [("c1@x.example", "unsubscribed", "mailto")]
    assert unsubscribed == ["c1@x.example"]
    # The forged one carries no genuine token: an ordinary mail, which opens a ticket.
    assert rows["<unsub-2@x.example>"].status == InboundStatus.IMPORTED and opened == 1
    smtp.forget_system_mail()
    _send_all(_campaign(marketer, [segment]), marketer)
    assert sorted(r for _, (r,) in smtp.envelopes) == ["c2@x.example"]
