"""The one object that owns the database engine.

Each service method opens a short session with ``store.session()`` and returns plain data;
nothing outside ``hjemmeprove`` ever holds a Session (the TagStudio pattern).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from hjemmeprove import paths
from hjemmeprove.db import audit

ENV_DB = "HJEMMEPROVE_DB"


def resolve_url(url: str | None = None) -> str:
    """--db wins, then HJEMMEPROVE_DB, then the SQLite file in the user's data folder."""
    return url or os.environ.get(ENV_DB) or paths.default_database_url()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL: readers never block the writer and a killed writer loses nothing committed.
    # foreign_keys: SQLite does not enforce them unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    def __init__(self, url: str | None = None, user: str | None = None, echo: bool = False):
        self.url = resolve_url(url)
        self.user = user or os.environ.get("HJEMMEPROVE_USER") or _os_user()
        self.engine: Engine = _make_engine(self.url, echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def session(self, user: str | None = None) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        session = self._sessions()
        session.info["user"] = user or self.user
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self) -> None:
        from hjemmeprove.db.migrate import upgrade

        upgrade(self)

    def is_empty(self) -> bool:
        from sqlalchemy import select, func

        from hjemmeprove.db.models import Department

        if not inspect(self.engine).has_table("departments"):
            return True
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(Department)) == 0

    def dispose(self) -> None:
        self.engine.dispose()


def _make_engine(url: str, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:" and not db_path.startswith("file:"):
            Path(db_path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            paths.private_file(db_path)  # 0600 before SQLite opens it (WAL files follow it)
        # hide_parameters: an error never prints a row's values (names, addresses, phones)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30},
                               hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)
    audit.install()
    return engine


def _os_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "ukendt"
