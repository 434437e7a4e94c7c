"""`scripts/run`: the database, migrations, the jobs process and the production web server.

Starts the embedded PostgreSQL when no DATABASE_URL is configured, upgrades the schema, then
runs `python -m jobs` and `reflex run --env prod --single-port` side by side, stopping both
(and the embedded database) when either ends or on Ctrl-C. Without `CRM_SMTP_HOST` it also
runs a local SMTP sink that keeps the CRM's own mail as files in `<data dir>/mail`, so sign-up
notices can be read there instead of being lost.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from crm_app.db import database_url, libpq_url, upgrade_to_head
from crm_app.logging_setup import configure_logging
from crm_app.metrics import MULTIPROC_ENV, prepare_multiprocess_dir
from crm_app.services import system_mail
from crm_app.services.sla import ensure_default_targets
from crm_app.settings import PROJECT_ROOT, get_settings

log = logging.getLogger("crm_app.serve")


def main() -> int:
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
        log.info("system mail is kept as files", extra={"folder": str(mail_dir)})
    port = os.environ.get("PORT", "3000")
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reflex",
            "run",
            "--env",
            "prod",
            "--single-port",
            "--frontend-port",
            port,
            "--backend-port",
            port,
            "--loglevel",
            "warning",
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )
    jobs = _start_jobs(env)
    log.info("serving", extra={"url": f"http://localhost:{port}"})
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
    return web.returncode or 0


def _start_jobs(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs"], cwd=PROJECT_ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
