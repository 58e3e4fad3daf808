"""A full optimisation spreads the days driven between bioanalysts with the same hours, and
its area blocks move stops between days."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from hjemmeprove.demo import LAB
from hjemmeprove.domain.calendar import default_calendar
from hjemmeprove.planning import construct, model
from hjemmeprove.planning.distances import DistanceSource
from hjemmeprove.planning.planner import PlanAnalyst, PlanConfig, PlanRequest, plan

from tests.test_planning_scale import _accounted, _captured_problem, _case

LAB_POS = (LAB["lab_lat"], LAB["lab_lon"])


def _days(n: int) -> list[dt.date]:
    cal = default_calendar()
    out, d = [], dt.date(2026, 3, 2)
    while len(out) < n:
        if cal.is_working_day(d):
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def _day_case(cfg: PlanConfig, regular: int | None = None):
    """Two full-time bioanalysts with the same hours, four days, a few visits due on each
    day (one bioanalyst's morning is enough for them)."""
    days = _days(4)
    analysts = [PlanAnalyst(1, "A", dt.time(8), dt.time(15)),
                PlanAnalyst(2, "B", dt.time(8), dt.time(15))]
    reqs = []
    for k, day in enumerate(days):
        for i in range(3):
            reqs.append(PlanRequest(
                10 * k + i + 1, LAB_POS[0] + 0.02 * (i + 1), LAB_POS[1] + 0.03 * (k - 1.5),
                day - dt.timedelta(days=14), day, earliest=day, regular_analyst=regular))
    cal = default_calendar()
    return plan(LAB_POS, days, analysts, reqs, DistanceSource(), cfg,
                next_working_day=cal.next_working_day, time_limit_s=1.0), reqs


def _driven(out) -> dict[int, int]:
    days = {1: set(), 2: set()}
    for r in out.routes:
        days[r.analyst_id].add(r.date)
    return {aid: len(d) for aid, d in days.items()}


def test_two_equal_bioanalysts_both_drive_after_a_full_optimisation():
    out, reqs = _day_case(PlanConfig())
    assert len(out.routes) == 4 and not out.unplanned
    assert _driven(out) == {1: 2, 2: 2}
    # handing a day to a colleague changes no km: each day is still one route
    unbalanced, _ = _day_case(PlanConfig(balance_kr=-1))
    assert abs(sum(r.km for r in out.routes) - sum(r.km for r in unbalanced.routes)) < 0.01


def test_balance_does_not_override_a_regular_bioanalyst_worth_more_than_balance_kr():
    # every citizen has A as regular bioanalyst: 3 × 15 kr per day handed over > 30 kr
    out, _ = _day_case(PlanConfig(balance_kr=30.0), regular=1)
    assert _driven(out) == {1: 4, 2: 0}


def test_area_blocks_take_whole_bioanalyst_days_and_free_days_their_stops_may_use():
    days, analysts, reqs, cal = _case(200, 6, n_days=4, seed=5)
    problem = _captured_problem(reqs, days, analysts, cal)
    built = construct.construct(problem)
    units = model._units(problem)
    unit_of = {v: u for u, vs in enumerate(units) for v in vs}
    # a bioanalyst's day: its two trips (chained) move together
    assert all(unit_of[a] == unit_of[b] for a, b, _gap in problem.chains)
    locs = np.array([j.loc for j in problem.jobs])
    sim = problem.cost[np.ix_(locs, locs)]
    near = np.argsort(sim + sim.T, axis=1, kind="stable")
    seed = built.routes[next(v for v, r in enumerate(built.routes) if r)][0]
    vs = model._area_block(problem, built.routes, units,
                           [unit_of[v] for v in range(len(problem.vehicles))], near, seed)
    chosen = {unit_of[v] for v in vs}
    assert all(set(units[u]) <= set(vs) for u in chosen)
    # the seed's own day is in, and the block spans more than one day
    assert any(seed in built.routes[v] for v in vs)
    assert len({problem.vehicles[v].start // model.DAY for v in vs}) > 1


def test_a_600_case_keeps_every_rule_after_the_area_blocks():
    days, analysts, reqs, cal = _case(600, 12, seed=8)
    out = plan(LAB_POS, days, analysts, reqs, DistanceSource(), PlanConfig(),
               next_working_day=cal.next_working_day, time_limit_s=6.0)
    planned = _accounted(out, reqs)
    base = plan(LAB_POS, days, analysts, reqs, DistanceSource(), PlanConfig(),
                next_working_day=cal.next_working_day, method="nearest")
    assert len(planned) >= len(_accounted(base, reqs))
    by_id = {r.id: r for r in reqs}
    ekg = {a.id for a in analysts if "ekg" in a.skills}
    for route in out.routes:
        a = next(x for x in analysts if x.id == route.analyst_id)
        assert route.date not in a.absent
        assert a.day_start <= route.start and route.end <= a.day_end
        for s in route.stops:
            for rid in s.request_ids:
                r = by_id[rid]
                assert cal.next_working_day(r.received) <= route.date <= r.deadline
                assert not r.ekg or route.analyst_id in ekg
                if r.window_end is not None:
                    end = (dt.datetime.combine(route.date, s.arrival)
                           + dt.timedelta(minutes=s.service_minutes)).time()
                    assert end <= r.window_end


def test_a_route_only_an_ecg_colleague_may_take_goes_round_through_them():
    # A (ECG) drives 5 days with ECG visits, B (ECG) 4 and C (no ECG) 3 without: no single hand-over
    # brings two closer (A's routes need ECG; A and B, B and C differ by one day), but A's
    # day to B and one of B's days to C does
    from hjemmeprove.planning.planner import balance_days, make_trips

    days = _days(6)
    analysts = [PlanAnalyst(1, "A", dt.time(8), dt.time(15), frozenset({"ekg"})),
                PlanAnalyst(2, "B", dt.time(8), dt.time(15), frozenset({"ekg"})),
                PlanAnalyst(3, "C", dt.time(8), dt.time(15))]
    trips, chains = make_trips(analysts, days, PlanConfig())
    first = {(t.analyst.id, t.day_index): i for i, t in reversed(list(enumerate(trips)))}
    drives = {1: range(5), 2: range(4), 3: range(3)}
    jobs, routes = [], [[] for _ in trips]
    for aid, ds in drives.items():
        for d in ds:
            allowed = [i for i, t in enumerate(trips) if t.day_index == d
                       and (aid != 1 or "ekg" in t.analyst.skills)]
            jobs.append(model.Job(loc=1, service=600, vehicles=allowed))
            v = first[(aid, d)]
            routes[v].append(model.Stop(len(jobs) - 1, trips[v].start + 3600))
    problem = model.Problem(cost=np.zeros((2, 2), dtype=np.int64),
                            travel=np.zeros((2, 2), dtype=np.int64), jobs=jobs,
                            vehicles=[model.Vehicle(t.start, t.end, max_age=t.max_age)
                                      for t in trips], chains=chains)
    sol = model.Solution(routes, [t.start for t in trips], [t.start for t in trips], [], 0, 1,
                         0.0, "løst")
    balance_days(problem, trips, sol, 100.0)
    driven = {a.id: len({trips[v].day_index for v, r in enumerate(sol.routes)
                         if r and trips[v].analyst.id == a.id}) for a in analysts}
    assert driven == {1: 4, 2: 4, 3: 4}
    for v, r in enumerate(sol.routes):  # every stop still on a trip it may take
        assert all(v in problem.jobs[st.job].vehicles for st in r)


@pytest.mark.slow
def test_blocks_in_a_second_process_keep_every_stop_and_the_models_rules():
    days, analysts, reqs, cal = _case(200, 6, n_days=4, seed=5)
    problem = _captured_problem(reqs, days, analysts, cal)
    built = construct.construct(problem)
    better = []
    out = model._improve_by_day(problem, built.routes, 7.0, "GUIDED_LOCAL_SEARCH", None,
                                lambda r: better.append(construct.route_cost(problem, r)),
                                workers=2)
    assert sorted(j for r in out for j in r) == sorted(j for r in built.routes for j in r)
    assert better and better[-1] <= construct.route_cost(problem, built.routes)
    routing, manager, _tdim = model._build(problem)
    from ortools.constraint_solver import pywrapcp
    routing.CloseModelWithParameters(pywrapcp.DefaultRoutingSearchParameters())
    assert routing.ReadAssignmentFromRoutes(
        [[manager.NodeToIndex(j + 1) for j in r] for r in out], True) is not None
