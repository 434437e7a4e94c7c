"""Benchmark of bulk email campaigns (a script, not a test).

    python bench/campaigns.py [--recipients 200000] [--workers 1] [--skip-sendgrid]

Uses a throwaway embedded database under `bench/.data/campaigns` (`BENCH_DATA_DIR` moves it)
and generates `--recipients` clients with marketing consent in one segment. Then, twice:

1. SMTP: a campaign from a mailbox whose SMTP server is a local aiosmtpd (its own process,
   offering PIPELINING, writing each accepted recipient to a file);
2. SendGrid: the same audience from a SendGrid mailbox, the job driving the official
   `sendgrid` client against a local fake of SendGrid's v3 `POST /v3/mail/send` (bearer key,
   required fields, at most 1,000 personalizations per request, 202 + X-Message-Id; its own
   process, writing each personalization's recipient to a file);

each time it starts `python -m jobs.campaign_send` (`--workers` of them, as that many jobs
processes), kills one of them with SIGKILL once about half the recipients are sent, starts it
again, and waits until the campaign is sent. Then it counts, per recipient, the messages the
server accepted. The last line is one JSON object: `recipients`, `smtp_msgs_per_s`,
`sendgrid_recipients_per_s`, `sendgrid_calls`, `sent_once` (recipients of the SMTP and of the
SendGrid run who got exactly one message, the lower of the two), `sent_twice`, `missing` (both
runs added), `peak_mb` (the largest resident set of any job process), and per-run details.
Rates are recipients over the wall time from the first job start to the campaign's end,
the kill and the restart included.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
# Run as a script: import from the repository root, not from bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(ROOT))
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR") or ROOT / "bench" / ".data" / "campaigns")
os.environ["CRM_DATA_DIR"] = str(DATA_DIR)
os.environ.pop("DATABASE_URL", None)  # never a configured server: this database is throwaway
os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("CRM_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
API_KEY = "SG.bench-key-for-the-fake"


# --- the two local servers (each runs as `bench/campaigns.py --serve-...`) ----------------------


def serve_smtp(port: int, out: Path) -> None:
    import asyncio

    from aiosmtpd.controller import Controller

    sink = out.open("a", buffering=1 << 16)
    count = [0]

    class Handler:
        async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list:
            # Offer PIPELINING (RFC 2920), as production servers do; aiosmtpd reads pipelined
            # commands in order but does not announce it, so without this the job would wait
            # for each of MAIL, RCPT and DATA in turn.
            session.host_name = hostname
            return [*responses[:-1], "250-PIPELINING", responses[-1]]

        async def handle_DATA(self, server, session, envelope) -> str:
            count[0] += 1
            for rcpt in envelope.rcpt_tos:
                sink.write(rcpt + "\n")
            if count[0] % 200 == 0:
                sink.flush()
            return f"250 2.0.0 Ok: queued as B{count[0]}"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, data_size_limit=10**6)
    controller.start()

    def stop(*_: object) -> None:
        sink.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    asyncio.run(asyncio.sleep(10**9))


def serve_sendgrid(port: int, out: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    sink = out.open("a", buffering=1 << 16)
    calls = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def _answer(self, status: int, body: dict | None, headers: dict | None = None) -> None:
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/v3/mail/send":
                return self._answer(404, {"errors": [{"message": "not found"}]})
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                return self._answer(401, {"errors": [{"message": "authorization required"}]})
            try:
                body = json.loads(raw)
            except ValueError:
                return self._answer(400, {"errors": [{"message": "invalid JSON"}]})
            people = body.get("personalizations") or []
            missing = [k for k in ("personalizations", "from", "content") if not body.get(k)]
            if missing or not 1 <= len(people) <= 1000:
                return self._answer(400, {"errors": [{"message": f"bad request {missing}"}]})
            if not body.get("subject") and not all(p.get("subject") for p in people):
                return self._answer(400, {"errors": [{"message": "subject required"}]})
            calls[0] += 1
            for person in people:
                for to in person.get("to", []):
                    sink.write(to["email"] + "\n")
            sink.write(f"#call {len(people)}\n")
            sink.flush()
            return self._answer(202, None, {"X-Message-Id": f"bench-{calls[0]}"})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


# --- the benchmark -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(kind: str, out: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, f"--serve-{kind}", str(port), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process, port


def _prepare(recipients: int) -> int:
    from sqlalchemy import text

    from crm_app.db import session_scope, upgrade_to_head
    from crm_app.services import segments

    upgrade_to_head()
    with session_scope() as session:
        session.execute(
            text(
                "TRUNCATE campaign, campaign_recipient, campaign_event, suppression, client, "
                "segment, mailbox RESTART IDENTITY CASCADE"
            )
        )
        session.execute(
            text(
                "INSERT INTO client (name, email, marketing_consent, tags, risk_category, "
                "currency, kind, verified, created_at, updated_at) "
                "SELECT 'Client' || g || ' Bench', 'client' || g || '@bench.example', true, "
                "'{newsletter}', 'moderate', 'USD', 'individual', true, now(), now() "
                "FROM generate_series(1, CAST(:n AS int)) g"
            ),
            {"n": recipients},
        )
    session_actor = _marketer()
    rules = {"op": "and", "rules": [{"field": "tags", "operator": "has", "value": "newsletter"}]}
    return segments.save_segment(session_actor, name="Newsletter", rules=rules).id


def _marketer():
    from crm_app.auth.permissions import Actor

    return Actor(user_id=None, role="marketing", name="Bench Marketing")


def _mailbox(**fields) -> int:
    from crm_app.db import session_scope
    from models.mailbox import Mailbox

    with session_scope() as session:
        box = Mailbox(name="Newsletter", display_name="Firm Newsletter", **fields)
        session.add(box)
        session.flush()
        return box.id or 0


def _campaign(segment_id: int, mailbox_id: int, name: str) -> int:
    from crm_app.services.campaigns import manage

    marketer = _marketer()
    campaign_id = manage.create_campaign(marketer, name)
    manage.save_draft(
        marketer,
        campaign_id,
        {
            "sender_mailbox_id": mailbox_id,
            "subject": "Your quarterly outlook, {{first_name|there}}",
            "preheader": "Markets, rates and what we are watching",
            "body_html": "<h1>Quarterly outlook</h1><p>Dear {{first_name|client}},</p>"
            "<p>" + "Our view on the quarter ahead. " * 30 + "</p>"
            '<p><a href="https://firm.example/outlook">Read the full outlook</a></p>',
            "segment_ids": [segment_id],
        },
    )
    manage.schedule(marketer, campaign_id)
    return campaign_id


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class _Progress:
    """The campaign's status, and how many recipients the server has received so far: counted
    from the server's file (only its new lines each time), not with a count over the recipient
    table, which at 200,000 rows costs PostgreSQL a tenth of a core at four polls a second."""

    def __init__(self, campaign_id: int, out: Path) -> None:
        self.campaign_id = campaign_id
        self.out = out
        self.offset = 0
        self.received = 0

    def __call__(self) -> tuple[str, int]:
        from sqlalchemy import text

        from crm_app.db import session_scope

        with session_scope() as session:
            status = session.execute(
                text("SELECT status FROM campaign WHERE id = :id"), {"id": self.campaign_id}
            ).scalar_one()
        if self.out.exists():
            with self.out.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
            whole = chunk[: chunk.rfind(b"\n") + 1]  # a line being written is counted next time
            self.offset += len(whole)
            self.received += whole.count(b"\n") - whole.count(b"#call")
        return status, self.received


def _run_job(env: dict[str, str], progress: _Progress, total: int, workers: int) -> dict:
    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "jobs.campaign_send", "--until-idle", "--run-seconds", "600"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )

    started = time.monotonic()
    jobs = [start() for _ in range(workers)]
    peak = 0.0
    killed_at: int | None = None
    kill_after = total * random.uniform(0.35, 0.65)
    status = "sending"
    while True:
        time.sleep(0.25)
        for job in jobs:
            peak = max(peak, _rss_mb(job.pid))
        status, sent = progress()
        if status in ("sent", "cancelled"):
            break
        alive = [index for index, job in enumerate(jobs) if job.poll() is None]
        if killed_at is None and sent >= kill_after and alive:
            victim = alive[0]  # a process still sending: killing one that has exited tests nothing
            jobs[victim].send_signal(signal.SIGKILL)
            jobs[victim].wait()
            killed_at = sent
            jobs[victim] = start()
        if all(job.poll() is not None for job in jobs):
            jobs = [start() for _ in range(workers)]  # idle exits before the snapshot was due
        if time.monotonic() - started > 3600:
            break
    elapsed = time.monotonic() - started
    for job in jobs:
        job.wait(timeout=120)
    return {"elapsed_s": round(elapsed, 2), "killed_at_sent": killed_at, "peak_mb": peak}


def _count(out: Path, total: int) -> dict:
    counts: collections.Counter[str] = collections.Counter()
    calls = 0
    with out.open() as handle:
        for line in handle:
            if line.startswith("#call"):
                calls += 1
            else:
                counts[line.strip()] += 1
    expected = {f"client{i}@bench.example" for i in range(1, total + 1)}
    once = sum(1 for e in expected if counts.get(e) == 1)
    twice = sum(1 for e in expected if counts.get(e, 0) > 1)
    missing = sum(1 for e in expected if e not in counts)
    return {"sent_once": once, "sent_twice": twice, "missing": missing, "calls": calls}


def _db_outcome(campaign_id: int) -> dict:
    from sqlalchemy import text

    from crm_app.db import session_scope

    with session_scope() as session:
        rows = session.execute(
            text(
                "SELECT status, unconfirmed, count(*) FROM campaign_recipient "
                "WHERE campaign_id = :id GROUP BY status, unconfirmed"
            ),
            {"id": campaign_id},
        ).all()
    return {f"{s}{'_unconfirmed' if u else ''}": n for s, u, n in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--skip-sendgrid", action="store_true")
    parser.add_argument("--skip-smtp", action="store_true")
    parser.add_argument("--serve-smtp", nargs=2, metavar=("PORT", "FILE"))
    parser.add_argument("--serve-sendgrid", nargs=2, metavar=("PORT", "FILE"))
    args = parser.parse_args()
    if args.serve_smtp:
        return serve_smtp(int(args.serve_smtp[0]), Path(args.serve_smtp[1]))
    if args.serve_sendgrid:
        return serve_sendgrid(int(args.serve_sendgrid[0]), Path(args.serve_sendgrid[1]))

    from crm_app.crypto import encrypt_secret
    from crm_app.db import database_url
    from models.mailbox import ConnectionSecurity, OutboundKind

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    work = DATA_DIR / "out"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    t0 = time.monotonic()
    segment_id = _prepare(args.recipients)
    setup_s = time.monotonic() - t0
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)}
    report: dict = {"recipients": args.recipients, "workers": args.workers}
    runs: list[dict] = []

    if not args.skip_smtp:
        out = work / "smtp.txt"
        server, port = _start_server("smtp", out)
        try:
            box = _mailbox(
                address="news@firm.example",
                outbound=OutboundKind.SMTP,
                smtp_host="127.0.0.1",
                smtp_port=port,
                smtp_security=ConnectionSecurity.NONE,
            )
            campaign_id = _campaign(segment_id, box, "Bench SMTP")
            job = _run_job(env, _Progress(campaign_id, out), args.recipients, args.workers)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()
        counted = _count(out, args.recipients)
        smtp = {**job, **counted, "db": _db_outcome(campaign_id)}
        smtp["msgs_per_s"] = round(args.recipients / job["elapsed_s"], 1)
        report["smtp"] = smtp
        runs.append(smtp)

    if not args.skip_sendgrid:
        out = work / "sendgrid.txt"
        server, port = _start_server("sendgrid", out)
        env_sg = {**env, "CRM_SENDGRID_API_HOST": f"http://127.0.0.1:{port}"}
        try:
            box = _mailbox(
                address="news-sg@firm.example",
                outbound=OutboundKind.SENDGRID,
                sendgrid_secret=encrypt_secret(API_KEY),
            )
            campaign_id = _campaign(segment_id, box, "Bench SendGrid")
            job = _run_job(env_sg, _Progress(campaign_id, out), args.recipients, args.workers)
        finally:
            server.terminate()
            server.wait()
        counted = _count(out, args.recipients)
        sendgrid = {**job, **counted, "db": _db_outcome(campaign_id)}
        sendgrid["recipients_per_s"] = round(args.recipients / job["elapsed_s"], 1)
        report["sendgrid"] = sendgrid
        runs.append(sendgrid)

    report["setup_s"] = round(setup_s, 1)
    print(json.dumps(report, indent=1), file=sys.stderr)
    print(
        json.dumps(
            {
                "recipients": args.recipients,
                "smtp_msgs_per_s": report.get("smtp", {}).get("msgs_per_s"),
                "sendgrid_recipients_per_s": report.get("sendgrid", {}).get("recipients_per_s"),
                "sendgrid_calls": report.get("sendgrid", {}).get("calls"),
                "sent_once": min(r["sent_once"] for r in runs) if runs else 0,
                "sent_twice": sum(r["sent_twice"] for r in runs),
                "missing": sum(r["missing"] for r in runs),
                "peak_mb": round(max(r["peak_mb"] for r in runs), 1) if runs else 0,
                "workers": args.workers,
                "smtp_killed_at_sent": report.get("smtp", {}).get("killed_at_sent"),
                "sendgrid_killed_at_sent": report.get("sendgrid", {}).get("killed_at_sent"),
            }
        )
    )


if __name__ == "__main__":
    main()
