"""Indbakke: messages read in the background appear; one becomes a request through the
pre-filled form, another a cancellation; a message dropped while the window is open appears
within the poll interval."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt

from hjemmeprove.db.models import IntakeMessage
from tests.factories import request_values
from tests.test_intake import MUNI_SOR, message
from tests.ui.conftest import make_window, settle


def _setup(app, tmp_path):
    from hjemmeprove.intake.service import IntakeService

    IntakeService(app.store).add_sender(479, sor=MUNI_SOR, name="Hjemmeplejen Svendborg")
    for key, name in (("intake.inbox", "ind"), ("intake.outbox", "ud"),
                      ("intake.archive", "arkiv")):
        (tmp_path / name).mkdir()
        app.settings.set(key, str(tmp_path / name))
    return tmp_path / "ind"


def _select(qtbot, view, patient_name):
    settle(qtbot)
    row = next(r for r in view.model.rows if r.patient_name == patient_name)
    view.select_thread(row.id)
    settle(qtbot)
    assert view.detail is not None and view.detail.row.id == row.id


def test_message_becomes_request_and_another_a_cancellation(qtbot, department_app, qsettings,
                                                            dialogs, tmp_path):
    inbox = _setup(department_app, tmp_path)
    rid = department_app.requests.create(
        request_values(cpr="020260-1234", name="Ole Olsen", received="2024-03-01"),
        today=dt.date(2024, 3, 5))
    (inbox / "1.json").write_bytes(message(
        "Vi beder om blodprøver hos Karen. Hun skal være fastende. EKG ønskes."))
    (inbox / "2.xml").write_bytes(message(
        f"Henvisning {rid} skal aflyses, Ole er indlagt.", cpr="020260-1234",
        name="Ole Olsen", fmt="xml", when=dt.datetime(2024, 3, 6, 7, 0, tzinfo=dt.UTC)))
    window = make_window(qtbot, department_app, qsettings, today=dt.date(2024, 4, 2))
    view = window.show_view("inbox")
    settle(qtbot)
    qtbot.waitUntil(lambda: len(view.model.rows) == 2, timeout=10000)
    assert all(r.unread for r in view.model.rows)
    assert not any((tmp_path / "ind").iterdir())
    assert len(list((tmp_path / "ud").iterdir())) == 2  # the acknowledgements

    # a request, the form pre-filled; a hint is used only when ticked
    _select(qtbot, view, "Karen Jensen")
    assert "Hun skal være fastende." in view.browser.toPlainText()
    hints = {h.field: box for box, h in view.hint_boxes}
    assert set(hints) >= {"ekg", "window_end"}
    hints["ekg"].setChecked(True)
    assert view.create_button.isEnabled() and not view.cancel_button.isEnabled()
    qtbot.mouseClick(view.create_button, Qt.MouseButton.LeftButton)
    form = view.form
    assert form is not None and form.isVisible()
    values = form.values()
    assert (values["cpr"], values["name"], values["municipality"]) == (
        "010150-1234", "Karen Jensen", "479")
    assert values["received"] == "2024-03-04" and values["ekg"] == "ja"
    assert values["window_end"] == ""  # the fasting hint was not ticked
    assert "fastende" in values["note"]
    asked = []
    form.ask = lambda text: asked.append(text) or True  # the deadline of 2024 has passed
    form.save()
    settle(qtbot)
    assert not form.isVisible(), form.summary.text()
    settle(qtbot)
    with department_app.store.session() as s:
        linked = s.query(IntakeMessage).filter(IntakeMessage.handled == "request").one()
        new_id = linked.request_id
    assert department_app.requests.get(new_id).ekg
    assert view.detail.row.request_id == new_id

    # a cancellation of a known request, at the message's time, channel electronic
    _select(qtbot, view, "Ole Olsen")
    assert view.cancel_button.isEnabled()
    asked = []
    view.confirm = lambda head, text: asked.append(text) or True
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert f"henvisning {rid}" in asked[0] and "06.03.2024 08:00" in asked[0]
    assert department_app.requests.get(rid).status == "cancelled"
    [(at, _by, channel, late)] = department_app.requests.get(rid).cancellations
    assert (at, channel, late) == (dt.datetime(2024, 3, 6, 8, 0), "electronic", False)
    assert not dialogs

    # a reply goes back in the thread, to the outbox, in the format the thread came in
    view.ask_text = lambda head, label, default: "Tak, aflysningen er registreret."
    qtbot.mouseClick(view.reply_button, Qt.MouseButton.LeftButton)
    settle(qtbot)
    [reply] = list((tmp_path / "ud").glob("svar-*.xml"))
    assert b"Tak, aflysningen er registreret." in reply.read_bytes()
    assert "Tak, aflysningen er registreret." in view.browser.toPlainText()
    assert not dialogs

    # a message dropped while the window is open appears within the poll interval
    view.poll_timer.setInterval(200)
    (inbox / "3.json").write_bytes(message("Ny blodprøve, tak", cpr="030370-1234",
                                           name="Else Madsen"))
    qtbot.waitUntil(lambda: len(view.model.rows) == 3, timeout=10000)
    settle(qtbot)
