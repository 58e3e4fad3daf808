"""The demo data is a coherent department: what it shows as locked, the planner can keep."""

import datetime as dt

from sqlalchemy import func, select

from hjemmeprove.db.models import Cancellation, Request, Visit
from tests.conftest import DEMO_TODAY


def test_replanning_the_demo_week_keeps_every_locked_visit(demo_app):
    with demo_app.store.session() as s:
        locked = dict(s.execute(select(Visit.request_id, Visit.window_start)
                                .where(Visit.locked, Visit.outcome.is_(None),
                                       Visit.date >= DEMO_TODAY)).all())
    assert len(locked) >= 10
    result = demo_app.planning.plan(DEMO_TODAY, DEMO_TODAY + dt.timedelta(days=4),
                                    time_limit_s=3)
    assert result.unplanned == []
    planned = {st.request_id: st for r in result.routes for st in r.stops}
    for rid, window_start in locked.items():
        assert planned[rid].window[0] == window_start


def test_demo_has_today_routes_cancellations_and_island_visits(demo_app):
    with demo_app.store.session() as s:
        today_visits = s.scalar(select(func.count()).select_from(Visit)
                                .where(Visit.date == DEMO_TODAY, Visit.route_id.is_not(None)))
        late = s.scalar(select(func.count()).select_from(Cancellation).where(Cancellation.late))
        cancelled = s.scalar(select(func.count()).select_from(Request)
                             .where(Request.status == "cancelled"))
        ferry = s.scalar(select(func.count()).select_from(Visit).where(Visit.ferry_link != ""))
    assert today_visits > 0
    assert cancelled >= 20 and late >= 1
    assert ferry > 0


def test_the_demo_s_own_plans_leave_no_re_plan_banner(department_app):
    """The demo plans its coming days as its history; the Planlægning view shows the newest
    re-plan's changes as a banner, and a new user has made none."""
    from hjemmeprove.planning import demo

    cal = department_app.settings.calendar()
    day = dt.date(2024, 3, 4)
    demo._plan_coming_days(department_app, cal, day, day, day, time_limit_s=0.2)
    assert department_app.planning.last_replan is None
