"""the request list's stored sort keys and indexes: keyset pages, town and postcode search

Revision ID: 0008
Revises: 0007

The request list pages by key (the last row's sort values and id) instead of by offset, so
every sort key is a column with an index on (key, id):

- ``requests.planned_date``: the first day of the request's visits, and
  ``requests.late_cancelled``: a cancellation of it was late. Both were computed per row by
  subqueries. They are kept by triggers on ``visits`` (insert, delete, an update of its date
  or request) and ``cancellations`` (insert, delete, an update of ``late`` or its request),
  on SQLite and PostgreSQL alike, in the transaction that makes the change, whoever writes
  it: the planner, a manual move, day close, a cancellation or its undoing, an import.
- indexes on (deadline, id), (status, id), (received, id), (planned_date, id),
  (late_cancelled, id), (ekg, id), (address, id), (citizen_id, id), (municipality_id, id);
  ``citizens`` (name, id), ``municipalities`` (name, id): the list sorts on these and
  joins through them; (status, key, id) for the keys of the requests table: a list of one
  status or a few, sorted, read from the index alone.
- the postcode of requests and citizens: a search for a town or a postcode looks them up.
- ``cancellations.request_id``: the triggers (and 0004's) look a request's cancellations up.

Existing requests get their planned date and late flag filled here.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_PLANNED = "(SELECT min(v.date) FROM visits v WHERE v.request_id = {rid})"
_LATE = ("EXISTS (SELECT 1 FROM cancellations c WHERE c.request_id = {rid} "
         "AND c.late = true)")


def _set_planned(rid: str, same: str) -> str:
    """Sets request ``rid``'s planned date, writing only when it changes."""
    value = _PLANNED.format(rid=rid)
    return (f"UPDATE requests SET planned_date = {value} "
            f"WHERE id = {rid} AND planned_date {same} {value}")


def _set_late(rid: str, same: str) -> str:
    value = _LATE.format(rid=rid)
    return (f"UPDATE requests SET late_cancelled = {value} "
            f"WHERE id = {rid} AND late_cancelled {same} {value}")


# SQLite: IS NOT compares NULL-safe
_SQLITE = [
    f"""CREATE TRIGGER tr_visits_planned_date_ins AFTER INSERT ON visits
        BEGIN {_set_planned("NEW.request_id", "IS NOT")}; END""",
    f"""CREATE TRIGGER tr_visits_planned_date_upd AFTER UPDATE OF date, request_id ON visits
        BEGIN {_set_planned("NEW.request_id", "IS NOT")};
              {_set_planned("OLD.request_id", "IS NOT")}; END""",
    f"""CREATE TRIGGER tr_visits_planned_date_del AFTER DELETE ON visits
        BEGIN {_set_planned("OLD.request_id", "IS NOT")}; END""",
    f"""CREATE TRIGGER tr_cancellations_late_ins AFTER INSERT ON cancellations
        BEGIN {_set_late("NEW.request_id", "IS NOT")}; END""",
    f"""CREATE TRIGGER tr_cancellations_late_upd AFTER UPDATE OF late, request_id
        ON cancellations
        BEGIN {_set_late("NEW.request_id", "IS NOT")};
              {_set_late("OLD.request_id", "IS NOT")}; END""",
    f"""CREATE TRIGGER tr_cancellations_late_del AFTER DELETE ON cancellations
        BEGIN {_set_late("OLD.request_id", "IS NOT")}; END""",
]

_PG = [
    f"""CREATE OR REPLACE FUNCTION hjemmeprove_request_list_keys()
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_TABLE_NAME = 'visits' THEN
            IF TG_OP <> 'DELETE' THEN
              {_set_planned("NEW.request_id", "IS DISTINCT FROM")};
            END IF;
            IF TG_OP = 'DELETE' THEN
              {_set_planned("OLD.request_id", "IS DISTINCT FROM")};
            ELSIF TG_OP = 'UPDATE' THEN
              IF OLD.request_id <> NEW.request_id THEN
                {_set_planned("OLD.request_id", "IS DISTINCT FROM")};
              END IF;
            END IF;
          ELSE
            IF TG_OP <> 'DELETE' THEN
              {_set_late("NEW.request_id", "IS DISTINCT FROM")};
            END IF;
            IF TG_OP = 'DELETE' THEN
              {_set_late("OLD.request_id", "IS DISTINCT FROM")};
            ELSIF TG_OP = 'UPDATE' THEN
              IF OLD.request_id <> NEW.request_id THEN
                {_set_late("OLD.request_id", "IS DISTINCT FROM")};
              END IF;
            END IF;
          END IF;
          RETURN NULL;
        END $$""",
    """CREATE TRIGGER tr_visits_planned_date
        AFTER INSERT OR DELETE OR UPDATE OF date, request_id ON visits
        FOR EACH ROW EXECUTE FUNCTION hjemmeprove_request_list_keys()""",
    """CREATE TRIGGER tr_cancellations_late
        AFTER INSERT OR DELETE OR UPDATE OF late, request_id ON cancellations
        FOR EACH ROW EXECUTE FUNCTION hjemmeprove_request_list_keys()""",
]

_INDEXES = [
    ("requests", "ix_requests_received", ["received", "id"]),
    ("requests", "ix_requests_planned_date", ["planned_date", "id"]),
    ("requests", "ix_requests_late_cancelled", ["late_cancelled", "id"]),
    ("requests", "ix_requests_ekg", ["ekg", "id"]),
    ("requests", "ix_requests_address", ["address", "id"]),
    ("requests", "ix_requests_citizen_id", ["citizen_id", "id"]),
    ("requests", "ix_requests_municipality_id", ["municipality_id", "id"]),
    ("requests", "ix_requests_postcode", ["postcode"]),
    ("requests", "ix_requests_status_deadline", ["status", "deadline", "id"]),
    ("requests", "ix_requests_status_received", ["status", "received", "id"]),
    ("requests", "ix_requests_status_planned_date", ["status", "planned_date", "id"]),
    ("requests", "ix_requests_status_late_cancelled", ["status", "late_cancelled", "id"]),
    ("requests", "ix_requests_status_ekg", ["status", "ekg", "id"]),
    ("requests", "ix_requests_status_address", ["status", "address", "id"]),
    ("citizens", "ix_citizens_name", ["name", "id"]),
    ("citizens", "ix_citizens_postcode", ["postcode"]),
    ("municipalities", "ix_municipalities_name", ["name", "id"]),
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("requests", sa.Column("planned_date", sa.Date(), nullable=True))
    op.add_column("requests", sa.Column("late_cancelled", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    # the cancellations' index first: filling looks them up per request
    op.create_index("ix_cancellations_request_id", "cancellations", ["request_id"])
    if dialect == "postgresql":  # a plan from fresh statistics: one index probe per request
        op.execute("ANALYZE visits, cancellations")
    op.execute(f"UPDATE requests SET planned_date = {_PLANNED.format(rid='requests.id')}, "
               f"late_cancelled = {_LATE.format(rid='requests.id')}")
    # the id breaks ties in a sort: the two indexes the list had get it as their last column
    op.drop_index("ix_requests_deadline", table_name="requests")
    op.drop_index("ix_requests_status", table_name="requests")
    op.create_index("ix_requests_deadline", "requests", ["deadline", "id"])
    op.create_index("ix_requests_status", "requests", ["status", "id"])
    for table, name, columns in _INDEXES:
        op.create_index(name, table, columns)
    for sql in (_SQLITE if dialect == "sqlite" else _PG):
        op.execute(sql)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("tr_visits_planned_date_ins", "tr_visits_planned_date_upd",
                     "tr_visits_planned_date_del", "tr_cancellations_late_ins",
                     "tr_cancellations_late_upd", "tr_cancellations_late_del"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS tr_visits_planned_date ON visits")
        op.execute("DROP TRIGGER IF EXISTS tr_cancellations_late ON cancellations")
        op.execute("DROP FUNCTION IF EXISTS hjemmeprove_request_list_keys()")
    for table, name, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_cancellations_request_id", table_name="cancellations")
    op.drop_index("ix_requests_status", table_name="requests")
    op.drop_index("ix_requests_deadline", table_name="requests")
    op.create_index("ix_requests_status", "requests", ["status"])
    op.create_index("ix_requests_deadline", "requests", ["deadline"])
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("late_cancelled")
        batch.drop_column("planned_date")
