"""DayCloseService.close_route: a route's outcomes, km and ferry minutes in one transaction.
Everything is checked first, every problem named in Danish; on any problem nothing is written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hjemmeprove.app import App
from hjemmeprove.db.models import AuditEntry, Bioanalyst, Request, Route, Visit
from hjemmeprove.errors import NotFound, PermissionDenied, ValidationError
from hjemmeprove.security import add_user
from tests.factories import request_values

DAY = dt.date(2024, 3, 4)


@pytest.fixture
def route(department_app):
    """One locked route of three visits (the second request wants an EKG); built directly, so
    that these tests do not depend on the planner."""
    app = department_app
    rids = [app.requests.create(request_values(cpr=f"0101{50 + i}-1234", name=f"Borger {i}",
                                               received="2024-02-26",
                                               ekg="ja" if i == 1 else "nej"), today=DAY)
            for i in range(3)]
    with app.store.session() as s:
        analyst = s.scalars(select(Bioanalyst).order_by(Bioanalyst.id)).first()
        r = Route(bioanalyst_id=analyst.id, department_id=analyst.department_id, date=DAY,
                  planned_km=Decimal("38.2"), planned_ferry_minutes=Decimal("0"))
        s.add(r)
        s.flush()
        visits = [Visit(request_id=rid, route_id=r.id, sequence=i, date=DAY, locked=True)
                  for i, rid in enumerate(rids)]
        s.add_all(visits)
        for rid in rids:
            s.get(Request, rid).status = "locked"
        s.flush()
        return app, r.id, [v.id for v in visits], rids


def _snapshot(app, route_id):
    with app.store.session() as s:
        r = s.get(Route, route_id)
        visits = s.scalars(select(Visit).where(Visit.route_id == route_id).order_by(Visit.id))
        return ((r.driven_km, r.driven_ferry_minutes, r.closed_at),
                [(v.outcome, v.outcome_note, v.ekg_done, s.get(Request, v.request_id).status)
                 for v in visits],
                s.scalar(select(func.count()).select_from(AuditEntry)))


def test_close_route_records_everything_and_closes(route):
    app, route_id, vids, rids = route
    app.day_close.close_route(route_id, "41,5", "0",
                              {vids[0]: "taken", vids[1]: "taken", vids[2]: "not_home"},
                              notes={vids[2]: "ingen lukkede op"})
    info = app.planning.route(route_id)
    assert info.driven_km == Decimal("41.500") and info.closed
    assert app.day_close.status(DAY).complete
    (_route, visits, _n) = _snapshot(app, route_id)
    assert visits == [("taken", "", False, "done"), ("taken", "", True, "done"),
                      ("not_home", "ingen lukkede op", False, "done")]


def test_without_km_the_outcomes_are_saved_and_the_route_stays_open(route):
    app, route_id, vids, rids = route
    app.day_close.close_route(route_id, "", None, {vids[0]: "taken", vids[1]: "refused"})
    (km, ferry, closed), visits, _n = _snapshot(app, route_id)
    assert (km, closed) == (None, None)
    assert [v[0] for v in visits] == ["taken", "refused", None]
    kinds = sorted(m.kind for m in app.day_close.status(DAY).missing)
    assert kinds == ["km", "outcome"]
    # km now, one outcome still missing: recorded, not closed; then the last one closes it
    app.day_close.close_route(route_id, "40", "", {vids[2]: None})
    (km, ferry, closed), _visits, _n = _snapshot(app, route_id)
    assert km == Decimal("40.000") and ferry == Decimal("0") and closed is None
    app.day_close.close_route(route_id, "40", "", {vids[2]: "taken"})
    assert _snapshot(app, route_id)[0][2] is not None


def test_clearing_an_outcome_reverts_the_request(route):
    app, route_id, vids, rids = route
    app.day_close.close_route(route_id, None, None, {vids[1]: "taken"})
    assert app.requests.get(rids[1]).status == "done"
    app.day_close.close_route(route_id, None, None, {vids[1]: None})
    assert app.requests.get(rids[1]).status == "locked"
    assert _snapshot(app, route_id)[1][1] == (None, "", False, "locked")


@pytest.mark.parametrize("km, ferry, outcomes, fields", [
    ("41", "0", {0: "taken", 1: "lost", 2: "taken"}, {"udfald"}),
    ("mange", "0", {0: "taken", 1: "taken", 2: "taken"}, {"km"}),
    ("-3", "0", {0: "taken"}, {"km"}),
    ("2500", None, {0: "taken"}, {"km"}),
    ("NaN", None, {0: "taken"}, {"km"}),
    ("41", "en halv time", {0: "taken"}, {"færgeminutter"}),
    ("", "20", {0: "taken"}, {"km"}),  # ferry minutes without the km
    ("mange", "-1", {0: "taken", 1: "tabt"}, {"km", "færgeminutter", "udfald"}),  # all at once
], ids=["udfald", "km-tekst", "km-negativ", "km-for-mange", "km-nan", "færge-tekst",
        "færge-uden-km", "alle-fejl"])
def test_bad_input_writes_nothing_and_names_the_field(route, km, ferry, outcomes, fields):
    app, route_id, vids, _rids = route
    before = _snapshot(app, route_id)
    with pytest.raises(ValidationError) as e:
        app.day_close.close_route(route_id, km, ferry,
                                  {vids[i]: o for i, o in outcomes.items()})
    assert e.value.fields == fields
    assert _snapshot(app, route_id) == before  # no outcome, no km, no audit entry


def test_a_visit_off_the_route_or_invoiced_writes_nothing(route):
    app, route_id, vids, _rids = route
    before = _snapshot(app, route_id)
    with pytest.raises(ValidationError, match="ikke på ruten") as e:
        app.day_close.close_route(route_id, "41", "0", {vids[0]: "taken", 999999: "taken"})
    assert e.value.fields == {"udfald"}
    with app.store.session() as s:
        s.get(Visit, vids[2]).shares_locked = True
    before = _snapshot(app, route_id)
    with pytest.raises(ValidationError, match="Borger 2.*faktureret"):
        app.day_close.close_route(route_id, "41", "0", {v: "taken" for v in vids})
    assert _snapshot(app, route_id) == before
    with pytest.raises(NotFound):
        app.day_close.close_route(999999, "41", "0", {})


def test_unchanged_outcomes_are_not_rewritten(route):
    app, route_id, vids, _rids = route
    app.day_close.close_route(route_id, "41", "0", {v: "taken" for v in vids})
    audit = _snapshot(app, route_id)[2]
    app.day_close.close_route(route_id, "41", "0", {v: "taken" for v in vids})
    assert _snapshot(app, route_id)[2] == audit


@pytest.mark.sqlite_only  # on PostgreSQL the login's roles decide (test_security_pg)
def test_only_those_who_may_close_a_day(route):
    app, route_id, vids, _rids = route
    add_user(app.store, "test", "administrator")
    add_user(app.store, "frank", "finance")
    add_user(app.store, "kari", "coordinator")
    frank = App(app.store.url, user="frank", upgrade=False)
    kari = App(app.store.url, user="kari", upgrade=False)
    try:
        before = _snapshot(app, route_id)
        with pytest.raises(PermissionDenied):
            frank.day_close.close_route(route_id, "41", "0", {v: "taken" for v in vids})
        assert _snapshot(app, route_id) == before
        kari.day_close.close_route(route_id, "41", "0", {v: "taken" for v in vids})
        assert app.day_close.status(DAY).complete
    finally:
        frank.close()
        kari.close()
