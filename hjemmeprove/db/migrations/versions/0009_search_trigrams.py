"""trigram indexes for the request list's free-text search (names and addresses)

Revision ID: 0009
Revises: 0008

The request list's search finds a part of a name or an address anywhere in the text
(``RequestService.page``, ``services/requests.py``). Before, that was a scan of every
citizen and request; now it is a lookup in a trigram index, case-insensitive:

- **SQLite**: two FTS5 tables with the ``trigram`` tokenizer (case folded, Unicode: æøå
  match in any case), ``citizens_search`` (name, address) and ``requests_search`` (the
  request's own address), each row's rowid the id of its source row. They are external
  content tables (``content=`` the source table: the text is not stored twice) kept in step
  by triggers on ``citizens`` and ``requests`` (insert, delete, an update of the indexed
  columns), in the transaction that makes the change, whoever writes it, as 0008's triggers
  keep the list's sort keys.
- **PostgreSQL**: the ``pg_trgm`` extension (trusted since PostgreSQL 13) and GIN indexes
  (``gin_trgm_ops``) on ``citizens.name``, ``citizens.address`` and ``requests.address``,
  which serve ``ILIKE '%…%'``. The indexes follow the rows themselves: no triggers.

Neither is expressed in the models (an FTS5 table is not a table SQLAlchemy reflects, and a
GIN index would be a plain one on SQLite): ``migrations/env.py`` leaves them out of
``alembic check`` by name (``db/models.py``, ``SEARCH_INDEXES``). A later migration that
rebuilds ``citizens`` or ``requests`` on SQLite (batch mode copies the table) drops their
triggers with the table and must create them again (``SQLITE_TRIGGERS`` below).

Existing rows are indexed here. The downgrade drops the tables, triggers and indexes; the
extension stays (other objects may use it).
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# (FTS table, source table, indexed columns)
_FTS = [("citizens_search", "citizens", ("name", "address")),
        ("requests_search", "requests", ("address",))]


def _fts_triggers(fts: str, source: str, columns: tuple[str, ...]) -> list[str]:
    cols = ", ".join(columns)
    new = ", ".join(f"NEW.{c}" for c in columns)
    old = ", ".join(f"OLD.{c}" for c in columns)
    insert = f"INSERT INTO {fts}(rowid, {cols}) VALUES (NEW.id, {new})"
    # an external content table forgets a row by being told the values it indexed
    delete = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', OLD.id, {old})"
    return [
        f"CREATE TRIGGER tr_{fts}_ins AFTER INSERT ON {source} BEGIN {insert}; END",
        f"CREATE TRIGGER tr_{fts}_del AFTER DELETE ON {source} BEGIN {delete}; END",
        f"CREATE TRIGGER tr_{fts}_upd AFTER UPDATE OF id, {cols} ON {source} "
        f"BEGIN {delete}; {insert}; END",
    ]


SQLITE_TRIGGERS = [sql for fts in _FTS for sql in _fts_triggers(*fts)]

_PG_INDEXES = [("ix_citizens_name_trgm", "citizens", "name"),
               ("ix_citizens_address_trgm", "citizens", "address"),
               ("ix_requests_address_trgm", "requests", "address")]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for fts, source, columns in _FTS:
            op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({', '.join(columns)}, "
                       f"content='{source}', content_rowid='id', tokenize='trigram')")
            op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")  # the rows there now
        for sql in SQLITE_TRIGGERS:
            op.execute(sql)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in _PG_INDEXES:
            op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for fts, _source, _columns in _FTS:
            for what in ("ins", "del", "upd"):
                op.execute(f"DROP TRIGGER IF EXISTS tr_{fts}_{what}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    else:
        for name, _table, _column in _PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
