"""The audit trail's rows (``db/audit.py``): one per inserted, changed and deleted row of an
audited table, with the user, the columns that changed (before and after) and nothing for a
value set to what it was; written in the change's own transaction."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from hjemmeprove.db.models import AuditEntry, ClosingDay, Municipality


def _entries(app, table):
    with app.store.session() as s:
        return [(e.action, e.user, e.row_key, json.loads(e.before or "{}"),
                 json.loads(e.after or "{}"), e.at)
                for e in s.scalars(select(AuditEntry).where(AuditEntry.table_name == table)
                                   .order_by(AuditEntry.id))]


def test_insert_update_delete_each_leave_one_row_with_what_changed(department_app):
    app = department_app
    with app.store.session(user="anna") as s:
        s.add(ClosingDay(day=dt.date(2024, 5, 10), reason="Bro"))
    with app.store.session(user="bent") as s:
        day = s.get(ClosingDay, dt.date(2024, 5, 10))
        day.reason = "Brodag"
    with app.store.session(user="carl") as s:
        day = s.get(ClosingDay, dt.date(2024, 5, 10))
        day.reason = "Brodag"  # the same value: no change, no row
    with app.store.session(user="dorte") as s:
        s.delete(s.get(ClosingDay, dt.date(2024, 5, 10)))
    rows = _entries(app, "closing_days")
    assert [(a, u, k) for a, u, k, *_ in rows] == [
        ("insert", "anna", "2024-05-10"), ("update", "bent", "2024-05-10"),
        ("delete", "dorte", "2024-05-10")]
    assert rows[0][3] == {} and rows[0][4] == {"day": "2024-05-10", "reason": "Bro"}
    assert rows[1][3] == {"reason": "Bro"} and rows[1][4] == {"reason": "Brodag"}
    assert rows[2][3] == {"day": "2024-05-10", "reason": "Brodag"} and rows[2][4] == {}
    assert all(isinstance(r[5], dt.datetime) for r in rows)


def test_only_the_changed_columns_of_many_rows(department_app):
    app = department_app
    with app.store.session(user="eva") as s:
        munis = list(s.scalars(select(Municipality).order_by(Municipality.id)))
        for m in munis:
            m.contact_name = f"Kontakt {m.code}"
            m.city = m.city  # unchanged: not in the row
    rows = [r for r in _entries(app, "municipalities") if r[0] == "update" and r[1] == "eva"]
    assert len(rows) == len(munis) > 1
    by_key = {key: (before, after) for _a, _u, key, before, after, _at in rows}
    for m in munis:
        before, after = by_key[str(m.id)]
        assert after == {"contact_name": f"Kontakt {m.code}"}
        assert set(before) == {"contact_name"}


def test_a_failed_transaction_leaves_no_audit_rows(department_app):
    app = department_app
    before = len(_entries(app, "closing_days"))
    with pytest.raises(RuntimeError):
        with app.store.session(user="fie") as s:
            s.add(ClosingDay(day=dt.date(2024, 6, 1), reason="x"))
            s.flush()
            raise RuntimeError("afbrudt")
    assert len(_entries(app, "closing_days")) == before


def test_update_rows_writes_what_a_flush_would(department_app):
    """``audit.update_rows`` (a billing run's shares, from visits read as columns): the same
    audit rows, values and version counter as setting the attributes and flushing; an object
    of such a row already loaded in the session gets the new values as loaded ones; a row
    changed meanwhile is refused."""
    from decimal import Decimal as D

    from sqlalchemy.orm.exc import StaleDataError

    from hjemmeprove.db import audit
    from hjemmeprove.db.models import Visit
    from tests.test_invoice_fixtures import add_route

    app = department_app
    rid = add_route(app, dt.date(2020, 3, 10), [dict(standalone="5")] * 4, km="20")
    with app.store.session(user="flush") as s:
        a, b = list(s.scalars(select(Visit).where(Visit.route_id == rid).order_by(Visit.id)))[:2]
        a.km_share, a.ferry_share = D("5.000"), D("0")
        b.km_share, b.ferry_share = D("5.000"), None  # ferry unchanged: not in the row
    with app.store.session(user="rows") as s:
        rows = s.execute(select(Visit.id, Visit.version, Visit.km_share, Visit.ferry_share)
                         .where(Visit.route_id == rid).order_by(Visit.id)).all()[2:]
        loaded = s.get(Visit, rows[0].id)
        audit.update_rows(s, Visit, [
            (r.id, r.version, {"km_share": r.km_share, "ferry_share": r.ferry_share},
             {"km_share": D("5.000"), "ferry_share": ferry})
            for r, ferry in zip(rows, (D("0"), None))])
        assert loaded.km_share == D("5.000") and loaded.version == 2 and loaded not in s.dirty
    by_user = {}  # in visit order (a flush writes its rows in no particular order)
    for action, user, key, before, after, _at in sorted(_entries(app, "visits"),
                                                        key=lambda r: int(r[2])):
        if action == "update":
            by_user.setdefault(user, []).append((before, after))
    assert by_user["flush"] == by_user["rows"] == [
        ({"ferry_share": None, "km_share": None}, {"ferry_share": "0", "km_share": "5.000"}),
        ({"km_share": None}, {"km_share": "5.000"})]
    with app.store.session() as s:
        visits = list(s.scalars(select(Visit).where(Visit.route_id == rid).order_by(Visit.id)))
        assert [(v.km_share, v.ferry_share, v.version) for v in visits] == [
            (D("5.000"), D("0.0"), 2), (D("5.000"), None, 2)] * 2
    with app.store.session() as s:
        r = s.execute(select(Visit.id, Visit.version, Visit.km_share)
                      .where(Visit.route_id == rid).order_by(Visit.id)).first()
        with app.store.session() as other:  # changed and committed by someone else meanwhile
            other.get(Visit, r.id).outcome_note = "x"
        with pytest.raises(StaleDataError):
            audit.update_rows(s, Visit, [(r.id, r.version, {"km_share": r.km_share},
                                          {"km_share": D("1.000")})])
        s.rollback()
    with app.store.session() as s:
        v = s.scalars(select(Visit).where(Visit.route_id == rid)).first()
        v.outcome_note = "ikke gemt"
        with pytest.raises(ValueError):  # a loaded object's own pending change would be lost
            audit.update_rows(s, Visit, [(v.id, v.version, {"km_share": v.km_share},
                                          {"km_share": D("1.000")})])
        s.rollback()
