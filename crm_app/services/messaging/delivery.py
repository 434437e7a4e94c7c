"""Delivering queued WhatsApp replies: the outbox rows of channel `whatsapp`, claimed with
FOR UPDATE SKIP LOCKED (any number of jobs processes share them), sent through the provider the
client wrote by, each outcome recorded at once (the email outbox's `Recorder`: retries with
backoff, failed for good after a permanent refusal or too many attempts, Retry by staff)."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from crm_app.db import session_scope
from crm_app.services.mail import outbox
from crm_app.services.mail.transport import DeliveryFailure, PermanentFailure
from crm_app.services.messaging import config, meta_whatsapp, twilio_whatsapp
from crm_app.services.messaging.whatsapp import CHANNEL
from models.base import utcnow
from models.messaging import ChannelDelivery, Provider
from models.outbox import OutboundMessage
from models.ticket import TicketMessage

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0
RUN_SECONDS = 50.0
BATCH_SIZE = 50


@dataclass(frozen=True)
class ClaimedReply:
    outbound_id: int
    message_id: int
    attempts: int
    provider: str
    to: str
    body: str
    template: str | None
    language: str
    variables: tuple[str, ...] = ()
    content_sid: str = ""  # a Twilio Content template


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


_CLAIM = outbox.CLAIM_DUE


def claim(
    worker: str, limit: int = BATCH_SIZE, lease_seconds: float = LEASE_SECONDS
) -> list[ClaimedReply]:
    with session_scope() as session:
        ids = list(
            session.scalars(
                _CLAIM,
                {"worker": worker, "lease": lease_seconds, "limit": limit, "channel": CHANNEL},
            )
        )
        if not ids:
            return []
        rows = (
            session.execute(
                select(OutboundMessage, col(TicketMessage.body_text))
                .join(TicketMessage, col(TicketMessage.id) == col(OutboundMessage.message_id))
                .where(col(OutboundMessage.id).in_(ids))
                .order_by(col(OutboundMessage.id))
            )
            .tuples()
            .all()
        )
        return [_claimed(row, body) for row, body in rows]


def _claimed(row: OutboundMessage, body: str) -> ClaimedReply:
    headers = row.headers or {}
    variables = headers.get("variables")
    assert row.id is not None  # a stored row
    return ClaimedReply(
        outbound_id=row.id,
        message_id=row.message_id,
        attempts=row.attempts,
        provider=str(headers.get("provider") or ""),
        to=row.recipient,
        body=body,
        template=headers.get("template"),
        language=str(headers.get("language") or "en_US"),
        variables=tuple(str(v) for v in variables) if isinstance(variables, list) else (),
        content_sid=str(headers.get("content_sid") or ""),
    )


def send_one(item: ClaimedReply) -> tuple[str, str]:
    """(provider message id, its first state) or a DeliveryFailure."""
    if item.provider == Provider.TWILIO.value:
        if item.content_sid:
            sent = twilio_whatsapp.send_template(
                config.twilio(), item.to, item.content_sid, item.variables
            )
        elif item.template:  # queued without a ContentSid: Twilio cannot send it
            raise PermanentFailure("A Twilio template needs its ContentSid (HX…).")
        else:
            sent = twilio_whatsapp.send_text(config.twilio(), item.to, item.body)
        return sent.sid, sent.status
    if item.provider == Provider.META.value:
        wamid = meta_whatsapp.send(
            config.meta(),
            item.to,
            item.body,
            template=item.template,
            language=item.language,
            variables=item.variables,
        )
        return wamid, "sent"
    raise PermanentFailure(f"No WhatsApp provider “{item.provider}” to send with.")


def _remember(item: ClaimedReply, provider_id: str, state: str) -> None:
    with session_scope() as session:
        session.execute(
            insert(ChannelDelivery)
            .values(
                provider_message_id=provider_id[:300],
                provider=item.provider,
                message_id=item.message_id,
                state=state[:32],
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["provider_message_id"])
        )


def run(
    *, run_seconds: float = RUN_SECONDS, lease_seconds: float = LEASE_SECONDS
) -> DeliveryReport:
    """Send what is due until nothing is or the run's time is up (the `whatsapp_send` job)."""
    worker = uuid.uuid4().hex
    report = DeliveryReport()
    started = time.monotonic()
    while time.monotonic() - started < run_seconds:
        batch = claim(worker, BATCH_SIZE, lease_seconds)
        if not batch:
            break
        with outbox.Recorder(worker) as recorder:
            for item in batch:
                try:
                    provider_id, state = send_one(item)
                except DeliveryFailure as error:
                    status = recorder.failure(
                        item.outbound_id,
                        item.attempts,
                        error.reason,
                        permanent=isinstance(error, PermanentFailure),
                    )
                    report.errors.append(error.reason)
                    if status == "failed":
                        report.failed += 1
                    else:
                        report.retrying += 1
                    continue
                recorder.sent(item.outbound_id, provider_id)
                _remember(item, provider_id, state)
                report.sent += 1
    if report.sent or report.failed or report.retrying:
        log.info(
            "whatsapp send finished",
            extra={"sent": report.sent, "retrying": report.retrying, "failed": report.failed},
        )
    return report
