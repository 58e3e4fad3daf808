"""A fast first plan for a ``model.Problem``, keeping every rule the OR-Tools model keeps.

OR-Tools' own first-solution strategies grow with the problem faster than the time users
give it (about 50 s for the first plan of 600 stops over 10 days and 6 bioanalysts, 230 s at
1,200). ``construct`` places the stops one by one at their cheapest feasible position in
well under a second per thousand stops; the solver then starts from that plan
(``ReadAssignmentFromRoutes``) and improves it for the rest of the time limit.

The rules checked here are the model's (model.py): allowed vehicles (days, skills), service
start windows, a trip's hours, capacity, the trip's span (``max_span``), the samples' age from
the first stop's service start to the return (``max_age``), a stop's own stability limit
(``max_to_end``) and the order of a day's trips (``chains``). Waiting is allowed anywhere, as
in the model's time dimension; a schedule is checked with the earliest return to the lab and
the latest service starts that still allow it, which is the best one for every age limit.

Order of insertion: stops that must be planned (large penalty) first, then those with the
fewest allowed trips (a deadline tomorrow, an ECG), then the farthest from the lab first (they
seed the trips that the nearer ones then join). ``nearest_neighbour`` is the simple baseline
the horizon bench compares with: each trip, in time order, grows from the lab to the nearest
stop it may still take.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

Problem = Any  # model.Problem; model.solve calls this module, so it does not import model

INF = 1 << 62
NEAR = 40  # positions tried next to this many nearest planned stops (larger problems)
SMALL = 250  # up to this many stops every position of every allowed trip is tried


@dataclass
class Construction:
    routes: list[list[int]]  # per vehicle: job indices in order
    dropped: list[int]  # tried, no feasible position left
    unreached: list[int]  # not tried before the time budget ran out
    seconds: float


class _Static:
    """What every construction on one problem shares (built once per problem, kept on it)."""

    def __init__(self, p: Problem):
        jobs = p.jobs
        self.n = len(jobs)
        self.nv = len(p.vehicles)
        locs = np.array([p.depot] + [j.loc for j in jobs])
        # node 0 is the lab, node i + 1 is job i (the same numbering as the OR-Tools model)
        self.T = p.travel[np.ix_(locs, locs)].astype(np.int64)
        self.C = p.cost[np.ix_(locs, locs)].astype(np.int64)
        self.Tl = self.T.tolist()
        self.Cl = self.C.tolist()
        self.svc = [0] + [int(j.service) for j in jobs]
        self.dem = [0] + [int(j.demand) for j in jobs]
        self.mte = [None] + [j.max_to_end for j in jobs]
        every = frozenset(range(self.nv))
        self.allowed = [None] + [every if j.vehicles is None else frozenset(j.vehicles)
                                 for j in jobs]
        self.wins = [None] + [_merge(j.windows) for j in jobs]
        self.vp = [None] + [j.vehicle_penalty for j in jobs]
        self.pred: list[list[tuple[int, int]]] = [[] for _ in range(self.nv)]
        self.succ: list[list[tuple[int, int]]] = [[] for _ in range(self.nv)]
        for v1, v2, gap in p.chains:
            self.pred[v2].append((v1, int(gap)))
            self.succ[v1].append((v2, int(gap)))
        self.win_cache: dict[tuple[int, int], tuple[int, int] | None] = {}
        self.nearest = None


def _static(p: Problem) -> _Static:
    s = getattr(p, "_construct_static", None)
    if s is None or s.n != len(p.jobs) or s.nv != len(p.vehicles):
        s = _Static(p)
        p._construct_static = s
    return s


class _State:
    def __init__(self, problem: Problem):
        p = problem
        self.p = p
        s = _static(p)
        self.n, self.nv = s.n, s.nv
        self.T, self.C, self.Tl, self.Cl = s.T, s.C, s.Tl, s.Cl
        self.svc, self.dem, self.mte, self.allowed = s.svc, s.dem, s.mte, s.allowed
        self.wins, self.vp, self.pred, self.succ = s.wins, s.vp, s.pred, s.succ
        self.static = s
        self._win_cache = s.win_cache
        self.routes: list[list[int]] = [[] for _ in range(self.nv)]  # nodes (job + 1)
        self.load = [0] * self.nv
        self.end = [int(v.start) for v in p.vehicles]  # earliest return (== start when empty)
        self.where = [-1] * (self.n + 1)  # node → vehicle

    def win(self, node: int, v: int) -> tuple[int, int] | None:
        key = (node, v)
        w = self._win_cache.get(key, 0)
        if w != 0:
            return w
        veh = self.p.vehicles[v]
        lo, hi = int(veh.start), int(veh.end)
        ws = self.wins[node]
        out = None
        if ws is None:
            out = (lo, hi)
        else:
            for a, b in ws:  # the first window that meets the trip's hours
                a2, b2 = max(a, lo), min(b, hi)
                if a2 <= b2:
                    out = (a2, b2)
                    break
        self._win_cache[key] = out
        return out

    def earliest_start(self, v: int) -> int:
        t = int(self.p.vehicles[v].start)
        for v1, gap in self.pred[v]:
            t = max(t, self.end[v1] + gap)
        return t

    def schedule(self, v: int, seq: list[int], t0: int) -> int | None:
        """Earliest return to the lab of trip ``v`` driving ``seq`` from ``t0``, or None."""
        if not seq:
            return t0
        T, svc = self.Tl, self.svc
        veh = self.p.vehicles[v]
        t = t0
        prev = 0
        his = []
        for node in seq:
            w = self.win(node, v)
            if w is None:
                return None
            arr = t + T[prev][node]
            st = arr if arr > w[0] else w[0]
            if st > w[1]:
                return None
            his.append(w[1])
            t = st + svc[node]
            prev = node
        e = t + T[prev][0]
        if e > veh.end:
            return None
        need_age = veh.max_age is not None or veh.max_span is not None
        mte = self.mte
        if need_age or any(mte[x] is not None for x in seq):
            # latest service starts that still return at e
            late = e
            nxt = 0
            lat = [0] * len(seq)
            for k in range(len(seq) - 1, -1, -1):
                node = seq[k]
                late = min(his[k], late - svc[node] - T[node][nxt])
                lat[k] = late
                nxt = node
                m = mte[node]
                if m is not None and e - late > m:
                    return None
            if veh.max_age is not None and e - lat[0] > veh.max_age:
                return None
            if veh.max_span is not None and e - lat[0] + T[0][seq[0]] > veh.max_span:
                return None
        return e

    def slack(self, v: int) -> tuple[list[int], list[int]]:
        """Trip ``v`` as it is, for ``fits_windows``: the departure from each position (from
        the lab first, then after each stop's service) at the earliest, and the latest
        service start at each stop (the lab's return last: the trip's end) that keeps every
        later stop in its window and the return by the end. As ``schedule`` drives it."""
        seq, T, svc = self.routes[v], self.Tl, self.svc
        t = self.earliest_start(v)
        dep = [t]
        prev = 0
        for node in seq:
            w = self.win(node, v)
            arr = t + T[prev][node]
            t = (arr if arr > w[0] else w[0]) + svc[node]
            dep.append(t)
            prev = node
        late = [0] * len(seq) + [int(self.p.vehicles[v].end)]
        nxt = 0
        for k in range(len(seq) - 1, -1, -1):
            node = seq[k]
            late[k] = min(self.win(node, v)[1], late[k + 1] - svc[node] - T[node][nxt])
            nxt = node
        return dep, late

    def fits_windows(self, v: int, k: int, node: int, slack) -> bool:
        """Whether ``node`` put at position ``k`` of trip ``v`` keeps its own window, every
        later stop's and the trip's end (``slack``: ``slack(v)`` of the trip as it is):
        exactly what ``schedule`` checks of the windows, in a few steps instead of the whole
        trip. Only a filter: a position that passes is still checked in full (``feasible``:
        capacity, the samples' age, the day's other trips)."""
        w = self.win(node, v)
        if w is None:
            return False
        dep, late = slack
        seq, T = self.routes[v], self.Tl
        prev = seq[k - 1] if k else 0
        arr = dep[k] + T[prev][node]
        start = arr if arr > w[0] else w[0]
        if start > w[1]:
            return False
        nxt = seq[k] if k < len(seq) else 0
        return start + self.svc[node] + T[node][nxt] <= late[k]

    def feasible(self, v: int, seq: list[int]) -> int | None:
        """The new earliest return when trip ``v`` drives ``seq``, or None (chains checked)."""
        load = sum(self.dem[x] for x in seq)
        if load > self.p.vehicles[v].capacity:
            return None
        e = self.schedule(v, seq, self.earliest_start(v))
        if e is None:
            return None
        for v2, gap in self.succ[v]:
            if self.routes[v2]:
                t2 = max(int(self.p.vehicles[v2].start), e + gap)
                for v1, g1 in self.pred[v2]:
                    if v1 != v:
                        t2 = max(t2, self.end[v1] + g1)
                if self.schedule(v2, self.routes[v2], t2) is None:
                    return None
        return e

    def commit(self, v: int, seq: list[int], e: int) -> None:
        self.routes[v] = seq
        self.end[v] = e
        self.load[v] = sum(self.dem[x] for x in seq)
        for node in seq:
            self.where[node] = v
        for v2, _gap in self.succ[v]:
            if self.routes[v2]:
                self.end[v2] = self.schedule(v2, self.routes[v2], self.earliest_start(v2))

    def penalty(self, node: int, v: int) -> int:
        return int(self.vp[node].get(v, 0)) if self.vp[node] else 0


def _merge(windows) -> list[tuple[int, int]] | None:
    if windows is None:
        return None
    out: list[tuple[int, int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in windows if b >= a):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _order(st: _State, order: str) -> list[int]:
    """Insertion order: stops that must be planned (large penalty) first; then ``"tight"``:
    the fewest allowed trips first (a deadline tomorrow, an ECG), or ``"far"``: the farthest
    from the lab first (they seed the trips the nearer ones then join)."""
    jobs = st.p.jobs
    far = st.C[0, 1:] + st.C[1:, 0]

    def key(i):
        j = jobs[i]
        if order == "far":
            return (-int(j.penalty), -int(far[i]))
        return (-int(j.penalty), len(st.allowed[i + 1]), -int(far[i]))
    return sorted(range(st.n), key=key)


def _detours(st: _State, node: int, v: int, pen: int, out: list) -> None:
    """Appends to ``out`` ``(detour, v, position)`` for ``node`` at every position of trip
    ``v`` as it is (``pen``: the stop's soft cost on that trip, added to each detour)."""
    C = st.Cl
    r = st.routes[v]
    prev = 0
    for k in range(len(r) + 1):
        nxt = r[k] if k < len(r) else 0
        out.append((C[prev][node] + C[node][nxt] - C[prev][nxt] + pen, v, k))
        prev = nxt


def _insert(st: _State, node: int, near: list[int] | None, blink=None) -> bool:
    """Puts ``node`` at its cheapest feasible position costing less than its penalty (else
    leaving it out is cheaper, as in the model); False if there is none. ``blink``: (rng,
    rate): each feasible position is passed over with this chance (the next cheapest taken;
    the last feasible one never), the search's recreate (SISR's blinks)."""
    C = st.Cl
    limit = int(st.p.jobs[node - 1].penalty)
    allowed = st.allowed[node]
    cands: list[tuple[int, int, int]] = []  # (delta, vehicle, position)
    if near is None:
        vs = [v for v in allowed if st.routes[v]]
    else:
        vs = {st.where[u] for u in near if st.where[u] >= 0}
        vs = [v for v in vs if v in allowed]
    dem = st.dem[node]
    for v in vs:
        if st.load[v] + dem > st.p.vehicles[v].capacity:
            continue
        _detours(st, node, v, st.penalty(node, v), cands)
    # an empty trip: the cheapest few by soft cost, earliest first
    empties = sorted((st.penalty(node, v), v) for v in allowed if not st.routes[v])
    base = C[0][node] + C[node][0]
    for pen, v in empties[:8]:
        cands.append((base + pen, v, 0))
    cands.sort()
    passed = None  # a feasible position passed over (a blink), kept in case none follows
    slacks: dict[int, tuple] = {}  # per trip, for the windows' quick check
    for delta, v, k in cands:
        if delta >= limit:
            break
        r = st.routes[v]
        if r:
            slack = slacks.get(v)
            if slack is None:
                slack = slacks[v] = st.slack(v)
            if not st.fits_windows(v, k, node, slack):
                continue
        seq = r[:k] + [node] + r[k:]
        e = st.feasible(v, seq)
        if e is not None:
            if blink is not None and blink[0].random() < blink[1]:
                if passed is None:
                    passed = (v, seq, e)
                continue
            st.commit(v, seq, e)
            return True
    if passed is not None:
        st.commit(*passed)
        return True
    if near is not None:
        return _insert(st, node, None, blink)
    # the empty trips not tried above
    tried_v = {v for _d, v, _k in cands}
    for pen, v in empties:
        if v in tried_v or C[0][node] + C[node][0] + pen >= limit:
            continue
        e = st.feasible(v, [node])
        if e is not None:
            st.commit(v, [node], e)
            return True
    return False


REGRET_SORTS = {"regret": 2, "regret3": 3}  # construct's sort: the k of regret-k
REGRET_BIG = 1 << 40  # a missing second (third) trip in a regret: more than any detour


def _trip_delta(st: _State, node: int, v: int) -> int | None:
    """The cheapest detour (soft cost included) of ``node`` on trip ``v`` at a position that
    ``_insert`` would take (below the stop's penalty, every rule checked by ``feasible``),
    or None."""
    if v not in st.allowed[node] or st.load[v] + st.dem[node] > st.p.vehicles[v].capacity:
        return None
    C = st.Cl
    limit = int(st.p.jobs[node - 1].penalty)
    pen = st.penalty(node, v)
    r = st.routes[v]
    if not r:
        d = C[0][node] + C[node][0] + pen
        return d if d < limit and st.feasible(v, [node]) is not None else None
    cands: list[tuple[int, int, int]] = []
    _detours(st, node, v, pen, cands)
    cands.sort()
    slack = None
    for d, _v, k in cands:
        if d >= limit:
            break
        if slack is None:
            slack = st.slack(v)
        if not st.fits_windows(v, k, node, slack):
            continue
        if st.feasible(v, r[:k] + [node] + r[k:]) is not None:
            return d
    return None


def _chained(st: _State, v: int) -> set[int]:
    """``v`` and every trip joined to it by the day's chains (their schedules move with it)."""
    out, todo = {v}, [v]
    while todo:
        u = todo.pop()
        for w, _gap in st.pred[u] + st.succ[u]:
            if w not in out:
                out.add(w)
                todo.append(w)
    return out


def _regret_fill(st: _State, todo: list[int], rng, k: int, t0: float, budget: float,
                 cancel_event=None) -> tuple[list[int], list[int]]:
    """Regret-``k`` insertion (Potvin & Rousseau 1993; Ropke & Pisinger 2006) of the nodes
    ``todo``: each time, the stop whose cheapest detour on its best trip and on its next
    ``k - 1`` best trips differ most (the sum of the differences; a trip missing counts
    ``REGRET_BIG``, so a stop with fewer trips left goes first) is put in, by ``_insert``,
    at its cheapest feasible position; stops that must be planned (large penalty) still
    first, ties at random. The unused trips count as one trip (the cheapest that may take
    it). A stop that no trip may take is dropped. (dropped, unreached) as job indices."""
    pens = {x: int(st.p.jobs[x - 1].penalty) for x in todo}
    tie = {x: rng.random() for x in todo}
    left = set(todo)
    cost: dict[int, dict[int, int]] = {x: {} for x in todo}  # used trip -> detour
    empty: dict[int, int | None] = {}  # the cheapest unused trip's detour

    def fill_used(vs, xs):
        for x in xs:
            c = cost[x]
            for v in vs:
                c.pop(v, None)
                if st.routes[v]:
                    d = _trip_delta(st, x, v)
                    if d is not None:
                        c[v] = d

    def fill_empty(xs):
        for x in xs:
            best = None
            for _pen, v in sorted((st.penalty(x, v), v) for v in st.allowed[x]
                                  if not st.routes[v]):
                best = _trip_delta(st, x, v)  # the same detour plus the soft cost: the
                if best is not None:  # first that may take it is the cheapest
                    break
            empty[x] = best

    fill_used(range(st.nv), left)
    fill_empty(left)
    dropped: list[int] = []
    while left:
        if time.monotonic() - t0 > budget or (cancel_event is not None
                                              and cancel_event.is_set()):
            return dropped, sorted(x - 1 for x in left)
        pick, pick_key = None, None
        for x in left:
            ds = sorted(cost[x].values())
            if empty[x] is not None:
                ds.append(empty[x])
                ds.sort()
            if not ds:
                key = (pens[x], 1 << 62, tie[x])  # none left: dropped at once
            else:
                ds += [ds[0] + REGRET_BIG] * (k - len(ds))
                key = (pens[x], sum(d - ds[0] for d in ds[1:k]), tie[x])
            if pick_key is None or key > pick_key:
                pick, pick_key = x, key
        left.discard(pick)
        was_empty = {v for v in range(st.nv) if not st.routes[v]}
        if not (cost[pick] or empty[pick] is not None) or not _insert(st, pick, None):
            dropped.append(pick - 1)
            continue
        v = st.where[pick]
        moved = _chained(st, v)
        fill_used(moved, left)
        if v in was_empty or len(moved) > 1:
            fill_empty(left)
    return sorted(dropped), []


def objective(problem: Problem, c: Construction) -> int:
    return route_cost(problem, c.routes) + sum(int(problem.jobs[j].penalty)
                                               for j in c.dropped + c.unreached)


def best_start(problem: Problem, time_budget_s: float = 5.0, seed_routes=None,
               cancel_event=None, on_plan=None) -> Construction:
    """The cheapest (penalties for left-out stops included) of cheapest insertion in the two
    orders and nearest neighbour; each is tried while the budget lasts. Which wins differs
    (horizon bench: farthest-first at 300 stops over 6 bioanalysts, tightest-first when the
    days are full at 600, nearest neighbour at 1,200 over 24)."""
    t0 = time.monotonic()
    best, best_obj = None, None
    for how in ("far", "tight", "nearest"):
        left = time_budget_s - (time.monotonic() - t0)
        if best is not None and (left <= 0 or (cancel_event is not None
                                                and cancel_event.is_set())):
            break
        if how == "nearest":
            if seed_routes:
                continue
            c = nearest_neighbour(problem)
        else:
            c = construct(problem, time_budget_s=left if best is None else max(0.1, left),
                          seed_routes=seed_routes, cancel_event=cancel_event, order=how)
            if c.unreached and best is not None:
                continue
        obj = objective(problem, c)
        if best is None or obj < best_obj:
            best, best_obj = c, obj
            if on_plan is not None:
                on_plan(c, obj)
    best.seconds = time.monotonic() - t0
    return best


def construct(problem: Problem, time_budget_s: float = 5.0, seed_routes=None,
              cancel_event=None, order: str = "far", rng=None, sort: str = "random",
              blink: float = 0.0) -> Construction:
    """Cheapest feasible insertion, stop by stop (``_order``).

    ``seed_routes`` (per vehicle, job indices) is kept where still feasible, for re-planning
    from the current plan or repairing a search's plan; the rest are inserted. ``rng`` (a
    ``random.Random``) inserts them in a random order instead (stops that must be planned
    still first): the recreate step of the search's ruin and recreate (model._restarts);
    with it, ``sort`` orders them instead by ``"far"`` (from the lab, farthest first),
    ``"close"`` (nearest first), ``"demand"`` (largest first), ``"tight"`` (the narrowest
    time windows first) or ``"early"`` (the earliest window first), ties at random, or
    ``"regret"`` / ``"regret3"``: regret-2 or -3 insertion (``_regret_fill``: the order is
    chosen as they go in, the stop that loses most if it cannot have its best trip first;
    no blinks); ``blink`` is the chance of passing over a feasible position (``_insert``)."""
    t0 = time.monotonic()
    st = _State(problem)
    placed = set()
    if seed_routes:
        for v, jobs in enumerate(seed_routes[:st.nv]):
            seq = []
            for j in jobs:
                node = j + 1
                if v not in st.allowed[node] or node in placed:
                    continue
                e = st.feasible(v, seq + [node])
                if e is not None:
                    seq.append(node)
            if seq:
                st.commit(v, seq, st.feasible(v, seq))
                placed.update(seq)
    order = [i for i in _order(st, order) if i + 1 not in placed]
    if rng is not None:
        # a random order among stops of equal penalty (the search's recreate: each order
        # of insertion gives another plan)
        keys = {i: rng.random() for i in order}
        if sort != "random" and sort not in REGRET_SORTS:
            far = st.C[0, 1:] + st.C[1:, 0]
            def width(i):  # a stop without a window: any time, so last
                w = problem.jobs[i].windows
                return sum(int(b) - int(a) for a, b in w) if w else 1 << 62

            def early(i):
                w = problem.jobs[i].windows
                return min(int(a) for a, _b in w) if w else 1 << 62

            by = {"far": lambda i: -int(far[i]), "close": lambda i: int(far[i]),
                  "demand": lambda i: -int(problem.jobs[i].demand),
                  "tight": width, "early": early}[sort]
            order.sort(key=lambda i: (-int(problem.jobs[i].penalty), by(i), keys[i]))
        else:
            order.sort(key=lambda i: (-int(problem.jobs[i].penalty), keys[i]))
    if rng is not None and sort in REGRET_SORTS:
        dropped, unreached = _regret_fill(st, [i + 1 for i in order], rng, REGRET_SORTS[sort],
                                          t0, time_budget_s, cancel_event)
        routes = [[x - 1 for x in r] for r in st.routes]
        return Construction(routes, dropped, unreached, time.monotonic() - t0)
    blinks = (rng, blink) if rng is not None and blink > 0 else None
    nearest = None
    if st.n > SMALL:
        if st.static.nearest is None:
            k = min(NEAR, st.n - 1)
            sub = st.C[1:, 1:] + st.C[1:, 1:].T
            np.fill_diagonal(sub, np.iinfo(np.int64).max)
            st.static.nearest = (np.argpartition(sub, k, axis=1)[:, :k] + 1).tolist()
        nearest = st.static.nearest
    dropped, unreached = [], []
    for pos, i in enumerate(order):
        if (pos % 16 == 0 and (time.monotonic() - t0 > time_budget_s
                               or (cancel_event is not None and cancel_event.is_set()))):
            unreached = order[pos:]
            break
        node = i + 1
        near = None if nearest is None else nearest[i]
        if not _insert(st, node, near, blinks):
            dropped.append(i)
    routes = [[x - 1 for x in r] for r in st.routes]
    return Construction(routes, sorted(dropped), sorted(unreached), time.monotonic() - t0)


def schedule_times(problem: Problem, routes: list[list[int]]) -> list[tuple[list[int], int, int]]:
    """Per vehicle: (service starts, departure, return) of the given routes, latest starts
    that keep the earliest return (the samples' age as small as it gets)."""
    st = _State(problem)
    out = []
    order = sorted(range(st.nv), key=lambda v: (st.p.vehicles[v].start, v))
    res: dict[int, tuple[list[int], int, int]] = {}
    for v in order:
        seq = [j + 1 for j in routes[v]]
        t0 = st.earliest_start(v)
        if not seq:
            res[v] = ([], int(st.p.vehicles[v].start), int(st.p.vehicles[v].start))
            continue
        e = st.schedule(v, seq, t0)
        if e is None:  # should not happen for a plan this module made
            e = t0
        st.end[v] = e
        late = e
        nxt = 0
        lat = [0] * len(seq)
        for k in range(len(seq) - 1, -1, -1):
            node = seq[k]
            w = st.win(node, v)
            late = min(w[1] if w else late, late - st.svc[node] - st.Tl[node][nxt])
            lat[k] = late
            nxt = node
        res[v] = (lat, lat[0] - st.Tl[0][seq[0]], e)
    for v in range(st.nv):
        out.append(res[v])
    return out


def nearest_neighbour(problem: Problem) -> Construction:
    """The baseline: trips in time order, each grown from the lab to the nearest stop (by
    cost) it may still take under every rule; what no trip takes is dropped."""
    t0 = time.monotonic()
    st = _State(problem)
    todo = set(range(1, st.n + 1))
    C = st.C
    order = sorted(range(st.nv), key=lambda v: (st.p.vehicles[v].start, v))
    for v in order:
        seq: list[int] = []
        cur = 0
        cand = np.array([x for x in todo if v in st.allowed[x]], dtype=np.int64)
        while len(cand):
            ranked = cand[np.argsort(C[cur, cand], kind="stable")]
            took = None
            for x in ranked.tolist()[:200]:
                e = st.feasible(v, seq + [x])
                if e is not None:
                    took = x
                    break
            if took is None:
                break
            seq.append(took)
            st.commit(v, seq, e)
            todo.discard(took)
            cand = cand[cand != took]
            cur = took
    routes = [[x - 1 for x in r] for r in st.routes]
    return Construction(routes, sorted(x - 1 for x in todo), [], time.monotonic() - t0)


def route_cost(problem: Problem, routes: list[list[int]]) -> int:
    """Arc cost of the routes plus the soft costs (the model's objective without drops)."""
    st = _State(problem)
    total = 0
    for v, r in enumerate(routes):
        prev = 0
        for j in r:
            total += st.Cl[prev][j + 1] + st.penalty(j + 1, v)
            prev = j + 1
        if r:
            total += st.Cl[prev][0]
    return total
