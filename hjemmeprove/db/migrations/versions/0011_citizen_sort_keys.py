"""PostgreSQL: the citizens' list sort keys (CPR, name) readable from an index by id

Revision ID: 0011
Revises: 0010

A request-list search sorted by CPR or name looks up each match's citizen by primary key
(``services/requests.py``, ``_pg_gather``): up to 10,000 probes of ``citizens_pkey`` that
each read the citizen's row from the heap. An index on ``citizens (id) INCLUDE (cpr, name)``
answers them from the index alone (an index-only scan: the visibility map, kept by
autovacuum, says the rows need no visit). PostgreSQL only: SQLite's search reads its
citizens otherwise, and its primary key is the row itself already.

The index is not in the models (``db/models.py``, ``SEARCH_INDEXES``: ``alembic check``
leaves it out, as 0010's trigram index).
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PG_INDEX = "ix_citizens_id_sort_keys"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {PG_INDEX} ON citizens (id) INCLUDE (cpr, name)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
