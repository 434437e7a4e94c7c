"""Benchmark of archive import through the `pst_ingest` job (a script, not a test), and the
generated mail the archive tests use.

    python bench/archive.py [--gb 1.0] [--attachment-kb 640] [--pst-copies 4] [--kill-at 0.4]

Builds an archive set of copies of the sample PST and generated mbox files of finance mail
with binary attachments (archives are mostly attachment bytes), `--gb` in all; measures the
bare `ingest/` parse of the same files and the embedding model alone; then imports them through
the job in a separate process, kills that process once with SIGKILL when about `--kill-at` of
the messages are committed, restarts it, and checks every message was stored exactly once.

Figures (the last line is one JSON object):
- messages_per_s: messages read (stored + linked) / import seconds. Import seconds run from
  each job process's first claim to its kill or end: each process loads its model first and
  says so (the model load at start-up, a fixed cost, is left out and reported as
  startup_seconds, per process); the work lost to the kill and the re-read to the resume point
  are counted. The CPU seconds count from the same moment.
- bare_ingest_msgs_per_s: `ingest.iter_paths` over the same files, nothing stored.
- embed_texts_per_s: the embedding model alone on the import's own chunk texts, in batches of
  the job's size, at the job's priority and thread cap.
- ratio: messages_per_s / bound_msgs_per_s. An import must parse every message and embed
  the chunks of the new ones; it can go no faster than the slower of the two done alone:
  bound_msgs_per_s = min(embed_bound_msgs_per_s, bare_ingest_msgs_per_s), where
  embed_bound_msgs_per_s = messages read / (chunks embedded / embed_texts_per_s). 1.0 means
  the job adds nothing on top of its slowest unavoidable stage (the two overlap: parsing runs
  in a producer thread or a PST child while the consumer embeds). ratio_embed_only is the
  same against embedding alone: it equals ratio when embedding is the slower stage (mail with
  small attachments); with large attachments parsing them is.
- work_ratio: CPU seconds the import could not avoid (the bare parse of the same files plus
  embedding its chunks, each measured alone) / CPU seconds the job processes used. On a shared,
  saturated machine the job gets about one core whatever it overlaps, so wall-clock ratio is
  bounded by CPU share; work_ratio says how much the job adds on top of its unavoidable work.
- stage_seconds: seconds the job's stages spent on the archives that ended (those the killed
  run held are lost): read (waiting on the parse), embed, write (commits). They overlap, so
  they add up to more than import_seconds; the largest says where the time goes.
- peak_mb: the highest resident memory of the job process, sampled every 0.2 s
  (peak_with_readers_mb adds its PST reader child processes).
- resumed_ok: after the kill and restart, every message read is linked once per position,
  stored once per dedup key, and no chunk is doubled.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

TOPICS = [
    ("Wire transfer to {name}", "Please confirm the wire of {amount} USD to account {acct}. "
     "The beneficiary bank asked for the SWIFT code and the intermediary bank details."),
    ("Portfolio rebalancing for {name}", "We propose moving {amount} from equities into short "
     "government bonds to bring the risk back to the agreed moderate profile."),
    ("Tax certificate {year}", "Attached is the annual tax certificate for {year}. Dividends "
     "were withheld at 15 percent under the treaty; the refund claim is pending."),
    ("Change of address for {name}", "Please update the correspondence address on file and "
     "send the next statement to the new address; KYC documents follow by post."),
    ("Margin call on account {acct}", "The account fell below the maintenance margin. Deposit "
     "{amount} or reduce the position by Friday to avoid a forced sale."),
]  # fmt: skip
NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Emmy Noether", "Carl Gauss"]


def message_bytes(
    index: int,
    *,
    domain: str = "bank.example",
    sender_domain: str = "client.example",
    attachment_bytes: int = 0,
    seed: int = 0,
) -> bytes:
    rng = random.Random(seed * 1_000_003 + index)
    name = NAMES[index % len(NAMES)]
    subject, body = TOPICS[index % len(TOPICS)]
    values = {
        "name": name,
        "amount": f"{rng.randint(1, 900) * 1000:,}",
        "acct": f"CH{rng.randint(10**9, 10**10 - 1)}",
        "year": 2015 + index % 10,
    }
    mail = EmailMessage()
    mail["From"] = f"{name} <{name.split()[0].lower()}@{sender_domain}>"
    mail["To"] = "Advisory Desk <desk@firm.example>"
    mail["Subject"] = subject.format(**values)
    mail["Date"] = format_datetime(datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=13 * index))
    mail["Message-ID"] = f"<gen-{seed}-{index}@{domain}>"
    mail.set_content(f"Dear advisor,\n\n{body.format(**values)}\n\nMessage {index}.\n\n{name}")
    if attachment_bytes:
        mail.add_attachment(
            rng.randbytes(attachment_bytes),
            maintype="application",
            subtype="octet-stream",
            filename=f"statement-{index}.bin",
        )
    if index % 7 == 0:
        mail.add_attachment(
            f"Statement {index}: balance {values['amount']} USD".encode(),
            maintype="text",
            subtype="plain",
            filename=f"note-{index}.txt",
        )
    return mail.as_bytes()


def write_mbox(
    path: Path,
    count: int,
    *,
    start: int = 0,
    attachment_bytes: int = 0,
    seed: int = 0,
    target_bytes: int | None = None,
    sender_domain: str = "client.example",
) -> int:
    """Write `count` messages (or until the file reaches `target_bytes`); returns how many."""
    written = 0
    with path.open("wb") as handle:
        index = start
        while written < count and (target_bytes is None or handle.tell() < target_bytes):
            raw = message_bytes(
                index, attachment_bytes=attachment_bytes, seed=seed, sender_domain=sender_domain
            )
            raw = raw.replace(b"\nFrom ", b"\n>From ")
            handle.write(b"From desk@firm.example Thu Jan  1 00:00:00 2020\n" + raw + b"\n")
            written += 1
            index += 1
    return written


def noise(size: int) -> bytes:
    return base64.b64encode(random.Random(size).randbytes(size))[:size]


# --- the benchmark ----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PST = ROOT / "tests" / "data" / "pst" / "outlook-sample.pst"
# The scheduled job's run (`pst_ingest.run`), printing each archive's stage seconds as it ends.
_JOB = """
import json, sys, time
from crm_app.ai import runtime
from crm_app.ai.embeddings import get_provider
from jobs import pst_ingest

def report(result):
    print(json.dumps(result.stage_seconds), flush=True)

def run():
    started = time.monotonic()
    provider = get_provider()
    pst_ingest._embedder(provider)  # the model loaded before the first claim: a fixed cost
    print(json.dumps({"startup": time.monotonic() - started}), flush=True)
    return pst_ingest.drain(seconds=3600, provider=provider, on_result=report)

runtime.run_in_background(run)
"""


def _build(workdir: Path, gb: float, attachment_kb: int, pst_copies: int) -> list[Path]:
    target = int(gb * (1 << 30))
    files = []
    for copy in range(pst_copies):
        path = workdir / f"sample-{copy}.pst"
        shutil.copyfile(SAMPLE_PST, path)
        files.append(path)
    left = target - sum(f.stat().st_size for f in files)
    per_file = 256 << 20
    index = 0
    while left > 0:
        path = workdir / f"desk-{index}.mbox"
        count = write_mbox(
            path,
            10**9,
            start=index * 1_000_000,
            attachment_bytes=attachment_kb << 10,
            seed=index,
            target_bytes=min(per_file, left),
        )
        files.append(path)
        left -= path.stat().st_size
        print(f"built {path.name}: {count} messages", file=sys.stderr)
        index += 1
    return files


def _bare_ingest(files: list[Path]) -> tuple[int, float]:
    from ingest import Message, iter_paths

    started, count = time.monotonic(), 0
    for _, record in iter_paths(files):
        count += isinstance(record, Message)
    return count, time.monotonic() - started


def _own_cpu() -> float:
    """CPU seconds of this process and of its children that have ended."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _tree_cpu(pid: int, seen: dict[int, float]) -> None:
    """Record the CPU seconds so far of a process and each of its children, by pid."""
    import psutil

    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        for member in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = member.cpu_times()
                seen[member.pid] = times.user + times.system


def _rss(pid: int) -> tuple[float, float]:
    """Resident MB of the job process, and of it with its PST reader children."""
    import psutil

    try:
        process = psutil.Process(pid)
        own = total = process.memory_info().rss
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return own / (1 << 20), total / (1 << 20)
    except psutil.Error:
        return 0.0, 0.0


def _progress() -> dict[str, int]:
    from sqlalchemy import text

    from crm_app.db import session_scope

    with session_scope() as session:
        row = session.execute(
            text(
                "SELECT coalesce(sum(messages + duplicates), 0), "
                "count(*) FILTER (WHERE status IN ('queued', 'running')), "
                "count(*) FILTER (WHERE status = 'running' AND heartbeat_at IS NOT NULL) "
                "FROM archive"
            )
        ).one()
        return {"read": int(row[0]), "open": int(row[1]), "running": int(row[2])}


def _job_process(env: dict[str, str], log: Path, stages: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _JOB],
        cwd=ROOT,
        env=env,
        stdout=stages.open("ab"),
        stderr=log.open("ab"),
        start_new_session=True,
    )


def _ready(stages: Path, seen: int) -> bool:
    """Whether the job process has written its start-up line (its model is loaded: it claims
    next). Archives a killed process left `running` say nothing about the one after it."""
    lines = stages.read_text().splitlines() if stages.exists() else []
    return any('"startup"' in line for line in lines[seen:])


def _watch(job: subprocess.Popen, stop_at: int | None, stages: Path) -> dict[str, float]:
    """Poll until the job ends (or has read `stop_at` messages: then SIGKILL it)."""
    seen = len(stages.read_text().splitlines()) if stages.exists() else 0
    first_claim = cpu_at_claim = peak = peak_tree = 0.0
    killed = False
    cpu: dict[int, float] = {}
    while job.poll() is None:
        _tree_cpu(job.pid, cpu)
        own, tree = _rss(job.pid)
        peak, peak_tree = max(peak, own), max(peak_tree, tree)
        state = _progress()
        if not first_claim and _ready(stages, seen):
            first_claim, cpu_at_claim = time.monotonic(), sum(cpu.values())
        if stop_at is not None and state["read"] >= stop_at:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
            killed = True
            break
        time.sleep(0.2)
    ended = time.monotonic()
    return {
        "seconds": ended - (first_claim or ended),
        "peak": peak,
        "peak_tree": peak_tree,
        "killed": killed,
        "cpu": sum(cpu.values()) - cpu_at_claim,
    }


def _resumed_ok(expected_messages: int) -> tuple[bool, dict[str, int]]:
    from sqlalchemy import text

    from crm_app.db import session_scope

    checks = {
        "links": "SELECT count(*) FROM archive_message",
        "double_links": "SELECT count(*) FROM (SELECT archive_id, position FROM archive_message "
        "GROUP BY 1, 2 HAVING count(*) > 1) d",
        "stored_links": "SELECT count(*) FROM archive_message WHERE stored",
        "documents": "SELECT count(*) FROM retrieval_document "
        "WHERE source_kind = 'archive_message'",
        "double_chunks": "SELECT count(*) FROM (SELECT document_id, chunk_index FROM "
        "retrieval_chunk GROUP BY 1, 2 HAVING count(*) > 1) d",
        "counted": "SELECT coalesce(sum(messages + duplicates), 0) FROM archive",
        "not_done": "SELECT count(*) FROM archive WHERE status <> 'done'",
    }
    with session_scope() as session:
        found = {name: int(session.execute(text(sql)).scalar_one()) for name, sql in checks.items()}
    ok = (
        found["links"] == expected_messages == found["counted"]
        and found["double_links"] == 0
        and found["double_chunks"] == 0
        and found["stored_links"] == found["documents"]
        and found["not_done"] == 0
    )
    return ok, found


def _embed_rate(texts: list[str]) -> tuple[float, float]:
    """Texts per second, and CPU seconds per text, of the job's embedding alone."""
    from crm_app.ai import runtime
    from crm_app.ai.embeddings import get_provider
    from jobs.pst_ingest import EMBED_BATCH_CHUNKS, _embedder

    def measure() -> tuple[float, float]:
        embed = _embedder(get_provider())  # as the job embeds, warmed up
        started, cpu = time.monotonic(), _own_cpu()
        for start in range(0, len(texts), EMBED_BATCH_CHUNKS):
            embed(texts[start : start + EMBED_BATCH_CHUNKS])
        return len(texts) / (time.monotonic() - started), (_own_cpu() - cpu) / len(texts)

    return runtime.run_in_background(measure)


def _sample_texts(limit: int) -> list[str]:
    from sqlalchemy import text

    from crm_app.db import session_scope

    with session_scope() as session:
        return list(
            session.execute(
                text("SELECT text FROM retrieval_chunk ORDER BY random() LIMIT :n"), {"n": limit}
            ).scalars()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0, help="size of the archive set")
    parser.add_argument("--attachment-kb", type=int, default=640)
    parser.add_argument("--pst-copies", type=int, default=4)
    parser.add_argument("--kill-at", type=float, default=0.4, help="share read before SIGKILL")
    parser.add_argument("--embed-texts", type=int, default=512)
    parser.add_argument("--workdir", default=None)
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="CRM_AI_NICE for the job and the embedding measure (the product default is 10, "
        "idle class: on a busy shared machine that measures the other users, not the job)",
    )
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="archive-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.pop("DATABASE_URL", None)
    os.environ["CRM_DATA_DIR"] = str(workdir / "data")
    os.environ["CRM_AI_NICE"] = str(args.nice)
    sys.path.insert(0, str(ROOT))
    from crm_app.auth.permissions import SYSTEM
    from crm_app.db import database_url, upgrade_to_head
    from crm_app.services import archives

    files = _build(workdir, args.gb, args.attachment_kb, args.pst_copies)
    total_bytes = sum(f.stat().st_size for f in files)
    cpu_before = _own_cpu()
    bare_messages, bare_seconds = _bare_ingest(files)
    bare_cpu = _own_cpu() - cpu_before
    print(f"bare ingest: {bare_messages} messages in {bare_seconds:.1f} s", file=sys.stderr)

    upgrade_to_head()
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)}
    for path in files:
        archives.queue_archive(SYSTEM, path, label=path.stem)
    log, stages = workdir / "job.log", workdir / "stages.jsonl"
    first = _watch(
        _job_process(env, log, stages), stop_at=int(bare_messages * args.kill_at), stages=stages
    )
    print(f"killed after {first['seconds']:.1f} s: {_progress()}", file=sys.stderr)
    second = _watch(_job_process(env, log, stages), stop_at=None, stages=stages)
    stage_seconds = {"read": 0.0, "embed": 0.0, "write": 0.0}
    startup: list[float] = []
    for line in stages.read_text().splitlines():  # archives ended (the killed run's are lost)
        for stage, spent in json.loads(line).items():
            if stage == "startup":
                startup.append(round(spent, 1))
            else:
                stage_seconds[stage] += spent
    read = _progress()["read"]
    ok, found = _resumed_ok(bare_messages)
    print(f"resumed: {found}", file=sys.stderr)

    from sqlalchemy import text

    from crm_app.db import session_scope

    with session_scope() as session:
        chunks = int(session.execute(text("SELECT count(*) FROM retrieval_chunk")).scalar_one())
    texts = _sample_texts(args.embed_texts)
    embed_rate, embed_cpu_per_text = _embed_rate(texts) if texts else (0.0, 0.0)
    import_cpu = first["cpu"] + second["cpu"]
    # The CPU the import cannot avoid (the bare parse of the same files plus embedding its
    # chunks) over the CPU it used: independent of how busy the shared machine was.
    work_ratio = (bare_cpu + chunks * embed_cpu_per_text) / import_cpu if import_cpu else 0.0
    seconds = first["seconds"] + second["seconds"]
    messages_per_s = read / seconds if seconds else 0.0
    embed_bound = read / (chunks / embed_rate) if chunks and embed_rate else 0.0
    bare_rate = bare_messages / bare_seconds if bare_seconds else 0.0
    bound = min(embed_bound, bare_rate) if embed_bound else bare_rate
    print(
        json.dumps(
            {
                "gb": round(total_bytes / (1 << 30), 3),
                "files": len(files),
                "messages": read,
                "chunks_embedded": chunks,
                "import_seconds": round(seconds, 1),
                "messages_per_s": round(messages_per_s, 1),
                "bare_ingest_msgs_per_s": round(bare_rate, 1),
                "embed_texts_per_s": round(embed_rate, 1),
                "embed_bound_msgs_per_s": round(embed_bound, 1),
                "bound_msgs_per_s": round(bound, 1),
                "ratio": round(messages_per_s / bound, 3) if bound else 0.0,
                "ratio_embed_only": round(messages_per_s / embed_bound, 3) if embed_bound else 0.0,
                "cpu_seconds": {
                    "bare_ingest": round(bare_cpu, 1),
                    "embed": round(chunks * embed_cpu_per_text, 1),
                    "import": round(import_cpu, 1),
                },
                "work_ratio": round(work_ratio, 3),
                "stage_seconds": {k: round(v, 1) for k, v in stage_seconds.items()},
                "startup_seconds": startup,
                "peak_mb": round(max(first["peak"], second["peak"]), 1),
                "peak_with_readers_mb": round(max(first["peak_tree"], second["peak_tree"]), 1),
                "nice": args.nice,
                "killed_once": first["killed"],
                "resumed_ok": ok,
            }
        )
    )
    if not args.workdir:  # the archive set the run built (a gigabyte): not kept
        for path in files:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
