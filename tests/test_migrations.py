"""Alembic owns the schema: it migrates up and down cleanly and matches the models exactly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import models  # noqa: F401
from crm_app.settings import PROJECT_ROOT


def _config(url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["sqlalchemy_url"] = url
    cfg.attributes["skip_logging_config"] = True
    return cfg


def _scratch_database(url: str, name: str) -> str:
    # On a managed-style server the app's role may not create databases: its admin does.
    from crm_app.db import sqlalchemy_url
    from tests.external_pg import scratch_database

    return scratch_database(sqlalchemy_url(url), name)


def test_upgrade_downgrade_upgrade_round_trip(database_url: str) -> None:
    url = _scratch_database(database_url, "crm_migration_round_trip")
    cfg = _config(url)
    engine = create_engine(url)
    command.upgrade(cfg, "head")
    assert "ticket" in inspect(engine).get_table_names()
    command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(cfg, "head")
    assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_autogenerate_finds_no_difference_between_models_and_migrations(
    database_url: str,
) -> None:
    url = _scratch_database(database_url, "crm_migration_autogenerate")
    command.upgrade(_config(url), "head")
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_timestamps_are_timezone_aware(database_url: str) -> None:
    naive = [
        f"{table.name}.{column.name}"
        for table in SQLModel.metadata.tables.values()
        for column in table.columns
        if column.type.python_type.__name__ == "datetime" and not column.type.timezone
    ]
    assert naive == []
