"""Planning and day close are the coordinator's: finance is refused before anything is written."""


import pytest
from sqlalchemy import select

from hjemmeprove.app import App
from hjemmeprove.db.models import Visit
from hjemmeprove.errors import PermissionDenied
from hjemmeprove.security import add_user

pytestmark = pytest.mark.sqlite_only  # on PostgreSQL the login's roles decide (test_security_pg)


@pytest.fixture
def users(demo_app):
    add_user(demo_app.store, "test", "administrator")
    add_user(demo_app.store, "kari", "coordinator")
    add_user(demo_app.store, "frank", "finance")
    apps = {}
    for name in ("kari", "frank"):
        apps[name] = App(demo_app.store.url, user=name, upgrade=False)
    yield apps
    for a in apps.values():
        a.close()


def _a_planned_visit(app):
    with app.store.session() as s:
        v = s.scalars(select(Visit).where(Visit.outcome.is_(None), Visit.route_id.is_not(None))
                      .order_by(Visit.id)).first()
        return v.id, v.route_id, v.date


def test_finance_may_not_plan_lock_or_close_a_day(users):
    frank = users["frank"]
    visit_id, route_id, day = _a_planned_visit(frank)
    with pytest.raises(PermissionDenied):
        frank.planning.plan(day, day, time_limit_s=1)
    with pytest.raises(PermissionDenied):
        frank.planning.unlock([visit_id])
    with pytest.raises(PermissionDenied):
        frank.day_close.record_outcome(visit_id, "taken")
    with pytest.raises(PermissionDenied):
        frank.day_close.record_route(route_id, "42.5")
    with frank.store.session() as s:
        v = s.get(Visit, visit_id)
        assert (v.outcome, v.locked) == (None, True)
        assert v.route.driven_km is None


def test_coordinator_closes_the_day(users):
    kari = users["kari"]
    visit_id, route_id, _day = _a_planned_visit(kari)
    kari.day_close.record_outcome(visit_id, "taken")
    kari.day_close.record_route(route_id, "42.5", "0", confirm=True)
    with kari.store.session() as s:
        v = s.get(Visit, visit_id)
        assert v.outcome == "taken" and str(v.route.driven_km) == "42.500"
