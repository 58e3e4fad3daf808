"""SQLite: an index of what a 1–2 letter search is checked on, read alone by its count

Revision ID: 0012
Revises: 0011

The request list shows the exact number of a search's matches. A term too short for the
trigram index ("an": 25,923 of 100,000 requests) is counted by checking every request: its
stored search text (0010) contains the term, or its municipality's name does. On SQLite
that read every row of ``requests``, ~230 bytes each since 0011 (23 MB for 100,000
requests), for two columns.

``ix_requests_search_count`` holds them (the search text first, then the municipality and
the status the list filters on; SQLite adds the rowid): ~6 MB for 100,000 requests, read
from end to end by the count (``RequestService.count``: SQLite's planner takes the covering
index) instead of the table. No query looks anything up in it. The database keeps it as it
keeps every index; the downgrade drops it.

SQLite only: PostgreSQL's planner reads the table for such a count, and an index-only scan
of the same index cost as much CPU there (measured on 100,000 requests), so an index there
would only be written. The models mark it so (``Index.ddl_if``, ``SQLITE_ONLY_INDEXES``).
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NAME = "ix_requests_search_count"
COLUMNS = ["search_text", "municipality_id", "status"]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        op.create_index(NAME, "requests", COLUMNS)


def downgrade() -> None:
    if _sqlite():
        op.drop_index(NAME, table_name="requests")
