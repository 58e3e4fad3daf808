"""`hjemmeprove plan --json` as docs/cli.md fixes it, and the demo's planned history."""

from __future__ import annotations

import datetime as dt
import json

from hjemmeprove.cli import main
from tests.factories import request_values


def test_plan_json(department_app, capsys):
    app = department_app
    rid = app.requests.create(request_values(postcode="5960", city="Marstal", municipality="492",
                                             lat="54.8557", lon="10.5176",
                                             received="2024-03-01"))
    url = str(app.store.engine.url)
    code = main(["--db", url, "plan", "--from", "2024-03-04", "--to", "2024-03-04", "--json",
                 "--time-limit", "1"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"routes", "unplanned", "distance", "skipped"}
    (route,) = data["routes"]
    assert {"analyst", "date", "km", "minutes", "ferry_minutes", "stops"} <= set(route)
    assert route["date"] == "2024-03-04"
    (stop,) = route["stops"]
    assert stop["request"] == rid
    assert len(stop["window"]) == 2 and len(stop["arrival"]) == 5
    assert float(stop["leg_ferry_minutes"]) == 75.0
    assert data["distance"]["source"] == "estimate"


def test_plan_bad_date_exit_2(department_app, capsys):
    url = str(department_app.store.engine.url)
    assert main(["--db", url, "plan", "--from", "2024-13-01", "--to", "2024-03-04"]) == 2
    assert "fra" in capsys.readouterr().err


def test_demo_has_history_locked_replies_and_billing_weights(demo_app):
    from sqlalchemy import func, select

    from hjemmeprove.db.models import Route, Visit

    today = dt.date(2026, 11, 23)
    with demo_app.store.session() as s:
        past = s.scalar(select(func.count()).select_from(Route).where(Route.date < today))
        closed = s.scalar(select(func.count()).select_from(Route).where(
            Route.date < today, Route.driven_km.is_not(None)))
        assert past > 150 and closed == past
        outcomes = {o: n for o, n in s.execute(
            select(Visit.outcome, func.count()).group_by(Visit.outcome)).all()}
        assert outcomes["taken"] > 10 * (outcomes.get("not_home", 0) + outcomes.get("refused", 0))
        assert outcomes.get("not_home", 0) > 0
        locked_future = s.scalar(select(func.count()).select_from(Visit).where(
            Visit.date >= today, Visit.locked, Visit.outcome.is_(None)))
        assert locked_future > 0
        assert s.scalar(select(func.count()).select_from(Visit).where(
            Visit.route_id.is_not(None), Visit.standalone_km.is_(None))) == 0
        ferry = s.scalar(select(func.count()).select_from(Visit).where(Visit.ferry_link != ""))
        assert ferry > 0
