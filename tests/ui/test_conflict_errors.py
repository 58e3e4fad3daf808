"""A conflict between two users is shown as one, in Danish, never as "Uventet fejl"."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from hjemmeprove.errors import ConflictError
from ui import errors
from ui.ops import _as_user_error


def test_database_conflicts_become_user_errors():
    locked = OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))
    for exc in (StaleDataError("UPDATE routes expected 1 row, 0 matched"), locked):
        mapped = _as_user_error(exc)
        assert isinstance(mapped, ConflictError) and mapped.__cause__ is exc
        title, text, details = errors.describe(mapped)
        assert title == "Ændret af en anden" and "Intet er gemt" in text and not details
    boom = RuntimeError("en fejl i programmet")
    assert _as_user_error(boom) is boom  # a real bug stays unexpected (and logged)
