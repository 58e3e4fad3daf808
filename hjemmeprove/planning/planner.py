"""From requests, bioanalysts and working days to an OR-Tools problem and back (no database).

Decisions where the spec is silent (each a setting or a constant here):

- the working day is made of *trips* from the lab and back (``make_trips``): by default two
  of free length, lunch (``lunch_minutes``) at the lab between them or on the way when there is
  one; no trip's first sample is on the road longer than the stability limit. With a limit
  shorter than a half day, fixed slots with ``reload_minutes`` at the lab between them. A
  request with its own, shorter limit may only be sampled late enough in a trip;
- the earliest sampling day is the working day after receipt (receipt is day 0), or the
  request's own ``earliest`` if later;
- a request whose deadline lies inside the period is planned at all costs (a large penalty
  if left out); one whose deadline lies after the period is planned when it costs less than
  ``later_penalty_kr`` in extra driving, else left for a later run (reported with its reason);
- objective in øre: km × (transport-time rate + mileage rate) + ferry minutes × the
  transport-time rate (1 ferry minute = 1 km-equivalent at 60 km/h) + soft costs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from hjemmeprove.domain import formats
from hjemmeprove.domain.calendar import WEEKDAYS
from hjemmeprove.domain.lifecycle import first_allowed_day, last_allowed_day
from hjemmeprove.planning import construct, model
from hjemmeprove.planning.distances import DistanceSource

DAY = 86400
# a stop the search did not get to before the time limit: no statement about room on the routes
TIME_LIMIT_REASON = ("ikke nået inden for tidsgrænsen (planlæg igen med en længere "
                     "tidsgrænse)")
WEEKDAY_NAMES_DA = ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]


@dataclass
class PlanConfig:
    service_minutes: int = 10  # arrival, parking, unpacking
    sampling_minutes: int = 5  # per person
    ekg_minutes: int = 10
    stability_minutes: int = 240
    lunch_minutes: int = 30
    reload_minutes: int = 10
    km_rate_kr: float = 5.33 + 3.94  # transport time per km + mileage per km
    minute_rate_kr: float = 5.33  # ferry minute as km-equivalent at the transport-time rate
    deadline_penalty_kr: float = 20000.0
    later_penalty_kr: float = 2000.0
    preferred_day_kr: float = 30.0
    area_day_kr: float = 60.0
    same_analyst_kr: float = 15.0
    # kr per visit per day after its first possible day. Off: deadlines are hard anyway, and
    # even 0.3 kr (horizon bench) packed visits into the first days at +400 km, since it splits
    # the trips into one cost class per day and steers the savings start to the earliest days
    per_day_later_kr: float = 0.0
    area_days: dict[str, int] = field(default_factory=lambda: {"Langeland": 1, "Tåsinge": 1})
    reply_window_minutes: int = 120
    # a day of a morning and an afternoon trip may instead be one trip with lunch on the way,
    # or trips of any length with lunch at the lab between them (see make_trips)
    flexible_trips: bool = True
    # a full optimisation hands a route to a bioanalyst who drives fewer days than their
    # share, where one with the same hours is free that day (balance_days): no km change,
    # soft costs (the regular bioanalyst) up to this many kr per day handed over
    balance_kr: float = 100.0


@dataclass
class PlanAnalyst:
    id: int
    name: str
    day_start: dt.time
    day_end: dt.time
    skills: frozenset = frozenset()
    capacity: int = 24
    absent: frozenset = frozenset()  # dates


@dataclass
class PlanRequest:
    id: int
    lat: float | None
    lon: float | None
    received: dt.date
    deadline: dt.date
    earliest: dt.date | None = None
    window_start: dt.time | None = None
    window_end: dt.time | None = None
    ekg: bool = False
    preferred_days: str = ""
    stability_minutes: int | None = None
    locked_date: dt.date | None = None
    locked_start: dt.time | None = None
    locked_end: dt.time | None = None
    regular_analyst: int | None = None
    citizen_id: int | None = None
    agreement_end: dt.date | None = None  # §13: nothing is planned after the agreement ends
    # the agreement's reply window (minutes); None: PlanConfig.reply_window_minutes
    reply_window_minutes: int | None = None
    # the position is a postcode centre, not the address: its time is not to be trusted
    approximate: bool = False


@dataclass
class Trip:
    analyst: PlanAnalyst
    day_index: int
    date: dt.date
    number: int  # 1, 2, ... within the day
    start: int  # absolute seconds
    end: int
    max_age: int | None = None  # first sample → back at the lab; None: the slot's span bounds it


@dataclass
class PlannedStop:
    request_ids: list[int]
    trip: int  # trip number within the day
    arrival: dt.time
    lat: float
    lon: float
    leg_km: float
    leg_minutes: float
    leg_ferry_minutes: float
    leg_ferry_link: str
    service_minutes: int
    reply_start: dt.time
    reply_end: dt.time
    approximate: bool = False


@dataclass
class PlannedRoute:
    analyst_id: int
    date: dt.date
    stops: list[PlannedStop]
    km: float
    minutes: int
    ferry_minutes: float
    start: dt.time
    end: dt.time
    lab_returns: int


@dataclass
class PlanOutcome:
    routes: list[PlannedRoute]
    unplanned: list[tuple[int, str]]
    objective_kr: float
    solutions: int
    seconds: float
    status: str
    # (request id, Danish text) for the coordinator: promises resting on an approximate position
    warnings: list[tuple[int, str]] = field(default_factory=list)


def _sec(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _time(sec: int) -> dt.time:
    sec = int(sec) % DAY
    return dt.time(sec // 3600, (sec % 3600) // 60)


LUNCH_AT = 12 * 3600  # lunch at the lab around noon


def make_trips(analysts: list[PlanAnalyst], days: list[dt.date], cfg: PlanConfig
               ) -> tuple[list[Trip], list[tuple[int, int, int]]]:
    """Each bioanalyst's day cut into trips from the lab and back, and the chains between them.

    No sample is on the road longer than the stability limit. When the whole day fits within
    the limit, there is one slot and lunch is taken on the way (the slot is shortened by it).

    Otherwise, with ``flexible_trips`` (default) and a day of two halves, the day has two
    trips of free length: the first may last all day with lunch on the way (it ends ``lunch``
    before the day does), the second leaves the lab at the earliest half an hour after the
    first's return around noon (lunch at the lab). Stability is kept per trip from the first
    sample to the return to the lab (``Trip.max_age``), so a trip to a far area need not turn
    back at noon just because it left at 08:00. A day with only a morning's work is then one
    trip, not two with a lab return.

    Else (short stability limits, or ``flexible_trips`` off) the day is cut into fixed slots of
    at most the limit, lunch at the lab at noon between two of them and ``reload_minutes``
    between the others; the slot's span bounds the samples' age.
    """
    trips: list[Trip] = []
    chains: list[tuple[int, int, int]] = []
    S = cfg.stability_minutes * 60 if cfg.stability_minutes else 10**9
    L = cfg.lunch_minutes * 60
    R = cfg.reload_minutes * 60
    for d, day in enumerate(days):
        for a in analysts:
            if day in a.absent:
                continue
            start, end = _sec(a.day_start), _sec(a.day_end)
            if end <= start:
                continue
            if end - start - L <= S:
                trips.append(Trip(a, d, day, 1, d * DAY + start, d * DAY + end - L))
                continue
            slots = []
            t = start
            lunch_done = L == 0 or not (start < LUNCH_AT < end)
            while t < end - 15 * 60:
                stop = min(t + S, end)
                if not lunch_done and t < LUNCH_AT:
                    stop = min(stop, LUNCH_AT)
                slots.append((t, stop))
                if not lunch_done and stop >= LUNCH_AT - R:
                    t = stop + L
                    lunch_done = True
                else:
                    t = stop + R
            if (cfg.flexible_trips and len(slots) == 2 and L > 0 and slots[0][1] == LUNCH_AT
                    and slots[0][1] - slots[0][0] <= S and slots[1][1] - slots[1][0] <= S):
                base = d * DAY
                first = Trip(a, d, day, 1, base + start, base + end - L, max_age=S)
                second = Trip(a, d, day, 2, base + max(start + L, LUNCH_AT - 1800 + L),
                              base + end, max_age=S)
                trips += [first, second]
                chains.append((len(trips) - 2, len(trips) - 1, L))
                continue
            for n, (t0, t1) in enumerate(slots, start=1):
                trips.append(Trip(a, d, day, n, d * DAY + t0, d * DAY + t1))
    return trips, chains


_MATRICES: dict[tuple, object] = {}  # (source, positions) → Matrix, the last few plans


def _matrix(source: DistanceSource, locs: list) -> object:
    """The distance matrix of these positions, computed once for repeated plans over the
    same positions (a re-plan after a cancellation, the next optimisation)."""
    key = (source.describe(), id(source.ferries), tuple(locs))
    m = _MATRICES.get(key)
    if m is None:
        m = source.matrix(locs)
        if len(_MATRICES) >= 4:
            _MATRICES.pop(next(iter(_MATRICES)))
        _MATRICES[key] = m
    return m


def _initial_routes(current: dict, trips: list[Trip], job_groups: list[dict]
                    ) -> list[list[int]] | None:
    """The current plan as routes over this plan's trips and stops (job indices)."""
    trip_at = {(t.analyst.id, t.date, t.number): i for i, t in enumerate(trips)}
    placed: dict[int, list[tuple]] = {}
    for j, g in enumerate(job_groups):
        where = next((current[r.id] for r in g["reqs"] if r.id in current), None)
        if where is None:
            continue
        aid, date, trip_no, pos = where
        v = trip_at.get((aid, date, trip_no))
        if v is not None:
            placed.setdefault(v, []).append((pos, j))
    if not placed:
        return None
    return [[j for _pos, j in sorted(placed.get(v, []))] for v in range(len(trips))]


def preferred_weekdays(text: str) -> tuple[set[int], set[dt.date]]:
    wds, dates = set(), set()
    for part in text.replace(";", ",").replace(" ", ",").split(","):
        p = part.strip().lower()
        if not p:
            continue
        if p[:3] in WEEKDAYS:
            wds.add(WEEKDAYS[p[:3]])
        else:
            try:
                dates.add(dt.date.fromisoformat(p))
            except ValueError:
                pass
    return wds, dates


def plan(lab: tuple[float, float], days: list[dt.date], analysts: list[PlanAnalyst],
         requests: list[PlanRequest], source: DistanceSource, cfg: PlanConfig,
         next_working_day=None, time_limit_s: float = 10.0, progress=None,
         cancel_event=None, method: str = "solve", first_solution: str = "auto",
         workers: int = 1, current: dict | None = None,
         extra_penalty=None) -> PlanOutcome:
    """Plans ``requests`` over ``days``. ``method="nearest"`` gives the nearest-neighbour
    baseline under the same rules (benches); ``first_solution`` and ``workers`` as in
    ``model.solve``. ``progress(dict)`` as in ``model.solve`` (``planned``/``total`` count
    stops). ``current`` (request id → (bioanalyst id, date, trip number, position)) is the
    plan being re-planned: the search starts from it where it still holds (warm start).
    ``method="repair"`` keeps ``current`` where it still holds and only inserts the rest
    (planning/repair.py); ``extra_penalty(request, trip)`` adds a soft cost in kr."""
    unplanned: list[tuple[int, str]] = []
    if not days:
        return PlanOutcome([], [(r.id, "ingen hverdage i perioden") for r in requests], 0, 0,
                           0.0, "tom")
    day_index = {d: i for i, d in enumerate(days)}
    trips, chains = make_trips(analysts, days, cfg)

    # -- requests → groups (one stop per address and compatible days)
    cands = []
    for r in requests:
        if r.lat is None or r.lon is None:
            unplanned.append((r.id, "ingen position for adressen (geokod den eller indtast "
                                    "koordinater)"))
            continue
        if r.locked_date is not None:
            if r.locked_date not in day_index:
                continue  # locked outside the period: not ours to move
            allowed_days = {r.locked_date}
        else:
            first_ok = first_allowed_day(r.received, r.earliest, next_working_day
                                         or (lambda d: d + dt.timedelta(days=1)))
            last_ok = last_allowed_day(r.deadline, r.agreement_end)
            allowed_days = {d for d in days if first_ok <= d <= last_ok}
            if r.deadline < days[0]:
                unplanned.append((r.id, f"fristen {formats.date(r.deadline)} er overskredet"))
                continue
            if r.agreement_end and not allowed_days and r.agreement_end < days[-1]:
                unplanned.append((r.id, f"aftalen med kommunen ophørte "
                                        f"{formats.date(r.agreement_end)}"))
                continue
            if not allowed_days:
                if first_ok > days[-1]:
                    continue  # not yet due in this period
                unplanned.append((r.id, f"fristen {formats.date(r.deadline)} kan ikke overholdes: "
                                        "ingen hverdag i perioden før fristen"))
                continue
        cands.append((r, allowed_days))

    groups: list[dict] = []
    by_loc: dict[tuple, list[dict]] = {}
    for r, allowed in cands:
        key = (round(r.lat, 5), round(r.lon, 5))
        placed = False
        # a postcode centre is not an address: two approximate citizens there are two stops
        for g in ([] if r.approximate else by_loc.get(key, [])):
            if any(x.approximate for x in g["reqs"]):
                continue
            lock_key = (r.locked_date, r.locked_start, r.locked_end)
            if g["lock"] != lock_key:
                continue
            inter = g["days"] & allowed
            if inter:
                g["days"] = inter
                g["reqs"].append(r)
                placed = True
                break
        if not placed:
            g = {"reqs": [r], "days": set(allowed), "lock": (r.locked_date, r.locked_start,
                                                              r.locked_end), "key": key}
            groups.append(g)
            by_loc.setdefault(key, []).append(g)

    # -- matrices over lab + distinct positions
    locs = [lab] + [g["key"] for g in groups]
    m = _matrix(source, locs)
    km_cost = m.km * cfg.km_rate_kr + m.ferry_minutes * cfg.minute_rate_kr
    cost = np.rint(km_cost * 100).astype(np.int64)
    travel = np.ceil(m.minutes * 60).astype(np.int64)

    ekg_ok = {i for i, t in enumerate(trips) if "ekg" in t.analyst.skills}
    trip_by_day: dict[int, list[int]] = {}
    for i, t in enumerate(trips):
        trip_by_day.setdefault(t.day_index, []).append(i)

    jobs: list[model.Job] = []
    job_groups: list[dict] = []
    for gi, g in enumerate(groups):
        reqs = g["reqs"]
        n = len(reqs)
        ekg = any(r.ekg for r in reqs)
        service = (cfg.service_minutes + cfg.sampling_minutes * n
                   + (cfg.ekg_minutes if ekg else 0)) * 60
        loc = gi + 1
        allowed_trips = [i for d in sorted(day_index[x] for x in g["days"])
                         for i in trip_by_day.get(d, [])]
        if ekg:
            allowed_trips = [i for i in allowed_trips if i in ekg_ok]
        deadline = min(r.deadline for r in reqs)
        if not allowed_trips:
            who = "ingen bioanalytiker med EKG ledig" if ekg else "ingen bioanalytiker ledig"
            for r in reqs:
                unplanned.append((r.id, f"fristen {formats.date(r.deadline)} kan ikke overholdes: "
                                        f"{who}" if r.locked_date is None else
                                  f"den låste dag {formats.date(r.locked_date)}: {who}"))
            continue
        stab = min([r.stability_minutes for r in reqs if r.stability_minutes] or [None]) \
            if any(r.stability_minutes for r in reqs) else None
        ws = max([_sec(r.window_start) for r in reqs if r.window_start] or [0])
        we = min([_sec(r.window_end) for r in reqs if r.window_end] or [DAY])
        if g["lock"][0] is not None:
            ws = max(ws, _sec(g["lock"][1]))
            we = min(we, _sec(g["lock"][2]))
        windows = []
        vehicles = []
        to_loc = travel[0, loc]
        back = travel[loc, 0]
        for i in allowed_trips:
            t = trips[i]
            base = t.day_index * DAY
            lo = max(t.start + to_loc, base + ws)
            # hard: the samples are taken by the citizen's "senest" (fasting: before 10:00),
            # so the whole visit lies inside the window, not only the arrival
            hi = min(t.end - service - back, base + (we - service if we < DAY else we))
            if hi >= lo:
                windows.append((lo, hi))
                vehicles.append(i)
        if not vehicles:
            for r in reqs:
                unplanned.append((r.id, "tidsvinduet kan ikke nås inden for bioanalytikernes "
                                        "arbejdstid (eller prøvernes holdbarhed)"))
            continue
        within = deadline <= days[-1] or g["lock"][0] is not None
        penalty = int((cfg.deadline_penalty_kr if within else cfg.later_penalty_kr) * 100 * n)
        # soft costs per vehicle
        wds, dates = set(), set()
        for r in reqs:
            a, b = preferred_weekdays(r.preferred_days)
            wds |= a
            dates |= b
        area = source.ferries.area(*g["key"])
        area_wd = cfg.area_days.get(area)
        regular = next((r.regular_analyst for r in reqs if r.regular_analyst), None)
        first_day = min(day_index[x] for x in g["days"])
        vp = {}
        soft = (wds or dates or area_wd is not None or regular is not None
                or cfg.per_day_later_kr or extra_penalty is not None)
        for i in (vehicles if soft else ()):
            t = trips[i]
            p = 0.0
            if (wds or dates) and not (t.date.weekday() in wds or t.date in dates):
                p += cfg.preferred_day_kr
            if area_wd is not None and t.date.weekday() != area_wd:
                p += cfg.area_day_kr
            if regular is not None and t.analyst.id != regular:
                p += cfg.same_analyst_kr
            p += cfg.per_day_later_kr * (t.day_index - first_day)
            if extra_penalty is not None:
                p += sum(extra_penalty(r, t) for r in reqs)
            if p:
                vp[i] = int(round(p * 100))
        if ws == 0 and we == DAY:
            windows = None  # the trips' own hours bound it: no holes in the domain (fast)
        max_to_end = None
        if stab and stab < cfg.stability_minutes:
            max_to_end = service + stab * 60
        jobs.append(model.Job(loc=loc, service=service, demand=n, penalty=penalty,
                              vehicles=vehicles, windows=windows, vehicle_penalty=vp,
                              max_to_end=max_to_end, key=gi))
        job_groups.append(g)

    span = cfg.stability_minutes * 60 if cfg.stability_minutes else None
    vehicles = [model.Vehicle(start=t.start, end=t.end, capacity=t.analyst.capacity,
                              max_span=span if t.max_age is None else None,
                              max_age=t.max_age, key=i) for i, t in enumerate(trips)]
    problem = model.Problem(cost=cost, travel=travel, jobs=jobs, vehicles=vehicles, depot=0,
                            chains=chains)
    initial = _initial_routes(current, trips, job_groups) if current else None
    if method == "nearest":  # the benches' baseline, under the same rules
        sol = model.solution_from_routes(problem, construct.nearest_neighbour(problem).routes)
    elif method == "construct":  # the first plan alone (benches)
        sol = model.solution_from_routes(problem, construct.construct(problem).routes)
    elif method == "repair":  # the current plan kept where it holds, the rest inserted
        sol = model.solution_from_routes(problem, construct.construct(
            problem, seed_routes=initial, order="tight").routes)
    else:
        first = first_solution
        if (first == "auto" and len(vehicles) > 20 and len(jobs) < model.SMALL_NODES
                and len(vehicles) <= model.SMALL_VEHICLES):
            first = "SAVINGS"  # many trips over days: savings builds day clusters
        sol = model.solve(problem, time_limit_s=time_limit_s, progress=progress,
                          cancel_event=cancel_event, first_solution=first,
                          workers=workers, initial_routes=initial)
        if not (cancel_event is not None and cancel_event.is_set()):
            balance_days(problem, trips, sol, cfg.balance_kr)

    unreached = set(sol.unreached)
    for j in sol.dropped:
        g = job_groups[j]
        for r in g["reqs"]:
            if j in unreached:
                why = TIME_LIMIT_REASON
            elif r.locked_date is not None:
                why = (f"den låste tid {formats.date(r.locked_date)} "
                       f"{r.locked_start:%H:%M}–{r.locked_end:%H:%M} kan ikke holdes")
            elif r.deadline <= days[-1]:
                why = (f"fristen {formats.date(r.deadline)} kan ikke overholdes: ikke plads på "
                       "ruterne (tid eller kapacitet)")
            else:
                why = (f"ikke planlagt i perioden; fristen {formats.date(r.deadline)} ligger efter "
                       "perioden")
            unplanned.append((r.id, why))

    # -- assemble routes per (analyst, day)
    per_day: dict[tuple, list[tuple[Trip, list[model.Stop], int, int]]] = {}
    for v, stops in enumerate(sol.routes):
        if not stops:
            continue
        t = trips[v]
        per_day.setdefault((t.analyst.id, t.date), []).append((t, stops, sol.starts[v],
                                                                sol.ends[v]))
    routes = []
    warnings: list[tuple[int, str]] = []
    W = cfg.reply_window_minutes * 60
    for (aid, date), parts in per_day.items():
        parts.sort(key=lambda p: p[0].start)
        out_stops: list[PlannedStop] = []
        total_km = total_ferry = 0.0
        first_start = None
        last_end = None
        for trip_no, (t, stops, start, end) in enumerate(parts, start=1):
            prev = 0
            base = t.day_index * DAY
            for st in stops:
                job = jobs[st.job]
                g = job_groups[st.job]
                loc = job.loc
                leg = m.leg(prev, loc)
                total_km += leg.km
                total_ferry += leg.ferry_minutes
                arr = st.arrival - base
                if job_groups[st.job]["lock"][0] is not None:
                    rs, re_ = g["lock"][1], g["lock"][2]
                else:
                    rs, re_ = reply_window(arr, g["reqs"], t.analyst.day_start, W)
                approx = any(r.approximate for r in g["reqs"])
                if approx:
                    for r in g["reqs"]:
                        warnings.append((r.id, (
                            f"positionen er omtrentlig (kun postnummer): ankomst "
                            f"{_time(arr):%H:%M} og tidsvinduet {rs:%H:%M}–{re_:%H:%M} er "
                            "usikre; bekræft eller placér adressen, før svaret sendes")))
                out_stops.append(PlannedStop(
                    [r.id for r in g["reqs"]], trip_no, _time(arr), g["key"][0], g["key"][1],
                    leg.km, leg.minutes, leg.ferry_minutes, leg.ferry_link,
                    job.service // 60, rs, re_, approx))
                prev = loc
            back = m.leg(prev, 0)
            total_km += back.km
            total_ferry += back.ferry_minutes
            # leave the lab as late as the first stop allows
            dep = stops[0].arrival - travel[0, jobs[stops[0].job].loc] - base
            arr_lab = end - base
            first_start = dep if first_start is None else first_start
            last_end = arr_lab
        routes.append(PlannedRoute(aid, date, out_stops, total_km,
                                   int(round((last_end - first_start) / 60)), total_ferry,
                                   _time(first_start), _time(last_end), len(parts) - 1))
    routes.sort(key=lambda r: (r.date, r.analyst_id))
    return PlanOutcome(routes, unplanned, sol.objective / 100.0, sol.solutions_found,
                       sol.seconds, sol.status, warnings)


def balance_days(problem: model.Problem, trips: list[Trip], sol: model.Solution,
                 balance_kr: float) -> int:
    """Spreads the days driven between the bioanalysts; returns how many routes it handed over.

    Fair, here: each bioanalyst drives a share of the plan's routes (bioanalyst-days)
    proportional to the hours they are available in the period (their days there times
    their day's length). The search only counts km and soft costs, so whoever it happened to
    fill first may drive every day while a colleague with the same hours drives two. A
    route is handed whole, on its day, from a bioanalyst above their share to one below it
    who is free that day and has the same trips (hours, capacity, stability), when every
    stop may go with them (EKG) and it costs at most ``balance_kr`` in soft costs (the
    regular bioanalyst): the km, times and order stay as they are. Handed over while that
    brings the two closer to their shares (the difference above share more than one day)."""
    if balance_kr < 0:
        return 0
    units: dict[tuple[int, int], list[int]] = {}
    for i, t in enumerate(trips):
        units.setdefault((t.analyst.id, t.day_index), []).append(i)
    for vs in units.values():
        vs.sort(key=lambda i: trips[i].start)
    hours: dict[int, float] = {}
    for (aid, _d), vs in units.items():
        t = trips[vs[0]]
        hours[aid] = hours.get(aid, 0.0) + (_sec(t.analyst.day_end) - _sec(t.analyst.day_start))
    used = {u for u, vs in units.items() if any(sol.routes[v] for v in vs)}
    driven = {aid: 0 for aid in hours}
    for aid, _d in used:
        driven[aid] += 1
    total_h = sum(hours.values())
    share = {aid: len(used) * h / total_h for aid, h in hours.items()}

    def shape(v: int) -> tuple:
        veh = problem.vehicles[v]
        return (veh.start, veh.end, veh.capacity, veh.max_span, veh.max_age)

    limit = int(round(balance_kr * 100))

    def soft_cost(ua, ub) -> int | None:
        """Soft cost of handing unit ``ua``'s routes to unit ``ub``, or None if it may not."""
        vs_a, vs_b = units[ua], units[ub]
        if len(vs_b) != len(vs_a) or any(shape(x) != shape(y) for x, y in zip(vs_a, vs_b)):
            return None
        soft = 0
        for x, y in zip(vs_a, vs_b):
            for st in sol.routes[x]:
                job = problem.jobs[st.job]
                if job.vehicles is not None and y not in job.vehicles:
                    return None  # e.g. an ECG the other bioanalyst does not take
                soft += job.vehicle_penalty.get(y, 0) - job.vehicle_penalty.get(x, 0)
        return soft

    def hand(ua, ub, soft) -> None:
        for x, y in zip(units[ua], units[ub]):
            sol.routes[x], sol.routes[y] = sol.routes[y], sol.routes[x]
            sol.starts[x], sol.starts[y] = sol.starts[y], sol.starts[x]
            sol.ends[x], sol.ends[y] = sol.ends[y], sol.ends[x]
        used.discard(ua)
        used.add(ub)
        driven[ua[0]] -= 1
        driven[ub[0]] += 1
        sol.objective += soft

    handed = 0
    for _round in range(len(used) + 1):
        over = {aid: driven[aid] - share[aid] for aid in driven}
        # every hand-over that is allowed now, by the bioanalyst giving it
        moves: dict[int, list[tuple[int, tuple, tuple]]] = {}
        for ua in used:
            a, d = ua
            for b in driven:
                ub = (b, d)
                if b == a or ub in used or ub not in units or over[a] - over[b] < 1:
                    continue
                soft = soft_cost(ua, ub)
                if soft is not None and soft <= limit:
                    moves.setdefault(a, []).append((soft, ua, ub))
        best = None  # (soft cost, -gap, [(from unit, to unit, soft)])
        for a, ms in moves.items():
            for soft, ua, ub in ms:
                b = ub[0]
                if over[a] - over[b] > 1:  # directly
                    key = (soft, -(over[a] - over[b]), [(ua, ub, soft)])
                    if best is None or key[:2] < best[:2]:
                        best = key
                    continue
                # through a colleague one day closer (a's day to b, another day of b's to c:
                # an ECG route to the other ECG bioanalyst, theirs to one without the skill)
                for soft2, ub2, uc in moves.get(b, ()):
                    c = uc[0]
                    if ub2[1] == ub[1] or c == a or over[a] - over[c] <= 1:
                        continue
                    key = (soft + soft2, -(over[a] - over[c]), [(ua, ub, soft), (ub2, uc, soft2)])
                    if best is None or key[:2] < best[:2]:
                        best = key
        if best is None:
            break
        for ua, ub, soft in best[2]:
            hand(ua, ub, soft)
        handed += 1
    return handed


def reply_window(arrival: int, reqs: list[PlanRequest], day_start: dt.time,
                 default_seconds: int) -> tuple[dt.time, dt.time]:
    """The window promised to the citizen: about the planned arrival (the agreement's length,
    starting on a half hour), and always inside what the request asked for: never earlier
    than its "tidligst", never later than its "senest" (a fasting citizen "senest 10:00" is
    never told 08:30–10:30, but 08:30–10:00). ``arrival`` is seconds after midnight."""
    lengths = [r.reply_window_minutes * 60 for r in reqs
               if getattr(r, "reply_window_minutes", None)]
    W = min(lengths) if lengths else default_seconds
    lo = max([_sec(r.window_start) for r in reqs if r.window_start] or [0])
    hi = min([_sec(r.window_end) for r in reqs if r.window_end] or [DAY - 60])
    start = max(_sec(day_start), (arrival - W // 2) // 1800 * 1800, lo)
    start = min(start, arrival)
    end = min(start + W, hi, DAY - 60)
    end = max(end, arrival)
    return _time(start), _time(end)
