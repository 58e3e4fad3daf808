"""Consistent online copies of the database, checked after they are written."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from hjemmeprove.errors import HjemmeproveError


def _sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[-1])


def backup_database(store, dest: Path | str) -> Path:
    """SQLite: the online backup API (consistent while others write), then an integrity check.
    PostgreSQL: pg_dump in custom format."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if store.is_sqlite:
        src = sqlite3.connect(_sqlite_path(store.url))
        tmp = dest.with_suffix(dest.suffix + ".partial")
        tmp.unlink(missing_ok=True)
        out = sqlite3.connect(tmp)
        try:
            src.backup(out)
        finally:
            out.close()
            src.close()
        _check_sqlite(tmp)
        tmp.replace(dest)
        return dest
    if shutil.which("pg_dump") is None:
        raise HjemmeproveError("pg_dump findes ikke på maskinen; installér PostgreSQL-klienten")
    url = store.engine.url.set(drivername="postgresql")
    subprocess.run(["pg_dump", "--format=custom", f"--file={dest}",
                    url.render_as_string(hide_password=False)], check=True)
    return dest


def restore_database(store, src: Path | str) -> None:
    src = Path(src)
    if not src.exists():
        raise HjemmeproveError(f"{src}: filen findes ikke")
    if store.is_sqlite:
        _check_sqlite(src)
        store.dispose()
        target = _sqlite_path(store.url)
        con_src = sqlite3.connect(src)
        con_dst = sqlite3.connect(target)
        try:
            con_src.backup(con_dst)
        finally:
            con_dst.close()
            con_src.close()
        _check_sqlite(target)
        return
    url = store.engine.url.set(drivername="postgresql")
    store.dispose()
    subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner",
                    f"--dbname={url.render_as_string(hide_password=False)}", str(src)], check=True)


def _check_sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    try:
        result = con.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()
    if result != "ok":
        raise HjemmeproveError(f"{path}: kopien er beskadiget ({result})")
    if "alembic_version" not in tables:
        raise HjemmeproveError(f"{path}: ikke en hjemmeprøve-database (ingen alembic_version)")
