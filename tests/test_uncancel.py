"""Undoing a cancellation (RequestService.uncancel, ``requests uncancel``): allowed while
nobody has acted on it, refused with a Danish reason once replied to, billed or past the
visit's day; audited; and the request's history in the words the screen uses."""

import datetime as dt
import json

import pytest
from sqlalchemy import select

from hjemmeprove.cli import main
from hjemmeprove.db.models import Cancellation, IntakeMessage, IntakeThread, Visit
from hjemmeprove.domain import lifecycle
from hjemmeprove.errors import ValidationError
from hjemmeprove.services.history import changes_text
from tests.factories import request_values
from tests.test_requests import _plan_locked_visit

TODAY = dt.date(2024, 3, 20)
DAY = dt.date(2024, 3, 25)


def _late_cancelled(app):
    rid = app.requests.create(request_values(), today=TODAY)
    _plan_locked_visit(app, rid, DAY, dt.time(9, 0), dt.time(11, 0))
    result = app.requests.cancel(rid, dt.datetime(2024, 3, 24, 10, 0), "Hjemmeplejen",
                                 "telephone", now=dt.datetime(2024, 3, 24, 11, 0))
    assert result.late
    return rid


def test_undo_of_an_early_cancellation_opens_the_request_again(department_app):
    app = department_app
    rid = app.requests.create(request_values(), today=TODAY)
    _plan_locked_visit(app, rid, DAY, dt.time(9, 0), dt.time(11, 0), locked=False)
    app.requests.cancel(rid, dt.datetime(2024, 3, 20, 8, 0), "Hjemmeplejen", "electronic",
                        now=dt.datetime(2024, 3, 20, 9, 0))
    result = app.requests.uncancel(rid, today=TODAY)
    assert result.status == "open" and result.visit_date is None
    d = app.requests.get(rid)
    assert d.status == "open" and d.cancellations == ()
    # and it can be cancelled again
    app.requests.cancel(rid, dt.datetime(2024, 3, 20, 10, 0), "X", "electronic",
                        now=dt.datetime(2024, 3, 20, 11, 0))
    assert app.requests.get(rid).status == "cancelled"


def test_undo_of_a_late_cancellation_keeps_the_visit_in_its_window(department_app):
    app = department_app
    rid = _late_cancelled(app)
    result = app.requests.uncancel(rid, today=dt.date(2024, 3, 24))
    assert (result.visit_date, result.window_start, result.window_end) == \
        (DAY, dt.time(9, 0), dt.time(11, 0))
    with app.store.session() as s:
        visits = s.scalars(select(Visit).where(Visit.request_id == rid)).all()
        # active again, still locked in its window, off the route until the next plan
        assert [(v.outcome, v.locked, v.route_id, v.date) for v in visits] == \
            [(None, True, None, DAY)]
        assert s.scalars(select(Cancellation)).all() == []
    assert app.requests.get(rid).status == "open"


def test_undo_is_audited_and_the_history_speaks_danish(department_app):
    app = department_app
    rid = _late_cancelled(app)
    app.requests.uncancel(rid, today=dt.date(2024, 3, 24))
    history = app.requests.history(rid)
    whats = [h.what for h in history]
    assert "Aflysning oprettet" in whats and "Aflysning fortrudt" in whats
    text = "\n".join(f"{h.what}: {changes_text(h.action, h.changes)}" for h in history)
    assert "Status: Låst → Aflyst" in text and "Status: Aflyst → Åben" in text, text
    assert "Udfald: — → Sent aflyst" in text and "Udfald: Sent aflyst → —" in text, text
    assert "Kanal: Telefonisk" in text and "Besøgsdag: 25.03.2024" in text, text
    assert "Aftale: Svendborg fra 01.01.2020" in text, text  # a name, not agreement_id=1
    for code in ("open", "planned", "cancelled_late", "agreement_id", "status:", "outcome",
                 "2024-03-25", "None", "telephone"):
        assert code not in text, (code, text)


@pytest.mark.parametrize("case, fragment", [
    ("past", "besøgsdagen 25.03.2024 er passeret"),
    ("replied", "kommunen har fået svar"),
    ("billed", "faktureret"),
    ("open", "henvisningen er åben"),
])
def test_undo_is_refused_with_the_reason(department_app, case, fragment):
    app = department_app
    rid = _late_cancelled(app)
    today = dt.date(2024, 3, 24)
    if case == "past":
        today = dt.date(2024, 3, 26)
    elif case == "replied":
        with app.store.session() as s:
            thread = IntakeThread(identifier="t1")
            s.add(thread)
            s.flush()
            s.add(IntakeMessage(thread_id=thread.id, direction="out", bundle_id="b",
                                header_id="h-out", sent_at=dt.datetime(2024, 3, 24, 12),
                                format="json", raw=b"{}", sha256="0" * 64, request_id=rid))
    elif case == "billed":
        with app.store.session() as s:
            v = s.scalars(select(Visit).where(Visit.request_id == rid)).one()
            v.shares_locked = True
    elif case == "open":
        app.requests.uncancel(rid, today=today)
    with pytest.raises(ValidationError) as e:
        app.requests.uncancel(rid, today=today)
    assert e.value.fields == {"aflysning"} and fragment in str(e.value), str(e.value)
    if case != "open":
        assert app.requests.get(rid).status == "cancelled"  # nothing changed


def test_a_cancellation_by_outcome_at_day_close_is_corrected_there():
    why = lifecycle.uncancel_refusal(status_code="cancelled", recorded=False, visit_day=None,
                                     today=TODAY, replied=False, billed=False)
    assert "Dagsafslutning" in why
    assert lifecycle.refusal("cancelled", "uncancel") is None
    assert lifecycle.refusal("open", "uncancel")


def test_cli_uncancel_exit_codes(department_app, capsys):
    app = department_app
    rid = app.requests.create(request_values(), today=TODAY)
    app.requests.cancel(rid, dt.datetime(2024, 3, 20, 8, 0), "Hjemmeplejen", "electronic",
                        now=dt.datetime(2024, 3, 20, 9, 0))
    url = app.store.url
    assert main(["--db", url, "requests", "uncancel", str(rid), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["request_id"] == rid and out["status"] == "open"
    # again: not cancelled any more, exit 2 with the reason in Danish
    assert main(["--db", url, "requests", "uncancel", str(rid)]) == 2
    err = capsys.readouterr().err
    assert "kan ikke fortrydes" in err and "åben" in err and "Traceback" not in err
    assert main(["--db", url, "requests", "uncancel", "999999"]) == 1  # not found
    assert "findes ikke" in capsys.readouterr().err
    assert main(["--db", url, "requests", "history", str(rid)]) == 0
    out = capsys.readouterr().out
    assert "Aflysning fortrudt" in out and "Status: Aflyst → Åben" in out, out


def test_undo_puts_the_message_that_asked_for_it_back_in_the_inbox(department_app):
    app = department_app
    rid = app.requests.create(request_values(), today=TODAY)
    app.requests.cancel(rid, dt.datetime(2024, 3, 20, 8, 0), "Hjemmeplejen", "electronic",
                        now=dt.datetime(2024, 3, 20, 9, 0))
    with app.store.session() as s:
        thread = IntakeThread(identifier="t2")
        s.add(thread)
        s.flush()
        s.add(IntakeMessage(thread_id=thread.id, direction="in", bundle_id="b",
                            header_id="h-in", sent_at=dt.datetime(2024, 3, 20, 7),
                            format="json", raw=b"{}", sha256="0" * 64, request_id=rid,
                            handled="cancellation", read=True))
    app.requests.uncancel(rid, today=TODAY)
    with app.store.session() as s:
        m = s.scalars(select(IntakeMessage).where(IntakeMessage.header_id == "h-in")).one()
        assert (m.handled, m.request_id) == ("", None)
