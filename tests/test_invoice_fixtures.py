"""Builders for billing tests: routes and visits written directly (no planner needed).

No tests here; other billing test modules import these helpers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy import select

from hjemmeprove.db.models import (
    Agreement,
    Bioanalyst,
    Citizen,
    Municipality,
    Request,
    Route,
    Visit,
)

_serial = itertools.count(1000)


def D(x) -> Decimal:
    return Decimal(str(x))


def agreement_id(app, code: int) -> int:
    with app.store.session() as s:
        return s.scalar(select(Agreement.id).join(Municipality).where(Municipality.code == code))


def add_route(app, day: dt.date, stops, km=None, planned_km="0", ferry=None,
              planned_ferry="0", analyst: int = 0, closed: bool = True) -> int:
    """stops: list of dicts with code, outcome, standalone (km), ferry_link, ekg, name.
    Returns the route id."""
    with app.store.session() as s:
        analysts = list(s.scalars(select(Bioanalyst).order_by(Bioanalyst.id)))
        b = analysts[analyst]
        route = Route(bioanalyst_id=b.id, department_id=b.department_id, date=day,
                      planned_km=D(planned_km), planned_ferry_minutes=D(planned_ferry),
                      driven_km=None if km is None else D(km),
                      driven_ferry_minutes=None if ferry is None else D(ferry),
                      closed_at=dt.datetime.combine(day, dt.time(16)) if closed else None)
        s.add(route)
        s.flush()
        for i, stop in enumerate(stops):
            code = stop.get("code", 479)
            ag = s.scalar(select(Agreement).join(Municipality).where(Municipality.code == code))
            n = next(_serial)
            cit = Citizen(cpr=stop.get("cpr", f"0101{n % 100:02d}-{n:04d}"),
                          name=stop.get("name", f"Borger Ærø {n}"), address="Vestergade 1",
                          postcode="5700", city="Svendborg")
            s.add(cit)
            s.flush()
            req = Request(citizen_id=cit.id, municipality_id=ag.municipality_id,
                          department_id=ag.department_id, agreement_id=ag.id,
                          received=day - dt.timedelta(days=3), deadline=day + dt.timedelta(days=7),
                          ekg=stop.get("request_ekg", False), status="done")
            s.add(req)
            s.flush()
            sa = stop.get("standalone", "10")
            s.add(Visit(request_id=req.id, route_id=route.id, sequence=i, date=day,
                        outcome=stop.get("outcome", "taken"), ekg_done=stop.get("ekg", False),
                        standalone_km=None if sa is None else D(sa),
                        ferry_link=stop.get("ferry_link", "")))
        return route.id


def visits_of(app, route_id: int) -> list[Visit]:
    with app.store.session() as s:
        return list(s.scalars(select(Visit).where(Visit.route_id == route_id)
                              .order_by(Visit.sequence)))


def set_2020_rates(app, mileage="3.52"):
    """Rates as in docs/domain.md's worked example (entered by hand)."""
    from hjemmeprove.db.models import MileageRate

    with app.store.session() as s:
        for m in s.scalars(select(MileageRate)):
            s.delete(m)
    app.rates.set_mileage(dt.date(2020, 1, 1), D(mileage), "test")
