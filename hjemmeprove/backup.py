"""Consistent online copies of the database, checked after they are written, and back.

SQLite: the online backup API copies a consistent snapshot while others keep writing; the
copy is written next to the destination under a hidden temporary name (``.<name>.*.tmp``,
mode 0600), checked (``PRAGMA integrity_check``, foreign keys, a hjemmeprøve schema, the same
tables as the source), flushed and only then renamed into place, so a destination either
holds a good copy or is untouched, and a killed backup leaves nothing a user would take for
one.

PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot) to the same kind of
temporary name, checked by reading its table of contents back with ``pg_restore --list``; the
password goes through the environment, never the command line.

Restore checks the copy first: a hjemmeprøve schema at a revision this program knows, with
every table that revision has (a copy without the audit trail is refused); it keeps a copy of
the current database (SQLite: ``<name>.before-restore-<time>`` next to it; PostgreSQL: a
``pg_dump`` next to the restore file), and on PostgreSQL restores in a single transaction (all
or nothing).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from alembic.script import ScriptDirectory

from hjemmeprove import paths
from hjemmeprove.db.schema_scripts import MIGRATIONS, alembic_config, head_revision
from hjemmeprove.domain.cpr import mask_cpr_in_text
from hjemmeprove.errors import HjemmeproveError, PermissionDenied
from hjemmeprove.security import require

FILE_MODE = 0o600


def _sqlite_path(store) -> Path:
    return Path(store.engine.url.database or "")


def backup_database(store, dest: Path | str) -> Path:
    """A checked copy of the database written to ``dest`` (owner-only, whole or not at all).
    A folder that cannot be made or written is a Danish ``OutputError`` naming the path."""
    from hjemmeprove.fileio import OutputError, ensure_private_dir, os_error_reason

    dest = Path(dest)
    if dest.is_dir():
        raise HjemmeproveError(f"{dest} er en mappe; angiv et filnavn")
    ensure_private_dir(dest.parent)  # the copy names citizens: a folder we make is 0700
    try:
        if store.is_sqlite:
            return _backup_sqlite(store, dest)
        return _backup_pg(store, dest)
    except OSError as e:
        raise OutputError(f"{dest}: kopien kan ikke skrives ({os_error_reason(e)})") from e


def _backup_sqlite(store, dest: Path) -> Path:
    source = _sqlite_path(store)
    if not source.exists():
        raise HjemmeproveError(f"{source}: databasen findes ikke")
    if dest.resolve() == source.resolve():
        raise HjemmeproveError("kopien kan ikke skrives oven i selve databasen")
    tmp = _temporary(dest)
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
        _finish(tmp, dest)
    except BaseException:
        _unlink_db(tmp)
        raise
    return dest


def _backup_pg(store, dest: Path) -> Path:
    pg_dump = _pg_tool("pg_dump")
    tmp = _temporary(dest)
    try:
        paths.private_file(tmp)
        _run([pg_dump, "--format=custom", f"--file={tmp}"], store)
        listing = _run([_pg_tool("pg_restore"), "--list", str(tmp)], None)
        if "TABLE DATA public alembic_version" not in listing:
            raise HjemmeproveError(f"{dest}: kopien mangler hjemmeprøve-skemaet")
        _finish(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _temporary(dest: Path) -> Path:
    """A new, empty, owner-only file next to ``dest`` under a hidden name no user takes for a
    backup; stale ones of a killed backup to the same destination are removed first."""
    import tempfile

    for stale in dest.parent.glob(f".{dest.name}.*.tmp"):
        _unlink_db(stale)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    os.chmod(name, FILE_MODE)
    return Path(name)


def _finish(tmp: Path, dest: Path) -> None:
    """Flushed to disk, owner-only, then renamed into place (and the folder flushed)."""
    from hjemmeprove.fileio import _fsync_dir

    os.chmod(tmp, FILE_MODE)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    tmp.replace(dest)
    _fsync_dir(dest.parent)


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
    _check_pg_listing(src, listing, store)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    kept = src.parent / f"{store.engine.url.database}.before-restore-{stamp}.dump"
    backup_database(store, kept)  # the current database, kept first (checked like any copy)
    store.dispose()
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--exit-on-error", str(src)], store, dbname_flag=True)
    return kept


def _expected_tables(revision: str | None, store) -> set[str]:
    """The tables a database at ``revision`` has: today's model at the newest revision; at an
    older one, those of the first revision (later ones are added by the upgrade that follows
    the restore)."""
    import re

    from hjemmeprove.db.models import Base

    if revision == head_revision(store):
        return set(Base.metadata.tables) | {"alembic_version"}
    first = (MIGRATIONS / "versions" / "0001_initial.py").read_text(encoding="utf-8")
    return set(re.findall(r"op\.create_table\(\s*'(\w+)'", first)) | {"alembic_version"}


def _check_pg_listing(src: Path, listing: str, store) -> None:
    import re

    tables = set(re.findall(r"\bTABLE public (\w+)\b", listing))
    # the revision is in the data, not in the listing: every table of the first revision is
    # required (the audit trail among them); later ones come with the upgrade after restore
    missing = _expected_tables(None, store) - tables
    if missing:
        raise HjemmeproveError(f"{src}: kopien mangler tabeller ({', '.join(sorted(missing))}); "
                               "den gendannes ikke")


def _require_restore(store) -> None:
    """Restoring is the administrator's. A database too damaged to say who its users are can
    still be restored by whoever may write its file (PostgreSQL: the database's owner)."""
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
    revision = _refuse_newer(src, store)
    con = sqlite3.connect(src)
    try:
        missing = _expected_tables(revision, store) - _tables(con)
    finally:
        con.close()
    if missing:
        raise HjemmeproveError(f"{src}: kopien mangler tabeller ({', '.join(sorted(missing))}); "
                               "den gendannes ikke")
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


def _refuse_newer(src: Path, store) -> str:
    con = sqlite3.connect(src)
    try:
        revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        con.close()
    known = {r.revision for r in
             ScriptDirectory.from_config(alembic_config(store.url)).walk_revisions()}
    if not revision:
        raise HjemmeproveError(f"{src}: kopien har ingen skemaversion; den gendannes ikke")
    if revision[0] not in known:
        raise HjemmeproveError(f"{src}: kopien er fra en nyere udgave af programmet "
                               f"(skema {revision[0]}); opdatér programmet først")
    return revision[0]


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
