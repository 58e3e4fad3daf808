"""Alembic, driven from code (no alembic.ini to ship or find)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def current_revision(store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(store) -> str | None:
    return ScriptDirectory.from_config(alembic_config(store.url)).get_current_head()


def upgrade(store) -> Path | None:
    """Migrate to the newest schema; an existing SQLite file is copied first.

    Returns the path of the copy, if one was made.
    """
    current = current_revision(store)
    if current == head_revision(store):
        return None
    backup = _copy_before_migration(store) if current is not None else None
    cfg = alembic_config(store.url)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return backup


def _copy_before_migration(store) -> Path | None:
    if not store.is_sqlite:
        return None  # PostgreSQL: the department's DBA takes pg_dump; see README
    db_path = Path(store.url.split("///", 1)[-1])
    if not db_path.exists():
        return None
    from hjemmeprove.backup import backup_database

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = db_path.with_name(f"{db_path.stem}.before-migration-{stamp}{db_path.suffix}")
    backup_database(store, target)
    return target
