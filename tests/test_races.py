"""Several people, one plan: what another user does while `plan` runs (in a real subprocess)
is kept, and the schema refuses what must never happen. Both engines (HJEMMEPROVE_TEST_PG).

The planning subprocess waits, inside its first progress report (the solve is under way on
its snapshot), until the test has acted; no sleeps decide the order.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hjemmeprove.app import App
from hjemmeprove.db.models import Cancellation, Request, Visit
from hjemmeprove.services.reference import load_defaults
from tests.factories import add_department, request_values

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 2
STATS: dict[str, int] = {}

PLANNER = textwrap.dedent("""
    import datetime as dt, json, os, sys, time
    sys.path.insert(0, {root!r})
    from hjemmeprove.app import App

    url, first, last, marker, go = sys.argv[1:6]
    app = App(url, user="planlaegger", upgrade=False)
    seen = {{"n": 0}}

    def progress(p):
        if seen["n"] == 0:  # the solve is under way: let the other user act, then go on
            Path = __import__("pathlib").Path
            Path(marker).write_text("solving")
            limit = time.time() + 90
            while not os.path.exists(go) and time.time() < limit:
                time.sleep(0.02)
        seen["n"] += 1

    res = app.planning.plan(dt.date.fromisoformat(first), dt.date.fromisoformat(last),
                            progress=progress, time_limit_s=2.0)
    print(json.dumps({{"skipped": [[u.request_id, u.reason]
                                   for u in getattr(res, "skipped", [])],
                       "unplanned": [[u.request_id, u.reason] for u in res.unplanned]}}))
""")


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 90) -> None:
    limit = time.time() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"planner ended early: {proc.communicate()}")
        if time.time() > limit:
            proc.kill()
            raise AssertionError("planner never reported progress")
        time.sleep(0.02)


def _engine(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _add(app, n: int, received: str, tag: str) -> list[int]:
    ids = []
    for i in range(n):
        ids.append(app.requests.create(request_values(
            cpr=f"{1 + i:02d}{1 + int(tag):02d}40-{1000 + i:04d}", name=f"Borger {tag}{i}",
            address=f"Vestergade {i + 1}", received=received,
            lat=str(55.05 + i * 0.004), lon=str(10.58 + (i % 4) * 0.01))))
    return ids


def _visits(app, rid: int) -> list[Visit]:
    with app.store.session() as s:
        return list(s.scalars(select(Visit).where(Visit.request_id == rid)))


@pytest.fixture
def dept(db_url):
    a = App(db_url, user="test")
    load_defaults(a.store)
    add_department(a)
    yield a
    a.close()


def test_cancellation_and_outcome_during_plan_are_kept(dept, db_url, tmp_path):
    """While `plan` solves, one coordinator cancels a planned request and another records
    an outcome for a locked visit. The cancelled request stays cancelled with no visit; the
    visited one keeps its one visit; both are reported as skipped."""
    app = dept
    script = tmp_path / "planner.py"
    script.write_text(PLANNER.format(root=str(ROOT)))
    races = 0
    for k in range(ROUNDS):
        mon = dt.date(2024, 3, 4) + dt.timedelta(days=14 * k)
        fri = mon + dt.timedelta(days=4)
        received = (mon - dt.timedelta(days=3)).isoformat()
        ids = _add(app, 8, received, tag=str(k))
        app.planning.plan(mon, fri, time_limit_s=1.0)
        by_request = {v.request_id: v for rid in ids for v in _visits(app, rid)}
        app.planning.lock([by_request[rid].id for rid in ids[:3] if rid in by_request])
        by_request = {v.request_id: v for rid in ids for v in _visits(app, rid)}
        locked = [rid for rid in ids if by_request.get(rid) and by_request[rid].locked]
        free = [rid for rid in ids if by_request.get(rid) and not by_request[rid].locked]
        assert locked and free, (locked, free)
        cancel_me, visit_me = free[0], locked[0]
        lock_me = free[1] if len(free) > 1 else None

        marker, go = tmp_path / f"solving{k}", tmp_path / f"go{k}"
        proc = subprocess.Popen([sys.executable, str(script), db_url, mon.isoformat(),
                                 fri.isoformat(), str(marker), str(go)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(marker, proc)
            app.requests.cancel(cancel_me, dt.datetime.combine(mon, dt.time(6)) -
                                dt.timedelta(days=2), "Hjemmeplejen", "electronic")
            app.day_close.record_outcome(by_request[visit_me].id, "taken")
            if lock_me is not None:  # locked by hand (reply given by phone)
                app.planning.lock([by_request[lock_me].id])
                held = _visits(app, lock_me)[0]
            go.write_text("go")
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err
        result = json.loads(out.strip().splitlines()[-1])
        races += 2

        assert app.requests.get(cancel_me).status == "cancelled"
        assert [v for v in _visits(app, cancel_me) if v.outcome is None] == []
        visits = _visits(app, visit_me)
        assert len(visits) == 1 and visits[0].outcome == "taken", visits
        assert app.requests.get(visit_me).status == "done"
        skipped = dict((rid, why) for rid, why in result["skipped"])
        assert "aflyst" in skipped[cancel_me]
        assert "udfald" in skipped[visit_me]
        if lock_me is not None:
            races += 1
            (now,) = _visits(app, lock_me)
            assert (now.date, now.window_start, now.window_end, now.locked) == \
                (held.date, held.window_start, held.window_end, True)
            assert "låst" in skipped[lock_me]
        _consistent(app)
    STATS[_engine(db_url)] = races
    print(f"\nraces during plan ({_engine(db_url)}): {races} run "
          f"(cancellations, outcomes, locks by hand), all kept")


def _consistent(app) -> None:
    """Every status is the one its facts give; no route without a visit."""
    from hjemmeprove.db.models import Route
    from hjemmeprove.domain.lifecycle import facts_of, status

    with app.store.session() as s:
        for req in s.scalars(select(Request)):
            visits = list(s.scalars(select(Visit).where(Visit.request_id == req.id)))
            assert req.status == status(facts_of(req, visits)), (req.id, req.status, visits)
            assert sum(v.outcome is None for v in visits) <= 1
        for route in s.scalars(select(Route)):
            assert route.visits or route.driven_km is not None, route.id


def test_schema_allows_one_active_visit_and_none_after_a_cancellation(dept):
    app = dept
    rid, other = _add(app, 2, "2024-03-01", tag="9")
    day = dt.date(2024, 3, 4)
    with app.store.session() as s:
        s.add(Visit(request_id=rid, date=day))
    with pytest.raises(IntegrityError):  # a second active visit
        with app.store.session() as s:
            s.add(Visit(request_id=rid, date=day))
    with app.store.session() as s:  # a visit with an outcome next to it is fine
        s.add(Visit(request_id=rid, date=day, outcome="not_home"))
    with pytest.raises(IntegrityError, match="aflyst henvisning"):  # cancellation + active
        with app.store.session() as s:
            s.add(Cancellation(request_id=rid, at=dt.datetime(2024, 3, 1, 9), by="x",
                               channel="electronic"))
    # a late cancellation keeps its visit (outcome cancelled_late, off the route): allowed
    with app.store.session() as s:
        v = s.scalars(select(Visit).where(Visit.request_id == rid,
                                          Visit.outcome.is_(None))).one()
        v.outcome = "cancelled_late"
        s.flush()
        s.add(Cancellation(request_id=rid, at=dt.datetime(2024, 3, 1, 9), by="x",
                           channel="telephone", late=True))
    with pytest.raises(IntegrityError, match="aflyst henvisning"):  # active visit, cancelled
        with app.store.session() as s:
            s.add(Visit(request_id=rid, date=day))
    with pytest.raises(IntegrityError, match="aflyst henvisning"):  # outcome cleared
        with app.store.session() as s:
            v = s.scalars(select(Visit).where(Visit.request_id == rid,
                                              Visit.outcome == "cancelled_late")).one()
            v.outcome = None
    # the other request is untouched by all this
    with app.store.session() as s:
        s.add(Visit(request_id=other, date=day))


@pytest.mark.sqlite_only
def test_a_writer_waits_and_a_conflict_is_named_in_danish(dept, db_url, tmp_path):
    """SQLite: while another program holds the write lock (a large import), a cancellation
    waits for it instead of failing; past the busy timeout the CLI says what to do (exit 1),
    never "uventet fejl"."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock and busy timeout")
    app = dept
    rid, rid2 = _add(app, 2, "2024-03-01", tag="8")
    path = db_url.split("///", 1)[1]
    holder = tmp_path / "holder.py"
    holder.write_text(textwrap.dedent(f"""
        import sqlite3, sys, time, pathlib
        con = sqlite3.connect({path!r}, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        con.execute("UPDATE settings SET value = value")
        pathlib.Path(sys.argv[1]).write_text("locked")
        time.sleep(float(sys.argv[2]))
        con.execute("COMMIT")
    """))

    def hold(seconds: float, name: str) -> subprocess.Popen:
        marker = tmp_path / name
        p = subprocess.Popen([sys.executable, str(holder), str(marker), str(seconds)])
        limit = time.time() + 30
        while not marker.exists() and time.time() < limit:
            time.sleep(0.02)
        assert marker.exists()
        return p

    p = hold(2.0, "a")  # a short hold: the cancellation waits, then succeeds
    app.requests.cancel(rid, dt.datetime(2024, 3, 2, 9), "Hjemmeplejen", "electronic")
    p.wait(30)
    assert app.requests.get(rid).status == "cancelled"

    p = hold(8.0, "b")  # longer than this run's busy timeout: a clear message, exit 1
    env = dict(os.environ, HJEMMEPROVE_BUSY_TIMEOUT_S="1")
    proc = subprocess.run([sys.executable, "-m", "hjemmeprove", "--db", db_url, "requests",
                           "cancel", str(rid2), "--at", "2024-03-02T09:00", "--by", "X",
                           "--channel", "electronic"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    p.kill()
    p.wait(30)
    assert proc.returncode == 1, proc.stderr
    assert "uventet fejl" not in proc.stderr
    assert "optaget af en anden" in proc.stderr and "prøv igen" in proc.stderr
    assert app.requests.get(rid2).status == "open"  # nothing half-saved


INVOICE_A = textwrap.dedent("""
    import sys, os, time, pathlib
    sys.path.insert(0, {root!r})
    from sqlalchemy.orm import Session
    from hjemmeprove.db.models import Invoice
    from hjemmeprove.cli import main

    marker, go = sys.argv[1], sys.argv[2]
    real = Session.commit

    def commit(self):  # hold the draft run's transaction open, its old drafts deleted
        self.flush()
        if self.info.get("deleted_drafts"):
            pathlib.Path(marker).write_text("holding")
            limit = time.time() + 90
            while not os.path.exists(go) and time.time() < limit:
                time.sleep(0.02)
        return real(self)

    from sqlalchemy import event

    @event.listens_for(Session, "before_flush")
    def spot(session, ctx, objs):
        if any(isinstance(o, Invoice) for o in session.deleted):
            session.info["deleted_drafts"] = True

    Session.commit = commit
    sys.exit(main(sys.argv[3:]))
""")


def test_the_losing_invoice_run_ends_in_a_danish_message(dept, db_url, tmp_path):
    """Two finance officers run the same month at once: the one that loses ends with a
    message naming what to do (exit 1), never "uventet fejl"; numbers stay gapless."""
    from tests.test_invoice_fixtures import add_route, set_2020_rates

    app = dept
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [{"code": c} for c in (479, 492, 430)], km="42.5")
    app.billing.run("2020-03")  # drafts exist: both runs replace them
    script = tmp_path / "a.py"
    script.write_text(INVOICE_A.format(root=str(ROOT)))
    marker, go = tmp_path / "holding", tmp_path / "go"
    base = ["--db", db_url, "invoice", "run", "--month", "2020-03", "--issue", "--out",
            str(tmp_path / "fakturaer")]
    a = subprocess.Popen([sys.executable, str(script), str(marker), str(go)] + base, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(marker, a)
        b = subprocess.Popen([sys.executable, "-m", "hjemmeprove"] + base, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _until_waiting(db_url, b)
        go.write_text("go")
        out_a, err_a = a.communicate(timeout=120)
        out_b, err_b = b.communicate(timeout=120)
    finally:
        for p in (a,):
            if p.poll() is None:
                p.kill()
    assert a.returncode == 0, err_a
    assert b.returncode in (0, 1), err_b
    assert "uventet fejl" not in err_b, err_b
    if b.returncode == 1:  # a Danish message that says what to do
        assert "fejl: " in err_b and ("igen" in err_b), err_b
    numbers = sorted(i.number for i in app.billing.list_invoices() if i.number is not None)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) == 3
    print(f"\nconcurrent invoice run --issue ({_engine(db_url)}): loser exit "
          f"{b.returncode}: {err_b.strip()[:120]}")


def _until_waiting(db_url: str, proc: subprocess.Popen) -> None:
    """PostgreSQL: until the second run waits for a row lock (pg_stat_activity); SQLite has no
    such view: give it a moment to read and reach its first write."""
    if db_url.startswith("sqlite"):
        time.sleep(2.0)
        return
    from sqlalchemy import create_engine, text

    eng = create_engine(db_url)
    try:
        limit = time.time() + 60
        while time.time() < limit:
            if proc.poll() is not None:
                return
            with eng.connect() as c:
                n = c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE "
                                   "wait_event_type = 'Lock' AND datname = current_database()")
                              ).scalar()
            if n:
                return
            time.sleep(0.05)
    finally:
        eng.dispose()


COMMITTER = textwrap.dedent("""
    import os, sys, time, pathlib
    sys.path.insert(0, {root!r})
    from sqlalchemy.orm import Session
    from hjemmeprove.services import planning as P

    url, marker, go = sys.argv[1:4]
    real = P.PlanningService._apply_plan

    def apply(self, s, *a, **kw):  # the write transaction holds its locks: wait here
        out = real(self, s, *a, **kw)
        s.flush()
        pathlib.Path(marker).write_text("holding")
        limit = time.time() + 90
        while not os.path.exists(go) and time.time() < limit:
            time.sleep(0.02)
        return out

    P.PlanningService._apply_plan = apply
    from hjemmeprove.app import App
    import datetime as dt
    App(url, user="planlaegger", upgrade=False).planning.plan(
        dt.date(2024, 3, 4), dt.date(2024, 3, 8), time_limit_s=1.0)
""")


def test_a_cancellation_waits_for_the_plan_being_written(dept, db_url, tmp_path):
    """A cancellation arriving while a plan's write transaction holds its locks waits for it
    (no "database is locked", no lost update), then removes the visit the plan just wrote."""
    import threading

    app = dept
    ids = _add(app, 4, "2024-03-01", tag="7")
    script = tmp_path / "committer.py"
    script.write_text(COMMITTER.format(root=str(ROOT)))
    marker, go = tmp_path / "holding", tmp_path / "go"
    proc = subprocess.Popen([sys.executable, str(script), db_url, str(marker), str(go)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    result: list = []

    def cancel():
        try:
            result.append(app.requests.cancel(ids[0], dt.datetime(2024, 3, 2, 9),
                                              "Hjemmeplejen", "electronic"))
        except BaseException as e:  # judged below
            result.append(e)

    try:
        _wait_for(marker, proc)
        t = threading.Thread(target=cancel)
        t.start()
        _until_waiting(db_url, proc) if not db_url.startswith("sqlite") else t.join(1.0)
        assert t.is_alive(), f"the cancellation did not wait: {result}"
        go.write_text("go")
        out, err = proc.communicate(timeout=120)
        t.join(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert len(result) == 1 and not isinstance(result[0], BaseException), result
    assert app.requests.get(ids[0]).status == "cancelled"
    assert [v for v in _visits(app, ids[0]) if v.outcome is None] == []
    assert all(app.requests.get(r).status == "planned" for r in ids[1:])
    _consistent(app)


def test_migration_repairs_rows_the_old_races_left(db_url):
    """A database at 0003 with what the old races left (a cancelled request planned again, a
    visited request with a second visit) is repaired by 0004 before its rules are enforced:
    the cancellation and the recorded outcome win."""
    from alembic import command

    from hjemmeprove.db import migrate
    from hjemmeprove.db.store import Store

    old = App(db_url, user="test")  # at the newest revision: requests through the ORM
    load_defaults(old.store)
    add_department(old)
    ids = []
    with old.store.session() as s:  # requests written through the ORM, visits by hand
        for i in range(3):
            ids.append(old.requests.add_validated(s, old.requests.validate(request_values(
                cpr=f"0{i + 1}0150-12{i}4", name=f"B{i}"))[0]).id)
    old.close()
    # back to the revision before 0004 (its rules dropped), where the old races could write
    store = Store(db_url, user="test")
    cfg = migrate.alembic_config(store.url)
    with store.engine.connect() as conn:  # as migrate.upgrade does it (see there)
        if store.is_sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        with conn.begin():
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
    store.dispose()
    from sqlalchemy import text

    old = App(db_url, user="test", upgrade=False)
    day = dt.date(2024, 3, 4)
    with old.store.engine.begin() as c:
        def visit(rid, outcome):
            c.execute(text("INSERT INTO visits (request_id, sequence, date, locked, leg_km, "
                           "leg_ferry_minutes, outcome, outcome_note, ekg_done, ferry_link, "
                           "shares_locked, version) VALUES (:r, 0, :d, false, 0, 0, :o, '', "
                           "false, '', false, 1)"), {"r": rid, "d": day, "o": outcome})
        c.execute(text("INSERT INTO cancellations (request_id, at, \"by\", channel, late, "
                       "recorded_by, note) VALUES (:r, :a, 'x', 'electronic', false, '', '')"),
                  {"r": ids[0], "a": dt.datetime(2024, 3, 1, 9)})
        visit(ids[0], None)  # cancelled, planned again
        visit(ids[1], "taken")
        visit(ids[1], None)  # visited, and a second visit
        visit(ids[2], None)
        visit(ids[2], None)  # two active visits
        c.execute(text("UPDATE requests SET status = 'planned'"))
    old.close()
    new = App(db_url, user="test")  # upgrades to 0004
    try:
        with new.store.session() as s:
            left = {rid: [v.outcome for v in s.scalars(select(Visit).where(
                Visit.request_id == rid))] for rid in ids}
        assert left == {ids[0]: [], ids[1]: ["taken"], ids[2]: [None]}
        assert [new.requests.get(r).status for r in ids] == ["cancelled", "done", "planned"]
    finally:
        new.close()
