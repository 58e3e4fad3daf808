"""Consistent online copies of the database, checked after they are written, and back.

SQLite: the online backup API copies a consistent snapshot while others keep writing; the
copy is written next to the destination as ``*.partial``, checked (``PRAGMA integrity_check``,
foreign keys, a hjemmeprøve schema, the same tables as the source) and only then renamed
into place, so a destination either holds a good copy or is untouched.

PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot), checked by reading its
table of contents back with ``pg_restore --list``; the password goes through the
environment, never the command line.

Restore checks the copy first, keeps a copy of the current database (SQLite:
``<name>.before-restore-<time>``), refuses a copy from a newer program version, and on
PostgreSQL restores in a single transaction (all or nothing).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from hjemmeprove import paths
from hjemmeprove.domain.cpr import mask_cpr_in_text
from hjemmeprove.errors import HjemmeproveError


def _sqlite_path(store) -> Path:
    return Path(store.engine.url.database or "")


def backup_database(store, dest: Path | str) -> Path:
    dest = Path(dest)
    if dest.is_dir():
        raise HjemmeproveError(f"{dest} er en mappe; angiv et filnavn")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if store.is_sqlite:
        return _backup_sqlite(store, dest)
    return _backup_pg(store, dest)


def _backup_sqlite(store, dest: Path) -> Path:
    source = _sqlite_path(store)
    if not source.exists():
        raise HjemmeproveError(f"{source}: databasen findes ikke")
    if dest.resolve() == source.resolve():
        raise HjemmeproveError("kopien kan ikke skrives oven i selve databasen")
    tmp = dest.with_name(dest.name + ".partial")
    _unlink_db(tmp)
    try:
        paths.private_file(tmp)  # the copy names citizens: owner-only from the start
        src = sqlite3.connect(source, timeout=30)
        try:
            out = sqlite3.connect(tmp)
            try:
                src.backup(out)
                out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                out.close()
            src_tables = _tables(src)
        finally:
            src.close()
        _check_sqlite(tmp, expect_tables=src_tables)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        tmp.replace(dest)
    except BaseException:
        _unlink_db(tmp)
        raise
    return dest


def _backup_pg(store, dest: Path) -> Path:
    pg_dump = _pg_tool("pg_dump")
    tmp = dest.with_name(dest.name + ".partial")
    tmp.unlink(missing_ok=True)
    try:
        paths.private_file(tmp)
        _run([pg_dump, "--format=custom", f"--file={tmp}"], store)
        listing = _run([_pg_tool("pg_restore"), "--list", str(tmp)], None)
        if "TABLE DATA public alembic_version" not in listing:
            raise HjemmeproveError(f"{dest}: kopien mangler hjemmeprøve-skemaet")
        tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def restore_database(store, src: Path | str) -> Path | None:
    """Replaces the database with the copy ``src``; returns where the old one was kept."""
    src = Path(src)
    if not src.is_file():
        raise HjemmeproveError(f"{src}: filen findes ikke")
    _require_restore(store)
    if store.is_sqlite:
        return _restore_sqlite(store, src)
    listing = _run([_pg_tool("pg_restore"), "--list", str(src)], None)
    if "TABLE DATA public alembic_version" not in listing:
        raise HjemmeproveError(f"{src}: ikke en hjemmeprøve-kopi fra pg_dump")
    store.dispose()
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--exit-on-error", str(src)], store, dbname_flag=True)
    return None


def _require_restore(store) -> None:
    """Restoring is the administrator's. A database too damaged to say who its users are can
    still be restored by whoever may write its file (PostgreSQL: the database's owner)."""
    from hjemmeprove.errors import PermissionDenied
    from hjemmeprove.security import require

    try:
        require(store, "backup.restore")
    except PermissionDenied:
        raise
    except Exception:  # noqa: BLE001 - unreadable users table: see above
        pass


def _restore_sqlite(store, src: Path) -> Path:
    target = _sqlite_path(store)
    if src.resolve() == target.resolve():
        raise HjemmeproveError("kopien og databasen er den samme fil")
    _check_sqlite(src)
    _refuse_newer(src, store)
    kept = None
    if target.exists():
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        kept = target.with_name(f"{target.stem}.before-restore-{stamp}{target.suffix}")
        backup_database(store, kept)
    store.dispose()
    con_src = sqlite3.connect(src)
    con_dst = sqlite3.connect(target, timeout=30)
    try:
        con_src.backup(con_dst)  # page by page under the destination's write lock
        con_dst.execute("PRAGMA journal_mode=WAL")
    finally:
        con_dst.close()
        con_src.close()
    _check_sqlite(target)
    return kept


def _refuse_newer(src: Path, store) -> None:
    from alembic.script import ScriptDirectory

    from hjemmeprove.db.migrate import alembic_config

    con = sqlite3.connect(src)
    try:
        revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        con.close()
    known = {r.revision for r in
             ScriptDirectory.from_config(alembic_config(store.url)).walk_revisions()}
    if revision and revision[0] not in known:
        raise HjemmeproveError(f"{src}: kopien er fra en nyere udgave af programmet "
                               f"(skema {revision[0]}); opdatér programmet først")


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}


def _check_sqlite(path: Path, expect_tables: set[str] | None = None) -> None:
    try:
        con = sqlite3.connect(path)
        try:
            result = con.execute("PRAGMA integrity_check").fetchone()[0]
            fk = con.execute("PRAGMA foreign_key_check").fetchall()
            tables = _tables(con)
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        raise HjemmeproveError(f"{path}: ikke en SQLite-database ({e})") from None
    if result != "ok":
        raise HjemmeproveError(f"{path}: kopien er beskadiget ({result})")
    if fk:
        raise HjemmeproveError(f"{path}: kopien har {len(fk)} brudte fremmednøgler")
    if "alembic_version" not in tables:
        raise HjemmeproveError(f"{path}: ikke en hjemmeprøve-database (ingen alembic_version)")
    if expect_tables is not None and tables != expect_tables:
        raise HjemmeproveError(f"{path}: kopien har ikke de samme tabeller som databasen")


def _unlink_db(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        p.unlink(missing_ok=True)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise HjemmeproveError(f"{name} findes ikke på maskinen; installér PostgreSQL-klienten")
    return found


def _run(cmd: list[str], store, dbname_flag: bool = False) -> str:
    env = dict(os.environ)
    if store is not None:
        url = store.engine.url
        env.update({k: str(v) for k, v in {
            "PGHOST": url.host, "PGPORT": url.port, "PGUSER": url.username,
            "PGPASSWORD": url.password, "PGDATABASE": url.database}.items() if v is not None})
        if dbname_flag:
            cmd = cmd[:-1] + [f"--dbname={url.database}"] + cmd[-1:]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = mask_cpr_in_text(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip()
                                  else f"afsluttede med {proc.returncode}")
        raise HjemmeproveError(f"{Path(cmd[0]).name} fejlede: {detail}")
    return proc.stdout
