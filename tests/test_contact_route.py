"""The route on the bioanalyst's phone: ICS (parsed back by icalendar, one event per stop,
no CPR), navigation links (every stop in order, no leg over 9 waypoints), GPX, the CLI's
``routes export`` and the QR codes on the route sheet."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import xml.etree.ElementTree as ET
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from icalendar import Calendar

from hjemmeprove.cli import main
from hjemmeprove.contact import navigation
from hjemmeprove.documents import route_sheet
from tests.test_contact import EASTER_TUE, add_visit

LAB = navigation.Point("Laboratoriet", "Baagøes Allé 15, 5700 Svendborg", 55.0587, 10.5931)


def fake_route(n: int, trips=None):
    """A planned route of n stops; ``trips`` gives each stop's trip number."""
    from hjemmeprove.services.planning import RouteInfo, StopInfo

    stops = []
    for i in range(n):
        stops.append(StopInfo(
            visit_id=100 + i, request_id=200 + i, sequence=i, trip=(trips[i] if trips else 0),
            citizen_name=f"Borger {i}", cpr_masked="010150-XXXX", phone="61234567",
            address=f"Vej {i + 1}, 5700 Svendborg", municipality_code=479,
            arrival=dt.time(8 + i // 4, (i % 4) * 15), window=(dt.time(8), dt.time(10)),
            locked=False, lat=55.0 + i / 100, lon=10.5 + i / 100, leg_km=Decimal("3"),
            leg_ferry_minutes=Decimal("0"), ferry_link="", ekg=False,
            access_info=f"Nøgleboks {i}", presence_required="", identity_check="",
            note="Fastende", position_quality="exact", outcome=None, standalone_km=None))
    return RouteInfo(1, 1, "Mette Holm", "", dt.date(2024, 4, 2), Decimal("40"), 300,
                     Decimal("0"), "skøn", None, None, False, tuple(stops))


def leg_points(url: str) -> list[str]:
    q = parse_qs(urlparse(url).query)
    way = q["waypoints"][0].split("|") if "waypoints" in q else []
    return [q["origin"][0], *way, q["destination"][0]]


@pytest.mark.parametrize("n,trips", [(1, None), (9, None), (10, None), (23, None),
                                     (12, [0] * 6 + [1] * 6)])
def test_links_cover_every_stop_in_order_in_legs_of_at_most_9(n, trips):
    route = fake_route(n, trips)
    urls = navigation.google_legs(route, LAB)
    seq = []
    for url in urls:
        assert url.startswith("https://www.google.com/maps/dir/?api=1")
        pts = leg_points(url)
        assert len(pts) - 2 <= 9
        if seq:
            assert pts[0] == seq[-1]  # a leg starts where the last one ended
            pts = pts[1:]
        seq += pts
    assert seq[0] == seq[-1] == LAB.address
    stops = [p for p in seq if p != LAB.address]
    assert stops == [s.address for s in route.stops]
    if trips:  # back to the lab between the trips
        assert seq.index(LAB.address, 1) == 7
    assert all("55.0" not in u for u in urls)  # addresses, no positions to Google


def test_geo_links_per_stop():
    route = fake_route(3)
    links = [navigation.geo_link(p) for p in navigation.stop_points(route)]
    assert links[0].startswith("geo:55.000000,10.500000?q=")
    assert navigation.geo_link(navigation.Point("x", "Vej 1")) == "geo:0,0?q=Vej%201"


def test_ics_parses_back_with_one_event_per_stop_and_no_cpr():
    route = fake_route(5)
    data = navigation.ics(route, now=dt.datetime(2024, 4, 1, 12, tzinfo=dt.timezone.utc))
    cal = Calendar.from_ical(data)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 5
    ev = events[0]
    assert str(ev["LOCATION"]) == "Vej 1, 5700 Svendborg"
    assert "Nøgleboks 0" in str(ev["DESCRIPTION"])
    start = ev.decoded("DTSTART")
    assert start.hour == 8 and start.utcoffset() == dt.timedelta(hours=2)  # summer time
    assert list(cal.walk("VTIMEZONE"))
    text = data.decode("utf-8")
    assert "010150" not in text and "Borger" not in text and "Fastende" not in text


def test_gpx_has_waypoints_and_the_route_in_order():
    route = fake_route(4, [0, 0, 1, 1])
    root = ET.fromstring(navigation.gpx(route, LAB))
    ns = {"g": navigation.GPX_NS}
    assert root.get("version") == "1.1"
    assert len(root.findall("g:wpt", ns)) == 4
    names = [p.find("g:name", ns).text for p in root.findall("g:rte/g:rtept", ns)]
    assert names == ["Laboratoriet", "1. Vej 1, 5700 Svendborg", "2. Vej 2, 5700 Svendborg",
                     "Laboratoriet", "3. Vej 3, 5700 Svendborg", "4. Vej 4, 5700 Svendborg",
                     "Laboratoriet"]


def test_routes_export_cli(department_app, tmp_path, capsys):
    app = department_app
    add_visit(app, EASTER_TUE, "010150-1234", "Anna A", access_info="Kode 1234")
    add_visit(app, EASTER_TUE, "020250-1234", "Bent B", start=dt.time(11))
    url = str(app.store.engine.url)
    for fmt in ("ics", "gpx", "links"):
        assert main(["--db", url, "routes", "export", "--date", "2024-04-02", "--format", fmt,
                     "--out", str(tmp_path), "--json"]) == 0
        (path,) = json.loads(capsys.readouterr().out)["files"]
        assert path.endswith({"ics": ".ics", "gpx": ".gpx", "links": ".txt"}[fmt])
    ics = (tmp_path / "rute-2024-04-02-Mette_Holm.ics").read_bytes()
    assert len(list(Calendar.from_ical(ics).walk("VEVENT"))) == 2
    assert b"010150" not in ics
    links = (tmp_path / "rute-2024-04-02-Mette_Holm.txt").read_text()
    assert "Del 1: https://www.google.com/maps/dir/" in links and "geo:" in links
    assert main(["--db", url, "routes", "export", "--date", "2024-04-03", "--format",
                 "ics", "--out", str(tmp_path)]) == 2


def test_route_sheet_has_qr_codes(tmp_path):
    route = fake_route(11, [0] * 6 + [1] * 5)
    pdf = route_sheet.render(route, "KBA Svendborg", LAB.address)
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Navigation på telefonen" in text
    assert "Del 1" in text and "Del 2" in text and "Nr. 11" in text
    assert "010150-1234" not in text


def test_qr_codes_hold_the_links():
    from reportlab.graphics.barcode.qr import QrCodeWidget

    from hjemmeprove.contact import qr

    route = fake_route(3)
    values = qr.qr_values(route, LAB.address)
    assert values[0] == navigation.google_legs(route, LAB)[0]
    assert values[1:] == [navigation.geo_link(p) for p in navigation.stop_points(route)]
    drawing = qr.qr_drawing(values[0], 40)
    (widget,) = [c for c in drawing.contents if isinstance(c, QrCodeWidget)]
    assert widget.value == values[0]
