"""the request list's search text stored on the request row, with one trigram index

Revision ID: 0010
Revises: 0009

0009 looked a search term up in three trigram indexes (the citizen's name and address, the
request's address) and joined the citizens' hits to their requests: a union of two tables
for every search and every count. Now the text a search reads is one column of the request,
``requests.search_text``: the citizen's name, the citizen's address and the request's own
address, one line each (a line break between them, so a term never matches across two), kept
by the database in the transaction that changes any of them, whoever writes it:

- **SQLite**: triggers on ``requests`` (insert; an update of its citizen or address) and on
  ``citizens`` (an update of name or address: its requests' text) write the column; a
  write of any other value is refused. An FTS5 table ``requests_fts`` with the ``trigram``
  tokenizer (case folded, Unicode: æøå in any case) indexes it, rowid = the request's id,
  kept by triggers (an update of the text, a delete). It holds its own copy of the text
  (a few MB per 100,000 requests): it forgets a row by its rowid, whatever the text was.
  The column keeps the text as written (SQLite's ``lower()`` folds ASCII only); FTS5 folds.
- **PostgreSQL**: a row trigger (before insert, or an update of citizen, address or the
  text itself) sets the column to the lower-cased text (``lower()``: æøå too), a trigger on
  ``citizens`` makes their requests recompute it; a GIN index (``gin_trgm_ops``) on the
  column serves ``LIKE``.

0009's objects (FTS tables ``citizens_search``/``requests_search`` and their triggers, the
GIN indexes on names and addresses) are dropped: nothing reads them any more. The downgrade
drops this revision's objects and the column, and builds 0009's again from the rows then.

The column is in the models (deferred: never loaded, never written by the code); the FTS
table and the GIN index are not (``db/models.py``, ``SEARCH_TABLES``/``SEARCH_INDEXES``).
A later migration that rebuilds ``citizens`` or ``requests`` on SQLite (batch mode copies the
table) must create ``SQLITE_TRIGGERS`` below again.
"""
import importlib.util
from pathlib import Path
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FTS = "requests_fts"
PG_INDEX = "ix_requests_search_text_trgm"


def text_of(r: str) -> str:
    """SQLite: request ``r``'s search text (its citizen's name and address, its address)."""
    return (f"coalesce((SELECT c.name || char(10) || c.address FROM citizens c "
            f"WHERE c.id = {r}.citizen_id), '') || char(10) || {r}.address")


SQLITE_TRIGGERS = [
    # the text of a new request, and of one whose citizen or address changes
    f"""CREATE TRIGGER tr_requests_search_text_ins AFTER INSERT ON requests
        BEGIN UPDATE requests SET search_text = {text_of("NEW")} WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER tr_requests_search_text_upd AFTER UPDATE OF id, citizen_id, address
        ON requests WHEN NEW.search_text IS NOT {text_of("NEW")}
        BEGIN UPDATE requests SET search_text = {text_of("NEW")} WHERE id = NEW.id; END""",
    # only the text the rows give: a stale or made-up one is refused
    f"""CREATE TRIGGER tr_requests_search_text_check BEFORE UPDATE OF search_text ON requests
        WHEN NEW.search_text IS NOT {text_of("NEW")}
        BEGIN SELECT RAISE(ABORT, 'requests.search_text is kept by the database'); END""",
    """CREATE TRIGGER tr_citizens_search_text AFTER UPDATE OF name, address ON citizens
        WHEN OLD.name IS NOT NEW.name OR OLD.address IS NOT NEW.address
        BEGIN UPDATE requests SET search_text = NEW.name || char(10) || NEW.address
                                                || char(10) || address
              WHERE citizen_id = NEW.id; END""",
    # the trigram index follows the text
    f"""CREATE TRIGGER tr_{FTS}_upd AFTER UPDATE OF id, search_text ON requests
        BEGIN DELETE FROM {FTS} WHERE rowid = OLD.id;
              INSERT INTO {FTS}(rowid, search_text) VALUES (NEW.id, NEW.search_text); END""",
    f"""CREATE TRIGGER tr_{FTS}_del AFTER DELETE ON requests
        BEGIN DELETE FROM {FTS} WHERE rowid = OLD.id; END""",
]
_SQLITE_TRIGGER_NAMES = ["tr_requests_search_text_ins", "tr_requests_search_text_upd",
                         "tr_requests_search_text_check", "tr_citizens_search_text",
                         f"tr_{FTS}_upd", f"tr_{FTS}_del"]

_PG_TEXT = ("lower(coalesce((SELECT c.name || E'\\n' || c.address FROM citizens c "
            "WHERE c.id = NEW.citizen_id), '') || E'\\n' || NEW.address)")
_PG = [
    f"""CREATE OR REPLACE FUNCTION hjemmeprove_request_search_text()
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.search_text := {_PG_TEXT};
          RETURN NEW;
        END $$""",
    """CREATE TRIGGER tr_requests_search_text
        BEFORE INSERT OR UPDATE OF id, citizen_id, address, search_text ON requests
        FOR EACH ROW EXECUTE FUNCTION hjemmeprove_request_search_text()""",
    # the citizen's requests recompute their text (the trigger above sets it)
    """CREATE OR REPLACE FUNCTION hjemmeprove_citizen_search_text()
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE requests SET search_text = '' WHERE citizen_id = NEW.id;
          RETURN NULL;
        END $$""",
    """CREATE TRIGGER tr_citizens_search_text AFTER UPDATE OF name, address ON citizens
        FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name
                           OR OLD.address IS DISTINCT FROM NEW.address)
        EXECUTE FUNCTION hjemmeprove_citizen_search_text()""",
]


def _revision_0009():
    """0009's module (its file name is no Python module name): its objects are dropped on
    the way up and built again on the way down."""
    path = Path(__file__).with_name("0009_search_trigrams.py")
    spec = importlib.util.spec_from_file_location("hjemmeprove_migration_0009", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _revision_0009().downgrade()
    op.add_column("requests", sa.Column("search_text", sa.Text(), nullable=False,
                                        server_default=""))
    if sqlite:
        op.execute(f"UPDATE requests SET search_text = {text_of('requests')}")
        op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(search_text, tokenize='trigram')")
        op.execute(f"INSERT INTO {FTS}(rowid, search_text) SELECT id, search_text FROM requests")
        for sql in SQLITE_TRIGGERS:
            op.execute(sql)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for sql in _PG:
            op.execute(sql)
        op.execute("UPDATE requests SET search_text = ''")  # the trigger writes the text
        op.execute(f"CREATE INDEX {PG_INDEX} ON requests USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in _SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
        # not batch mode: a copied table would lose 0008's triggers
        op.execute("ALTER TABLE requests DROP COLUMN search_text")
    else:
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        op.execute("DROP TRIGGER IF EXISTS tr_citizens_search_text ON citizens")
        op.execute("DROP TRIGGER IF EXISTS tr_requests_search_text ON requests")
        op.execute("DROP FUNCTION IF EXISTS hjemmeprove_citizen_search_text()")
        op.execute("DROP FUNCTION IF EXISTS hjemmeprove_request_search_text()")
        op.drop_column("requests", "search_text")
    _revision_0009().upgrade()
