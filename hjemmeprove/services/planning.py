"""Route planning over the Store: plan, list, move, lock, reply, re-plan.

Every method opens its own short session and returns plain dataclasses. Planning a period
re-plans every visit in it that is not locked and has no outcome; locked visits (reply sent)
keep their day and window (domain rule 4); days with a recorded outcome or km keep their route.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from hjemmeprove.db.models import (
    Absence,
    Bioanalyst,
    Department,
    Municipality,
    Request,
    Route,
    Visit,
)
from hjemmeprove.domain import formats
from hjemmeprove.domain.cpr import mask_cpr
from hjemmeprove.domain.labels import ACTIVE_STATUSES
from hjemmeprove.domain.lifecycle import day_problems, facts_of, refusal, settle
from hjemmeprove.domain.lifecycle import status as lifecycle_status
from hjemmeprove.errors import NotFound, ValidationError
from hjemmeprove.planning import planner, reasons, repair
from hjemmeprove.planning.distances import (
    DistanceSource,
    round_km,
    round_min,
    source_for_store,
    standalone_trip,
)
from hjemmeprove.planning.planner import PlanAnalyst, PlanConfig, PlanRequest
from hjemmeprove.settings import Settings, area_days, holds_demo_data
from hjemmeprove.security import require

DEFAULT_TIME_LIMIT_S = 10.0
REPAIR_DAYS = 10  # a re-plan after a change looks this many working days ahead at most


@dataclass(frozen=True)
class StopInfo:
    visit_id: int
    request_id: int
    sequence: int
    trip: int  # trip number within the day; a new trip starts at the lab
    citizen_name: str
    cpr_masked: str
    phone: str
    address: str
    municipality_code: int
    arrival: dt.time | None
    window: tuple[dt.time | None, dt.time | None]
    locked: bool
    lat: float | None
    lon: float | None
    leg_km: Decimal
    leg_ferry_minutes: Decimal
    ferry_link: str
    ekg: bool
    access_info: str
    presence_required: str
    identity_check: str
    note: str
    position_quality: str
    outcome: str | None
    standalone_km: Decimal | None
    cpr: str = ""  # full: only for the route sheet (the bioanalyst checks identity, labels tubes)


@dataclass(frozen=True)
class RouteInfo:
    route_id: int
    analyst_id: int
    analyst: str
    analyst_phone: str
    date: dt.date
    km: Decimal
    minutes: int
    ferry_minutes: Decimal
    distance_source: str
    driven_km: Decimal | None
    driven_ferry_minutes: Decimal | None
    closed: bool
    stops: tuple[StopInfo, ...]
    demo: bool = False  # from a demo database: its route sheet says DEMO


@dataclass(frozen=True)
class Unplanned:
    request_id: int
    reason: str


@dataclass(frozen=True)
class PlanResult:
    first: dt.date
    last: dt.date
    routes: list[RouteInfo]
    unplanned: list[Unplanned]
    distance: dict
    objective_kr: Decimal
    solutions: int
    seconds: float
    status: str
    # requests that changed while the plan was computed: left as they now are (Danish why)
    skipped: list[Unplanned] = field(default_factory=list)
    # promises the coordinator should check: (request id, Danish text); approximate positions
    warnings: tuple = ()
    # what the re-plan changed (moves, changed days, what to print again)
    changes: repair.ReplanSummary | None = None
    mode: str = "optimise"  # "optimise" (Optimér) or "repair" (after a change)

    def as_json(self) -> dict:
        return {
            "routes": [route_json(r) for r in self.routes],
            "unplanned": [{"request": u.request_id, "reason": u.reason} for u in self.unplanned],
            "distance": self.distance,
            "skipped": [{"request": u.request_id, "reason": u.reason} for u in self.skipped],
        }


@dataclass(frozen=True)
class _Seen:
    """What a solve saw of one request: compared with the truth when its result is written."""
    version: int
    visit_id: int | None
    visit_version: int | None
    locked: bool


_MEANWHILE = "mens planen blev beregnet"


def _changed(req, visits: list, seen: _Seen, frozen_now: set, placed_day) -> str | None:
    """Why a request the solve saw may not be written as the solve placed it (Danish), or
    None when nothing that matters changed meanwhile."""
    if req is None:
        return f"slettet, {_MEANWHILE}"
    now = lifecycle_status(facts_of(req, visits))
    if now == "cancelled":
        return f"aflyst, {_MEANWHILE}; den planlægges ikke"
    if now == "done":
        return f"udfald registreret, {_MEANWHILE}; intet nyt besøg"
    if now == "not_eligible":
        return f"markeret ikke omfattet, {_MEANWHILE}"
    active = [v for v in visits if v.outcome is None]
    v = active[0] if active else None
    if (v.id if v else None, v.version if v else None) != (seen.visit_id, seen.visit_version):
        if v is not None and v.locked and not seen.locked:
            return f"låst (svar sendt), {_MEANWHILE}; besøget beholder sin dag og tid"
        if seen.visit_id is None:
            return f"planlagt af en anden, {_MEANWHILE}"
        if v is None:
            return f"besøget blev fjernet, {_MEANWHILE}"
        return f"besøget blev flyttet eller ændret, {_MEANWHILE}; ændringen står"
    if req.version != seen.version:
        return f"henvisningen blev ændret, {_MEANWHILE}; planlæg igen"
    for day in (v.date if v is not None else None, placed_day):
        if day is not None and day in frozen_now:
            return f"dagen {formats.date(day)} blev afsluttet, {_MEANWHILE}"
    return None


def _position(req) -> tuple[float, float]:
    return (req.effective_lat, req.effective_lon)


@dataclass(frozen=True)
class MoveResult:
    ok: bool
    problems: list[str] = field(default_factory=list)
    # where the visit was (bioanalyst id, day) and its version after the move: to undo it
    undo: tuple | None = None


class ReplyList(list):
    """The reply rows sent, and (when written) the files per municipality code."""

    files: dict[int, list[str]]

    def __init__(self, *args):
        super().__init__(*args)
        self.files = {}


@dataclass(frozen=True)
class ReplyRow:
    municipality_code: int
    municipality: str
    request_id: int
    visit_id: int
    citizen_name: str
    cpr_masked: str
    address: str
    date: dt.date
    window_start: dt.time
    window_end: dt.time
    sent_at: dt.datetime
    demo: bool = False  # from a demo database: the PDF says DEMO (documents.common.mark_demo)


def route_json(r: RouteInfo) -> dict:
    return {
        "analyst": r.analyst, "date": r.date, "km": r.km, "minutes": r.minutes,
        "ferry_minutes": r.ferry_minutes,
        "stops": [{"request": s.request_id, "arrival": s.arrival,
                   "window": [s.window[0], s.window[1]], "lat": s.lat, "lon": s.lon,
                   "leg_km": s.leg_km, "leg_ferry_minutes": s.leg_ferry_minutes,
                   "ferry_link": s.ferry_link, "trip": s.trip, "locked": s.locked,
                   "approximate": s.position_quality == "approximate"}
                  for s in r.stops],
    }


def _quality(req: Request) -> str:
    """exact | approximate | "" for the position the request is planned at."""
    if req.lat is not None:
        return req.position_quality or "exact"
    return req.citizen.position_quality if req.effective_lat is not None else ""


class PlanningService:
    def __init__(self, store):
        self.store = store
        self.settings = Settings(store)
        self.last_replan: PlanResult | None = None  # the newest plan or re-plan (its summary)

    # --- configuration -----------------------------------------------------------------------

    def distance_source(self) -> DistanceSource:
        return source_for_store(self.store)

    def config(self, day: dt.date | None = None) -> PlanConfig:
        v = self.settings.all()
        cfg = PlanConfig(
            service_minutes=int(v["planning.service_minutes"]),
            sampling_minutes=int(v["planning.sampling_minutes"]),
            stability_minutes=int(v["planning.stability_minutes"]),
            lunch_minutes=int(v["planning.lunch_minutes"]),
            reply_window_minutes=int(v["reply.window_minutes"]),
        )
        if "planning.area_days" in v:  # a stored typo is named here, not dropped
            cfg.area_days = area_days(v["planning.area_days"])
        # the same weight spreads the days driven after a full optimisation (balance_days)
        cfg.balance_kr = float(v.get("planning.balance_kr", cfg.balance_kr))
        t, mlg = self._rates(day or dt.date.today())
        cfg.km_rate_kr = t + mlg
        cfg.minute_rate_kr = t
        return cfg

    def _rates(self, day: dt.date) -> tuple[float, float]:
        """Transport-time and mileage rates for the objective (kr/km); if finance has not
        entered the year's figure yet, the 2020 base and the newest mileage rate."""
        try:
            from hjemmeprove.billing.rates import RateService

            r = RateService(self.store).rates_on(day)
            return float(r.transport_time_per_km), float(r.mileage_per_km)
        except Exception:  # noqa: BLE001 - planning must not stop on a missing rate
            from hjemmeprove.db.models import MileageRate

            with self.store.session() as s:
                row = s.scalars(select(MileageRate).order_by(MileageRate.valid_from.desc())
                                ).first()
            return 5.16, float(row.amount) if row else 3.94

    # --- planning ----------------------------------------------------------------------------

    def plan(self, first: dt.date, last: dt.date, progress=None,
             cancel_event: threading.Event | None = None,
             time_limit_s: float | None = None, mode: str = "optimise",
             before: dict | None = None) -> PlanResult:
        """Plans (or re-plans) the open requests over the working days first..last.

        ``progress(dict)`` is called for each better solution with ``solutions``,
        ``objective_kr`` and ``seconds``; setting ``cancel_event`` stops the search and keeps
        the best plan found so far. The time limit defaults to planning.time_limit_s.

        The solve works on a snapshot and writes nothing. Its result is written in one short
        transaction that re-reads, under locks, the requests and visits it touches: what
        changed meanwhile (cancelled, visited, marked not eligible, moved or locked by hand,
        edited, its day closed) is left as it now is and reported in ``skipped``, in Danish.
        Killed at any moment, the database holds the plan before or the plan after.

        ``mode="optimise"`` (Optimér) searches the whole period, starting from the current
        plan; ``mode="repair"`` keeps every visit that still fits where it is and inserts only
        the rest (``planning/repair.py``; see ``replan``). ``before`` (request → Placement) is
        the plan to compare with in ``changes``; by default the plan as it was when called.
        """
        require(self.store, "planning.edit")
        if last < first:
            raise ValidationError("skal være efter fra-datoen", "til")
        if time_limit_s is None:
            time_limit_s = float(self.settings.get("planning.time_limit_s"))
        calendar = self.settings.calendar()
        days = calendar.working_days(first, last)
        source = self.distance_source()
        cfg = self.config(first)
        all_unplanned: list[Unplanned] = []
        all_skipped: list[Unplanned] = []
        warnings: list = []
        objective = 0.0
        solutions = 0
        seconds = 0.0
        status = "løst"
        if before is None:
            before = self.placements(first, last)
        balance_kr = float(self.settings.all().get("planning.balance_kr", repair.BALANCE_KR))
        with self.store.session() as s:
            dept_ids = list(s.scalars(select(Department.id).order_by(Department.id)))
        for dept_id in dept_ids:
            self._geocode_missing(dept_id, last)
            with self.store.session() as s:  # the snapshot: read only
                dept = s.get(Department, dept_id)
                frozen_days = self._frozen_days(s, dept_id, days)
                plan_days = [d for d in days if d not in frozen_days]
                analysts = self._analysts(s, dept_id)
                requests, snap = self._requests(s, dept_id, plan_days, first, last)
                current = self._current(s, dept_id, plan_days, set(snap))
                lab = (dept.lab_lat, dept.lab_lon)
            extra = None
            if mode == "repair":
                loads = {a.id: 0 for a in analysts
                         if any(d not in a.absent for d in plan_days)}
                for aid, _d, _trip, _pos in current.values():
                    if aid in loads:
                        loads[aid] += 1
                extra = repair.stay_costs({rid: (c[0], c[1]) for rid, c in current.items()},
                                          loads, balance_kr=balance_kr)
            outcome = planner.plan(lab, plan_days, analysts, requests, source, cfg,
                                   next_working_day=calendar.next_working_day,
                                   time_limit_s=time_limit_s, progress=progress,
                                   cancel_event=cancel_event,
                                   method="repair" if mode == "repair" else "solve",
                                   current=current or None, extra_penalty=extra)
            if mode == "repair":
                outcome.status = "omlagt (kun det nødvendige flyttet)"
                if progress is not None:  # one step: the bar shows planned/total at once
                    total = len(requests)
                    progress({"solutions": 1, "objective_kr": round(outcome.objective_kr, 2),
                              "seconds": round(outcome.seconds, 2),
                              "planned": total - len(outcome.unplanned), "total": total})
            # the binding rule and the way out, where a check finds it (planning/reasons.py)
            explained = reasons.explain_all(lab, plan_days, analysts, requests, source, cfg,
                                            outcome.unplanned, calendar.next_working_day)
            standalone = self._standalone(source, lab, outcome)
            positions = {r.id: (r.lat, r.lon) for r in requests if r.lat is not None}
            skipped = self._commit(
                lambda s: self._apply_plan(s, dept_id, plan_days, snap, outcome, source,
                                           standalone, positions, lab))
            all_unplanned += [Unplanned(rid, explained.get(rid) or text)
                              for rid, text in outcome.unplanned if rid not in skipped]
            all_skipped += [Unplanned(rid, why) for rid, why in skipped.items()]
            warnings += outcome.warnings
            objective += outcome.objective_kr
            solutions += outcome.solutions
            seconds += outcome.seconds
            status = outcome.status
        routes = self.routes(first, last)
        changes = repair.diff(before, self.placements(first, last))
        result = PlanResult(first, last, routes,
                            sorted(all_unplanned, key=lambda u: u.request_id),
                            source.as_json(), Decimal(str(round(objective, 2))), solutions,
                            round(seconds, 2), status,
                            sorted(all_skipped, key=lambda u: u.request_id),
                            tuple(sorted(warnings)), changes, mode)
        self.last_replan = result
        return result

    def replan(self, first: dt.date, last: dt.date | None = None, progress=None,
               cancel_event: threading.Event | None = None,
               before: dict | None = None) -> PlanResult:
        """Re-plans after a change (cancellation, absence, urgent request), keeping the plan:
        every visit that still fits stays on its day, with its bioanalyst, in its order; only
        the rest is inserted, preferring its own day and bioanalyst and the bioanalysts with
        the least work (``planning/repair.py``). Covers first..last and the planned days after
        them (at most ``REPAIR_DAYS`` working days), so a displaced visit may go to another
        day before its deadline. Writes as ``plan`` does (what changed meanwhile wins)."""
        horizon = self._repair_horizon(first, last or first)
        return self.plan(first, horizon, progress=progress, cancel_event=cancel_event,
                         mode="repair", before=before)

    def _repair_horizon(self, first: dt.date, last: dt.date) -> dt.date:
        calendar = self.settings.calendar()
        with self.store.session() as s:
            planned_last = s.scalars(select(Route.date).where(Route.date >= first)
                                     .order_by(Route.date.desc())).first()
        cap = first
        for _ in range(REPAIR_DAYS - 1):
            cap = calendar.next_working_day(cap)
        return max(last, min(planned_last or last, cap))

    def _current(self, s: Session, dept_id: int, days: list[dt.date], request_ids: set
                 ) -> dict[int, tuple]:
        """The current plan of these days: request → (bioanalyst, day, trip, position)."""
        if not days or not request_ids:
            return {}
        q = (select(Visit.request_id, Route.bioanalyst_id, Visit.date, Visit.sequence)
             .join(Route, Visit.route_id == Route.id)
             .where(Route.department_id == dept_id, Visit.date.in_(days),
                    Visit.outcome.is_(None)))
        return {rid: (aid, day, max(1, seq // 100), seq) for rid, aid, day, seq in s.execute(q)
                if rid in request_ids}

    def placements(self, first: dt.date, last: dt.date) -> dict[int, repair.Placement]:
        """Where each active visit in first..last is (request → Placement): what a re-plan's
        summary compares."""
        with self.store.session() as s:
            q = (select(Visit, Route.bioanalyst_id, Bioanalyst.name)
                 .join(Route, Visit.route_id == Route.id)
                 .join(Bioanalyst, Route.bioanalyst_id == Bioanalyst.id)
                 .options(joinedload(Visit.request).joinedload(Request.citizen))
                 .where(Visit.date.between(first, last), Visit.outcome.is_(None)))
            return {v.request_id: repair.Placement(
                v.request_id, v.id, v.request.citizen.name, aid, name, v.date, v.sequence,
                v.planned_arrival, (v.window_start, v.window_end))
                for v, aid, name in s.execute(q).unique()}

    def _commit(self, apply, attempts: int = 3):
        """Runs ``apply(session)`` in one write transaction; a deadlock or serialization
        failure (PostgreSQL) is retried from a fresh read, at most ``attempts`` times."""
        from sqlalchemy.exc import DBAPIError

        for attempt in range(attempts):
            try:
                with self.store.session(write=True) as s:
                    return apply(s)
            except DBAPIError as e:
                code = getattr(e.orig, "sqlstate", None)
                if code not in ("40001", "40P01") or attempt == attempts - 1:
                    raise

    def _frozen_days(self, s: Session, dept_id: int, days: list[dt.date]) -> set[dt.date]:
        """Days whose routes are closed or have an outcome: those are history, not plans."""
        if not days:
            return set()
        q = (select(Route.date).where(Route.department_id == dept_id,
                                      Route.date.between(days[0], days[-1]),
                                      (Route.closed_at.is_not(None)) | (Route.driven_km.is_not(None))))
        frozen = set(s.scalars(q))
        q2 = (select(Visit.date).join(Route, Visit.route_id == Route.id)
              .where(Route.department_id == dept_id, Visit.date.between(days[0], days[-1]),
                     Visit.outcome.is_not(None)))
        return (frozen | set(s.scalars(q2))) & set(days)

    def _analysts(self, s: Session, dept_id: int) -> list[PlanAnalyst]:
        out = []
        for b in s.scalars(select(Bioanalyst).where(Bioanalyst.department_id == dept_id,
                                                    Bioanalyst.active).order_by(Bioanalyst.id)):
            absent = set()
            for a in b.absences:
                d = a.start
                while d <= a.end:
                    absent.add(d)
                    d += dt.timedelta(days=1)
            out.append(PlanAnalyst(b.id, b.name, b.day_start, b.day_end,
                                   frozenset(b.skill_set), b.capacity, frozenset(absent)))
        return out

    def _active_query(self, dept_id: int, last: dt.date):
        return (select(Request).options(joinedload(Request.citizen),
                                        joinedload(Request.agreement))
                .where(Request.department_id == dept_id, Request.status.in_(ACTIVE_STATUSES),
                       Request.received < last))

    def _requests(self, s: Session, dept_id: int, days: list[dt.date], first: dt.date,
                  last: dt.date) -> tuple[list[PlanRequest], dict[int, _Seen]]:
        """The requests to place, and what the solve saw of each (to compare at commit)."""
        if not days:
            return [], {}
        reqs = list(s.scalars(self._active_query(dept_id, last)).unique())
        visits = {}  # active visits (no outcome) by request
        for v in s.scalars(select(Visit).where(Visit.request_id.in_([r.id for r in reqs]),
                                               Visit.outcome.is_(None))):
            visits[v.request_id] = v
        regular = self._regular_analysts(s, {r.citizen_id for r in reqs})
        out = []
        seen: dict[int, _Seen] = {}
        day_set = set(days)
        for r in reqs:
            v = visits.get(r.id)
            if v is not None and v.date not in day_set:
                continue  # planned (or locked) on a day outside this period: leave it
            locked = v is not None and v.locked
            seen[r.id] = _Seen(r.version, v.id if v else None, v.version if v else None,
                               locked)
            out.append(PlanRequest(
                id=r.id, lat=r.effective_lat, lon=r.effective_lon, received=r.received,
                deadline=r.deadline, earliest=r.earliest, window_start=r.window_start,
                window_end=r.window_end, ekg=r.ekg, preferred_days=r.preferred_days,
                stability_minutes=r.stability_minutes,
                locked_date=v.date if locked else None,
                locked_start=(v.window_start or v.planned_arrival) if locked else None,
                locked_end=(v.window_end or v.planned_arrival) if locked else None,
                regular_analyst=regular.get(r.citizen_id), citizen_id=r.citizen_id,
                agreement_end=r.agreement.end,
                reply_window_minutes=r.agreement.reply_window_minutes or None,
                approximate=_quality(r) == "approximate"))
        return out, seen

    def _regular_analysts(self, s: Session, citizen_ids: set[int]) -> dict[int, int]:
        """The bioanalyst who most often sampled each citizen (seen at least twice)."""
        if not citizen_ids:
            return {}
        q = (select(Request.citizen_id, Route.bioanalyst_id)
             .join(Visit, Visit.request_id == Request.id)
             .join(Route, Visit.route_id == Route.id)
             .where(Visit.outcome == "taken", Request.citizen_id.in_(list(citizen_ids))))
        counts: dict[int, dict[int, int]] = {}
        for cid, aid in s.execute(q):
            counts.setdefault(cid, {}).setdefault(aid, 0)
            counts[cid][aid] += 1
        return {cid: max(c, key=c.get) for cid, c in counts.items() if sum(c.values()) >= 2}

    def _geocode_missing(self, dept_id: int, last: dt.date) -> None:
        """Positions for the addresses that have none, in their own short transaction before
        the snapshot (a cache of the register: it changes no plan)."""
        with self.store.session() as s:
            reqs = [r for r in s.scalars(self._active_query(dept_id, last)).unique()
                    if r.effective_lat is None]
            if reqs:
                self._geocode(s, reqs)

    def _geocode(self, s: Session, reqs: list[Request]) -> None:
        missing = [r for r in reqs if r.effective_lat is None]
        if not missing:
            return
        from hjemmeprove.planning.geocoding import geocoder_for_settings

        geo = geocoder_for_settings(self.settings.all())
        for r in missing:
            if r.address:
                hit = geo.locate(r.address, r.postcode, r.city)
                if hit:
                    r.lat, r.lon, r.position_quality = hit.lat, hit.lon, hit.quality
            else:
                c = r.citizen
                hit = geo.locate(c.address, c.postcode, c.city)
                if hit:
                    c.lat, c.lon, c.position_quality = hit.lat, hit.lon, hit.quality

    @staticmethod
    def _standalone(source: DistanceSource, lab, outcome: planner.PlanOutcome) -> dict:
        """lab → stop → lab per stop position, computed before the write transaction (a
        remote source caches what it fetches in the database)."""
        out: dict[tuple, tuple] = {}
        for pr in outcome.routes:
            for st in pr.stops:
                key = (round(st.lat, 5), round(st.lon, 5))
                if key not in out:
                    out[key] = standalone_trip(source, lab, st.lat, st.lon)
        return out

    def _apply_plan(self, s: Session, dept_id: int, plan_days: list[dt.date],
                    seen: dict[int, _Seen], outcome: planner.PlanOutcome,
                    source: DistanceSource, standalone: dict, positions: dict,
                    lab) -> dict[int, str]:
        """Writes a solve's result against what is true now; returns {request: why skipped}."""
        if not plan_days:
            return {}
        ids = sorted(seen)
        lock = self.store.lock_rows
        reqs = {r.id: r for r in lock(s, select(Request).options(
            selectinload(Request.cancellations)).where(Request.id.in_(ids))
            .order_by(Request.id))} if ids else {}
        routes = {r.id: r for r in lock(s, select(Route).where(
            Route.department_id == dept_id, Route.date.in_(plan_days)).order_by(Route.id))}
        visit_q = select(Visit).where(Visit.request_id.in_(ids) if ids else false())
        if routes:
            visit_q = select(Visit).where(or_(Visit.request_id.in_(ids) if ids else false(),
                                              Visit.route_id.in_(list(routes))))
        visits = list(lock(s, visit_q.order_by(Visit.id)))
        by_request: dict[int, list[Visit]] = {}
        for v in visits:
            by_request.setdefault(v.request_id, []).append(v)
        frozen_now = self._frozen_days(s, dept_id, plan_days)
        placed_on = {rid: pr.date for pr in outcome.routes for st in pr.stops
                     for rid in st.request_ids}

        skipped: dict[int, str] = {}
        for rid in ids:
            req = reqs.get(rid)
            why = _changed(req, by_request.get(rid, []), seen[rid], frozen_now,
                           placed_on.get(rid))
            if why:
                skipped[rid] = why

        # unlocked visits still to happen on the planned days are re-placed (or leave)
        free: dict[int, Visit] = {}
        for rid in ids:
            if rid in skipped:
                continue
            for v in by_request.get(rid, []):
                if v.outcome is None:
                    free[rid] = v
        written: dict[int, set[int]] = {}  # route → the requests the solve put there
        existing = {(r.bioanalyst_id, r.date): r for r in routes.values()}
        describe = source.describe()
        for pr in outcome.routes:
            if pr.date in frozen_now:
                continue
            stops = [st for st in pr.stops if any(r not in skipped for r in st.request_ids)]
            if not stops:
                continue
            route = existing.get((pr.analyst_id, pr.date))
            if route is None:
                route = Route(bioanalyst_id=pr.analyst_id, department_id=dept_id, date=pr.date)
                s.add(route)
                s.flush()
                existing[(pr.analyst_id, pr.date)] = route
            route.planned_km = round_km(pr.km)
            route.planned_minutes = pr.minutes
            route.planned_ferry_minutes = round_min(pr.ferry_minutes)
            route.distance_source = describe
            written[route.id] = set()
            seq_in_trip: dict[int, int] = {}
            for st in stops:
                sa_km, _sa_ferry, sa_link = standalone[(round(st.lat, 5), round(st.lon, 5))]
                for k, rid in enumerate(st.request_ids):
                    if rid in skipped:
                        continue
                    seq_in_trip[st.trip] = seq_in_trip.get(st.trip, 0) + 1
                    v = free.pop(rid, None)
                    if v is None:
                        v = Visit(request_id=rid)
                        s.add(v)
                        by_request.setdefault(rid, []).append(v)
                    _place(v, route.id, pr.date, st, seq_in_trip[st.trip], k == 0, sa_km, sa_link)
                    written[route.id].add(rid)
            if written[route.id] != {r for st in pr.stops for r in st.request_ids}:
                written[route.id] = set()  # lost a stop: its km are measured again
        # a locked visit the solver could not keep stays where it was (reported as unplanned
        # with its reason): nothing moves it out of its day and window
        for rid, v in free.items():
            if not v.locked:
                by_request[rid].remove(v)
                s.delete(v)
        s.flush()
        for rid in ids:
            if rid not in skipped and rid in reqs:
                settle(reqs[rid], by_request.get(rid, []))
        # routes of planned days: empty ones go (unless history); one whose stops are not the
        # solver's (a stop skipped or kept) gets its km measured over the stops it has
        for route in list(existing.values()):
            if route.date in frozen_now or route.closed_at is not None \
                    or route.driven_km is not None:
                continue
            s.refresh(route, ["visits"])
            if not route.visits:
                s.delete(route)
            elif {v.request_id for v in route.visits} != written.get(route.id):
                self._measure(route, source, lab, positions)
        return skipped

    @staticmethod
    def _measure(route: Route, source: DistanceSource, lab, positions: dict) -> None:
        """A route's planned km and ferry minutes over the stops it has, in their order."""
        road = DistanceSource(source.road, source.ferries, store=None)  # no cache writes here
        stops = sorted(route.visits, key=lambda v: v.sequence)
        pts = [lab] + [positions.get(v.request_id) or _position(v.request) for v in stops]
        m = road.matrix(pts)
        km = ferry = 0.0
        prev, prev_trip = 0, None
        for i, v in enumerate(stops, start=1):
            trip = v.sequence // 100
            if prev_trip is not None and trip != prev_trip:
                back = m.leg(prev, 0)
                km += back.km
                ferry += back.ferry_minutes
                prev = 0
            leg = m.leg(prev, i)
            v.leg_km, v.leg_ferry_minutes = round_km(leg.km), round_min(leg.ferry_minutes)
            km += leg.km
            ferry += leg.ferry_minutes
            prev, prev_trip = i, trip
        back = m.leg(prev, 0)
        route.planned_km = round_km(km + back.km)
        route.planned_ferry_minutes = round_min(ferry + back.ferry_minutes)

    # --- reading -----------------------------------------------------------------------------

    def routes(self, first: dt.date, last: dt.date, analyst_id: int | None = None
               ) -> list[RouteInfo]:
        with self.store.session() as s:
            q = (select(Route).options(joinedload(Route.bioanalyst))
                 .where(Route.date.between(first, last)).order_by(Route.date, Route.bioanalyst_id))
            if analyst_id is not None:
                q = q.where(Route.bioanalyst_id == analyst_id)
            return [self._route_info(s, r) for r in s.scalars(q).unique()]

    def route(self, route_id: int) -> RouteInfo:
        with self.store.session() as s:
            r = s.get(Route, route_id)
            if r is None:
                raise NotFound(f"rute {route_id} findes ikke")
            return self._route_info(s, r)

    def _route_info(self, s: Session, r: Route) -> RouteInfo:
        stops = []
        visits = s.scalars(select(Visit).options(joinedload(Visit.request).joinedload(
            Request.citizen)).where(Visit.route_id == r.id).order_by(Visit.sequence)).unique()
        munis = {}
        for v in visits:
            req = v.request
            c = req.citizen
            if req.municipality_id not in munis:
                munis[req.municipality_id] = s.get(Municipality, req.municipality_id).code
            stops.append(StopInfo(
                visit_id=v.id, request_id=req.id, sequence=v.sequence, trip=v.sequence // 100,
                citizen_name=c.name, cpr_masked=mask_cpr(c.cpr), phone=c.phone,
                address=req.sampling_address, municipality_code=munis[req.municipality_id],
                arrival=v.planned_arrival, window=(v.window_start, v.window_end),
                locked=v.locked, lat=req.effective_lat, lon=req.effective_lon,
                leg_km=v.leg_km, leg_ferry_minutes=v.leg_ferry_minutes, ferry_link=v.ferry_link,
                ekg=req.ekg, access_info=req.access_info,
                presence_required=req.presence_required, identity_check=req.identity_check,
                note=req.note,
                position_quality=_quality(req),
                outcome=v.outcome, standalone_km=v.standalone_km, cpr=c.cpr))
        b = r.bioanalyst
        return RouteInfo(r.id, b.id, b.name, b.phone, r.date, r.planned_km, r.planned_minutes,
                         r.planned_ferry_minutes, r.distance_source, r.driven_km,
                         r.driven_ferry_minutes, r.closed_at is not None, tuple(stops),
                         holds_demo_data(s))

    def department_header(self) -> tuple[str, str, str]:
        """(department name, hospital, lab address) for documents."""
        with self.store.session() as s:
            d = s.scalars(select(Department).order_by(Department.id)).first()
            if d is None:
                return "", "", ""
            return d.name, d.hospital, f"{d.lab_address}, {d.lab_postcode} {d.lab_city}"

    def letters(self, first: dt.date, last: dt.date | None = None,
                visit_ids: list[int] | None = None, written: dt.date | None = None):
        """Citizen letters (documents.citizen_letter.LetterInfo) for the planned visits."""
        from hjemmeprove.documents.citizen_letter import LetterInfo

        last = last or first
        out = []
        cancel_phone = self.settings.get("contact.cancel_phone")  # printed on every letter
        with self.store.session() as s:
            q = (select(Visit).options(joinedload(Visit.request).joinedload(Request.citizen))
                 .where(Visit.route_id.is_not(None), Visit.outcome.is_(None))
                 .order_by(Visit.date, Visit.sequence))
            if visit_ids is not None:
                q = q.where(Visit.id.in_(visit_ids))
            else:
                q = q.where(Visit.date.between(first, last))
            for v in s.scalars(q).unique():
                req = v.request
                c = req.citizen
                d = s.get(Department, req.department_id)
                out.append(LetterInfo(
                    visit_id=v.id, request_id=req.id, citizen_name=c.name, address=c.address,
                    postcode=c.postcode, city=c.city, sampling_address=req.sampling_address,
                    date=v.date, window_start=v.window_start or v.planned_arrival,
                    window_end=v.window_end or v.planned_arrival, ekg=req.ekg,
                    fasting_until=req.window_end if req.window_end and req.window_end
                    <= dt.time(11) else None,
                    presence_required=req.presence_required, paper=c.digital_post_exempt,
                    department=d.name, hospital=d.hospital, lab_address=d.lab_address,
                    lab_postcode=d.lab_postcode, lab_city=d.lab_city, phone=d.contact_phone,
                    written=written or dt.date.today(), cancel_phone=cancel_phone,
                    demo=holds_demo_data(s)))
        return out

    # --- manual changes -------------------------------------------------------------------------

    def lock(self, visit_ids: list[int], locked: bool = True) -> None:
        require(self.store, "planning.edit")
        with self.store.session(write=True) as s:
            for vid in visit_ids:
                v = s.get(Visit, vid)
                if v is None:
                    raise NotFound(f"besøg {vid} findes ikke")
                v.locked = locked
                req = s.get(Request, v.request_id)
                settle(req, s.scalars(select(Visit).where(Visit.request_id == req.id)))

    def unlock(self, visit_ids: list[int]) -> None:
        self.lock(visit_ids, locked=False)

    def send_replies(self, first: dt.date, last: dt.date, now: dt.datetime | None = None,
                     municipality_code: int | None = None, out_dir=None,
                     again: bool = False) -> ReplyList:
        """Replies (date + window) for the planned visits in first..last not yet replied to;
        sending locks each visit (domain rule 4). Returns the rows per municipality.

        With ``out_dir`` each municipality's reply is written there (CSV and PDF) first, whole
        or not at all, and only then are the visits recorded as replied to and locked, in the
        same transaction: a full disk or a kill records nothing, and running it again sends
        them all. ``again=True`` ("Send igen") re-creates the replies already recorded for the
        period (their original send time) and changes nothing."""
        require(self.store, "planning.edit")
        now = now or dt.datetime.now().replace(microsecond=0)
        rows = ReplyList()
        with self.store.session(write=not again) as s:
            q = (select(Visit).options(joinedload(Visit.request).joinedload(Request.citizen))
                 .where(Visit.date.between(first, last), Visit.route_id.is_not(None),
                        Visit.outcome.is_(None),
                        Visit.reply_sent_at.is_not(None) if again
                        else Visit.reply_sent_at.is_(None))
                 .order_by(Visit.date, Visit.sequence))
            if not again and not self.store.is_sqlite:
                q = q.with_for_update(of=Visit)
            visits = []
            demo = holds_demo_data(s)
            for v in s.scalars(q).unique():
                req = v.request
                muni = s.get(Municipality, req.municipality_id)
                if municipality_code is not None and muni.code != municipality_code:
                    continue
                if req.status not in ACTIVE_STATUSES:
                    continue
                visits.append(v)
                rows.append(ReplyRow(muni.code, muni.name, req.id, v.id, req.citizen.name,
                                     mask_cpr(req.citizen.cpr), req.sampling_address, v.date,
                                     v.window_start, v.window_end,
                                     v.reply_sent_at if again else now, demo))
            rows.sort(key=lambda r: (r.municipality_code, r.date, r.window_start or dt.time()))
            if out_dir is not None and rows:
                rows.files = self._write_replies(s, rows, out_dir, first)
            if not again:
                for v in visits:
                    v.locked = True
                    v.reply_sent_at = now
                s.flush()
                for v in visits:
                    settle(v.request, s.scalars(select(Visit).where(
                        Visit.request_id == v.request_id)))
        return rows

    def _write_replies(self, s: Session, rows: list[ReplyRow], out_dir, first: dt.date
                       ) -> dict[int, list[str]]:
        from pathlib import Path

        from hjemmeprove.documents import reply
        from hjemmeprove.fileio import write_all_atomic

        d = s.scalars(select(Department).order_by(Department.id)).first()
        name = d.name if d is not None else ""
        out = Path(out_dir)
        files: dict[Path, bytes] = {}
        by_code: dict[int, list[str]] = {}
        for code, group in reply.by_municipality(rows).items():
            csv_path = out / reply_filename(code, first, "csv")
            pdf_path = out / reply_filename(code, first, "pdf")
            files[csv_path] = reply.render_csv(group)
            files[pdf_path] = reply.render_pdf(group, name)
            by_code[code] = [str(csv_path), str(pdf_path)]
        write_all_atomic(files)
        return by_code

    def move_visit(self, visit_id: int, analyst_id: int, day: dt.date, apply: bool = True
                   ) -> MoveResult:
        """Moves a visit to another bioanalyst and/or day; returns the problems (Danish) and
        writes nothing when there are any. Both routes are re-ordered and written in one
        transaction, against the visit as it is then (a change meanwhile refuses the move).
        The day must be one the planner could choose (``domain.lifecycle``)."""
        if apply:  # a dry run (drag preview) only reads
            require(self.store, "planning.edit")
        calendar = self.settings.calendar()
        problems: list[str] = []
        with self.store.session() as s:
            v = s.get(Visit, visit_id)
            if v is None:
                raise NotFound(f"besøg {visit_id} findes ikke")
            if v.outcome is not None:
                return MoveResult(False, ["besøget har allerede et udfald"])
            req = s.get(Request, v.request_id)
            why_not = refusal(req.status, "plan")
            if why_not:
                return MoveResult(False, [why_not])
            b = s.get(Bioanalyst, analyst_id)
            if b is None:
                raise ValidationError("findes ikke", "bioanalytiker")
            old_route = s.get(Route, v.route_id) if v.route_id else None
            why = calendar.why_closed(day)
            if why:
                problems.append(f"{formats.date(day)} er ikke en hverdag ({why})")
            if v.locked and day != v.date:
                problems.append("besøget er låst (svar sendt): dagen kan ikke ændres")
            problems += day_problems(day, received=req.received, earliest=req.earliest,
                                     deadline=req.deadline, agreement_end=req.agreement.end,
                                     next_working_day=calendar.next_working_day)
            if any(a.start <= day <= a.end for a in b.absences):
                problems.append(f"{b.name} er fraværende {formats.date(day)}")
            if req.ekg and "ekg" not in b.skill_set:
                problems.append(f"{b.name} tager ikke EKG")
            target = s.scalars(select(Route).where(Route.bioanalyst_id == analyst_id,
                                                   Route.date == day)).first()
            if target is not None and (target.closed_at or target.driven_km is not None):
                problems.append("ruten er afsluttet")
            if problems:
                return MoveResult(False, problems)
            dept_id = req.department_id
            seen_version = v.version
            target_ids = [x.request_id for x in (target.visits if target else [])
                          if x.outcome is None and x.id != v.id] + [req.id]
            old_ids = ([x.request_id for x in old_route.visits if x.outcome is None
                        and x.id != v.id] if old_route is not None else [])
            old_key = (old_route.bioanalyst_id, old_route.date) if old_route else None
        source = self.distance_source()
        target_plan, problems = self._solve_route(dept_id, analyst_id, day, target_ids, source)
        if problems or not apply:
            return MoveResult(not problems, problems)
        old_plan = None
        if old_key is not None and old_key != (analyst_id, day):
            old_plan, _ = self._solve_route(dept_id, old_key[0], old_key[1], old_ids, source)
        standalone = {}
        with self.store.session() as s:
            dept = s.get(Department, dept_id)
            lab = (dept.lab_lat, dept.lab_lon)
        for outcome in (target_plan, old_plan):
            if outcome is not None:
                standalone.update(self._standalone(source, lab, outcome))

        def apply_move(s: Session) -> MoveResult:
            mv = next(iter(self.store.lock_rows(s, select(Visit).where(Visit.id == visit_id))),
                      None)
            if mv is None or mv.version != seen_version or mv.outcome is not None:
                return MoveResult(False, ["besøget er ændret af en anden imens; intet er "
                                          "flyttet (hent planen igen)"])
            tgt = next(iter(self.store.lock_rows(s, select(Route).where(
                Route.bioanalyst_id == analyst_id, Route.date == day))), None)
            if tgt is not None and (tgt.closed_at or tgt.driven_km is not None):
                return MoveResult(False, ["ruten er afsluttet"])
            mv.route_id = tgt.id if tgt is not None else None
            mv.date = day
            s.flush()
            self._apply_route(s, dept_id, analyst_id, day, target_plan, source, standalone)
            if old_plan is not None:
                self._apply_route(s, dept_id, old_key[0], old_key[1], old_plan, source,
                                  standalone)
            return MoveResult(True, [])

        result = self._commit(apply_move)
        if result.ok and old_key is not None:
            with self.store.session() as s:
                version = s.get(Visit, visit_id).version
            result = MoveResult(True, [], (visit_id, old_key[0], old_key[1], version))
        return result

    def _undo_refusal(self, v: Visit | None, version: int | None = None,
                      replied_blocks: bool = True) -> str | None:
        """Why a step on this visit can no longer be taken back (Danish), or None."""
        if v is None:
            return "besøget findes ikke længere"
        if v.shares_locked:
            return "besøget er faktureret"
        if v.outcome is not None:
            return "besøget har et udfald"
        if replied_blocks and v.reply_sent_at is not None:
            return (f"svaret er sendt til kommunen {v.reply_sent_at:%d.%m.%Y} kl. "
                    f"{v.reply_sent_at:%H.%M}; borgeren kender dagen og tiden")
        if version is not None and v.version != version:
            return "besøget er ændret siden (af planen eller en anden)"
        return None

    def undo_move(self, undo: tuple) -> MoveResult:
        """Takes a move back (``MoveResult.undo``): the visit returns to its bioanalyst and day,
        with the same checks as any move. Refused, with the reason in Danish, once the visit
        was replied to, visited or billed, or changed since. The audit trail records it like
        the move."""
        require(self.store, "planning.edit")
        visit_id, analyst_id, day, version = undo
        with self.store.session() as s:
            why = self._undo_refusal(s.get(Visit, visit_id), version)
        if why:
            return MoveResult(False, [f"flytningen kan ikke fortrydes: {why}"])
        result = self.move_visit(visit_id, analyst_id, day)
        return MoveResult(result.ok, result.problems)

    def undo_lock(self, visit_ids: list[int], locked_before: bool) -> MoveResult:
        """Takes a lock (or unlock) by hand back: the visits' lock is set to what it was.
        Refused for every visit, with the reason in Danish, when one was replied to (the
        reply is the lock), visited or billed since."""
        require(self.store, "planning.edit")
        with self.store.session() as s:
            for vid in visit_ids:
                # locking again after an unlock is always safe; unlocking a replied visit not
                why = self._undo_refusal(s.get(Visit, vid), replied_blocks=not locked_before)
                if why:
                    return MoveResult(False, [f"låsen kan ikke fortrydes: {why}"])
        self.lock(visit_ids, locked=locked_before)
        return MoveResult(True, [])

    def _solve_route(self, dept_id: int, analyst_id: int, day: dt.date, request_ids: list[int],
                     source: DistanceSource):
        """Orders one bioanalyst's day with exactly these requests (writes nothing); the
        problems if any drops."""
        cfg = self.config(day)
        with self.store.session() as s:
            dept = s.get(Department, dept_id)
            lab = (dept.lab_lat, dept.lab_lon)
            analysts = [a for a in self._analysts(s, dept_id) if a.id == analyst_id]
            visits = {x.request_id: x for x in s.scalars(
                select(Visit).where(Visit.request_id.in_(request_ids), Visit.outcome.is_(None)))}
            preqs = []
            for rid in request_ids:
                r = s.get(Request, rid)
                v = visits.get(rid)
                locked = v is not None and v.locked
                preqs.append(PlanRequest(
                    id=rid, lat=r.effective_lat, lon=r.effective_lon,
                    received=min(r.received, day - dt.timedelta(days=1)),
                    deadline=max(r.deadline, day), earliest=None, window_start=r.window_start,
                    window_end=r.window_end, ekg=r.ekg, stability_minutes=r.stability_minutes,
                    locked_date=day if locked else None,
                    locked_start=v.window_start if locked else None,
                    locked_end=v.window_end if locked else None))
        cfg.later_penalty_kr = cfg.deadline_penalty_kr
        cfg.area_days = {}
        outcome = planner.plan(lab, [day], analysts, preqs, source, cfg,
                               next_working_day=lambda d: d + dt.timedelta(days=1),
                               time_limit_s=1.0)
        return outcome, [f"henvisning {rid}: {why}" for rid, why in outcome.unplanned]

    def _apply_route(self, s: Session, dept_id: int, analyst_id: int, day: dt.date,
                     outcome: planner.PlanOutcome, source: DistanceSource,
                     standalone: dict) -> None:
        """Writes one bioanalyst's day as ``outcome`` orders it (inside the caller's
        transaction); a route left without visits goes."""
        route = s.scalars(select(Route).where(Route.bioanalyst_id == analyst_id,
                                              Route.date == day)).first()
        if not outcome.routes:
            if route is not None:
                route.planned_km = Decimal("0")
                route.planned_minutes = 0
                route.planned_ferry_minutes = Decimal("0")
                s.flush()
                s.refresh(route, ["visits"])
                if not route.visits:
                    s.delete(route)
            return
        pr = outcome.routes[0]
        if route is None:
            route = Route(bioanalyst_id=analyst_id, department_id=dept_id, date=day)
            s.add(route)
            s.flush()
        route.planned_km = round_km(pr.km)
        route.planned_minutes = pr.minutes
        route.planned_ferry_minutes = round_min(pr.ferry_minutes)
        route.distance_source = source.describe()
        seq_in_trip: dict[int, int] = {}
        for st in pr.stops:
            sa_km, _sa_ferry, sa_link = standalone[(round(st.lat, 5), round(st.lon, 5))]
            for k, rid in enumerate(st.request_ids):
                seq_in_trip[st.trip] = seq_in_trip.get(st.trip, 0) + 1
                v = s.scalars(select(Visit).where(Visit.request_id == rid,
                                                  Visit.outcome.is_(None))).first()
                if v is None:
                    continue
                _place(v, route.id, day, st, seq_in_trip[st.trip], k == 0, sa_km, sa_link)
                s.flush()
                settle(s.get(Request, rid), s.scalars(select(Visit).where(
                    Visit.request_id == rid)))

    def replan_after_change(self, day: dt.date, last: dt.date | None = None,
                            time_limit_s: float = 5.0) -> PlanResult:
        """After a cancellation, a new urgent request or an absence: re-plans from day..last
        keeping the plan (``replan``); locked visits keep their day and window. One write
        transaction (see ``plan``). ``time_limit_s`` is kept for callers; a repair takes
        well under it."""
        return self.replan(day, last or day)

    def cancel_and_replan(self, request_id: int, at: dt.datetime, by: str, channel: str,
                          note: str = "", time_limit_s: float = 5.0, replan: bool = True):
        """Records the cancellation and re-plans the visit's day. The cancellation is one
        transaction that also measures the route again over the stops it keeps (its km and
        ferry minutes never describe a stop that left); the re-plan is a second one that only
        improves the day. Killed between the two, the database shows a cancelled request on
        a consistent route, as after a cancellation without re-planning."""
        from hjemmeprove.services.requests import RequestService

        with self.store.session() as s:
            v = s.scalars(select(Visit).where(Visit.request_id == request_id,
                                              Visit.outcome.is_(None))).first()
            day = v.date if v is not None else None
        horizon = self._repair_horizon(day, day) if day is not None and replan else None
        before = self.placements(day, horizon) if horizon is not None else None
        source = self.distance_source()

        def remeasure(s, route_id: int) -> None:
            route = s.get(Route, route_id)
            s.expire(route, ["visits"])
            dept = s.get(Department, route.department_id)
            lab = (dept.lab_lat, dept.lab_lon)
            if None in lab or any(None in _position(v.request) for v in route.visits):
                return  # a stop without a position can't be measured: the re-plan will
            self._measure(route, source, lab, {})

        result = RequestService(self.store).cancel(request_id, at, by, channel, note,
                                                   route_changed=remeasure)
        if day is not None and replan:
            self.replan(day, horizon, before=before)
        return result

    def add_absence(self, analyst_id: int, start: dt.date, end: dt.date, reason: str = "",
                    replan: bool = True, time_limit_s: float = 5.0) -> PlanResult | None:
        require(self.store, "bioanalysts.edit")
        if end < start:
            raise ValidationError("skal være efter startdatoen", "slut")
        with self.store.session() as s:
            if s.get(Bioanalyst, analyst_id) is None:
                raise ValidationError("findes ikke", "bioanalytiker")
            s.add(Absence(bioanalyst_id=analyst_id, start=start, end=end, reason=reason))
        if replan:
            return self.replan(start, end)
        return None


def route_sheet_filename(day: dt.date, analyst: str) -> str:
    """The file name of a bioanalyst's route sheet (one rule for the CLI and the desktop)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in analyst.strip())
    return f"koerselsliste-{day.isoformat()}-{safe or 'rute'}.pdf"


def reply_filename(municipality_code: int, first: dt.date, ext: str) -> str:
    """The file name of a municipality's reply for a period starting ``first``."""
    return f"svar-{municipality_code}-{first.isoformat()}.{ext}"


def _place(v: Visit, route_id: int, day: dt.date, st, seq_in_trip: int, first_at_stop: bool,
           standalone_km, ferry_link: str) -> None:
    """A visit at a planned stop: its route, day, order and arrival; the reply window unless
    a reply has locked it; the leg's km and ferry minutes on the first visit at the address."""
    v.route_id = route_id
    v.date = day
    v.sequence = st.trip * 100 + seq_in_trip
    v.planned_arrival = st.arrival
    if not v.locked:
        v.window_start, v.window_end = st.reply_start, st.reply_end
    v.leg_km = round_km(st.leg_km if first_at_stop else 0.0)
    v.leg_ferry_minutes = round_min(st.leg_ferry_minutes if first_at_stop else 0.0)
    v.standalone_km = standalone_km
    v.ferry_link = ferry_link
