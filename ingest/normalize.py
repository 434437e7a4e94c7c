"""The one builder of a normalized `Message`: every source (MIME, mbox, EML, PST) reads its own
fields, and what is derived from them (the ticket number in the subject, the reply without its
quoted history and signature, the sanitized HTML, the dedup key) is derived here, the same way."""

from __future__ import annotations

from datetime import datetime

from .dedup import dedup_key
from .headers import ticket_number
from .html import sanitize_html
from .model import Address, Attachment, Automation, DateSource, Message, Provenance
from .reply import split_reply


def build_message(
    *,
    message_id: str | None,
    in_reply_to: str | None,
    references: list[str],
    subject: str,
    sender: Address | None,
    to: list[Address],
    cc: list[Address],
    reply_to: list[Address],
    date: datetime,
    date_source: DateSource,
    text_body: str,
    raw_html: str | None,
    attachments: list[Attachment],
    automation: Automation | None,
    provenance: Provenance,
    defects: list[str],
    item_class: str | None = None,
    transport_headers: str | None = None,
) -> Message:
    """A normalized message from a source's fields; `raw_html` is sanitized here."""
    split = split_reply(text_body)
    return Message(
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        ticket_number=ticket_number(subject),
        sender=sender,
        to=to,
        cc=cc,
        reply_to=reply_to,
        date=date,
        date_source=date_source,
        text_body=text_body,
        html_body=sanitize_html(raw_html) if raw_html is not None else None,
        reply_text=split.reply_text,
        signature=split.signature,
        attachments=attachments,
        automation=automation,
        dedup_key=dedup_key(
            message_id,
            sender=sender,
            subject=subject,
            date=date,
            date_source=date_source,
            text_body=text_body,
        ),
        provenance=provenance,
        item_class=item_class,
        transport_headers=transport_headers,
        defects=defects,
    )
