"""`python -m crm_app.cli backup PATH` / `restore PATH`: the database, the stored files and the key.

A backup is a folder:

    database.dump    pg_dump custom format (no owners, no grants: restorable as any owner role)
    files/<name>/    every folder of the data dir the app keeps files in (attachments, uploads,
                     archives…), not the embedded database's own folder
    secret.key       the key that decrypts mailbox passwords and API keys (unless left out)
    manifest.json    versions, schema revision and the row count of every table

pg_dump and pg_restore are the ones shipped with the pgserver package (the PostgreSQL the
embedded default runs); a server newer than them is refused with a clear message
(`CRM_PG_BIN` points at another PostgreSQL's binaries). Restore expects the database to be
empty of the app's tables, or `--replace` to drop them first; the extensions the dump uses must
exist or be creatable (see "Using a managed PostgreSQL" in the README). Stop the web and jobs
processes while restoring.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from crm_app.settings import get_settings

DUMP = "database.dump"
MANIFEST = "manifest.json"
SECRET_KEY_FILE = "secret.key"
FILES = "files"
# Folders of the data dir that are not the app's files: the embedded cluster itself, this run's
# metrics samples, a local Redis.
NOT_FILES = frozenset({"pg", "metrics", "redis"})
APP_SCHEMAS = ("public", "scheduler")
SECRET_KEY_WARNING = (
    "WARNING: this backup holds the secret key (secret.key) that decrypts stored mailbox "
    "passwords and API keys. Anyone with the backup can read them: keep it encrypted and apart "
    "from ordinary file shares. Without the key a restored instance cannot read those secrets."
)


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead, with the reason an operator can act on."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    tables: dict[str, int]
    folders: list[str]
    secret_key: bool


def pg_bin(name: str) -> str:
    configured = os.environ.get("CRM_PG_BIN", "").strip()
    if configured:
        return str(Path(configured) / name)
    from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _tool_major(name: str) -> int:
    out = subprocess.run([pg_bin(name), "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"(\d+)", out.stdout.split(")")[-1])
    assert found is not None, out.stdout  # every PostgreSQL tool prints its version
    return int(found.group(1))


def _libpq_url() -> str:
    from crm_app.db import database_url, libpq_url

    return libpq_url(database_url())


def _engine():
    from crm_app.db import database_url

    return create_engine(database_url(), poolclass=NullPool)


def _app_tables(conn: Connection) -> list[str]:
    """The app's tables (not those an extension brings), schema-qualified and quoted."""
    rows = conn.execute(
        text(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY(:schemas) AND c.relkind IN ('r', 'p') "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
            "AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1"
        ),
        {"schemas": list(APP_SCHEMAS)},
    )
    return [row[0] for row in rows]


def row_counts(conn: Connection) -> dict[str, int]:
    return {
        table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
        for table in _app_tables(conn)
    }


def _file_folders(data_dir: Path) -> list[Path]:
    if not data_dir.exists():
        return []
    return sorted(p for p in data_dir.iterdir() if p.is_dir() and p.name not in NOT_FILES)


def backup(path: Path, include_secret_key: bool = True) -> BackupResult:
    """Write a backup folder at `path` (which must not exist yet)."""
    from crm_app.crypto import _key_material

    if path.exists() and any(path.iterdir()):
        raise BackupError(f"{path} already exists and is not empty: choose a new folder.")
    engine = _engine()
    try:
        with engine.connect() as conn:
            server_major = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
            server_version = str(conn.execute(text("SHOW server_version")).scalar_one())
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            extensions = [
                row[0] for row in conn.execute(text("SELECT extname FROM pg_extension ORDER BY 1"))
            ]
            counts = row_counts(conn)
    finally:
        engine.dispose()
    dump_major = _tool_major("pg_dump")
    if server_major > dump_major:
        raise BackupError(
            f"The database runs PostgreSQL {server_major} but the bundled pg_dump is version "
            f"{dump_major}. Set CRM_PG_BIN to the bin folder of PostgreSQL {server_major}."
        )
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    subprocess.run(
        [pg_bin("pg_dump"), "--format=custom", "--no-owner", "--no-acl",
         f"--file={path / DUMP}", f"--dbname={_libpq_url()}"],
        check=True,
    )  # fmt: skip
    data_dir = get_settings().data_dir
    folders = []
    for folder in _file_folders(data_dir):
        shutil.copytree(folder, path / FILES / folder.name, symlinks=False)
        folders.append(folder.name)
    if include_secret_key:
        key_file = path / SECRET_KEY_FILE
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(_key_material() + "\n")
    manifest = {
        "created_at": datetime.now(UTC).isoformat(),
        "server_version": server_version,
        "pg_dump_major": dump_major,
        "schema_revision": revision,
        "extensions": extensions,
        "tables": counts,
        "folders": folders,
        "secret_key": include_secret_key,
    }
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return BackupResult(path, counts, folders, include_secret_key)


def _drop_app_objects(conn: Connection) -> None:
    """Drop the app's own tables, views, sequences, functions and types (never an extension's)."""
    not_extension = (
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"
    )
    conn.execute(text("DROP SCHEMA IF EXISTS scheduler CASCADE"))
    for table in _app_tables(conn):
        conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    relations = (
        conn.execute(
            text(
                "SELECT c.relkind, format('%I.%I', n.nspname, c.relname) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                "AND c.relkind IN ('v', 'm', 'S') AND " + not_extension.format(oid="c.oid")
            )
        )
        .tuples()
        .all()
    )
    kinds = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
    for kind, name in relations:
        conn.execute(text(f"DROP {kinds[kind]} IF EXISTS {name} CASCADE"))
    functions: Iterable[str] = conn.execute(
        text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND "
            + not_extension.format(oid="p.oid")
        )
    ).scalars()
    for function in list(functions):
        conn.execute(text(f"DROP FUNCTION IF EXISTS {function} CASCADE"))
    types: Iterable[str] = conn.execute(
        text(
            "SELECT format('%I.%I', n.nspname, t.typname) FROM pg_type t "
            "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' "
            "AND t.typtype IN ('e', 'd') AND " + not_extension.format(oid="t.oid")
        )
    ).scalars()
    for type_name in list(types):
        conn.execute(text(f"DROP TYPE IF EXISTS {type_name} CASCADE"))


def _restore_list(dump: Path, list_file: Path) -> list[str]:
    """The dump's table of contents without extensions (an admin creates those) and without
    the `public` schema itself; returns the extension names it held."""
    toc = subprocess.run(
        [pg_bin("pg_restore"), "--list", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    kept, extensions = [], []
    # An entry reads "<id>; <catalog> <oid> <TYPE> <schema> <name> <owner>".
    entry = re.compile(r"^\d+; \d+ \d+ (EXTENSION - (\S+)|COMMENT - EXTENSION |SCHEMA - public\b)")
    for line in toc.splitlines():
        match = entry.match(line)
        if match is None:
            kept.append(line)
        elif match.group(2):
            extensions.append(match.group(2))
    list_file.write_text("\n".join(kept) + "\n")
    return extensions


def restore(path: Path, replace: bool = False) -> dict[str, int]:
    """Restore a backup folder into the configured database and data dir; returns row counts
    (checked against the manifest's)."""
    manifest_file = path / MANIFEST
    if not (path / DUMP).exists() or not manifest_file.exists():
        raise BackupError(f"{path} is not a backup folder (no {DUMP} or {MANIFEST}).")
    manifest = json.loads(manifest_file.read_text())
    settings = get_settings()
    key_file = path / SECRET_KEY_FILE
    backup_key = key_file.read_text().strip() if key_file.exists() else None
    target_key_file = settings.data_dir / SECRET_KEY_FILE
    if backup_key and settings.secret_key and settings.secret_key != backup_key:
        raise BackupError(
            "CRM_SECRET_KEY differs from the backup's key: stored secrets would be unreadable. "
            "Set CRM_SECRET_KEY to the key in the backup's secret.key, or unset it."
        )
    if (
        backup_key
        and not settings.secret_key
        and target_key_file.exists()
        and target_key_file.read_text().strip() != backup_key
        and not replace
    ):
        raise BackupError(
            f"{target_key_file} holds another key; pass --replace to put the backup's in its place."
        )
    engine = _engine()
    try:
        with engine.begin() as conn:
            existing = _app_tables(conn)
            if existing and not replace:
                raise BackupError(
                    f"The database already holds {len(existing)} tables of the app. Restore into "
                    "an empty database, or pass --replace to drop them (their data is lost)."
                )
            for extension in manifest.get("extensions", []):
                if extension == "plpgsql":
                    continue
                try:
                    with conn.begin_nested():
                        conn.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{extension}"'))
                except Exception as error:
                    raise BackupError(
                        f"The extension {extension} is missing and this role may not create it: "
                        f"an administrator runs CREATE EXTENSION {extension} first. ({error})"
                    ) from error
            if replace:
                _drop_app_objects(conn)
        list_file = path / ".restore-list"
        _restore_list(path / DUMP, list_file)
        try:
            subprocess.run(
                [pg_bin("pg_restore"), "--no-owner", "--no-acl", "--single-transaction",
                 "--exit-on-error", f"--use-list={list_file}", f"--dbname={_libpq_url()}",
                 str(path / DUMP)],
                check=True,
            )  # fmt: skip
        finally:
            list_file.unlink(missing_ok=True)
        with engine.connect() as conn:
            counts = row_counts(conn)
    finally:
        engine.dispose()
    expected = manifest.get("tables", {})
    if counts != expected:
        differing = sorted(
            t for t in set(counts) | set(expected) if counts.get(t) != expected.get(t)
        )
        raise BackupError(f"Restored row counts differ from the backup's in: {differing}")
    for name in manifest.get("folders", []):
        source, target = path / FILES / name, settings.data_dir / name
        if replace and target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, dirs_exist_ok=True)
    if backup_key and not settings.secret_key:
        target_key_file.parent.mkdir(parents=True, exist_ok=True)
        target_key_file.unlink(missing_ok=True)
        fd = os.open(target_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(backup_key + "\n")
    return counts
