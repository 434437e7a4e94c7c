"""Reading a mailbox folder queued as an archive (`crm_app/services/archives/imap.py`) for the
`pst_ingest` job: (position, record, bytes read so far) like a file's walk, where a position is
the message's UID.

- Read-only: the folder is EXAMINEd and bodies fetched with `BODY.PEEK[]`.
- Resumable: the walk starts at the first UID the job has not committed (`start`); the folder's
  UIDVALIDITY must still be the one recorded when it was queued, or the import ends with an
  error that says to queue it again (the UIDs would name other messages).
- A dropped connection is reopened (a few times, with a pause) and the walk goes on after the
  last message handed out; a server that stays away ends the import with the reason.
- A message larger than `CRM_MAIL_MAX_MESSAGE_MB` is recorded as skipped without being fetched;
  one that cannot be parsed becomes an item error, like a damaged message in a file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

FETCH_BATCH = 25  # messages per UID FETCH
FETCH_BATCH_BYTES = 8 << 20  # and at most about this much mail per FETCH
RECONNECTS = 3
RECONNECT_PAUSE_SECONDS = 2.0


class FolderChanged(Exception):
    pass


def iter_imap_positions(path: str, sink: Any, start: int) -> Iterator[tuple[int, Any, int]]:
    from imapclient.exceptions import IMAPClientError

    from crm_app.services.archives.imap import mailbox_account, parse_imap_path
    from crm_app.services.errors import ServiceError
    from crm_app.services.mail import imap_client
    from crm_app.settings import get_settings
    from ingest.mime import parse_mime
    from ingest.model import ItemError, Provenance, SourceKind

    source = parse_imap_path(path)
    try:
        address, account = mailbox_account(source.mailbox_id)
    except ServiceError as error:  # the mailbox was removed since the folder was queued
        no_where = Provenance(path, SourceKind.MIME, folder=source.folder)
        yield start, ItemError(error.message, no_where, fatal_for_file=True), 0
        return
    where = f"{address}/{source.folder}"
    max_bytes = get_settings().mail_max_message_bytes

    def provenance(uid: int | None) -> Provenance:
        return Provenance(where, SourceKind.MIME, folder=source.folder, position=uid)

    def _record(raw: bytes | None, uid: int) -> Any:
        if raw is None:
            return ItemError("gone from the folder while it was read", provenance(uid))
        try:
            return parse_mime(raw, source=where, folder=source.folder, position=uid, sink=sink)
        except Exception as exc:  # IngestError, or anything a hostile mail provokes
            return ItemError(getattr(exc, "reason", repr(exc))[:300], provenance(uid))

    def fatal(message: str) -> tuple[int, Any, int]:
        return start, ItemError(message, provenance(None), fatal_for_file=True), 0

    next_uid, failures = start, 0
    while True:
        client = None
        try:
            client = imap_client.connect(account, timeout=60.0)
            info = client.select_folder(source.folder, readonly=True)
            if int(info.get(b"UIDVALIDITY", 0)) != source.uidvalidity:
                raise FolderChanged
            uids = sorted(client.search(["ALL"]))
            sizes = _sizes(client, uids)
            done = sum(size for uid, size in sizes.items() if uid < next_uid)
            todo = [uid for uid in uids if uid >= next_uid]
            for batch in _batches(todo, sizes, max_bytes):
                if sizes.get(batch[0], 0) > max_bytes:  # a batch of one, not fetched
                    done += sizes[batch[0]]
                    yield (
                        batch[0],
                        ItemError("message too large, skipped", provenance(batch[0])),
                        done,
                    )
                    next_uid, failures = batch[0] + 1, 0
                    continue
                fetched = client.fetch(batch, ["BODY.PEEK[]"])
                for uid in batch:
                    done += sizes.get(uid, 0)
                    yield uid, _record(fetched.get(uid, {}).get(b"BODY[]"), uid), done
                    next_uid, failures = uid + 1, 0
            return
        except FolderChanged:
            yield fatal(
                f"The folder “{source.folder}” was re-created on the server since this import "
                "was queued (its UIDVALIDITY changed): remove this archive and queue the folder "
                "again."
            )
            return
        except imap_client.MailConnectionError as error:
            failures += 1
            if failures > RECONNECTS:
                yield fatal(str(error))
                return
        except (OSError, IMAPClientError) as error:
            failures += 1
            log.warning(
                "archive folder read interrupted", extra={"folder": where, "error": str(error)}
            )
            if failures > RECONNECTS:
                yield fatal(f"The IMAP server {account.host} stopped answering: {error}")
                return
        finally:
            if client is not None:
                imap_client.disconnect(client)
        time.sleep(RECONNECT_PAUSE_SECONDS * failures)


def _sizes(client: Any, uids: list[int]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for start in range(0, len(uids), 2000):
        found = client.fetch(uids[start : start + 2000], ["RFC822.SIZE"])
        sizes.update({uid: int(item.get(b"RFC822.SIZE", 0)) for uid, item in found.items()})
    return sizes


def _batches(uids: list[int], sizes: dict[int, int], max_bytes: int) -> Iterator[list[int]]:
    """UIDs to fetch together, in UID order; a message too large to fetch is a batch of its
    own (the caller records it as skipped), so every UID is handed out in order."""
    batch: list[int] = []
    weight = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (
            size > max_bytes or len(batch) >= FETCH_BATCH or weight + size > FETCH_BATCH_BYTES
        ):
            yield batch
            batch, weight = [], 0
        if size > max_bytes:
            yield [uid]
            continue
        batch.append(uid)
        weight += size
    if batch:
        yield batch
