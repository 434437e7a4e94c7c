"""Engine, sessions and the embedded PostgreSQL.

With no `DATABASE_URL` a real PostgreSQL (with pgvector) runs from `<data dir>/pg` through
`pgserver`; several processes asking for it share one server.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from crm_app.settings import PROJECT_ROOT, get_settings

log = logging.getLogger(__name__)


def sqlalchemy_url(url: str) -> str:
    """Point a plain `postgresql://` URL at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def libpq_url(url: str) -> str:
    """The URL as libpq (psycopg.connect) takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class EmbeddedDatabaseError(RuntimeError):
    """The embedded data directory cannot be used by the bundled PostgreSQL."""


def _check_data_dir_version(data_dir: Path) -> None:
    """A data directory made by another PostgreSQL major version would fail obscurely: say so."""
    from pgserver._commands import POSTGRES_BIN_PATH

    version_file = data_dir / "PG_VERSION"
    if not version_file.exists():
        return
    made_by = version_file.read_text().strip()
    bundled = (
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.split()[-1]
        .split(".")[0]
    )
    if made_by != bundled:
        raise EmbeddedDatabaseError(
            f"The embedded database in {data_dir} was made by PostgreSQL {made_by}, but this "
            f"install bundles PostgreSQL {bundled}. Dump it with that version's pg_dump and "
            f"restore it, or move the directory away to start empty."
        )


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded server in `data_dir`; returns its libpq URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    _check_data_dir_version(data_dir)
    return get_embedded_server(str(data_dir)).get_uri()


@lru_cache(maxsize=4)
def get_embedded_server(data_dir: str):
    import pgserver  # imported here: only the embedded default needs it

    log.info("starting embedded postgresql", extra={"data_dir": data_dir})
    return pgserver.get_server(data_dir, cleanup_mode="stop")


@lru_cache(maxsize=1)
def database_url() -> str:
    """The configured database, starting the embedded one when none is configured."""
    settings = get_settings()
    if settings.database_url:
        return sqlalchemy_url(settings.database_url)
    return sqlalchemy_url(start_embedded_postgres(settings.data_dir / "pg"))


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    # No pre-ping: it costs a round trip on every checkout (about 1 ms, as much as a whole
    # queue page). After a database restart the first statement on a dead connection fails,
    # SQLAlchemy then invalidates the whole pool, and the next one reconnects; recycling keeps
    # connections from outliving idle timeouts of proxies in front of an external server.
    settings = get_settings()
    connect_args: dict[str, object] = {"connect_timeout": 10}
    if settings.db_statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={settings.db_statement_timeout_ms}"
    return create_engine(
        database_url(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=1800,
        connect_args=connect_args,
    )


def reset_engine() -> None:
    """Forget the cached engine and URL (tests switch databases)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    database_url.cache_clear()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A short unit of work: commits on success, rolls back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def check_database() -> dict[str, str]:
    with get_engine().connect() as conn:
        version: str = conn.execute(text("SHOW server_version")).scalar_one()
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {"server_version": str(version), "schema_revision": str(revision)}


# Held while migrating, so a web and a jobs process starting together migrate once.
MIGRATION_LOCK_KEY = 7_242_002


def upgrade_to_head() -> None:
    """Run Alembic `upgrade head` (the app and the jobs process both do at start)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["skip_logging_config"] = True  # keep the process's own (JSON) logging
    engine = create_engine(database_url(), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()
