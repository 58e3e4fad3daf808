"""Migration 0008 on a database with requests: the stored sort keys (planned date, late
cancellation) are filled from the visits and cancellations already there, and from then on
the triggers keep them, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from alembic import command
from sqlalchemy import MetaData, Table, create_engine, text

from hjemmeprove.db.migrate import alembic_config


def migrate(engine, url, fn, revision) -> None:
    """``fn`` (alembic's ``command.upgrade`` or ``downgrade``) to ``revision``, in one
    transaction on ``engine`` (the migration tests' raw databases)."""
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        fn(cfg, revision)


def _upgrade(engine, url, revision):
    migrate(engine, url, command.upgrade, revision)


_FILL = {str: "", int: 0, bool: False, float: 0.0, Decimal: Decimal("0"),
         dt.date: dt.date(2024, 3, 1), dt.datetime: dt.datetime(2024, 3, 1, 8), dt.time: dt.time(9)}


def _insert(conn, table: str, **values) -> None:
    """A row of the schema as it is in the database: every required column filled."""
    t = Table(table, MetaData(), autoload_with=conn)
    row = dict(values)
    for c in t.columns:
        if c.name not in row and not c.nullable and not c.primary_key \
                and c.server_default is None:
            row[c.name] = _FILL[c.type.python_type]
    conn.execute(t.insert(), row)


def insert_agreement(conn) -> None:
    """Department 1, Svendborg (municipality 1) and its agreement 1, as raw rows."""
    _insert(conn, "departments", id=1, name="KBA", lab_lat=55.0, lab_lon=10.6)
    _insert(conn, "municipalities", id=1, code=479, name="Svendborg")
    _insert(conn, "agreements", id=1, municipality_id=1, department_id=1,
            start=dt.date(2020, 1, 1), billable_outcomes="taken",
            allocation_rule="standalone", version=1)


def insert_citizen_request(conn, i: int, name: str, address: str, own: str | None = None
                           ) -> None:
    """Citizen ``i`` in Svendborg and their open request ``i`` (at ``own``, else the
    citizen's address), as raw rows (after ``insert_agreement``)."""
    _insert(conn, "citizens", id=i, cpr=f"0{i}0150-123{i}", name=name, address=address,
            postcode="5700", city="Svendborg")
    _insert(conn, "requests", id=i, citizen_id=i, municipality_id=1, department_id=1,
            agreement_id=1, received=dt.date(2024, 3, 1), deadline=dt.date(2024, 3, 15),
            status="open", version=1, address=own or address, postcode="5700",
            city="Svendborg")


def test_upgrade_fills_the_list_keys_and_the_triggers_keep_them(db_url):
    engine = create_engine(db_url)
    try:
        _upgrade(engine, db_url, "0007")
        with engine.begin() as c:
            insert_agreement(c)
            _insert(c, "bioanalysts", id=1, name="B", department_id=1)
            _insert(c, "routes", id=1, bioanalyst_id=1, department_id=1,
                    date=dt.date(2024, 3, 5), version=1)
            for i in range(1, 5):
                _insert(c, "citizens", id=i, cpr=f"0{i}0150-123{i}", name=f"Borger {i}",
                        postcode="5700")
                _insert(c, "requests", id=i, citizen_id=i, municipality_id=1,
                        department_id=1, agreement_id=1, received=dt.date(2024, 3, 1),
                        deadline=dt.date(2024, 3, 15), status="open", version=1)
            # 1: done on the 5th after a not-home on the 4th; 2: cancelled late, its visit
            # kept; 3: cancelled in time; 4: nothing yet
            _insert(c, "visits", request_id=1, date=dt.date(2024, 3, 4), outcome="not_home",
                    version=1)
            _insert(c, "visits", request_id=1, route_id=1, date=dt.date(2024, 3, 5),
                    outcome="taken", version=1)
            _insert(c, "visits", request_id=2, date=dt.date(2024, 3, 6),
                    outcome="cancelled_late", version=1)
            _insert(c, "cancellations", request_id=2, at=dt.datetime(2024, 3, 6, 7),
                    by="x", channel="telephone", late=True)
            _insert(c, "cancellations", request_id=3, at=dt.datetime(2024, 3, 2, 7),
                    by="x", channel="electronic", late=False)
        _upgrade(engine, db_url, "0008")

        def keys():
            with engine.connect() as c:
                return {rid: (dt.date.fromisoformat(str(day)) if day else None, bool(late))
                        for rid, day, late in c.execute(text(
                            "SELECT id, planned_date, late_cancelled FROM requests"))}

        assert keys() == {1: (dt.date(2024, 3, 4), False), 2: (dt.date(2024, 3, 6), True),
                          3: (None, False), 4: (None, False)}
        with engine.begin() as c:  # the triggers from now on
            _insert(c, "visits", request_id=4, route_id=1, date=dt.date(2024, 3, 8),
                    version=1)
            c.execute(text("UPDATE visits SET date = :d WHERE request_id = 4"),
                      {"d": dt.date(2024, 3, 7)})
            c.execute(text("DELETE FROM visits WHERE request_id = 1 AND outcome = 'not_home'"))
            c.execute(text("UPDATE cancellations SET late = true WHERE request_id = 3"))
            c.execute(text("DELETE FROM cancellations WHERE request_id = 2"))
        assert keys() == {1: (dt.date(2024, 3, 5), False), 2: (dt.date(2024, 3, 6), False),
                          3: (None, True), 4: (dt.date(2024, 3, 7), False)}
    finally:
        engine.dispose()
