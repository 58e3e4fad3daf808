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
    state = inspect(obj)
    return {key: _plain(getattr(obj, key)) for key in _audited_keys(state.mapper)}


def _row_key(obj) -> str:
    # From the primary-key attributes, which the INSERT has filled in by after_flush
    # (the identity map key is only set after the flush completes).
    return _key_text(inspect(obj).mapper.primary_key_from_instance(obj))


@cache
def _audited_keys(mapper) -> frozenset[str]:
    """The attributes an entry records: not the version counter, and not the deferred
    columns the database keeps itself (``requests.search_text``, the citizen's name and
    address lower-cased for search). Those are copies of other rows' values; recording them
    put a citizen's name in the request's entries, where the retention's erasure did not
    look for it."""
    return frozenset(c.key for c in mapper.column_attrs
                     if c.key not in SKIP_COLUMNS and not c.deferred)


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


# one encoder for every row (``json.dumps`` with options builds a new one per call)
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _dump(d: dict) -> str:
    return _encode(d) if d else ""


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
    return _row_of(user, obj.__tablename__, _row_key(obj), action, before, after)


def _row_of(user, table: str, key: str, action, before, after) -> dict:
    return {
        "user": user,
        "table_name": table,
        "row_key": key,
        "action": action,
        "before": _dump(before),
        "after": _dump(after),
    }


def _key_text(values) -> str:
    return "/".join("" if v is None else str(_plain(v)) for v in values)


def update_rows(session: Session, cls, rows: list[tuple]) -> None:
    """Sets columns of many rows of one audited class, read as columns rather than loaded
    as objects, in one executemany, in the session's transaction, with what a flush would do
    for them: the version counter checked and raised, and one audit row per row with the
    columns whose value changed. ``rows`` are (primary key, version, {key: value now},
    {key: new value}), the same keys in each. An object of such a row already loaded in the
    session gets the new values as loaded ones; one with pending changes is refused.

    For a change of thousands of rows (a billing run's shares of a month's visits), where
    the unit of work's cost per object (one UPDATE statement each, with the version counter)
    was a fifth of the run."""
    if not rows:
        return
    mapper = inspect(cls)
    if not issubclass(cls, audited()):
        raise ValueError("update_rows: audited classes only")
    keys = sorted(rows[0][3])
    entries = []
    for pk, version, before, after in rows:
        key = mapper.identity_key_from_primary_key((pk,) if not isinstance(pk, tuple) else pk)
        obj = session.identity_map.get(key)
        if obj is not None and obj in session.dirty:
            raise ValueError("update_rows: a loaded object has pending changes")
        entries.append(((pk,) if not isinstance(pk, tuple) else pk, version, before, after,
                        obj))
    _update(session, mapper, keys, entries)


def _version_key(mapper) -> str | None:
    version = mapper.version_id_col
    return mapper.get_property_by_column(version).key if version is not None else None


def _update(session: Session, mapper, keys: list[str], entries: list[tuple]) -> None:
    """One executemany for ``entries`` (primary key values, version, before, after, loaded
    object or None), the version counter checked and raised, and one audit row per entry
    with the columns whose value changed."""
    from sqlalchemy import and_, bindparam, update
    from sqlalchemy.orm.attributes import set_committed_value
    from sqlalchemy.orm.exc import StaleDataError

    (pk,) = mapper.primary_key
    version = mapper.version_id_col
    vkey = _version_key(mapper)
    where = pk == bindparam("p_pk")
    values = {mapper.attrs[k].columns[0].name: bindparam(f"p_{k}") for k in keys}
    if version is not None:
        where = and_(where, version == bindparam("p_version"))
        values[version.name] = bindparam("p_new_version")
    params = []
    user = session.info.get("user", "")
    table = mapper.local_table.name
    audit = []
    names = [(k, f"p_{k}") for k in keys]
    for pk_values, old_version, now, new, _obj in entries:
        row = {"p_pk": pk_values[0]}
        for k, name in names:
            row[name] = new[k]
        if version is not None:
            row["p_version"] = old_version
            row["p_new_version"] = old_version + 1
        params.append(row)
        before = {k: _plain(now[k]) for k in keys if now[k] != new[k]}
        if before:
            key = str(pk_values[0]) if type(pk_values[0]) is int else _key_text(pk_values)
            audit.append(_row_of(user, table, key, "update", before,
                                 {k: _plain(new[k]) for k in before}))
    conn = session.connection()
    result = conn.execute(update(mapper.local_table).where(where).values(values), params)
    if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(entries):
        raise StaleDataError(f"{table}: {len(entries) - result.rowcount} "
                             "rækker er ændret af en anden imens")
    for (*_e, obj), row in zip(entries, params):
        if obj is None:
            continue
        for k in keys:
            set_committed_value(obj, k, row[f"p_{k}"])
        if vkey:
            set_committed_value(obj, vkey, row["p_new_version"])
    if audit:
        from hjemmeprove.db import models

        now_at = models.utcnow()
        for row in audit:
            row["at"] = now_at
        conn.execute(models.AuditEntry.__table__.insert(), audit)


def install() -> None:
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    _installed = True
