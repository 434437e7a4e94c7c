"""The CLI's per-file counts and JSON lines; chunking for retrieval."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from ingest import IngestError, chunk_message, chunk_text, parse_mime
from ingest.cli import main

from .conftest import MIME_DIR, SAMPLE_PST


def test_cli_prints_counts_per_file_and_names_the_bad_file(tmp_path):
    fake = tmp_path / "fake.pst"
    fake.write_text("hello\n")
    out = io.StringIO()
    status = main([str(SAMPLE_PST), str(fake)], out=out, err=io.StringIO())
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{SAMPLE_PST}: messages=11 attachments=34 non_mail=3 errors=0"
    assert lines[1] == f"{fake}: messages=0 attachments=0 non_mail=0 errors=1"
    assert "not a PST/OST file" in lines[2]
    assert status == 1


def test_cli_json_prints_one_line_per_message_without_bytes():
    out, err = io.StringIO(), io.StringIO()
    paths = [str(SAMPLE_PST), str(MIME_DIR / "nested_rfc822.eml")]
    status = main([*paths, "--json"], out=out, err=err)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert status == 0
    assert len(rows) == 12
    assert all(row["record"] == "message" for row in rows)
    assert {row["provenance"]["kind"] for row in rows} == {"pst", "eml"}
    assert "messages=11" in err.getvalue()


def test_cli_missing_path_is_an_error_not_a_crash(tmp_path):
    out = io.StringIO()
    assert main([str(tmp_path / "nope.pst")], out=out, err=io.StringIO()) == 1
    assert "no such file" in out.getvalue()


def test_chunks_overlap_by_the_configured_tokens():
    text = " ".join(f"w{i}" for i in range(25))
    chunks = chunk_text(text, chunk_tokens=10, overlap=3)
    assert [count for _, count in chunks] == [10, 10, 10, 4]
    assert chunks[0][0].split()[-3:] == chunks[1][0].split()[:3]
    assert chunks[-1][0].split()[-1] == "w24"


def test_chunk_carries_provenance_of_its_message():
    raw = (MIME_DIR / "reply_with_quote.eml").read_bytes()
    msg = parse_mime(raw, source="inbox@imap", ingested_at=datetime(2025, 1, 1, tzinfo=UTC))
    chunks = chunk_message(msg, chunk_tokens=8, overlap=2)
    assert len(chunks) > 2
    first = chunks[0]
    assert first.text.startswith("Re: [#12345]")
    assert first.provenance.source == "inbox@imap"
    assert first.provenance.message_id == "<reply-2@client-mail.example>"
    assert first.provenance.subject == msg.subject
    assert "Anna Keller <anna.keller@client-mail.example>" in first.provenance.participants
    assert first.provenance.date == msg.date


def test_invalid_chunk_settings_raise_ingest_error():
    with pytest.raises(IngestError):
        chunk_text("a b c", chunk_tokens=5, overlap=5)
