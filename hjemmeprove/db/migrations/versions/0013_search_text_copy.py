"""PostgreSQL: a narrow copy of what a search checks on the request row, for its count

Revision ID: 0013
Revises: 0012

The request list shows the exact number of a search's matches. A common term ("vej": 58,664
of 100,000 requests) or one too short for the trigram index ("an") is counted by checking
every request's stored search text (0010). On PostgreSQL the text is the 35th of 38 columns
of ``requests``, after twenty columns of variable length: to read it, each row is taken
apart column by column up to it, and that was most of the count's time (on 100,000
requests, under load: ``LIKE '%vej%'`` 48 ms on ``requests``, 28 ms on a table of the id and
the text alone, a bare ``count(*)`` 17 ms, in the same run).

``requests_text (id, municipality_id, postcode, citizen_postcode, search_text)`` holds what
a text search checks on the row (its text, its municipality, the request's and the
citizen's postcodes), the text last: 8 MB per 100,000 requests. ``RequestService.count``
checks a common or a short term on each of its rows (``_pg_text_count``); a rare term
is still counted through the trigram index on ``requests``. The database keeps the copy,
whoever writes:

- a row trigger on ``requests`` (after an insert, or an update that changes any of those
  columns or the id) writes the row's values into the copy. The function is ``SECURITY DEFINER``: it
  writes as the copy's owner, so the program's roles can read the copy and nobody but the
  owner can write it (``roles setup``: SELECT only; at this upgrade, to the roles that
  already exist);
- a foreign key (ON DELETE CASCADE, ON UPDATE CASCADE) removes a deleted request's copy.

The existing rows are copied here. A restore of ``pg_dump`` brings the copy as data, and the
trigger and the key after it. SQLite is unchanged: its FTS5 table (0010) holds the text
already and counts from there. The downgrade drops the table and the trigger's function.
The copy is not in the models (``db/models.py``, ``PG_SEARCH_COPY``).
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLE = "requests_text"
COLUMNS = "id, municipality_id, postcode, citizen_postcode, search_text"
GROUPS = ("hjemmeprove_coordinator", "hjemmeprove_finance", "hjemmeprove_administrator")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(f"""CREATE TABLE {TABLE} (
        id integer PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE ON UPDATE CASCADE,
        municipality_id integer,
        postcode varchar(4),
        citizen_postcode varchar(4),
        search_text text NOT NULL)""")
    op.execute(f"REVOKE ALL ON {TABLE} FROM PUBLIC")
    # the owner's rights, a fixed search path (a SECURITY DEFINER function must not find
    # another user's table or function first); the upsert holds whether or not the key's
    # cascade has moved the row already when an id changes
    op.execute(f"""CREATE OR REPLACE FUNCTION hjemmeprove_request_text_copy()
        RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = {schema}, pg_temp AS $$
        BEGIN
          INSERT INTO {TABLE} ({COLUMNS})
            VALUES (NEW.id, NEW.municipality_id, NEW.postcode, NEW.citizen_postcode,
                    NEW.search_text)
            ON CONFLICT (id) DO UPDATE SET
              municipality_id = EXCLUDED.municipality_id, postcode = EXCLUDED.postcode,
              citizen_postcode = EXCLUDED.citizen_postcode, search_text = EXCLUDED.search_text;
          RETURN NULL;
        END $$""")
    op.execute("REVOKE ALL ON FUNCTION hjemmeprove_request_text_copy() FROM PUBLIC")
    op.execute("""CREATE TRIGGER tr_requests_text_copy_ins AFTER INSERT ON requests
        FOR EACH ROW EXECUTE FUNCTION hjemmeprove_request_text_copy()""")
    op.execute("""CREATE TRIGGER tr_requests_text_copy_upd AFTER UPDATE ON requests
        FOR EACH ROW WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text
                           OR OLD.municipality_id IS DISTINCT FROM NEW.municipality_id
                           OR OLD.postcode IS DISTINCT FROM NEW.postcode
                           OR OLD.citizen_postcode IS DISTINCT FROM NEW.citizen_postcode
                           OR OLD.id IS DISTINCT FROM NEW.id)
        EXECUTE FUNCTION hjemmeprove_request_text_copy()""")
    op.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM requests")
    for group in GROUPS:  # the roles of ``roles setup``, where it has been run
        op.execute(f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{group}') "
                   f"THEN GRANT SELECT ON {TABLE} TO {group}; END IF; END $$")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS tr_requests_text_copy_upd ON requests")
    op.execute("DROP TRIGGER IF EXISTS tr_requests_text_copy_ins ON requests")
    op.execute("DROP FUNCTION IF EXISTS hjemmeprove_request_text_copy()")
    op.execute(f"DROP TABLE IF EXISTS {TABLE}")
