"""The one object that owns the database engine.

Each service method opens a short session with ``store.session()`` and returns plain data;
nothing outside ``hjemmeprove`` ever holds a Session (the TagStudio pattern).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from hjemmeprove import paths
from hjemmeprove.db import audit
from hjemmeprove.db.lean import (DEFAULT_BUSY_TIMEOUT_S, ENV_BUSY, ENV_DB, busy_timeout_s,
                                  resolve_url)

# which database and how long a writer waits: decided in ``lean`` (which reads without us)
__all__ = ["DEFAULT_BUSY_TIMEOUT_S", "ENV_BUSY", "ENV_DB", "Store", "busy_timeout_s",
           "conflict_message", "resolve_url"]


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL: readers never block the writer and a killed writer loses nothing committed.
    # foreign_keys: SQLite does not enforce them unless asked, per connection.
    # busy_timeout: a writer waits for the one before it (an import) instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s() * 1000)}")
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
    def session(self, user: str | None = None, write: bool = False) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error.

        ``write=True`` for a transaction that reads what it is about to change: on SQLite it
        starts with ``BEGIN IMMEDIATE`` (the write lock first, waiting for another writer up
        to the busy timeout), so nothing it reads can change before it commits; on
        PostgreSQL the caller locks the rows it re-reads (``lock_rows``)."""
        session = self._sessions()
        session.info["user"] = user or self.user
        try:
            if write and self.is_sqlite:
                session.execute(text("BEGIN IMMEDIATE"))
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def lock_rows(self, s: Session, query):
        """``query`` (a select of ORM rows) under SELECT … FOR UPDATE on PostgreSQL; on
        SQLite the write transaction (``session(write=True)``) already holds the lock."""
        if not self.is_sqlite:
            query = query.with_for_update()
        return s.scalars(query)

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """One holder at a time for work that spans several transactions (a month's billing
        run: drafts, then each number). PostgreSQL: a session advisory lock on a connection
        of its own, so a second holder waits here until the first is done, and a killed
        holder's lock goes with its connection. SQLite: an OS file lock beside the database
        file (released by the OS when its holder dies), waited for up to the busy timeout."""
        if self.is_sqlite:
            with self._file_lock(name):
                yield
            return
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:n))"), {"n": name})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": name})
                conn.commit()

    @contextlib.contextmanager
    def _file_lock(self, name: str) -> Iterator[None]:
        db_path = self.url.split("///", 1)[-1]
        if not db_path or db_path == ":memory:" or db_path.startswith("file:"):
            yield  # a private in-memory database has no second user
            return
        import hashlib

        import filelock

        from hjemmeprove.errors import ConflictError

        tag = hashlib.sha256(name.encode()).hexdigest()[:12]
        lock = filelock.FileLock(f"{db_path}.{tag}.lock", mode=0o600)
        try:
            lock.acquire(timeout=busy_timeout_s())
        except filelock.Timeout:
            raise ConflictError("En anden bruger er i gang med det samme (fx en fakturakørsel "
                                "for måneden); vent, til den er færdig, og prøv igen.") from None
        try:
            yield
        finally:
            lock.release()

    def upgrade(self) -> None:
        from hjemmeprove.db.migrate import upgrade

        upgrade(self)

    def is_empty(self) -> bool:
        """No department yet (or no schema). Plain SQL, not the ORM: the window asks this
        before its first paint, and the models' import would be a third of that start."""
        from sqlalchemy import text

        if not inspect(self.engine).has_table("departments"):
            return True
        with self.engine.connect() as c:
            return not c.execute(text("SELECT 1 FROM departments LIMIT 1")).first()

    def dispose(self) -> None:
        self.engine.dispose()


def _make_engine(url: str, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:" and not db_path.startswith("file:"):
            Path(db_path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            paths.private_file(db_path)  # 0600 before SQLite opens it (WAL files follow it)
        # hide_parameters: an error never prints a row's values (names, addresses, phones)
        engine = create_engine(url, echo=echo, connect_args={"timeout": busy_timeout_s()},
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


# --- conflicts between users, in words a user can act on ---------------------------------------

_PG_CONFLICT = {
    "40001": "Databasen kunne ikke gennemføre ændringen, fordi en anden ændrede de samme data "
             "samtidig. Intet er gemt; prøv igen.",
    "40P01": "To brugere ventede på hinanden (deadlock). Intet er gemt; prøv igen.",
    "55P03": "Data er låst af en anden bruger, der arbejder med det samme lige nu. Intet er "
             "gemt; vent lidt, og prøv igen.",
    "57014": "Ændringen ventede for længe på en anden bruger og blev afbrudt. Intet er gemt; "
             "prøv igen.",
}


def conflict_message(exc: BaseException) -> str | None:
    """A Danish message for an error that comes from two users (or programs) changing the same
    data at once, naming what to do; None for any other error."""
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
    from sqlalchemy.orm.exc import StaleDataError

    if isinstance(exc, StaleDataError):
        return ("En anden har ændret de samme data, mens du arbejdede. Intet er gemt; hent "
                "data igen (eller kør kommandoen igen).")
    if isinstance(exc, IntegrityError):
        text_ = str(exc.orig) if exc.orig is not None else str(exc)
        if "ux_visits_one_active" in text_ or "visits.request_id" in text_:
            return ("Henvisningen fik et besøg af en anden samtidig. Intet er gemt; planlæg "
                    "igen.")
        if "aflyst henvisning" in text_:
            return ("Henvisningen er aflyst (måske lige nu af en anden), så den kan ikke have "
                    "et besøg, der endnu skal ske. Intet er gemt; hent data igen.")
        # input is checked before it is written: a broken rule here means the data changed
        # underneath (another user or program wrote the same rows first)
        return ("Data blev ændret af en anden samtidig, så ændringen ikke længere passer. Intet "
                "er gemt; hent data igen (eller kør kommandoen igen).")
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if code in _PG_CONFLICT:
            return _PG_CONFLICT[code]
        if isinstance(exc, OperationalError):
            msg = str(exc.orig).lower()
            if "database is locked" in msg or "database table is locked" in msg \
                    or "busy" in msg:
                return ("Databasen er optaget af en anden (f.eks. en stor import) og blev ikke "
                        f"ledig inden for {busy_timeout_s():.0f} sekunder. Intet er gemt; prøv "
                        "igen, når den anden er færdig.")
    return None
