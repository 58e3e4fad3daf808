"""CSV import: all rows or none; every bad row named with row number and field."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from hjemmeprove.db.models import Citizen, Request
from hjemmeprove.errors import ValidationError
from hjemmeprove.services.importing import import_requests

TODAY = dt.date(2024, 3, 20)
HEADER = "cpr;navn;adresse;postnr;by;kommunekode;modtaget;ekg;senest_kl;bemærkning\n"


def _count(app):
    with app.store.session() as s:
        return (s.scalar(select(func.count()).select_from(Request)),
                s.scalar(select(func.count()).select_from(Citizen)))


def test_good_csv_lands_in_full_excel_style(department_app):
    text = HEADER + (
        "010150-1234;Karen Jensen;Vestergade 3;5700;Svendborg;479;01-03-2024;ja;10:00;Fastende\n"
        "0202604321;Ole Ærø;Søndergade 1;5970;Ærøskøbing;492;2024-03-04;nej;;\n"
        "\n"
    )
    data = "\ufeff".encode() + text.replace("\n", "\r\n").encode("utf-8")  # BOM + CRLF
    ids = import_requests(department_app.requests, data, today=TODAY)
    assert len(ids) == 2
    assert _count(department_app) == (2, 2)
    first = department_app.requests.get(ids[0])
    assert first.ekg and first.window_end == dt.time(10, 0) and first.note == "Fastende"
    assert first.deadline == dt.date(2024, 3, 15)


def test_comma_separated_works(department_app):
    text = HEADER.replace(";", ",") + "010150-1234,Karen,Vej 1,5700,Svendborg,479,2024-03-01,,,\n"
    assert len(import_requests(department_app.requests, text.encode(), today=TODAY)) == 1


def test_bad_rows_reject_the_whole_file_and_name_each_row(department_app):
    text = HEADER + (
        "010150-1234;Karen Jensen;Vestergade 3;5700;Svendborg;479;2024-03-01;;;\n"  # good
        "310250-1234;Ole;Vej 1;5700;Svendborg;479;2024-03-01;;;\n"  # row 3: bad CPR
        "010150-1234;Ole;Vej 1;570;Svendborg;461;2024-03-01;;;\n"  # row 4: postcode + no agreement
        "010150-1234;Ole;Vej 1;5700;Svendborg;479;2099-01-01;måske;;\n"  # row 5: future + ekg
    )
    with pytest.raises(ValidationError) as e:
        import_requests(department_app.requests, text.encode(), today=TODAY)
    found = {(err.row, err.field) for err in e.value.errors}
    assert (3, "cpr") in found
    assert (4, "postnr") in found
    assert (5, "modtaget") in found and (5, "ekg") in found
    assert all(err.row != 2 for err in e.value.errors)
    assert _count(department_app) == (0, 0)


def test_no_agreement_row_is_reported(department_app):
    text = HEADER + "010150-1234;Ole;Vej 1;5000;Odense;461;2024-03-01;;;\n"
    with pytest.raises(ValidationError) as e:
        import_requests(department_app.requests, text.encode(), today=TODAY)
    assert [(x.row, x.field) for x in e.value.errors] == [(2, "kommunekode")]


@pytest.mark.parametrize("data, fragment", [
    (b"", "tom"),
    ("cpr;navn\n010150-1234;X\n".encode(), "kolonnen mangler"),
    (HEADER.replace("ekg", "ukendt").encode(), "ukendt kolonnenavn"),
    ("cpr;navn\n".encode("utf-16"), "UTF-8"),
])
def test_bad_files(department_app, data, fragment):
    with pytest.raises(ValidationError, match=fragment):
        import_requests(department_app.requests, data, today=TODAY)
