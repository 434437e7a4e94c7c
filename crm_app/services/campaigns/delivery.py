"""The send engine behind `jobs/campaign_send`: snapshot the audience once, claim recipients in
batches with `FOR UPDATE SKIP LOCKED`, hand them to SMTP (one connection per worker) or SendGrid
(up to 1,000 personalizations per call), and record each outcome.

Exactly once across a SIGKILL
-----------------------------
No SMTP server or HTTP API lets us commit "the provider has it" and "we recorded it" together,
so there is a moment where a crash leaves us not knowing. We make that moment as short as we
can and choose, for it, *at most once*: a marketing mail lost in a crash is a smaller harm to a
regulated firm than the same promotion twice.

- A claimed row is `claimed`: nothing has left. A worker killed now leaves rows that go back to
  `queued` (its liveness is a PostgreSQL advisory lock, released by the server the moment the
  worker's connection dies, so a restart reconciles at once instead of waiting for a lease).
- The point of no return is the last byte: the SMTP end-of-data dot, or the last byte of the
  SendGrid request (built and serialised *before* the mark). Right before it the row is marked
  `sending` in an autocommitted statement whose answer we wait for; right after the provider's
  answer it becomes `sent` with the provider's message id.
- After a crash a `sending` row counts as sent (`unconfirmed`): it is never resent. It is wrong
  only if the crash fell in the microseconds between the mark's answer and the final write, or
  the provider refused a message already handed over; SendGrid's Event Webhook (processed,
  delivered, bounce) later confirms or corrects each such row.
- Every message keeps a fixed Message-ID per recipient, so even a manual resend of an
  unconfirmed row is one message to mail programs.

Mark writes use `synchronous_commit = off`: they survive the worker's death (PostgreSQL has
them), not a crash of PostgreSQL itself, which would replay at most the last few hundred ms of
marks as `claimed` rows and so resend them.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import smtplib
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import Header
from email.utils import formataddr, formatdate
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import col

from crm_app.crypto import decrypt_secret
from crm_app.db import database_url, libpq_url, session_scope
from crm_app.services.campaigns.audience import candidates
from crm_app.services.campaigns.template import (
    CampaignTemplate,
    RecipientValues,
    substitutions,
)
from crm_app.services.errors import ServiceError
from crm_app.services.mail.compose import OutgoingMail
from crm_app.services.mail.transport import (
    DeliveryFailure,
    PermanentFailure,
    SmtpSettings,
    SmtpTransport,
    TemporaryFailure,
)
from crm_app.settings import get_settings
from models.base import utcnow
from models.campaign import Campaign, CampaignRecipient, CampaignStatus, CampaignTransport
from models.mailbox import ConnectionSecurity, Mailbox, OutboundKind

log = logging.getLogger(__name__)

SENDGRID_BATCH = 1000  # SendGrid's limit of personalizations per request
SMTP_BATCH = 500
STATUS_CHECK_SECONDS = 1.0
_LEADING_DOT = re.compile(rb"(?m)^\.")


# --- snapshot ----------------------------------------------------------------------------------


def start_due_campaigns() -> list[int]:
    """Scheduled campaigns whose time has come: snapshot each audience (once) and start them."""
    with session_scope() as session:
        due = session.scalars(
            select(col(Campaign.id)).where(
                col(Campaign.status) == CampaignStatus.SCHEDULED,
                col(Campaign.scheduled_at) <= utcnow(),
            )
        )
        due_ids = [campaign_id for campaign_id in due if campaign_id is not None]  # all are
    started = []
    for campaign_id in due_ids:
        try:
            if materialize(campaign_id):
                started.append(campaign_id)
        except ServiceError as error:  # e.g. a segment deleted after scheduling
            log.error(
                "campaign not started", extra={"campaign_id": campaign_id, "error": error.message}
            )
    return started


def materialize(campaign_id: int) -> bool:
    """Freeze the recipient list with one INSERT … SELECT: in the same transaction as the
    status change, so a crash leaves either no snapshot or the whole of it."""
    with session_scope() as session:
        campaign = session.execute(
            select(Campaign)
            .where(col(Campaign.id) == campaign_id)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if campaign is None or campaign.status != CampaignStatus.SCHEDULED:
            return False
        if campaign.materialized_at is None:
            eligible = candidates(
                session, campaign.segment_ids, campaign.exclude_segment_ids
            ).subquery()
            space = func.strpos(eligible.c.name, " ")
            picked = (
                select(
                    sa.literal(campaign_id).label("campaign_id"),
                    eligible.c.client_id,
                    eligible.c.email,
                    func.split_part(eligible.c.name, " ", 1),
                    sa.case((space > 0, func.substr(eligible.c.name, space + 1)), else_=""),
                    sa.literal("queued"),
                    sa.false(),
                )
                .where(eligible.c.reason.is_(None))
                .distinct(eligible.c.email)
                .order_by(eligible.c.email, eligible.c.client_id)
            )
            session.execute(
                sa.insert(CampaignRecipient).from_select(
                    [
                        "campaign_id",
                        "client_id",
                        "email",
                        "first_name",
                        "last_name",
                        "status",
                        "unconfirmed",
                    ],
                    picked,
                )
            )
            campaign.recipients_total = session.scalars(
                select(func.count()).where(col(CampaignRecipient.campaign_id) == campaign_id)
            ).one()
            campaign.materialized_at = utcnow()
        campaign.status = CampaignStatus.SENDING.value
        campaign.started_at = campaign.started_at or utcnow()
        campaign.updated_at = utcnow()
        return True


# --- the worker's database side ----------------------------------------------------------------


@dataclass
class Claimed:
    id: int
    email: str
    first_name: str
    last_name: str


class Ledger:
    """One worker's connection: its liveness lock, claims, and the marks of the send protocol."""

    def __init__(self) -> None:
        self.worker = secrets.randbits(62)
        self.conn = psycopg.connect(libpq_url(database_url()), autocommit=True)
        self.conn.execute("SET synchronous_commit = off")
        self.conn.execute("SELECT pg_advisory_lock(%s)", (self.worker,))

    def close(self) -> None:
        self.conn.close()

    def reconcile(self) -> dict[str, int]:
        """Settle the rows of dead workers: `claimed` back to the queue, `sending` counted sent
        (unconfirmed; see the module docstring)."""
        owners = [
            w
            for (w,) in self.conn.execute(
                "SELECT DISTINCT worker FROM campaign_recipient "
                "WHERE status IN ('claimed', 'sending') AND worker IS NOT NULL"
            )
        ]
        released = settled = 0
        for owner in owners:
            if owner == self.worker:
                continue
            lock = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (owner,)).fetchone()
            assert lock is not None  # a SELECT without FROM gives one row
            (free,) = lock
            if not free:
                continue  # alive
            try:
                released += self.conn.execute(
                    "UPDATE campaign_recipient SET status = 'queued', worker = NULL, "
                    "batch_key = NULL WHERE worker = %s AND status = 'claimed'",
                    (owner,),
                ).rowcount
                settled += self.conn.execute(
                    "UPDATE campaign_recipient SET status = 'sent', unconfirmed = true, "
                    "sent_at = coalesce(sent_at, now()) WHERE worker = %s AND status = 'sending'",
                    (owner,),
                ).rowcount
            finally:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (owner,))
        if released or settled:
            log.warning(
                "campaign rows of a dead worker settled",
                extra={"released": released, "counted_sent_unconfirmed": settled},
            )
        return {"released": released, "unconfirmed": settled}

    def sending_campaigns(self) -> list[int]:
        return [
            cid
            for (cid,) in self.conn.execute(
                "SELECT id FROM campaign WHERE status = 'sending' ORDER BY id"
            )
        ]

    def status(self, campaign_id: int) -> str:
        row = self.conn.execute("SELECT status FROM campaign WHERE id = %s", (campaign_id,))
        found = row.fetchone()
        return found[0] if found else "cancelled"

    def claim(self, campaign_id: int, limit: int) -> list[Claimed]:
        """The next queued rows, locked against other workers. Rows whose address has been
        suppressed, or whose client withdrew consent, since the snapshot are cancelled here:
        an unsubscribe takes effect for every later send."""
        with self.conn.transaction():
            rows = self.conn.execute(
                """
                WITH picked AS (
                    SELECT r.id FROM campaign_recipient r
                    WHERE r.campaign_id = %(cid)s AND r.status = 'queued'
                    ORDER BY r.id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
                ), judged AS (
                    SELECT p.id,
                        EXISTS (SELECT 1 FROM suppression s WHERE s.email = r.email)
                        OR EXISTS (SELECT 1 FROM client c WHERE c.id = r.client_id
                                   AND (c.marketing_consent IS NOT TRUE
                                        OR c.deleted_at IS NOT NULL)) AS blocked
                    FROM picked p JOIN campaign_recipient r ON r.id = p.id
                )
                UPDATE campaign_recipient r
                SET status = CASE WHEN j.blocked THEN 'cancelled' ELSE 'claimed' END,
                    error = CASE WHEN j.blocked
                        THEN 'Unsubscribed, suppressed or no consent at send time' END,
                    worker = %(worker)s
                FROM judged j WHERE r.id = j.id
                RETURNING r.id, r.email, r.first_name, r.last_name, j.blocked
                """,
                {"cid": campaign_id, "limit": limit, "worker": self.worker},
            ).fetchall()
        return sorted(
            (Claimed(i, e, f, ln) for i, e, f, ln, blocked in rows if not blocked),
            key=lambda c: c.id,
        )

    def mark(
        self,
        sending: int | None,
        message_id: str | None,
        done: tuple[int, str, str | None, str | None] | None,
    ) -> None:
        """One round trip: `done` = (id, 'sent'|'failed', provider id, error) for the previous
        message, and `sending` for the one whose last byte goes next."""
        rows: list[tuple[Any, ...]] = []
        if done is not None:
            rows.append((done[0], done[1], done[2], None, done[3]))
        if sending is not None:
            rows.append((sending, "sending", None, message_id, None))
        if not rows:
            return
        self.conn.execute(
            "UPDATE campaign_recipient r SET status = v.status, "
            "provider_message_id = coalesce(v.pid, r.provider_message_id), "
            "message_id = coalesce(v.mid, r.message_id), error = v.err, "
            "sent_at = CASE WHEN v.status = 'sent' THEN now() ELSE r.sent_at END "
            "FROM (SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], "
            "%s::text[])) AS v(id, status, pid, mid, err) WHERE r.id = v.id AND r.worker = %s",
            (*[list(c) for c in zip(*rows, strict=True)], self.worker),
        )

    def mark_batch_sending(self, ids: list[int], batch_key: str) -> None:
        self.conn.execute(
            "UPDATE campaign_recipient SET status = 'sending', batch_key = %s "
            "WHERE id = ANY(%s) AND worker = %s",
            (batch_key, ids, self.worker),
        )

    def mark_batch(self, ids: list[int], status: str, provider_id: str | None, error: str | None):
        self.conn.execute(
            "UPDATE campaign_recipient SET status = %s, provider_message_id = %s, error = %s, "
            "sent_at = CASE WHEN %s = 'sent' THEN now() ELSE sent_at END "
            "WHERE id = ANY(%s) AND worker = %s",
            (status, provider_id, error, status, ids, self.worker),
        )

    def release(self, ids: list[int], status: str = "queued") -> None:
        if ids:
            self.conn.execute(
                "UPDATE campaign_recipient SET status = %s, worker = NULL "
                "WHERE id = ANY(%s) AND worker = %s AND status = 'claimed'",
                (status, ids, self.worker),
            )

    def finish_if_done(self, campaign_id: int) -> bool:
        cur = self.conn.execute(
            "UPDATE campaign SET status = 'sent', finished_at = now(), updated_at = now() "
            "WHERE id = %s AND status = 'sending' AND NOT EXISTS (SELECT 1 FROM "
            "campaign_recipient WHERE campaign_id = %s AND status IN "
            "('queued', 'claimed', 'sending'))",
            (campaign_id, campaign_id),
        )
        return cur.rowcount == 1


# --- transports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderConfig:
    transport: str
    smtp: SmtpSettings | None = None
    sendgrid_key: str | None = None
    sendgrid_host: str = "https://api.sendgrid.com"


def sender_config(campaign: Campaign) -> SenderConfig:
    """How this campaign goes out: its mailbox's SMTP or SendGrid, or the product's own."""
    settings = get_settings()
    box: Mailbox | None = None
    if campaign.sender_mailbox_id:
        with session_scope() as session:
            box = session.get(Mailbox, campaign.sender_mailbox_id)
    if box is not None and box.outbound == OutboundKind.SENDGRID and box.sendgrid_secret:
        key = decrypt_secret(box.sendgrid_secret)
        return SenderConfig("sendgrid", sendgrid_key=key, sendgrid_host=settings.sendgrid_api_host)
    if box is not None and box.outbound == OutboundKind.SMTP:
        return SenderConfig(
            "smtp",
            smtp=SmtpSettings(
                host=box.smtp_host,
                port=box.smtp_port,
                security=box.smtp_security,
                user=box.smtp_user,
                password=decrypt_secret(box.smtp_secret) if box.smtp_secret else "",
            ),
        )
    if settings.sendgrid_api_key:
        return SenderConfig(
            "sendgrid",
            sendgrid_key=settings.sendgrid_api_key,
            sendgrid_host=settings.sendgrid_api_host,
        )
    security = {"ssl": ConnectionSecurity.TLS, "none": ConnectionSecurity.NONE}.get(
        settings.smtp_tls, ConnectionSecurity.STARTTLS
    )
    return SenderConfig(
        "smtp",
        smtp=SmtpSettings(
            host=settings.smtp_host or "",
            port=settings.smtp_port,
            security=security,
            user=settings.smtp_user or "",
            password=settings.smtp_password or "",
        ),
    )


class CampaignSmtp(SmtpTransport):
    """The transport's connection handling, with the DATA phase split at the final dot so the
    `sending` mark lands right before the point of no return."""

    def deliver(self, sender: str, recipient: str, data: bytes, before_dot: Callable) -> str:
        if self._smtp is None:
            self._smtp = self._connect()
            self._smtp.ehlo_or_helo_if_needed()
            # The data and its final dot are two writes: without NODELAY the dot waits for
            # the server's delayed ACK of the data (Nagle), ~40 ms a message.
            if self._smtp.sock is not None:
                self._smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        smtp = self._smtp
        try:
            # Addresses come from our own snapshot (lower-cased, no brackets): no parsing.
            commands = [f"MAIL FROM:<{sender}>", f"RCPT TO:<{recipient}>", "DATA"]
            if smtp.has_extn("pipelining"):  # RFC 2920: one write, three answers
                smtp.send("\r\n".join(commands) + "\r\n")
                replies = [smtp.getreply() for _ in commands]
            else:
                replies = []
                for command in commands:
                    smtp.send(command + "\r\n")
                    replies.append(smtp.getreply())
                    if replies[-1][0] >= 400:
                        break
            for (code, answer), wanted in zip(replies, ((250,), (250, 251), (354,)), strict=False):
                if code not in wanted:
                    smtp.rset()
                    raise _classify(code, answer)
            smtp.send(_LEADING_DOT.sub(b"..", data))
            before_dot()
            smtp.send(b".\r\n")
            code, answer = smtp.getreply()
        except DeliveryFailure:
            raise
        except (OSError, smtplib.SMTPException) as error:
            self._smtp = None
            raise TemporaryFailure(f"The connection to the mail server failed: {error}") from error
        if code != 250:
            raise _classify(code, answer)
        text = answer.decode("utf-8", "replace")
        return text.rsplit("queued as", 1)[-1].strip() if "queued as" in text else text[:200]


def _classify(code: int, answer: bytes) -> DeliveryFailure:
    words = f"{code} {answer.decode('utf-8', 'replace')}"
    if 400 <= code < 500:
        return TemporaryFailure(f"The mail server deferred it: {words}")
    return PermanentFailure(f"The mail server refused it: {words}")


class MimeBuilder:
    """Wire bytes for one recipient: the headers and parts every recipient shares are built
    once; per recipient only the subject, To, tokens and names change."""

    def __init__(self, campaign: Campaign, template: CampaignTemplate) -> None:
        self.template = template
        name = campaign.from_name
        self.sender = campaign.from_email
        from_value = formataddr((name, self.sender))
        if not from_value.isascii():
            from_value = formataddr((str(Header(name, "utf-8").encode()), self.sender))
        self.boundary = f"=_campaign_{campaign.id}_{uuid.uuid4().hex[:12]}"
        self.head = f"From: {from_value}\r\nMIME-Version: 1.0\r\n"

    def build(self, values: RecipientValues) -> tuple[str, bytes]:
        message = self.template.render(values)
        subject = message.subject
        if not subject.isascii():
            subject = Header(subject, "utf-8").encode()
        message_id = self.template.message_id(values.recipient_id)
        extra = "".join(f"{k}: {v}\r\n" for k, v in message.headers.items())
        b = self.boundary
        text = base64.encodebytes(message.text.encode()).replace(b"\n", b"\r\n")
        html = base64.encodebytes(message.html.encode()).replace(b"\n", b"\r\n")
        head = (
            f"{self.head}To: <{values.email}>\r\nSubject: {subject}\r\n"
            f"Date: {formatdate(usegmt=True)}\r\nMessage-ID: {message_id}\r\n{extra}"
            f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n'
            f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        middle = (
            f"--{b}\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        return message_id, b"".join((head, text, middle, html, f"--{b}--\r\n".encode()))


# --- running a campaign ------------------------------------------------------------------------


@dataclass
class RunReport:
    sent: int = 0
    failed: int = 0
    batches: int = 0
    sendgrid_calls: int = 0
    campaigns_finished: int = 0
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


def _still_sending(ledger: Ledger, campaign_id: int, batch: list[Claimed], start: int) -> bool:
    status = ledger.status(campaign_id)
    if status == CampaignStatus.SENDING:
        return True
    rest = [c.id for c in batch[start:]]
    ledger.release(rest, "cancelled" if status == CampaignStatus.CANCELLED else "queued")
    return False


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
    builder = MimeBuilder(campaign, template)
    smtp = CampaignSmtp(config.smtp)
    try:
        while time.monotonic() < deadline:
            batch = ledger.claim(campaign.id, SMTP_BATCH)
            if not batch:
                return
            report.batches += 1
            done: tuple[int, str, str | None, str | None] | None = None
            checked = time.monotonic()
            for index, item in enumerate(batch):
                now = time.monotonic()
                if now > deadline or now - checked > STATUS_CHECK_SECONDS:
                    checked = now
                    ledger.mark(None, None, done)
                    done = None
                    if now > deadline or not _still_sending(ledger, campaign.id, batch, index):
                        ledger.release([c.id for c in batch[index:]])
                        return
                pacer.wait()
                values = RecipientValues(item.id, item.email, item.first_name, item.last_name)
                message_id, data = builder.build(values)
                previous, marked = done, [False]

                def before_dot(
                    rid: int = item.id,
                    mid: str = message_id,
                    prev: Any = previous,
                    marked: list[bool] = marked,
                ) -> None:
                    ledger.mark(rid, mid, prev)
                    marked[0] = True

                try:
                    provider_id = smtp.deliver(builder.sender, item.email, data, before_dot)
                except PermanentFailure as error:
                    if not marked[0]:  # refused before the data: the previous is unrecorded
                        ledger.mark(None, None, previous)
                    done = (item.id, "failed", None, error.reason)
                    report.failed += 1
                    continue
                except TemporaryFailure as error:
                    # Nothing left for this row unless the mark ran (then it counts as sent:
                    # the dot may have gone); the rest of the batch goes back to the queue.
                    if not marked[0]:
                        ledger.mark(None, None, previous)
                    ledger.release([c.id for c in batch[index:]])
                    report.errors.append(error.reason)
                    smtp.close()
                    time.sleep(1.0)
                    return
                done = (item.id, "sent", provider_id, None)
                report.sent += 1
            ledger.mark(None, None, done)
    finally:
        smtp.close()


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
            # count as sent once this worker is gone (at most once, see the module docstring).
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
    finally:
        ledger.close()
    return report


# --- test sends --------------------------------------------------------------------------------


def send_test_mail(campaign: Campaign, address: str, values: RecipientValues) -> None:
    """One test copy to a staff address through the campaign's own transport."""
    from crm_app.services.campaigns.manage import template_for
    from crm_app.services.mail.transport import SendGridTransport

    template = template_for(campaign)
    message = template.render(values)
    mail = OutgoingMail(
        from_header=formataddr((campaign.from_name, campaign.from_email)),
        to=(address,),
        cc=(),
        subject=f"[Test] {message.subject}",
        message_id=f"<campaign-{campaign.id}.test.{uuid.uuid4().hex[:12]}@{template.domain}>",
        headers=message.headers,
        text=message.text,
        html=message.html,
    )
    config = sender_config(campaign)
    transport: SmtpTransport | SendGridTransport
    if config.transport == "sendgrid":
        transport = SendGridTransport(config.sendgrid_key or "", config.sendgrid_host)
    else:
        assert config.smtp is not None
        transport = SmtpTransport(config.smtp)
    try:
        transport.send(mail)
    finally:
        transport.close()
