"""Booking requests: validation naming the field, deadline, cancellation (24-hour rule),
audit trail, optimistic locking."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from hjemmeprove.db.models import Request, Route, Visit
from hjemmeprove.errors import ConflictError, ValidationError
from tests.factories import request_values

TODAY = dt.date(2024, 3, 20)


def test_create_computes_deadline(department_app):
    rid = department_app.requests.create(request_values(received="2024-03-22"), today=TODAY + dt.timedelta(days=5))
    detail = department_app.requests.get(rid)
    assert detail.deadline == dt.date(2024, 4, 10)
    assert detail.status == "open"


@pytest.mark.parametrize("overrides, field, fragment", [
    ({"cpr": "310250-1234"}, "cpr", "fødselsdato"),
    ({"cpr": ""}, "cpr", "skal udfyldes"),
    ({"received": "2024-03-21"}, "modtaget", "fremtiden"),
    ({"received": "32-03-2024"}, "modtaget", "dato"),
    ({"address": ""}, "adresse", "skal udfyldes"),
    ({"postcode": "57000"}, "postnr", "4 cifre"),
    ({"municipality": "461"}, "kommunekode", "ingen aftale"),  # Odense: no agreement here
    ({"municipality": "999"}, "kommunekode", "ikke en kendt kommune"),
    ({"window_start": "11:00", "window_end": "10:00"}, "senest_kl", "efter"),
    ({"lat": "40.0"}, "lat", "Danmark"),
])
def test_bad_input_names_the_field(department_app, overrides, field, fragment):
    with pytest.raises(ValidationError) as e:
        department_app.requests.create(request_values(**overrides), today=TODAY)
    assert field in e.value.fields, e.value.errors
    assert fragment in str(e.value)
    with department_app.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Request)) == 0


def test_agreement_must_be_in_force_on_received_date(department_app):
    from tests.factories import add_department  # noqa: F401  (agreements start 2020-01-01)

    with pytest.raises(ValidationError, match="ingen aftale i kraft 31.12.2019"):
        department_app.requests.create(request_values(received="2019-12-31"), today=TODAY)


def _plan_locked_visit(app, rid, day, start, end, locked=True):
    with app.store.session() as s:
        req = s.get(Request, rid)
        route = Route(bioanalyst_id=1, department_id=req.department_id, date=day)
        s.add(route)
        s.flush()
        s.add(Visit(request_id=rid, route_id=route.id, date=day, window_start=start,
                    window_end=end, locked=locked))
        req.status = "locked" if locked else "planned"


@pytest.mark.parametrize("hours_before, late", [(25, False), (24, False), (23.9, True), (2, True)])
def test_cancellation_24_hour_rule(department_app, hours_before, late):
    app = department_app
    rid = app.requests.create(request_values(), today=TODAY)
    _plan_locked_visit(app, rid, dt.date(2024, 3, 12), dt.time(9, 0), dt.time(11, 0))
    at = dt.datetime(2024, 3, 12, 9, 0) - dt.timedelta(hours=hours_before)
    result = app.requests.cancel(rid, at, "Hjemmeplejen", "telephone")
    assert result.late is late
    assert app.requests.get(rid).status == "cancelled"
    rows = app.requests.list(late_cancellations=True)
    assert [r.id for r in rows] == ([rid] if late else [])
    with app.store.session() as s:
        visits = s.scalars(select(Visit).where(Visit.request_id == rid)).all()
        # a cancelled visit leaves the route; a late one stays on record as cancelled_late
        assert [(v.route_id, v.outcome) for v in visits] == ([(None, "cancelled_late")] if late else [])


def test_cancellation_of_unlocked_visit_is_never_late(department_app):
    app = department_app
    rid = app.requests.create(request_values(), today=TODAY)
    _plan_locked_visit(app, rid, dt.date(2024, 3, 12), dt.time(9, 0), dt.time(11, 0), locked=False)
    assert app.requests.cancel(rid, dt.datetime(2024, 3, 12, 8, 0), "X", "telephone").late is False


def test_cancel_twice_is_refused(department_app):
    app = department_app
    rid = app.requests.create(request_values(), today=TODAY)
    app.requests.cancel(rid, dt.datetime(2024, 3, 5, 8, 0), "X", "electronic")
    with pytest.raises(ValidationError, match="allerede aflyst"):
        app.requests.cancel(rid, dt.datetime(2024, 3, 5, 9, 0), "X", "electronic")


def test_cancel_names_bad_fields(department_app):
    rid = department_app.requests.create(request_values(), today=TODAY)
    with pytest.raises(ValidationError) as e:
        department_app.requests.cancel(rid, dt.datetime(2024, 3, 5), " ", "fax")
    assert e.value.fields == {"aflyst af", "kanal"}


def test_audit_trail_records_who_and_what(department_app):
    app = department_app
    rid = app.requests.create(request_values(note="første"), today=TODAY)
    detail = app.requests.get(rid)
    from hjemmeprove.services.requests import detail_to_form

    form = detail_to_form(detail)
    form["note"] = "anden"
    app.requests.update(rid, detail.version, form, today=TODAY)
    app.requests.cancel(rid, dt.datetime(2024, 3, 5, 8, 0), "Hjemmeplejen", "electronic")
    history = app.requests.history(rid)
    actions = [(h.table, h.action) for h in history]
    assert actions[0] == ("requests", "insert")
    assert ("cancellations", "insert") in actions
    note_change = [h for h in history if h.action == "update" and "note" in h.after]
    assert note_change[0].before == {"note": "første"} and note_change[0].after == {"note": "anden"}
    assert {h.user for h in history} == {"test"}


def test_second_save_on_old_version_is_refused_with_fresh_values(department_app):
    app = department_app
    from hjemmeprove.services.requests import detail_to_form

    rid = app.requests.create(request_values(), today=TODAY)
    first = app.requests.get(rid)
    a, b = detail_to_form(first), detail_to_form(first)
    a["note"] = "koordinator A"
    b["note"] = "koordinator B"
    app.requests.update(rid, first.version, a, today=TODAY)
    with pytest.raises(ConflictError) as e:
        app.requests.update(rid, first.version, b, today=TODAY)
    assert e.value.fresh["note"] == "koordinator A"
    assert app.requests.get(rid).note == "koordinator A"


def test_list_masks_cpr_and_searches(department_app):
    app = department_app
    app.requests.create(request_values(name="Ebba Bæk"), today=TODAY)
    app.requests.create(request_values(cpr="020260-4321", name="Ole Olsen"), today=TODAY)
    rows = app.requests.list(search="bæk")
    assert [r.citizen_name for r in rows] == ["Ebba Bæk"]
    assert rows[0].cpr_masked == "010150-XXXX"
    assert [r.citizen_name for r in app.requests.list(search="0202604321")] == ["Ole Olsen"]
    assert app.requests.count() == 2


def test_not_eligible_keeps_reason(department_app):
    rid = department_app.requests.create(request_values(), today=TODAY)
    with pytest.raises(ValidationError):
        department_app.requests.mark_not_eligible(rid, "")
    department_app.requests.mark_not_eligible(rid, "Akut prøve")
    d = department_app.requests.get(rid)
    assert (d.status, d.not_eligible_reason) == ("not_eligible", "Akut prøve")


def test_a_closing_day_added_later_counts_for_the_next_request(department_app):
    """One service lives as long as the desktop program: it must not keep an old calendar."""
    app = department_app
    first = app.requests.create(request_values(received="2024-03-01"), today=TODAY)
    assert app.requests.get(first).deadline == dt.date(2024, 3, 15)
    app.settings.add_closing_day(dt.date(2024, 3, 8), "Personaledag")
    second = app.requests.create(request_values(cpr="020260-4321", received="2024-03-01"),
                                 today=TODAY)
    assert app.requests.get(second).deadline == dt.date(2024, 3, 18)
