"""Letters for Digital Post: one PDF per citizen, a CSV index, the cancellation number on
every letter, and the letters recorded for the reminder policy."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

from sqlalchemy import func, select

from hjemmeprove.cli import main
from hjemmeprove.db.models import LetterRecord
from hjemmeprove.documents import citizen_letter
from tests.test_contact import EASTER_TUE, EASTER_WED, TUE, add_visit


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_digital_post_export(department_app, tmp_path, capsys):
    app = department_app
    app.settings.set("contact.cancel_phone", "62 22 30 00")
    a = add_visit(app, EASTER_TUE, "010150-1234", "Anna Andersen", locked=True, replied=True)
    add_visit(app, EASTER_WED, "010150-1234", "Anna Andersen")  # her second visit
    add_visit(app, EASTER_TUE, "020250-1234", "=Bent Bæk", start=dt.time(11))
    assert [r.visit_id for r in app.contact.day_list(TUE).rows][0] == a
    url = str(app.store.engine.url)
    assert main(["--db", url, "contact", "letters", "--from", "2024-04-02", "--to",
                 "2024-04-03", "--out", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["letters"]) == 2  # one file per citizen
    anna = next(x for x in data["letters"] if x["cpr"] == "010150-XXXX")
    assert anna["dates"] == ["2024-04-02", "2024-04-03"]
    text = pdf_text(tmp_path / anna["file"])
    assert text.count("Kære Anna Andersen") == 2
    assert "Aflysning: ring til os på telefon 62 22 30 00" in text
    index = (tmp_path / "indeks.csv").read_text(encoding="utf-8-sig").splitlines()
    assert index[0] == "filnavn;cpr;navn;adresse;postnr;by;besøgsdatoer;forsendelse;titel"
    assert any(";010150-1234;Anna Andersen;" in line for line in index)  # full CPR for DP
    assert any(";'=Bent Bæk;" in line for line in index)  # not a formula
    assert all("010150" not in x["file"] for x in data["letters"])
    with app.store.session() as s:
        assert s.scalar(select(func.count()).select_from(LetterRecord)) == 3
    # replied, locked and now lettered: no reminder unless the policy says so
    assert a not in [r.visit_id for r in app.contact.day_list(TUE).rows]


def test_every_letter_prints_the_cancellation_number(department_app, tmp_path):
    app = department_app
    app.settings.set("contact.cancel_phone", "70 11 22 33")
    add_visit(app, EASTER_TUE, "010150-1234", "Anna Andersen")
    (letter,) = app.planning.letters(EASTER_TUE)  # the letters 'routes letters' prints too
    assert letter.cancel_phone == "70 11 22 33"
    path = tmp_path / "brev.pdf"
    path.write_bytes(citizen_letter.render(letter))
    assert "ring til os på telefon 70 11 22 33" in pdf_text(path)


def test_letter_without_visits_is_refused(department_app, tmp_path, capsys):
    url = str(department_app.store.engine.url)
    assert main(["--db", url, "contact", "letters", "--from", "2024-04-02", "--out",
                 str(tmp_path)]) == 2
    assert "fra" in capsys.readouterr().err
    assert not (tmp_path / "indeks.csv").exists()


def test_retention_erases_numbers_and_sms_texts(department_app):
    from hjemmeprove.db.models import ContactPreference, Reminder, Request, SmsMessage, Visit
    from hjemmeprove.services.retention import ERASED, RetentionService

    app = department_app
    day = dt.date(2020, 3, 10)
    vid = add_visit(app, day, "010150-1234", "Anna Andersen")
    with app.store.session() as s:
        v = s.get(Visit, vid)
        req = s.get(Request, v.request_id)
        req.received, req.status, v.outcome = dt.date(2020, 3, 2), "done", "taken"
        s.add(ContactPreference(citizen_id=req.citizen_id, request_id=req.id, channel="sms",
                                sms_consent=True, mobile="20304050", recorded_on=day,
                                note="datter svarer"))
        rem = Reminder(request_id=req.id, visit_date=day, list_date=day, channel="sms",
                       phone="20304050", status="delivered", note="ok")
        s.add(rem)
        s.flush()
        s.add(SmsMessage(reminder_id=rem.id, phone="20304050", text="Vi kommer tirsdag",
                         status="delivered"))
    assert RetentionService(app.store).erase_expired(today=dt.date(2026, 11, 29)).citizens == 1
    with app.store.session() as s:
        pref = s.scalars(select(ContactPreference)).one()
        rem = s.scalars(select(Reminder)).one()
        msg = s.scalars(select(SmsMessage)).one()
        assert (pref.mobile, pref.note, pref.sms_consent) == ("", "", True)
        assert (rem.phone, rem.note, rem.status) == ("", "", "delivered")
        assert (msg.phone, msg.text) == ("", ERASED)


def test_reminder_letters_are_printed_and_marked_sent(department_app, tmp_path, capsys):
    app = department_app
    a = add_visit(app, EASTER_TUE, "010150-1234", "Anna Andersen", phone="")  # no phone
    b = add_visit(app, EASTER_TUE, "020250-1234", "Bent Bæk")  # a call
    url = str(app.store.engine.url)
    out = tmp_path / "paamindelser.pdf"
    assert main(["--db", url, "contact", "reminder-letters", "--date", TUE.isoformat(),
                 "--out", str(out)]) == 0
    assert "1 breve" in capsys.readouterr().out
    text = pdf_text(out)
    assert "Kære Anna Andersen" in text and "Bent" not in text
    rows = {r.visit_id: r for r in app.contact.day_list(TUE).rows}
    assert rows[a].status == "sent" and rows[a].channel == "letter"
    assert rows[b].status == "todo"
    assert app.contact.reminder_letters(TUE, tmp_path / "igen.pdf") == 0  # not twice
