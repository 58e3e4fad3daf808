"""The inbox beyond MedCom's protocol: bad files, acknowledgements of acknowledgements, the
CLI, from message to request or cancellation, replies, the CSV drop folder, text hints."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from hjemmeprove.cli import main
from hjemmeprove.db.models import (
    Bioanalyst,
    Cancellation,
    IntakeMessage,
    IntakeSegment,
    IntakeThread,
    Request,
    Route,
    Visit,
)
from hjemmeprove.errors import ValidationError
from hjemmeprove.intake import fhir
from hjemmeprove.intake.ack import build_acknowledgement, build_new_message
from hjemmeprove.intake.hints import find_hints
from hjemmeprove.intake.message import read_message
from hjemmeprove.intake.service import IntakeService
from tests.intake_support import check_acknowledgement, example

MUNI_SOR, MUNI_EAN = "123451000016001", "5790001234567"
DEPT_SOR, DEPT_EAN = "987651000016009", "5798000000013"
WHEN = dt.datetime(2024, 3, 4, 8, 30, tzinfo=dt.timezone.utc)  # 09:30 in Denmark


def message(text: str, cpr="010150-1234", name="Karen Jensen", fmt="json",
            address=("Vestergade 3", "5700", "Svendborg"), when=WHEN, thread=None) -> bytes:
    bundle = build_new_message(text, cpr, name, MUNI_SOR, MUNI_EAN, DEPT_SOR, DEPT_EAN, when,
                               sender_name="Hjemmeplejen, Svendborg Kommune",
                               receiver_name="KBA Svendborg", author="Anne Hansen",
                               address=address, thread=thread)
    return fhir.dumps(bundle, fmt)


@pytest.fixture
def intake(department_app):
    service = IntakeService(department_app.store)
    service.add_sender(479, sor=MUNI_SOR, name="Hjemmeplejen, Svendborg Kommune")
    return service


def _counts(app) -> tuple[int, int, int]:
    with app.store.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t))
                     for t in (IntakeThread, IntakeMessage, IntakeSegment))


# --- bad input ------------------------------------------------------------------------------


def test_truncated_json_and_xml_get_a_fatal_error_naming_the_problem(department_app,
                                                                     intake):
    for prefix, fmt in (("R-Tek-G", "json"), ("R-Tek-J", "xml")):
        data = example(prefix).read_bytes()
        r = intake.receive(data[:-300], "afkortet." + fmt)  # cut in the last resource
        assert r.outcome == "fatal-error" and r.ack_code == "fatal-error"
        ack = check_acknowledgement(fhir.dumps(r.ack, fmt), fmt)
        assert ack["response_to"] == read_message(*fhir.parse(data)).header_id
        assert any("afkortet" in i for i in ack["issues"])
    assert _counts(department_app) == (0, 0, 0)


def test_bytes_that_name_no_message_are_logged_without_acknowledgement(intake):
    r = intake.receive(b"\x00\x01 not a bundle", "junk.json")
    assert r.outcome == "fatal-error" and r.ack is None
    [entry] = intake.log()
    assert entry.outcome == "fatal-error" and "kan ikke kvitteres" in entry.problem


def test_wrong_profile_is_refused(department_app, intake):
    data = json.loads(message("Blodprøve"))
    data["meta"]["profile"] = ["http://medcomfhir.dk/ig/hospitalnotification/"
                               "StructureDefinition/medcom-hospitalNotification-message"]
    r = intake.receive(json.dumps(data).encode(), "hn.json")
    assert r.outcome == "fatal-error"
    assert any(p.where == "Bundle.meta.profile" for p in r.problems)
    assert _counts(department_app) == (0, 0, 0)


def test_an_acknowledgement_is_never_acknowledged(department_app, intake):
    received = read_message(*fhir.parse(message("Blodprøve")))
    ack = build_acknowledgement(received, "ok")
    for fmt in ("json", "xml"):
        r = intake.receive(fhir.dumps(ack, fmt), "kvittering." + fmt)
        assert r.outcome == "acknowledgement" and r.ack is None and r.ack_filename == ""
    assert _counts(department_app) == (0, 0, 0)


def test_the_inbox_keeps_working_after_a_bad_file(department_app, intake, tmp_path):
    inbox = tmp_path / "ind"
    inbox.mkdir()
    (inbox / "a-bad.json").write_bytes(b'{"resourceType": "Bundle", "id": "x", "ent')
    (inbox / "b-good.xml").write_bytes(message("Blodprøve, tak", fmt="xml"))
    (inbox / ".c-hidden.json").write_bytes(b"{}")
    (inbox / "d-partial.json.tmp").write_bytes(b"{}")
    summary = intake.run(inbox, tmp_path / "ud", tmp_path / "arkiv", csv=False)
    assert (summary.read, summary.ok, summary.rejected) == (2, 1, 1)
    assert sorted(p.name for p in inbox.iterdir()) == [".c-hidden.json", "d-partial.json.tmp"]
    [ack_file] = list((tmp_path / "ud").iterdir())  # "x" named no MessageHeader: no ack
    assert ack_file.suffix == ".xml"
    assert check_acknowledgement(ack_file.read_bytes(), "xml")["code"] == "ok"
    assert (tmp_path / "ud").stat().st_mode & 0o077 == 0
    assert _counts(department_app)[:2] == (1, 1)


def test_folders_come_from_the_settings(department_app, intake, tmp_path, capsys):
    """A folder given on the command line wins over the setting; one neither given nor set is
    named with the option and the command that sets it (it used to name all three as "not
    set", even those given, and point at a command that does not exist)."""
    with pytest.raises(ValidationError, match="--inbox MAPPE --outbox MAPPE --archive MAPPE"):
        intake.run()
    db = ["--db", department_app.store.url]
    assert main(db + ["intake", "run", "--inbox", str(tmp_path), "--outbox",
                      str(tmp_path / "ud")]) == 2
    err = capsys.readouterr().err
    assert "--archive" in err and "--inbox" not in err and "intake folders" in err, err
    assert not (tmp_path / "ud").exists()
    (tmp_path / "ind").mkdir()
    (tmp_path / "ind" / "m.json").write_bytes(message("Blodprøve"))
    for key, name in (("intake.inbox", "ind"), ("intake.outbox", "ud"),
                      ("intake.archive", "arkiv")):
        department_app.settings.set(key, str(tmp_path / name))
    assert intake.run().ok == 1
    assert (tmp_path / "arkiv" / "m.json").exists()


# --- the CLI --------------------------------------------------------------------------------


def test_cli_run_list_show(department_app, intake, tmp_path, capsys):
    db = ["--db", department_app.store.url]
    inbox = tmp_path / "ind"
    inbox.mkdir()
    (inbox / "m.json").write_bytes(message("Blodprøve hos Karen.\nHun er fastende."))
    (inbox / "bad.json").write_bytes(b"{")
    assert main(db + ["intake", "run", "--inbox", str(inbox), "--outbox",
                      str(tmp_path / "ud"), "--archive", str(tmp_path / "arkiv"),
                      "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["read"], out["ok"], out["rejected"]) == (2, 1, 1)
    assert main(db + ["intake", "list", "--unread", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["patient"] == "010150-XXXX" and row["unread"] is True
    assert main(db + ["intake", "show", str(row["id"]), "--mark-read"]) == 0
    text = capsys.readouterr().out
    assert "Hun er fastende." in text and "010150-1234" not in text
    assert main(db + ["intake", "list", "--unread", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(db + ["intake", "show", "999"]) == 1
    assert main(db + ["intake", "sender", "479", "--sor", "abc"]) == 2
    assert "SOR" in capsys.readouterr().err


# --- from message to request -----------------------------------------------------------------


def _message_id(app, header_index=-1) -> int:
    with app.store.session() as s:
        return list(s.scalars(select(IntakeMessage.id).order_by(IntakeMessage.id)))[header_index]


def test_message_becomes_a_request_with_hints_proposed_not_applied(department_app, intake):
    text = ("Vi beder om blodprøver i hjemmet. Borgeren skal være fastende. "
            "Gerne 12.03.2024 mellem 8 og 10. EKG ønskes også.")
    assert intake.receive(message(text), "m.json").outcome == "ok"
    mid = _message_id(department_app)
    p = intake.propose(mid)
    assert p.values["cpr"] == "010150-1234" and p.values["name"] == "Karen Jensen"
    assert (p.values["address"], p.values["postcode"], p.values["city"]) == (
        "Vestergade 3", "5700", "Svendborg")
    assert p.values["municipality"] == "479"
    assert p.values["received"] == "2024-03-04" and p.values["note"] == text
    assert "window_end" not in p.values and "ekg" not in p.values  # proposed only
    hints = {h.field: h.value for h in p.hints}
    assert hints["earliest"] == "2024-03-12" and hints["ekg"] == "ja"
    assert (hints["window_start"], hints["window_end"]) == ("08:00", "10:00")
    assert "fasting" in hints and p.cancellation is None
    from hjemmeprove.intake.hints import apply_hints

    values = apply_hints(p.values, [h for h in p.hints if h.field in ("ekg", "window_end")])
    request_id = intake.create_request(mid, values, today=dt.date(2024, 3, 5))
    d = department_app.requests.get(request_id)
    assert d.ekg and d.window_end == dt.time(10, 0) and d.window_start is None
    assert d.received == dt.date(2024, 3, 4) and d.note == text
    thread = intake.thread(intake.thread_of_message(mid))
    assert thread.row.request_id == request_id and not thread.row.unread
    with pytest.raises(Exception, match="allerede"):
        intake.create_request(mid, values, today=dt.date(2024, 3, 5))


def test_address_from_the_stored_citizen_when_the_message_has_none(department_app, intake):
    from tests.factories import request_values

    department_app.requests.create(request_values(), today=dt.date(2024, 3, 5))
    intake.receive(message("Ny blodprøve, tak", address=None), "m.json")
    p = intake.propose(_message_id(department_app))
    assert (p.values["address"], p.values["city"]) == ("Vestergade 3", "Svendborg")


def test_message_that_asks_to_cancel_becomes_a_cancellation(department_app, intake):
    from tests.factories import request_values

    rid = department_app.requests.create(request_values(received="2024-03-01"),
                                         today=dt.date(2024, 3, 5))
    other = department_app.requests.create(
        request_values(cpr="020260-1234", name="Ole Olsen", received="2024-03-01"),
        today=dt.date(2024, 3, 5))
    intake.receive(message(f"Vi må desværre aflyse henvisning {rid}, borgeren er indlagt."),
                   "m.json")
    mid = _message_id(department_app)
    p = intake.propose(mid)
    assert p.cancellation is not None and p.cancellation.request_id == rid
    assert p.cancellation.at == dt.datetime(2024, 3, 4, 9, 30)  # the message's Danish time
    assert p.cancellation.channel == "electronic" and "Anne Hansen" in p.cancellation.by
    result = intake.cancel_from_message(mid)
    assert result.request_id == rid and result.channel == "electronic" and not result.late
    assert department_app.requests.get(rid).status == "cancelled"
    assert department_app.requests.get(other).status == "open"
    with department_app.store.session() as s:
        c = s.scalar(select(Cancellation).where(Cancellation.request_id == rid))
        assert c.at == dt.datetime(2024, 3, 4, 9, 30) and c.channel == "electronic"
        assert s.get(IntakeMessage, mid).handled == "cancellation"


def test_cancellation_without_a_number_finds_the_citizens_one_active_request(
        department_app, intake):
    from tests.factories import request_values

    rid = department_app.requests.create(request_values(), today=dt.date(2024, 3, 5))
    intake.receive(message("Afbestilling: Karen skal ikke have taget blodprøve alligevel."),
                   "m.json")
    assert intake.propose(_message_id(department_app)).cancellation.request_id == rid


def test_reply_with_date_and_window_goes_back_in_the_thread(department_app, intake,
                                                           tmp_path):
    intake.receive(message("Blodprøve, tak", fmt="xml"), "m.xml")
    mid = _message_id(department_app)
    rid = intake.create_request(mid, intake.propose(mid).values, today=dt.date(2024, 3, 5))
    with department_app.store.session() as s:
        analyst = s.scalars(select(Bioanalyst)).first()
        route = Route(bioanalyst_id=analyst.id, department_id=analyst.department_id,
                      date=dt.date(2024, 3, 7))
        s.add(route)
        s.flush()
        s.add(Visit(request_id=rid, route_id=route.id, date=dt.date(2024, 3, 7),
                    window_start=dt.time(9, 0), window_end=dt.time(11, 0)))
        s.get(Request, rid).status = "planned"
    text = intake.reply_text(rid)
    assert "torsdag 07.03.2024 mellem kl. 09:00 og 11:00" in text
    path = intake.reply(rid, outbox=tmp_path / "ud")
    assert path.suffix == ".xml"  # the format the thread came in
    sent = read_message(*fhir.parse(path.read_bytes()))
    assert sent.problems == [] and sent.activity == "reply-message"
    received = read_message(*fhir.parse(message("x")))
    assert sent.thread == intake.thread(intake.thread_of_message(mid)).row.identifier
    assert sent.receiver.sor == MUNI_SOR and sent.sender.sor == DEPT_SOR
    assert sent.segments[0].text == text and len(sent.segments) == 2
    assert received.sender.sor == MUNI_SOR
    detail = intake.thread(intake.thread_of_message(mid))
    assert [m.direction for m in detail.messages] == ["in", "out"]
    with department_app.store.session() as s:  # a reply sent keeps the window (rule 4)
        assert s.scalar(select(Visit.locked).where(Visit.request_id == rid))
    assert department_app.requests.get(rid).status == "locked"


def test_replies_join_their_thread_whatever_the_order(department_app, intake):
    thread = "urn:uuid:6f1c3a1e-1111-4222-8333-944455556666"
    first = message("Første besked", thread=thread, when=WHEN)
    later = message("Anden besked", thread=thread, when=WHEN + dt.timedelta(hours=1))
    assert intake.receive(later, "2.json").outcome == "ok"
    assert intake.receive(first, "1.json").outcome == "ok"
    [row] = intake.threads()
    texts = [s.text for s in intake.thread(row.id).segments]
    assert texts == ["Første besked", "Anden besked"]


# --- CSV drop folder ------------------------------------------------------------------------


def test_csv_drop_folder_imports_all_or_none(department_app, intake, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    header = "cpr;navn;adresse;postnr;by;kommunekode;modtaget\n"
    (folder / "good.csv").write_text(header + "010150-1234;Karen Jensen;Vestergade 3;5700;"
                                     "Svendborg;479;2024-03-01\n", encoding="utf-8")
    (folder / "bad.csv").write_text(header + "010150-1234;Karen Jensen;Vestergade 3;5700;"
                                    "Svendborg;479;2024-03-01\nxx;Ole;Vej 1;5700;Svendborg;"
                                    "479;2024-03-01\n", encoding="utf-8")
    assert intake.run_csv(folder, today=dt.date(2024, 3, 5)) == (1, 1)
    assert (folder / "arkiv" / "good.csv").exists()
    assert (folder / "afvist" / "bad.csv").exists()
    report = (folder / "afvist" / "bad.csv.fejl.txt").read_text(encoding="utf-8")
    assert "række 3" in report and "cpr" in report
    with department_app.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Request)) == 1


# --- hints ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("fastende blodprøve", {"window_end": "10:00", "fasting": "ja"}),
    ("før kl. 9", {"window_end": "09:00"}),
    ("efter kl. 13.30", {"window_start": "13:30"}),
    ("kl. 8-10 den 5. april", {"window_start": "08:00", "window_end": "10:00",
                               "earliest": "2024-04-05"}),
    ("EKG og blodprøver", {"ekg": "ja"}),
    ("aflys tak", {"cancel": "ja"}),
    ("ingenting", {}),
])
def test_hints(text, expected):
    got = {h.field: h.value for h in find_hints(text, dt.date(2024, 3, 4))}
    got.pop("preferred_days", None)
    assert got == expected


def test_one_run_recognises_duplicates_and_threads_within_its_batch(department_app, intake,
                                                                   tmp_path):
    """Several files of one run are one transaction: a duplicate or a reply among them is
    recognised as if they had come one by one."""
    inbox = tmp_path / "ind"
    inbox.mkdir()
    thread = "urn:uuid:0b6f8c55-2d0e-4a44-9d61-6f1f0d7f2c11"
    first = message("Første", thread=thread)
    (inbox / "a.json").write_bytes(first)
    (inbox / "b.json").write_bytes(first)  # sent again
    (inbox / "c.xml").write_bytes(message("Anden", thread=thread, fmt="xml",
                                          when=WHEN + dt.timedelta(hours=1)))
    summary = intake.run(inbox, tmp_path / "ud", tmp_path / "arkiv", csv=False)
    assert [r.outcome for r in summary.receipts] == ["ok", "duplicate", "ok"]
    a, b, c = summary.receipts
    assert a.message_id == b.message_id and a.thread_id == b.thread_id == c.thread_id
    assert b.ack == a.ack  # the same acknowledgement again
    assert _counts(department_app) == (1, 2, 2)
    assert len(list((tmp_path / "ud").iterdir())) == 2  # a and b: one ack, the same file
