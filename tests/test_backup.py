"""Backup and restore: `cli backup` then `cli restore` into an empty database gives back every
row, the stored files and the key; a non-empty target is refused unless told to replace it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from crm_app.settings import PROJECT_ROOT
from tests.external_pg import scratch_database

SAMPLED_TABLES = ("user_account", "client", "ticket", "ticket_message", "audit_log")


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_app.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _snapshot(url: str) -> dict[str, object]:
    from crm_app.backup import row_counts

    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        snapshot: dict[str, object] = {"counts": row_counts(conn)}
        for table in SAMPLED_TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY id LIMIT 20")).all()
            snapshot[table] = [tuple(row) for row in rows]
        snapshot["last_ticket_number"] = conn.execute(
            text("SELECT max(number) FROM ticket")
        ).scalar()
    engine.dispose()
    return snapshot


def test_backup_restores_into_an_empty_database_with_rows_files_and_key(
    db: str, tmp_path: Path
) -> None:
    from crm_app.db import sqlalchemy_url
    from crm_app.settings import get_settings
    from tests.factories import make_client, make_ticket, make_user

    manager = make_user("manager")
    for name in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
        make_ticket(manager, make_client(manager, name=name), f"Transfer for {name}")
    stored = get_settings().data_dir / "uploads" / "kept.txt"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text("statement scan")
    source = _snapshot(sqlalchemy_url(db))
    assert source["counts"]["public.ticket"] == 3

    env = {**os.environ, "DATABASE_URL": db}
    made = _cli("backup", str(tmp_path / "backup"), env=env)
    assert made.returncode == 0, made.stderr
    assert "secret key" in made.stderr  # the warning
    assert (tmp_path / "backup" / "secret.key").stat().st_mode & 0o077 == 0

    target = scratch_database(sqlalchemy_url(db), "restore_target")
    restored_dir = tmp_path / "restored-data"
    restored_env = {**env, "DATABASE_URL": target, "CRM_DATA_DIR": str(restored_dir)}
    done = _cli("restore", str(tmp_path / "backup"), env=restored_env)
    assert done.returncode == 0, done.stderr
    assert _snapshot(target) == source
    assert (restored_dir / "uploads" / "kept.txt").read_text() == "statement scan"

    # The restored instance goes on from there: identities continue past the restored rows.
    create_more = (
        "from tests.factories import first_manager, make_client, make_ticket\n"
        "m = first_manager()\n"
        "print(make_ticket(m, make_client(m, name='Marie Curie')))\n"
    )
    more = subprocess.run(
        [sys.executable, "-c", create_more],
        cwd=PROJECT_ROOT,
        env=restored_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert more.returncode == 0, more.stderr
    assert int(more.stdout.split()[-1]) > source["last_ticket_number"]

    # A database that already holds the app is left alone unless told to replace it.
    refused = _cli("restore", str(tmp_path / "backup"), env=restored_env)
    assert refused.returncode == 1 and "--replace" in refused.stderr
    replaced = _cli("restore", str(tmp_path / "backup"), "--replace", env=restored_env)
    assert replaced.returncode == 0, replaced.stderr
    assert _snapshot(target) == source  # the ticket made after the first restore is gone
