"""Closing a day (domain rule 7): per visit its outcome, per route the km driven (odometer)
and ferry minutes. Until recorded, the planned figures stand and are marked *planned*.

Only today or earlier can be closed. A billed fact is final: once a visit is on an issued
invoice (not credited), its outcome and its route's km and ferry minutes cannot change here;
the refusal names the invoice (the correction is a credit note, then the corrected facts are
billed again). Driven km far from the plan need an explicit confirmation. Ferry minutes that
no visit on the route explains show as missing until the coordinator corrects the figure or
names the visit they belong to (``resolve_ferry``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import joinedload, object_session

from hjemmeprove.db.models import OUTCOMES, Agreement, FerryResolution, Request, Route, Visit
from hjemmeprove.domain.cpr import mask_cpr
from hjemmeprove.domain.labels import outcome_label
from hjemmeprove.domain.lifecycle import settle
from hjemmeprove.errors import FieldError, NotFound, ValidationError
from hjemmeprove.security import require

FAR_FACTOR = Decimal("1.5")  # driven km over 1.5 × planned, or under planned / 1.5: confirm


class KmNeedsConfirmation(ValidationError):
    """The only problem is driven km far from the plan: ask, then save with ``confirm``."""


@dataclass(frozen=True)
class MissingItem:
    kind: str  # "km" | "outcome" | "ferry"
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
    def __init__(self, store, today=None):
        self.store = store
        self._today = today or dt.date.today

    # --- recording ----------------------------------------------------------------------------
    def record_route(self, route_id: int, driven_km, ferry_minutes=None,
                     close: bool = True, confirm: bool = False) -> None:
        """The odometer km and the ferry minutes of one route."""
        self.close_route(route_id, driven_km, ferry_minutes, {}, confirm=confirm,
                         _require_km=True)

    def close_route(self, route_id: int, driven_km, ferry_minutes,
                    outcomes: dict[int, str | None], notes: dict[int, str] | None = None,
                    ekg_done: dict[int, bool] | None = None, confirm: bool = False,
                    _require_km: bool = False) -> None:
        """A route's day in one go: each visit's outcome (None clears it), the odometer km
        and the ferry minutes, all in one transaction. Everything is checked first and every
        problem is reported, naming its field; on any problem nothing is written.

        ``driven_km`` blank leaves the km unrecorded (the outcomes are still saved). The route
        is closed once it has its km and every visit on it an outcome, and reopened when an
        outcome is cleared. ``confirm`` accepts driven km far from the plan.
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
        elif _require_km:
            errors.append(FieldError("km", "skal udfyldes"))
        if not _blank(ferry_minutes):
            try:
                ferry = _decimal(ferry_minutes, "færgeminutter", "0.1", FERRY_MAX)
            except ValidationError as exc:
                errors += exc.errors
        if ferry is not None and km is None and not errors:
            errors.append(FieldError("km", "skal udfyldes, når færgeminutter er udfyldt"))
        allowed = ", ".join(outcome_label(o).lower() for o in OUTCOMES)
        for visit_id, outcome in outcomes.items():
            if outcome is not None and outcome not in OUTCOMES:
                errors.append(FieldError("udfald", f"besøg {visit_id}: '{outcome}' er ikke et "
                                                   f"udfald; skal være {allowed}"))
        with self.store.session() as s:
            r = _locked_route(s, self.store, route_id)
            visits = _locked_visits(s, self.store, route_id)
            billed = _billed(s, visits)
            today = self._today()
            for visit_id, outcome in outcomes.items():
                v = visits.get(visit_id)
                if v is None:
                    errors.append(FieldError("udfald", f"besøg {visit_id} er ikke på ruten"))
                    continue
                if outcome is not None and r.date > today and outcome != v.outcome:
                    errors.append(FieldError("udfald", f"ruten {r.date:%d.%m.%Y} kan først "
                                                       "afsluttes på dagen"))
                if v.id in billed and (outcome != v.outcome
                                       or notes.get(visit_id, v.outcome_note) != v.outcome_note):
                    errors.append(FieldError("udfald", f"besøget hos {v.request.citizen.name} "
                                                       f"er faktureret på {billed[v.id]} og kan "
                                                       "ikke ændres; ret det med en kreditnota"))
            if km is not None or ferry is not None:
                new_ferry = ferry if ferry is not None else (
                    r.driven_ferry_minutes if r.driven_ferry_minutes is not None
                    else r.planned_ferry_minutes)
                changes = km != r.driven_km or new_ferry != r.driven_ferry_minutes
                if changes and r.date > today:
                    errors.append(FieldError("km", f"ruten {r.date:%d.%m.%Y} kan først "
                                                   "afsluttes på dagen"))
                if changes and billed:
                    numbers = sorted(set(billed.values()))
                    errors.append(FieldError("km", "ruten er faktureret på " + ", ".join(numbers)
                                             + "; km og færgeminutter kan ikke ændres; ret dem "
                                               "med en kreditnota"))
                planned = Decimal(r.planned_km or 0)
                if (changes and km is not None and not confirm and planned > 0
                        and km != r.driven_km
                        and (km > planned * FAR_FACTOR or km * FAR_FACTOR < planned)):
                    errors.append(FieldError(
                        "km", f"{_n(km)} km er langt fra de planlagte {_n(planned)} km; "
                              "kontrollér tallet og bekræft det (--bekraeft)"))
            if errors:
                if all(e.message.endswith("(--bekraeft)") for e in errors):
                    raise KmNeedsConfirmation(errors)
                raise ValidationError(errors)
            for visit_id, outcome in outcomes.items():
                v = visits[visit_id]
                _set_outcome(v, outcome, notes.get(visit_id), ekg_done.get(visit_id))
            if km is not None:
                r.driven_km = km
                if ferry is not None:
                    r.driven_ferry_minutes = ferry
                elif r.driven_ferry_minutes is None:
                    r.driven_ferry_minutes = r.planned_ferry_minutes
            _close_or_reopen(r, visits.values())

    def record_outcome(self, visit_id: int, outcome: str, note: str = "",
                       ekg_done: bool | None = None) -> None:
        """One visit's outcome (the same path as a route's close)."""
        if outcome not in OUTCOMES:
            require(self.store, "dayclose.edit")
            raise ValidationError(FieldError("udfald", "skal være " + ", ".join(
                outcome_label(o).lower() for o in OUTCOMES)))
        route_id = self._route_of(visit_id)
        if route_id is None:
            self._offroute_outcome(visit_id, outcome, note)
            return
        self.close_route(route_id, None, None, {visit_id: outcome}, {visit_id: note},
                         None if ekg_done is None else {visit_id: ekg_done})

    def clear_outcome(self, visit_id: int) -> None:
        """Clears a visit's outcome (and its note); the route is open again."""
        route_id = self._route_of(visit_id)
        if route_id is None:
            self._offroute_outcome(visit_id, None, "")
            return
        self.close_route(route_id, None, None, {visit_id: None})

    def _route_of(self, visit_id: int) -> int | None:
        with self.store.session() as s:
            v = s.get(Visit, visit_id)
            if v is None:
                raise NotFound(f"besøg {visit_id} findes ikke")
            return v.route_id

    def _offroute_outcome(self, visit_id: int, outcome: str | None, note: str) -> None:
        """A visit off every route (a late cancellation entered as such): the same checks."""
        require(self.store, "dayclose.edit")
        with self.store.session() as s:
            _write_lock(s, self.store)
            v = s.get(Visit, visit_id, with_for_update=not self.store.is_sqlite)
            billed = _billed(s, {v.id: v})
            if v.id in billed and outcome != v.outcome:
                raise ValidationError(f"besøget hos {v.request.citizen.name} er faktureret på "
                                      f"{billed[v.id]} og kan ikke ændres; ret det med en "
                                      "kreditnota", "udfald")
            if outcome is not None and outcome != "cancelled_late":
                raise ValidationError("besøget er ikke på en rute; planlæg det først", "udfald")
            _set_outcome(v, outcome, note, None)

    def resolve_ferry(self, route_id: int, visit_id: int, note: str = "") -> Decimal:
        """The coordinator names the visit that a route's unexplained ferry minutes belong
        to; returns the minutes. (The other resolution is correcting the figure.)"""
        require(self.store, "dayclose.edit")
        from hjemmeprove.billing.compute import carries_share, route_shares, setting

        with self.store.session() as s:
            r = _locked_route(s, self.store, route_id)
            visits = _locked_visits(s, self.store, route_id)
            billed = _billed(s, visits)
            if billed:
                raise ValidationError("ruten er faktureret på " + ", ".join(
                    sorted(set(billed.values()))) + "; ret den med en kreditnota", "færge")
            v = visits.get(visit_id)
            if v is None:
                raise ValidationError(f"besøg {visit_id} er ikke på ruten", "besøg")
            if not carries_share(v, v.request):
                raise ValidationError(f"bioanalytikeren kørte ikke til {v.request.citizen.name} "
                                      f"({outcome_label(v.outcome).lower()})", "besøg")
            old = s.get(FerryResolution, route_id)
            if old is not None:
                s.delete(old)
                s.flush()
            unexplained = _unexplained(s, r, visits, route_shares, setting)
            if not unexplained:
                raise ValidationError("rutens færgeminutter er forklaret af besøgene; der er "
                                      "intet at henføre", "færge")
            s.add(FerryResolution(route_id=route_id, visit_id=visit_id, minutes=unexplained,
                                  note=note[:200], decided_by=s.info.get("user", "")))
            return unexplained

    # --- reading --------------------------------------------------------------------------------
    def status(self, day: dt.date) -> DayStatus:
        """What is still missing for a day: routes without km, visits without outcome, and
        ferry minutes no visit explains."""
        from hjemmeprove.billing.compute import route_shares, setting

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
                visits = {v.id: v for v in s.scalars(
                    select(Visit).options(joinedload(Visit.request).joinedload(Request.citizen))
                    .where(Visit.route_id == r.id).order_by(Visit.sequence)).unique()}
                for v in visits.values():
                    n_visits += 1
                    if v.outcome is None:
                        c = v.request.citizen
                        missing.append(MissingItem(
                            "outcome", r.id, r.bioanalyst.name, v.id, v.request_id, c.name,
                            mask_cpr(c.cpr), f"{r.bioanalyst.name}: udfald mangler for "
                                             f"{c.name} ({mask_cpr(c.cpr)})"))
                unexplained = _unexplained(s, r, visits, route_shares, setting)
                if unexplained:
                    missing.append(MissingItem(
                        "ferry", r.id, r.bioanalyst.name, None, None, "", "",
                        f"{r.bioanalyst.name}: {_n(unexplained)} færgeminutter, som intet "
                        "besøg på ruten forklarer: ret tallet eller angiv besøget"))
        return DayStatus(day, len(routes), n_visits, missing)

    def unexplained_ferry(self, route_id: int) -> Decimal:
        """A route's ferry minutes that no visit explains (0 when all are explained)."""
        from hjemmeprove.billing.compute import route_shares, setting

        with self.store.session() as s:
            r = s.get(Route, route_id)
            if r is None:
                raise NotFound(f"rute {route_id} findes ikke")
            visits = {v.id: v for v in s.scalars(select(Visit).where(Visit.route_id == r.id))}
            return _unexplained(s, r, visits, route_shares, setting)

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


# --- helpers --------------------------------------------------------------------------------------

def _n(d) -> str:
    return format(Decimal(d).normalize(), "f").replace(".", ",")


def _write_lock(s, store) -> None:
    """SQLite: take the database write lock before reading, so a concurrent issuing run is
    waited for (never read stale and then fail)."""
    if store.is_sqlite:
        from hjemmeprove.billing.issuing import take_write_lock

        take_write_lock(s, True)


def _locked_route(s, store, route_id: int) -> Route:
    """The route, locked against a concurrent issuing run (which locks routes, then visits)."""
    _write_lock(s, store)
    r = s.get(Route, route_id, with_for_update=not store.is_sqlite)
    if r is None:
        raise NotFound(f"rute {route_id} findes ikke")
    return r


def _locked_visits(s, store, route_id: int) -> dict[int, Visit]:
    q = (select(Visit).options(joinedload(Visit.request).joinedload(Request.citizen))
         .where(Visit.route_id == route_id).order_by(Visit.id))
    if not store.is_sqlite:
        q = q.with_for_update(of=Visit)
    return {v.id: v for v in s.scalars(q).unique()}


def _billed(s, visits: dict[int, Visit]) -> dict[int, str]:
    """visit id -> "faktura nr. N" for the visits whose facts are final."""
    from hjemmeprove.billing.compute import billed_visits

    out = {vid: f"faktura nr. {number}"
           for vid, (_inv, number) in billed_visits(s, list(visits)).items()}
    for vid, v in visits.items():
        if v.shares_locked and vid not in out:
            out[vid] = "en udstedt faktura"
    return out


def _unexplained(s, route: Route, visits: dict[int, Visit], route_shares, setting) -> Decimal:
    agreements = {a.id: a for a in s.scalars(select(Agreement))}
    rows = [(v, v.request, v.request.citizen, route) for v in visits.values()]
    _shares, _notes, unexplained = route_shares(s, rows, agreements,
                                                setting(s, "billing.allocation_rule"))
    hit = unexplained.get(route.id)
    return hit.minutes if hit is not None else Decimal("0")


def _set_outcome(v: Visit, outcome: str | None, note: str | None, ekg: bool | None) -> None:
    """The one place a visit's outcome changes: note, EKG and the request's status follow.
    ``note``/``ekg`` None keep the current ones for the same outcome."""
    if outcome is None:
        if v.outcome is not None or v.outcome_note:
            v.outcome = None
            v.outcome_note = ""
            v.ekg_done = False
            _settle(object_session(v), v)
        return
    same = outcome == v.outcome
    note = (v.outcome_note if same else "") if note is None else note
    if ekg is None:
        ekg = v.ekg_done if same else v.request.ekg
    ekg = bool(ekg) and outcome == "taken"
    if (outcome, note[:200], ekg) == (v.outcome, v.outcome_note, v.ekg_done):
        return  # unchanged: no write, no audit entry
    v.outcome = outcome
    v.outcome_note = note[:200]
    v.ekg_done = ekg
    _settle(object_session(v), v)


def _close_or_reopen(route: Route, visits) -> None:
    """A route is closed when its km are recorded and every visit on it has an outcome,
    whichever of the two comes last; it is open again as soon as one is missing."""
    complete = route.driven_km is not None and all(v.outcome is not None for v in visits)
    if complete and route.closed_at is None:
        route.closed_at = dt.datetime.now().replace(microsecond=0)
    elif not complete and route.closed_at is not None:
        route.closed_at = None


def _settle(s, visit: Visit) -> None:
    """The request's status from its facts (``domain.lifecycle``), after a visit changed."""
    s.flush()
    settle(visit.request, s.scalars(select(Visit).where(Visit.request_id == visit.request_id)))
