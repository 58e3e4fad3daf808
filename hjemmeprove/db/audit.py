"""The audit trail: every insert, update and delete of an audited table, with user and
before/after values, written in the same transaction as the change itself.

A session event rather than code in each service, so that no service can forget it.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from hjemmeprove.db import models


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


def _changes(obj) -> tuple[dict, dict]:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        if attr.key in SKIP_COLUMNS:
            continue
        hist = state.attrs[attr.key].history
        if hist.has_changes():
            before[attr.key] = _plain(hist.deleted[0]) if hist.deleted else None
            after[attr.key] = _plain(hist.added[0]) if hist.added else None
    return before, after


def _dump(d: dict) -> str:
    return json.dumps(d, ensure_ascii=False, sort_keys=True) if d else ""


def _before_flush(session: Session, _ctx, _instances) -> None:
    user = session.info.get("user", "")
    pending = session.info.setdefault("audit_new", [])
    for obj in list(session.dirty):
        if isinstance(obj, audited()) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                session.add(_entry(user, obj, "update", before, after))
    for obj in list(session.deleted):
        if isinstance(obj, audited()):
            session.add(_entry(user, obj, "delete", _columns(obj), {}))
    for obj in list(session.new):
        if isinstance(obj, audited()):
            pending.append(obj)  # the primary key is only known after the flush


def _after_flush(session: Session, _ctx) -> None:
    pending = session.info.pop("audit_new", [])
    if not pending:
        return
    from hjemmeprove.db import models

    user = session.info.get("user", "")
    rows = [
        {
            "at": models.utcnow(),
            "user": user,
            "table_name": obj.__tablename__,
            "row_key": _row_key(obj),
            "action": "insert",
            "before": "",
            "after": _dump(_columns(obj)),
        }
        for obj in pending
    ]
    session.execute(models.AuditEntry.__table__.insert(), rows)


def _entry(user, obj, action, before, after) -> models.AuditEntry:
    from hjemmeprove.db import models

    return models.AuditEntry(
        user=user,
        table_name=obj.__tablename__,
        row_key=_row_key(obj),
        action=action,
        before=_dump(before),
        after=_dump(after),
    )


def install() -> None:
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    _installed = True
