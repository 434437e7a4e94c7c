"""mbox and EML files and folders, checked against what the stdlib sees."""

from __future__ import annotations

import email
import io
import mailbox

from ingest import ItemError, Message, iter_file, iter_mbox, iter_paths
from ingest.mbox import split_mbox

from .conftest import MIME_DIR, SAMPLE_PST


def _build_mbox(path) -> list[bytes]:
    raws = [p.read_bytes() for p in sorted(MIME_DIR.glob("*.eml"))]
    raws.append(b"From: x@example.com\nSubject: quoting\n\nFrom the desk: a line that\n"
                b"starts with From and must not split the mbox.\n")  # fmt: skip
    box = mailbox.mbox(str(path))
    for raw in raws:
        box.add(raw)
    box.flush()
    box.close()
    return raws


def test_mbox_message_count_and_ids_match_the_stdlib(tmp_path):
    path = tmp_path / "archive.mbox"
    _build_mbox(path)
    ours = [r for r in iter_mbox(path) if isinstance(r, Message)]
    theirs = mailbox.mbox(str(path))
    assert len(ours) == len(theirs)
    for mine, stdlib in zip(ours, theirs, strict=True):
        expected = stdlib.get("Message-ID")
        assert mine.message_id == (expected.strip() if expected else None)


def test_mbox_from_quoting_is_undone_in_the_body(tmp_path):
    path = tmp_path / "archive.mbox"
    _build_mbox(path)
    last = [r for r in iter_mbox(path) if isinstance(r, Message)][-1]
    assert "From the desk: a line" in last.text_body
    assert last.provenance.position == len(list(MIME_DIR.glob("*.eml")))


def test_mbox_splitter_is_independent_of_read_block_size(monkeypatch):
    data = b"From a\nSubject: 1\n\nx\n>From y\n\nFrom b\nSubject: 2\n\nz\n"
    import ingest.mbox

    expected = [b"Subject: 1\n\nx\nFrom y\n\n", b"Subject: 2\n\nz\n"]
    for block in (1, 3, 7, 1 << 20):
        monkeypatch.setattr(ingest.mbox, "READ_BLOCK", block)
        assert list(split_mbox(io.BytesIO(data))) == expected


def test_oversized_mbox_message_is_skipped_with_an_error():
    data = b"From a\nSubject: 1\n\n" + b"x" * 5000 + b"\nFrom b\nSubject: 2\n\nok\n"
    assert list(split_mbox(io.BytesIO(data), max_message=1000)) == [None, b"Subject: 2\n\nok\n"]


def test_eml_file_matches_the_stdlib_parse():
    path = MIME_DIR / "nested_rfc822.eml"
    (record,) = list(iter_file(path))
    stdlib = email.message_from_bytes(path.read_bytes())
    assert record.message_id == stdlib["Message-ID"]
    assert record.subject == stdlib["Subject"]


def test_folder_walk_finds_every_mail_file(tmp_path):
    (tmp_path / "sub").mkdir()
    for source in MIME_DIR.glob("*.eml"):
        (tmp_path / "sub" / source.name).write_bytes(source.read_bytes())
    (tmp_path / "readme.txt").write_text("not mail, not named like mail: ignored")
    records = [r for _, r in iter_paths([tmp_path])]
    assert sum(isinstance(r, Message) for r in records) == len(list(MIME_DIR.glob("*.eml")))


def test_file_named_like_mbox_holding_a_pst_is_refused(tmp_path):
    wrong = tmp_path / "archive.mbox"
    wrong.write_bytes(SAMPLE_PST.read_bytes()[:8192])
    (error,) = list(iter_file(wrong))
    assert isinstance(error, ItemError)
    assert "named like an mbox file but its content is a PST/OST file" in error.message


def test_binary_junk_named_eml_is_refused(tmp_path):
    junk = tmp_path / "photo.eml"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (error,) = list(iter_file(junk))
    assert isinstance(error, ItemError) and error.fatal_for_file
