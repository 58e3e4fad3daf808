"""Day close you can rely on (issues 9 and 11): only today or earlier, clearing an outcome
reopens the route, one code path for recording and clearing, and driven km far from the plan
need an explicit confirmation (core and CLI)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from hjemmeprove.cli import main
from hjemmeprove.db.models import Route, Visit
from hjemmeprove.errors import ValidationError
from tests.test_invoice_fixtures import add_route, visits_of


def _route(app, day, outcomes=(None, None), km=None, planned_km="40"):
    return add_route(app, day, [dict(code=479, outcome=o) for o in outcomes], km=km,
                     planned_km=planned_km, closed=False)


def _closed_at(app, route_id):
    with app.store.session() as s:
        return s.get(Route, route_id).closed_at


def test_tomorrows_route_cannot_be_closed(department_app, capsys):
    app = department_app
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    rid = _route(app, tomorrow)
    vid = visits_of(app, rid)[0].id
    with pytest.raises(ValidationError, match="først afsluttes på dagen"):
        app.day_close.record_outcome(vid, "taken")
    with pytest.raises(ValidationError, match="først afsluttes på dagen"):
        app.day_close.close_route(rid, "40", "0", {vid: "taken"})
    assert main(["--db", app.store.url, "day", "km", str(rid), "--km", "40"]) == 2
    assert "først afsluttes på dagen" in capsys.readouterr().err
    assert [v.outcome for v in visits_of(app, rid)] == [None, None]
    # today is fine
    rid2 = _route(app, dt.date.today(), outcomes=(None,))
    app.day_close.close_route(rid2, "40", "0", {visits_of(app, rid2)[0].id: "taken"})
    assert _closed_at(app, rid2) is not None


def test_clearing_an_outcome_reopens_the_route_and_drops_the_note(department_app):
    app = department_app
    day = dt.date(2024, 3, 4)
    rid = _route(app, day)
    v1, v2 = (v.id for v in visits_of(app, rid))
    app.day_close.record_outcome(v1, "not_home", note="ingen lukkede op")
    app.day_close.record_outcome(v2, "taken")
    app.day_close.record_route(rid, "40", "0")
    assert _closed_at(app, rid) is not None
    app.day_close.clear_outcome(v1)
    assert _closed_at(app, rid) is None
    with app.store.session() as s:
        v = s.get(Visit, v1)
        assert (v.outcome, v.outcome_note, v.request.status) == (None, "", "planned")
    assert any(m.visit_id == v1 for m in app.day_close.status(day).missing)
    app.day_close.record_outcome(v1, "taken")
    assert _closed_at(app, rid) is not None


def test_km_far_from_the_plan_need_a_confirmation(department_app, capsys):
    app = department_app
    day = dt.date(2024, 3, 4)
    rid = _route(app, day, outcomes=("taken",), planned_km="40")
    with pytest.raises(ValidationError, match="langt fra de planlagte 40 km") as e:
        app.day_close.record_route(rid, "61", "0")
    assert e.value.fields == {"km"}
    with pytest.raises(ValidationError, match="bekræft"):
        app.day_close.close_route(rid, "26", "0", {})  # under 40 / 1.5
    app.day_close.record_route(rid, "60", "0")  # 1.5 × planned: no question
    assert main(["--db", app.store.url, "day", "km", str(rid), "--km", "400"]) == 2
    assert "--bekraeft" in capsys.readouterr().err
    assert main(["--db", app.store.url, "day", "km", str(rid), "--km", "400,5",
                 "--ferry-minutes", "12", "--bekraeft"]) == 0
    assert capsys.readouterr().out == f"rute {rid}: 400,5 km, 12 færgeminutter registreret\n"
    assert main(["--db", app.store.url, "day", "km", str(rid), "--km", "400",
                 "--bekraeft"]) == 0
    assert capsys.readouterr().out == f"rute {rid}: 400 km registreret\n"
    with app.store.session() as s:
        assert s.get(Route, rid).driven_km == D("400")
    app.day_close.record_route(rid, "400", "0")  # unchanged figure: not asked again


def test_cli_day_ferry_names_the_visit(department_app, capsys):
    app = department_app
    rid = add_route(app, dt.date(2024, 3, 4), [dict(code=479), dict(code=492)], km="50",
                    ferry="20")
    vid = visits_of(app, rid)[1].id
    st = app.day_close.status(dt.date(2024, 3, 4))
    assert [m.kind for m in st.missing] == ["ferry"]
    assert main(["--db", app.store.url, "day", "ferry", str(rid), "--visit", str(vid)]) == 0
    assert "20" in capsys.readouterr().out
    assert app.day_close.status(dt.date(2024, 3, 4)).complete


def test_cli_day_outcome_and_clear_say_what_they_did(department_app, capsys):
    """A command that records something says so (it printed nothing: was it saved?)."""
    app = department_app
    rid = add_route(app, dt.date(2024, 3, 4), [dict(code=479)], km="20", ferry="0")
    vid = visits_of(app, rid)[0].id
    assert main(["--db", app.store.url, "day", "outcome", str(vid), "not_home"]) == 0
    assert capsys.readouterr().out == f"besøg {vid}: ikke hjemme registreret\n"
    assert visits_of(app, rid)[0].outcome == "not_home"
    assert main(["--db", app.store.url, "day", "clear", str(vid)]) == 0
    assert capsys.readouterr().out == f"besøg {vid}: udfaldet er fjernet\n"
    assert visits_of(app, rid)[0].outcome is None
