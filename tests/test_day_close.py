"""Day close: outcomes per visit, km and ferry minutes per route, what is still missing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from hjemmeprove.errors import ValidationError
from tests.factories import request_values

MON = dt.date(2024, 3, 4)


@pytest.fixture
def planned(department_app):
    app = department_app
    ids = [app.requests.create(request_values(cpr=f"0101{50 + i}-1234", lat=str(55.06 + i / 500),
                                              received="2024-03-01")) for i in range(3)]
    result = app.planning.plan(MON, MON, time_limit_s=1.0)
    (route,) = result.routes
    return app, route, ids


def test_missing_until_recorded(planned):
    app, route, ids = planned
    st = app.day_close.status(MON)
    assert not st.complete
    assert {m.kind for m in st.missing} == {"km", "outcome"}
    assert len([m for m in st.missing if m.kind == "outcome"]) == 3
    assert "XXXX" in " ".join(m.text for m in st.missing)  # CPR masked
    for s in route.stops:
        app.day_close.record_outcome(s.visit_id, "taken")
    app.day_close.record_route(route.route_id, "41,5", "0", confirm=True)
    st = app.day_close.status(MON)
    assert st.complete
    assert app.day_close.missing_days(MON, MON) == []
    info = app.planning.route(route.route_id)
    assert info.driven_km == Decimal("41.500") and info.closed
    assert all(app.requests.get(i).status == "done" for i in ids)


def test_outcomes_and_status(planned):
    app, route, ids = planned
    s0, s1, s2 = route.stops
    app.day_close.record_outcome(s0.visit_id, "not_home", "ingen lukkede op")
    app.day_close.record_outcome(s1.visit_id, "refused")
    app.day_close.record_outcome(s2.visit_id, "cancelled_late")
    assert app.requests.get(s0.request_id).status == "done"
    assert app.requests.get(s2.request_id).status == "cancelled"
    app.day_close.clear_outcome(s0.visit_id)
    assert app.requests.get(s0.request_id).status == "planned"
    with pytest.raises(ValidationError) as e:
        app.day_close.record_outcome(s0.visit_id, "lost")
    assert "udfald" in e.value.fields


def test_bad_km_names_the_field(planned):
    app, route, _ids = planned
    with pytest.raises(ValidationError) as e:
        app.day_close.record_route(route.route_id, "mange")
    assert "km" in e.value.fields
    with pytest.raises(ValidationError):
        app.day_close.record_route(route.route_id, "-3")
    assert app.planning.route(route.route_id).driven_km is None


def test_closed_day_is_not_replanned(planned):
    app, route, _ids = planned
    for s in route.stops:
        app.day_close.record_outcome(s.visit_id, "taken")
    app.day_close.record_route(route.route_id, "40", confirm=True)
    again = app.planning.plan(MON, MON, time_limit_s=1.0)
    (r,) = again.routes
    assert r.route_id == route.route_id
    assert [s.visit_id for s in r.stops] == [s.visit_id for s in route.stops]
    assert all(s.outcome == "taken" for s in r.stops)


def test_route_closes_only_when_km_and_every_outcome_are_in(planned):
    """km first, outcomes later (or the other way round): closed when the last is recorded."""
    app, route, _ids = planned
    first, *rest = route.stops
    app.day_close.record_outcome(first.visit_id, "taken")
    app.day_close.record_route(route.route_id, "41,5", "0", confirm=True)
    assert not app.planning.route(route.route_id).closed  # two outcomes still missing
    for s in rest:
        app.day_close.record_outcome(s.visit_id, "taken")
    assert app.planning.route(route.route_id).closed
    assert app.day_close.status(MON).complete
