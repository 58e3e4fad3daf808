"""The OR-Tools routing model, independent of the database (the Solomon benchmark uses it too).

Vocabulary:

- a *location* is an index into the integer matrices (``Problem.cost``, ``Problem.travel``);
  location ``depot`` is the lab;
- a *vehicle* is one trip from the lab and back inside a time range. The planning service
  gives each bioanalyst's working day its trips (lunch at the lab between them; fixed slots
  when the sample-stability limit is shorter than a half day), so a sample never stays on the
  road longer than its limit: a trip's span (``max_span``) or its first stop's service start
  to its return (``max_age``, the "age" dimension) is bounded; ``chains`` order a day's trips;
- a *job* is one stop (one or more residents at one address) with its service time, the trips
  allowed to take it, and its allowed service-start intervals in absolute time (days are
  laid end to end: day ``d`` starts at ``d * 86400`` seconds).

Every job may be dropped at its penalty (``AddDisjunction``): with tight windows OR-Tools
finds no first solution otherwise (docs/libraries.md). Soft preferences (preferred days, area
days, the regular bioanalyst) are extra costs on entering a job with a given vehicle, through
one arc-cost matrix per class of vehicles with equal preferences.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2


@dataclass
class Job:
    loc: int
    service: int = 0
    demand: int = 1
    penalty: int = 10_000_000
    vehicles: list[int] | None = None  # allowed vehicles; None = all
    windows: list[tuple[int, int]] | None = None  # allowed service start; None = any
    vehicle_penalty: dict[int, int] = field(default_factory=dict)  # soft, per vehicle
    max_to_end: int | None = None  # service start → back at the lab, at most (stability)
    key: object = None


@dataclass
class Vehicle:
    start: int  # earliest departure from the lab
    end: int  # latest return to the lab
    capacity: int = 10**9
    max_span: int | None = None  # departure → return, at most (sample stability)
    # first stop's service start → return to the lab, at most: the oldest sample's age on
    # arrival at the lab (sample stability), without counting the drive out or the wait
    max_age: int | None = None
    key: object = None


@dataclass
class Problem:
    cost: np.ndarray  # [loc, loc] int: arc cost (objective units)
    travel: np.ndarray  # [loc, loc] int: travel time (time units)
    jobs: list[Job]
    vehicles: list[Vehicle]
    depot: int = 0
    # (v1, v2, gap): trip v2 leaves the lab at least ``gap`` after trip v1 is back
    chains: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class Stop:
    job: int
    arrival: int  # service start


@dataclass
class Solution:
    routes: list[list[Stop]]  # per vehicle, in order
    ends: list[int]  # per vehicle: arrival back at the lab (== start if unused)
    starts: list[int]
    dropped: list[int]
    objective: int
    solutions_found: int
    seconds: float
    status: str


Progress = Callable[[dict], None]

# "auto": the metaheuristic from each of these first solutions in turn, the time split by the
# shares, and the best result kept. Which start ends best differs between problems (Solomon at
# 10 s: R101 parallel insertion, RC101 local insertion, R201 savings, which needs about half the
# time) and GLS rarely leaves the basin it starts in; a start's own cost does not tell which.
AUTO_STARTS = [("PARALLEL_CHEAPEST_INSERTION", 0.15), ("LOCAL_CHEAPEST_INSERTION", 0.35),
               ("SAVINGS", 0.5)]  # (first solution strategy, share of the time)


def solve(problem: Problem, time_limit_s: float = 10.0, progress: Progress | None = None,
          cancel_event: threading.Event | None = None, first_solution: str = "auto",
          metaheuristic: str = "GUIDED_LOCAL_SEARCH", lns_time_limit_s: float | None = None,
          log: bool = False) -> Solution:
    t0 = time.monotonic()
    jobs, vehicles = problem.jobs, problem.vehicles
    n_nodes = 1 + len(jobs)
    n_veh = len(vehicles)
    if not jobs or not vehicles:
        return Solution([[] for _ in vehicles], [v.start for v in vehicles],
                        [v.start for v in vehicles], list(range(len(jobs))), 0, 0, 0.0,
                        "tom")
    locs = np.array([problem.depot] + [j.loc for j in jobs])
    service = np.array([0] + [j.service for j in jobs], dtype=np.int64)
    travel = problem.travel[np.ix_(locs, locs)].astype(np.int64)
    cost = problem.cost[np.ix_(locs, locs)].astype(np.int64)
    time_transit = travel + service[:, None]

    manager = pywrapcp.RoutingIndexManager(n_nodes, n_veh, 0)
    routing = pywrapcp.RoutingModel(manager)

    # arc costs: one matrix per class of vehicles with the same soft penalties
    classes: dict[tuple, list[int]] = {}
    for v in range(n_veh):
        sig = tuple(sorted((i + 1, j.vehicle_penalty[v]) for i, j in enumerate(jobs)
                           if v in j.vehicle_penalty and j.vehicle_penalty[v]))
        classes.setdefault(sig, []).append(v)
    for sig, vs in classes.items():
        m = cost.copy()
        for node, pen in sig:
            m[:, node] += pen
        np.fill_diagonal(m, 0)
        cb = routing.RegisterTransitMatrix(m.tolist())
        for v in vs:
            routing.SetArcCostEvaluatorOfVehicle(cb, v)

    horizon = int(max(v.end for v in vehicles)) + 1
    t_cb = routing.RegisterTransitMatrix(time_transit.tolist())
    routing.AddDimension(t_cb, horizon, horizon, False, "time")
    tdim = routing.GetDimensionOrDie("time")
    for v, veh in enumerate(vehicles):
        tdim.CumulVar(routing.Start(v)).SetRange(int(veh.start), int(veh.end))
        tdim.CumulVar(routing.End(v)).SetRange(int(veh.start), int(veh.end))
        if veh.max_span is not None:
            tdim.SetSpanUpperBoundForVehicle(int(veh.max_span), v)
        routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(routing.End(v)))
        routing.AddVariableMaximizedByFinalizer(tdim.CumulVar(routing.Start(v)))
    solver = routing.solver()
    if any(veh.max_age is not None for veh in vehicles):
        # the samples' age: a second time-like dimension whose leg out of the lab takes no
        # time, tied to the time dimension at every stop, so its span is the time from the
        # first stop's service start to the return (waits included)
        age_transit = time_transit.copy()
        age_transit[0, :] = 0
        a_cb = routing.RegisterTransitMatrix(age_transit.tolist())
        routing.AddDimension(a_cb, horizon, horizon, False, "age")
        adim = routing.GetDimensionOrDie("age")
        for v, veh in enumerate(vehicles):
            if veh.max_age is not None:
                adim.SetSpanUpperBoundForVehicle(int(veh.max_age), v)
        for node in range(1, n_nodes):
            idx = manager.NodeToIndex(node)
            solver.Add(adim.CumulVar(idx) == tdim.CumulVar(idx))
    for v1, v2, gap in problem.chains:
        solver.Add(tdim.CumulVar(routing.End(v1)) + int(gap) <= tdim.CumulVar(routing.Start(v2)))

    if any(veh.capacity < 10**9 for veh in vehicles):
        d_cb = routing.RegisterUnaryTransitVector([0] + [int(j.demand) for j in jobs])
        routing.AddDimensionWithVehicleCapacity(
            d_cb, 0, [int(min(v.capacity, 10**9)) for v in vehicles], True, "load")

    for i, job in enumerate(jobs):
        idx = manager.NodeToIndex(i + 1)
        if job.vehicles is not None:
            allowed = [int(x) for x in sorted(set(job.vehicles))]
            if not allowed:
                routing.AddDisjunction([idx], int(job.penalty))
                routing.VehicleVar(idx).SetValues([-1])
                continue
            # SetAllowedVehiclesForIndex has a broken Span binding in 9.15; same effect:
            routing.VehicleVar(idx).SetValues([-1] + allowed)
        if job.max_to_end is not None:
            for v in (job.vehicles if job.vehicles is not None else range(n_veh)):
                on_v = routing.VehicleVar(idx) == int(v)
                ok = tdim.CumulVar(routing.End(int(v))) - tdim.CumulVar(idx) <= int(job.max_to_end)
                solver.Add(on_v <= ok)
        if job.windows is not None:
            wins = []
            for a, b in sorted((int(a), int(b)) for a, b in job.windows if b >= a):
                if wins and a <= wins[-1][1] + 1:
                    wins[-1] = (wins[-1][0], max(wins[-1][1], b))
                else:
                    wins.append((a, b))
            if not wins:
                routing.AddDisjunction([idx], int(job.penalty))
                routing.ActiveVar(idx).SetValue(0)
                continue
            var = tdim.CumulVar(idx)
            var.SetRange(wins[0][0], wins[-1][1])
            for (a0, b0), (a1, b1) in zip(wins, wins[1:]):
                if a1 > b0 + 1:
                    var.RemoveInterval(b0 + 1, a1 - 1)
        routing.AddDisjunction([idx], int(job.penalty))

    def search_params(strategy: str, meta: str, seconds: float):
        p = pywrapcp.DefaultRoutingSearchParameters()
        p.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, strategy)
        p.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, meta)
        p.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
        if n_nodes > 150:
            # savings over each stop's nearest 60 only: on the 300-stop horizon bench the start
            # came in 3.5 s instead of 7.5 s, and the plan ended 1469 km, not 1487 km
            p.savings_parameters.neighbors_ratio = 60 / n_nodes
        if lns_time_limit_s:
            p.lns_time_limit.FromMilliseconds(int(lns_time_limit_s * 1000))
        p.log_search = log
        return p

    starts = AUTO_STARTS if first_solution == "auto" else [(first_solution, 1.0)]
    if time_limit_s < 3:
        starts = starts[:1]  # a quick check (a move, a replan) wants any plan, in full time

    found = {"n": 0, "best": None}

    def on_solution():
        # called for every accepted neighbour; report only the better ones
        objective = int(routing.CostVar().Min())
        if found["best"] is not None and objective >= found["best"]:
            return
        found["best"] = objective
        found["n"] += 1
        if progress is not None:
            progress({"solutions": found["n"], "objective": objective,
                      "objective_kr": round(objective / 100.0, 2),
                      "seconds": round(time.monotonic() - t0, 2)})

    routing.AddAtSolutionCallback(on_solution)

    done = threading.Event()
    watcher = None
    if cancel_event is not None:
        def watch():
            while not done.is_set():
                if cancel_event.wait(0.05):
                    routing.CancelSearch()
                    return
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    best: tuple | None = None  # (objective, routes, starts, ends, planned, status)
    try:
        for k, (strategy, share) in enumerate(starts):
            left = time_limit_s - (time.monotonic() - t0)
            if k and (left < 0.5 or (cancel_event is not None and cancel_event.is_set())):
                break
            # no plan yet: this start gets all the time left
            seconds = left if best is None and k else left * share / sum(w for _s, w in starts[k:])
            assignment = routing.SolveWithParameters(
                search_params(strategy, metaheuristic, max(0.001, seconds)))
            if assignment is not None and (best is None or assignment.ObjectiveValue() < best[0]):
                best = (assignment.ObjectiveValue(), *_read(routing, manager, tdim, assignment,
                                                             n_veh), int(routing.status()))
    finally:
        done.set()
        if watcher is not None:
            watcher.join()

    # RoutingSearchStatus: NOT_SOLVED, SUCCESS, PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED,
    # FAIL, FAIL_TIMEOUT, INVALID, INFEASIBLE, OPTIMAL
    code = best[5] if best is not None else int(routing.status())
    status = {0: "ikke løst", 1: "løst", 2: "løst (tidsgrænse nået)", 3: "ingen løsning",
              4: "ingen løsning inden for tidsgrænsen", 5: "ugyldig model", 6: "umulig",
              7: "optimal"}.get(code, "ukendt")
    if cancel_event is not None and cancel_event.is_set():
        status = "afbrudt"
    if best is None:
        return Solution([[] for _ in vehicles], [v.start for v in vehicles],
                        [v.start for v in vehicles], list(range(len(jobs))), 0, found["n"],
                        time.monotonic() - t0, status)
    objective, routes, starts_, ends, planned, _code = best
    dropped = [i for i in range(len(jobs)) if i not in planned]
    return Solution(routes, ends, starts_, dropped, int(objective), found["n"],
                    time.monotonic() - t0, status)


def _read(routing, manager, tdim, assignment, n_veh):
    routes: list[list[Stop]] = []
    starts, ends = [], []
    planned = set()
    for v in range(n_veh):
        idx = routing.Start(v)
        starts.append(assignment.Value(tdim.CumulVar(idx)))
        stops = []
        idx = assignment.Value(routing.NextVar(idx))
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            stops.append(Stop(node - 1, assignment.Value(tdim.CumulVar(idx))))
            planned.add(node - 1)
            idx = assignment.Value(routing.NextVar(idx))
        ends.append(assignment.Value(tdim.CumulVar(idx)))
        routes.append(stops)
    return routes, starts, ends, planned
