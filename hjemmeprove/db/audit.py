"""The audit trail: every insert, update and delete of an audited table, with user and
before/after values, written in the same transaction as the change itself.

A session event rather than code in each service, so that no service can forget it.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import cache

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE


@cache
def audited() -> tuple[type, ...]:
    """The audited tables' classes. A function, not a constant: importing this module (as the
    Store does) must not import the models, so a command that only reads pays for neither."""
    from hjemmeprove.db import models

    return (
        models.Request,
        models.Cancellation,
        models.Agreement,
        models.WageIndex,
        models.AnnouncedRate,
        models.MileageRate,
        models.Visit,
        models.Route,
        models.Invoice,
        models.Citizen,
        models.Municipality,
        models.Department,
        models.Bioanalyst,
        models.Absence,
        models.Setting,
        models.ClosingDay,
        models.User,
        models.FerryResolution,
        models.DuplicateDecision,
        models.IssueOverride,
    )


SKIP_COLUMNS = {"version"}
_installed = False


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _columns(obj) -> dict:
    mapper = inspect(obj).mapper
    return {
        c.key: _plain(getattr(obj, c.key))
        for c in mapper.column_attrs
        if c.key not in SKIP_COLUMNS
    }


def _row_key(obj) -> str:
    # From the primary-key attributes, which the INSERT has filled in by after_flush
    # (the identity map key is only set after the flush completes).
    values = inspect(obj).mapper.primary_key_from_instance(obj)
    return "/".join("" if v is None else str(_plain(v)) for v in values)


@cache
def _audited_keys(mapper) -> frozenset[str]:
    return frozenset(c.key for c in mapper.column_attrs if c.key not in SKIP_COLUMNS)


def _changes(obj) -> tuple[dict, dict]:
    """The column values an update changes, before and after. Only the attributes the
    session recorded a change for (``committed_state``) are looked at: a billing run
    touches a few columns of thousands of visits, and walking every column of each was most
    of the audit's cost."""
    state = inspect(obj)
    keys = _audited_keys(state.mapper)
    before, after = {}, {}
    for key in list(state.committed_state):
        if key not in keys:
            continue
        # as ``state.attrs[key].history``, without building every attribute's view first
        hist = state.get_history(key, PASSIVE_NO_INITIALIZE)
        if hist.has_changes():
            before[key] = _plain(hist.deleted[0]) if hist.deleted else None
            after[key] = _plain(hist.added[0]) if hist.added else None
    return before, after


def _dump(d: dict) -> str:
    return json.dumps(d, ensure_ascii=False, sort_keys=True) if d else ""


def _before_flush(session: Session, _ctx, _instances) -> None:
    # Updates and deletes are recorded now (the values before the flush are still known);
    # inserts after it (their primary key comes from the INSERT). All are written in one
    # executemany in ``_after_flush``, in the flush's transaction: one row per changed row,
    # without an ORM object each (a billing run changes thousands of visits).
    user = session.info.get("user", "")
    pending = session.info.setdefault("audit_new", [])
    rows = session.info.setdefault("audit_rows", [])
    kinds = audited()
    for obj in list(session.dirty):
        if isinstance(obj, kinds):
            before, after = _changes(obj)
            if after:
                rows.append(_row(user, obj, "update", before, after))
    for obj in list(session.deleted):
        if isinstance(obj, kinds):
            rows.append(_row(user, obj, "delete", _columns(obj), {}))
    for obj in list(session.new):
        if isinstance(obj, kinds):
            pending.append(obj)  # the primary key is only known after the flush


def _after_flush(session: Session, _ctx) -> None:
    rows = session.info.pop("audit_rows", [])
    pending = session.info.pop("audit_new", [])
    if not pending and not rows:
        return
    from hjemmeprove.db import models

    user = session.info.get("user", "")
    rows += [_row(user, obj, "insert", {}, _columns(obj)) for obj in pending]
    now = models.utcnow()
    for row in rows:
        row["at"] = now
    session.execute(models.AuditEntry.__table__.insert(), rows)


def _row(user, obj, action, before, after) -> dict:
    return {
        "user": user,
        "table_name": obj.__tablename__,
        "row_key": _row_key(obj),
        "action": action,
        "before": _dump(before),
        "after": _dump(after),
    }


def install() -> None:
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    _installed = True
