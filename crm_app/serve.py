"""`scripts/run`: the database, migrations, the jobs process and the production web server.

Starts the embedded PostgreSQL when no DATABASE_URL is configured, upgrades the schema, then
runs `python -m jobs` and the production web server (`crm_app.web`: Reflex's build, then its
backend on one port) side by side, stopping both (and the embedded database) when either ends
or on Ctrl-C. Without `CRM_SMTP_HOST` it also runs a local SMTP sink that keeps the CRM's own
mail as files in `<data dir>/mail`, so sign-up notices can be read there instead of being lost.

`--workers N` (N > 1) runs N backend workers on the one port (Reflex's multi-worker mode on
Granian) with tab state in Redis: `REDIS_URL` when set, else a local Debian `redis-server`
(no persistence, loopback only) that lives as long as this command. Uploads and attachments
are in the data dir all workers share; live updates, presence and the sign-in throttle go
through PostgreSQL, so every worker sees every other's writes.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from crm_app.db import database_url, libpq_url, upgrade_to_head
from crm_app.logging_setup import configure_logging
from crm_app.metrics import MULTIPROC_ENV, prepare_multiprocess_dir
from crm_app.services import system_mail
from crm_app.services.sla import ensure_default_targets
from crm_app.settings import PROJECT_ROOT, get_settings

log = logging.getLogger("crm_app.serve")


REDIS_SERVER = "redis-server"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_local_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """A Redis for tab state on a free loopback port, nothing written to disk."""
    binary = shutil.which(REDIS_SERVER) or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise SystemExit(
            "--workers needs Redis: set REDIS_URL, or install Debian's redis-server package"
        )
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="backend workers on the one port (more than 1 keeps tab state in Redis)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workers < 1:
        raise SystemExit("--workers must be at least 1")
    configure_logging()
    url = database_url()  # starts the embedded server when none is configured
    upgrade_to_head()
    ensure_default_targets()
    env = {**os.environ, "DATABASE_URL": libpq_url(url)}
    # Web workers and the jobs process write their metrics samples here; any web worker's
    # /api/metrics then answers for all of them.
    metrics_dir = env.setdefault(MULTIPROC_ENV, str(get_settings().data_dir / "metrics"))
    prepare_multiprocess_dir(metrics_dir)
    sink = None
    if not get_settings().smtp_host:
        mail_dir = get_settings().data_dir / "mail"
        sink = system_mail.start_sink(mail_dir)
        env.update(CRM_SMTP_HOST="127.0.0.1", CRM_SMTP_PORT=str(sink.port), CRM_SMTP_TLS="none")
        # Ticket replies of mailboxes on the product's own settings land here too; managers
        # read them on "Sent mail (local)".
        env["CRM_MAIL_SINK_DIR"] = str(mail_dir)
        log.info("system mail is kept as files", extra={"folder": str(mail_dir)})
    redis = None
    if args.workers > 1 and not get_settings().redis_url:
        redis, env["REDIS_URL"] = start_local_redis(get_settings().data_dir / "redis")
        log.info("tab state in a local redis", extra={"url": env["REDIS_URL"]})
    port = os.environ.get("PORT", "3000")
    jobs = _start_jobs(env)
    # The frontend build runs in a process of its own, which exits before the server starts.
    build = [sys.executable, "-m", "crm_app.web", "build", "--port", port]
    if subprocess.run(build, cwd=PROJECT_ROOT, env=env).returncode != 0:
        jobs.terminate()
        jobs.wait(timeout=20)
        raise SystemExit("the web build failed (its output is above)")
    serve = [sys.executable, "-m", "crm_app.web", "serve", "--port", port]
    web = subprocess.Popen([*serve, "--workers", str(args.workers)], cwd=PROJECT_ROOT, env=env)
    log.info("serving", extra={"url": f"http://localhost:{port}", "workers": args.workers})
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for child in (web, jobs):
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while web.poll() is None and not stopping:
            if jobs.poll() is not None:
                # A jobs process exits when it loses its database lock; a supervisor restarts it.
                log.warning("jobs process ended; restarting", extra={"code": jobs.returncode})
                time.sleep(2)
                jobs = _start_jobs(env)
            time.sleep(1)
    finally:
        stop()
        for child in (web, jobs):
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if sink is not None:
            sink.stop()
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)
    return web.returncode or 0


def _start_jobs(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs"], cwd=PROJECT_ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
