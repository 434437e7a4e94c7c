"""A folder of a configured mailbox imported as an archive, against a real Dovecot: picked from
the server's folders, read read-only with provenance, PDF attachments searchable, resumed by
UID, carried across a dropped connection, refused when the folder was re-created."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from crm_app.db import session_scope
from crm_app.services import archives
from crm_app.services.archives import imap as archive_imap
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied
from jobs import pst_ingest
from models.archive import Archive, ArchiveItemError, ArchiveSource
from models.retrieval import RetrievalChunk, RetrievalDocument, SourceKind
from tests.factories import first_manager, make_user
from tests.ingest.test_attachment_text import pdf_with_pages
from tests.mail_servers import CuttingProxy, make_mailbox, simple_message

FOLDER = "Desk archive 2019"  # a space and digits: quoted in the path


def _message(n: int) -> bytes:
    return simple_message(
        sender=f"client{n}@bank.example",
        to="desk@firm.example",
        subject=f"Portfolio question {n}",
        body=f"Question number {n} about rebalancing the bond ladder.",
        message_id=f"<archived-{n}@bank.example>",
    )


def _with_pdf() -> bytes:
    mail = EmailMessage()
    mail["From"] = "ops@bank.example"
    mail["To"] = "desk@firm.example"
    mail["Subject"] = "Tax certificate"
    mail["Message-ID"] = "<tax-certificate@bank.example>"
    mail["Date"] = "Tue, 01 Dec 2026 09:00:00 +0000"
    mail.set_content("Please find the certificate attached.")
    pdf = pdf_with_pages("Withholding tax certificate for account holder", "Treaty rate 15")
    mail.add_attachment(pdf, maintype="application", subtype="pdf", filename="certificate.pdf")
    return mail.as_bytes()


def _archive(archive_id: int) -> Archive:
    with session_scope() as session:
        return session.get(Archive, archive_id)


def _documents() -> list[RetrievalDocument]:
    with session_scope() as session:
        return list(
            session.execute(
                select(RetrievalDocument).where(
                    RetrievalDocument.source_kind == SourceKind.ARCHIVE_MESSAGE
                )
            ).scalars()
        )


@pytest.fixture
def folder_box(mail_account, dovecot):
    dovecot.append(mail_account, [_message(n) for n in range(6)] + [_with_pdf()], folder=FOLDER)
    dovecot.append(mail_account, [_message(100)])  # INBOX
    return mail_account, make_mailbox(mail_account)


def test_a_manager_picks_a_folder_and_its_mail_becomes_knowledge_without_being_marked_seen(
    folder_box,
):
    account, mailbox_id = folder_box
    manager = first_manager()
    assert (mailbox_id, f"Client service <{account.user}>") in archive_imap.imap_mailboxes(manager)
    folders = {f.name: f.messages for f in archive_imap.mailbox_folders(manager, mailbox_id)}
    assert folders["INBOX"] == 1 and folders[FOLDER] == 7

    archive_id = archive_imap.queue_imap_folder(manager, mailbox_id, FOLDER, label="Desk 2019")
    queued = _archive(archive_id)
    assert queued.source == ArchiveSource.IMAP and queued.file_name.endswith(f"· {FOLDER}")
    assert queued.bytes_total > 0
    [result] = pst_ingest.drain(only=[archive_id])
    assert result.status == "done"
    done = _archive(archive_id)
    assert (done.messages, done.duplicates, done.errors) == (7, 0, 0)
    assert done.resume_position > 7  # positions are UIDs: resumed after the last one
    docs = _documents()
    assert {d.meta["folder"] for d in docs} == {FOLDER}
    assert {d.title for d in docs} >= {"Portfolio question 0", "Tax certificate"}
    with session_scope() as session:
        texts = session.execute(select(RetrievalChunk.text)).scalars().all()
    assert any("Withholding tax certificate" in t for t in texts)  # the PDF's text
    client = account.client()
    try:
        client.select_folder(FOLDER, readonly=True)
        assert client.search(["UNSEEN"]) == client.search(["ALL"])  # nothing marked seen
    finally:
        client.logout()


def test_a_resumed_folder_import_reads_only_the_uids_after_the_last_committed_one(folder_box):
    _, mailbox_id = folder_box
    archive_id = archive_imap.queue_imap_folder(first_manager(), mailbox_id, FOLDER)
    with session_scope() as session:
        session.get(Archive, archive_id).resume_position = 5  # UIDs 1-4 committed before a kill
    pst_ingest.drain(only=[archive_id])
    assert _archive(archive_id).messages == 3
    assert sorted(d.title for d in _documents()) == [
        "Portfolio question 4",
        "Portfolio question 5",
        "Tax certificate",
    ]


def test_a_dropped_connection_is_reopened_and_no_message_is_lost_or_doubled(
    mail_account, dovecot, monkeypatch
):
    from jobs import archive_imap as reader

    dovecot.append(mail_account, [_message(n) for n in range(120)], folder=FOLDER)
    proxy = CuttingProxy(mail_account.port)
    try:
        mailbox_id = make_mailbox(mail_account, imap_port=proxy.port)
        archive_id = archive_imap.queue_imap_folder(first_manager(), mailbox_id, FOLDER)
        monkeypatch.setattr(reader, "RECONNECT_PAUSE_SECONDS", 0.05)
        proxy.cut_after(40_000)  # mid-way through the bodies
        [result] = pst_ingest.drain(only=[archive_id])
        assert proxy.cuts == 1
    finally:
        proxy.close()
    assert result.status == "done"
    archive = _archive(archive_id)
    assert (archive.messages, archive.duplicates, archive.errors) == (120, 0, 0)
    titles = [d.title for d in _documents()]
    assert len(titles) == len(set(titles)) == 120


def test_a_folder_re_created_since_it_was_queued_ends_with_a_clear_error(folder_box):
    _, mailbox_id = folder_box
    archive_id = archive_imap.queue_imap_folder(first_manager(), mailbox_id, FOLDER)
    with session_scope() as session:
        archive = session.get(Archive, archive_id)
        source = archive_imap.parse_imap_path(archive.path)
        archive.path = archive_imap.ImapFolderSource(
            source.mailbox_id, source.uidvalidity + 1, source.folder
        ).path
    [result] = pst_ingest.drain(only=[archive_id])
    assert result.status == "failed"
    assert "re-created on the server" in _archive(archive_id).error
    assert _archive(archive_id).messages == 0
    with session_scope() as session:
        fatal = session.execute(
            select(func.count()).where(
                ArchiveItemError.archive_id == archive_id, ArchiveItemError.fatal.is_(True)
            )
        ).scalar_one()
    assert fatal == 1


def test_folder_import_checks_who_asks_and_what_they_name(folder_box):
    _, mailbox_id = folder_box
    agent = make_user("agent")
    with pytest.raises(PermissionDenied):
        archive_imap.mailbox_folders(agent, mailbox_id)
    with pytest.raises(PermissionDenied):
        archive_imap.queue_imap_folder(agent, mailbox_id, FOLDER)
    archives.set_agents_may_import(first_manager(), True)
    assert archive_imap.queue_imap_folder(agent, mailbox_id, FOLDER) > 0  # all staff: allowed
    with pytest.raises(PermissionDenied):
        archive_imap.queue_imap_folder(agent, mailbox_id, FOLDER, confidential=True)
    with pytest.raises(NotFound):
        archive_imap.mailbox_folders(first_manager(), mailbox_id + 999)
    with pytest.raises(InvalidInput, match="cannot be opened"):
        archive_imap.queue_imap_folder(first_manager(), mailbox_id, "No such folder")
    with pytest.raises(InvalidInput):
        archive_imap.queue_imap_folder(first_manager(), mailbox_id, "")
