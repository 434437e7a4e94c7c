"""Running the job: claim batches of each sending campaign and send them over SMTP or
SendGrid at the configured rate, recording each outcome, until the run's time is up."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from functools import partial

from crm_app.db import session_scope
from crm_app.services.campaigns.delivery.ledger import Claimed, Ledger
from crm_app.services.campaigns.delivery.snapshot import (
    snapshots_in_progress,
    start_due_campaigns,
)
from crm_app.services.campaigns.delivery.transports import (
    CampaignSmtp,
    MimeBuilder,
    SenderConfig,
    sender_config,
)
from crm_app.services.campaigns.template import CampaignTemplate, RecipientValues, substitutions
from crm_app.services.mail.transport import PermanentFailure, TemporaryFailure
from models.campaign import Campaign, CampaignStatus, CampaignTransport

SENDGRID_BATCH = 1000  # SendGrid's limit of personalizations per request
SMTP_BATCH = 500
STATUS_CHECK_SECONDS = 1.0


@dataclass
class RunReport:
    sent: int = 0
    failed: int = 0
    batches: int = 0
    sendgrid_calls: int = 0
    campaigns_finished: int = 0
    # Due campaigns whose snapshot another process was taking: more work is coming.
    snapshots_elsewhere: int = 0
    errors: list[str] = field(default_factory=list)


class Pacer:
    """The configured rate for one worker: waits so sends keep `1/rate` apart on average."""

    def __init__(self, rate: int) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_at = time.monotonic()

    def wait(self, count: int = 1) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now) + self.interval * count


def _load_campaign(campaign_id: int) -> Campaign | None:
    with session_scope() as session:
        return session.get(Campaign, campaign_id)


def run_campaign(ledger: Ledger, campaign_id: int, deadline: float, report: RunReport) -> None:
    """Claim and send batches of one campaign until it is done, paused, cancelled or the run's
    time is up."""
    campaign = _load_campaign(campaign_id)
    if campaign is None:
        return
    from crm_app.services.campaigns.manage import template_for

    template = template_for(campaign)
    config = sender_config(campaign)
    pacer = Pacer(campaign.rate_per_second)
    if config.transport == CampaignTransport.SENDGRID:
        _run_sendgrid(ledger, campaign, template, config, deadline, pacer, report)
    else:
        _run_smtp(ledger, campaign, template, config, deadline, pacer, report)
    if ledger.finish_if_done(campaign_id):
        report.campaigns_finished += 1


def _run_smtp(
    ledger: Ledger,
    campaign: Campaign,
    template: CampaignTemplate,
    config: SenderConfig,
    deadline: float,
    pacer: Pacer,
    report: RunReport,
) -> None:
    assert config.smtp is not None and campaign.id is not None
    sender = _SmtpSender(ledger, CampaignSmtp(config.smtp), MimeBuilder(campaign, template))
    try:
        try:
            sender.builder.eight_bit = sender.smtp.open()
        except (PermanentFailure, TemporaryFailure) as error:
            report.errors.append(error.reason)
            return
        while time.monotonic() < deadline:
            batch = ledger.claim(campaign.id, SMTP_BATCH)
            if not batch:
                return
            report.batches += 1
            rest = "queued"  # what the rows not sent become when the batch stops early
            try:
                if not sender.send_batch(batch, campaign.id, deadline, pacer, report):
                    if ledger.status(campaign.id) == CampaignStatus.CANCELLED:
                        rest = "cancelled"
                    return
            finally:
                ledger.settle_batch(rest)
    finally:
        sender.smtp.close()


@dataclass
class _SmtpSender:
    ledger: Ledger
    smtp: CampaignSmtp
    builder: MimeBuilder

    def send_batch(
        self,
        batch: list[Claimed],
        campaign_id: int,
        deadline: float,
        pacer: Pacer,
        report: RunReport,
    ) -> bool:
        """Send one claimed batch in id order (the order `reached` counts in); False when the
        run stops before its end (time up, the campaign no longer sending, the server gone)."""
        ledger, smtp, builder = self.ledger, self.smtp, self.builder
        checked = time.monotonic()
        for index, item in enumerate(batch):
            now = time.monotonic()
            if now > deadline:
                return False
            if now - checked > STATUS_CHECK_SECONDS:
                checked = now
                if ledger.status(campaign_id) != CampaignStatus.SENDING:
                    return False
            pacer.wait()
            values = RecipientValues(item.id, item.email, item.first_name, item.last_name)
            message_id, data = builder.build(values)
            following = batch[index + 1].email if index + 1 < len(batch) else None
            mark = partial(ledger.begin_mark, item.id)
            try:
                provider_id = smtp.deliver(builder.sender, item.email, data, mark, following)
            except PermanentFailure as error:
                ledger.record(item.id, "failed", error=error.reason)
                report.failed += 1
                continue
            except TemporaryFailure as error:
                # Marked, but the dot never left: not sent. Once the dot may have left, the
                # row stays within `reached` and counts as sent when the batch is settled.
                if ledger.reached == item.id and not smtp.dot_sent:
                    ledger.unmark()
                report.errors.append(error.reason)
                smtp.close()
                time.sleep(1.0)
                return False
            ledger.record(item.id, "sent", provider_id, message_id=message_id)
            report.sent += 1
        return True


def _run_sendgrid(
    ledger: Ledger,
    campaign: Campaign,
    template: CampaignTemplate,
    config: SenderConfig,
    deadline: float,
    pacer: Pacer,
    report: RunReport,
) -> None:
    from python_http_client.exceptions import HTTPError
    from sendgrid import SendGridAPIClient

    assert campaign.id is not None
    client = SendGridAPIClient(api_key=config.sendgrid_key, host=config.sendgrid_host)
    client.client.timeout = 60
    html_body, text_body, slots = template.sendgrid_content()
    sender: dict[str, str] = {"email": campaign.from_email}
    if campaign.from_name:
        sender["name"] = campaign.from_name
    while time.monotonic() < deadline:
        if ledger.status(campaign.id) != CampaignStatus.SENDING:
            return
        batch = ledger.claim(campaign.id, SENDGRID_BATCH)
        if not batch:
            return
        for _ in range(3):
            # Rows another worker held for a moment were skipped: top up, so every API call
            # carries a full 1,000 while the queue has them.
            if len(batch) >= SENDGRID_BATCH:
                break
            more = ledger.claim(campaign.id, SENDGRID_BATCH - len(batch))
            if not more:
                break
            batch += more
        report.batches += 1
        batch_key = uuid.uuid4().hex
        personalizations = []
        for item in batch:
            values = RecipientValues(item.id, item.email, item.first_name, item.last_name)
            subs = substitutions(values, slots)
            headers = template.list_headers(subs["-token-"])
            headers["Message-ID"] = template.message_id(item.id)
            personalizations.append(
                {
                    "to": [{"email": item.email}],
                    "subject": template.subject_for(values),
                    "headers": headers,
                    "substitutions": subs,
                    "custom_args": {"recipient_id": str(item.id)},
                }
            )
        body = {
            "personalizations": personalizations,
            "from": sender,
            "subject": campaign.subject,
            "content": [
                {"type": "text/plain", "value": text_body},
                {"type": "text/html", "value": html_body},
            ],
            "custom_args": {"campaign_id": str(campaign.id), "batch": batch_key},
            "tracking_settings": {
                "click_tracking": {"enable": False},
                "open_tracking": {"enable": False},
            },
        }
        # Serialised before the mark: from the mark on, only bytes leave.
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        ids = [c.id for c in batch]
        pacer.wait(len(batch))
        ledger.mark_batch_sending(ids, batch_key)
        try:
            response = client.client.mail.send.post(
                request_body=payload,
                request_headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except HTTPError as error:
            status = int(getattr(error, "status_code", 0) or 0)
            words = f"SendGrid answered {status}: {str(getattr(error, 'body', ''))[:300]}"
            report.sendgrid_calls += 1
            report.errors.append(words)
            if status == 429 or status >= 500:
                # SendGrid refused the whole request: nobody got it, so it may go again.
                ledger.conn.execute(
                    "UPDATE campaign_recipient SET status = 'queued', worker = NULL "
                    "WHERE id = ANY(%s) AND worker = %s",
                    (ids, ledger.worker),
                )
                time.sleep(2.0)
                return
            ledger.mark_batch(ids, "failed", None, words)
            report.failed += len(ids)
            continue
        except OSError as error:
            # The request may or may not have reached SendGrid: the rows stay `sending` and
            # count as sent once this worker is gone (at most once, see the package docstring).
            report.errors.append(f"Could not reach SendGrid: {error}")
            return
        report.sendgrid_calls += 1
        provider_id = response.headers.get("X-Message-Id") if response.headers else None
        ledger.mark_batch(ids, "sent", provider_id, None)
        report.sent += len(ids)


def run(run_seconds: float = 50.0) -> RunReport:
    """One pass of the job: settle dead workers' rows, start due campaigns, send."""
    report = RunReport()
    deadline = time.monotonic() + run_seconds
    ledger = Ledger()
    try:
        ledger.reconcile()
        start_due_campaigns()
        for campaign_id in ledger.sending_campaigns():
            if time.monotonic() > deadline:
                break
            run_campaign(ledger, campaign_id, deadline, report)
        if not report.batches:
            report.snapshots_elsewhere = snapshots_in_progress()
    finally:
        ledger.close()
    return report
