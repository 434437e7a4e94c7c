"""Everything that runs in the background, in one list: job id -> dotted callable -> trigger.

Reading `scheduled_jobs()` tells an operator all the jobs process does on a schedule. The leader
registers exactly these (replacing stored copies) and removes stored jobs no longer listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crm_app.settings import Settings, get_settings


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    func: str  # "module:callable", resolved by APScheduler when the job runs
    trigger: BaseTrigger
    description: str
    # Run once as soon as a process takes the lead, instead of waiting a whole interval.
    run_at_start: bool = False
    # How late a run may still start (e.g. after a leader change) before it is skipped.
    misfire_grace_seconds: int = 60


def scheduled_jobs(settings: Settings | None = None) -> list[ScheduledJob]:
    settings = settings or get_settings()
    return [
        ScheduledJob(
            id="sla_scan",
            func="jobs.sla_scan:run",
            trigger=IntervalTrigger(seconds=settings.sla_scan_seconds, timezone="UTC"),
            description="set SLA due times and flag near-breach / breached tickets",
            run_at_start=True,
            misfire_grace_seconds=max(settings.sla_scan_seconds, 30),
        ),
        ScheduledJob(
            id="dashboard_rollup",
            func="jobs.dashboard_rollup:run",
            trigger=IntervalTrigger(minutes=5, timezone="UTC"),
            description="recompute the dashboard's daily rollups of the last two days (all "
            "history the first time)",
            run_at_start=True,
            misfire_grace_seconds=300,
        ),
        ScheduledJob(
            id="ai_index",
            func="jobs.ai_index:run",
            trigger=IntervalTrigger(seconds=60, timezone="UTC"),
            description="index resolved tickets for retrieval, re-embed after a model change, "
            "score the sentiment of new client messages",
            run_at_start=True,
            misfire_grace_seconds=120,
        ),
        ScheduledJob(
            id="mail_send",
            func="jobs.mail_send:run",
            trigger=IntervalTrigger(seconds=settings.outbox_send_seconds, timezone="UTC"),
            description="send queued email replies and acknowledgements; retry temporary "
            "failures with backoff, mark permanent ones failed",
            run_at_start=True,
            misfire_grace_seconds=max(int(settings.outbox_send_seconds), 30),
        ),
        ScheduledJob(
            id="whatsapp_send",
            func="jobs.whatsapp_send:run",
            trigger=IntervalTrigger(seconds=settings.outbox_send_seconds, timezone="UTC"),
            description="send queued WhatsApp replies through Twilio or Meta; retry temporary "
            "failures with backoff, mark permanent ones failed",
            run_at_start=True,
            misfire_grace_seconds=max(int(settings.outbox_send_seconds), 30),
        ),
        ScheduledJob(
            id="campaign_send",
            func="jobs.campaign_send:run",
            # Short: a run sends for up to 50 s, and the next should follow at once.
            trigger=IntervalTrigger(seconds=5, timezone="UTC"),
            description="start scheduled email campaigns (snapshot of the audience) and send "
            "their recipients exactly once, in batches shared by every jobs process",
            run_at_start=True,
            misfire_grace_seconds=60,
        ),
        ScheduledJob(
            id="pst_ingest",
            func="jobs.pst_ingest:run",
            trigger=IntervalTrigger(seconds=30, timezone="UTC"),
            description="import queued mail archives (PST/OST, mbox, EML) into the knowledge "
            "store, resuming any whose worker died",
            run_at_start=True,
            misfire_grace_seconds=300,
        ),
        ScheduledJob(
            id="presence_sweep",
            func="crm_app.services.presence:sweep",
            trigger=IntervalTrigger(minutes=10, timezone="UTC"),
            description="delete ticket-presence heartbeats of agents gone for over an hour",
            misfire_grace_seconds=600,
        ),
        ScheduledJob(
            id="upload_cleanup",
            func="jobs.upload_cleanup:run",
            trigger=IntervalTrigger(minutes=15, timezone="UTC"),
            description="delete uploaded files and unfinished archive uploads unused for "
            "CRM_UPLOAD_ABANDON_HOURS, and the upload slots of requests that died",
            run_at_start=True,
            misfire_grace_seconds=900,
        ),
        ScheduledJob(
            id="account_sweep",
            func="crm_app.services.accounts:sweep",
            trigger=IntervalTrigger(hours=1, timezone="UTC"),
            description="forget sign-in throttles past CRM_LOGIN_FORGET_HOURS, ended sessions "
            "and devices unused for CRM_KNOWN_DEVICE_DAYS",
            misfire_grace_seconds=3600,
        ),
        ScheduledJob(
            id="imap_poll",
            func="jobs.imap_poll:run",
            trigger=IntervalTrigger(seconds=settings.mail_poll_tick_seconds, timezone="UTC"),
            description="import new mail of every enabled mailbox as tickets (IDLE where "
            "offered, else each mailbox's poll interval); one process per mailbox at a time",
            run_at_start=True,
            misfire_grace_seconds=max(settings.mail_poll_tick_seconds * 4, 60),
        ),
        ScheduledJob(
            id="faq_regen",
            func="jobs.faq_regen:run",
            trigger=CronTrigger(hour=3, minute=30, timezone="UTC"),
            description="cluster the last 90 days of client questions into topics and draft FAQ "
            "entries (or updates to published ones) for a manager to review",
            misfire_grace_seconds=6 * 3600,
        ),
        ScheduledJob(
            id="webhook_deliver",
            func="jobs.webhook_deliver:run",
            trigger=IntervalTrigger(seconds=10, timezone="UTC"),
            description="POST due webhook deliveries (signed), retry failures with backoff",
            run_at_start=True,
            misfire_grace_seconds=60,
        ),
    ]
