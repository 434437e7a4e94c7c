"""With several web workers the tabs' states live in Redis (Debian's redis-server here): what is
stored there must hold no session token and no private cookie, however many events ran."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_app.settings import PROJECT_ROOT
from tests.e2e.reflex_socket import Tab, sign_in_cookie
from tests.factories import PASSWORD, make_user, run_async

REDIS = "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_backend(database_url: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Redis server and the app's backend (no frontend build: the events are what matter)
    using it as the state manager."""
    redis_port, app_port = _free_port(), _free_port()
    redis = subprocess.Popen(
        [
            REDIS,
            "--port",
            str(redis_port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "REFLEX_USE_NPM": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    log_path = PROJECT_ROOT / "artifacts" / "e2e-redis-backend.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        app = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reflex",
                "run",
                "--env",
                "prod",
                "--backend-only",
                "--backend-port",
                str(app_port),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{app_port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if app.poll() is not None:
                raise RuntimeError(f"backend exited: {log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=2):
                    break
            except OSError:
                time.sleep(1)
        else:
            raise RuntimeError("backend did not answer /api/health in time")
        yield url, redis_port
    finally:
        os.killpg(app.pid, 15)
        try:
            app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, 9)
        redis.terminate()
        redis.wait(timeout=10)


def _redis_dump(port: int) -> tuple[list[bytes], bytes]:
    """Every key and every stored value, through redis-cli (no client library needed)."""
    keys = subprocess.run(
        ["redis-cli", "-p", str(port), "--raw", "KEYS", "*"], capture_output=True, check=True
    ).stdout.split()
    dump = b""
    for key in keys:
        kind = subprocess.run(
            ["redis-cli", "-p", str(port), "TYPE", key], capture_output=True, check=True
        ).stdout.strip()
        command = {b"string": ["GET"], b"hash": ["HGETALL"]}.get(kind)
        if command:
            dump += subprocess.run(
                ["redis-cli", "-p", str(port), "--raw", *command, key],
                capture_output=True,
                check=True,
            ).stdout
    return keys, dump


def test_tab_state_in_redis_holds_no_session_token(db: str, redis_backend: tuple[str, int]) -> None:
    url, redis_port = redis_backend
    manager = make_user("manager")
    cookie = sign_in_cookie(url, manager.email, PASSWORD)

    async def browse() -> Tab:
        tab = Tab(url, session_cookie=cookie)
        await tab.open("/tickets")
        await tab.close()
        again = Tab(url, token=tab.token, session_cookie=cookie)
        await again.open("/users")
        await again.close()
        return again

    tab = run_async(browse())
    assert manager.email in tab.text()  # the events really ran as the signed-in manager
    keys, stored = _redis_dump(redis_port)
    assert any(tab.token.encode() in key for key in keys)  # the tab's state is in Redis
    assert cookie.encode() not in stored and cookie.encode() not in b" ".join(keys)
    assert b"crm_session" not in stored and b"crm_device" not in stored
