"""The app built and served as in production, on its own port, against the test database,
driven by Debian's Chromium through Playwright.

The server is one for the whole run, so its environment is set here and only here, the same
whichever e2e files are collected (`server_env`): its mail goes to a local SMTP sink whose
folder is also the "Sent mail (local)" folder, and Ory is a fake Kratos (both mode, so
built-in sign-in works as without it). Modules set no environment at import.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from crm_app.services import system_mail
from crm_app.settings import PROJECT_ROOT
from tests.fake_kratos import RunningKratos

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "artifacts" / "screenshots"
# Chromium's own background traffic is refused on a closed network; keep it quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class E2eServices:
    """What the shared app server is wired to."""

    mail_dir: Path  # every mail the app sends lands here; also its "Sent mail (local)" folder
    smtp_port: int  # the local SMTP sink storing into mail_dir
    kratos: RunningKratos  # the fake Ory Kratos (ORY_SDK_URL)


@pytest.fixture(scope="session")
def e2e_services() -> Iterator[E2eServices]:
    mail_dir = Path(os.environ["CRM_DATA_DIR"]) / "mail-sink"
    sink = system_mail.start_sink(mail_dir)
    kratos = RunningKratos(int(os.environ.get("CRM_E2E_FAKE_KRATOS_PORT") or 0) or None)
    try:
        yield E2eServices(mail_dir=mail_dir, smtp_port=sink.port, kratos=kratos)
    finally:
        kratos.stop()
        sink.stop()


def server_env(services: E2eServices, database_url: str) -> dict[str, str]:
    """The app server's environment: the same for every e2e run."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REFLEX_USE_NPM": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "CRM_MAIL_SINK_DIR": str(services.mail_dir),
        "CRM_SMTP_HOST": "127.0.0.1",
        "CRM_SMTP_PORT": str(services.smtp_port),
        "CRM_SMTP_TLS": "none",
        "ORY_SDK_URL": services.kratos.url,
        "CRM_AUTH_MODE": "both",
        "CRM_ORY_WHOAMI_CACHE_SECONDS": "1",
    }


@pytest.fixture(scope="session")
def app_url(database_url: str, e2e_services: E2eServices) -> Iterator[str]:
    port = _free_port()
    env = server_env(e2e_services, database_url)
    log_path = PROJECT_ROOT / "artifacts" / "e2e-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reflex",
                "run",
                "--env",
                "prod",
                "--single-port",
                "--frontend-port",
                str(port),
                "--backend-port",
                str(port),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"app exited: see {log_path}\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(1)
        else:
            raise RuntimeError("app did not answer /api/health in time")
        # The frontend is served once the build is in place.
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
        yield url
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def shoot():
    """Save a full-page screenshot under artifacts/screenshots (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def _shoot(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shoot
