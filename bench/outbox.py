"""Benchmark of mail out: the outbox to the local aiosmtpd sink (a script, not a test).

    python bench/outbox.py [--messages 3000] [--attachment-kb 0]

Uses a throwaway embedded database under `bench/.data/outbox` (gitignored; `BENCH_DATA_DIR`
moves it), queues `--messages` agent replies on an email ticket the way the reply action does
(`enqueue_email_reply`), starts the product's local SMTP sink (the embedded default, which
stores every mail as a file) and times the `mail_send` job until the outbox is empty. Counts
what the sink received by Message-ID. The last line is one JSON object:
`smtp_send_msgs_per_s` (target >= 200), `messages`, `sent`, `received`, `duplicates`, `lost`,
`sender_cpu_ms_per_msg` (the sender's CPU per mail, a figure a busy machine does not distort),
`load_average_1m`, `peak_mb`. `--workers N` runs N senders at once, as N jobs processes would.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from email.parser import BytesHeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR") or ROOT / "bench" / ".data" / "outbox")
os.environ["CRM_DATA_DIR"] = str(DATA_DIR)
os.environ.pop("DATABASE_URL", None)  # never a configured server: this database is throwaway
os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("CRM_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")


def _queue(messages: int, attachment_kb: int) -> None:
    from sqlalchemy import text

    from crm_app.db import get_engine, session_scope
    from crm_app.services.attachments import UploadSink, link_staged
    from crm_app.services.mail import outbox
    from models.client import Client
    from models.ticket import Channel, SenderKind, Ticket, TicketMessage

    with get_engine().begin() as conn:
        conn.execute(text("TRUNCATE outbound_message, ticket, client RESTART IDENTITY CASCADE"))
    staged = []
    if attachment_kb:
        sink = UploadSink(0)
        sink.write("statement.pdf", 0, "application/pdf", b"%PDF" * (attachment_kb * 256))
        staged = sink.finish()
    with session_scope() as session:
        client = Client(name="Bench Client", email="client@bench.example")
        session.add(client)
        session.flush()
        ticket = Ticket(subject="Bench thread", channel=Channel.EMAIL, client_id=client.id)
        session.add(ticket)
        session.flush()
        session.refresh(ticket)
        first = TicketMessage(
            ticket_id=ticket.id,
            sender_kind=SenderKind.CLIENT,
            body_text="Please send my statements.",
            channel=Channel.EMAIL,
            external_message_id="<first@client.bench.example>",
        )
        session.add(first)
        session.flush()
        for i in range(messages):
            reply = TicketMessage(
                ticket_id=ticket.id,
                sender_kind=SenderKind.AGENT,
                body_text=f"Dear client,\n\nhere is answer {i} about your portfolio.\n\nRegards",
            )
            session.add(reply)
            session.flush()
            if staged:
                link_staged(session, reply.id, staged)
            outbox.enqueue_email_reply(session, ticket, reply)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the local SMTP sink did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--attachment-kb", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="senders working the outbox at once (threads here; jobs processes in production)",
    )
    args = parser.parse_args()

    from crm_app.db import database_url, upgrade_to_head
    from crm_app.settings import get_settings

    database_url()  # the embedded server
    upgrade_to_head()
    folder = DATA_DIR / "mail"
    shutil.rmtree(folder, ignore_errors=True)
    port = _free_port()
    # The sink runs in a process of its own, as `scripts/run` runs it beside the jobs process.
    sink = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, threading; from pathlib import Path; "
            "from crm_app.services import system_mail; "
            "system_mail.start_sink(Path(sys.argv[1]), port=int(sys.argv[2])); "
            "threading.Event().wait()",
            str(folder),
            str(port),
        ],
        cwd=ROOT,
    )
    _wait_for_port(port)
    os.environ.update(
        CRM_SMTP_HOST="127.0.0.1",
        CRM_SMTP_PORT=str(port),
        CRM_SMTP_TLS="none",
        CRM_MAIL_FROM="Bench Firm <service@firm.bench.example>",
    )
    get_settings.cache_clear()
    try:
        _queue(args.messages, args.attachment_kb)
        from crm_app.services.mail import outbox
        from jobs import mail_send

        sent_counts: list[int] = []

        def worker() -> None:
            # One jobs process's worth of sending: it claims batches until nothing is due.
            sent_counts.append(mail_send.run(batch_size=args.batch_size, run_seconds=3600).sent)

        cpu_started = time.process_time()
        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        sent = sum(sent_counts)
        counts = outbox.outbox_counts()
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    parser_ = BytesHeaderParser()
    ids = collections.Counter()
    for path in folder.glob("*.eml"):
        with path.open("rb") as handle:
            ids[str(parser_.parse(handle)["Message-ID"])] += 1
    result = {
        "messages": args.messages,
        "sent": sent,
        "received": sum(ids.values()),
        "duplicates": sum(n - 1 for n in ids.values() if n > 1),
        "lost": args.messages - len(ids),
        "outbox_status": counts,
        "seconds": round(elapsed, 2),
        "workers": args.workers,
        "smtp_send_msgs_per_s": round(sent / elapsed, 1) if elapsed else 0.0,
        # The sender's own CPU per mail: what the rate would be on an idle core.
        "sender_cpu_ms_per_msg": round(cpu / sent * 1000, 2) if sent else 0.0,
        "load_average_1m": round(os.getloadavg()[0], 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(
        f"sent {sent} of {args.messages} in {elapsed:.1f} s "
        f"({result['smtp_send_msgs_per_s']} msgs/s), received {result['received']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
