"""A read straight through SQLite's own driver, for the commands that only read a few rows and
print them (``calendar deadline``, ``calendar workdays``): no SQLAlchemy, which alone costs more
than the whole command otherwise does.

Only a plain SQLite file at the newest schema is read this way; anything else (PostgreSQL, an
in-memory or ``file:`` URL, a file that does not exist yet, an older schema, a schema check
that cannot decide) returns None, and the caller takes the ordinary path through ``Store``
(which creates or migrates the database as every command does). Nothing here writes.

Also the bottom of ``store``: which database a command means (``resolve_url``) and how long a
SQLite connection waits for a writer (``busy_timeout_s``) are decided here, once, for both.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

from hjemmeprove import paths

ENV_DB = "HJEMMEPROVE_DB"
ENV_BUSY = "HJEMMEPROVE_BUSY_TIMEOUT_S"
DEFAULT_BUSY_TIMEOUT_S = 120.0  # a 50,000-row import holds the write lock for a while


def resolve_url(url: str | None = None) -> str:
    """--db wins, then HJEMMEPROVE_DB, then the SQLite file in the user's data folder."""
    return url or os.environ.get(ENV_DB) or paths.default_database_url()


def busy_timeout_s() -> float:
    """How long a SQLite writer waits for another one (seconds) before it gives up."""
    try:
        return max(0.0, float(os.environ.get(ENV_BUSY) or DEFAULT_BUSY_TIMEOUT_S))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT_S


# sqlite:///relative/path or sqlite:////absolute/path (SQLAlchemy's form, default driver);
# no query string (options SQLAlchemy would interpret), no in-memory or URI file name.
_PLAIN_SQLITE = re.compile(r"^sqlite(?:\+pysqlite)?:///(?P<path>[^?]+)$")


def sqlite_file(url: str) -> str | None:
    """The file a plain SQLite URL names, or None for any other URL."""
    m = _PLAIN_SQLITE.match(url)
    if m is None:
        return None
    path = m["path"]
    if path == ":memory:" or path.startswith("file:"):
        return None
    return path


@contextlib.contextmanager
def current_sqlite(url: str | None) -> Iterator[object | None]:
    """A read-only ``sqlite3`` connection to the database ``url`` names when it is a plain
    SQLite file that exists and is at the newest schema (the ``alembic_version`` rows are the
    migration scripts' heads, the same test as ``migrate.is_current``); else None."""
    import sqlite3
    from pathlib import Path
    from urllib.parse import quote

    from hjemmeprove.db.schema_scripts import script_heads

    path = sqlite_file(resolve_url(url))
    if path is None or not Path(path).is_file():
        yield None
        return
    heads = script_heads()
    if heads is None:
        yield None
        return
    try:
        # mode=rw: never creates the file (the ordinary path does, with its schema); the
        # queries below only read (query_only refuses anything else)
        conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True,
                               timeout=busy_timeout_s())
    except sqlite3.Error:
        yield None
        return
    try:
        conn.execute("PRAGMA query_only=ON")
        try:
            stored = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
        except sqlite3.Error:  # no alembic_version table: a new database
            stored = None
        yield conn if stored == heads else None
    finally:
        conn.close()
