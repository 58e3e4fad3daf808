"""Closing a day (domain rule 7): per visit its outcome, per route the km driven (odometer)
and ferry minutes. Until recorded, the planned figures stand and are marked *planned*.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hjemmeprove.db.models import OUTCOMES, Request, Route, Visit
from hjemmeprove.domain.cpr import mask_cpr
from hjemmeprove.domain.lifecycle import settle
from hjemmeprove.errors import FieldError, NotFound, ValidationError
from hjemmeprove.security import require

OUTCOME_DA = {"taken": "taget", "not_home": "ikke hjemme", "refused": "afvist/ikke muligt",
              "cancelled_late": "sent aflyst"}


@dataclass(frozen=True)
class MissingItem:
    kind: str  # "km" | "outcome"
    route_id: int
    analyst: str
    visit_id: int | None
    request_id: int | None
    citizen_name: str
    cpr_masked: str
    text: str  # Danish, for the list


@dataclass(frozen=True)
class DayStatus:
    date: dt.date
    routes: int
    visits: int
    missing: list[MissingItem]

    @property
    def complete(self) -> bool:
        return not self.missing


def _decimal(value, field: str, places: str, maximum: Decimal) -> Decimal:
    try:
        d = Decimal(str(value).strip().replace(",", ".")).quantize(Decimal(places))
    except (InvalidOperation, ValueError):
        raise ValidationError(f"'{value}' er ikke et tal", field) from None
    if not d.is_finite() or d < 0 or d > maximum:
        raise ValidationError(f"skal være mellem 0 og {maximum}", field)
    return d


def _blank(value) -> bool:
    return value is None or str(value).strip() == ""


KM_MAX = Decimal("2000")
FERRY_MAX = Decimal("1440")


class DayCloseService:
    def __init__(self, store):
        self.store = store

    def record_route(self, route_id: int, driven_km, ferry_minutes=None,
                     close: bool = True) -> None:
        """The odometer km and the ferry minutes of one route."""
        require(self.store, "dayclose.edit")
        km = _decimal(driven_km, "km", "0.001", KM_MAX)
        with self.store.session() as s:
            r = s.get(Route, route_id)
            if r is None:
                raise NotFound(f"rute {route_id} findes ikke")
            r.driven_km = km
            if ferry_minutes is not None and str(ferry_minutes).strip() != "":
                r.driven_ferry_minutes = _decimal(ferry_minutes, "færgeminutter", "0.1",
                                                  FERRY_MAX)
            elif r.driven_ferry_minutes is None:
                r.driven_ferry_minutes = r.planned_ferry_minutes
            if close:
                _close_if_complete(r)

    def close_route(self, route_id: int, driven_km, ferry_minutes,
                    outcomes: dict[int, str | None], notes: dict[int, str] | None = None,
                    ekg_done: dict[int, bool] | None = None) -> None:
        """A route's day in one go: each visit's outcome (None clears it), the odometer km
        and the ferry minutes, all in one session. Everything is checked first and every
        problem is reported, naming its field; on any problem nothing is written.

        ``driven_km`` blank leaves the km unrecorded (the outcomes are still saved). The route is
        closed once it has its km and every visit on it an outcome (as before, a closed route
        is not reopened here).
        """
        require(self.store, "dayclose.edit")
        notes = notes or {}
        ekg_done = ekg_done or {}
        errors: list[FieldError] = []
        km = ferry = None
        if not _blank(driven_km):
            try:
                km = _decimal(driven_km, "km", "0.001", KM_MAX)
            except ValidationError as exc:
                errors += exc.errors
        if not _blank(ferry_minutes):
            try:
                ferry = _decimal(ferry_minutes, "færgeminutter", "0.1", FERRY_MAX)
            except ValidationError as exc:
                errors += exc.errors
        if ferry is not None and km is None and not errors:
            errors.append(FieldError("km", "skal udfyldes, når færgeminutter er udfyldt"))
        allowed = ", ".join(OUTCOME_DA[o] for o in OUTCOMES)
        for visit_id, outcome in outcomes.items():
            if outcome is not None and outcome not in OUTCOMES:
                errors.append(FieldError("udfald", f"besøg {visit_id}: '{outcome}' er ikke et "
                                                   f"udfald; skal være {allowed}"))
        with self.store.session() as s:
            r = s.get(Route, route_id, with_for_update=not self.store.is_sqlite)
            if r is None:
                raise NotFound(f"rute {route_id} findes ikke")
            visits = {v.id: v for v in s.scalars(
                select(Visit).options(joinedload(Visit.request))
                .where(Visit.route_id == route_id)).unique()}
            for visit_id, outcome in outcomes.items():
                v = visits.get(visit_id)
                if v is None:
                    errors.append(FieldError("udfald", f"besøg {visit_id} er ikke på ruten"))
                elif v.shares_locked and (outcome != v.outcome
                                          or notes.get(visit_id, v.outcome_note)
                                          != v.outcome_note):
                    errors.append(FieldError("udfald", f"besøget hos {v.request.citizen.name} "
                                                       "er faktureret og kan ikke ændres"))
            if errors:
                raise ValidationError(errors)
            for visit_id, outcome in outcomes.items():
                v = visits[visit_id]
                note = notes.get(visit_id, v.outcome_note if outcome == v.outcome else "")
                if outcome is None:
                    if v.outcome is not None:
                        v.outcome = None
                        v.outcome_note = ""
                        v.ekg_done = False
                        _settle(s, v)
                    continue
                ekg = ekg_done.get(visit_id, v.ekg_done if outcome == v.outcome
                                   else v.request.ekg)
                ekg = bool(ekg) and outcome == "taken"
                if (outcome, note[:200], ekg) == (v.outcome, v.outcome_note, v.ekg_done):
                    continue  # unchanged: no write, no audit entry
                v.outcome = outcome
                v.outcome_note = note[:200]
                v.ekg_done = ekg
                _settle(s, v)
            if km is not None:
                r.driven_km = km
                if ferry is not None:
                    r.driven_ferry_minutes = ferry
                elif r.driven_ferry_minutes is None:
                    r.driven_ferry_minutes = r.planned_ferry_minutes
            complete = r.driven_km is not None and all(
                v.outcome is not None for v in visits.values())
            if complete and r.closed_at is None:
                r.closed_at = dt.datetime.now().replace(microsecond=0)

    def record_outcome(self, visit_id: int, outcome: str, note: str = "",
                       ekg_done: bool | None = None) -> None:
        require(self.store, "dayclose.edit")
        if outcome not in OUTCOMES:
            raise ValidationError(FieldError("udfald", "skal være "
                                             + ", ".join(OUTCOME_DA[o] for o in OUTCOMES)))
        with self.store.session() as s:
            v = s.get(Visit, visit_id)
            if v is None:
                raise NotFound(f"besøg {visit_id} findes ikke")
            if v.shares_locked:
                raise ValidationError("besøget er faktureret og kan ikke ændres", "udfald")
            req = s.get(Request, v.request_id)
            v.outcome = outcome
            v.outcome_note = note[:200]
            v.ekg_done = bool(req.ekg if ekg_done is None else ekg_done) and outcome == "taken"
            _settle(s, v)
            s.flush()
            _close_if_complete(v.route)

    def clear_outcome(self, visit_id: int) -> None:
        require(self.store, "dayclose.edit")
        with self.store.session() as s:
            v = s.get(Visit, visit_id)
            if v is None:
                raise NotFound(f"besøg {visit_id} findes ikke")
            if v.shares_locked:
                raise ValidationError("besøget er faktureret og kan ikke ændres", "udfald")
            v.outcome = None
            v.ekg_done = False
            _settle(s, v)

    def status(self, day: dt.date) -> DayStatus:
        """What is still missing for a day: routes without km, visits without outcome."""
        missing: list[MissingItem] = []
        n_visits = 0
        with self.store.session() as s:
            routes = list(s.scalars(select(Route).options(joinedload(Route.bioanalyst))
                                    .where(Route.date == day).order_by(Route.bioanalyst_id)))
            for r in routes:
                if r.driven_km is None:
                    missing.append(MissingItem("km", r.id, r.bioanalyst.name, None, None, "",
                                               "", f"{r.bioanalyst.name}: kørte km mangler "
                                                   f"(planlagt {r.planned_km} km)"))
                visits = s.scalars(select(Visit).options(joinedload(Visit.request).joinedload(
                    Request.citizen)).where(Visit.route_id == r.id).order_by(Visit.sequence))
                for v in visits.unique():
                    n_visits += 1
                    if v.outcome is None:
                        c = v.request.citizen
                        missing.append(MissingItem(
                            "outcome", r.id, r.bioanalyst.name, v.id, v.request_id, c.name,
                            mask_cpr(c.cpr), f"{r.bioanalyst.name}: udfald mangler for "
                                             f"{c.name} ({mask_cpr(c.cpr)})"))
        return DayStatus(day, len(routes), n_visits, missing)

    def missing_days(self, first: dt.date, last: dt.date) -> list[dt.date]:
        """Past days in first..last that are not fully closed."""
        days = []
        with self.store.session() as s:
            q = select(Route.date).where(Route.date.between(first, last),
                                         Route.driven_km.is_(None)).distinct()
            days += list(s.scalars(q))
            q2 = (select(Visit.date).where(Visit.date.between(first, last),
                                           Visit.route_id.is_not(None),
                                           Visit.outcome.is_(None)).distinct())
            days += list(s.scalars(q2))
        return sorted(set(days))


def _settle(s, visit: Visit) -> None:
    """The request's status from its facts (``domain.lifecycle``), after a visit changed."""
    s.flush()
    settle(visit.request, s.scalars(select(Visit).where(Visit.request_id == visit.request_id)))


def _close_if_complete(route: Route | None) -> None:
    """A route is closed when its km are recorded and every visit on it has an outcome,
    whichever of the two comes last."""
    if route is None or route.closed_at is not None or route.driven_km is None:
        return
    if all(v.outcome is not None for v in route.visits):
        route.closed_at = dt.datetime.now().replace(microsecond=0)
