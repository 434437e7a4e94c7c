"""Mail out: the email channel's outbox.

`enqueue_email_reply` runs inside the reply's transaction (registered in `channels` for
`email` tickets): it fixes the Message-ID on the message, the threading headers and the
recipients on an `outbound_message` row, so the reply and its delivery commit together.
`acknowledge` queues the automatic "we received your request #N" for a new email ticket.
The send job (`jobs/mail_send.py`) claims due rows (`claim`), sends them and records each
outcome (`Recorder`, `record_failure`); `retry` lets staff send a failed one again.

Modules: `_common` (the mailbox mail goes out from, the outbox row), `enqueue` (an agent's
reply), `acknowledge` (the automatic acknowledgement), `claim` (the send job's claim, the
claimed mail and its transport), `recorder` (outcomes, backoff) and `staff` (retry, counts).
Importing the package registers the email channel (`enqueue`).
"""

from crm_app.services.mail.outbox._common import CHANNEL, mailbox_for_ticket
from crm_app.services.mail.outbox.acknowledge import ACK_WINDOW, acknowledge
from crm_app.services.mail.outbox.claim import (
    CLAIM_DUE,
    ClaimedMail,
    claim,
    open_transport,
)
from crm_app.services.mail.outbox.enqueue import enqueue_email_reply
from crm_app.services.mail.outbox.recorder import (
    BACKOFF_MAX_SECONDS,
    Recorder,
    backoff_seconds,
    record_failure,
)
from crm_app.services.mail.outbox.staff import outbox_counts, retry

__all__ = [
    "ACK_WINDOW",
    "BACKOFF_MAX_SECONDS",
    "CHANNEL",
    "CLAIM_DUE",
    "ClaimedMail",
    "Recorder",
    "acknowledge",
    "backoff_seconds",
    "claim",
    "enqueue_email_reply",
    "mailbox_for_ticket",
    "open_transport",
    "outbox_counts",
    "record_failure",
    "retry",
]
