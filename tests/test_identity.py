"""Issue 11: the right person at the right address. A known CPR never silently renames or
moves its citizen; each request keeps the address it was booked with; CPR is read after NFKC;
postcodes and towns are the official ones; a second open request, a passed deadline and an
impossible cancellation time are caught; Danish Excel's Windows-1252 CSV is read."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from hjemmeprove.db.models import Citizen, Request, Route, Visit
from hjemmeprove.errors import ValidationError
from hjemmeprove.services.importing import import_requests
from hjemmeprove.services.requests import NeedsConfirmation
from tests.factories import request_values

TODAY = dt.date(2024, 3, 5)
GRETHE = dict(cpr="010150-1234", name="Grethe Madsen", address="Møllevej 7", postcode="5700",
              city="Svendborg", received="2024-03-04")


def _citizens(app):
    with app.store.session() as s:
        return s.scalar(select(func.count()).select_from(Citizen))


def test_known_cpr_never_silently_renames_or_moves_the_citizen(department_app):
    app = department_app
    first = app.requests.create(request_values(**GRETHE), today=TODAY)
    other = dict(GRETHE, name="Ole Test", address="Testvej 1", postcode="5000", city="Odense C",
                 municipality="479")
    with pytest.raises(NeedsConfirmation) as e:
        app.requests.create(request_values(**other), today=TODAY, confirm=set())
    assert "citizen_changed" in e.value.codes and "navn" in e.value.fields
    stored = app.requests.get(first)
    assert (stored.name, stored.address) == ("Grethe Madsen", "Møllevej 7")
    # the explicit yes changes the citizen (audited) but never the earlier request's address
    app.requests.mark_not_eligible(first, "test")  # no open duplicate in the way
    second = app.requests.create(request_values(**other), today=TODAY,
                                 confirm={"citizen_changed"})
    assert app.requests.get(second).address == "Testvej 1"
    old = app.requests.get(first)
    assert (old.address, old.postcode, old.city) == ("Møllevej 7", "5700", "Svendborg")
    with app.store.session() as s:
        assert s.get(Request, first).sampling_address == "Møllevej 7, 5700 Svendborg"
    assert _citizens(app) == 1
    changes = [h for h in app.requests.history(second)]
    assert changes  # the request's own insert is audited
    with app.store.session() as s:
        from hjemmeprove.db.models import AuditEntry
        audit = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "citizens",
                                                   AuditEntry.action == "update")).all()
    assert any("Ole Test" in (a.after or "") for a in audit)


def test_stored_citizen_is_shown_for_a_known_cpr(department_app):
    department_app.requests.create(request_values(**GRETHE), today=TODAY)
    known = department_app.requests.stored_citizen("０１０１５０－１２３４")
    assert known.name == "Grethe Madsen" and known.address == "Møllevej 7"
    assert len(known.open_requests) == 1
    assert department_app.requests.stored_citizen("020260-1234") is None


def test_full_width_cpr_is_the_same_citizen(department_app):
    app = department_app
    app.requests.create(request_values(**GRETHE), today=TODAY)
    app.requests.create(request_values(**dict(GRETHE, cpr="０１０１５０－１２３４",
                                              municipality="430", postcode="5700")),
                        today=TODAY)
    assert _citizens(app) == 1
    rows = app.requests.list(search="０１０１５０")
    assert len(rows) == 2


def test_duplicate_open_request_needs_confirmation_and_is_flagged(department_app):
    app = department_app
    app.requests.create(request_values(**GRETHE), today=TODAY)
    with pytest.raises(NeedsConfirmation) as e:
        app.requests.create(request_values(**GRETHE), today=TODAY)
    assert e.value.codes == {"duplicate"} and "cpr" in e.value.fields
    rid = app.requests.create(request_values(**GRETHE), today=TODAY, confirm={"duplicate"})
    assert "duplicate" in app.requests.get(rid).flags


def test_passed_deadline_is_asked_and_flagged(department_app):
    app = department_app
    values = request_values(**dict(GRETHE, received="2024-01-02"))
    with pytest.raises(NeedsConfirmation) as e:
        app.requests.create(values, today=TODAY, confirm=set())
    assert e.value.codes == {"deadline_passed"} and e.value.fields == {"modtaget"}
    rid = app.requests.create(values, today=TODAY, confirm={"deadline_passed"})
    assert app.requests.get(rid).flags == "deadline_passed"


@pytest.mark.parametrize("postcode, city, field", [
    ("9999", "Ingenby", "postnr"),
    ("8000", "Svendborg", "by"),
])
def test_wrong_postcode_or_town_is_refused(department_app, postcode, city, field):
    with pytest.raises(ValidationError) as e:
        department_app.requests.create(request_values(postcode=postcode, city=city),
                                       today=TODAY)
    assert field in e.value.fields
    assert _citizens(department_app) == 0


def test_right_town_in_other_spellings_is_accepted():
    from hjemmeprove.domain import postcodes

    assert postcodes.check("5000", "Odense") is None
    assert postcodes.check("8000", "Århus C") is None
    assert postcodes.check("1050", "København K") is None
    assert postcodes.check("5700", "Svendborg") is None


def _visit(app, rid, day, start, end):
    with app.store.session() as s:
        req = s.get(Request, rid)
        route = Route(bioanalyst_id=1, department_id=req.department_id, date=day)
        s.add(route)
        s.flush()
        s.add(Visit(request_id=rid, route_id=route.id, date=day, window_start=start,
                    window_end=end, locked=True))
        req.status = "locked"


@pytest.mark.parametrize("at, fragment", [
    (dt.datetime(2024, 3, 12, 12, 0), "efter besøget"),
    (dt.datetime(2099, 1, 1, 8, 0), "fremtiden"),
    (dt.datetime(2024, 3, 1, 8, 0), "før henvisningen"),
    (dt.datetime(2024, 3, 5, 8, 0, tzinfo=dt.timezone.utc), "tidszone"),
])
def test_cancellation_must_lie_between_receipt_and_visit(department_app, at, fragment):
    app = department_app
    rid = app.requests.create(request_values(**GRETHE), today=TODAY)
    _visit(app, rid, dt.date(2024, 3, 12), dt.time(9, 0), dt.time(11, 0))
    with pytest.raises(ValidationError, match=fragment) as e:
        app.requests.cancel(rid, at, "Hjemmeplejen", "telephone",
                            now=dt.datetime(2024, 3, 20, 12, 0))
    assert e.value.fields == {"tidspunkt"}
    assert app.requests.get(rid).status == "locked"


HEADER = "cpr;navn;adresse;postnr;by;kommunekode;modtaget;bemærkning\n"


def test_windows_1252_csv_with_danish_letters_is_read(department_app):
    text = HEADER + "010150-1234;Åse Ærø Østergaard;Søndergade 1;5700;Svendborg;479;" \
                    "2024-03-04;Nøgle i æske\n"
    ids = import_requests(department_app.requests, text.encode("cp1252"), today=TODAY)
    d = department_app.requests.get(ids[0])
    assert d.name == "Åse Ærø Østergaard" and d.note == "Nøgle i æske"


def test_import_reports_a_changed_citizen_per_row_and_needs_the_flag(department_app):
    app = department_app
    app.requests.create(request_values(**GRETHE), today=TODAY)
    app.requests.mark_not_eligible(1, "test")
    text = HEADER + "010150-1234;Ole Test;Testvej 1;5700;Svendborg;479;2024-03-04;\n"
    with pytest.raises(NeedsConfirmation) as e:
        import_requests(app.requests, text.encode(), today=TODAY)
    assert [(x.row, x.field) for x in e.value.errors] == [(2, "navn")]
    assert "Ole Test" not in str(e.value)  # reports the change, shows only the stored data
    report = []
    ids = import_requests(app.requests, text.encode(), today=TODAY, update_citizens=True,
                          report=report)
    assert [x.row for x in report] == [2]
    assert app.requests.get(ids[0]).name == "Ole Test"
    assert app.requests.get(1).address == "Møllevej 7"


def test_import_refuses_a_second_open_request_in_the_same_file(department_app):
    text = HEADER + ("010150-1234;Grethe Madsen;Møllevej 7;5700;Svendborg;479;2024-03-04;\n"
                     "010150-1234;Grethe Madsen;Møllevej 7;5700;Svendborg;479;2024-03-04;\n")
    with pytest.raises(NeedsConfirmation) as e:
        import_requests(department_app.requests, text.encode(), today=TODAY)
    assert [(x.row, x.field) for x in e.value.errors] == [(3, "cpr")]
    assert len(import_requests(department_app.requests, text.encode(), today=TODAY,
                               allow_duplicates=True)) == 2


def test_editing_keeps_an_approximate_position_approximate(department_app):
    from hjemmeprove.services.requests import detail_to_form

    app = department_app
    rid = app.requests.create(request_values(**GRETHE, lat="", lon=""), today=TODAY)
    with app.store.session() as s:
        req = s.get(Request, rid)
        req.lat, req.lon, req.position_quality = 55.06, 10.6, "approximate"
    d = app.requests.get(rid)
    app.requests.update(rid, d.version, detail_to_form(d), today=TODAY)
    with app.store.session() as s:
        assert s.get(Request, rid).position_quality != "exact"
