"""A folder of a configured mailbox, imported as an archive: the folders a manager may pick,
and queueing one for the ingest job (which reads it with `jobs/archive_imap.py`).

The archive's `path` names the folder as `imap://<mailbox id>/<UIDVALIDITY>/<folder>` (the
folder percent-encoded). The UIDVALIDITY is the folder's when it was queued: the job refuses to
go on if the server has since re-created the folder (its UIDs then name other messages), so a
resumed import never skips or repeats a message. Positions in the archive are UIDs.

The folder is read read-only (`EXAMINE`, `BODY.PEEK[]`): importing an archive never marks mail
seen, moves it or changes the mailbox's own polling position.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from imapclient.exceptions import IMAPClientError

from crm_app.auth.permissions import Actor
from crm_app.db import session_scope
from crm_app.services.archives.actions import add_archive
from crm_app.services.archives.policy import _require_archive_manager
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.mail import imap_client
from crm_app.services.mail.imap_client import ImapAccount, MailConnectionError
from models.archive import ArchiveSource
from models.mailbox import Mailbox

IMAP_SCHEME = "imap://"
MAX_FOLDERS = 500  # listed for the picker; a mailbox with more is unusual
SIZE_FETCH_BATCH = 2000


@dataclass(frozen=True, slots=True)
class ImapFolderSource:
    mailbox_id: int
    uidvalidity: int
    folder: str

    @property
    def path(self) -> str:
        return f"{IMAP_SCHEME}{self.mailbox_id}/{self.uidvalidity}/{quote(self.folder, safe='')}"


@dataclass(frozen=True, slots=True)
class FolderChoice:
    name: str
    messages: int


def is_imap_path(path: str) -> bool:
    return path.startswith(IMAP_SCHEME)


def parse_imap_path(path: str) -> ImapFolderSource:
    """The mailbox, UIDVALIDITY and folder an archive's path names. Raises ValueError."""
    if not is_imap_path(path):
        raise ValueError("not a mailbox folder")
    mailbox_id, uidvalidity, folder = path[len(IMAP_SCHEME) :].split("/", 2)
    return ImapFolderSource(int(mailbox_id), int(uidvalidity), unquote(folder))


def mailbox_account(mailbox_id: int) -> tuple[str, ImapAccount]:
    """(the mailbox's address, its decrypted IMAP account); for this module and the job."""
    from crm_app.services.mailboxes.connection import _imap_account

    with session_scope() as session:
        box = session.get(Mailbox, mailbox_id)
        if box is None or not box.imap_host:
            raise NotFound("That mailbox does not exist or has no IMAP server.")
        return box.address, _imap_account(box)


def imap_mailboxes(actor: Actor | None) -> list[tuple[int, str]]:
    """(id, "name <address>") of the mailboxes with an IMAP server, for the picker."""
    from sqlalchemy import select
    from sqlmodel import col

    with session_scope() as session:
        _require_archive_manager(session, actor)
        rows = session.execute(
            select(col(Mailbox.id), col(Mailbox.name), col(Mailbox.address))
            .where(col(Mailbox.imap_host) != "")
            .order_by(col(Mailbox.name), col(Mailbox.id))
        ).all()
    return [(row.id, f"{row.name} <{row.address}>" if row.name else row.address) for row in rows]


def mailbox_folders(actor: Actor | None, mailbox_id: int) -> list[FolderChoice]:
    """The folders of a mailbox that hold mail, with their message counts (asks the server)."""
    with session_scope() as session:
        _require_archive_manager(session, actor)
    _, account = mailbox_account(mailbox_id)
    try:
        client = imap_client.connect(account, timeout=20.0)
    except MailConnectionError as error:
        raise InvalidInput(str(error)) from error
    try:
        choices = []
        for flags, _delimiter, name in client.list_folders()[:MAX_FOLDERS]:
            if b"\\Noselect" in flags or b"\\NonExistent" in flags:
                continue
            status = client.folder_status(name, [b"MESSAGES"])
            choices.append(FolderChoice(str(name), int(status.get(b"MESSAGES", 0))))
        return sorted(choices, key=lambda c: (c.name.upper() != "INBOX", c.name.lower()))
    except (OSError, IMAPClientError) as error:
        raise InvalidInput(f"The IMAP server stopped answering: {error}") from error
    finally:
        imap_client.disconnect(client)


def queue_imap_folder(
    actor: Actor | None,
    mailbox_id: int,
    folder: str,
    *,
    label: str = "",
    client_id: int | None = None,
    confidential: bool = False,
) -> int:
    """Queue one folder of a mailbox for the ingest job; returns the archive id. The folder is
    opened read-only now, for its UIDVALIDITY and the size of what it holds (the progress bar)."""
    folder = str(folder or "").strip()
    if not folder or len(folder) > 500:
        raise InvalidInput("Pick a folder of the mailbox.")
    with session_scope() as session:
        actor = _require_archive_manager(session, actor)
    address, account = mailbox_account(mailbox_id)
    try:
        client = imap_client.connect(account, timeout=30.0)
    except MailConnectionError as error:
        raise InvalidInput(str(error)) from error
    try:
        try:
            info = client.select_folder(folder, readonly=True)
        except IMAPClientError as error:
            raise InvalidInput(f"The folder “{folder}” cannot be opened: {error}") from error
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        uids = client.search(["ALL"])
        total = 0
        for start in range(0, len(uids), SIZE_FETCH_BATCH):
            sizes = client.fetch(uids[start : start + SIZE_FETCH_BATCH], ["RFC822.SIZE"])
            total += sum(int(item.get(b"RFC822.SIZE", 0)) for item in sizes.values())
    except (OSError, IMAPClientError) as error:
        raise InvalidInput(f"The IMAP server stopped answering: {error}") from error
    finally:
        imap_client.disconnect(client)
    source = ImapFolderSource(mailbox_id, uidvalidity, folder)
    with session_scope() as session:
        return add_archive(
            session,
            actor,
            source=ArchiveSource.IMAP,
            path=source.path,
            file_name=f"{address} · {folder}"[:300],
            bytes_total=max(total, 1),
            label=label,
            client_id=client_id,
            confidential=confidential,
        )
