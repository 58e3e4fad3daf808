"""Alembic, driven from code: the schema is created or migrated to the newest revision, and an
existing SQLite file is first copied with ``backup.backup_database``.

Every command and the desktop program call ``upgrade`` when they open the database. On a
current schema that is one query (the ``alembic_version`` row against the scripts' head, read
from their text): Alembic is loaded only when the two differ or cannot be read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hjemmeprove.db.schema_scripts import alembic_config, head_revision, script_heads

__all__ = ["alembic_config", "current_revision", "head_revision", "is_current", "upgrade"]


def current_revision(store) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(store) -> bool:
    """True when the database's ``alembic_version`` rows are exactly the scripts' heads: one
    query, no Alembic. False for anything else (no table yet, an older or unknown revision, a
    script that does not read plainly); ``upgrade`` then asks Alembic."""
    from sqlalchemy.exc import DBAPIError

    heads = script_heads()
    if heads is None:
        return False
    try:
        with store.engine.connect() as conn:
            stored = {row[0] for row in
                      conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
    except DBAPIError:  # no alembic_version table: a new database
        return False
    return stored == heads


def upgrade(store) -> Path | None:
    """Migrate to the newest schema; an existing SQLite file is copied first.

    Returns the path of the copy, if one was made.
    """
    if is_current(store):
        return None
    from alembic import command
    from alembic.script import ScriptDirectory

    current = current_revision(store)
    scripts = ScriptDirectory.from_config(alembic_config(store.url))
    if current == scripts.get_current_head():
        return None
    if current is not None and not _known(scripts, current):
        # a newer program has migrated this database (a colleague's, on a shared server):
        # say so before anything is copied or changed, instead of Alembic's traceback
        from hjemmeprove.errors import HjemmeproveError

        raise HjemmeproveError(
            f"databasen har skemaversion {current}, som denne version af hjemmeprøve ikke "
            "kender: den er opdateret af en nyere version. Brug den nyeste version af "
            "programmet; databasen er ikke ændret")
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


def _known(scripts, revision: str) -> bool:
    """Whether ``revision`` is one of this program's migration scripts (``scripts``: Alembic's
    ``ScriptDirectory``)."""
    from alembic.util import CommandError

    try:
        return scripts.get_revision(revision) is not None
    except CommandError:
        return False


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
