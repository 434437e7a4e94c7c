"""The speed-ups change nothing: cached reply regexes, the reusable sanitizer, parallel PST."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailparser_reply import EmailReplyParser
from mailparser_reply.parser import EmailMessage

from ingest import ItemError, Message, PstReader, iter_pst, record_to_dict
from ingest.html import sanitize_html
from ingest.reply import REPLY_LANGUAGES, LineAnchoredFindall, _parser_setup, _read, split_reply

from .conftest import MIME_DIR, SAMPLE_PST
from .test_pst import crash_on_marked_files


def _header_regex():
    probe = EmailMessage(
        text="", languages=EmailReplyParser(languages=list(REPLY_LANGUAGES)).languages
    )
    return probe.HEADER_REGEX


def _replies(message: EmailMessage) -> list[tuple]:
    return [(r.content, r.headers, r.signatures, r.disclaimers, r.body) for r in message.replies]


_LINES = st.sampled_from(
    [
        "",
        "Thanks, that works for us.",
        "On Mon, 3 Jun 2024 at 10:00, Anna Weber <anna@client.example> wrote:",
        "Am 3. Juni 2024 schrieb Anna Weber <anna@client.example>:",
        "Le lun. 3 juin 2024 à 10:00, Anna a écrit :",
        "El lun, 3 jun 2024 a las 10:00, Anna escribió:",
        "Il giorno lun 3 giu 2024 Anna ha scritto:",
        "Op ma 3 jun 2024 schreef Anna:",
        "From: Anna Weber <anna@client.example>",
        "Sent: Monday, June 3, 2024 10:00 AM",
        "To: Wealth Desk",
        "Subject: RE: portfolio [#12345]",
        "Von: Anna",
        "Gesendet: Montag",
        "De : Anna",
        "Objet : test",
        "*From:* Anna",
        "> quoted line",
        "> > From: deeper",
        "-----Original Message-----",
        "----- Original Message -----",
        "Best regards,",
        "Mit freundlichen Grüßen",
        "--",
        "Sent from my iPhone",
        "Disclaimer: this e-mail is confidential",
        "  indented: text with: colons",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINES | st.text(max_size=40), max_size=30), st.sampled_from(["\n", "\r\n"]))
def test_line_anchored_findall_equals_findall(lines, newline):
    regex = _header_regex()
    assert LineAnchoredFindall.applies_to(regex)
    text = newline.join(lines)
    assert LineAnchoredFindall(regex).findall(text) == regex.findall(text)
    assert _replies(_read(text)) == _replies(
        EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(text)
    )


def test_cached_reply_parser_matches_the_library_on_the_mime_corpus():
    import email

    for path in sorted(MIME_DIR.glob("*.eml")):
        for part in email.message_from_bytes(path.read_bytes()).walk():
            if part.get_content_maintype() != "text":
                continue
            text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace").strip()
            fresh = EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(text[:4000])
            assert _replies(_read(text[:4000])) == _replies(fresh), path.name


def test_reply_setup_is_built_once():
    assert _parser_setup() is _parser_setup()
    assert (
        split_reply("Yes.\n\nOn Mon, Jun 3, 2024 Bob <b@x.example> wrote:\n> hi").reply_text
        == "Yes."
    )


def test_sanitizer_drops_remote_images_however_they_are_spelled():
    for html in (
        '<img src="http://tracker.example/p.gif">',
        '<IMG SRC="https://tracker.example/p.gif">',
        '<image src="http://tracker.example/p.gif">',  # the HTML parser turns <image> into <img>
        '<p style="background:u&#114;l(http://tracker.example/x)">x</p>',
        '<p style="background:url&lpar;http://tracker.example/x)">x</p>',
    ):
        assert "tracker.example" not in sanitize_html(html), html
    assert 'src="cid:logo"' in sanitize_html('<img src="cid:logo">')


def _records(reader: PstReader, paths) -> list[tuple[str, dict]]:
    return [(source, record_to_dict(record)) for source, record in reader.iter_files(paths)]


def test_parallel_children_yield_the_same_records_in_file_order(tmp_path):
    paths = []
    for index in range(5):
        paths.append(tmp_path / f"copy-{index}.pst")
        shutil.copy(SAMPLE_PST, paths[-1])
    fake = tmp_path / "fake.pst"
    fake.write_text("not a pst")
    paths.insert(2, fake)
    with PstReader(workers=1) as reader:
        serial = _records(reader, paths)
    with PstReader(workers=3) as reader:
        parallel = _records(reader, paths)
    assert parallel == serial
    assert [source for source, _ in parallel] == sorted(
        (source for source, _ in parallel), key=lambda s: [str(p) for p in paths].index(s)
    )
    assert sum(r["record"] == "message" for _, r in parallel) == 5 * 11
    single = [record_to_dict(r) for r in iter_pst(paths[0])]
    assert [r for s, r in serial if s == str(paths[0])] == single


def test_a_crash_in_one_child_costs_only_its_file_with_parallel_children(tmp_path):
    names = ["a.pst", "crash-me.pst", "b.pst", "c.pst", "crash-me-too.pst", "d.pst"]
    paths = [tmp_path / name for name in names]
    for path in paths:
        shutil.copy(SAMPLE_PST, path)
    with PstReader(child_target=crash_on_marked_files, workers=2) as reader:
        records = list(reader.iter_files(paths))
        again = list(reader.iter_file(paths[0]))
    per_file: dict[str, list] = {str(path): [] for path in paths}
    for source, record in records:
        per_file[source].append(record)
    for path in paths:
        got = per_file[str(path)]
        if "crash-me" in path.name:
            assert len(got) == 1 and isinstance(got[0], ItemError) and got[0].fatal_for_file
            assert "crashed" in got[0].message
        else:
            assert sum(isinstance(r, Message) for r in got) == 11
            assert not any(isinstance(r, ItemError) for r in got)
    assert [source for source, _ in records] == sorted(
        (source for source, _ in records), key=[str(p) for p in paths].index
    )
    assert sum(isinstance(r, Message) for r in again) == 11


def test_abandoning_a_parallel_walk_leaves_the_reader_usable(tmp_path):
    paths = [tmp_path / f"c{index}.pst" for index in range(4)]
    for path in paths:
        shutil.copy(SAMPLE_PST, path)
    with PstReader(workers=2) as reader:
        walk = reader.iter_files(paths)
        next(walk)
        walk.close()
        # The retired children's reader threads are gone before their pipes were closed, so
        # none can read a descriptor number that the next children's pipes reuse.
        assert not [t for t in threading.enumerate() if t.name == "pst-reader" and t.is_alive()]
        for _ in range(3):
            assert sum(isinstance(r, Message) for _, r in reader.iter_files(paths)) == 44


def test_iter_paths_sends_runs_of_pst_files_to_the_reader_together(tmp_path):
    from ingest import iter_file, iter_paths

    folder = tmp_path / "mail"
    folder.mkdir()
    for name in ("a.pst", "b.pst", "d.pst"):
        shutil.copy(SAMPLE_PST, folder / name)
    shutil.copy(MIME_DIR / "nested_rfc822.eml", folder / "c.eml")
    (folder / "e.pst").write_text("not a pst")
    now = datetime(2024, 6, 3, tzinfo=UTC)
    got = [(path.name, record_to_dict(record)) for path, record in iter_paths([folder], now=now)]
    expected = [
        (path.name, record_to_dict(record))
        for path in sorted(folder.iterdir())
        for record in iter_file(path, now=now)
    ]
    assert got == expected
    assert [name for name, _ in got].count("b.pst") == 14


def flood_the_pipe(conn) -> None:
    """A child that streams item batches without end, whatever it is asked."""
    batch = ("items", ["x" * 4096] * 16)
    while True:
        conn.send(batch)


def test_killing_a_streaming_child_closes_its_pipe_only_after_its_reader_thread_ended():
    from ingest.pst import _Worker

    worker = _Worker(flood_the_pipe, idle_timeout=60)
    deadline = time.monotonic() + 30
    while not worker.inbox.full() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.inbox.full()  # the reader thread is now busy with this child's pipe
    worker.kill()
    assert not worker._reader.is_alive()
    assert worker.conn.closed


def hang_on_marked_files(conn) -> None:
    """A child that goes silent on files named hang-me*, and otherwise serves normally."""
    import time

    from ingest import pst_child

    while True:
        request = conn.recv()
        if request[0] != "file":
            return
        if "hang-me" in request[1]:
            time.sleep(3600)
        pst_child.walk_file(request[1], request[2], conn.send)
        conn.send(("done", None))


def test_a_silent_child_is_killed_and_an_idle_one_is_never_taken_for_hung(tmp_path):
    import time

    hanging, healthy = tmp_path / "hang-me.pst", tmp_path / "ok.pst"
    shutil.copy(SAMPLE_PST, hanging)
    shutil.copy(SAMPLE_PST, healthy)
    # A fresh child's first answer includes its start (a new interpreter, the parser's imports):
    # on a loaded 2-core machine that alone took over 3 s, so the timeout leaves room for it.
    with PstReader(child_target=hang_on_marked_files, idle_timeout=10, workers=2) as reader:
        first = list(reader.iter_file(healthy))
        time.sleep(11)  # idle children longer than the timeout: not hung, nothing owed
        records = list(reader.iter_files([healthy, hanging, healthy]))
    assert sum(isinstance(r, Message) for r in first) == 11
    hung = [r for source, r in records if source == str(hanging)]
    assert len(hung) == 1 and "stopped answering" in hung[0].message
    assert sum(isinstance(r, Message) for _, r in records) == 22


def _with_and_without_lifting(raw: bytes, monkeypatch) -> tuple[dict, dict]:
    """The whole record parsed as the product does, and with no body lifted out (the plain
    email-package parse): the two must be equal."""
    import ingest.mime
    from ingest.mime import parse_mime

    when = datetime(2026, 1, 1, tzinfo=UTC)
    lifted = record_to_dict(parse_mime(raw, ingested_at=when))
    with monkeypatch.context() as plain:
        plain.setattr(ingest.mime, "_STASH_MIN_BYTES", 1 << 62)
        return lifted, record_to_dict(parse_mime(raw, ingested_at=when))


def _mail(newline: bytes, *, blank_before_boundary: bool, text_like_base64: bool) -> bytes:
    import base64
    import os

    body = base64.encodebytes(os.urandom(60_000)).replace(b"\n", newline)
    if not blank_before_boundary:
        body = body.rstrip(b"\r\n")
    # Plain text that reads as base64, after a line that reads as a part's header
    looks = b"Content-Transfer-Encoding: base64" + newline * 2 + (b"QUJD" * 19 + newline) * 400
    lines = [
        b"From: a@example.com",
        b"Subject: statement",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="b1"',
        b"",
        b"--b1",
        b"Content-Type: text/plain",
        b"",
        b"Please find it attached.",
        b"--b1",
        b"Content-Type: application/pdf; name=s.pdf",
        b"Content-Transfer-Encoding: BASE64",
        b"",
        body,
        b"--b1",
        b"Content-Type: text/plain; name=codes.txt",
        b"Content-Transfer-Encoding: " + (b"7bit" if text_like_base64 else b"base64"),
        b"",
        looks,
        b"--b1--",
        b"",
    ]
    return newline.join(lines)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("blank_before_boundary", [True, False])
@pytest.mark.parametrize("text_like_base64", [True, False])
def test_lifting_long_base64_bodies_out_of_the_parser_changes_nothing(
    newline, blank_before_boundary, text_like_base64, monkeypatch
):
    raw = _mail(
        newline, blank_before_boundary=blank_before_boundary, text_like_base64=text_like_base64
    )
    lifted, plain = _with_and_without_lifting(raw, monkeypatch)
    assert lifted == plain
    assert lifted["attachments"][0]["size"] == 60_000


def test_a_lifted_message_restored_has_every_payload_as_written():
    import email

    from ingest.mime import _parse_bytes, _restore

    raw = _mail(b"\r\n", blank_before_boundary=True, text_like_base64=True)
    lifted = _parse_bytes(raw)
    _restore(lifted)
    assert [p.get_payload() for p in lifted.walk() if not p.is_multipart()] == [
        p.get_payload() for p in email.message_from_bytes(raw).walk() if not p.is_multipart()
    ]


def test_an_embedded_message_with_a_large_attachment_is_stored_byte_for_byte(monkeypatch):
    inner = _mail(b"\n", blank_before_boundary=False, text_like_base64=False)
    outer = b"\n".join(
        [
            b"From: b@example.com",
            b"Subject: Fwd: statement",
            b'Content-Type: multipart/mixed; boundary="out"',
            b"",
            b"--out",
            b"Content-Type: message/rfc822",
            b"",
            inner,
            b"--out--",
            b"",
        ]
    )
    lifted, plain = _with_and_without_lifting(outer, monkeypatch)
    assert lifted == plain
    assert lifted["attachments"][0]["embedded_message"]["attachments"][0]["size"] == 60_000


def test_the_mime_corpus_parses_the_same_with_bodies_lifted(monkeypatch):
    from ingest import IngestError

    for path in sorted(MIME_DIR.iterdir()):
        try:
            lifted, plain = _with_and_without_lifting(path.read_bytes(), monkeypatch)
        except IngestError:
            continue  # not a message: the parser's own tests cover it
        assert lifted == plain, path.name
