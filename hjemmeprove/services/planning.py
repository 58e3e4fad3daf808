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

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from hjemmeprove.db.models import (
    Absence,
    Bioanalyst,
    Department,
    Municipality,
    Request,
    Route,
    Visit,
)
from hjemmeprove.domain.cpr import mask_cpr
from hjemmeprove.errors import NotFound, ValidationError
from hjemmeprove.planning import planner
from hjemmeprove.planning.distances import (
    DistanceSource,
    round_km,
    round_min,
    source_for_store,
    standalone_trip,
)
from hjemmeprove.planning.planner import PlanAnalyst, PlanConfig, PlanRequest
from hjemmeprove.settings import Settings
from hjemmeprove.security import require

ACTIVE = ("open", "planned", "locked")
DEFAULT_TIME_LIMIT_S = 10.0


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

    def as_json(self) -> dict:
        return {
            "routes": [route_json(r) for r in self.routes],
            "unplanned": [{"request": u.request_id, "reason": u.reason} for u in self.unplanned],
            "distance": self.distance,
        }


@dataclass(frozen=True)
class MoveResult:
    ok: bool
    problems: list[str] = field(default_factory=list)


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


def route_json(r: RouteInfo) -> dict:
    return {
        "analyst": r.analyst, "date": r.date, "km": r.km, "minutes": r.minutes,
        "ferry_minutes": r.ferry_minutes,
        "stops": [{"request": s.request_id, "arrival": s.arrival,
                   "window": [s.window[0], s.window[1]], "lat": s.lat, "lon": s.lon,
                   "leg_km": s.leg_km, "leg_ferry_minutes": s.leg_ferry_minutes,
                   "ferry_link": s.ferry_link, "trip": s.trip, "locked": s.locked}
                  for s in r.stops],
    }


def _areas(text: str) -> dict[str, int]:
    """'Langeland=tir;Tåsinge=tir' → {'Langeland': 1, 'Tåsinge': 1}."""
    out = {}
    for part in (text or "").split(";"):
        if "=" in part:
            name, wd = part.split("=", 1)
            key = wd.strip().lower()[:3]
            if key in planner.WEEKDAYS_DA:
                out[name.strip()] = planner.WEEKDAYS_DA[key]
    return out


class PlanningService:
    def __init__(self, store):
        self.store = store
        self.settings = Settings(store)

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
        if "planning.area_days" in v:
            cfg.area_days = _areas(v["planning.area_days"])
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
             time_limit_s: float | None = None) -> PlanResult:
        """Plans (or re-plans) the open requests over the working days first..last.

        ``progress(dict)`` is called for each better solution with ``solutions``,
        ``objective_kr`` and ``seconds``; setting ``cancel_event`` stops the search and keeps
        the best plan found so far. The time limit defaults to planning.time_limit_s.
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
        objective = 0.0
        solutions = 0
        seconds = 0.0
        status = "løst"
        with self.store.session() as s:
            dept_ids = list(s.scalars(select(Department.id).order_by(Department.id)))
        for dept_id in dept_ids:
            with self.store.session() as s:
                dept = s.get(Department, dept_id)
                frozen_days = self._frozen_days(s, dept_id, days)
                plan_days = [d for d in days if d not in frozen_days]
                self._clear(s, dept_id, plan_days)
                analysts = self._analysts(s, dept_id)
                requests = self._requests(s, dept_id, plan_days, first, last)
                lab = (dept.lab_lat, dept.lab_lon)
            outcome = planner.plan(lab, plan_days, analysts, requests, source, cfg,
                                   next_working_day=calendar.next_working_day,
                                   time_limit_s=time_limit_s, progress=progress,
                                   cancel_event=cancel_event)
            with self.store.session() as s:
                dept = s.get(Department, dept_id)
                self._write(s, dept, outcome, source)
            all_unplanned += [Unplanned(rid, why) for rid, why in outcome.unplanned]
            objective += outcome.objective_kr
            solutions += outcome.solutions
            seconds += outcome.seconds
            status = outcome.status
        routes = self.routes(first, last)
        return PlanResult(first, last, routes, sorted(all_unplanned, key=lambda u: u.request_id),
                          source.as_json(), Decimal(str(round(objective, 2))), solutions,
                          round(seconds, 2), status)

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
        return frozen | set(s.scalars(q2))

    def _clear(self, s: Session, dept_id: int, days: list[dt.date]) -> None:
        """Unlocked visits without outcome on these days leave their routes (re-planned)."""
        if not days:
            return
        routes = list(s.scalars(select(Route).where(Route.department_id == dept_id,
                                                    Route.date.in_(days))))
        for route in routes:
            for v in list(route.visits):
                if v.outcome is None and not v.locked:
                    req = s.get(Request, v.request_id)
                    if req.status == "planned":
                        req.status = "open"
                    s.delete(v)
        s.flush()

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

    def _requests(self, s: Session, dept_id: int, days: list[dt.date], first: dt.date,
                  last: dt.date) -> list[PlanRequest]:
        if not days:
            return []
        q = (select(Request).options(joinedload(Request.citizen))
             .where(Request.department_id == dept_id, Request.status.in_(ACTIVE),
                    Request.received < last))
        reqs = list(s.scalars(q))
        # active visits (no outcome) by request
        visits = {}
        for v in s.scalars(select(Visit).where(Visit.request_id.in_([r.id for r in reqs]),
                                               Visit.outcome.is_(None))):
            visits[v.request_id] = v
        regular = self._regular_analysts(s, {r.citizen_id for r in reqs})
        self._geocode(s, reqs)
        out = []
        for r in reqs:
            v = visits.get(r.id)
            if v is not None and (not v.locked) and v.date not in days:
                continue  # planned on a day outside this period: leave it
            if v is not None and v.locked and v.date not in days:
                continue
            if v is None and r.status == "locked":
                r.status = "open"
            locked = v is not None and v.locked
            out.append(PlanRequest(
                id=r.id, lat=r.effective_lat, lon=r.effective_lon, received=r.received,
                deadline=r.deadline, earliest=r.earliest, window_start=r.window_start,
                window_end=r.window_end, ekg=r.ekg, preferred_days=r.preferred_days,
                stability_minutes=r.stability_minutes,
                locked_date=v.date if locked else None,
                locked_start=(v.window_start or v.planned_arrival) if locked else None,
                locked_end=(v.window_end or v.planned_arrival) if locked else None,
                regular_analyst=regular.get(r.citizen_id), citizen_id=r.citizen_id,
                agreement_end=r.agreement.end))
        return out

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

    def _write(self, s: Session, dept: Department, outcome: planner.PlanOutcome,
               source: DistanceSource) -> None:
        describe = source.describe()
        lab = (dept.lab_lat, dept.lab_lon)
        existing = {(r.bioanalyst_id, r.date): r for r in s.scalars(
            select(Route).where(Route.department_id == dept.id,
                                Route.date.in_({r.date for r in outcome.routes} or {dt.date.min})))}
        locked_visits = {}
        for route in existing.values():
            for v in route.visits:
                if v.locked and v.outcome is None:
                    locked_visits[v.request_id] = v
        touched = set()
        standalone_cache: dict[tuple, tuple] = {}
        for pr in outcome.routes:
            route = existing.get((pr.analyst_id, pr.date))
            if route is None:
                route = Route(bioanalyst_id=pr.analyst_id, department_id=dept.id, date=pr.date)
                s.add(route)
                s.flush()
                existing[(pr.analyst_id, pr.date)] = route
            route.planned_km = round_km(pr.km)
            route.planned_minutes = pr.minutes
            route.planned_ferry_minutes = round_min(pr.ferry_minutes)
            route.distance_source = describe
            touched.add(route.id)
            seq_in_trip: dict[int, int] = {}
            for st in pr.stops:
                key = (round(st.lat, 5), round(st.lon, 5))
                if key not in standalone_cache:
                    standalone_cache[key] = standalone_trip(source, lab, st.lat, st.lon)
                sa_km, _sa_ferry, sa_link = standalone_cache[key]
                for k, rid in enumerate(st.request_ids):
                    seq_in_trip[st.trip] = seq_in_trip.get(st.trip, 0) + 1
                    v = locked_visits.pop(rid, None)
                    if v is None:
                        v = s.scalars(select(Visit).where(Visit.request_id == rid,
                                                          Visit.outcome.is_(None))).first()
                    if v is None:
                        v = Visit(request_id=rid)
                        s.add(v)
                    v.route_id = route.id
                    v.date = pr.date
                    v.sequence = st.trip * 100 + seq_in_trip[st.trip]
                    v.planned_arrival = st.arrival
                    if not v.locked:
                        v.window_start, v.window_end = st.reply_start, st.reply_end
                    v.leg_km = round_km(st.leg_km if k == 0 else 0.0)
                    v.leg_ferry_minutes = round_min(st.leg_ferry_minutes if k == 0 else 0.0)
                    v.standalone_km = sa_km
                    v.ferry_link = sa_link
                    req = s.get(Request, rid)
                    req.status = "locked" if v.locked else "planned"
        s.flush()
        # routes of planned days that lost all their visits go away (unless history)
        for route in existing.values():
            if route.id not in touched and route.closed_at is None and route.driven_km is None:
                s.refresh(route)
                if not route.visits:
                    s.delete(route)
        # a locked visit the solver could not keep stays where it was (reported as
        # unplanned with its reason): nothing moves it out of its day and window

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
                position_quality=req.position_quality if req.lat is not None
                else c.position_quality,
                outcome=v.outcome, standalone_km=v.standalone_km))
        b = r.bioanalyst
        return RouteInfo(r.id, b.id, b.name, b.phone, r.date, r.planned_km, r.planned_minutes,
                         r.planned_ferry_minutes, r.distance_source, r.driven_km,
                         r.driven_ferry_minutes, r.closed_at is not None, tuple(stops))

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
                    written=written or dt.date.today(), cancel_phone=cancel_phone))
        return out

    # --- manual changes -------------------------------------------------------------------------

    def lock(self, visit_ids: list[int], locked: bool = True) -> None:
        require(self.store, "planning.edit")
        with self.store.session() as s:
            for vid in visit_ids:
                v = s.get(Visit, vid)
                if v is None:
                    raise NotFound(f"besøg {vid} findes ikke")
                v.locked = locked
                req = s.get(Request, v.request_id)
                if req.status in ("planned", "locked"):
                    req.status = "locked" if locked else "planned"

    def unlock(self, visit_ids: list[int]) -> None:
        self.lock(visit_ids, locked=False)

    def send_replies(self, first: dt.date, last: dt.date, now: dt.datetime | None = None,
                     municipality_code: int | None = None) -> list[ReplyRow]:
        """Replies (date + window) for the planned visits in first..last not yet replied to;
        sending locks each visit (domain rule 4). Returns the rows per municipality."""
        require(self.store, "planning.edit")
        now = now or dt.datetime.now().replace(microsecond=0)
        rows = []
        with self.store.session() as s:
            q = (select(Visit).options(joinedload(Visit.request).joinedload(Request.citizen))
                 .where(Visit.date.between(first, last), Visit.route_id.is_not(None),
                        Visit.outcome.is_(None), Visit.reply_sent_at.is_(None))
                 .order_by(Visit.date, Visit.sequence))
            for v in s.scalars(q).unique():
                req = v.request
                muni = s.get(Municipality, req.municipality_id)
                if municipality_code is not None and muni.code != municipality_code:
                    continue
                v.locked = True
                v.reply_sent_at = now
                req.status = "locked"
                rows.append(ReplyRow(muni.code, muni.name, req.id, v.id, req.citizen.name,
                                     mask_cpr(req.citizen.cpr), req.sampling_address, v.date,
                                     v.window_start, v.window_end, now))
        rows.sort(key=lambda r: (r.municipality_code, r.date, r.window_start or dt.time()))
        return rows

    def move_visit(self, visit_id: int, analyst_id: int, day: dt.date, apply: bool = True
                   ) -> MoveResult:
        """Moves a visit to another bioanalyst and/or day; returns the problems (Danish) and
        writes nothing when there are any. Both routes are re-ordered."""
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
            b = s.get(Bioanalyst, analyst_id)
            if b is None:
                raise ValidationError("findes ikke", "bioanalytiker")
            old_route = s.get(Route, v.route_id) if v.route_id else None
            why = calendar.why_closed(day)
            if why:
                problems.append(f"{day.isoformat()} er ikke en hverdag ({why})")
            if v.locked and day != v.date:
                problems.append("besøget er låst (svar sendt): dagen kan ikke ændres")
            first_ok = req.earliest or calendar.next_working_day(req.received)
            if day < first_ok:
                problems.append(f"for tidligt: tidligst {first_ok.isoformat()}")
            if day > req.deadline:
                problems.append(f"efter fristen {req.deadline.isoformat()}")
            if req.agreement.end is not None and day > req.agreement.end:
                problems.append(f"aftalen med kommunen ophørte {req.agreement.end.isoformat()}")
            if any(a.start <= day <= a.end for a in b.absences):
                problems.append(f"{b.name} er fraværende {day.isoformat()}")
            if req.ekg and "ekg" not in b.skill_set:
                problems.append(f"{b.name} tager ikke EKG")
            target = s.scalars(select(Route).where(Route.bioanalyst_id == analyst_id,
                                                   Route.date == day)).first()
            if target is not None and (target.closed_at or target.driven_km is not None):
                problems.append("ruten er afsluttet")
            if problems:
                return MoveResult(False, problems)
            dept_id = req.department_id
            target_ids = [x.request_id for x in (target.visits if target else [])
                          if x.outcome is None and x.id != v.id] + [req.id]
            old_ids = ([x.request_id for x in old_route.visits if x.outcome is None
                        and x.id != v.id] if old_route is not None else [])
            old_key = (old_route.bioanalyst_id, old_route.date) if old_route else None
        problems += self._resolve_route(dept_id, analyst_id, day, target_ids, visit_id,
                                        apply=False)
        if problems or not apply:
            return MoveResult(not problems, problems)
        self._resolve_route(dept_id, analyst_id, day, target_ids, visit_id, apply=True)
        if old_key is not None and old_key != (analyst_id, day):
            self._resolve_route(dept_id, old_key[0], old_key[1], old_ids, None, apply=True)
        return MoveResult(True, [])

    def _resolve_route(self, dept_id: int, analyst_id: int, day: dt.date, request_ids: list[int],
                       moved_visit: int | None, apply: bool) -> list[str]:
        """Orders one bioanalyst's day with exactly these requests; problems if any drops."""
        source = self.distance_source()
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
        problems = [f"henvisning {rid}: {why}" for rid, why in outcome.unplanned]
        if problems or not apply:
            return problems
        with self.store.session() as s:
            dept = s.get(Department, dept_id)
            route = s.scalars(select(Route).where(Route.bioanalyst_id == analyst_id,
                                                  Route.date == day)).first()
            if moved_visit is not None:
                mv = s.get(Visit, moved_visit)
                mv.route_id = None
                if route is not None:
                    mv.route_id = route.id
                mv.date = day
                s.flush()
            if not outcome.routes and route is not None:
                route.planned_km = Decimal("0")
                route.planned_minutes = 0
                route.planned_ferry_minutes = Decimal("0")
                s.flush()
                s.refresh(route)
                if not route.visits:
                    s.delete(route)
                return []
            self._write(s, dept, outcome, source)
        return []

    def replan_after_change(self, day: dt.date, last: dt.date | None = None,
                            time_limit_s: float = 5.0) -> PlanResult:
        """After a cancellation, a new urgent request or an absence: re-plans day..last
        (default the day alone); locked visits keep their day and window."""
        return self.plan(day, last or day, time_limit_s=time_limit_s)

    def cancel_and_replan(self, request_id: int, at: dt.datetime, by: str, channel: str,
                          note: str = "", time_limit_s: float = 5.0):
        """Records the cancellation (RequestService) and re-plans the visit's day."""
        from hjemmeprove.services.requests import RequestService

        with self.store.session() as s:
            v = s.scalars(select(Visit).where(Visit.request_id == request_id,
                                              Visit.outcome.is_(None))).first()
            day = v.date if v is not None else None
        result = RequestService(self.store).cancel(request_id, at, by, channel, note)
        if day is not None:
            self.replan_after_change(day, time_limit_s=time_limit_s)
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
            return self.plan(start, end, time_limit_s=time_limit_s)
        return None
