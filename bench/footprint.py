"""Idle footprint of the one-command install: web + jobs + embedded PostgreSQL + mail sink.

Starts the run command (`python -m crm_app.serve`, what `scripts/run` execs) on a free port with
a fresh data dir, waits until `/api/health/ready` and the front page answer and the process tree
has gone quiet (the jobs' first runs done), then measures every process of it, PostgreSQL's
included (pgserver starts it detached, so it is found by its data dir).

Memory is counted once: `idle_rss_mb` is the sum of each process's PSS (proportional set
size): a page shared by k processes counts 1/k in each, so the sum is what the set really
occupies. Plain RSS would count the pages forked web workers share with their supervisor and
PostgreSQL's shared buffers once per process; USS would not count them at all. RSS and USS sums
are printed beside it for comparison.

    python bench/footprint.py [--demo-tickets 2000] [--settle-seconds 20] [--workers N]

Prints progress on stderr and, last, one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def _postgres_processes(pg_dir: Path) -> list[psutil.Process]:
    pid_file = pg_dir / "postmaster.pid"
    if not pid_file.exists():
        return []
    try:
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        return [postmaster, *postmaster.children(recursive=True)]
    except (psutil.Error, ValueError):
        return []


def _tree(root: psutil.Process, pg_dir: Path) -> list[psutil.Process]:
    seen: dict[int, psutil.Process] = {}
    for process in [root, *root.children(recursive=True), *_postgres_processes(pg_dir)]:
        seen.setdefault(process.pid, process)
    return list(seen.values())


def _role(process: psutil.Process) -> str:
    """A readable name: which part of the product this process is."""
    try:
        cmd = " ".join(process.cmdline())
        name = process.name()
    except psutil.Error:
        return "gone"
    if name == "postgres" or "postgres" in name:
        title = cmd.replace("postgres: ", "")
        return "postgres" if title.startswith("/") or " -D " in cmd else f"postgres {title}"[:48]
    if "crm_app.serve" in cmd:
        return "run command (serve + mail sink)"
    if "-m jobs" in cmd:
        return "jobs"
    if "resource_tracker" in cmd:
        return "web (multiprocessing resource tracker)"
    if "crm_app.web serve" in cmd or "reflex run" in cmd or "-m reflex" in cmd:
        try:
            parent = " ".join(process.parent().cmdline())
        except (psutil.Error, AttributeError):
            parent = ""
        # Granian forks its workers from the supervisor: same command line, its parent.
        forked = "crm_app.web serve" in parent or "-m reflex" in parent
        return "web worker" if forked else "web (granian supervisor)"
    if "granian" in cmd.lower() or "multiprocessing" in cmd or "spawn_main" in cmd:
        return "web worker"
    if "redis-server" in cmd:
        return "redis"
    return name


def _cpu_quiet(processes: list[psutil.Process], seconds: float) -> float:
    """Total CPU share of the processes over `seconds` (1.0 = one core)."""
    before = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            before[process.pid] = sum(process.cpu_times()[:2])
    time.sleep(seconds)
    used = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            used += sum(process.cpu_times()[:2]) - before.get(process.pid, 0.0)
    return used / seconds


def measure(processes: list[psutil.Process]) -> dict[str, object]:
    per_process: dict[str, float] = {}
    totals = {"pss": 0.0, "rss": 0.0, "uss": 0.0}
    for process in processes:
        try:
            info = process.memory_full_info()
            role = _role(process)
        except psutil.Error:
            continue
        totals["pss"] += info.pss
        totals["rss"] += info.rss
        totals["uss"] += info.uss
        key = f"{role} [{process.pid}]"
        per_process[key] = round(info.pss / MB, 1)
    return {
        "idle_rss_mb": round(totals["pss"] / MB, 1),
        "rss_sum_mb": round(totals["rss"] / MB, 1),
        "uss_sum_mb": round(totals["uss"] / MB, 1),
        "processes": len(per_process),
        "per_process_mb": dict(sorted(per_process.items(), key=lambda kv: -kv[1])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settle-seconds", type=float, default=20.0, help="quiet time needed")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this")
    parser.add_argument("--keep", action="store_true", help="keep the temp data dir")
    parser.add_argument(
        "--workers", type=int, default=0, help="pass --workers N to the run command"
    )
    parser.add_argument(
        "--demo-tickets",
        type=int,
        default=0,
        help="seed this many demo tickets first (the jobs then index them: the embedding model "
        "gets loaded, as on a real instance)",
    )
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="crm-footprint-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        CRM_DATA_DIR=str(data_dir),
        PORT=str(port),
        REFLEX_USE_NPM="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    command = [sys.executable, "-m", "crm_app.serve"]
    if args.workers:
        command += ["--workers", str(args.workers)]
    log_path = data_dir / "run.log"
    if args.demo_tickets:
        print(f"seeding {args.demo_tickets} demo tickets", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "crm_app.cli", "seed-demo", "--tickets", str(args.demo_tickets),
             "--clients", str(max(args.demo_tickets // 5, 1))],
            cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    started = time.monotonic()
    with log_path.open("wb") as log:
        run = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    root = psutil.Process(run.pid)
    url = f"http://127.0.0.1:{port}"
    try:
        while not (_answers(f"{url}/api/health/ready") and _answers(url)):
            if run.poll() is not None:
                print(log_path.read_text()[-3000:], file=sys.stderr)
                raise SystemExit("the run command exited before it was ready")
            if time.monotonic() - started > args.timeout:
                raise SystemExit("not ready in time")
            time.sleep(2)
        ready_seconds = time.monotonic() - started
        print(f"ready after {ready_seconds:.0f} s; waiting for it to go idle", file=sys.stderr)
        quiet_needed, quiet = args.settle_seconds, 0.0
        while quiet < quiet_needed and time.monotonic() - started < args.timeout:
            share = _cpu_quiet(_tree(root, data_dir / "pg"), 5.0)
            quiet = quiet + 5.0 if share < 0.05 else 0.0
        result = measure(_tree(root, data_dir / "pg"))
        result["ready_seconds"] = round(ready_seconds, 1)
        result["demo_tickets"] = args.demo_tickets
        result["measured_after_seconds"] = round(time.monotonic() - started, 1)
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
