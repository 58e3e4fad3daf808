"""the citizen's CPR, name and postcode stored on each of their requests

Revision ID: 0011
Revises: 0010

A search of the request list reads the request row (its stored search text, 0010) and, for a
CPR's digits, a town or a postcode, the citizen's row; a list sorted by CPR or name sorts by
the citizen's row too. On PostgreSQL that made a search a union of lookups in two tables
(a town: the requests' postcode and their citizens' postcode, ~90 % the same rows, read
twice and deduplicated) and every search page a lookup of the matches' citizens; a search
matching half the list was counted as a union of 58,000 ids.

Now the request row holds copies of its citizen's ``cpr``, ``name`` and ``postcode``
(``citizen_cpr``, ``citizen_name``, ``citizen_postcode``), kept by the database in the
transaction that changes them, whoever writes (as 0008's sort keys and 0010's search text):

- a new request takes its citizen's values; a request moved to another citizen (its
  ``citizen_id`` changes: a CPR corrected on the form, citizens merged) takes the other's;
- an update of a citizen's CPR, name or postcode (the form's confirmed change, an erasure,
  any script) writes them on all of that citizen's requests;
- a write of any other value to the copies is refused (SQLite and PostgreSQL alike); an
  insert's own values are replaced by the citizen's.

A search is then one condition on the request row (the text, its postcode or its citizen's,
its citizen's CPR, its number, its municipality), which PostgreSQL reads through one bitmap
of the indexes below and counts without a union. The migration fills the copies of the rows
already there; the downgrade drops the triggers, the indexes and the columns.

A later migration that rebuilds ``requests`` or ``citizens`` on SQLite (batch mode copies the
table) must create ``SQLITE_TRIGGERS`` below again.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# (request column, citizen column, type)
KEYS = (("citizen_cpr", "cpr", sa.String(11)), ("citizen_name", "name", sa.String(200)),
        ("citizen_postcode", "postcode", sa.String(4)))
INDEXES = (("ix_requests_citizen_cpr", ["citizen_cpr", "id"]),
           ("ix_requests_citizen_name", ["citizen_name", "id"]),
           ("ix_requests_citizen_postcode", ["citizen_postcode"]))
MESSAGE = "requests.citizen_cpr, citizen_name and citizen_postcode are kept by the database"


def _mine(r: str) -> str:
    return "(" + ", ".join(f"{r}.{k}" for k, _c, _t in KEYS) + ")"


def _citizens(r: str) -> str:
    """SQLite: the values of request ``r``'s citizen, as one row value."""
    return ("(SELECT " + ", ".join(f"c.{c}" for _k, c, _t in KEYS)
            + f" FROM citizens c WHERE c.id = {r}.citizen_id)")


def _set_from_citizen(r: str) -> str:
    return ", ".join(f"{k} = coalesce((SELECT c.{c} FROM citizens c "
                     f"WHERE c.id = {r}.citizen_id), '')" for k, c, _t in KEYS)


SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER tr_requests_citizen_keys_ins AFTER INSERT ON requests
        BEGIN UPDATE requests SET {_set_from_citizen("NEW")} WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER tr_requests_citizen_keys_upd AFTER UPDATE OF citizen_id ON requests
        WHEN {_mine("NEW")} IS NOT {_citizens("NEW")}
        BEGIN UPDATE requests SET {_set_from_citizen("NEW")} WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER tr_requests_citizen_keys_check
        BEFORE UPDATE OF citizen_cpr, citizen_name, citizen_postcode ON requests
        WHEN {_mine("NEW")} IS NOT {_citizens("NEW")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    """CREATE TRIGGER tr_citizens_request_keys AFTER UPDATE OF cpr, name, postcode ON citizens
        WHEN (OLD.cpr, OLD.name, OLD.postcode) IS NOT (NEW.cpr, NEW.name, NEW.postcode)
        BEGIN UPDATE requests SET citizen_cpr = NEW.cpr, citizen_name = NEW.name,
                                  citizen_postcode = NEW.postcode
              WHERE citizen_id = NEW.id; END""",
]
_SQLITE_TRIGGER_NAMES = ["tr_requests_citizen_keys_ins", "tr_requests_citizen_keys_upd",
                         "tr_requests_citizen_keys_check", "tr_citizens_request_keys"]

_PG = [
    f"""CREATE OR REPLACE FUNCTION hjemmeprove_request_citizen_keys()
        RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE c record;
        BEGIN
          SELECT cpr, name, postcode INTO c FROM citizens WHERE id = NEW.citizen_id;
          IF TG_OP = 'UPDATE'
             AND {_mine("NEW")} IS DISTINCT FROM {_mine("OLD")}
             AND {_mine("NEW")} IS DISTINCT FROM (c.cpr, c.name, c.postcode) THEN
            RAISE EXCEPTION '{MESSAGE}';
          END IF;
          NEW.citizen_cpr := coalesce(c.cpr, '');
          NEW.citizen_name := coalesce(c.name, '');
          NEW.citizen_postcode := coalesce(c.postcode, '');
          RETURN NEW;
        END $$""",
    """CREATE TRIGGER tr_requests_citizen_keys
        BEFORE INSERT OR UPDATE OF citizen_id, citizen_cpr, citizen_name, citizen_postcode
        ON requests FOR EACH ROW EXECUTE FUNCTION hjemmeprove_request_citizen_keys()""",
    """CREATE OR REPLACE FUNCTION hjemmeprove_citizen_request_keys()
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE requests SET citizen_cpr = NEW.cpr, citizen_name = NEW.name,
                              citizen_postcode = NEW.postcode
           WHERE citizen_id = NEW.id;
          RETURN NULL;
        END $$""",
    """CREATE TRIGGER tr_citizens_request_keys AFTER UPDATE OF cpr, name, postcode ON citizens
        FOR EACH ROW WHEN ((OLD.cpr, OLD.name, OLD.postcode)
                           IS DISTINCT FROM (NEW.cpr, NEW.name, NEW.postcode))
        EXECUTE FUNCTION hjemmeprove_citizen_request_keys()""",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for key, _c, type_ in KEYS:
        op.add_column("requests", sa.Column(key, type_, nullable=False, server_default=""))
    if sqlite:
        op.execute(f"UPDATE requests SET {_set_from_citizen('requests')}")
        for sql in SQLITE_TRIGGERS:
            op.execute(sql)
    else:
        op.execute("UPDATE requests r SET citizen_cpr = c.cpr, citizen_name = c.name, "
                   "citizen_postcode = c.postcode FROM citizens c WHERE c.id = r.citizen_id")
        for sql in _PG:
            op.execute(sql)
    for name, columns in INDEXES:
        op.create_index(name, "requests", columns)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, _columns in INDEXES:
        op.drop_index(name, table_name="requests")
    if sqlite:
        for name in _SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for key, _c, _t in KEYS:  # not batch mode: a copied table would lose the triggers
            op.execute(f"ALTER TABLE requests DROP COLUMN {key}")
    else:
        op.execute("DROP TRIGGER IF EXISTS tr_citizens_request_keys ON citizens")
        op.execute("DROP TRIGGER IF EXISTS tr_requests_citizen_keys ON requests")
        op.execute("DROP FUNCTION IF EXISTS hjemmeprove_citizen_request_keys()")
        op.execute("DROP FUNCTION IF EXISTS hjemmeprove_request_citizen_keys()")
        for key, _c, _t in KEYS:
            op.drop_column("requests", key)
