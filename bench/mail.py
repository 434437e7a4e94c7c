"""Benchmark of the email channel's intake (a script, not a test).

    python bench/email.py [--messages 10000] [--mime-dir DIR ...]

(`bench/email.py` is the command; this file is its code.)

Starts a throwaway embedded PostgreSQL and a real Dovecot, fills one mailbox (by default with
generated mail: new requests, replies, auto-replies, attachments; with `--mime-dir`, with every
file under those folders, one message each), then imports it with the product's own job
(`python -m jobs.imap_poll`, in a child process whose peak RSS is measured) and a bare
imapclient fetch loop over the same mailbox (the same batched UID FETCH, nothing else). Counts
come from the inbound table: `lost` is a message in the mailbox with no record at all (neither
imported, ignored, failed nor a duplicate delivery); `duplicates` is a Message-ID that became
more than one ticket message. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# Run as a script: bench/ off the import path (before anything imports `email`).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_DATA = Path(tempfile.mkdtemp(prefix="crm-bench-email-"))
os.environ.pop("DATABASE_URL", None)
os.environ["CRM_DATA_DIR"] = str(_DATA)
os.environ.setdefault("CRM_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")

from tests.mail_servers import DovecotServer, simple_message  # noqa: E402

FETCH_BATCH = 250


def generated(count: int, mailbox: str, seed: int = 7) -> Iterator[bytes]:
    """Mixed small mail: mostly new requests from a pool of senders, replies threading into
    earlier ones, a few auto-replies and attachments."""
    rng = random.Random(seed)
    pdf = base64.b64encode(b"%PDF-1.4 " + bytes(rng.randrange(256) for _ in range(3000))).decode()
    for n in range(count):
        sender = f"client{rng.randrange(2000)}@clients.example"
        kind = rng.random()
        if kind < 0.03:
            yield simple_message(
                sender=sender,
                to=mailbox,
                subject="Out of office",
                body="I am away until Monday.",
                message_id=f"<ooo{n}@clients.example>",
                extra_headers=[("Auto-Submitted", "auto-replied")],
            )
        elif kind < 0.25 and n > 10:
            parent = rng.randrange(n)
            yield simple_message(
                sender=sender,
                to=mailbox,
                subject=f"Re: Question {parent}",
                body=f"Thanks, one more thing about {n}.\n\nOn Mon, someone wrote:\n> earlier text",
                message_id=f"<m{n}@clients.example>",
                in_reply_to=f"<m{parent}@clients.example>",
                references=[f"<m{parent}@clients.example>"],
            )
        elif kind < 0.28:
            yield (
                f"From: {sender}\r\nTo: {mailbox}\r\nSubject: Statement {n}\r\n"
                f"Message-ID: <m{n}@clients.example>\r\nMIME-Version: 1.0\r\n"
                'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
                "--b\r\nContent-Type: text/plain\r\n\r\nMy statement is attached.\r\n"
                "--b\r\nContent-Type: application/pdf; name=s.pdf\r\n"
                "Content-Disposition: attachment; filename=s.pdf\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--b--\r\n"
            ).encode()
        else:
            yield simple_message(
                sender=sender,
                to=mailbox,
                subject=f"Question {n}",
                body=f"Hello, please tell me about my account ({n}).\n\nRegards",
                message_id=f"<m{n}@clients.example>",
            )


def files_in(dirs: list[str]) -> Iterator[bytes]:
    for directory in dirs:
        for path in sorted(Path(directory).rglob("*")):
            if path.is_file():
                yield path.read_bytes()


def fill(server: DovecotServer, account, messages: Iterator[bytes]) -> tuple[int, int]:
    """APPEND everything; a message the server refuses (e.g. empty) is counted, not fatal."""
    client = account.client(timeout=120)
    refused = 0
    chunk: list[bytes] = []

    def flush() -> None:
        nonlocal refused
        try:
            client.multiappend("INBOX", chunk)
        except Exception:
            for raw in chunk:
                try:
                    client.append("INBOX", raw)
                except Exception:
                    refused += 1
        chunk.clear()

    for raw in messages:
        chunk.append(raw)
        if len(chunk) >= 200:
            flush()
    if chunk:
        flush()
    info = client.select_folder("INBOX", readonly=True)
    client.logout()
    return int(info[b"EXISTS"]), refused


def bare_fetch(account) -> tuple[int, float]:
    client = account.client(timeout=120)
    start = time.perf_counter()
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["ALL"])
    fetched = 0
    for index in range(0, len(uids), FETCH_BATCH):
        fetched += len(client.fetch(uids[index : index + FETCH_BATCH], ["BODY.PEEK[]"]))
    elapsed = time.perf_counter() - start
    client.logout()
    return fetched, elapsed


def _outbox_rate(messages: int) -> dict:
    """bench/outbox.py's figures (its own throwaway database, the product's local sink)."""
    if messages <= 0:
        return {}
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["BENCH_DATA_DIR"] = str(_DATA / "outbox")
    run = subprocess.run(
        [sys.executable, "-m", "bench.outbox", "--messages", str(messages)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    try:
        figures = json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print(run.stdout[-2000:], run.stderr[-4000:], file=sys.stderr)
        return {}
    print(f"outbox: {run.stdout.strip().splitlines()[-2]}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000, help="generated messages")
    parser.add_argument("--mime-dir", action="append", default=[], help="folder of messages")
    parser.add_argument("--profile", help="write a cProfile of the import job to this file")
    parser.add_argument(
        "--outbox-messages", type=int, default=2000, help="mails sent for smtp_send_msgs_per_s"
    )
    args = parser.parse_args()

    from sqlalchemy import func, select, text

    from crm_app.db import database_url, session_scope, upgrade_to_head
    from crm_app.services import accounts, mailboxes
    from crm_app.services.sla import ensure_default_targets
    from models.inbound_mail import InboundMail, InboundStatus
    from models.ticket import Ticket

    upgrade_to_head()
    ensure_default_targets()
    os.environ["DATABASE_URL"] = database_url()
    manager = accounts.create_first_manager("bench@firm.example", "Bench", "bench-password-1234!")
    from crm_app.auth.permissions import Actor

    actor = Actor(user_id=manager.id, role="manager", name="Bench", email="bench@firm.example")
    server = DovecotServer.start()
    try:
        account = server.add_user("support@firm.example")
        source = (
            files_in(args.mime_dir) if args.mime_dir else generated(args.messages, account.user)
        )
        t0 = time.perf_counter()
        in_mailbox, refused = fill(server, account, source)
        fill_s = time.perf_counter() - t0
        print(
            f"mailbox filled: {in_mailbox} messages ({refused} refused) in {fill_s:.1f}s",
            flush=True,
        )
        bare_count, bare_s = bare_fetch(account)
        print(f"bare imapclient: {bare_count} in {bare_s:.2f}s", flush=True)
        box = mailboxes.save_mailbox(
            actor,
            None,
            {
                "name": "Bench",
                "address": account.user,
                "imap_host": account.host,
                "imap_port": account.port,
                "imap_security": "none",
                "imap_user": account.user,
                "imap_password": account.password,
            },
        )
        start = time.perf_counter()
        job = subprocess.run(
            [
                sys.executable,
                *(["-m", "cProfile", "-o", args.profile] if args.profile else []),
                "-m",
                "jobs.imap_poll",
                "--mailbox",
                str(box.id),
            ],
            cwd=ROOT,
            env={**os.environ, "CRM_LOG_LEVEL": "WARNING"},
            capture_output=True,
            text=True,
        )
        wall_s = time.perf_counter() - start
        try:  # the job's own time, from connecting to its last commit (not Python's start-up)
            import_s = float(json.loads(job.stdout.strip().splitlines()[-1])["seconds"])
        except (ValueError, KeyError, IndexError):
            import_s = wall_s
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if job.returncode != 0:
            print(job.stdout[-2000:], job.stderr[-4000:], file=sys.stderr)
        print(
            f"import: {import_s:.2f}s ({wall_s:.1f}s with start-up); {job.stdout.strip()[-400:]}",
            flush=True,
        )
        with session_scope() as session:
            by_status = dict(
                session.execute(
                    select(InboundMail.status, func.count()).group_by(InboundMail.status)
                ).all()
            )
            recorded_uids = session.execute(
                select(func.count(func.distinct(InboundMail.uid))).where(
                    InboundMail.mailbox_id == box.id, InboundMail.folder == "INBOX"
                )
            ).scalar_one()
            tickets_created = session.execute(select(func.count()).select_from(Ticket)).scalar_one()
            duplicates = session.execute(
                text(
                    "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM ticket_message"
                    " WHERE channel = 'email' AND external_message_id IS NOT NULL"
                    " GROUP BY external_message_id HAVING count(*) > 1) d"
                )
            ).scalar_one()
    finally:
        server.stop()
    outbox = _outbox_rate(args.outbox_messages)
    imported = by_status.get(InboundStatus.IMPORTED, 0)
    import_rate = in_mailbox / import_s if import_s else 0.0
    bare_rate = bare_count / bare_s if bare_s else 0.0
    figures = {
        "messages_in_mailbox": in_mailbox,
        "messages_refused_by_server": refused,
        "messages_imported": imported,
        "messages_ignored": by_status.get(InboundStatus.IGNORED, 0),
        "duplicate_deliveries_recorded": by_status.get(InboundStatus.DUPLICATE, 0),
        "failed_imports": by_status.get(InboundStatus.FAILED, 0),
        "tickets_created": tickets_created,
        "duplicates": int(duplicates),
        "lost": in_mailbox - recorded_uids,
        "import_msgs_per_s": round(import_rate, 1),
        "import_wall_s": round(wall_s, 2),
        "bare_imapclient_msgs_per_s": round(bare_rate, 1),
        "import_ratio": round(import_rate / bare_rate, 3) if bare_rate else None,
        # The outbox job to the local aiosmtpd sink (bench/outbox.py, in this run).
        "smtp_send_msgs_per_s": outbox.get("smtp_send_msgs_per_s"),
        "smtp_send_lost": outbox.get("lost"),
        "smtp_send_duplicates": outbox.get("duplicates"),
        "peak_mb": round(peak_mb, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
