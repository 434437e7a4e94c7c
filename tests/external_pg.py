"""A PostgreSQL the product did not start, as a managed one would be: its own cluster on a TCP
port (the binaries shipped with the pgserver package, run with initdb/pg_ctl), password
authentication, and an ordinary owner role that is not a superuser. The admin step creates
that role, its database and the extensions beforehand, as a DBA does on a managed server.

    python -m tests.external_pg start FOLDER [--port N]   # prints the admin URL, DATABASE_URL last
    python -m tests.external_pg stop FOLDER

scripts/test runs the integration suite once more against it (CRM_TEST_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

APP_ROLE = "crm_app"
APP_DATABASE = "crm"
ADMIN_ROLE = "dba"
# What an admin creates beforehand; the app's migrations then only find them present.
EXTENSIONS = ("vector", "pg_trgm")


def _bin(name: str) -> str:
    from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _server_user(folder: Path) -> str | None:
    """PostgreSQL refuses to run as root: there, run it as the unprivileged user pgserver uses."""
    if os.geteuid() != 0:
        return None
    import pwd

    from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

    user = "pgserver"
    ensure_user_exists(user)
    ensure_prefix_permissions(folder)
    entry = pwd.getpwnam(user)
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return user


def _run_as_server(command: list[str], folder: Path) -> None:
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, user=_server_user(folder), cwd=folder
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ExternalServer:
    folder: Path
    port: int
    password: str

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def app_url(self) -> str:
        return f"postgresql://{APP_ROLE}:{self.password}@127.0.0.1:{self.port}/{APP_DATABASE}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://{ADMIN_ROLE}:{self.password}@127.0.0.1:{self.port}/postgres"


def start(folder: Path, port: int | None = None) -> ExternalServer:
    """initdb (first time), start on 127.0.0.1:port, and run the admin step."""
    folder.mkdir(parents=True, exist_ok=True)
    password_file = folder / "password"
    server_data = folder / "data"
    if not (server_data / "PG_VERSION").exists():
        password = secrets.token_urlsafe(16)
        password_file.write_text(password)
        password_file.chmod(0o600)
        _run_as_server(
            [_bin("initdb"), "-D", str(server_data), "-U", ADMIN_ROLE, "-E", "UTF8",
             "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
             f"--pwfile={password_file}", "--no-instructions"],
            folder,
        )  # fmt: skip
    password = password_file.read_text().strip()
    port_file = folder / "port"
    if is_running(folder) and port_file.exists():
        # Already running (started earlier): the same server again.
        server = ExternalServer(folder, int(port_file.read_text()), password)
        admin_setup(server)
        return server
    port = port or (int(port_file.read_text()) if port_file.exists() else free_port())
    port_file.write_text(str(port))
    _run_as_server(
        [_bin("pg_ctl"), "-D", str(server_data), "-l", str(folder / "server.log"), "-w",
         "-o", f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c max_connections=200",
         "start"],
        folder,
    )  # fmt: skip
    server = ExternalServer(folder, port, password)
    admin_setup(server)
    return server


def admin_setup(server: ExternalServer, database: str = APP_DATABASE) -> None:
    """The DBA's step (README "Using a managed PostgreSQL"): owner role, database, extensions."""
    import psycopg

    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
            conn.execute(
                f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                f"PASSWORD '{server.password}'"
            )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{database}" OWNER {APP_ROLE}')
    database_url = server.admin_url.rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        for extension in EXTENSIONS:
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")


def scratch_database(url: str, name: str) -> str:
    """A new empty database beside the one at `url` (SQLAlchemy URL); returns its URL. On a
    managed-style server (CRM_TEST_ADMIN_DATABASE_URL set) the admin makes it, owned by the
    app's role and with the extensions, as a DBA would; on the embedded one the app's own
    (superuser) role does."""
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url).set(database=name)
    admin_url = os.environ.get("CRM_TEST_ADMIN_DATABASE_URL")
    if admin_url:
        owner = f" OWNER {make_url(url).username}"
    else:
        admin_url = make_url(url).set(drivername="postgresql").render_as_string(False)
        owner = ""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"{owner}')
    if owner:
        database_url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        with psycopg.connect(database_url, autocommit=True) as conn:
            for extension in EXTENSIONS:
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    return target.render_as_string(hide_password=False)


def is_running(folder: Path) -> bool:
    if not (folder / "data" / "postmaster.pid").exists():
        return False
    status = subprocess.run(
        [_bin("pg_ctl"), "-D", str(folder / "data"), "status"],
        capture_output=True,
        user=_server_user(folder),
    )
    return status.returncode == 0


def stop(folder: Path, mode: str = "fast") -> None:
    data = folder / "data"
    if is_running(folder):
        _run_as_server([_bin("pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop"], folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.external_pg", description=__doc__)
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    if args.action == "stop":
        stop(args.folder)
        return 0
    server = start(args.folder, args.port)
    print(f"CRM_TEST_ADMIN_DATABASE_URL={server.admin_url}")
    print(f"DATABASE_URL={server.app_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
