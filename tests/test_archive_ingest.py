"""The ingest job: archives become documents with provenance, known mail is linked not stored,
damaged files end with a clear error, and a killed import resumes without duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bench.archive import write_mbox
from crm_app.auth.permissions import SYSTEM
from crm_app.db import session_scope
from crm_app.services import archives
from jobs import pst_ingest, pst_ingest_reading
from models.archive import Archive, ArchiveItemError, ArchiveMessage
from models.retrieval import RetrievalChunk, RetrievalDocument, SourceKind
from tests.factories import make_client, make_ticket, make_user

SAMPLE_PST = Path(__file__).resolve().parent / "data" / "pst" / "outlook-sample.pst"
ROOT = Path(__file__).resolve().parent.parent


def _archive(archive_id: int) -> Archive:
    with session_scope() as session:
        return session.get(Archive, archive_id)


def _count(model, *where) -> int:
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _archive_docs() -> int:
    return _count(RetrievalDocument, RetrievalDocument.source_kind == SourceKind.ARCHIVE_MESSAGE)


def test_sample_pst_and_mbox_are_stored_with_provenance_chunks_and_vectors(db, tmp_path):
    mbox = tmp_path / "desk.mbox"
    write_mbox(mbox, 12)
    pst_id = archives.queue_archive(SYSTEM, SAMPLE_PST, label="Outlook sample")
    mbox_id = archives.queue_archive(SYSTEM, mbox, label="Desk")
    results = pst_ingest.drain(only=[pst_id, mbox_id])
    assert [r.status for r in results] == ["done", "done"]
    pst, box = _archive(pst_id), _archive(mbox_id)
    # 11 mails, of which the Sent Items copies with the same Message-ID are linked.
    assert pst.messages + pst.duplicates == 11 and pst.messages >= 6
    assert pst.skipped == 3 and pst.attachments == 34 and pst.errors == 0
    assert (box.messages, box.duplicates) == (12, 0)
    with session_scope() as session:
        doc = session.execute(
            select(RetrievalDocument).where(RetrievalDocument.title == "Multiple attachments")
        ).scalar_one()
        assert doc.meta["folder"] == "Top of Personal Folders/Inbox"
        assert doc.meta["message_id"].startswith("<003c01cc306e")
        assert doc.participants == ["saqib.razzaq@xp.local"]
        assert doc.occurred_at.year == 2011
        assert doc.link == f"/knowledge/messages/{doc.id}"
        texts = session.execute(
            select(RetrievalChunk.text).where(RetrievalChunk.document_id == doc.id)
        ).scalars()
        # The text attachment's words are searchable too.
        assert any("this is a text file" in t for t in texts)
        missing = session.execute(
            select(func.count()).where(RetrievalChunk.embedding.is_(None))
        ).scalar_one()
        assert missing == 0


def test_importing_the_same_file_twice_stores_nothing_new(db, tmp_path):
    mbox = tmp_path / "twice.mbox"
    write_mbox(mbox, 8)
    first = archives.queue_archive(SYSTEM, mbox)
    pst_ingest.drain(only=[first])
    documents, chunks = _archive_docs(), _count(RetrievalChunk)
    second = archives.queue_archive(SYSTEM, mbox)
    pst_ingest.drain(only=[second])
    assert (_archive(second).messages, _archive(second).duplicates) == (0, 8)
    assert (_archive_docs(), _count(RetrievalChunk)) == (documents, chunks)
    assert _count(ArchiveMessage, ArchiveMessage.archive_id == second) == 8


def test_message_already_in_live_mail_is_linked_not_stored(db, tmp_path):
    from models.ticket import Ticket, TicketMessage

    manager = make_user("manager")
    number = make_ticket(manager, make_client(manager))
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
        message = session.execute(
            select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
        ).scalar_one()
        message.external_message_id = "<gen-0-3@bank.example>"
        live_id = message.id
    mbox = tmp_path / "live.mbox"
    write_mbox(mbox, 5)
    archive_id = archives.queue_archive(SYSTEM, mbox)
    pst_ingest.drain(only=[archive_id])
    assert (_archive(archive_id).messages, _archive(archive_id).duplicates) == (4, 1)
    with session_scope() as session:
        link = session.execute(
            select(ArchiveMessage).where(ArchiveMessage.position == 3)
        ).scalar_one()
        assert (link.ticket_message_id, link.document_id, link.stored) == (live_id, None, False)


def test_truncated_pst_fails_clearly_and_keeps_messages_read_before(db, tmp_path):
    truncated = tmp_path / "truncated.pst"
    truncated.write_bytes(SAMPLE_PST.read_bytes()[:1_200_000])
    archive_id = archives.queue_archive(SYSTEM, truncated)
    pst_ingest.drain(only=[archive_id])
    archive = _archive(archive_id)
    assert archive.errors > 0 or archive.status == "failed"
    assert _count(ArchiveItemError, ArchiveItemError.archive_id == archive_id) == archive.errors
    # What could be read is kept and searchable.
    assert _count(ArchiveMessage, ArchiveMessage.archive_id == archive_id) == (
        archive.messages + archive.duplicates
    )


def test_corrupt_file_ends_with_a_clear_error_on_that_archive(db, tmp_path):
    corrupt = tmp_path / "corrupt.pst"
    corrupt.write_bytes(b"\x00\x01garbage" * 5000)
    good = tmp_path / "good.mbox"
    write_mbox(good, 3)
    bad_id = archives.queue_archive(SYSTEM, corrupt)
    good_id = archives.queue_archive(SYSTEM, good)
    pst_ingest.drain(only=[bad_id, good_id])
    bad = _archive(bad_id)
    assert bad.status == "failed"
    assert "not a PST/OST file" in bad.error
    assert _archive(good_id).status == "done" and _archive(good_id).messages == 3


def test_truncated_mbox_keeps_every_whole_message(db, tmp_path):
    mbox = tmp_path / "cut.mbox"
    write_mbox(mbox, 6)
    data = mbox.read_bytes()
    mbox.write_bytes(data[: len(data) - 200])  # the last message loses its end
    archive_id = archives.queue_archive(SYSTEM, mbox)
    pst_ingest.drain(only=[archive_id])
    archive = _archive(archive_id)
    assert archive.status == "done"
    assert archive.messages == 6  # a cut body is still a message: kept with what it has


_CHILD = """
import sys
from jobs import pst_ingest
pst_ingest.drain(only=[int(sys.argv[1])])
"""


def test_import_killed_mid_way_resumes_without_duplicates(db, tmp_path):
    mbox = tmp_path / "big.mbox"
    total = write_mbox(mbox, 400)
    archive_id = archives.queue_archive(SYSTEM, mbox)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(archive_id)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _archive(archive_id).resume_position == 0:
            time.sleep(0.2)
        assert _archive(archive_id).resume_position > 0, "the child never committed a batch"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    killed_at = _archive(archive_id)
    assert killed_at.status == "running" and killed_at.resume_position < total
    pst_ingest.drain(only=[archive_id])  # the dead worker's lock is gone: taken over at once
    archive = _archive(archive_id)
    assert archive.status == "done"
    assert (archive.messages, archive.duplicates) == (total, 0)
    assert _count(ArchiveMessage, ArchiveMessage.archive_id == archive_id) == total
    assert _archive_docs() == total
    with session_scope() as session:
        doubled = session.execute(
            text(
                "SELECT count(*) FROM (SELECT document_id, chunk_index FROM retrieval_chunk "
                "GROUP BY 1, 2 HAVING count(*) > 1) d"
            )
        ).scalar_one()
    assert doubled == 0


def test_running_import_is_not_claimed_by_a_second_worker(db, tmp_path):
    from crm_app.db import get_engine

    mbox = tmp_path / "one.mbox"
    write_mbox(mbox, 2)
    archive_id = archives.queue_archive(SYSTEM, mbox)
    engine = get_engine()
    first, second, third = (
        engine.connect().execution_options(isolation_level="AUTOCOMMIT") for _ in range(3)
    )
    assert pst_ingest.claim_next(first) == archive_id
    assert pst_ingest.claim_next(second) is None
    first.invalidate()  # its connection gone, as when a worker dies
    assert pst_ingest.claim_next(third) == archive_id
    for conn in (first, second, third):
        conn.invalidate()
        conn.close()


def test_cancel_and_delete_remove_documents_chunks_and_vectors_with_an_audit(db, tmp_path):
    from models.audit import AuditLog

    manager = make_user("manager")
    mbox = tmp_path / "gone.mbox"
    write_mbox(mbox, 4)
    keep = tmp_path / "kept.mbox"
    write_mbox(keep, 2)  # the first two messages again: shared with the first archive
    first = archives.queue_archive(manager, mbox)
    pst_ingest.drain(only=[first])
    second = archives.queue_archive(manager, keep)
    pst_ingest.drain(only=[second])
    assert _archive(second).duplicates == 2
    queued = archives.queue_archive(manager, keep)
    assert archives.cancel_archive(manager, queued) == "cancelled"
    result = archives.delete_archive(manager, first)
    assert result == {"documents": 2, "chunks": result["chunks"], "kept_for_other_archives": 2}
    assert _archive_docs() == 2  # the two the other archive also holds stay
    with session_scope() as session:
        orphans = session.execute(
            text(
                "SELECT count(*) FROM retrieval_chunk c LEFT JOIN retrieval_document d "
                "ON d.id = c.document_id WHERE d.id IS NULL"
            )
        ).scalar_one()
        assert orphans == 0
        entry = session.execute(
            select(AuditLog).where(AuditLog.action == "archive.delete")
        ).scalar_one()
        assert entry.entity_id == first and entry.actor_id == manager.user_id
        assert (
            session.execute(
                select(func.count()).where(
                    ArchiveMessage.archive_id == second, ArchiveMessage.stored
                )
            ).scalar_one()
            == 2
        )


def test_agent_may_import_only_when_a_manager_allows_it(db, tmp_path):
    from crm_app.services.errors import PermissionDenied

    manager, agent = make_user("manager"), make_user("agent")
    mbox = tmp_path / "agent.mbox"
    write_mbox(mbox, 1)
    with pytest.raises(PermissionDenied):
        archives.queue_archive(agent, mbox)
    archives.set_agents_may_import(manager, True)
    assert archives.queue_archive(agent, mbox, source="upload") > 0
    with pytest.raises(PermissionDenied):
        archives.queue_archive(agent, mbox, source="upload", confidential=True)
    with pytest.raises(PermissionDenied):  # the server's disk is for managers alone
        archives.queue_archive(agent, mbox)


def test_import_archive_command_twice_stores_nothing_new(db, tmp_path):
    mbox = tmp_path / "cli.mbox"
    write_mbox(mbox, 5)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "crm_app.cli", "import-archive", str(mbox), "--json"]
    runs = [
        subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        for _ in range(2)
    ]
    summaries = [json.loads(run.stdout.strip().splitlines()[-1]) for run in runs]
    assert runs[0].returncode == 0, runs[0].stderr[-2000:]
    assert summaries[0] == {"files": 1, "messages_stored": 5, "duplicates_linked": 0, "errors": 0}
    assert summaries[1] == {"files": 1, "messages_stored": 0, "duplicates_linked": 5, "errors": 0}
    per_file = json.loads(runs[0].stdout.strip().splitlines()[0])
    assert per_file["file"] == str(mbox) and per_file["status"] == "done"


def test_password_protected_pst_ends_with_a_clear_error(db, monkeypatch):
    # Normally run in a child process (pypff is C); called directly here.
    assert pst_ingest_reading._inspect_pst(str(SAMPLE_PST)) == (14, False)
    monkeypatch.setattr(pst_ingest_reading.Readers, "pst_items", lambda self, path: (14, True))
    archive_id = archives.queue_archive(SYSTEM, SAMPLE_PST)
    pst_ingest.drain(only=[archive_id])
    archive = _archive(archive_id)
    assert archive.status == "failed" and archive.error == pst_ingest.PASSWORD_MESSAGE
    assert "password" in archive.error and archive.messages == 0


def test_an_mbox_reader_child_that_dies_ends_the_file_with_a_clear_error(db, tmp_path):
    """mbox files are parsed in a child process (so parsing and embedding overlap): when that
    child dies mid-file, the records read so far stand and the file ends with a fatal error
    that says so, instead of a hang or a silent short read."""

    from ingest.model import ItemError, Message

    mbox = tmp_path / "big.mbox"
    write_mbox(mbox, 400)
    sink = pst_ingest_reading.TextAttachmentSink(tmp_path / "scratch")
    readers = pst_ingest_reading.Readers()
    records = pst_ingest_reading.iter_positions(mbox, sink, 0, readers)
    first = [next(records) for _ in range(3)]
    assert [p for p, _, _ in first] == [0, 1, 2]
    assert all(isinstance(r, Message) for _, r, _ in first)
    assert readers._mbox is not None
    child = readers._mbox.process  # the mbox child this read started
    assert child.is_alive()
    os.kill(child.pid, signal.SIGKILL)
    rest = list(records)
    assert rest, "the end of the file is reported"
    position, last, _ = rest[-1]
    assert isinstance(last, ItemError) and last.fatal_for_file
    assert "mbox reader stopped (exit code -9)" in last.message
    assert all(isinstance(r, Message) for _, r, _ in rest[:-1])
    assert position == 3 + len(rest) - 1  # the error sits right after the last record read
    assert len(rest) - 1 < 397  # the child died before it could read the whole file
    assert not child.is_alive() and readers._mbox is None


def test_the_mbox_child_resumes_at_a_position_is_reused_and_replaced_when_left_midway(db, tmp_path):
    mbox = tmp_path / "resume.mbox"
    write_mbox(mbox, 8)
    sink = pst_ingest_reading.TextAttachmentSink(tmp_path / "scratch")
    readers = pst_ingest_reading.Readers()
    try:
        whole = list(pst_ingest_reading.iter_positions(mbox, sink, 0, readers))
        assert readers._mbox is not None
        child = readers._mbox.process
        tail = list(pst_ingest_reading.iter_positions(mbox, sink, 5, readers))
        assert readers._mbox.process is child and child.is_alive()  # one child for the drain
        assert [p for p, _, _ in whole] == list(range(8))
        assert [p for p, _, _ in tail] == [5, 6, 7]
        assert [r.message_id for _, r, _ in tail] == [r.message_id for _, r, _ in whole[5:]]
        assert whole[-1][2] == mbox.stat().st_size
        # Left after two records (a cancel): that child is out of step, so it goes.
        left = pst_ingest_reading.iter_positions(mbox, sink, 0, readers)
        assert [next(left)[0], next(left)[0]] == [0, 1]
        left.close()
        assert not child.is_alive()
        again = list(pst_ingest_reading.iter_positions(mbox, sink, 6, readers))
        assert [r.message_id for _, r, _ in again] == [r.message_id for _, r, _ in whole[6:]]
        assert readers._mbox is not None
        second = readers._mbox.process
        assert second is not child and second.is_alive()
    finally:
        readers.close()
    assert not second.is_alive() and readers._mbox is None


def test_read_ahead_never_claims_again_an_archive_its_connection_holds(db, tmp_path):
    """A session's advisory lock is re-entrant: the connection that holds an archive would
    win its lock again, so the claim for the next archive must skip those it holds."""
    from crm_app.db import get_engine

    ids = []
    for name in ("first", "second"):
        mbox = tmp_path / f"{name}.mbox"
        write_mbox(mbox, 1)
        ids.append(archives.queue_archive(SYSTEM, mbox))
    conn = get_engine().connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        assert pst_ingest.claim_next(conn) == ids[0]
        assert pst_ingest.claim_next(conn) == ids[0]  # the re-entrant lock, without `held`
        assert pst_ingest.claim_next(conn, held={ids[0]}) == ids[1]
        assert pst_ingest.claim_next(conn, held=set(ids)) is None
    finally:
        conn.invalidate()
        conn.close()


def _doubled_chunks() -> int:
    with session_scope() as session:
        return session.execute(
            text(
                "SELECT count(*) FROM (SELECT document_id, chunk_index FROM retrieval_chunk "
                "GROUP BY 1, 2 HAVING count(*) > 1) d"
            )
        ).scalar_one()


def test_import_killed_while_the_next_archive_is_read_ahead_resumes_both_exactly_once(db, tmp_path):
    first, second = tmp_path / "first.mbox", tmp_path / "second.mbox"
    total = write_mbox(first, 300)
    assert write_mbox(second, 300, start=10_000) == total
    ids = [archives.queue_archive(SYSTEM, path) for path in (first, second)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD_MANY, *map(str, ids)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (
            _archive(ids[0]).resume_position > 0 and _archive(ids[1]).started_at is not None
        ):
            time.sleep(0.1)
        ahead = _archive(ids[1])
        assert ahead.started_at is not None, "the second archive was never read ahead"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert _archive(ids[0]).resume_position < total  # killed while the first was embedded
    assert [_archive(i).status for i in ids] == ["running", "running"]
    results = pst_ingest.drain(only=ids)  # both locks died with the child: both resumed
    assert [r.status for r in results] == ["done", "done"]
    for archive_id in ids:
        archive = _archive(archive_id)
        assert (archive.messages, archive.duplicates) == (total, 0)
        assert _count(ArchiveMessage, ArchiveMessage.archive_id == archive_id) == total
    assert _archive_docs() == 2 * total
    assert _doubled_chunks() == 0


_CHILD_MANY = """
import sys
from jobs import pst_ingest
pst_ingest.drain(only=[int(a) for a in sys.argv[1:]])
"""


def test_cancel_during_a_pipelined_import_stops_that_archive_and_the_next_is_imported(db, tmp_path):
    manager = make_user("manager")
    first, second = tmp_path / "first.mbox", tmp_path / "second.mbox"
    total = write_mbox(first, 400)
    write_mbox(second, 20, start=10_000)
    ids = [archives.queue_archive(manager, path) for path in (first, second)]
    asked: list[int] = []

    def progress(archive_id: int, *_: int) -> None:
        if archive_id == ids[0] and not asked:  # after the first committed batch
            asked.append(archives.cancel_archive(manager, archive_id) == "running")

    results = pst_ingest.drain(only=ids, progress=progress)
    assert asked == [True]
    assert [r.status for r in results] == ["cancelled", "done"]
    cancelled = _archive(ids[0])
    assert cancelled.status == "cancelled" and cancelled.messages < total
    assert _count(ArchiveMessage, ArchiveMessage.archive_id == ids[0]) == cancelled.messages
    assert _archive(ids[1]).messages == 20
    # Its lock is given back: it can be deleted, with what it had stored.
    assert archives.delete_archive(manager, ids[0])["documents"] == cancelled.messages
    assert _archive_docs() == 20


def test_each_archive_reports_the_seconds_of_its_read_embed_and_write_stages(db, tmp_path):
    mbox = tmp_path / "stages.mbox"
    write_mbox(mbox, 40)
    [result] = pst_ingest.drain(only=[archives.queue_archive(SYSTEM, mbox)])
    assert result.status == "done" and result.messages_stored == 40
    assert set(result.stage_seconds) == {"read", "embed", "write"}
    assert all(seconds > 0 for seconds in result.stage_seconds.values())
