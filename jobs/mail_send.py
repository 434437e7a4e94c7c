"""The `mail_send` job: deliver the email outbox.

Each batch is claimed with `SELECT … FOR UPDATE SKIP LOCKED` (so any number of jobs processes
share the work without taking the same row), composed, and sent over one connection per
transport (mailbox); every outcome is recorded on its row as soon as it is known.

A crash between "the server accepted the mail" and "we recorded it" cannot be ruled out by
any client: no SMTP or HTTP API lets us commit both at once. We choose to resend rather than
to lose: a claimed row whose worker died is due again when its lease ends, and is sent with
the Message-ID fixed at enqueue, so the client's mail program shows one mail even then. The
window is one mail per crashed worker: each row is recorded right after its own send, not at
the end of the batch, and a worker sends nothing once its lease is about to end (another worker
may take the row after that), so a slow batch never overlaps another worker's claim.
"""

from __future__ import annotations

import argparse
import logging
import time
import uuid
from dataclasses import dataclass, field

from crm_app.services.mail import outbox
from crm_app.services.mail.transport import DeliveryFailure, PermanentFailure, Transport

log = logging.getLogger(__name__)

BATCH_SIZE = 200
LEASE_SECONDS = 300.0
# Stop sending a claimed batch this long before its lease ends.
LEASE_MARGIN_SECONDS = 30.0
# One run of the scheduled job works at most this long, then lets the next run go on.
RUN_SECONDS = 50.0


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)

    def log_fields(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "released": self.released,
            "batches": self.batches,
        }


def send_batch(
    batch: list[outbox.ClaimedMail],
    recorder: outbox.Recorder,
    send_until: float,
    report: SendReport,
) -> None:
    """Send one claimed batch: mails that share a transport share its connection. Nothing is
    sent after `send_until` (monotonic): the rest is given back."""
    by_transport: dict[tuple, list[outbox.ClaimedMail]] = {}
    for item in batch:
        by_transport.setdefault(item.transport_key, []).append(item)
    for key, items in by_transport.items():
        transport: Transport | None = None
        unreachable: DeliveryFailure | None = None  # the connection failed: same for the rest
        try:
            for index, item in enumerate(items):
                if time.monotonic() > send_until:
                    rest = [i.outbound_id for i in items[index:]]
                    recorder.release(rest)
                    report.released += len(rest)
                    break
                try:
                    if unreachable is not None:
                        raise unreachable
                    if transport is None:
                        try:
                            transport = outbox.open_transport(key)
                        except DeliveryFailure as error:
                            unreachable = error
                            raise
                    # The previous outcome is committed before this mail can be accepted; the
                    # next mail's envelope may travel with this one's content.
                    following = items[index + 1].mail if index + 1 < len(items) else None
                    provider_id = transport.send(
                        item.mail, before_commit=recorder.settle, following=following
                    )
                except DeliveryFailure as error:
                    _record_failure(recorder, item, error.reason, error, report)
                    continue
                except OSError as error:  # an attachment missing from the store
                    reason = f"An attachment could not be read: {error}"
                    _record_failure(recorder, item, reason, PermanentFailure(reason), report)
                    continue
                recorder.sent(item.outbound_id, provider_id)
                report.sent += 1
        finally:
            if transport is not None:
                transport.close()


def _record_failure(
    recorder: outbox.Recorder,
    item: outbox.ClaimedMail,
    reason: str,
    error: DeliveryFailure,
    report: SendReport,
) -> None:
    status = recorder.failure(
        item.outbound_id,
        item.attempts,
        reason,
        permanent=isinstance(error, PermanentFailure),
    )
    if status == "failed":
        report.failed += 1
    else:
        report.retrying += 1
    report.errors.append(reason)


def run(
    *,
    batch_size: int = BATCH_SIZE,
    lease_seconds: float = LEASE_SECONDS,
    run_seconds: float = RUN_SECONDS,
) -> SendReport:
    """Send what is due, batch after batch, until the outbox has nothing due or the run's
    time is up. Logs one summary line."""
    worker = uuid.uuid4().hex
    report = SendReport()
    started = time.monotonic()
    while time.monotonic() - started < run_seconds:
        claimed_at = time.monotonic()
        batch = outbox.claim(worker, batch_size, lease_seconds)
        if not batch:
            break
        report.batches += 1
        margin = min(LEASE_MARGIN_SECONDS, lease_seconds / 10)
        with outbox.Recorder(worker) as recorder:
            send_batch(batch, recorder, claimed_at + lease_seconds - margin, report)
    if report.batches:
        log.info("mail send finished", extra=report.log_fields())
    return report


def main() -> None:
    """`python -m jobs.mail_send`: one run now (operators, tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--run-seconds", type=float, default=RUN_SECONDS)
    parser.add_argument("--lease-seconds", type=float, default=LEASE_SECONDS)
    args = parser.parse_args()
    report = run(
        batch_size=args.batch_size, lease_seconds=args.lease_seconds, run_seconds=args.run_seconds
    )
    print(report.log_fields())


if __name__ == "__main__":
    main()
