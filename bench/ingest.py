"""Benchmark of the ingest library (a script, not a test).

    python bench/ingest.py [--pst-mb 200] [--mbox-mb 1024] [--mime-rounds 40]

Prints PST messages/s through `ingest` vs a bare pypff loop reading the same fields over
hard-linked copies of the sample PST; mbox messages/s and the parsing process's peak RSS on a
generated mbox with attachments; MIME messages/s vs bare `email.message_from_bytes`. The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import email
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import Message, PstReader, parse_mime  # noqa: E402

SAMPLE_PST = ROOT / "tests" / "data" / "pst" / "outlook-sample.pst"
MIME_DIR = ROOT / "tests" / "data" / "mime"


# The MAPI property ids whose values ingest reads from a message's and an attachment's own
# record set (see ingest/pst_child.py); the baseline reads the same values.
_MESSAGE_PROPS = frozenset(
    {
        0x001A, 0x0042, 0x0065, 0x0C1E, 0x0C1F, 0x0E03, 0x0E04, 0x1035, 0x1039, 0x1042,
        0x3FDE, 0x5D01, 0x3001, 0x3A16, 0x3A08, 0x3A1C, 0x3A17, 0x3003,
    }
)  # fmt: skip
_ATTACHMENT_PROPS = frozenset({0x3705, 0x3704, 0x3707, 0x370E, 0x3712, 0x3714, 0x7FFE, 0x3001})
_INTEGER_PROPS = frozenset({0x3FDE, 0x3705, 0x3714, 0x7FFE})  # read as integers, the rest as text


def _values(record_set, wanted: frozenset[int]) -> dict[int, object]:
    found = {}
    for entry in record_set.entries:
        entry_type = entry.entry_type
        if entry_type not in wanted:
            continue
        try:
            if entry_type in _INTEGER_PROPS:
                found[entry_type] = entry.get_data_as_integer()
            else:
                found[entry_type] = entry.get_data_as_string()
        except (OSError, UnicodeDecodeError):
            found[entry_type] = entry.data
    return found


def bare_pypff_messages(paths: list[Path]) -> int:
    """Read, with nothing but pypff, the fields ingest reads: a fair baseline.

    Per message: the property values ingest takes from its record set, the subject, sender,
    transport headers, four timestamps, the plain/HTML bodies (RTF when there is no plain
    text), every recipient entry, and every attachment's properties, long filename and data
    (read in the same 1 MiB blocks). What ingest does beyond reading (decoding, sanitizing,
    reply splitting, hashing, embedded-message parsing) is its own cost.
    """
    import pypff

    count = 0
    for path in paths:
        pst = pypff.file()
        pst.open(str(path))
        stack = [pst.get_root_folder()]
        while stack:
            folder = stack.pop()
            for index in range(folder.number_of_sub_messages):
                item = folder.get_sub_message(index)
                if not isinstance(item, pypff.message):
                    continue
                props = _values(item.get_record_set(0), _MESSAGE_PROPS)
                item_class = props.get(0x001A) or ""
                _ = (item.subject, item.sender_name, item.transport_headers)
                _ = (item.client_submit_time, item.delivery_time, item.creation_time)
                _ = item.modification_time
                plain = item.plain_text_body
                _ = item.html_body
                if not plain:
                    _ = item.rtf_body
                recipients = item.recipients
                if recipients is not None:
                    for r in range(recipients.number_of_record_sets):
                        for entry in recipients.get_record_set(r).entries:
                            _ = entry.data
                for a in range(item.number_of_attachments):
                    attachment = item.get_attachment(a)
                    _ = _values(attachment.get_record_set(0), _ATTACHMENT_PROPS)
                    _ = attachment.long_filename
                    remaining = attachment.size or 0
                    if remaining:
                        attachment.seek_offset(0, 0)
                    while remaining > 0:
                        block = attachment.read_buffer(min(1 << 20, remaining))
                        if not block:
                            break
                        remaining -= len(block)
                count += item_class.startswith("IPM.Note")  # mail only, as ingest counts
            stack.extend(folder.get_sub_folder(i) for i in range(folder.number_of_sub_folders))
        pst.close()
    return count


def bench_pst(workdir: Path, total_mb: int) -> dict[str, float]:
    size = SAMPLE_PST.stat().st_size
    copies = -(-total_mb * (1 << 20) // size)
    paths = []
    for index in range(copies):
        target = workdir / f"copy-{index:04d}.pst"
        try:
            os.link(SAMPLE_PST, target)
        except OSError:
            target.write_bytes(SAMPLE_PST.read_bytes())
        paths.append(target)
    print(f"PST: {copies} copies, {copies * size / (1 << 20):.0f} MB", flush=True)
    bare_pypff_messages(paths[:2])  # warm the page cache for both runs alike

    started = time.perf_counter()
    bare = bare_pypff_messages(paths)
    bare_rate = bare / (time.perf_counter() - started)

    started = time.perf_counter()
    with PstReader() as reader:
        ours = sum(isinstance(record, Message) for _, record in reader.iter_files(paths))
    ours_rate = ours / (time.perf_counter() - started)
    print(f"PST: ingest {ours} msgs {ours_rate:.0f}/s; bare pypff {bare} msgs {bare_rate:.0f}/s")
    return {
        "pst_ingest_msgs_per_s": round(ours_rate, 1),
        "pst_bare_pypff_msgs_per_s": round(bare_rate, 1),
        "pst_ratio": round(ours_rate / bare_rate, 3),
    }


def _attachment_message(index: int, payload: bytes, rng: random.Random) -> bytes:
    body = (
        f"Dear advisor,\n\nplease find statement {index} attached. "
        + f"Portfolio value changed by {rng.uniform(-3, 3):.2f} %.\n"
        + f"Kind regards,\nClient {index}\n"
    )
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (
        (
            f"From: Client {index} <client{index}@example.org>\r\n"
            "To: Wealth Desk <desk@firm.example>\r\n"
            f"Subject: Statement {index} [#{10000 + index}]\r\n"
            f"Date: Mon, 3 Jun 2024 10:{index % 60:02d}:00 +0200\r\n"
            f"Message-ID: <stmt-{index}@example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="mixed-b"\r\n\r\n'
            "--mixed-b\r\n"
            'Content-Type: multipart/alternative; boundary="alt-b"\r\n\r\n'
            f"--alt-b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
            f"--alt-b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{body}</p>\r\n"
            "--alt-b--\r\n"
            "--mixed-b\r\n"
            f'Content-Type: application/pdf; name="statement-{index}.pdf"\r\n'
            f'Content-Disposition: attachment; filename="statement-{index}.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + encoded
        + b"\r\n--mixed-b--\r\n"
    )


def build_mbox(path: Path, total_mb: int) -> int:
    rng = random.Random(7)
    payloads = [os.urandom(rng.randint(200_000, 3_000_000)) for _ in range(12)]
    seeds = [p.read_bytes() for p in sorted(MIME_DIR.glob("*.eml"))]
    target = total_mb * (1 << 20)
    written = count = 0
    with path.open("wb") as handle:
        while written < target:
            if count % 3 == 2:
                raw = seeds[count % len(seeds)]
            else:
                raw = _attachment_message(count, payloads[count % len(payloads)], rng)
            chunk = b"From bench@example.org Mon Jun  3 10:00:00 2024\n" + raw + b"\n"
            handle.write(chunk)
            written += len(chunk)
            count += 1
    return count


_MBOX_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from ingest import iter_mbox, Message
started = time.perf_counter()
count = errors = 0
for record in iter_mbox(sys.argv[1]):
    if isinstance(record, Message):
        count += 1
    else:
        errors += 1
elapsed = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"count": count, "errors": errors, "elapsed": elapsed, "peak_mb": peak_kb / 1024}))
"""


def bench_mbox(workdir: Path, total_mb: int) -> dict[str, float]:
    path = workdir / "archive.mbox"
    built = build_mbox(path, total_mb)
    print(f"mbox: built {path.stat().st_size / (1 << 20):.0f} MB, {built} messages", flush=True)
    result = subprocess.run(
        [sys.executable, "-c", _MBOX_CHILD, str(path), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    rate = figures["count"] / figures["elapsed"]
    print(
        f"mbox: {figures['count']} msgs ({figures['errors']} errors) {rate:.0f}/s, "
        f"peak RSS {figures['peak_mb']:.0f} MB"
    )
    path.unlink()
    return {"mbox_msgs_per_s": round(rate, 1), "mbox_peak_mb": round(figures["peak_mb"], 1)}


def bench_mime(rounds: int) -> dict[str, float]:
    rng = random.Random(3)
    corpus = [p.read_bytes() for p in sorted(MIME_DIR.glob("*.eml"))]
    corpus += [
        _attachment_message(i, os.urandom(rng.randint(2_000, 60_000)), rng) for i in range(8)
    ]
    total = len(corpus) * rounds

    started = time.perf_counter()
    for _ in range(rounds):
        for raw in corpus:
            email.message_from_bytes(raw)
    bare_rate = total / (time.perf_counter() - started)

    started = time.perf_counter()
    for _ in range(rounds):
        for raw in corpus:
            parse_mime(raw)
    ours_rate = total / (time.perf_counter() - started)
    print(f"MIME: ingest {ours_rate:.0f}/s; bare email.message_from_bytes {bare_rate:.0f}/s")
    return {
        "mime_ingest_msgs_per_s": round(ours_rate, 1),
        "mime_bare_email_msgs_per_s": round(bare_rate, 1),
        "mime_ratio": round(ours_rate / bare_rate, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pst-mb", type=int, default=200)
    parser.add_argument("--mbox-mb", type=int, default=1024)
    parser.add_argument("--mime-rounds", type=int, default=40)
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        workdir = Path(tmp)
        figures.update(bench_pst(workdir, args.pst_mb))
        figures.update(bench_mime(args.mime_rounds))
        figures.update(bench_mbox(workdir, args.mbox_mb))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
