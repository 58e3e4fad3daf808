"""The offline estimate, the ferry network, stand-alone trips and geocoding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hjemmeprove.planning.distances import (
    DistanceSource,
    OfflineEstimate,
    haversine_km,
    standalone_trip,
)
from hjemmeprove.planning.ferries import default_network
from hjemmeprove.planning.geocoding import (
    AddressRegister,
    Geocoder,
    PostcodeCentroids,
    geocoder_for_settings,
    split_address,
)

LAB = (55.0587, 10.5931)  # OUH Svendborg
MARSTAL = (54.8557, 10.5176)
SOBY = (54.9415, 10.2640)
FAABORG = (55.0951, 10.2423)
NORDBY = (55.4455, 8.4055)
BIRKHOLM = (54.9320, 10.5080)
RUDKOBING = (54.9364, 10.7106)  # Langeland: bridge, no ferry


def test_estimate_is_great_circle_times_detour():
    est = OfflineEstimate(detour_factor=1.4)
    km, minutes = est.road_matrix([LAB, FAABORG])
    assert km[0, 1] == pytest.approx(haversine_km(LAB, FAABORG) * 1.4)
    # Svendborg–Faaborg is about 23 km as the crow flies
    assert 20 < haversine_km(LAB, FAABORG) < 26
    # longer legs are faster on average
    m = est.minutes_for([2.0, 30.0])
    assert 2.0 / m[0] < 30.0 / m[1]


def test_regions_by_island():
    net = default_network()
    assert net.region(*MARSTAL) == "Ærø"
    assert net.region(*NORDBY) == "Fanø"
    assert net.region(*BIRKHOLM) == "Birkholm"
    assert net.region(*LAB) == ""
    assert net.region(*RUDKOBING) == ""  # by bridge
    assert net.area(*RUDKOBING) == "Langeland"


def test_ferry_leg_picks_the_quickest_link_and_reports_minutes():
    src = DistanceSource(OfflineEstimate())
    m = src.matrix([LAB, MARSTAL, FAABORG, SOBY])
    assert m.leg(0, 1).ferry_link == "Svendborg–Ærøskøbing"
    assert m.leg(0, 1).ferry_minutes == 75
    assert m.leg(2, 3).ferry_link == "Faaborg–Søby"
    assert m.leg(2, 3).ferry_minutes == 60
    # a leg on the island has no ferry
    assert m.leg(1, 3).ferry_minutes == 0
    # minutes include the crossing; km are road km only
    assert m.leg(0, 1).minutes > 75
    assert m.leg(0, 1).km < 40


def test_two_crossings_to_birkholm():
    src = DistanceSource(OfflineEstimate())
    leg = src.leg(LAB, BIRKHOLM)
    assert leg.ferry_link == "Svendborg–Ærøskøbing + Marstal–Birkholm"
    assert leg.ferry_minutes == 75 + 40


def test_no_ferry_to_langeland():
    leg = DistanceSource(OfflineEstimate()).leg(LAB, RUDKOBING)
    assert leg.ferry_minutes == 0 and leg.ferry_link == ""


def test_standalone_trip_for_billing(department_app):
    km, ferry, link = standalone_trip(department_app.store, LAB, *MARSTAL)
    assert isinstance(km, Decimal) and km.as_tuple().exponent == -3
    assert ferry == Decimal("150.0")
    assert link == "Svendborg–Ærøskøbing"
    km2, ferry2, link2 = standalone_trip(DistanceSource(), LAB, *FAABORG)
    assert ferry2 == 0 and link2 == ""
    est = OfflineEstimate()
    assert float(km2) == pytest.approx(2 * haversine_km(LAB, FAABORG) * est.detour_factor,
                                       abs=0.002)


def test_detour_factor_setting_is_used(department_app):
    app = department_app
    app.settings.set("distance.detour_factor", 2.0)
    src = app.planning.distance_source()
    assert src.leg(LAB, FAABORG).km == pytest.approx(2 * haversine_km(LAB, FAABORG))
    assert "detour_factor=2.0" in src.describe()


def test_postcode_centroid_is_approximate():
    hit = PostcodeCentroids().locate("Vestergade 1", "5700")
    assert hit.quality == "approximate"
    assert haversine_km((hit.lat, hit.lon), LAB) < 15
    assert PostcodeCentroids().locate("x", "0000") is None


def test_address_register_import_and_lookup(tmp_path):
    csv_file = tmp_path / "adresser.csv"
    csv_file.write_text("vejnavn;husnr;postnr;wgs84koordinat_bredde;wgs84koordinat_længde\n"
                        "Baagøes Allé;15;5700;55.0587;10.5931\n"
                        "Vestergade;12B;5700;55.0600;10.6000\n", encoding="utf-8")
    reg = AddressRegister(tmp_path / "reg.sqlite3")
    assert reg.import_csv(csv_file).imported == 2
    hit = reg.locate("Vestergade 12 B, 1. tv", "5700")
    assert (hit.lat, hit.lon, hit.quality) == (55.06, 10.6, "exact")
    assert reg.locate("Vestergade 13", "5700") is None
    geo = Geocoder([reg, PostcodeCentroids()])
    assert geo.locate("Vestergade 13", "5700").quality == "approximate"


def test_address_register_import_refuses_what_is_no_address_file(tmp_path, capsys):
    """The register's import names what is wrong in Danish (exit 2 on the command line): a file
    that is no CSV used to end in a traceback (csv.Sniffer's "Could not determine
    delimiter"), a Windows-1252 file in a UnicodeDecodeError; rows it cannot use were dropped
    without a word, and coordinates outside Denmark (swapped columns) were stored."""
    from hjemmeprove.cli import main
    from hjemmeprove.errors import ValidationError

    reg = AddressRegister(tmp_path / "reg.sqlite3")
    no_csv = tmp_path / "passwd"
    no_csv.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(ValidationError, match="CSV"):
        reg.import_csv(no_csv)
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert main(["--db", url, "geo", "import", str(no_csv), "--register",
                 str(tmp_path / "cli.sqlite3")]) == 2
    err = capsys.readouterr().err
    assert "fil" in err and "Traceback" not in err and "uventet" not in err, err
    head = "vejnavn;husnr;postnr;wgs84koordinat_bredde;wgs84koordinat_længde\n"
    cp1252 = tmp_path / "excel.csv"
    cp1252.write_bytes((head + "Søndergade;3;5700;55,0601;10,6102\n"
                        "Ærøvej;1;5700;10.6;55.06\n"  # swapped columns
                        "Ålevej;2;57;55.06;10.6\n"
                        "Østergade;x\n").encode("cp1252"))
    done = reg.import_csv(cp1252)
    assert (done.imported, done.skipped) == (1, 3)
    assert done.examples[0].startswith("række 3: ") and "Danmark" in done.examples[0]
    assert "postnummer" in done.examples[1] and "række 5" in done.examples[2]
    assert reg.locate("Søndergade 3", "5700").lat == pytest.approx(55.0601)
    assert reg.locate("Ærøvej 1", "5700") is None
    only_bad = tmp_path / "bad.csv"
    only_bad.write_text(head + "Vej;1;5700;x;y\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="række 2"):
        reg.import_csv(only_bad)
    assert main(["--db", url, "geo", "import", str(cp1252), "--register",
                 str(tmp_path / "cli.sqlite3")]) == 0
    assert "3 rækker sprunget over" in capsys.readouterr().out


def test_no_online_geocoder_unless_named():
    geo = geocoder_for_settings({"geocoder.url": "", "geocoder.address_file": ""})
    assert not any(type(w).__name__ == "OnlineGeocoder" for w in geo.ways)
    geo = geocoder_for_settings({"geocoder.url": "http://127.0.0.1:9",
                                 "geocoder.address_file": ""})
    assert any(type(w).__name__ == "OnlineGeocoder" for w in geo.ways)


def test_split_address():
    assert split_address("Vestergade 12B, 1. tv") == ("vestergade", "12b")
    assert split_address("Baagøes Allé 15") == ("baagøes allé", "15")


def test_request_without_coordinates_gets_a_postcode_position(department_app):
    import datetime as dt

    from tests.factories import request_values

    app = department_app
    rid = app.requests.create(request_values(lat="", lon="", received="2024-03-01"))
    result = app.planning.plan(dt.date(2024, 3, 4), dt.date(2024, 3, 4), time_limit_s=1.0)
    (stop,) = [st for r in result.routes for st in r.stops]
    assert stop.request_id == rid
    assert stop.position_quality == "approximate"


def test_valhalla_matrix_reads_sources_to_targets():
    """ValhallaMatrix against a stand-in server on 127.0.0.1 that answers like Valhalla."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from hjemmeprove.planning.distances import ValhallaMatrix

    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.update(body)
            n = len(body["sources"])
            rows = [[{"from_index": i, "to_index": j, "distance": abs(i - j) * 2.5,
                      "time": abs(i - j) * 300} for j in range(n)] for i in range(n)]
            data = json.dumps({"sources_to_targets": rows}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        src = ValhallaMatrix(f"http://127.0.0.1:{server.server_port}")
        km, minutes = src.road_matrix([LAB, FAABORG, MARSTAL])
    finally:
        server.shutdown()
        thread.join()
    assert seen["costing"] == "auto" and seen["sources"][1] == {"lat": FAABORG[0],
                                                                "lon": FAABORG[1]}
    assert km[0, 2] == 5.0 and minutes[0, 2] == 10.0
