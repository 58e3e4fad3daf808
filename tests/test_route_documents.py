"""Route sheet, citizen letter and replies: the text a reader needs is in the PDFs."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest

from hjemmeprove.documents import citizen_letter, reply, route_sheet
from tests.factories import request_values

MON = dt.date(2024, 3, 4)


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "x.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture
def planned(department_app):
    app = department_app
    app.requests.create(request_values(cpr="010150-1234", name="Åse Østergaard",
                                       address="Kirkestræde 4", postcode="5960", city="Marstal",
                                       municipality="492", lat="54.8557", lon="10.5176",
                                       received="2024-03-01", access_info="Nøgleboks kode 4711",
                                       presence_required="Datter deltager", ekg="ja",
                                       window_end="10:30"))
    app.requests.create(request_values(cpr="020260-1234", name="Bjørn Bæk",
                                       received="2024-03-01"))
    result = app.planning.plan(MON, MON, time_limit_s=1.0)
    return app, result


def test_route_sheet_has_order_times_access_and_ferry(planned, tmp_path):
    app, result = planned
    route = next(r for r in result.routes if any(s.ekg for s in r.stops))
    name, _h, lab = app.planning.department_header()
    text = pdf_text(route_sheet.render(route, name, lab), tmp_path)
    assert "Kørselsliste" in text and "mandag den 4. marts 2024" in text
    # the full CPR for the bioanalyst (identity, tube labels), and the footer says why
    assert "Åse Østergaard" in text and "010150-1234" in text and "mærkning af prøverør" in text
    assert "Nøgleboks kode 4711" in text and "Datter deltager" in text
    assert "EKG" in text
    assert "Færge: Svendborg–Ærøskøbing (75 min)" in text
    assert "Hjem til laboratoriet" in text
    stop = next(s for s in route.stops if s.ekg)
    assert stop.arrival.strftime("%H:%M") in text


def test_citizen_letter_in_danish(planned, tmp_path):
    app, _result = planned
    letters = app.planning.letters(MON, written=dt.date(2024, 3, 1))
    assert len(letters) == 2
    text = pdf_text(citizen_letter.render_many(letters), tmp_path)
    assert "Kære Åse Østergaard" in text
    assert "mandag den 4. marts 2024" in text
    assert "fastende" in text and "EKG" in text
    assert "Kære Bjørn Bæk" in text


def test_replies_lock_and_list_per_municipality(planned, tmp_path):
    app, _result = planned
    rows = app.planning.send_replies(MON, MON, now=dt.datetime(2024, 3, 1, 14, 0))
    groups = reply.by_municipality(rows)
    assert set(groups) == {479, 492}
    csv_text = reply.render_csv(groups[492]).decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("kommunekode;kommune;henvisning")
    assert "2024-03-04" in csv_text and "010150-XXXX" in csv_text
    text = pdf_text(reply.render_pdf(groups[492], "KBA"), tmp_path)
    assert "Svar på henvisninger – Ærø" in text
    assert all(app.requests.get(r.request_id).status == "locked" for r in rows)
    assert app.planning.send_replies(MON, MON) == []  # already sent
