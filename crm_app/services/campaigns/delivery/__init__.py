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
  SendGrid request (built and serialised *before* the mark). Right before it comes the mark, an
  autocommitted statement. For SendGrid it sets the batch's rows `sending` and we wait for its
  answer; after the provider's answer they become `sent` with the provider's message id.
- For SMTP a worker sends its claimed rows in id order and the mark is one narrow row,
  `campaign_worker.reached` = this recipient's id: every claimed row of the worker up to
  `reached` may have been sent, none after it has. (An in-place update of a row no index
  covers: a third of the database's work of setting an indexed recipient row `sending`.)
  The mark's bytes are written to the database connection and the dot right after them, and
  the mark's answer is read after the dot: a statement whose bytes PostgreSQL has received
  runs and commits even when its client is killed (the server notices a dead client only when
  it answers), so a kill can fall only between two back-to-back writes. Waiting for the answer
  first would widen that moment by a round trip and the time to be scheduled again, which on
  a busy machine is milliseconds. The rows' outcomes (`sent` with the server's queue id, or
  `failed` with its words) ride on a later mark, every `ledger.SETTLE_EVERY` messages, a
  failure on the very next one; at the end of a batch the rest are written and `reached`
  starts again at 0 (the next batch's ids may be lower).
- After a crash a `sending` row, and a `claimed` row up to its worker's `reached`, counts as
  sent (`unconfirmed`): it is never resent. It is wrong only if the crash fell in that moment
  before the final write, or the provider refused a message already handed over; SendGrid's
  Event Webhook (processed, delivered, bounce) later confirms or corrects each such row. A
  crash costs the SMTP queue ids of the outcomes not yet written (at most `SETTLE_EVERY` per
  worker): those rows are sent, counted unconfirmed.
- Every message keeps a fixed Message-ID per recipient, so even a manual resend of an
  unconfirmed row is one message to mail programs.

Marks use `synchronous_commit = off`: they survive the worker's death (PostgreSQL has them),
not a crash of PostgreSQL itself, which would replay at most the last few hundred ms of marks
and so resend those messages.

One import for callers, `from crm_app.services.campaigns import delivery`; by what the code
does:
- `snapshot`: starting due campaigns, the audience snapshot
- `ledger`: the worker's connection, claims, marks and outcomes (the database side of the
  protocol)
- `transports`: the sender, SMTP split at the final dot, the MIME bytes, the test send
- `runner`: the job's pass, batches over SMTP or SendGrid at the configured rate (the batch
  sizes live there)
"""

from crm_app.services.campaigns.delivery.ledger import Claimed, Ledger
from crm_app.services.campaigns.delivery.runner import Pacer, RunReport, run, run_campaign
from crm_app.services.campaigns.delivery.snapshot import materialize, start_due_campaigns
from crm_app.services.campaigns.delivery.transports import (
    CampaignSmtp,
    MimeBuilder,
    SenderConfig,
    send_test_mail,
    sender_config,
)

__all__ = [
    "CampaignSmtp",
    "Claimed",
    "Ledger",
    "MimeBuilder",
    "Pacer",
    "RunReport",
    "SenderConfig",
    "materialize",
    "run",
    "run_campaign",
    "send_test_mail",
    "sender_config",
    "start_due_campaigns",
]
