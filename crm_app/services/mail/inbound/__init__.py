"""Mail in: a fetched message becomes a ticket, or a message on one, or a recorded refusal.

`import_batch` is the one action of the mail intake, used by the `imap_poll` job and the
benchmark alike. For a batch of messages fetched from one folder it parses each through
`ingest` (the product's one MIME parser), then in ONE transaction: records every message in
`inbound_mail` (a unique Message-ID key: the same mail is never imported twice), threads or
opens tickets, matches or creates the sender's client, links the attachments, audits, and moves
the folder's poll position past the batch. A crash therefore loses nothing and repeats
nothing: either the batch and its new position are committed, or neither is. After the commit
it emits `ticket.created` / `message.added` (notifications, live updates).

Threading: In-Reply-To and References against the Message-IDs of the ticket's messages
(`TicketMessage.external_message_id`, sent replies included), then `[#number]` in the subject
(only when the sender is that ticket's client, so a stranger cannot write into someone else's
ticket), else a new ticket on the `email` channel, assigned by the round robin.

Never a ticket: auto-replies, bounces, mailer-daemon and delivery reports (`ingest.automation`),
mail from one of the firm's own mailbox addresses, and the same subject from the same sender
more than `LOOP_LIMIT` times within `LOOP_WINDOW` (a mail loop). Each is recorded as ignored
with its reason. A message the parser cannot read is kept: its raw bytes are stored under the
data folder and it is listed as a failed import with the parser's error (never retried).

Modules: `rows` (the fetched mail, its parse, the batch result and the delivery's small
records), `parsing` (ingest, the attachment store, kept raw bytes of failed imports), `batch`
(`import_batch`: the transaction, decisions, duplicates, inbound records, poll position),
`targets` (threading, clients, new tickets) and `delivery` (messages, attachments, touched
tickets, acknowledgements, audit and events).
"""

from crm_app.services.mail.inbound.batch import import_batch
from crm_app.services.mail.inbound.parsing import (
    FAILED_STORE,
    StoreSink,
    parse,
    parse_batch,
    store_failed_raw,
)
from crm_app.services.mail.inbound.rows import (
    LOOP_LIMIT,
    LOOP_WINDOW,
    BatchResult,
    FetchedMail,
    MailboxRef,
    ParsedMail,
)

__all__ = [
    "FAILED_STORE",
    "LOOP_LIMIT",
    "LOOP_WINDOW",
    "BatchResult",
    "FetchedMail",
    "MailboxRef",
    "ParsedMail",
    "StoreSink",
    "import_batch",
    "parse",
    "parse_batch",
    "store_failed_raw",
]
