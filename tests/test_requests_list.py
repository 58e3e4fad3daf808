"""The request list: server-side sorting (pages of a sorted list neither overlap nor skip) and
filtering on one status or a tuple of them ("Aktive")."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from hjemmeprove.db.models import (REQUEST_STATUSES, Bioanalyst, Cancellation, Request, Route,
                                    Visit)
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


# --- keyset pages ---------------------------------------------------------------------------


def _walk(app, page_size: int, **kw) -> list:
    """Every page of RequestService.page, following the cursors."""
    rows, after = [], None
    for _ in range(1000):
        page = app.requests.page(**kw, after=after, limit=page_size)
        rows += page.rows
        after = page.next
        if after is None:
            return rows
    raise AssertionError("the pages never end")


@pytest.fixture(params=["walk", "gather"])
def plan(request, monkeypatch):
    """Both ways a page is read: along the sort key's index (many rows), or gathered through
    the filters and sorted (few rows)."""
    import hjemmeprove.services.requests as service

    monkeypatch.setattr(service, "GATHER_LIMIT", -1 if request.param == "walk" else 10**9)
    return request.param


@pytest.mark.parametrize("descending", [False, True], ids=["stigende", "faldende"])
@pytest.mark.parametrize("key", SORT_KEYS)
def test_keyset_pages_cover_every_row_once_in_the_lists_order(many, plan, key, descending):
    app, ids = many
    for status in (None, ACTIVE_STATUSES, "cancelled"):
        whole = app.requests.list(sort=key, descending=descending, status=status)
        for size in (1, 4, 7):  # page ends inside runs of equal keys, and between segments
            paged = _walk(app, size, sort=key, descending=descending, status=status)
            assert [r.id for r in paged] == [r.id for r in whole], (status, size)
    # ties broken by the id, in the key's direction
    whole = app.requests.list(sort=key, descending=descending)
    assert [r.id for r in whole] == [r.id for r in _expected(whole, key, descending,
                                                             _cprs(app))]


def test_keyset_pages_under_every_filter(many, plan):
    app, ids = many
    filters = [dict(municipality_code=430), dict(late_cancellations=True),
               dict(deadline_within_days=5, today=TODAY), dict(search="Anna"),
               dict(search="Svendborg", status=ACTIVE_STATUSES)]
    for flt in filters:
        for key in ("name", "planned", "status", "deadline"):
            whole = app.requests.list(**flt, sort=key, descending=True)
            assert whole, flt
            assert [r.id for r in _walk(app, 3, **flt, sort=key, descending=True)] == \
                [r.id for r in whole], (flt, key)
            assert len(whole) == app.requests.count(**flt)


def test_a_cursor_belongs_to_its_order(many):
    app, ids = many
    page = app.requests.page(sort="name", limit=3)
    assert page.next is not None and len(page.rows) == 3
    with pytest.raises(ValidationError) as e:
        app.requests.page(sort="deadline", after=page.next)
    assert e.value.fields == {"sortering"}
    # the cursor names the page's last row; the cursor of any row continues after it
    assert app.requests.cursor_for(page.rows[-1].id, "name") == page.next
    assert "cpr" not in repr(page.next) and "-" not in repr(page.next.values[:0])
    rest = app.requests.page(sort="name", after=page.next, limit=100).rows
    assert [r.id for r in page.rows + rest] == [r.id for r in app.requests.list(sort="name")]


def test_the_last_page_has_no_next(many):
    app, ids = many
    page = app.requests.page(sort="id", limit=len(ids) + 1)
    assert len(page.rows) == len(ids) and page.next is None
    assert app.requests.page(sort="id", search="findes ikke").rows == []


# --- stored sort keys follow their facts ---------------------------------------------------


def _keys(app, rid: int):
    (row,) = [r for r in app.requests.list(sort="id") if r.id == rid]
    return row.planned_date, row.late_cancellation


def test_planned_date_and_late_flag_follow_visits_and_cancellations(department_app):
    app = department_app
    rid = app.requests.create(request_values(), today=TODAY)
    other = app.requests.create(request_values(cpr="020250-2222", name="Bent Lund"),
                                today=TODAY)
    assert _keys(app, rid) == (None, False)
    day = dt.date(2024, 3, 26)
    _visit(app, rid, day)
    assert _keys(app, rid) == (day, False)
    with app.store.session() as s:  # a manual move: the visit's date changes
        visit = s.scalars(select(Visit).where(Visit.request_id == rid)).one()
        visit.date = day + dt.timedelta(days=2)
    assert _keys(app, rid) == (day + dt.timedelta(days=2), False)
    with app.store.session() as s:  # moved to another request (never done, but kept right)
        s.scalars(select(Visit).where(Visit.request_id == rid)).one().request_id = other
    assert _keys(app, rid) == (None, False)
    assert _keys(app, other) == (day + dt.timedelta(days=2), False)
    with app.store.session() as s:
        s.scalars(select(Visit).where(Visit.request_id == other)).one().request_id = rid
    # a late cancellation keeps its visit (off the route) and sets the flag
    app.requests.cancel(rid, dt.datetime.combine(day + dt.timedelta(days=2), dt.time(8)),
                        "Hjemmeplejen", "telephone")
    assert _keys(app, rid) == (day + dt.timedelta(days=2), True)
    assert [r.id for r in app.requests.list(late_cancellations=True)] == [rid]
    with app.store.session() as s:  # undone: the cancellation goes, and with it the flag
        for c in s.scalars(select(Cancellation).where(Cancellation.request_id == rid)):
            s.delete(c)
        for v in s.scalars(select(Visit).where(Visit.request_id == rid)):
            s.delete(v)
    assert _keys(app, rid) == (None, False)
    assert app.requests.list(late_cancellations=True) == []
    # a timely cancellation of a request without a visit is not late
    app.requests.cancel(other, dt.datetime(2024, 3, 5, 8), "Hjemmeplejen", "electronic")
    assert _keys(app, other) == (None, False)


# --- search --------------------------------------------------------------------------------


def test_search_finds_a_towns_citizens_by_town_and_postcode(department_app):
    app = department_app
    marstal = [app.requests.create(request_values(
        cpr=f"0{i + 1}0360-12{i}4", name=f"Ærø Borger {i}", address=f"Kirkestræde {i + 1}",
        postcode="5960", city="Marstal", municipality="492"), today=TODAY) for i in range(3)]
    visiting = app.requests.create(request_values(
        cpr="150470-4321", name="Gæst Hansen", sampling_address="Havnegade 2",
        sampling_postcode="5960", sampling_city="Marstal"), today=TODAY)
    elsewhere = app.requests.create(request_values(cpr="150470-1234", name="Anna Holm"),
                                    today=TODAY)
    want = set(marstal) | {visiting}
    for term in ("Marstal", "marstal", "MARSTAL", "5960", " Marstal "):
        found = {r.id for r in app.requests.list(search=term)}
        assert found == want, term
        assert app.requests.count(search=term) == len(want)
    assert elsewhere in {r.id for r in app.requests.list(search="Svendborg")}
    assert elsewhere in {r.id for r in app.requests.list(search="5700")}
    assert not {r.id for r in app.requests.list(search="Svendborg")} & set(marstal)
    assert app.requests.list(search="Ærøskøbing") == []


def test_search_by_cpr_digits_shows_the_cpr_masked(many):
    app, ids = many
    cprs = _cprs(app)
    for term in ("010150", "0101501", "010150-1", "0101 50-1111", "０１０１５０"):
        digits = "".join(ch for ch in term if ch.isdigit())
        digits = "".join(str(int(ch)) for ch in digits)  # full-width digits as typed
        rows = app.requests.list(search=term)
        want = {rid for rid, cpr in cprs.items() if cpr.replace("-", "").startswith(digits)}
        assert {r.id for r in rows} == want and want, term
        assert all(r.cpr_masked.endswith("-XXXX") for r in rows)
    # the request number still finds its request; a number that is neither finds nothing
    assert ids[3] in {r.id for r in app.requests.list(search=str(ids[3]))}
    assert app.requests.list(search="9999999999") == []


def test_search_text_is_not_a_pattern(many):
    app, _ids = many
    assert app.requests.list(search="%") == []
    assert app.requests.list(search="_") == []
    assert {r.citizen_name for r in app.requests.list(search="anna")} == {"Anna Holm"}
