"""PST/OST reading through pypff in a child process."""

from __future__ import annotations

import faulthandler
import shutil
from datetime import UTC, datetime

import pypff

from ingest import ItemError, Message, NonMailItem, PstReader, iter_pst, pst_child

from .conftest import SAMPLE_PST


def _bare_pypff_counts(path) -> tuple[int, int, int]:
    """(mail items, attachments on them, other items) as bare pypff sees them."""
    pst = pypff.file()
    pst.open(str(path))
    mails = attachments = others = 0
    stack = [pst.get_root_folder()]
    while stack:
        folder = stack.pop()
        for index in range(folder.number_of_sub_messages):
            item = folder.get_sub_message(index)
            props = {e.entry_type: e for e in item.get_record_set(0).entries}
            item_class = props[0x1A].data_as_string if 0x1A in props else ""
            if isinstance(item, pypff.message) and item_class.startswith("IPM.Note"):
                mails += 1
                attachments += item.number_of_attachments
            else:
                others += 1
        stack.extend(folder.get_sub_folder(i) for i in range(folder.number_of_sub_folders))
    pst.close()
    return mails, attachments, others


def test_sample_pst_counts_match_bare_pypff():
    records = list(iter_pst(SAMPLE_PST))
    messages = [r for r in records if isinstance(r, Message)]
    others = [r for r in records if isinstance(r, NonMailItem)]
    assert not [r for r in records if isinstance(r, ItemError)]
    assert (len(messages), sum(len(m.attachments) for m in messages), len(others)) == (
        _bare_pypff_counts(SAMPLE_PST)
    )
    assert len(messages) == 11


def test_folder_paths_transport_headers_and_times_are_kept():
    messages = [r for r in iter_pst(SAMPLE_PST) if isinstance(r, Message)]
    inbox = [m for m in messages if m.provenance.folder == "Top of Personal Folders/Inbox"]
    sent = [m for m in messages if m.provenance.folder == "Top of Personal Folders/Sent Items"]
    assert len(inbox) == 6 and len(sent) == 5
    assert all(m.transport_headers for m in inbox)
    assert not any(m.transport_headers for m in sent)
    first = next(m for m in inbox if m.subject == "message 1")
    assert first.message_id == "<000001cc306d$76f41d20$64dc5760$@razzaq@xp.local>"
    assert first.sender.email == "saqib.razzaq@xp.local"
    assert first.sender.name == "Saqib Razzaq"
    assert first.date == datetime(2011, 6, 21, 23, 46, 39, tzinfo=UTC)
    sent_copy = next(m for m in sent if m.subject == "message 2")
    assert sent_copy.date_source.value == "pst_submit_time"
    assert sent_copy.to[0].email == "saqib.razzaq@xp.local"


def test_html_body_is_sanitized_and_inline_images_listed():
    html_mail = next(
        r for r in iter_pst(SAMPLE_PST) if isinstance(r, Message) and r.subject == "HTML body"
    )
    assert html_mail.html_body and "<script" not in html_mail.html_body
    assert len(html_mail.attachments) == 12
    assert html_mail.attachments[0].filename == "image001.png"
    assert html_mail.attachments[0].size == 90089
    assert html_mail.text_body


def test_embedded_messages_are_parsed_recursively():
    mail = next(
        r
        for r in iter_pst(SAMPLE_PST)
        if isinstance(r, Message) and r.subject == "this message contains embedded MSG"
    )
    embedded = [a.embedded_message for a in mail.attachments]
    assert [e.subject for e in embedded] == ["message 1", "message 2"]
    assert embedded[0].message_id == "<000001cc306d$76f41d20$64dc5760$@razzaq@xp.local>"
    assert "This is first message" in embedded[0].text_body
    # The embedded copy and the inbox copy of "message 1" deduplicate to one key.
    inbox_copy = next(
        r
        for r in iter_pst(SAMPLE_PST)
        if isinstance(r, Message) and r.subject == "message 1" and r.transport_headers
    )
    assert embedded[0].dedup_key == inbox_copy.dedup_key


def test_calendar_items_and_contacts_are_non_mail_items():
    others = [r for r in iter_pst(SAMPLE_PST) if isinstance(r, NonMailItem)]
    kinds = {o.kind: o for o in others}
    assert kinds["calendar"].title == "Weekly meeting"
    assert kinds["calendar"].provenance.folder == "Top of Personal Folders/Calendar"
    assert kinds["contact"].title == "Saqib Razzaq"
    assert "free_busy" in kinds


def test_file_that_is_not_a_pst_gives_one_clear_error(tmp_path):
    fake = tmp_path / "notes.pst"
    fake.write_text("just some text, not an Outlook file\n")
    (error,) = list(iter_pst(fake))
    assert isinstance(error, ItemError) and error.fatal_for_file
    assert "not a PST/OST file" in error.message


def crash_on_marked_files(conn) -> None:
    """A child that segfaults on files named crash-me*, and otherwise serves normally."""
    while True:
        request = conn.recv()
        if request[0] != "file":
            return
        if "crash-me" in request[1]:
            faulthandler._sigsegv()
        pst_child.walk_file(request[1], request[2], conn.send)
        conn.send(("done", None))


def test_child_crash_becomes_an_error_on_that_file_and_the_next_file_still_works(tmp_path):
    crashing = tmp_path / "crash-me.pst"
    healthy = tmp_path / "healthy.pst"
    shutil.copy(SAMPLE_PST, crashing)
    shutil.copy(SAMPLE_PST, healthy)
    with PstReader(child_target=crash_on_marked_files) as reader:
        crashed = list(reader.iter_file(crashing))
        recovered = list(reader.iter_file(healthy))
    assert len(crashed) == 1 and isinstance(crashed[0], ItemError)
    assert "crashed" in crashed[0].message and crashed[0].fatal_for_file
    assert sum(isinstance(r, Message) for r in recovered) == 11


def test_truncated_pst_reports_errors_without_raising(tmp_path):
    truncated = tmp_path / "truncated.pst"
    truncated.write_bytes(SAMPLE_PST.read_bytes()[:600_000])
    records = list(iter_pst(truncated))
    assert records
    assert all(isinstance(r, Message | NonMailItem | ItemError) for r in records)
    assert any(isinstance(r, ItemError) for r in records)


def test_abandoning_a_walk_midway_leaves_the_reader_usable():
    with PstReader() as reader:
        walk = reader.iter_file(SAMPLE_PST)
        next(walk)
        walk.close()
        assert sum(isinstance(r, Message) for r in reader.iter_file(SAMPLE_PST)) == 11
