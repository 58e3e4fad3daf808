"""The reminder policy and the day's contact list (hjemmeprove/contact): who is on the list
for a date (weekends, holidays, cancelled, already reminded, lettered), by which channel, and
the coordinator's marks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from hjemmeprove.cli import main
from hjemmeprove.contact.policy import Policy, Preference, channel_for, visit_dates
from hjemmeprove.db.models import Bioanalyst, LetterRecord, Request, Route, Visit
from hjemmeprove.domain.calendar import default_calendar
from hjemmeprove.errors import ValidationError
from tests.factories import request_values

# Easter 2024: Maundy Thursday 28 March, Good Friday 29 March, Easter Monday 1 April.
TUE = dt.date(2024, 3, 26)
WED = dt.date(2024, 3, 27)
EASTER_TUE = dt.date(2024, 4, 2)
EASTER_WED = dt.date(2024, 4, 3)
EASTER_THU = dt.date(2024, 4, 4)


def add_visit(app, day: dt.date, cpr: str, name: str, phone: str = "61234567",
              locked: bool = False, replied: bool = False, start=dt.time(9), **extra) -> int:
    """A request placed on a route directly (no planner: the list is what is tested)."""
    rid = app.requests.create(request_values(cpr=cpr, name=name, received="2024-03-20",
                                             phone=phone, **extra),
                              confirm={"duplicate", "deadline_passed"})  # two visits, old dates
    with app.store.session() as s:
        analyst = s.scalars(select(Bioanalyst).order_by(Bioanalyst.id)).first()
        route = s.scalar(select(Route).where(Route.bioanalyst_id == analyst.id,
                                             Route.date == day))
        if route is None:
            route = Route(bioanalyst_id=analyst.id, department_id=analyst.department_id,
                          date=day)
            s.add(route)
            s.flush()
        end = (dt.datetime.combine(day, start) + dt.timedelta(hours=2)).time()
        v = Visit(request_id=rid, route_id=route.id, date=day, sequence=len(route.visits),
                  planned_arrival=start, window_start=start, window_end=end, locked=locked,
                  reply_sent_at=dt.datetime(2024, 3, 21, 12) if replied else None)
        s.add(v)
        s.get(Request, rid).status = "locked" if locked else "planned"
        s.flush()
        return v.id


def visit_ids(app, day):
    return [r.visit_id for r in app.contact.day_list(day).rows]


def test_visit_dates_skip_weekends_and_holidays():
    cal = default_calendar()
    assert visit_dates(cal, WED, 2) == (dt.date(2024, 3, 28), EASTER_WED)
    assert visit_dates(cal, TUE, 2) == (WED, EASTER_TUE)
    assert visit_dates(cal, dt.date(2024, 3, 29), 2) is None  # Good Friday
    assert visit_dates(cal, dt.date(2024, 3, 30), 2) is None  # Saturday
    assert visit_dates(cal, dt.date(2024, 3, 22), 1) == (dt.date(2024, 3, 23), dt.date(2024, 3, 25))


def test_channel_follows_consent_and_numbers():
    sms = Policy(channel="sms")
    assert channel_for(sms, None, "61234567") == ("phone", "intet samtykke til SMS")
    assert channel_for(sms, None, "")[0] == "letter"
    assert channel_for(sms, Preference("", True), "61234567") == ("sms", "")
    assert channel_for(sms, Preference("", True, mobile="20304050"), "") == ("sms", "")
    assert channel_for(sms, Preference("letter"), "61234567") == ("letter", "")
    assert channel_for(Policy(channel="phone"), None, "")[0] == "letter"
    assert channel_for(sms, Preference("none"), "61234567")[0] is None


def test_list_covers_working_days_only(department_app):
    app = department_app
    a = add_visit(app, EASTER_TUE, "010150-1234", "Anna A")
    b = add_visit(app, EASTER_WED, "020250-1234", "Bent B")
    c = add_visit(app, EASTER_THU, "030350-1234", "Carl C")
    assert visit_ids(app, TUE) == [a]
    assert visit_ids(app, WED) == [a, b]  # Tuesday's is caught up: not reminded yet
    assert c not in visit_ids(app, WED)
    sat = app.contact.day_list(dt.date(2024, 3, 30))
    assert sat.rows == [] and sat.closed == "Lørdag"
    assert app.contact.day_list(dt.date(2024, 3, 29)).closed == "Langfredag"
    row = app.contact.day_list(TUE).rows[0]
    assert row.phone == "61234567" and row.channel == "phone" and row.status == "todo"
    assert row.cpr_masked == "010150-XXXX" and row.window_text == "09:00-11:00"


def test_cancelled_and_done_visits_leave_the_list(department_app):
    app = department_app
    a = add_visit(app, EASTER_TUE, "010150-1234", "Anna A")
    b = add_visit(app, EASTER_TUE, "020250-1234", "Bent B")
    c = add_visit(app, EASTER_TUE, "030350-1234", "Carl C")
    with app.store.session() as s:
        s.get(Request, s.get(Visit, b).request_id).status = "cancelled"
        s.get(Visit, c).outcome = "taken"
    assert visit_ids(app, TUE) == [a]


def test_already_reminded_are_not_reminded_again(department_app):
    app = department_app
    a = add_visit(app, EASTER_TUE, "010150-1234", "Anna A")
    b = add_visit(app, EASTER_TUE, "020250-1234", "Bent B")
    assert app.contact.mark(a, "reached", TUE).status == "reached"
    assert app.contact.mark(b, "not_reached", TUE, note="intet svar").status == "not_reached"
    today = {r.visit_id: r for r in app.contact.day_list(TUE).rows}
    assert today[a].status == "reached" and today[a].attempts == 1
    assert today[b].note == "intet svar"
    tomorrow = {r.visit_id: r for r in app.contact.day_list(WED).rows}
    assert a not in tomorrow  # reached yesterday
    assert tomorrow[b].status == "not_reached"  # tried again while there is time
    assert app.contact.mark(b, "reached", WED).attempts == 2
    assert set(app.contact.not_reached(TUE, EASTER_WED)) == set()
    app.contact.mark(b, "not_reached", WED)
    assert app.contact.not_reached(EASTER_TUE, EASTER_TUE) == {b: "not_reached"}


def test_replied_and_lettered_follow_the_policy(department_app):
    app = department_app
    a = add_visit(app, EASTER_TUE, "010150-1234", "Anna A", locked=True, replied=True)
    b = add_visit(app, EASTER_TUE, "020250-1234", "Bent B", locked=True, replied=True)
    with app.store.session() as s:
        s.add(LetterRecord(request_id=s.get(Visit, a).request_id, visit_date=EASTER_TUE))
    assert visit_ids(app, TUE) == [b]  # replied, but no letter: reminded
    app.settings.set("contact.remind_lettered", True)
    assert visit_ids(app, TUE) == [a, b]


def test_preference_with_consent_and_date(department_app):
    app = department_app
    a = add_visit(app, EASTER_TUE, "010150-1234", "Anna A")
    rid = app.contact.day_list(TUE).rows[0].request_id
    with pytest.raises(ValidationError) as e:
        app.contact.set_preference(rid, "sms", sms_consent=False)
    assert "samtykke" in e.value.fields
    with pytest.raises(ValidationError) as e:
        app.contact.set_preference(rid, "fax")
    assert "kanal" in e.value.fields
    cid = app.contact.set_preference(rid, "sms", sms_consent=True, mobile="+45 20 30 40 50",
                                     on=dt.date(2024, 3, 1))
    pref = app.contact.preference(cid)
    assert pref.sms_consent and pref.recorded_on == dt.date(2024, 3, 1)
    row = app.contact.day_list(TUE).rows[0]
    assert (row.visit_id, row.channel, row.phone) == (a, "sms", "+45 20 30 40 50")
    app.contact.set_preference(rid, "none", on=dt.date(2024, 3, 2))  # the newest counts
    assert app.contact.day_list(TUE).rows == []


def test_mark_refuses_unknown_status_and_visits_off_the_list(department_app):
    app = department_app
    a = add_visit(app, EASTER_THU, "010150-1234", "Anna A")
    with pytest.raises(ValidationError):
        app.contact.mark(a, "maybe", TUE)
    with pytest.raises(ValidationError) as e:
        app.contact.mark(a, "reached", TUE)  # Thursday's visit is not on Tuesday's list
    assert "besøg" in e.value.fields


def test_contact_list_cli_json(department_app, capsys):
    app = department_app
    a = add_visit(app, EASTER_TUE, "010150-1234", "Anna A")
    url = str(app.store.engine.url)
    assert main(["--db", url, "contact", "list", "--date", "2024-03-26", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["visit_dates"] == ["2024-03-27", "2024-04-02"]
    (row,) = data["rows"]
    assert row["visit"] == a and row["status"] == "todo" and row["cpr"] == "010150-XXXX"
    assert main(["--db", url, "contact", "mark", str(a), "not_reached", "--date",
                 "2024-03-26"]) == 0
    capsys.readouterr()
    assert main(["--db", url, "contact", "list", "--date", "2024-03-26"]) == 0
    out = capsys.readouterr().out
    assert "Anna A" in out and "Ikke nået" in out and "010150-1234" not in out
    assert main(["--db", url, "contact", "list", "--date", "2024-3-26"]) == 2


def test_policy_days_before_is_checked_when_saved(app):
    for bad in ("0", "11", "-1"):
        with pytest.raises(ValidationError):
            app.settings.set("contact.days_before", bad)
    app.settings.set("contact.days_before", "3")
    assert app.contact.policy().days_before == 3


def test_a_reset_reminder_follows_a_new_preference(department_app):
    app = department_app
    a = add_visit(app, EASTER_TUE, "010150-1234", "Anna A")
    app.contact.mark(a, "not_reached", TUE)
    assert app.contact.mark(a, "todo", TUE).channel == "phone"
    rid = app.contact.day_list(TUE).rows[0].request_id
    app.contact.set_preference(rid, "letter")
    (row,) = app.contact.day_list(TUE).rows
    assert (row.channel, row.status) == ("letter", "todo")


def test_contact_policy_cli_shows_and_sets(app, capsys):
    url = str(app.store.engine.url)
    assert main(["--db", url, "contact", "policy", "--set", "contact.days_before=3", "--set",
                 "contact.cancel_phone=62 22 30 00", "--set",
                 "sms.auth_header=Authorization: Bearer x", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["contact.days_before"] == 3 and data["contact.cancel_phone"] == "62 22 30 00"
    assert data["sms.auth_header"] == "(sat)"
    assert main(["--db", url, "contact", "policy", "--set", "retention.years=1"]) == 2
    assert main(["--db", url, "contact", "policy", "--set", "contact.days_before=5", "--set",
                 "sms.message_template=Husk din blodprøve {dato} {tidsrum}"]) == 2
    assert "blodprøve" in capsys.readouterr().err
    assert app.settings.get("contact.days_before") == 3  # nothing written
    assert app.settings.get("retention.years") == 5
