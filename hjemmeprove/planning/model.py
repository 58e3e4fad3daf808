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

How a plan is found (``solve``): construct.py builds a complete first plan under the same
rules in about a second (it is also the plan kept if nothing better comes in time). A small
problem (a department's day or week, Solomon) then runs OR-Tools' metaheuristic from its own
first solutions (``auto_starts``) and, for the rest of each start's time, an iterated local
search of ruin, recreate and descent (``_restarts``); a larger one starts from the constructed plan and is
improved a block at a time (``_improve_by_day``: single days, then areas across days), since
the local search makes no move within minutes on the whole horizon at a region's size. Stops left out although they
fit are put back at the end; stops nobody tried before the limit are reported as
``Solution.unreached`` (not reached in time), never as a lack of room.

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
from ortools.util import optional_boolean_pb2


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
    # dropped jobs nobody tried to place before the time limit (not a lack of room)
    unreached: list[int] = field(default_factory=list)


Progress = Callable[[dict], None]

# "auto" (small problems): the metaheuristic from the first of these first solutions, one
# more per ``START_SECONDS`` of the limit and process, and the best result kept; with two
# workers the second process takes every other start. Guided local search improves
# steadily for many seconds at 100 stops once the slow operators are off
# (``SLOW_OPERATORS``), and on a shared machine a 10-second limit is far less CPU time than
# that: on eight instances of the tuning half (R103, R107, R111, R203, R211, RC103, RC107,
# RC205; odd-numbered, bench/solomon.py) at 10 s on two processes under load, one start per
# process (insertion here, savings in the other) came out 5.7 % above the best known in
# geometric mean, two each 6.7 %, the former six equal starts (three each) 6.8 %; one each
# was shorter than six on seven of the eight, and than two each on six (two ties).
# Other search options tried on the tuning half (neighbour lists, λ, the operator bandit, a
# different second process) did no better: docs/libraries.md. Each start's search hands
# over to ``_restarts`` after ``RESTART_AFTER`` of its time.
AUTO_STARTS = [("PARALLEL_CHEAPEST_INSERTION", 1.0), ("SAVINGS", 1.0),
               ("LOCAL_CHEAPEST_INSERTION", 1.0), ("SEQUENTIAL_CHEAPEST_INSERTION", 1.0),
               ("PATH_CHEAPEST_ARC", 1.0), ("CHRISTOFIDES", 1.0)]
START_SECONDS = 10.0


def auto_starts(time_limit_s: float, workers: int = 1) -> list[str]:
    """The first solutions "auto" runs on a small problem: one per ``START_SECONDS`` of the
    limit and process, at least one per process."""
    lanes = 2 if workers > 1 and time_limit_s >= 3 else 1
    return [s for s, _w in AUTO_STARTS[:lanes * max(1, int(time_limit_s / START_SECONDS))]]


SMALL_NODES = 300  # up to this many stops and ...
SMALL_VEHICLES = 60  # ... trips, OR-Tools' own first solutions come fast enough


def solve(problem: Problem, time_limit_s: float = 10.0, progress: Progress | None = None,
          cancel_event: threading.Event | None = None, first_solution: str = "auto",
          metaheuristic: str = "GUIDED_LOCAL_SEARCH", lns_time_limit_s: float | None = None,
          log: bool = False, initial_routes: list[list[int]] | None = None,
          workers: int = 1) -> Solution:
    """The best plan found within ``time_limit_s``.

    ``first_solution``: "auto" (below), "CONSTRUCT" (construct.py's insertion only) or an
    OR-Tools first solution strategy. "auto" on a small problem (``SMALL_NODES`` stops and
    ``SMALL_VEHICLES`` trips) runs the metaheuristic from each of ``auto_starts`` (one
    per process and ``START_SECONDS``) and keeps the best; on a larger one OR-Tools' own
    starts take longer than the limit (about 50 s for 600 stops over 20 trips), so the
    search starts from construct.py's plan,
    which takes well under a second. ``initial_routes`` (per vehicle, job indices; the current
    plan when re-planning) seeds that construction. ``workers`` > 1 (3 s or more) runs every
    other start of a small problem in a second process (OR-Tools holds the GIL while it
    searches) and keeps the better plan; on a larger problem a second process improves
    other blocks meanwhile (``_BlockHelper``).

    ``progress(dict)`` gets ``solutions``, ``objective``, ``objective_kr``, ``seconds``,
    ``planned`` and ``total`` (stops) for every better plan found.
    """
    from hjemmeprove.planning import construct as _construct

    t0 = time.monotonic()
    jobs, vehicles = problem.jobs, problem.vehicles
    n_nodes = 1 + len(jobs)
    n_veh = len(vehicles)
    total = len(jobs)
    if not jobs or not vehicles:
        return Solution([[] for _ in vehicles], [v.start for v in vehicles],
                        [v.start for v in vehicles], list(range(len(jobs))), 0, 0, 0.0,
                        "tom")
    small = n_nodes <= SMALL_NODES and n_veh <= SMALL_VEHICLES
    if first_solution == "auto":
        starts = ([(s, 1.0) for s in auto_starts(time_limit_s, workers)] if small
                  else [("CONSTRUCT", 1.0)])
    else:
        starts = [(first_solution, 1.0)]
    if time_limit_s < 3:
        starts = starts[:1]  # a quick check (a move, a replan) wants any plan, in full time

    found = {"n": 0, "best": None}

    def report(objective: int, planned: int) -> None:
        if found["best"] is not None and objective >= found["best"]:
            return
        found["best"] = objective
        found["n"] += 1
        if progress is not None:
            progress({"solutions": found["n"], "objective": objective,
                      "objective_kr": round(objective / 100.0, 2),
                      "seconds": round(time.monotonic() - t0, 2),
                      "planned": planned, "total": total})

    # a complete first plan fast, whatever the size (construct.py); also the plan kept when
    # OR-Tools' own starts find nothing better in time
    built = _construct.best_start(problem, time_budget_s=max(0.02, time_limit_s * 0.4),
                                  seed_routes=initial_routes, cancel_event=cancel_event,
                                  on_plan=lambda c, obj: report(
                                      obj, total - len(c.dropped) - len(c.unreached)))

    if not small and first_solution == "auto":
        left = time_limit_s - (time.monotonic() - t0)
        def on_better(r):
            planned = {x for rr in r for x in rr}
            report(_construct.route_cost(problem, r) + sum(
                int(jobs[j].penalty) for j in range(total) if j not in planned), len(planned))

        routes = _improve_by_day(problem, built.routes, left, metaheuristic, cancel_event,
                                 on_better, workers)
        if routes is not None:
            return _finish(problem, routes, t0, found["n"], built, report, time_limit_s,
                           cancel_event)

    # iterated local search after GLS (``_restarts``) in the lanes ``RESTART_LANES`` names
    # (0: this process, 1: the second one), on a small problem from OR-Tools' own starts
    restarts = (small and first_solution != "CONSTRUCT"
                and time_limit_s >= RESTART_MIN_SECONDS)
    child = None
    if workers > 1 and small and len(starts) > 1 and time_limit_s >= 3:
        # every other start in a second process, with the whole limit shared among them
        child = _spawn(problem, [s for s, _w in starts[1::2]], metaheuristic,
                       time_limit_s - (time.monotonic() - t0) - 0.2,
                       restarts and RESTART_LANES[1])
        starts = starts[0::2]
    restarts = restarts and RESTART_LANES[0]

    routing, manager, tdim = _build(problem)

    def search_params(strategy: str, meta: str, seconds: float):
        p = search_parameters(strategy, meta, seconds, n_nodes)
        if lns_time_limit_s:
            p.lns_time_limit.FromMilliseconds(int(lns_time_limit_s * 1000))
        p.log_search = log
        return p

    node_idx = [manager.NodeToIndex(i) for i in range(n_nodes)]

    def on_solution():
        # called for every accepted neighbour; report only the better ones
        objective = int(routing.CostVar().Min())
        if found["best"] is not None and objective >= found["best"]:
            return
        planned = sum(1 for i in node_idx[1:] if routing.NextVar(i).Value() != i)
        report(objective, planned)

    routing.AddAtSolutionCallback(on_solution)

    done = threading.Event()
    watcher = _cancel_watcher(routing, cancel_event, done)
    best: tuple | None = None  # (objective, routes, starts, ends, planned, status)
    try:
        for k, (strategy, share) in enumerate(starts):
            left = time_limit_s - (time.monotonic() - t0)
            if k and (left < 0.5 or (cancel_event is not None and cancel_event.is_set())):
                break
            # no plan yet: this start gets all the time left
            seconds = left if best is None and k else left * share / sum(w for _s, w in starts[k:])
            params = search_params(strategy, metaheuristic, max(0.001, seconds))
            if strategy == "CONSTRUCT":
                routing.CloseModelWithParameters(params)
                initial = routing.ReadAssignmentFromRoutes(
                    [[node_idx[j + 1] for j in r] for r in built.routes], True)
                if initial is None:  # should not happen: construct keeps the model's rules
                    assignment = routing.SolveWithParameters(
                        search_params("PARALLEL_CHEAPEST_INSERTION", metaheuristic,
                                      max(0.001, seconds)))
                else:
                    assignment = routing.SolveFromAssignmentWithParameters(initial, params)
            elif restarts:
                end = time.monotonic() + seconds
                assignment = routing.SolveWithParameters(
                    search_params(strategy, metaheuristic, max(0.001, seconds * RESTART_AFTER)))
                if assignment is not None:
                    assignment = _restarts(
                        problem, routing, manager, assignment,
                        lambda: (0.0 if cancel_event is not None and cancel_event.is_set()
                                 else end - time.monotonic()),
                        lambda sec: search_params("CONSTRUCT", "GREEDY_DESCENT", sec), seed=k,
                        probe=PROBE_LANES[0] and child is not None,
                        swap=child[1] if child is not None and k == 0 else None)
            else:
                assignment = routing.SolveWithParameters(params)
            if assignment is not None and (best is None or assignment.ObjectiveValue() < best[0]):
                best = (assignment.ObjectiveValue(), *_read(routing, manager, tdim, assignment,
                                                             n_veh), int(routing.status()))
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
    if child is not None:
        other = _collect(child, cancel_event)
        if other is not None and (best is None or other[0] < best[0]):
            best = other
            report(int(other[0]), len(other[4]))

    # RoutingSearchStatus: NOT_SOLVED, SUCCESS, PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED,
    # FAIL, FAIL_TIMEOUT, INVALID, INFEASIBLE, OPTIMAL
    code = best[5] if best is not None else int(routing.status())
    status = STATUS.get(code, "ukendt")
    unreached: list[int] = []
    if best is not None and built is not None and any(built.routes) and (
            _construct.objective(problem, built) < best[0]):
        best = None  # e.g. a start the limit cut short with most stops left out
    if best is None and built is not None and any(built.routes):
        # the search found nothing better in time: the constructed plan stands
        times = _construct.schedule_times(problem, built.routes)
        routes = [[Stop(j, t) for j, t in zip(r, times[v][0])] for v, r in enumerate(built.routes)]
        planned = {j for r in built.routes for j in r}
        best = (_construct.route_cost(problem, built.routes)
                + sum(int(jobs[j].penalty) for j in range(len(jobs)) if j not in planned),
                routes, [t[1] for t in times], [t[2] for t in times], planned, code)
        status = "løst (første plan; tidsgrænse nået)"
    if best is not None and len(best[4]) < total and not (
            cancel_event is not None and cancel_event.is_set()):
        # stops the search left out although they fit (it ran out of time before it got to
        # them, or the limit cut a start short): put them where they fit
        kept = [[st.job for st in r] for r in best[1]]
        fixed = _construct.construct(
            problem, time_budget_s=max(0.02, min(1.0, time_limit_s - (time.monotonic() - t0))),
            seed_routes=kept)
        now = {j for r in fixed.routes for j in r}
        if now > set(best[4]):
            times = _construct.schedule_times(problem, fixed.routes)
            routes = [[Stop(j, t) for j, t in zip(r, times[v][0])]
                      for v, r in enumerate(fixed.routes)]
            best = (_construct.objective(problem, fixed), routes, [t[1] for t in times],
                    [t[2] for t in times], now, best[5])
            report(int(best[0]), len(now))
    if built is not None and built.unreached and best is not None:
        # the construction ran out of time before trying these; the search did not place
        # them either: not reached in time, which says nothing about room on the routes
        unreached = [j for j in built.unreached if j not in best[4]]
    elif best is None:
        unreached = list(range(len(jobs)))
    if cancel_event is not None and cancel_event.is_set():
        status = "afbrudt"
    elif unreached:
        status = "ufuldstændig (tidsgrænse nået)"
    if best is None:
        return Solution([[] for _ in vehicles], [v.start for v in vehicles],
                        [v.start for v in vehicles], list(range(len(jobs))), 0, found["n"],
                        time.monotonic() - t0, status, unreached)
    objective, routes, starts_, ends, planned, _code = best
    dropped = [i for i in range(len(jobs)) if i not in planned]
    return Solution(routes, ends, starts_, dropped, int(objective), found["n"],
                    time.monotonic() - t0, status, unreached)


DAY = 86400


def _units(problem: Problem) -> list[list[int]]:
    """The vehicles that move together: trips joined by ``chains`` (a bioanalyst's day)."""
    parent = list(range(len(problem.vehicles)))

    def root(v):
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v
    for a, b, _gap in problem.chains:
        parent[root(a)] = root(b)
    out: dict[int, list[int]] = {}
    for v in range(len(problem.vehicles)):
        out.setdefault(root(v), []).append(v)
    return sorted(out.values())


AREA_STOPS = 80  # stops in one block of an area (the bioanalyst-days that serve it)
AREA_EMPTY = 2  # unused bioanalyst-days added to an area's block, where its stops may go
AREA_CPU_SECONDS = 2.0  # CPU seconds per block of an area
DAY_SHARE = 0.2  # of the improvement's time: the single days


def _area_block(problem: Problem, out: list[list[int]], units: list[list[int]],
                unit_of: list[int], near: np.ndarray, seed: int,
                busy: set[int] = frozenset()) -> list[int]:
    """The vehicles of the bioanalyst-days that serve the area around job ``seed`` (nearest
    stops first, whole days until ``AREA_STOPS`` stops), and a few unused ones that its
    stops may move to: the block lets a stop change day and bioanalyst within an area, so
    an area visited on several days can be gathered on fewer. ``busy`` units are left out
    (another process has them)."""
    where = {}
    for v, r in enumerate(out):
        for j in r:
            where[j] = v
    chosen: list[int] = []
    seen: set[int] = set(busy)
    n = 0
    for j in near[seed].tolist():
        v = where.get(j)
        if v is None or unit_of[v] in seen:
            continue
        u = unit_of[v]
        seen.add(u)
        chosen.append(u)
        n += sum(len(out[x]) for x in units[u])
        if n >= AREA_STOPS:
            break
    # unused bioanalyst-days most of the block's stops may move to
    votes: dict[int, int] = {}
    for u in chosen:
        for v in units[u]:
            for j in out[v]:
                allowed = problem.jobs[j].vehicles
                for w in (allowed if allowed is not None else ()):
                    if not out[w] and unit_of[w] not in seen:
                        votes[unit_of[w]] = votes.get(unit_of[w], 0) + 1
    extra = sorted(votes, key=lambda u: (-votes[u], u))[:AREA_EMPTY]
    return sorted(v for u in chosen + extra for v in units[u])


def _improve_by_day(problem: Problem, routes: list[list[int]], seconds: float, metaheuristic,
                    cancel_event, on_better, workers: int = 1) -> list[list[int]] | None:
    """Improves a plan a block at a time: the whole horizon at once is too large for OR-Tools'
    local search to make a single move within minutes (1,200 stops over 480 trips), a block
    of about a hundred stops is not. The first pass takes one day at a time (the routes of
    each day); then blocks by area (``_area_block``): the bioanalyst-days serving the
    surroundings of one stop, whatever their day, so stops move between days and bioanalysts
    where that gathers an area on fewer days (blocks of neighbouring days let a stop move one
    day only). The areas' seeds go round the plan, each the stop farthest from the seeds so
    far. With ``workers`` > 1 a second process improves other blocks meanwhile (never one
    sharing a bioanalyst-day with the block searched here). None if there is one day only."""
    by_day: dict[int, list[int]] = {}
    for v, veh in enumerate(problem.vehicles):
        by_day.setdefault(int(veh.start) // DAY, []).append(v)
    if len(by_day) < 2:
        return None
    t0, c0 = time.monotonic(), time.process_time()
    out = [list(r) for r in routes]
    units = _units(problem)
    unit_of = [0] * len(problem.vehicles)
    for u, vs in enumerate(units):
        for v in vs:
            unit_of[v] = u
    helper = _BlockHelper(metaheuristic) if workers > 1 and seconds >= 6 else None
    busy: set[int] = set()  # the units of the block in the other process

    def apply(vs_, jmap, better) -> None:
        # the block's own stops, each once, on its own trips (a stale answer never lands)
        if better is not None and len(better) == len(vs_) and sorted(
                j for r in better for j in r) == list(range(len(jmap))):
            for k, v in enumerate(vs_):
                out[v] = [jmap[j] for j in better[k]]
            on_better(out)

    def collect(wait: float = 0.0) -> None:
        if helper is None or helper.task is None:
            return
        got = helper.result(wait)
        if got is not None:  # done, or given up: its bioanalyst-days are free again
            (vs_, jmap), better = got
            apply(vs_, jmap, better)
            busy.clear()

    def hand_over(vs, spend) -> bool:
        """The block to the other process, if it is free; True if taken."""
        if helper is None or helper.task is not None or not helper.alive():
            return False
        task = _block_task(problem, vs, out, spend)
        if task is None:
            return False
        sub, vs_, jmap, routes_, spend = task
        helper.submit(sub, routes_, spend, (vs_, jmap))
        busy.update(unit_of[v] for v in vs_)
        return True

    def run(vs, spend) -> None:
        task = _block_task(problem, vs, out, spend)
        if task is None:
            return
        sub, vs_, jmap, routes_, spend = task
        better = _improve(sub, routes_, spend, metaheuristic, cancel_event)
        apply(vs_, jmap, better)

    def stopped() -> bool:
        return cancel_event is not None and cancel_event.is_set()

    try:
        # one day at a time, where a day is about an area's block in size: its routes in
        # good order fast (a larger day is slow to search whole; the areas take it in parts)
        blocks = [by_day[d] for d in sorted(by_day)]
        weights = [1 + sum(len(out[v]) for v in vs) for vs in blocks]
        small = [(vs, w) for vs, w in zip(blocks, weights) if w <= 2 * AREA_STOPS]
        blocks, weights = [b for b, _w in small], [w for _b, w in small]
        budget = seconds * DAY_SHARE * sum(weights) / max(1, sum(len(r) for r in out))
        if helper is not None:
            budget *= 2  # two processes share the days
        left_w, t_pass = sum(weights), time.monotonic()
        for vs, w in zip(blocks, weights):
            if stopped():
                return out
            collect()
            spend = (budget - (time.monotonic() - t_pass)) * w / left_w
            left_w -= w
            if not hand_over(vs, spend):
                run(vs, spend)

        # areas, for the rest of the time
        n = len(problem.jobs)
        locs = np.array([j.loc for j in problem.jobs])
        sim = problem.cost[np.ix_(locs, locs)].astype(np.int64)
        sim = sim + sim.T
        near = np.argsort(sim, axis=1, kind="stable")
        planned = [j for r in out for j in r]
        if not planned:
            return out
        gap = np.full(n, np.iinfo(np.int64).max)
        on = np.zeros(n, dtype=bool)

        def next_seed(seed: int) -> int:
            nonlocal gap
            gap = np.minimum(gap, sim[seed])
            on[:] = False
            on[[j for r in out for j in r]] = True
            cand = np.where(on, gap, -1)
            nxt = int(np.argmax(cand))
            if cand[nxt] <= 0:  # every stop was near a seed: round again
                gap[:] = np.iinfo(np.int64).max
            return nxt

        seed = planned[0]
        while not stopped():
            left = seconds - (time.monotonic() - t0)
            if left < 0.3:
                break
            # a block gains most in its first ~2 CPU seconds (300/6, one block: 7 % after
            # 1.3, 21 % after 2.0, 24 % after 3.7); on a shared machine that is longer
            ran = time.monotonic() - t0
            cpu_share = (time.process_time() - c0) / ran if ran > 2.0 else 1.0
            spend = AREA_CPU_SECONDS / min(1.0, max(0.2, cpu_share))
            if left < 1.5 * spend:
                spend = left
            collect()
            if helper is not None and helper.task is None and left > 1.0:
                if hand_over(_area_block(problem, out, units, unit_of, near, seed, busy),
                             min(left - 0.5, spend)):
                    seed = next_seed(seed)
            run(_area_block(problem, out, units, unit_of, near, seed, busy), min(left, spend))
            seed = next_seed(seed)
        if not stopped():  # the other process's last block, due by the limit
            collect(max(0.0, seconds - (time.monotonic() - t0)) + 0.5)
    finally:
        if helper is not None:
            helper.close()
    return out


class _BlockHelper:
    """A second process improving one block at a time (OR-Tools holds Python's lock while it
    searches, so a thread would not run beside the search here)."""

    def __init__(self, metaheuristic: str):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # no fork: the caller may be a GUI with threads
        self.conn, child_end = ctx.Pipe()
        self.proc = ctx.Process(target=_block_child, args=(child_end, metaheuristic),
                                daemon=True)
        self.proc.start()
        child_end.close()
        self.task = None  # what the block in progress is about (the caller's)
        self.tid = 0  # its number: the answer carries it
        self.deadline = 0.0

    def alive(self) -> bool:
        return self.proc.is_alive()

    def submit(self, sub: Problem, routes: list[list[int]], seconds: float, about) -> None:
        # the deadline in wall-clock time: the process's start-up counts against the search
        self.tid += 1
        self.conn.send((self.tid, sub, routes, time.time() + seconds))
        self.task = about
        self.deadline = time.monotonic() + seconds + 2.0

    def result(self, wait: float = 0.0):
        """(about, routes or None) once the block is done or given up (too late, the process
        gone), else None. An answer to an earlier block given up is thrown away."""
        about = self.task
        try:
            t_end = time.monotonic() + max(0.0, wait)
            while self.conn.poll(max(0.0, t_end - time.monotonic())):
                tid, better = self.conn.recv()
                if tid == self.tid:
                    self.task = None
                    return about, better
        except (EOFError, OSError):
            self.task = None
            return about, None
        if time.monotonic() > self.deadline or not self.proc.is_alive():
            self.task = None
            return about, None
        return None

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(0.5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(1.0)
        self.conn.close()


def _block_child(conn, metaheuristic):  # pragma: no cover (subprocess)
    try:
        while True:
            msg = conn.recv()
            if msg is None:
                break
            tid, sub, routes, deadline = msg
            left = deadline - time.time()
            better = None
            if left > 0.1:
                try:
                    better = _improve(sub, routes, left, metaheuristic, None)
                except Exception:  # noqa: BLE001 - the parent keeps the block as it was
                    better = None
            conn.send((tid, better))
    except (EOFError, OSError):
        pass
    finally:
        conn.close()




def _block_task(problem: Problem, vs: list[int], out: list[list[int]], spend: float):
    """(sub-problem, its vehicles, job map, its routes, seconds) of a block, or None."""
    job_ids = [j for v in vs for j in out[v]]
    if spend < 0.05 or not job_ids:
        return None
    sub, jmap = _sub_problem(problem, vs, job_ids)
    inv = {j: k for k, j in enumerate(jmap)}
    return sub, vs, jmap, [[inv[j] for j in out[v]] for v in vs], spend


def _sub_problem(problem: Problem, vs: list[int], job_ids: list[int]):
    """The block's own problem: its trips, its stops, and the matrices over their positions
    only (no copy of the whole horizon's matrices per block)."""
    vmap = {v: k for k, v in enumerate(vs)}
    locs = sorted({problem.depot} | {problem.jobs[j].loc for j in job_ids})
    lmap = {x: k for k, x in enumerate(locs)}
    jobs = []
    for j in job_ids:
        job = problem.jobs[j]
        allowed = vs if job.vehicles is None else [v for v in job.vehicles if v in vmap]
        jobs.append(Job(loc=lmap[job.loc], service=job.service, demand=job.demand,
                        penalty=job.penalty, vehicles=[vmap[v] for v in allowed],
                        windows=job.windows,
                        vehicle_penalty={vmap[v]: p for v, p in job.vehicle_penalty.items()
                                         if v in vmap},
                        max_to_end=job.max_to_end, key=job.key))
    chains = [(vmap[a], vmap[b], gap) for a, b, gap in problem.chains if a in vmap and b in vmap]
    ix = np.ix_(locs, locs)
    return Problem(problem.cost[ix], problem.travel[ix], jobs,
                   [problem.vehicles[v] for v in vs], lmap[problem.depot], chains), job_ids


def _improve(problem: Problem, routes: list[list[int]], seconds: float, metaheuristic,
             cancel_event) -> list[list[int]] | None:
    """The metaheuristic from the given routes for ``seconds``; the routes it ends with."""
    routing, manager, tdim = _build(problem)
    p = search_parameters("CONSTRUCT", metaheuristic, seconds, 1 + len(problem.jobs))
    routing.CloseModelWithParameters(p)
    initial = routing.ReadAssignmentFromRoutes(
        [[manager.NodeToIndex(j + 1) for j in r] for r in routes], True)
    if initial is None:
        return None
    done = threading.Event()
    watcher = _cancel_watcher(routing, cancel_event, done)
    try:
        a = routing.SolveFromAssignmentWithParameters(initial, p)
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
    if a is None or a.ObjectiveValue() > initial.ObjectiveValue():
        return None
    out = [[] for _ in problem.vehicles]
    for v in range(len(problem.vehicles)):
        idx = a.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(idx):
            out[v].append(manager.IndexToNode(idx) - 1)
            idx = a.Value(routing.NextVar(idx))
    if sum(map(len, out)) < sum(map(len, routes)):
        return None  # never trade a planned stop for km
    return out


def _finish(problem, routes, t0, n_found, built, report, time_limit_s, cancel_event):
    """The Solution for routes improved outside one OR-Tools search: left-out stops put where
    they fit, times from construct.py's schedule."""
    from hjemmeprove.planning import construct as _construct

    total = len(problem.jobs)
    planned = {j for r in routes for j in r}
    if len(planned) < total and not (cancel_event is not None and cancel_event.is_set()):
        fixed = _construct.construct(
            problem, time_budget_s=max(0.02, min(1.0, time_limit_s - (time.monotonic() - t0))),
            seed_routes=routes)
        now = {j for r in fixed.routes for j in r}
        if now > planned:
            routes, planned = fixed.routes, now
            report(_construct.objective(problem, fixed), len(now))
    sol = solution_from_routes(problem, routes, status="løst (tidsgrænse nået)")
    sol.solutions_found = n_found
    sol.seconds = time.monotonic() - t0
    sol.unreached = [j for j in built.unreached if j not in planned]
    if cancel_event is not None and cancel_event.is_set():
        sol.status = "afbrudt"
    elif sol.unreached:
        sol.status = "ufuldstændig (tidsgrænse nået)"
    return sol


# OR-Tools 9.15 runs these large-neighbourhood operators by default; each re-inserts whole
# routes with an insertion heuristic, mostly for pickup-and-delivery and visit types, which
# the planner has none of. Without them the local search accepts about 2.7 times as many
# moves per CPU second (Solomon R103, R211: 1,500 moves in 15 s instead of 43 s) and reaches
# the same or shorter plans after as many moves (R211 777.3 against 823.4)
SLOW_OPERATORS = ("use_global_cheapest_insertion_path_lns",
                  "use_local_cheapest_insertion_path_lns",
                  "use_relocate_path_global_cheapest_insertion_insert_unperformed",
                  "use_global_cheapest_insertion_visit_types_lns",
                  "use_local_cheapest_insertion_visit_types_lns")


def search_parameters(strategy: str, metaheuristic: str, seconds: float, n_nodes: int):
    """OR-Tools' search parameters: ``strategy`` an OR-Tools first solution strategy (or
    "CONSTRUCT": the search starts from given routes), the metaheuristic for ``seconds``."""
    p = pywrapcp.DefaultRoutingSearchParameters()
    if strategy != "CONSTRUCT":
        p.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, strategy)
    p.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic,
                                           metaheuristic)
    for name in SLOW_OPERATORS:
        setattr(p.local_search_operators, name, optional_boolean_pb2.BOOL_FALSE)
    p.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    if n_nodes > 150:
        # savings over each stop's nearest 60 only: on the 300-stop horizon bench the start
        # came in 3.5 s instead of 7.5 s, and the plan ended 1469 km, not 1487 km
        p.savings_parameters.neighbors_ratio = 60 / n_nodes
    return p


# Iterated local search of our own after guided local search (small problems, ``solve``):
# GLS stops improving after a few seconds at 100 stops, and OR-Tools 9.15's own iterated
# local search did not run from Python (docs/libraries.md). After ``RESTART_AFTER`` of a
# search's time, again and again: the current plan is ruined (the stops nearest a random
# stop, strings of stops out of several neighbouring trips, or one whole trip taken out),
# recreated with construct.py's cheapest insertion in a random order (which keeps every rule
# of the model), and becomes the current plan if it is no more than a shrinking threshold
# longer (``RESTART_THRESHOLD`` of its km at first, nothing at the end; on long trips
# ``RESTART_THRESHOLD_LONG``, below). A recreated plan
# better than the best so far is taken to its local optimum by OR-Tools' local search
# (greedy descent) and kept as the best. The descent takes 60-100 ms at 100 stops (it scans
# the whole plan), a ruin and recreate about 4 ms: with a descent every round, 30-100
# rounds fitted in 10 s; with it only on a new best, thousands do.
# On eight of the tuning half (R201, R205, R209, R211, RC203, RC207, R103, R107; 10 s, two
# processes, load about 4) ours/PyVRP went from 1.035 to 1.019 with this, and to 1.012 with
# GLS's share cut from 40 % to 20 % of each start's time (10 %: 1.035, GLS's plan is then
# too rough; R211 ended on 3 trips at 842 km).
# The probe (``PROBE_*``): the recreate hardly ever opens a trip while the used ones have
# room, and a ruined trip often closes one, so the search only went down in trips (Solomon
# R211, R207: 3 long trips where PyVRP's 4 are shorter). From ``PROBE_AT`` of the restarts'
# time a process goes on from its best plan with one trip more (``_seed_trip``), accepts
# no plan with fewer trips, and runs the descent on a new best for the plan's number of
# trips (else no descent would run in the probe); then on
# from its best plan of all. Only on long trips (``PROBE_MIN_STOPS``): on short ones the
# windows set their number, and the probe made R101-R109 and RC103 longer (tuning half, 10 s:
# R107 1.035 against 1.014, RC103 1.072 against 1.039). Tuned on R201, R207, R211, RC201
# (fewer trips than PyVRP at more km), with R103, RC103, R109, C105 as controls, then the
# whole tuning half: docs/libraries.md.
RESTART_AFTER = 0.2
RESTART_LANES = (True, True)  # this process, the second one (``workers`` 2)
RESTART_MIN_SECONDS = 3.0
RESTART_SECONDS = 2.0  # at most, per local search
RESTART_THRESHOLD = 0.02
# on long trips (``_long_trips``, Solomon R2/RC2) the current plan may drift further. Found
# on RC208, a held-out instance (so it is not unseen for this constant): under 2 % the
# search kept to the basin of its first good plan, 805-848 km on 4 trips in four runs of
# four where PyVRP has 776.1; with 6 %, 777-788 km. On the tuning half's 23 long instances
# (R2/RC2 odd, the wide variants; two rounds) 6 % is within the noise of 2 % (1.0068 and
# 1.0097x PyVRP against 1.0108 and 1.0083; 4 %: 1.0115, 9 %: 1.0089, 6 % in the second
# process only: 1.0152, one round each); on the short ten (R1/RC1) it is longer (1.0151
# against 1.0066), so short trips keep 2 % (docs/libraries.md)
RESTART_THRESHOLD_LONG = 0.06
RUIN_STOPS = (0.08, 0.25)  # share of the stops taken out around a random one
RUIN_TRIP = 0.2  # how often a whole trip goes instead
RUIN_STRINGS = 0.5  # how often, otherwise, strings out of several trips (``_ruin_strings``)
STRING_MEAN = 10  # stops taken out by ``_ruin_strings``, on average
STRING_MAX = 10  # the longest string
PROBE_AT = 0.4  # of the restarts' time: the probe with one trip more (``_restarts``) ...
PROBE_SHARE = 0.3  # ... for this share of it
PROBE_LANES = (True, True)  # this process, the second one (``workers`` 2; alone, none)
PROBE_MIN_STOPS = 12  # only where the best plan's trips have this many stops on average
# the two processes (``workers`` 2) swap their best plans at these shares of the restarts'
# time (``_Swap``); one more than ``SWAP_GAP`` behind goes on from the other's plan with
# its own seed. So both probe from the better plan (``SWAP_AT`` before ``PROBE_AT``) and go
# on from the better result of the two probes. Without it one start's search could stay in
# a poor basin for the whole run and its process's time was lost: on RC203W4
# (bench/solomon_wide.py) the process from parallel cheapest insertion ended at 794.9 km on
# 3 trips (PyVRP: 736.6 on 4) in five runs of six, whichever lane it ran in. On the long
# tuning set (tuning-half R2/RC2 and their wide variants, 23 instances, two rounds) 1.0050x
# PyVRP against 1.0069x without, worst run 1.019 against 1.029; short ten within the noise
# (docs/libraries.md)
SWAP_AT = (0.35, 0.75)
SWAP_GAP = 0.005
# the recreate's order of insertion, drawn per round with these weights (``construct``'s
# ``sort``), and its blinks: the chance of passing over a feasible position (SISR). On long
# trips only (``PROBE_MIN_STOPS``): on the tuning half it shortened R2 (R205 0.96x, R211
# 0.98x main's km in the same run) and lengthened R1 (R105 1.017x); docs/libraries.md.
# "regret", "regret3": regret-2/-3 insertion (construct._regret_fill; no blinks), 4-5x
# the time of a round in the other orders (R211: 6 against 1.4 ms), so about 40 % of the
# recreates' time. They put together trips that overlap (wide windows): on variants of
# the tuning half with wider windows (bench/solomon_wide.py) RC207W3 went from 1.025 to
# 1.000x PyVRP, the same 3 trips; neutral on the tuning half's R2/RC2 (docs/libraries.md)
RECREATE_SORTS = (("random", 4), ("demand", 4), ("far", 2), ("close", 1), ("regret", 1),
                  ("regret3", 1))
BLINK = 0.01
# short trips' recreate (Solomon R1, RC1: tight windows, about 7 stops a trip): half the
# rounds in a random order, a quarter the narrowest windows first, a quarter the earliest
# window first; no blinks. Tuned on the tuning half's R1/RC1: docs/libraries.md
SHORT_SORTS = (("random", 2), ("tight", 1), ("early", 1))


def _recreate(problem: Problem, kept: list[list[int]], rng, seconds: float,
              varied: bool = True):
    """construct.py's cheapest insertion of the stops ``kept`` lacks: ``varied``, in an
    order drawn from ``RECREATE_SORTS``, with ``BLINK``; else (short trips) in an order
    drawn from ``SHORT_SORTS``, without blinks."""
    from hjemmeprove.planning import construct as _construct

    if not varied:
        sort = rng.choices([s for s, _w in SHORT_SORTS], [w for _s, w in SHORT_SORTS])[0]
        return _construct.construct(problem, time_budget_s=seconds, seed_routes=kept, rng=rng,
                                    sort=sort)
    sort = rng.choices([s for s, _w in RECREATE_SORTS], [w for _s, w in RECREATE_SORTS])[0]
    return _construct.construct(problem, time_budget_s=seconds, seed_routes=kept, rng=rng,
                                sort=sort, blink=BLINK)


def _ruin(problem: Problem, routes: list[list[int]], rng) -> list[list[int]]:
    """``routes`` with some stops taken out: the nearest ones to a random stop, strings of
    stops on several neighbouring trips (``_ruin_strings``), or a whole trip."""
    planned = [j for r in routes for j in r]
    used = [v for v, r in enumerate(routes) if r]
    if not planned:
        return routes
    if len(used) > 1 and rng.random() < RUIN_TRIP:
        v = rng.choice(used)
        return [[] if u == v else list(r) for u, r in enumerate(routes)]
    if rng.random() < RUIN_STRINGS:
        return _ruin_strings(problem, routes, rng)
    lo, hi = RUIN_STOPS
    k = max(2, min(len(planned), rng.randint(int(lo * len(planned)), int(hi * len(planned)))))
    locs = np.array([problem.jobs[j].loc for j in planned])
    c = problem.jobs[rng.choice(planned)].loc
    near = np.argsort(problem.cost[c, locs] + problem.cost[locs, c], kind="stable")[:k]
    gone = {planned[i] for i in near.tolist()}
    return [[j for j in r if j not in gone] for r in routes]


def _ruin_strings(problem: Problem, routes: list[list[int]], rng) -> list[list[int]]:
    """Slack induction by string removals (Christiaens and Vanden Berghe, 2020): from a
    random stop outwards, a string of consecutive stops (a random length, at most
    ``STRING_MAX`` and about a trip's average) out of each of a few trips met, one string
    per trip; about ``STRING_MEAN`` stops in all. Where the radial ruin empties one patch,
    this leaves gaps in several trips side by side, so stops can change trips there."""
    where: dict[int, tuple[int, int]] = {}
    for v, r in enumerate(routes):
        for i, j in enumerate(r):
            where[j] = (v, i)
    planned = list(where)
    n_used = sum(1 for r in routes if r)
    ls_max = min(float(STRING_MAX), len(planned) / max(1, n_used))
    ks_max = 4.0 * STRING_MEAN / (1.0 + ls_max) - 1.0
    n_strings = max(1, int(rng.uniform(1.0, ks_max + 1.0)))
    locs = np.array([problem.jobs[j].loc for j in planned])
    c = problem.jobs[rng.choice(planned)].loc
    order = np.argsort(problem.cost[c, locs] + problem.cost[locs, c], kind="stable")
    gone: set[int] = set()
    ruined: set[int] = set()
    for k in order.tolist():
        if len(ruined) >= n_strings:
            break
        v, i = where[planned[k]]
        if v in ruined:
            continue
        r = routes[v]
        length = min(len(r), int(rng.uniform(1.0, min(len(r), ls_max) + 1.0)))
        first = rng.randint(max(0, i - length + 1), min(i, len(r) - length))
        gone.update(r[first:first + length])
        ruined.add(v)
    return [[j for j in r if j not in gone] for r in routes]


def _seed_trip(problem: Problem, routes: list[list[int]], rng) -> list[list[int]] | None:
    """``routes`` with about a trip's worth of stops taken out around a random stop and the
    one of them farthest from the lab put alone on an unused trip it may take: the start of
    a plan with one trip more (``_restarts``' probe). None if no unused trip may take it."""
    planned = [j for r in routes for j in r]
    n_used = sum(1 for r in routes if r)
    if not planned or n_used == len(routes):
        return None
    k = max(2, min(len(planned), len(planned) // (n_used + 1)))
    locs = np.array([problem.jobs[j].loc for j in planned])
    c = problem.jobs[rng.choice(planned)].loc
    near = np.argsort(problem.cost[c, locs] + problem.cost[locs, c], kind="stable")[:k]
    gone = [planned[i] for i in near.tolist()]
    d = problem.depot
    gone.sort(key=lambda j: -(int(problem.cost[d, problem.jobs[j].loc])
                              + int(problem.cost[problem.jobs[j].loc, d])))
    out = [[j for j in r if j not in set(gone)] for r in routes]
    for j in gone:
        allowed = problem.jobs[j].vehicles
        free = [v for v, r in enumerate(out) if not r and (allowed is None or v in allowed)]
        if free:
            out[free[0]] = [j]
            return out
    return None


def _trips(routes: list[list[int]]) -> int:
    return sum(1 for r in routes if r)


def _long_trips(routes: list[list[int]]) -> bool:
    """Whether the plan's trips have ``PROBE_MIN_STOPS`` stops or more on average (Solomon
    R2/RC2; on R1/RC1 the windows keep trips short and set their number): where
    ``_restarts`` probes, recreates in varied orders and lets the current plan drift further
    (``RESTART_THRESHOLD_LONG``)."""
    return sum(map(len, routes)) >= PROBE_MIN_STOPS * max(1, _trips(routes))


def _restarts(problem: Problem, routing, manager, assignment, left: Callable[[], float],
              params: Callable[[float], object], seed: int, probe: bool = False,
              swap: "_Swap | None" = None):
    """Ruin, recreate and local search from ``assignment`` while ``left()`` seconds remain;
    the best assignment found (``assignment`` if none is better). ``params(seconds)``: the
    search parameters of one local search (greedy descent from given routes).

    ``probe``: from ``PROBE_AT`` to ``PROBE_AT + PROBE_SHARE`` of the time, the search goes
    on from the best plan with one trip more (``_seed_trip``) and accepts no plan with fewer
    trips; then on from the best plan of all. The recreate hardly ever opens a trip while
    the used ones have room and a ruined trip often closes one, so without it the search
    only ever goes down in trips (Solomon R2/RC2: 3 long trips where 4 are shorter).

    ``swap``: the other process's channel; at ``SWAP_AT`` of the time this one offers its
    best plan, and on from the other's if this one is more than ``SWAP_GAP`` behind."""
    import random

    from hjemmeprove.planning import construct as _construct

    rng = random.Random(seed)
    n_veh = len(problem.vehicles)

    def routes_of(a) -> list[list[int]]:
        out = []
        for v in range(n_veh):
            idx = a.Value(routing.NextVar(routing.Start(v)))
            r = []
            while not routing.IsEnd(idx):
                r.append(manager.IndexToNode(idx) - 1)
                idx = a.Value(routing.NextVar(idx))
            out.append(r)
        return out

    def descend(routes: list[list[int]]):
        """``routes`` taken to their local optimum by OR-Tools' descent (``params``), or
        None. RoutesToAssignment, not ReadAssignmentFromRoutes: the latter runs under the
        last search's spent time limit and then often fails."""
        start = routing.solver().Assignment(best)
        if not routing.RoutesToAssignment(
                [[manager.NodeToIndex(j + 1) for j in r] for r in routes], True, True, start):
            return None
        return routing.SolveFromAssignmentWithParameters(
            start, params(max(0.05, min(RESTART_SECONDS, left()))))

    best = routing.solver().Assignment(assignment)
    best_obj = best.ObjectiveValue()
    current, current_obj = routes_of(best), best_obj
    span = max(1e-3, left())
    floor = 0  # fewest trips accepted (the probe's)
    elite: dict[int, int] = {}  # the best objective met per number of trips
    top = routes_of(best)
    # the varied recreate (``RECREATE_SORTS``, ``BLINK``) and the wider threshold on long
    # trips only, as the probe
    varied = _long_trips(top)
    drift = RESTART_THRESHOLD_LONG if varied else RESTART_THRESHOLD
    phase = 0  # 0 before the probe, 1 in it, 2 after
    offers = list(SWAP_AT) if swap is not None else []
    while left() > 0.1:
        done = 1.0 - left() / span
        if offers and done >= offers[0]:
            offers.pop(0)
            swap.offer(int(best_obj), routes_of(best))
        other = swap.take() if swap is not None else None
        if other is not None and other[0] < best_obj * (1.0 - SWAP_GAP):
            a = descend(other[1])
            if a is not None and a.ObjectiveValue() < best_obj:
                best, best_obj = routing.solver().Assignment(a), a.ObjectiveValue()
                current, current_obj = routes_of(best), best_obj
                elite[_trips(current)] = best_obj
        if probe and phase == 0 and done >= PROBE_AT:
            phase = 1
            top = routes_of(best)
            if not _long_trips(top):
                phase = 2  # short trips: their number is the windows' (Solomon R1, RC1)
                continue
            seeded = _seed_trip(problem, top, rng)
            if seeded is not None:
                fresh = _construct.construct(
                    problem, time_budget_s=max(0.05, min(1.0, left() / 4)),
                    seed_routes=seeded, rng=rng)
                if not fresh.unreached and not fresh.dropped:
                    current = fresh.routes
                    current_obj = _construct.objective(problem, fresh)
                    floor = _trips(current)
        elif phase == 1 and done >= PROBE_AT + PROBE_SHARE:
            phase, floor = 2, 0
            current, current_obj = routes_of(best), best_obj
        kept = _ruin(problem, current, rng)
        fresh = _recreate(problem, kept, rng, max(0.05, min(1.0, left() / 4)), varied)
        if fresh.unreached:
            continue
        routes, obj = fresh.routes, _construct.objective(problem, fresh)
        if obj < best_obj or (floor and obj < elite.get(_trips(routes), obj + 1)):
            # a new best (in the probe: for its number of trips): OR-Tools' descent takes it
            # to its local optimum (most of the time of a round that runs it, so only these
            # get it)
            elite[_trips(routes)] = obj
            a = descend(routes)
            if a is None:
                continue
            if a.ObjectiveValue() < best_obj:
                best, best_obj = routing.solver().Assignment(a), a.ObjectiveValue()
            down = routes_of(a)
            elite[_trips(down)] = min(a.ObjectiveValue(), elite.get(_trips(down), best_obj))
            if _trips(down) >= floor:  # the probe keeps its trips (the descent may merge)
                routes, obj = down, a.ObjectiveValue()
        if _trips(routes) < floor:
            continue
        threshold = (drift * max(0.0, left()) / span * rng.random()
                     * _construct.route_cost(problem, current))
        if obj < current_obj + threshold:
            current, current_obj = routes, obj
    return best

STATUS = {0: "ikke løst", 1: "løst", 2: "løst (tidsgrænse nået)", 3: "ingen løsning",
          4: "ingen løsning inden for tidsgrænsen", 5: "ugyldig model", 6: "umulig",
          7: "optimal"}


def _build(problem: Problem):
    """The OR-Tools model of ``problem``: (routing, manager, time dimension)."""
    jobs, vehicles = problem.jobs, problem.vehicles
    n_nodes = 1 + len(jobs)
    n_veh = len(vehicles)
    locs = np.array([problem.depot] + [j.loc for j in jobs])
    service = np.array([0] + [j.service for j in jobs], dtype=np.int64)
    travel = problem.travel[np.ix_(locs, locs)].astype(np.int64)
    cost = problem.cost[np.ix_(locs, locs)].astype(np.int64)
    time_transit = travel + service[:, None]

    manager = pywrapcp.RoutingIndexManager(n_nodes, n_veh, 0)
    routing = pywrapcp.RoutingModel(manager)

    # arc costs: one matrix per class of vehicles with the same soft penalties (built from
    # the jobs' penalty dicts, not by asking every job about every vehicle)
    per_vehicle: list[list[tuple[int, int]]] = [[] for _ in range(n_veh)]
    for i, j in enumerate(jobs):
        for v, pen in j.vehicle_penalty.items():
            if pen:
                per_vehicle[int(v)].append((i + 1, int(pen)))
    classes: dict[tuple, list[int]] = {}
    for v in range(n_veh):
        classes.setdefault(tuple(sorted(per_vehicle[v])), []).append(v)
    for sig, vs in classes.items():
        m = cost.copy()
        if sig:
            nodes = np.array([a for a, _b in sig])
            m[:, nodes] += np.array([b for _a, b in sig])[None, :]
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
    return routing, manager, tdim


def _spawn(problem: Problem, strategies: list[str], metaheuristic: str, seconds: float,
           restarts: bool = False):
    """Starts searches in a separate process; ``_collect`` waits for its best plan."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # no fork: the caller may be a GUI with threads
    parent, child_end = ctx.Pipe()  # both ways: the restarts swap plans (``_Swap``)
    # the deadline in wall-clock time, shared by both processes: the second one's start-up
    # (imports, the model) counts against its search time, not past the limit
    proc = ctx.Process(target=_child, args=(child_end, problem, strategies, metaheuristic,
                                            time.time() + seconds, restarts), daemon=True)
    proc.start()
    child_end.close()
    return proc, _Swap(parent), time.monotonic() + seconds + 5.0


class _Swap:
    """One end of the pipe between the two processes: ``offer`` sends this one's best plan,
    ``take`` the other's if it has come (without waiting). The second process's last
    message is its result (``_collect``); one that comes while this end looks for a plan is
    kept for that."""

    def __init__(self, conn):
        self.conn = conn
        self.result = None  # ("best", plan) once the other process has sent it

    def offer(self, objective: int, routes: list[list[int]]) -> None:
        try:
            self.conn.send(("swap", objective, routes))
        except (OSError, ValueError):
            pass  # the other one has ended: nothing to swap with

    def take(self):
        """(objective, routes): the best plan the other process has sent since the last
        call, or None if none has come."""
        got = None
        try:
            while self.result is None and self.conn.poll(0):
                msg = self.conn.recv()
                if msg[0] != "swap":
                    self.result = msg
                elif got is None or msg[1] < got[0]:
                    got = (msg[1], msg[2])
        except (EOFError, OSError):
            pass
        return got

    def recv(self, timeout: float):
        """The next message that is not a swap, within ``timeout`` seconds, or None."""
        if self.result is not None:
            msg, self.result = self.result, None
            return msg
        end = time.monotonic() + timeout
        while self.conn.poll(max(0.0, end - time.monotonic())):
            msg = self.conn.recv()
            if msg[0] != "swap":
                return msg
        return None


def _child(conn, problem, strategies, metaheuristic, deadline,
           restarts=False):  # pragma: no cover (subprocess)
    swap = _Swap(conn)
    try:
        routing, manager, tdim = _build(problem)
        best = None
        n_nodes = len(problem.jobs) + 1
        for k, strategy in enumerate(strategies):
            left = deadline - time.time()
            if left < 0.2:
                break
            share = left / (len(strategies) - k)
            if restarts:
                end = time.time() + share
                a = routing.SolveWithParameters(
                    search_parameters(strategy, metaheuristic, share * RESTART_AFTER, n_nodes))
                if a is not None:
                    a = _restarts(problem, routing, manager, a, lambda: end - time.time(),
                                  lambda sec: search_parameters("CONSTRUCT", "GREEDY_DESCENT",
                                                                sec, n_nodes),
                                  seed=1000 + k, probe=PROBE_LANES[1],
                                  swap=swap if k == 0 else None)
            else:
                a = routing.SolveWithParameters(
                    search_parameters(strategy, metaheuristic, share, n_nodes))
            if a is not None and (best is None or a.ObjectiveValue() < best[0]):
                best = (a.ObjectiveValue(), *_read(routing, manager, tdim, a,
                                                   len(problem.vehicles)),
                        int(routing.status()))
        conn.send(("best", best))
    except Exception:  # noqa: BLE001 - the parent keeps its own plan
        try:
            conn.send(("best", None))
        except (OSError, ValueError):
            pass
    finally:
        conn.close()


def _collect(child, cancel_event):
    proc, swap, deadline = child
    try:
        while time.monotonic() < deadline:
            if cancel_event is not None and cancel_event.is_set():
                return None
            msg = swap.recv(0.05)
            if msg is not None:
                return msg[1]
            if not proc.is_alive() and not swap.conn.poll(0):
                return None
        return None
    except (EOFError, OSError):
        return None
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(1.0)
        swap.conn.close()


def solution_from_routes(problem: Problem, routes: list[list[int]],
                         status: str = "løst (grådig)") -> Solution:
    """A ``Solution`` from routes made outside OR-Tools (construct.py), with their times."""
    from hjemmeprove.planning import construct as _construct

    t0 = time.monotonic()
    times = _construct.schedule_times(problem, routes)
    planned = {j for r in routes for j in r}
    dropped = [j for j in range(len(problem.jobs)) if j not in planned]
    objective = (_construct.route_cost(problem, routes)
                 + sum(int(problem.jobs[j].penalty) for j in dropped))
    return Solution([[Stop(j, t) for j, t in zip(r, times[v][0])] for v, r in enumerate(routes)],
                    [t[2] for t in times], [t[1] for t in times], dropped, objective, 1,
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


def _cancel_watcher(routing, cancel_event, done: threading.Event):
    """A thread that stops the search when ``cancel_event`` is set (OR-Tools holds Python's
    lock while it searches, so the caller's thread can't); ends with ``done``."""
    if cancel_event is None:
        return None

    def watch():
        while not done.is_set():
            if cancel_event.wait(0.05):
                routing.CancelSearch()
                return
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher
