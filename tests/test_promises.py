"""Issue 11: the window promised to the citizen lies inside what the request asked for; the
agreement's reply window drives its length; an approximate position is marked and warned."""

import datetime as dt

from sqlalchemy import select

from hjemmeprove.db.models import Agreement
from hjemmeprove.planning.planner import PlanRequest, reply_window
from tests.factories import request_values

MON = dt.date(2024, 3, 4)


def _req(**kw):
    base = dict(id=1, lat=55.0, lon=10.6, received=MON, deadline=MON)
    base.update(kw)
    return PlanRequest(**base)


def _sec(h, m=0):
    return h * 3600 + m * 60


def test_fasting_citizen_is_never_told_a_window_past_ten():
    rs, re_ = reply_window(_sec(9, 31), [_req(window_end=dt.time(10, 0))], dt.time(8), 7200)
    assert (rs, re_) == (dt.time(8, 30), dt.time(10, 0))


def test_asked_window_is_never_left():
    rs, re_ = reply_window(_sec(10, 10), [_req(window_start=dt.time(9), window_end=dt.time(11))],
                           dt.time(8), 7200)
    assert dt.time(9) <= rs and re_ <= dt.time(11) and rs <= dt.time(10, 10) <= re_


def test_agreement_length_wins_over_the_default():
    rs, re_ = reply_window(_sec(10), [_req(reply_window_minutes=60)], dt.time(8), 7200)
    assert (dt.datetime.combine(MON, re_) - dt.datetime.combine(MON, rs)) == dt.timedelta(hours=1)


def test_planned_fasting_visit_keeps_its_promise_and_the_agreement_window(department_app):
    app = department_app
    with app.store.session() as s:
        for a in s.scalars(select(Agreement)):
            a.reply_window_minutes = 60
    app.requests.create(request_values(cpr="010150-1234", name="Åse Østergaard",
                                       address="Kirkestræde 4", postcode="5960", city="Marstal",
                                       municipality="492", lat="54.8557", lon="10.5176",
                                       received="2024-03-01", ekg="ja", window_end="10:00"))
    app.requests.create(request_values(cpr="020260-1234", name="Bjørn Bæk",
                                       received="2024-03-01", window_start="09:00",
                                       window_end="11:00"))
    result = app.planning.plan(MON, MON, time_limit_s=1.0)
    stops = {s.citizen_name: s for r in result.routes for s in r.stops}
    assert set(stops) == {"Åse Østergaard", "Bjørn Bæk"}, result.unplanned
    aase, bjorn = stops["Åse Østergaard"], stops["Bjørn Bæk"]
    assert aase.window[1] <= dt.time(10) and aase.arrival <= dt.time(10)
    assert dt.time(9) <= bjorn.window[0] and bjorn.window[1] <= dt.time(11)
    for st in (aase, bjorn):
        length = (dt.datetime.combine(MON, st.window[1])
                  - dt.datetime.combine(MON, st.window[0]))
        assert length <= dt.timedelta(hours=1)


def test_approximate_position_is_marked_and_warned(department_app):
    app = department_app
    rid = app.requests.create(request_values(lat="", lon="", received="2024-03-01"))
    result = app.planning.plan(MON, MON, time_limit_s=1.0)
    stop = next(s for r in result.routes for s in r.stops if s.request_id == rid)
    assert stop.position_quality == "approximate"
    assert [w[0] for w in result.warnings] == [rid] and "omtrentlig" in result.warnings[0][1]
    from hjemmeprove.services.planning import route_json
    assert any(s["approximate"] for r in result.routes for s in route_json(r)["stops"])


def test_letter_says_exactly_the_promised_window(tmp_path):
    import subprocess

    from hjemmeprove.documents.citizen_letter import LetterInfo, render

    letter = LetterInfo(1, 1, "Åse Østergaard", "Kirkestræde 4", "5960", "Marstal",
                        "Kirkestræde 4, 5960 Marstal", MON, dt.time(8, 30), dt.time(10, 0),
                        False, dt.time(10, 0), "", False, "KBA", "OUH", "Baagøes Allé 15",
                        "5700", "Svendborg", "", MON)
    path = tmp_path / "l.pdf"
    path.write_bytes(render(letter))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    text = " ".join(text.split())
    assert "08.30" in text or "08:30" in text
    assert "omtrentlig" not in text and "10.30" not in text and "10:30" not in text
    assert "senest kl. 10" in text


def test_two_addresses_at_one_postcode_centre_are_two_stops(department_app):
    app = department_app
    a = app.requests.create(request_values(cpr="010150-1234", lat="", lon="",
                                           address="Vestergade 3", received="2024-03-01"))
    b = app.requests.create(request_values(cpr="020260-1234", name="Ole Hansen", lat="",
                                           lon="", address="Østergade 40",
                                           received="2024-03-01"))
    result = app.planning.plan(MON, MON, time_limit_s=1.0)
    stops = [s for r in result.routes for s in r.stops if s.request_id in (a, b)]
    assert len(stops) == 2 and all(s.position_quality == "approximate" for s in stops)
    assert {w[0] for w in result.warnings} == {a, b}


def test_copenhagen_postcodes_find_their_area():
    from hjemmeprove.planning.geocoding import PostcodeCentroids

    assert PostcodeCentroids().locate("Strøget 1", "1160") is not None
