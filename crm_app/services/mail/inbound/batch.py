"""The intake's transaction: which messages are imported, ignored, failed or duplicates, their
inbound records and the folder's poll position, all committed together."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from crm_app.db import session_scope
from crm_app.services import bulk, events
from crm_app.services.campaigns import tracking
from crm_app.services.campaigns.template import token_recipient
from crm_app.services.errors import NotFound
from crm_app.services.mail.inbound.delivery import _Delivery
from crm_app.services.mail.inbound.parsing import parse_batch, store_failed_raw
from crm_app.services.mail.inbound.rows import (
    LOOP_LIMIT,
    LOOP_WINDOW,
    BatchResult,
    FetchedMail,
    MailboxRef,
    _Parsed,
    _sender,
)
from models.base import utcnow
from models.inbound_mail import InboundMail, InboundStatus
from models.mailbox import Mailbox, MailboxFolderState

log = logging.getLogger(__name__)

_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
# The subject a campaign's `List-Unsubscribe` mailto asks for: "unsubscribe <recipient token>".
_UNSUBSCRIBE = re.compile(r"^\s*unsubscribe\s+(\d{1,18}-[0-9a-f]{20})\s*$", re.IGNORECASE)
UNSUBSCRIBE_REASON = "unsubscribe request (List-Unsubscribe mailto)"


# --- the transaction ---------------------------------------------------------------------------


def import_batch(
    mailbox: MailboxRef,
    folder: str,
    uidvalidity: int,
    mails: Sequence[FetchedMail],
    *,
    last_uid: int | None = None,
    emit: Callable[[list[events.Event]], None] | None = None,
    parsed: Sequence[_Parsed] | None = None,
) -> BatchResult:
    """Import `mails` (fetched from `folder`) and move the folder's position to `last_uid`
    (default: the highest UID of the batch), all in one transaction.

    `parsed`: the batch already through `parse_batch` (the poller parses the next batch in
    worker processes while this one is written); default: parsed here.

    `emit` receives the committed batch's events (default: `events.emit` each, right away;
    the poller hands them to a thread of their own so the next batch need not wait).

    The batch is written set-wise (a few statements for the whole batch). Should that fail
    (bad data the parser let through), the batch is imported again message by message, and a
    message that still cannot be written is recorded as failed with its raw bytes kept.
    Side effects: inbound_mail rows, tickets, messages, clients, attachments, audit entries,
    the mailbox's imported count; raw bytes of failed messages on disk. After the commit:
    `ticket.created` / `message.added` per imported message.
    """
    if parsed is None:
        parsed = parse_batch(mailbox.name, folder, mails)
    position = max([last_uid or 0, *(mail.uid for mail in mails)])
    try:
        result = _import(mailbox, folder, uidvalidity, list(parsed), position)
    except Exception:
        log.exception("mail batch failed; importing one by one", extra={"folder": folder})
        result = BatchResult()
        for item in parsed:
            try:
                try:
                    result.add(_import(mailbox, folder, uidvalidity, [item], 0))
                except sa.exc.IntegrityError:
                    # Another transaction took its key meanwhile: now it is a duplicate.
                    result.add(_import(mailbox, folder, uidvalidity, [item], 0))
            except Exception as error:
                log.exception("mail import failed", extra={"uid": item.mail.uid})
                failed = _Parsed(
                    item.mail, None, f"could not be imported: {error!r}"[:500], item.key
                )
                result.add(_import(mailbox, folder, uidvalidity, [failed], 0))
        with session_scope() as session:
            _advance(session, mailbox.id, folder, uidvalidity, position)
    if emit is not None:
        emit(list(result.events))
    else:
        events.emit_all(result.events)
    return result


def _import(
    mailbox: MailboxRef, folder: str, uidvalidity: int, parsed: list[_Parsed], position: int
) -> BatchResult:
    result = BatchResult()
    with session_scope() as session, session.no_autoflush:
        done = set(
            session.execute(
                select(col(InboundMail.uid)).where(
                    col(InboundMail.mailbox_id) == mailbox.id,
                    col(InboundMail.folder) == folder,
                    col(InboundMail.uidvalidity) == uidvalidity,
                    col(InboundMail.uid).in_([item.mail.uid for item in parsed]),
                )
            ).scalars()
        )
        todo: list[_Parsed] = []
        for item in parsed:
            if item.mail.uid in done:
                result.skipped += 1
            else:
                done.add(item.mail.uid)
                todo.append(item)
        if todo:
            decisions = _decide(session, todo)
            _unsubscribe(session, todo, decisions)
            holders = _holders(session, todo)
            wanted = []
            for item in todo:
                status = decisions[item.mail.uid][0]
                if item.mail.uid in holders:
                    result.duplicates += 1
                elif status == InboundStatus.FAILED:
                    result.failed += 1
                elif status == InboundStatus.IGNORED:
                    result.ignored += 1
                else:
                    wanted.append(item)
            outcomes: dict[int, tuple[int, int, str]] = {}
            if wanted:
                outcomes = _Delivery(session, mailbox, wanted, result).run()
            _record(session, mailbox, folder, uidvalidity, todo, decisions, holders, outcomes)
        if position:
            _advance(session, mailbox.id, folder, uidvalidity, position)
        if result.imported:
            session.execute(
                sa.update(Mailbox)
                .where(col(Mailbox.id) == mailbox.id)
                .values(messages_imported=col(Mailbox.messages_imported) + result.imported)
            )
    return result


def _advance(session: Session, mailbox_id: int, folder: str, uidvalidity: int, uid: int) -> None:
    now = utcnow()
    session.execute(
        insert(MailboxFolderState)
        .values(
            mailbox_id=mailbox_id,
            folder=folder,
            uidvalidity=uidvalidity,
            last_uid=uid,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=["mailbox_id", "folder"],
            set_={
                "uidvalidity": uidvalidity,
                # A changed UIDVALIDITY starts the count again; else the position only grows.
                "last_uid": sa.case(
                    (
                        col(MailboxFolderState.uidvalidity) == uidvalidity,
                        sa.func.greatest(col(MailboxFolderState.last_uid), uid),
                    ),
                    else_=uid,
                ),
                "updated_at": now,
            },
        )
    )


def _loop_subject(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject or "").strip()[:300].lower()


def _decide(session: Session, todo: list[_Parsed]) -> dict[int, tuple[str, str]]:
    """Status and reason per UID: failed, ignored (machine mail, own address, loop) or import."""
    own = {address.lower() for address in session.scalars(select(col(Mailbox.address)))}
    senders = {_sender(item) for item in todo if item.message is not None} - {""}
    seen: dict[tuple[str, str], int] = {}
    if senders:
        for sender, subject in session.execute(
            select(col(InboundMail.sender), col(InboundMail.subject)).where(
                col(InboundMail.sender).in_(senders),
                col(InboundMail.created_at) >= utcnow() - LOOP_WINDOW,
                col(InboundMail.status) == InboundStatus.IMPORTED,
            )
        ).tuples():
            key = (sender, _loop_subject(subject))
            seen[key] = seen.get(key, 0) + 1
    decisions: dict[int, tuple[str, str]] = {}
    minutes = int(LOOP_WINDOW.total_seconds() // 60)
    for item in todo:
        message, sender = item.message, _sender(item)
        if message is None:
            decisions[item.mail.uid] = (InboundStatus.FAILED, item.error or "unparseable")
        elif _unsubscribe_token(message.subject) is not None:
            decisions[item.mail.uid] = (InboundStatus.IGNORED, UNSUBSCRIBE_REASON)
        elif message.automation is not None:
            reason = f"{message.automation.kind}: {message.automation.reason}"
            decisions[item.mail.uid] = (InboundStatus.IGNORED, reason)
        elif sender and sender in own:
            reason = f"loop: sent from the firm's own mailbox {sender}"
            decisions[item.mail.uid] = (InboundStatus.IGNORED, reason)
        else:
            key = (sender, _loop_subject(message.subject))
            count = seen.get(key, 0)
            if sender and count >= LOOP_LIMIT:
                reason = (
                    f"loop: {count} messages with this subject from {sender} in the last "
                    f"{minutes} minutes"
                )
                decisions[item.mail.uid] = (InboundStatus.IGNORED, reason)
            else:
                seen[key] = count + 1
                decisions[item.mail.uid] = (InboundStatus.IMPORTED, "")
    return decisions


def _unsubscribe_token(subject: str | None) -> str | None:
    """The recipient token of a campaign's mailto unsubscribe request, when genuine."""
    found = _UNSUBSCRIBE.match(_REPLY_PREFIX.sub("", subject or ""))
    if found is None or token_recipient(found.group(1).lower()) is None:
        return None
    return found.group(1).lower()


def _unsubscribe(
    session: Session, todo: list[_Parsed], decisions: dict[int, tuple[str, str]]
) -> None:
    """Apply the mailto unsubscribe requests of the batch, in its transaction: the address is
    suppressed for every later send at once, and the request never opens a ticket."""
    for item in todo:
        if decisions[item.mail.uid][1] != UNSUBSCRIBE_REASON or item.message is None:
            continue
        token = _unsubscribe_token(item.message.subject)
        assert token is not None
        try:
            done = tracking.unsubscribe_in(session, token, "mailto")
        except NotFound:
            reason = f"{UNSUBSCRIBE_REASON}: the campaign recipient no longer exists"
        else:
            reason = f"{UNSUBSCRIBE_REASON}: {done.email} unsubscribed ({done.campaign_name})"
        decisions[item.mail.uid] = (InboundStatus.IGNORED, reason[:500])


def _holders(session: Session, todo: list[_Parsed]) -> dict[int, str]:
    """UID -> why it is a duplicate, for the messages whose key another record holds (earlier,
    or earlier in this batch). The unique index on the key is the guarantee: a concurrent
    transaction that took a key meanwhile makes this batch's insert fail, and the batch is
    then imported again one by one, where that message shows up here."""
    taken = dict(
        session.execute(
            select(col(InboundMail.message_key), col(InboundMail.id)).where(
                col(InboundMail.message_key).in_({item.key for item in todo}),
                col(InboundMail.status) != InboundStatus.DUPLICATE,
            )
        ).all()
    )
    holders: dict[int, str] = {}
    first_in_batch: dict[str, int] = {}
    for item in todo:
        if item.key in taken:
            holders[item.mail.uid] = f"already received (inbound #{taken[item.key]})"
        elif item.key in first_in_batch:
            holders[item.mail.uid] = f"already received (UID {first_in_batch[item.key]})"
        else:
            first_in_batch[item.key] = item.mail.uid
    return holders


def _record(
    session: Session,
    mailbox: MailboxRef,
    folder: str,
    uidvalidity: int,
    todo: list[_Parsed],
    decisions: dict[int, tuple[str, str]],
    holders: dict[int, str],
    outcomes: dict[int, tuple[int, int, str]],
) -> None:
    """One inbound row per message, with what became of it (one statement for the batch)."""
    now = utcnow()
    rows = []
    for item in todo:
        uid, message = item.mail.uid, item.message
        status, reason = decisions[uid]
        ticket_id = message_row_id = None
        if uid in holders:
            status, reason = InboundStatus.DUPLICATE, holders[uid]
        elif uid in outcomes:
            ticket_id, message_row_id, reason = outcomes[uid]
        rows.append(
            {
                "mailbox_id": mailbox.id,
                "folder": folder[:255],
                "uidvalidity": uidvalidity,
                "uid": uid,
                "message_key": item.key,
                "message_id": message.message_id[:998] if message and message.message_id else None,
                "status": status,
                "reason": reason[:2000],
                "sender": _sender(item),
                "subject": ((message.subject if message else "") or "")[:300],
                "size_bytes": item.mail.size if item.mail.size is not None else len(item.mail.raw),
                "raw_path": store_failed_raw(item.mail.raw)
                if status == InboundStatus.FAILED
                else None,
                "ticket_id": ticket_id,
                "ticket_message_id": message_row_id,
                "created_at": now,
            }
        )
    bulk.insert_rows(session, InboundMail.__tablename__, rows)
