"""MIME parsing: thread keys, addresses, dates, bodies, HTML safety, attachments, charsets."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime

import pytest

from ingest import DateSource, DirectorySink, IngestError, parse_mime
from ingest.attachments import BLOCK_SIZE


def test_thread_keys_and_participants_come_from_headers(mime_bytes):
    msg = parse_mime(mime_bytes("reply_with_quote.eml"))
    assert msg.message_id == "<reply-2@client-mail.example>"
    assert msg.in_reply_to == "<desk-1@firm.example>"
    assert msg.references == ["<CAF=abc123XYZ@mail.client-mail.example>", "<desk-1@firm.example>"]
    assert msg.ticket_number == 12345
    assert msg.sender.email == "anna.keller@client-mail.example"
    assert msg.sender.name == "Anna Keller"
    assert [a.email for a in msg.to] == ["desk@firm.example"]


def test_display_names_are_decoded_from_rfc2047(mime_bytes):
    msg = parse_mime(mime_bytes("alternative_related.eml"))
    assert msg.sender.name == "Keller, Anna"
    assert msg.cc[0].name == "Jörg Bläser"
    assert msg.reply_to[0].email == "anna.private@client-mail.example"


def test_date_is_aware_utc_from_the_date_header(mime_bytes):
    msg = parse_mime(mime_bytes("alternative_related.eml"))
    assert msg.date == datetime(2024, 6, 4, 8, 14, 55, tzinfo=UTC)
    assert msg.date_source is DateSource.HEADER


def test_missing_date_falls_back_to_the_nearest_received_header(mime_bytes):
    msg = parse_mime(mime_bytes("missing_date_with_received.eml"))
    assert msg.date == datetime(2024, 6, 8, 7, 45, 10, tzinfo=UTC)
    assert msg.date_source is DateSource.RECEIVED


def test_broken_date_without_received_falls_back_to_ingestion_time(mime_bytes):
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    msg = parse_mime(mime_bytes("missing_all_dates.eml"), ingested_at=now)
    assert msg.date == now
    assert msg.date_source is DateSource.INGESTION


def test_plain_text_is_preferred_and_html_is_sanitized(mime_bytes):
    msg = parse_mime(mime_bytes("alternative_related.eml"))
    assert msg.text_body.startswith("Hello,\n\nplease rebalance")
    html = msg.html_body
    assert "<script" not in html and "alert" not in html
    assert "onload" not in html and "track()" not in html
    assert "tracker.example" not in html  # neither the pixel nor the CSS background
    assert "javascript:" not in html
    assert 'src="cid:logo@client"' in html  # the inline image stays
    assert 'href="https://client-mail.example/"' in html


def test_inline_related_image_is_an_inline_attachment_with_content_id(mime_bytes):
    msg = parse_mime(mime_bytes("alternative_related.eml"))
    (logo,) = msg.attachments
    assert logo.filename == "logo.png"
    assert logo.is_inline and logo.content_id == "logo@client"


def test_html_only_mail_gets_readable_text(mime_bytes):
    msg = parse_mime(mime_bytes("html_only.eml"))
    assert "Rates rose by 0,25 %." in msg.text_body
    assert "Bonds" in msg.text_body and "<li>" not in msg.text_body
    assert "pixel.gif" not in msg.html_body


def test_nested_message_is_parsed_recursively(mime_bytes):
    msg = parse_mime(mime_bytes("nested_rfc822.eml"))
    (forwarded,) = msg.attachments
    assert forwarded.content_type == "message/rfc822"
    inner = forwarded.embedded_message
    assert inner is not None
    assert inner.message_id == "<orig-77@example.org>"
    assert inner.subject == "Transfer instruction"
    assert inner.date == datetime(2024, 6, 4, 21, 30, tzinfo=UTC)
    assert [a.filename for a in inner.attachments] == ["instruction.pdf"]
    assert "10,000 EUR" in inner.text_body


def test_rfc2231_and_encoded_word_filenames_and_8bit_headers_are_decoded(mime_bytes):
    msg = parse_mime(mime_bytes("rfc2231_and_8bit_headers.eml"))
    assert msg.subject == "Relevé de compte \u2013 juin [#12345]"
    assert msg.sender.name == "François Müller"
    names = [a.filename for a in msg.attachments]
    assert names == ["Relevé de compte \u2013 juin.pdf", "Übersicht.xls"]


def test_attachment_hash_and_size_match_the_decoded_bytes(mime_bytes):
    msg = parse_mime(mime_bytes("rfc2231_and_8bit_headers.eml"))
    pdf = msg.attachments[0]
    expected = base64.b64decode("JVBERi0xLjQK")
    assert pdf.size == len(expected)
    assert pdf.sha256 == hashlib.sha256(expected).hexdigest()


def test_declared_boundary_that_never_occurs_is_recovered(mime_bytes):
    msg = parse_mime(mime_bytes("broken_boundary.eml"))
    assert msg.text_body == "The body is still here."
    assert [a.filename for a in msg.attachments] == ["positions.csv"]
    assert "StartBoundaryNotFoundDefect" in msg.defects


def test_unterminated_multipart_keeps_what_arrived(mime_bytes):
    msg = parse_mime(mime_bytes("unterminated_multipart.eml"))
    assert msg.text_body == "First part arrives."
    assert msg.attachments[0].filename == "data.bin"
    assert msg.attachments[0].size == 10


def test_windows_1251_body_and_koi8_display_name(mime_bytes):
    msg = parse_mime(mime_bytes("windows1251.eml"))
    assert msg.subject == "Счет на оплату"
    assert msg.sender.name == "Иван"
    assert msg.text_body.startswith("Здравствуйте! Прошу выставить счёт")


def test_gb2312_label_on_gbk_text_decodes_with_the_superset(mime_bytes):
    msg = parse_mime(mime_bytes("gb2312_really_gbk.eml"))
    assert msg.text_body == "您好\uff0c朱镕基先生的账户余额查询。"  # 镕 is GBK, not GB2312
    assert msg.subject == "账户查询"


def test_latin1_text_labelled_utf8_falls_back_to_detection(mime_bytes):
    msg = parse_mime(mime_bytes("latin1_labelled_utf8.eml"))
    assert "Überweisung über 500 € ist erfolgt. Grüße" in msg.text_body


def test_reply_text_is_split_from_quote_and_signature_keeping_full_body(mime_bytes):
    msg = parse_mime(mime_bytes("reply_with_quote.eml"))
    assert msg.reply_text == "Yes, please go ahead with the 60/40 split."
    assert msg.signature is not None and "Anna Keller" in msg.signature
    assert "shall we proceed" in msg.text_body  # the full body keeps the history


@pytest.mark.parametrize(
    ("name", "kind", "reason_start"),
    [
        ("auto_reply_ooo.eml", "auto_reply", "Auto-Submitted"),
        ("x_autoreply.eml", "auto_reply", "X-Autoreply"),
        ("precedence_bulk.eml", "bulk", "Precedence: bulk"),
        ("bounce_report.eml", "bounce", "Content-Type: multipart/report"),
    ],
)
def test_machine_generated_mail_is_marked_with_its_reason(mime_bytes, name, kind, reason_start):
    msg = parse_mime(mime_bytes(name))
    assert msg.is_automated
    assert msg.automation.kind == kind
    assert msg.automation.reason.startswith(reason_start)


def test_mailer_daemon_sender_alone_marks_a_bounce():
    raw = b"From: MAILER-DAEMON@mx.example\r\nSubject: hello\r\n\r\nfailed\r\n"
    assert parse_mime(raw).automation.kind == "bounce"


def test_human_mail_is_not_marked_automated(mime_bytes):
    assert not parse_mime(mime_bytes("reply_with_quote.eml")).is_automated


def test_dedup_key_uses_message_id_else_content_hash(mime_bytes):
    assert parse_mime(mime_bytes("html_only.eml")).dedup_key == "mid:html-1@bank.example"
    raw = mime_bytes("missing_all_dates.eml")
    first = parse_mime(raw, ingested_at=datetime(2025, 1, 1, tzinfo=UTC))
    second = parse_mime(raw, ingested_at=datetime(2025, 6, 1, tzinfo=UTC))
    assert first.dedup_key.startswith("sha256:")
    assert first.dedup_key == second.dedup_key  # ingestion time is not part of the key


def test_non_bytes_and_headerless_input_raise_ingest_error():
    with pytest.raises(IngestError):
        parse_mime("text")  # type: ignore[arg-type]
    with pytest.raises(IngestError):
        parse_mime(b"")


class _RecordingSink:
    def __init__(self) -> None:
        self.largest_write = 0

    def open(self, filename, content_type):
        sink = self

        class Writer:
            def write(self, data: bytes) -> None:
                sink.largest_write = max(sink.largest_write, len(data))

            def finish(self, sha256: str) -> str:
                return "recorded"

            def abort(self) -> None:
                pass

        return Writer()


def test_huge_attachment_is_streamed_in_blocks_with_correct_hash():
    content = os.urandom(1 << 20) * 24  # 24 MB, generated at test time
    encoded = base64.encodebytes(content)
    raw = (
        b"From: a@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
        b"Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="big.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"\r\n--B--\r\n"
    )
    sink = _RecordingSink()
    msg = parse_mime(raw, sink=sink)
    (big,) = msg.attachments
    assert big.size == len(content)
    assert big.sha256 == hashlib.sha256(content).hexdigest()
    assert big.location == "recorded"
    assert 0 < sink.largest_write <= BLOCK_SIZE


def test_directory_sink_stores_attachment_bytes_by_hash(mime_bytes, tmp_path):
    msg = parse_mime(mime_bytes("rfc2231_and_8bit_headers.eml"), sink=DirectorySink(tmp_path))
    pdf = msg.attachments[0]
    stored = tmp_path / pdf.sha256
    assert pdf.location == str(stored)
    assert stored.read_bytes() == base64.b64decode("JVBERi0xLjQK")


def test_empty_multipart_left_by_a_reused_boundary_is_not_an_attachment():
    # Outlook Express for Mac reused the outer boundary for the inner multipart/alternative.
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: XX\r\nMessage-ID: <x@y>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b'--B\r\nContent-Type: multipart/alternative; boundary="B"\r\n\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nSome text.\r\n"
        b"--B\r\nContent-Type: text/html\r\n\r\n<p>Some text.</p>\r\n--B--\r\n"
    )
    message = parse_mime(raw)
    assert message.attachments == []
    assert "Some text." in message.text_body
    assert "EmptyMultipartDefect" in message.defects
