"""The request list: server-side sorting (pages of a sorted list neither overlap nor skip) and
filtering on one status or a tuple of them ("Aktive")."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from hjemmeprove.db.models import REQUEST_STATUSES, Bioanalyst, Request, Route, Visit
from hjemmeprove.errors import ValidationError
from hjemmeprove.services.requests import ACTIVE_STATUSES, SORT_KEYS
from tests.factories import request_values

TODAY = dt.date(2024, 3, 20)
# distinct first letters, so that every collation (SQLite's, PostgreSQL's locale) agrees
NAMES = ["Anna Holm", "Bent Lund", "Carl Berg", "Dorte Friis", "Erik Juul"]
STREETS = ["Algade", "Bygade", "Cypresvej", "Digevej", "Egevej", "Fjordvej", "Gl. Skolevej"]


def _visit(app, rid: int, day: dt.date, locked: bool = True) -> None:
    with app.store.session() as s:
        req = s.get(Request, rid)
        analyst = s.scalars(select(Bioanalyst.id).order_by(Bioanalyst.id)).first()
        route = s.scalar(select(Route).where(Route.bioanalyst_id == analyst, Route.date == day))
        if route is None:
            route = Route(bioanalyst_id=analyst, department_id=req.department_id, date=day)
            s.add(route)
            s.flush()
        s.add(Visit(request_id=rid, route_id=route.id, date=day, window_start=dt.time(9),
                    window_end=dt.time(11), locked=locked))
        req.status = "locked" if locked else "planned"


@pytest.fixture
def many(department_app):
    """24 requests with repeated names, dates and municipalities (ties for the id to break),
    every status, visits on some days, late and timely cancellations, EKG on some."""
    app = department_app
    ids = []
    for i in range(24):
        values = request_values(
            cpr=f"{(i * 11) % 28 + 1:02d}0{i % 9 + 1}{50 + (i * 7) % 40}-{1000 + i}",
            name=NAMES[i % len(NAMES)], address=f"{STREETS[(i * 3) % len(STREETS)]} {i + 1}",
            municipality="479" if i % 3 else "430",
            received=(dt.date(2024, 3, 1) + dt.timedelta(days=(i * 5) % 10)).isoformat(),
            ekg="ja" if i % 4 == 0 else "nej")
        if i % 6 == 1:
            values.update(sampling_address=f"{STREETS[i % len(STREETS)]} {40 + i}",
                          sampling_postcode="5700", sampling_city="Svendborg")
        ids.append(app.requests.create(values, today=TODAY))
    # the same birth date, stored numbers in the opposite order of the ids: sorting on the
    # masked text (010150-XXXX twice) would keep id order; the stored number reverses it
    ids.append(app.requests.create(request_values(cpr="010150-1999", name="Frede Kok"),
                                   today=TODAY))
    ids.append(app.requests.create(request_values(cpr="010150-1111", name="Frede Kok"),
                                   today=TODAY))
    for k, rid in enumerate(ids[:8]):
        _visit(app, rid, dt.date(2024, 3, 25) + dt.timedelta(days=k % 3), locked=k % 2 == 0)
    app.requests.cancel(ids[0], dt.datetime(2024, 3, 25, 8, 0), "Hjemmeplejen",
                        "telephone")  # late: an hour before a locked window
    app.requests.cancel(ids[9], dt.datetime(2024, 3, 7, 8, 0), "Hjemmeplejen", "electronic")
    app.requests.mark_not_eligible(ids[10], "Akut prøve")
    with app.store.session() as s:
        for rid in ids[11:14]:
            s.get(Request, rid).status = "done"
    return app, ids


def _cprs(app) -> dict[int, str]:
    from hjemmeprove.db.models import Citizen

    with app.store.session() as s:
        return dict(s.execute(select(Request.id, Citizen.cpr).join(Citizen)).all())


def _expected(rows, key: str, descending: bool, cprs: dict[int, str]):
    value = {
        "id": lambda r: r.id, "cpr": lambda r: cprs[r.id], "name": lambda r: r.citizen_name,
        "municipality": lambda r: r.municipality, "received": lambda r: r.received,
        "deadline": lambda r: r.deadline, "status": lambda r: REQUEST_STATUSES.index(r.status),
        "planned": lambda r: r.planned_date, "address": lambda r: r.address,
        "ekg": lambda r: r.ekg, "late": lambda r: r.late_cancellation,
    }[key]
    if key == "planned":  # without a planned date last, in both directions
        dated = sorted((r for r in rows if r.planned_date), key=lambda r: (value(r), r.id),
                       reverse=descending)
        return dated + sorted((r for r in rows if not r.planned_date), key=lambda r: r.id,
                              reverse=descending)
    return sorted(rows, key=lambda r: (value(r), r.id), reverse=descending)


@pytest.mark.parametrize("descending", [False, True], ids=["stigende", "faldende"])
@pytest.mark.parametrize("key", SORT_KEYS)
def test_sorted_pages_neither_overlap_nor_skip(many, key, descending):
    app, ids = many
    whole = app.requests.list(sort=key, descending=descending)
    assert sorted(r.id for r in whole) == sorted(ids)
    paged = []
    for offset in range(0, len(ids) + 5, 5):
        paged += app.requests.list(sort=key, descending=descending, offset=offset, limit=5)
    assert [r.id for r in paged] == [r.id for r in whole]
    assert [r.id for r in whole] == [r.id for r in _expected(whole, key, descending,
                                                             _cprs(app))]


def test_sort_within_a_filter_and_default_is_deadline(many):
    app, ids = many
    default = app.requests.list()
    assert [r.id for r in default] == [r.id for r in app.requests.list(sort="deadline")]
    assert [(r.deadline, r.id) for r in default] == sorted((r.deadline, r.id) for r in default)
    rows = app.requests.list(municipality_code=430, sort="name", descending=True)
    assert rows and {r.municipality_code for r in rows} == {430}
    assert [(r.citizen_name, r.id) for r in rows] == sorted(
        ((r.citizen_name, r.id) for r in rows), reverse=True)


def test_cpr_sorts_on_the_stored_number_and_stays_masked(many):
    app, ids = many
    rows = app.requests.list(search="Frede", sort="cpr")
    assert [r.cpr_masked for r in rows] == ["010150-XXXX", "010150-XXXX"]
    assert [r.id for r in rows] == [ids[-1], ids[-2]]  # ...-1111 before ...-1999
    rows = app.requests.list(search="Frede", sort="cpr", descending=True)
    assert [r.id for r in rows] == [ids[-2], ids[-1]]


def test_unknown_sort_key_names_the_field(many):
    app, _ids = many
    with pytest.raises(ValidationError) as e:
        app.requests.list(sort="cpr; drop table requests")
    assert e.value.fields == {"sortering"}


def test_status_tuple_and_single_status(many):
    app, _ids = many
    per_status = {s: app.requests.count(status=s) for s in REQUEST_STATUSES}
    assert all(per_status[s] for s in ("open", "planned", "locked", "done", "cancelled",
                                       "not_eligible"))
    active = app.requests.list(status=ACTIVE_STATUSES)
    assert {r.status for r in active} == set(ACTIVE_STATUSES)
    assert len(active) == app.requests.count(status=ACTIVE_STATUSES) == sum(
        per_status[s] for s in ACTIVE_STATUSES)
    assert [r.id for r in app.requests.list(status=("open",))] == \
        [r.id for r in app.requests.list(status="open")]
    assert app.requests.count(status=["done", "cancelled"]) == \
        per_status["done"] + per_status["cancelled"]
    assert app.requests.count(status=None) == app.requests.count() == sum(per_status.values())
    paged = []
    for offset in range(0, len(active), 4):
        paged += app.requests.list(status=ACTIVE_STATUSES, sort="status", offset=offset,
                                   limit=4)
    assert len({r.id for r in paged}) == len(active)


def test_unknown_status_names_the_field(many):
    app, _ids = many
    with pytest.raises(ValidationError) as e:
        app.requests.count(status=("open", "åben"))
    assert e.value.fields == {"status"}
