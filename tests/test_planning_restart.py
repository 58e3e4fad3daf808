"""The small path's iterated local search (model._restarts, model._ruin): it improves on the
plan it is given and keeps every rule of the model (allowed trips, windows, capacity, the
samples' age, a stop's stability limit, the order of a day's trips)."""

import random

import numpy as np

from hjemmeprove.planning import model


def _case(n: int = 24):
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 60, size=(n + 1, 2))
    d = np.floor(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) * 60).astype(np.int64)
    jobs = []
    for i in range(1, n + 1):
        j = model.Job(loc=i, service=600, demand=1)
        if i % 3 == 0:
            j.windows = [(3600 * (i % 4), 3600 * (i % 4) + 7200)]
        if i % 5 == 0:
            j.vehicles = [0, 1]  # e.g. the one bioanalyst with the skill
        if i % 7 == 0:
            j.max_to_end = 600 + 3 * 3600
        jobs.append(j)
    vehicles = [model.Vehicle(start=0, end=4 * 3600, capacity=7, max_age=3 * 3600),
                model.Vehicle(start=4 * 3600, end=8 * 3600, capacity=7, max_age=3 * 3600),
                model.Vehicle(start=0, end=8 * 3600, capacity=7, max_span=5 * 3600),
                model.Vehicle(start=0, end=8 * 3600, capacity=7)]
    return model.Problem(cost=d, travel=d, jobs=jobs, vehicles=vehicles,
                         chains=[(0, 1, 1800)])


def _check(problem, sol):
    seen = set()
    for v, stops in enumerate(sol.routes):
        veh = problem.vehicles[v]
        assert len(stops) <= veh.capacity
        if not stops:
            continue
        assert veh.start <= sol.starts[v] and sol.ends[v] <= veh.end
        if veh.max_age is not None:
            assert sol.ends[v] - stops[0].arrival <= veh.max_age
        if veh.max_span is not None:
            assert sol.ends[v] - sol.starts[v] <= veh.max_span
        for st in stops:
            job = problem.jobs[st.job]
            seen.add(st.job)
            assert job.vehicles is None or v in job.vehicles
            if job.windows:
                assert any(a <= st.arrival <= b for a, b in job.windows)
            if job.max_to_end is not None:
                assert sol.ends[v] - st.arrival <= job.max_to_end
    for v1, v2, gap in problem.chains:
        if sol.routes[v1] and sol.routes[v2]:
            assert sol.ends[v1] + gap <= sol.starts[v2]
    assert seen == {j for j in range(len(problem.jobs)) if j not in sol.dropped}


def test_ruin_takes_out_stops_near_one_or_a_whole_trip_and_keeps_the_order():
    problem = _case()
    routes = [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10, 11], []]
    for seed in range(20):
        kept = model._ruin(problem, routes, random.Random(seed))
        assert len(kept) == len(routes)
        assert 0 < sum(map(len, kept)) < 12
        for before, after in zip(routes, kept):
            assert after == [j for j in before if j in after]  # order kept, nothing added


def test_restarts_improve_a_poor_plan_and_keep_every_rule():
    problem = _case()
    routing, manager, tdim = model._build(problem)
    n = len(problem.jobs) + 1
    p = model.search_parameters("PATH_CHEAPEST_ARC", "GREEDY_DESCENT", 1.0, n)
    p.solution_limit = 1  # the first solution, no local search
    first = routing.SolveWithParameters(p)
    assert first is not None
    first_obj = first.ObjectiveValue()
    end = [0]

    def left():
        end[0] += 1
        return 1.0 if end[0] <= 15 else 0.0  # fifteen rounds, whatever the machine's speed

    best = model._restarts(problem, routing, manager, first, left,
                           lambda sec: model.search_parameters("CONSTRUCT", "GREEDY_DESCENT",
                                                               sec, n), seed=1)
    assert best.ObjectiveValue() < first_obj
    routes, starts, ends, planned = model._read(routing, manager, tdim, best,
                                                len(problem.vehicles))
    sol = model.Solution(routes, ends, starts,
                         [j for j in range(len(problem.jobs)) if j not in planned],
                         best.ObjectiveValue(), 1, 0.0, "")
    _check(problem, sol)


def test_solve_with_restarts_keeps_every_rule():
    problem = _case()
    assert 4.0 >= model.RESTART_MIN_SECONDS
    sol = model.solve(problem, time_limit_s=4.0, workers=1)
    _check(problem, sol)
    assert len(sol.dropped) <= 2


def test_string_ruin_takes_one_run_of_consecutive_stops_out_of_each_trip_it_touches():
    problem = _case()
    routes = [[0, 1, 2, 3, 12, 13], [4, 5, 6, 14, 15], [7, 8, 9, 10, 11], [16, 17, 18, 19]]
    touched_several = False
    for seed in range(40):
        kept = model._ruin_strings(problem, routes, random.Random(seed))
        assert len(kept) == len(routes)
        assert sum(map(len, kept)) < sum(map(len, routes))
        touched = 0
        for before, after in zip(routes, kept):
            assert after == [j for j in before if j in after]  # order kept, nothing added
            gone = [k for k, j in enumerate(before) if j not in after]
            if gone:
                touched += 1
                assert gone == list(range(gone[0], gone[-1] + 1))  # one string per trip
        touched_several |= touched > 1
    assert touched_several


def test_recreate_in_random_orders_keeps_every_rule():
    problem = _case()
    from hjemmeprove.planning import construct

    plans = set()
    for seed in range(8):
        rng = random.Random(seed)
        first = construct.construct(problem, rng=rng)
        kept = model._ruin(problem, first.routes, rng)
        again = construct.construct(problem, seed_routes=kept, rng=rng)
        for c in (first, again):
            sol = model.solution_from_routes(problem, c.routes)
            _check(problem, sol)  # stops may be left out (at their penalty), never misplaced
        plans.add(tuple(map(tuple, first.routes)))
    assert len(plans) > 1  # the order of insertion does change the plan


def test_restarts_without_a_descent_every_round_still_improve_and_keep_every_rule():
    # a Solomon-like case (one kind of trip, windows, capacity) from a poor first plan:
    # most rounds are ruin and recreate only; a new best is taken to its local optimum
    n = 40
    problem = _solomon_like(n)
    jobs, d = problem.jobs, problem.cost
    routing, manager, tdim = model._build(problem)
    nn = n + 1
    p = model.search_parameters("PATH_CHEAPEST_ARC", "GREEDY_DESCENT", 1.0, nn)
    p.solution_limit = 1
    first = routing.SolveWithParameters(p)
    assert first is not None
    rounds = [0]

    def left():
        rounds[0] += 1
        return 1.0 if rounds[0] <= 60 else 0.0

    best = model._restarts(problem, routing, manager, first, left,
                           lambda sec: model.search_parameters("CONSTRUCT", "GREEDY_DESCENT",
                                                               sec, nn), seed=2)
    assert best.ObjectiveValue() < first.ObjectiveValue()
    routes, starts, ends, planned = model._read(routing, manager, tdim, best,
                                                len(problem.vehicles))
    assert planned == set(range(n))
    sol = model.Solution(routes, ends, starts, [], best.ObjectiveValue(), 1, 0.0, "")
    _check(problem, sol)
    for v, stops in enumerate(routes):
        assert sum(jobs[s.job].demand for s in stops) <= 100
        t = 0
        prev = 0
        for s in stops:  # the times themselves: travel, service, windows
            assert s.arrival >= t + d[prev, jobs[s.job].loc]
            t, prev = s.arrival + jobs[s.job].service, jobs[s.job].loc
        if stops:
            assert ends[v] >= t + d[prev, 0]


def test_seed_trip_puts_one_stop_alone_on_an_unused_trip_it_may_take():
    problem = _case()
    routes = [[0, 1, 2, 3, 12, 13], [4, 5, 6, 14, 15], [7, 8, 9, 10, 11, 16, 17, 18, 19], []]
    for seed in range(20):
        out = model._seed_trip(problem, routes, random.Random(seed))
        if out is None:  # the stop it picked may not take the unused trip (skills)
            continue
        assert model._trips(out) == model._trips(routes) + 1
        assert len(out[3]) == 1
        job = problem.jobs[out[3][0]]
        assert job.vehicles is None or 3 in job.vehicles
        for before, after in zip(routes[:3], out[:3]):
            assert after == [j for j in before if j in after]  # order kept, nothing added
    full = [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert model._seed_trip(problem, full, random.Random(1)) is None  # no unused trip


def _solomon_like(n=40, seed=3):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, size=(n + 1, 2))
    d = np.floor(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) * 10).astype(np.int64)
    jobs = []
    for i in range(1, n + 1):
        a = int(rng.integers(0, 6000))
        jobs.append(model.Job(loc=i, service=100, demand=int(rng.integers(1, 20)),
                              penalty=10**9, windows=[(a, a + 2500)]))
    return model.Problem(cost=d, travel=d, jobs=jobs,
                         vehicles=[model.Vehicle(start=0, end=10000, capacity=100)
                                   for _ in range(12)])


def _watch_insertions(monkeypatch):
    """The jobs in the order construction inserts them (``construct._insert`` watched), and
    the unwatched ``_insert`` to put back."""
    from hjemmeprove.planning import construct

    seen: list[int] = []
    real = construct._insert

    def spy(st, node, near, blink=None):
        seen.append(node - 1)
        return real(st, node, near, blink)

    monkeypatch.setattr(construct, "_insert", spy)
    return seen, real


def _solomon_like_first():
    """``_solomon_like``'s problem, its node count, its routing model and a first plan."""
    problem = _solomon_like()
    n = len(problem.jobs) + 1
    routing, manager, tdim = model._build(problem)
    first = routing.SolveWithParameters(
        model.search_parameters("PARALLEL_CHEAPEST_INSERTION", "GREEDY_DESCENT", 1.0, n))
    assert first is not None
    return problem, n, routing, manager, tdim, first


def test_probe_searches_with_one_trip_more_then_goes_on_from_the_best(monkeypatch):
    # the probe: from the best plan with one trip more, no plan with fewer trips accepted in
    # its share of the time (the recreate alone seldom opens a trip, a ruined trip closes
    # one: without it the trips only go down); afterwards on from the best plan of all
    problem, n, routing, manager, tdim, first = _solomon_like_first()
    calls = [0]
    rounds = 200

    def left():
        calls[0] += 1
        return max(0.0, 1.0 - calls[0] / (3 * rounds))

    seeded, seen = [], []
    real_seed, real_ruin = model._seed_trip, model._ruin

    def seed_trip(problem_, routes, rng):
        out = real_seed(problem_, routes, rng)
        seeded.append((calls[0], model._trips(routes), out and model._trips(out)))
        return out

    def ruin(problem_, routes, rng):
        seen.append((calls[0], model._trips(routes)))
        return real_ruin(problem_, routes, rng)

    monkeypatch.setattr(model, "_seed_trip", seed_trip)
    monkeypatch.setattr(model, "_ruin", ruin)
    monkeypatch.setattr(model, "PROBE_MIN_STOPS", 1)  # this case's trips are short
    best = model._restarts(problem, routing, manager, first, left,
                           lambda sec: model.search_parameters("CONSTRUCT", "GREEDY_DESCENT",
                                                               sec, n), seed=4, probe=True)
    assert len(seeded) == 1
    at, before, floor = seeded[0]
    assert floor == before + 1
    in_probe = [t for c, t in seen if c > at and (c / (3 * rounds)) < (
        model.PROBE_AT + model.PROBE_SHARE - 0.02)]
    assert in_probe and min(in_probe) >= floor  # never fewer trips than the probe's
    assert best.ObjectiveValue() <= first.ObjectiveValue()
    routes, starts, ends, planned = model._read(routing, manager, tdim, best,
                                                len(problem.vehicles))
    assert planned == set(range(len(problem.jobs)))
    _check(problem, model.Solution(routes, ends, starts, [], best.ObjectiveValue(), 1, 0.0, ""))


def test_no_probe_on_short_trips(monkeypatch):
    # short trips (Solomon R1, RC1: their number is the windows'): the probe would only
    # lengthen the plan, so the search goes on as without it
    problem, n, routing, manager, tdim, first = _solomon_like_first()
    calls = [0]

    def left():
        calls[0] += 1
        return max(0.0, 1.0 - calls[0] / 300)

    seeded = []
    monkeypatch.setattr(model, "_seed_trip", lambda *a: seeded.append(a) or None)
    monkeypatch.setattr(model, "PROBE_MIN_STOPS", n)  # more than any trip here has
    model._restarts(problem, routing, manager, first, left,
                    lambda sec: model.search_parameters("CONSTRUCT", "GREEDY_DESCENT", sec, n),
                    seed=4, probe=True)
    assert seeded == []


def test_recreate_orders_by_the_sort_drawn_and_blinks_keep_every_rule(monkeypatch):
    # SISR's recreate: the removed stops inserted in one of several orders (random, largest
    # demand, farthest from the lab, nearest), each feasible position passed over with a
    # small chance (a blink); neither may misplace a stop or leave one out that fits
    from hjemmeprove.planning import construct

    problem = _solomon_like()
    for i, j in enumerate(problem.jobs):
        j.demand = 1 + (i * 7) % 5
    far = problem.cost[problem.depot, [j.loc for j in problem.jobs]] + problem.cost[
        [j.loc for j in problem.jobs], problem.depot]
    seen, real = _watch_insertions(monkeypatch)
    for sort, key in (("demand", lambda i: -problem.jobs[i].demand),
                      ("far", lambda i: -int(far[i])), ("close", lambda i: int(far[i]))):
        seen.clear()
        construct.construct(problem, rng=random.Random(1), sort=sort)
        keys = [key(i) for i in seen]
        assert keys == sorted(keys), sort
    monkeypatch.setattr(construct, "_insert", real)

    changed = False
    for seed in range(4):
        plain = construct.construct(problem, rng=random.Random(seed))
        blinked = construct.construct(problem, rng=random.Random(seed), blink=0.5)
        # every stop still placed (after passing over all, the first feasible position)
        changed |= blinked.routes != plain.routes
        for c in (plain, blinked):
            assert not c.dropped and not c.unreached
            _check(problem, model.solution_from_routes(problem, c.routes))
    assert changed  # blinks put some stops at a position other than the cheapest

    drawn = set()
    monkeypatch.setattr(construct, "construct",
                        lambda problem_, **kw: drawn.add((kw["sort"], kw["blink"])))
    rng = random.Random(5)
    for _ in range(60):
        model._recreate(problem, plain.routes, rng, 0.1)
    assert {s for s, _b in drawn} == {s for s, _w in model.RECREATE_SORTS}
    assert {b for _s, b in drawn} == {model.BLINK}


def test_varied_recreate_on_long_trips_only(monkeypatch):
    # the varied recreate (sorts, blinks) helped on long trips (Solomon R2) and cost km on
    # short ones (R1, RC1), where the rounds stay as they were
    problem, n, routing, manager, tdim, first = _solomon_like_first()
    real = model._recreate
    for min_stops, expect in ((1, True), (n, False)):
        calls, varied = [0], set()

        def left():
            calls[0] += 1
            return max(0.0, 1.0 - calls[0] / 60)

        def spy(problem_, kept, rng, seconds, v=True):
            varied.add(v)
            return real(problem_, kept, rng, seconds, v)

        monkeypatch.setattr(model, "_recreate", spy)
        monkeypatch.setattr(model, "PROBE_MIN_STOPS", min_stops)
        model._restarts(problem, routing, manager, first, left,
                        lambda sec: model.search_parameters("CONSTRUCT", "GREEDY_DESCENT",
                                                            sec, n), seed=4)
        assert varied == {expect}


def test_the_current_plan_drifts_by_the_long_trips_threshold_on_long_trips_only(monkeypatch):
    # long trips (Solomon R2/RC2) let the current plan drift further above the best
    # (RESTART_THRESHOLD_LONG); short ones keep RESTART_THRESHOLD. With the short one at 0
    # the current plan never gets longer; with the long one wide open it does
    from hjemmeprove.planning import construct

    problem, n, routing, manager, tdim, first = _solomon_like_first()
    real = model._ruin
    monkeypatch.setattr(model, "RESTART_THRESHOLD", 0.0)
    monkeypatch.setattr(model, "RESTART_THRESHOLD_LONG", 10.0)
    for min_stops, rises in ((n, False), (1, True)):
        calls, km = [0], []

        def left():
            calls[0] += 1
            return max(0.0, 1.0 - calls[0] / 120)

        def spy(problem_, routes, rng):
            if sum(map(len, routes)) == len(problem.jobs):
                km.append(construct.route_cost(problem_, routes))
            return real(problem_, routes, rng)

        monkeypatch.setattr(model, "_ruin", spy)
        monkeypatch.setattr(model, "PROBE_MIN_STOPS", min_stops)
        model._restarts(problem, routing, manager, first, left,
                        lambda sec: model.search_parameters("CONSTRUCT", "GREEDY_DESCENT",
                                                            sec, n), seed=4)
        assert len(km) > 10
        assert any(b > a for a, b in zip(km, km[1:])) == rises, (min_stops, km)


def test_short_trips_recreate_by_narrowest_and_earliest_windows_keeps_every_rule(monkeypatch):
    # short trips (Solomon R1, RC1: tight windows): the recreate draws its order from
    # SHORT_SORTS (random, the narrowest windows first, the earliest window first), no blinks
    from hjemmeprove.planning import construct

    problem = _solomon_like()
    for i, j in enumerate(problem.jobs):
        a = j.windows[0][0]
        j.windows = [(a, a + 1500 + (i * 397) % 3000)]  # each one reachable alone
    problem.jobs[5].windows = None  # any time: last in the narrowest-first order
    seen, real = _watch_insertions(monkeypatch)
    width = {i: (j.windows[0][1] - j.windows[0][0]) if j.windows else 1 << 62
             for i, j in enumerate(problem.jobs)}
    start = {i: j.windows[0][0] if j.windows else 1 << 62 for i, j in enumerate(problem.jobs)}
    for sort, key in (("tight", width), ("early", start)):
        seen.clear()
        c = construct.construct(problem, rng=random.Random(2), sort=sort)
        keys = [key[i] for i in seen]
        assert keys == sorted(keys), sort
        assert not c.dropped and not c.unreached
        _check(problem, model.solution_from_routes(problem, c.routes))
    monkeypatch.setattr(construct, "_insert", real)

    drawn = []
    monkeypatch.setattr(construct, "construct",
                        lambda problem_, **kw: drawn.append((kw.get("sort"), kw.get("blink"))))
    rng = random.Random(5)
    for _ in range(60):
        model._recreate(problem, [[] for _ in problem.vehicles], rng, 0.1, varied=False)
    assert {s for s, _b in drawn} == {s for s, _w in model.SHORT_SORTS}
    assert {b for _s, b in drawn} == {None}  # no blinks on short trips


def test_the_windows_quick_check_only_skips_positions_the_full_check_refuses(monkeypatch):
    """``_insert`` skips a position whose windows ``fits_windows`` says cannot hold before it
    builds the trip's schedule: every plan (each start order, random orders, sorts, blinks,
    on trips with the day's order, the samples' age, stability limits, allowed trips and
    stops with two windows) is the very one the full check alone gives, and the quick check
    did refuse positions."""
    from hjemmeprove.planning import construct

    two_windows = _case()
    for i in (4, 8, 16):
        two_windows.jobs[i - 1].windows = [(0, 1800), (5 * 3600, 6 * 3600)]
    tight = _solomon_like(60, seed=5)
    for j in tight.jobs:
        a, _b = j.windows[0]
        j.windows = [(a, a + 600)]
    real = construct._State.fits_windows
    refused = []

    def counted(self, v, k, node, slack):
        ok = real(self, v, k, node, slack)
        refused.append(not ok)
        seq = self.routes[v][:k] + [node] + self.routes[v][k:]
        full = self.schedule(v, seq, self.earliest_start(v)) is not None
        assert ok or not full, (v, k, node)  # never a position the schedule allows
        if self.mte[node] is None and not any(self.mte[x] for x in seq):
            veh = self.p.vehicles[v]
            if veh.max_age is None and veh.max_span is None:
                assert ok == full, (v, k, node)  # the windows are all the schedule checks
        return ok

    def plan(problem, check, **kw):
        monkeypatch.setattr(construct._State, "fits_windows", check)
        if "rng" in kw:
            kw["rng"] = random.Random(kw["rng"])
        return construct.construct(problem, **kw).routes

    for problem in (_case(), two_windows, tight, _solomon_like()):
        for kw in ({"order": "far"}, {"order": "tight"},
                   *({"rng": seed, "sort": sort, "blink": blink} for seed in (1, 2)
                     for sort in ("random", "tight", "early", "far") for blink in (0, 0.05))):
            assert plan(problem, counted, **kw) == plan(problem, lambda *a: True, **kw), kw
    assert any(refused) and not all(refused)


def test_the_windows_quick_check_at_the_very_edge():
    """A stop put where every time is exactly at its limit (the next stop's window closes as
    the bioanalyst arrives, the trip ends as its hours do) fits; a minute later it does not:
    the quick check says what the schedule says."""
    from hjemmeprove.planning import construct

    d = np.array([[0, 10, 10], [10, 0, 10], [10, 10, 0]], dtype=np.int64)
    for late in (0, 1):
        # (position, trip, the stop's window, the new stop's window, the day's end): before a
        # stop whose window closes as it is reached, after it at the end of the day, before
        # it when the day's end binds, at the close of the new stop's own window
        for k, seq, a, x, end in ((0, [2, 1], (0, 20 - late), None, 100),
                                  (1, [1, 2], (20, 20), None, 40 - late),
                                  (0, [2, 1], (0, 100), None, 30 - late),
                                  (0, [2, 1], (0, 100), (0, 10 - late), 100)):
            jobs = [model.Job(loc=1, service=0, demand=1, windows=[a]),
                    model.Job(loc=2, service=0, demand=1, windows=[x] if x else None)]
            problem = model.Problem(cost=d, travel=d, jobs=jobs,
                                    vehicles=[model.Vehicle(start=0, end=end, capacity=9)])
            st = construct._State(problem)
            st.commit(0, [1], st.feasible(0, [1]))
            fits = st.fits_windows(0, k, 2, st.slack(0))
            assert fits == (st.schedule(0, seq, 0) is not None) == (not late), (late, k, end)


def _regrets(st, todo, k):
    """Brute force: each stop's regret-``k`` on the state as it is (``_trip_delta`` per
    trip, the unused trips counting as one), for the stops that fit somewhere."""
    from hjemmeprove.planning import construct

    out = {}
    for x in todo:
        ds = [d for v in range(st.nv) if st.routes[v]
              if (d := construct._trip_delta(st, x, v)) is not None]
        empty = [d for v in range(st.nv) if not st.routes[v]
                 if (d := construct._trip_delta(st, x, v)) is not None]
        if empty:
            ds.append(min(empty))
        if ds:
            ds.sort()
            ds += [ds[0] + construct.REGRET_BIG] * (k - len(ds))
            out[x] = sum(d - ds[0] for d in ds[1:k])
    return out


def test_regret_insertion_puts_in_first_the_stop_that_loses_most_and_keeps_every_rule(
        monkeypatch):
    """Regret-2 and -3 as a recreate order (``construct(sort="regret" | "regret3")``): each
    stop put in is one whose best and next best trips differ most (checked against a brute
    force on the plan as it is at that moment), it goes to its cheapest feasible position
    (``_insert``, the other orders' rule), every stop that fits is placed, and the plans
    keep every rule (windows, capacity, allowed trips, the samples' age, stability limits,
    the day's order of trips)."""
    from hjemmeprove.planning import construct

    picks = []
    real = construct._insert

    def spy(st, node, near, blink=None):
        assert near is None and blink is None
        todo = spy.todo - {x for r in st.routes for x in r}
        regrets = _regrets(st, todo, spy.k)
        assert node in regrets
        picks.append((regrets[node], max(regrets.values())))
        before = [list(r) for r in st.routes]
        ok = real(st, node, near, blink)
        assert ok
        v = st.where[node]
        # the cheapest feasible position, as every order takes it
        assert construct._trip_delta(_State_of(st, before), node, v) == min(
            d for u in range(st.nv)
            if (d := construct._trip_delta(_State_of(st, before), node, u)) is not None)
        return ok

    def _State_of(st, routes):
        s = construct._State(st.p)
        for u, r in enumerate(routes):
            if r:
                s.commit(u, r, s.feasible(u, r))
        return s

    monkeypatch.setattr(construct, "_insert", spy)
    solomon = _solomon_like()
    for problem in (_case(), solomon):
        for sort, k in construct.REGRET_SORTS.items():
            for seed in range(3):
                rng = random.Random(seed)
                spy.k = k
                spy.todo = set(range(1, len(problem.jobs) + 1))
                first = construct.construct(problem, rng=rng, sort=sort)
                kept = model._ruin(problem, first.routes, rng)
                spy.todo = set(range(1, len(problem.jobs) + 1))
                again = construct.construct(problem, seed_routes=kept, rng=rng, sort=sort)
                for c in (first, again):
                    assert not c.unreached
                    _check(problem, model.solution_from_routes(problem, c.routes))
                    # a stop is left out only where no trip may take it
                    st = _State_of(construct._State(problem), [
                        [j + 1 for j in r] for r in c.routes])
                    for j in c.dropped:
                        assert all(construct._trip_delta(st, j + 1, v) is None
                                   for v in range(st.nv))
                    if problem is solomon:
                        assert not c.dropped
    assert picks and all(got == top for got, top in picks)
    assert any(top > 0 for _g, top in picks)



def test_swap_takes_the_best_plan_sent_and_keeps_the_other_process_result():
    # the two processes' pipe carries swaps and, last, the second process's result; a
    # result that comes while this end looks for a swap must still reach ``_collect``
    import multiprocessing as mp

    here, there = mp.get_context("spawn").Pipe()
    swap = model._Swap(here)
    assert swap.take() is None
    there.send(("swap", 900, [[1, 2]]))
    there.send(("swap", 700, [[2, 1]]))
    there.send(("best", "the result"))
    there.send(("swap", 500, [[3]]))
    assert swap.take() == (700, [[2, 1]])  # the better of the two sent before the result
    assert swap.take() is None  # nothing read past the result
    assert swap.recv(0.5) == ("best", "the result")
    assert swap.take() == (500, [[3]])
    swap.offer(800, [[4, 5]])
    assert there.recv() == ("swap", 800, [[4, 5]])
    there.close()
    swap.offer(1, [[0]])  # the other end gone: nothing to swap with, no error
    assert swap.take() is None
    here.close()


def test_restarts_offer_their_best_and_go_on_from_a_better_plan_sent_by_the_other_process(
        monkeypatch):
    problem, n, routing, manager, tdim, _first = _solomon_like_first()
    params = lambda sec: model.search_parameters("CONSTRUCT", "GREEDY_DESCENT", sec, n)  # noqa: E731
    p = model.search_parameters("PATH_CHEAPEST_ARC", "GREEDY_DESCENT", 1.0, n)
    p.solution_limit = 1  # a poor plan: the first solution, no local search
    poor = routing.SolveWithParameters(p)
    calls = [0]

    def rounds(k):
        calls[0] = 0

        def left():
            calls[0] += 1
            return max(0.0, 1.0 - calls[0] / k)
        return left

    good = model._restarts(problem, routing, manager, routing.solver().Assignment(poor),
                           rounds(200), params, seed=2)
    good_routes = [[st.job for st in r] for r in model._read(routing, manager, tdim, good,
                                                             len(problem.vehicles))[0]]
    assert poor.ObjectiveValue() > good.ObjectiveValue() * 1.05  # a real gap to close

    import multiprocessing as mp

    here, there = mp.get_context("spawn").Pipe()
    there.send(("swap", good.ObjectiveValue(), good_routes))
    monkeypatch.setattr(model, "SWAP_AT", (0.0,))  # its offer in its first round
    best = model._restarts(problem, routing, manager, poor, rounds(6), params, seed=3,
                           swap=model._Swap(here))
    assert best.ObjectiveValue() <= good.ObjectiveValue()
    assert there.poll(10)
    kind, offered, routes = there.recv()  # its own best when it offered: the poor plan
    assert kind == "swap" and offered == poor.ObjectiveValue()
    assert sorted(j for r in routes for j in r) == list(range(len(problem.jobs)))
    routes_, starts, ends, planned = model._read(routing, manager, tdim, best,
                                                 len(problem.vehicles))
    assert planned == set(range(len(problem.jobs)))
    _check(problem, model.Solution(routes_, ends, starts, [], best.ObjectiveValue(), 1, 0.0, ""))
    here.close()
    there.close()


def test_two_processes_swap_plans_and_the_second_ones_result_still_comes_back(monkeypatch):
    # end to end through a real second process (spawn): its swaps and its result share the
    # pipe, and the result must reach the parent, a plan that keeps every rule
    problem = _solomon_like()
    got = []
    real = model._collect

    def collect(child, cancel_event):
        got.append(real(child, cancel_event))
        return got[-1]

    monkeypatch.setattr(model, "_collect", collect)
    sol = model.solve(problem, time_limit_s=4.0, workers=2)
    assert len(got) == 1 and got[0] is not None  # the second process's plan came back
    objective, routes, starts, ends, planned, _status = got[0]
    assert planned == set(range(len(problem.jobs)))
    _check(problem, model.Solution(routes, ends, starts, [], objective, 1, 0.0, ""))
    assert sol.dropped == [] and sol.objective <= objective
    _check(problem, sol)
