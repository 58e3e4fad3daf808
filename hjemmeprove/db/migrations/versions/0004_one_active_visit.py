"""one active visit per request; a cancelled request has no active visit

Revision ID: 0004
Revises: 0003

What must never happen, held by the schema on SQLite and PostgreSQL alike:

- a request has at most one *active* visit (outcome NULL): a partial unique index;
- a request with a cancellation has no active visit: triggers on ``visits`` (insert, or an
  update of its outcome/request) and on ``cancellations`` (insert). A late cancellation keeps
  its visit with outcome ``cancelled_late``; that visit is not active.

Rows that break either rule (left by the races this revision closes) are repaired first: the
cancellation, or the recorded outcome, wins over a visit still to happen.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MESSAGE = "en aflyst henvisning kan ikke have et aktivt besøg"

_REPAIR = [
    # an active visit of a cancelled request, or of one already visited, goes
    """DELETE FROM visits WHERE outcome IS NULL
         AND NOT EXISTS (SELECT 1 FROM invoice_items i WHERE i.visit_id = visits.id)
         AND (EXISTS (SELECT 1 FROM cancellations c WHERE c.request_id = visits.request_id)
              OR EXISTS (SELECT 1 FROM visits d WHERE d.request_id = visits.request_id
                         AND d.outcome IS NOT NULL))""",
    # of two active visits of one request, the locked (else the first) stays
    """DELETE FROM visits WHERE outcome IS NULL
         AND NOT EXISTS (SELECT 1 FROM invoice_items i WHERE i.visit_id = visits.id)
         AND EXISTS (SELECT 1 FROM visits o WHERE o.request_id = visits.request_id
                     AND o.outcome IS NULL AND o.id <> visits.id
                     AND (o.locked > visits.locked
                          OR (o.locked = visits.locked AND o.id < visits.id)))""",
    """UPDATE requests SET status = 'done' WHERE status <> 'done'
         AND EXISTS (SELECT 1 FROM visits v WHERE v.request_id = requests.id
                     AND v.outcome IN ('taken', 'not_home', 'refused'))""",
    """UPDATE requests SET status = 'cancelled' WHERE status <> 'cancelled'
         AND EXISTS (SELECT 1 FROM cancellations c WHERE c.request_id = requests.id)
         AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.request_id = requests.id
                         AND v.outcome IN ('taken', 'not_home', 'refused'))""",
]

_SQLITE = [
    f"""CREATE TRIGGER tr_visits_active_not_cancelled_ins BEFORE INSERT ON visits
        WHEN NEW.outcome IS NULL
         AND EXISTS (SELECT 1 FROM cancellations WHERE request_id = NEW.request_id)
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER tr_visits_active_not_cancelled_upd BEFORE UPDATE OF outcome, request_id
        ON visits
        WHEN NEW.outcome IS NULL
         AND EXISTS (SELECT 1 FROM cancellations WHERE request_id = NEW.request_id)
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER tr_cancellations_no_active_visit BEFORE INSERT ON cancellations
        WHEN EXISTS (SELECT 1 FROM visits WHERE request_id = NEW.request_id
                     AND outcome IS NULL)
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]

# PostgreSQL: the request row is locked first, so that a visit and a cancellation written at
# the same moment by two transactions are checked one after the other (READ COMMITTED gives
# each statement in the function a fresh snapshot).
_PG = [
    f"""CREATE OR REPLACE FUNCTION hjemmeprove_no_active_visit_when_cancelled()
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_TABLE_NAME = 'visits' THEN
            IF NEW.outcome IS NOT NULL THEN
              RETURN NEW;
            END IF;
            PERFORM 1 FROM requests WHERE id = NEW.request_id FOR UPDATE;
            IF EXISTS (SELECT 1 FROM cancellations WHERE request_id = NEW.request_id) THEN
              RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = '23514';
            END IF;
          ELSE
            PERFORM 1 FROM requests WHERE id = NEW.request_id FOR UPDATE;
            IF EXISTS (SELECT 1 FROM visits WHERE request_id = NEW.request_id
                       AND outcome IS NULL) THEN
              RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = '23514';
            END IF;
          END IF;
          RETURN NEW;
        END $$""",
    """CREATE TRIGGER tr_visits_active_not_cancelled
        BEFORE INSERT OR UPDATE OF outcome, request_id ON visits
        FOR EACH ROW EXECUTE FUNCTION hjemmeprove_no_active_visit_when_cancelled()""",
    """CREATE TRIGGER tr_cancellations_no_active_visit
        BEFORE INSERT ON cancellations
        FOR EACH ROW EXECUTE FUNCTION hjemmeprove_no_active_visit_when_cancelled()""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for sql in _REPAIR:
        op.execute(sql)
    op.create_index("ux_visits_one_active", "visits", ["request_id"], unique=True,
                    sqlite_where=sa.text("outcome IS NULL"),
                    postgresql_where=sa.text("outcome IS NULL"))
    for sql in (_SQLITE if dialect == "sqlite" else _PG):
        op.execute(sql)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("tr_visits_active_not_cancelled_ins", "tr_visits_active_not_cancelled_upd",
                     "tr_cancellations_no_active_visit"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS tr_visits_active_not_cancelled ON visits")
        op.execute("DROP TRIGGER IF EXISTS tr_cancellations_no_active_visit ON cancellations")
        op.execute("DROP FUNCTION IF EXISTS hjemmeprove_no_active_visit_when_cancelled()")
    op.drop_index("ux_visits_one_active", table_name="visits")
