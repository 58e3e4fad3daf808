"""Alembic, driven from code: the schema is created or migrated to the newest revision, and an
existing SQLite file is first copied with ``backup.backup_database``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext

from hjemmeprove.backup import backup_database
from hjemmeprove.db.schema_scripts import alembic_config, head_revision

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade"]


def current_revision(store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store) -> Path | None:
    """Migrate to the newest schema; an existing SQLite file is copied first.

    Returns the path of the copy, if one was made.
    """
    current = current_revision(store)
    if current == head_revision(store):
        return None
    backup = _copy_before_migration(store) if current is not None else None
    cfg = alembic_config(store.url)
    with store.engine.connect() as conn:
        if store.is_sqlite:
            # SQLite's batch mode copies a table and drops the old one; with foreign keys
            # enforced, dropping a table that other rows refer to fails. They are switched off
            # for the migration (outside its transaction, as SQLite requires) and every
            # reference is checked before it commits.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if store.is_sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migreringen efterlod {len(broken)} brudte "
                                           f"referencer (første: {broken[0]})")
        finally:
            if store.is_sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
    return backup


def _copy_before_migration(store) -> Path | None:
    if not store.is_sqlite:
        return None  # PostgreSQL: the department's DBA takes pg_dump; see README
    db_path = Path(store.url.split("///", 1)[-1])
    if not db_path.exists():
        return None
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = db_path.with_name(f"{db_path.stem}.before-migration-{stamp}{db_path.suffix}")
    backup_database(store, target)
    return target
