"""Henvisninger: the lazy model, creating a request, a late cancellation, the history."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt

from tests.factories import request_values
from tests.ui.conftest import settle


def test_model_fetches_pages_lazily(demo_app):
    from ui.models.requests import PAGE, RequestFilter, RequestTableModel

    model = RequestTableModel(demo_app.requests)
    model.load(RequestFilter())
    total = demo_app.requests.count()
    assert total > PAGE
    assert model.total == total
    assert model.rowCount() == PAGE
    assert model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == min(2 * PAGE, total)
    while model.canFetchMore():
        model.fetchMore()
    assert model.rowCount() == total
    ids = [model.row_at(i).id for i in range(total)]
    assert len(set(ids)) == total  # pages neither overlap nor skip
    deadlines = [model.row_at(i).deadline for i in range(total)]
    assert deadlines == sorted(deadlines)


def test_model_filters_are_the_services(demo_app):
    from ui.models.requests import COL_LATE, COL_STATUS, RequestFilter, RequestTableModel

    model = RequestTableModel(demo_app.requests)
    model.load(RequestFilter(status="cancelled"))
    assert model.total == demo_app.requests.count(status="cancelled") > 0
    assert {model.index(i, COL_STATUS).data() for i in range(model.rowCount())} == {"Aflyst"}
    model.load(RequestFilter(search="Svendborg"))
    assert 0 < model.total < demo_app.requests.count()
    late = demo_app.requests.count(late_cancellations=True)
    model.load(RequestFilter(late_cancellations=True))
    assert model.total == late
    if late:
        assert model.index(0, COL_LATE).data() == "SEN"


def test_create_request_shows_its_deadline(qtbot, window):
    view = window.views["requests"]
    window.show_view("requests")
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    form = view.form
    assert form is not None and form.isVisible()
    values = request_values(received="2024-03-22")  # Easter 2024 inside the 10 working days
    values.pop("lat"), values.pop("lon")
    form.set_values(values)
    assert "10.04.2024" in form.deadline_label.text()  # shown live before saving
    form.activateWindow()
    qtbot.waitUntil(form.isActiveWindow)
    qtbot.keyClick(form, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot)
    assert not form.isVisible(), form.summary.text()
    settle(qtbot)
    assert view.detail is not None and view.detail.name == "Karen Jensen"
    assert view.d_fields["deadline"].text() == "<b>10.04.2024</b>"
    row = view.model.row_of_id(view.detail.id)
    from ui.models.requests import COL_DEADLINE
    assert view.model.index(row, COL_DEADLINE).data() == "10.04.2024"
    assert window.app.requests.get(view.detail.id).deadline == dt.date(2024, 4, 10)


def test_form_shows_errors_at_the_field_and_saves_nothing(qtbot, window):
    view = window.views["requests"]
    view.new_request()
    form = view.form
    form.set_values(request_values(cpr="3213", postcode="57", window_start="11:00",
                                   window_end="09:00"))
    form.save()
    settle(qtbot)
    assert form.isVisible()
    assert form.field_error("cpr")
    assert "4 cifre" in form.field_error("postcode")
    assert form.field_error("window_end")
    assert form.field_error("name") == ""
    assert window.app.requests.count() == 0


def test_form_names_municipality_without_agreement(qtbot, window):
    view = window.views["requests"]
    view.new_request()
    form = view.form
    values = request_values(municipality="461")  # Odense: no agreement in department_app
    form.set_values(values)
    form.save()
    settle(qtbot)
    assert "aftale" in form.field_error("municipality")


def _locked_visit(app, request_id: int, day: dt.date, start: dt.time) -> None:
    from hjemmeprove.db.models import Request, Visit

    with app.store.session() as s:
        s.add(Visit(request_id=request_id, date=day, window_start=start,
                    window_end=dt.time(start.hour + 2, start.minute), locked=True))
        s.get(Request, request_id).status = "locked"


def test_late_cancellation_is_flagged(qtbot, window):
    app = window.app
    rid = app.requests.create(request_values(received="2024-03-04"), today=dt.date(2024, 3, 11))
    _locked_visit(app, rid, dt.date(2024, 3, 12), dt.time(9, 0))
    view = window.views["requests"]
    view.reload()
    settle(qtbot)
    view.select_request(rid)
    settle(qtbot)
    assert view.cancel_button.isEnabled()
    view.cancel_request()
    dlg = view.cancel_dialog
    from PySide6.QtCore import QDateTime
    dlg.at.setDateTime(QDateTime.fromString("2024-03-11 16:30", "yyyy-MM-dd HH:mm"))
    dlg.by.setText("Hjemmeplejen, Anne")
    dlg.channel.setCurrentIndex(dlg.channel.findData("telephone"))
    dlg.submit()
    settle(qtbot)
    settle(qtbot)
    # the default "Aktive" list no longer holds it; the detail panel still shows it
    assert view.model.row_of_id(rid) is None
    assert "SEN AFLYSNING" in view.d_fields["cancel"].text()
    assert "SEN" in window.statusBar().currentMessage()
    view.status.setCurrentIndex(view.status.findData(None))  # Alle statusser
    settle(qtbot)
    from ui.models.requests import COL_LATE, COL_STATUS
    row = view.model.row_of_id(rid)
    assert view.model.index(row, COL_LATE).data() == "SEN"
    assert view.model.index(row, COL_STATUS).data() == "Aflyst"


def test_timely_cancellation_is_not_late_and_bad_input_stays_in_dialog(qtbot, window):
    app = window.app
    rid = app.requests.create(request_values(received="2024-03-04"), today=dt.date(2024, 3, 11))
    _locked_visit(app, rid, dt.date(2024, 3, 14), dt.time(9, 0))
    view = window.views["requests"]
    view.reload()
    settle(qtbot)
    view.select_request(rid)
    settle(qtbot)
    view.cancel_request()
    dlg = view.cancel_dialog
    from PySide6.QtCore import QDateTime
    dlg.at.setDateTime(QDateTime.fromString("2024-03-11 10:00", "yyyy-MM-dd HH:mm"))
    dlg.submit()  # "Aflyst af" empty
    settle(qtbot)
    assert dlg.isVisible() and "aflyst af" in dlg.error.text()
    dlg.by.setText("Hjemmeplejen")
    dlg.submit()
    settle(qtbot)
    settle(qtbot)
    assert view.model.row_of_id(rid) is None  # not active any more
    view.status.setCurrentIndex(view.status.findData("cancelled"))
    settle(qtbot)
    row = view.model.row_of_id(rid)
    from ui.models.requests import COL_LATE
    assert view.model.index(row, COL_LATE).data() == ""
    assert "SEN" not in view.d_fields["cancel"].text()


def test_history_lists_the_audit_trail(qtbot, window):
    app = window.app
    rid = app.requests.create(request_values(received="2024-03-04"), today=dt.date(2024, 3, 11))
    d = app.requests.get(rid)
    from hjemmeprove.services.requests import detail_to_form
    app.requests.update(rid, d.version, {**detail_to_form(d), "note": "Fastende"},
                        today=dt.date(2024, 3, 11))
    view = window.views["requests"]
    view.reload()
    settle(qtbot)
    view.select_request(rid)
    settle(qtbot)
    view.show_history()
    settle(qtbot)
    model = view.history_dialog.model
    texts = [model.index(r, 2).data() for r in range(model.rowCount())]
    assert "Henvisning oprettet" in texts and "Henvisning ændret" in texts
    changes = [model.index(r, 3).data() for r in range(model.rowCount())]
    assert any("Fastende" in c for c in changes)


def test_search_shortcut_and_filter(qtbot, window):
    app = window.app
    app.requests.create(request_values(received="2024-03-04"), today=dt.date(2024, 3, 11))
    app.requests.create(request_values(cpr="020260-1236", name="Poul Hansen",
                                       received="2024-03-05"), today=dt.date(2024, 3, 11))
    view = window.views["requests"]
    view.reload()
    settle(qtbot)
    assert view.model.total == 2
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert view.search.hasFocus()
    qtbot.keyClicks(view.search, "Poul")
    qtbot.wait(400)
    settle(qtbot)
    assert view.model.total == 1 and view.model.row_at(0).citizen_name == "Poul Hansen"
    assert view.count_label.text() == "1 henvisning"


# --- sorting on the server, the "Aktive" filter --------------------------------------------


def _load_all(model) -> list:
    while model.canFetchMore():
        model.fetchMore()
    return [model.row_at(i) for i in range(model.rowCount())]


def test_model_sort_reloads_from_the_service(demo_app):
    from ui.models.requests import (COL_CPR, COL_DEADLINE, COL_ID, COL_NAME, PAGE,
                                    RequestFilter, RequestTableModel)

    service = demo_app.requests
    model = RequestTableModel(service)
    model.load(RequestFilter())
    total = model.total
    assert total > PAGE
    newest = max(r.id for r in service.list())
    assert newest not in {model.row_at(i).id for i in range(model.rowCount())}
    model.sort(COL_ID, Qt.SortOrder.DescendingOrder)
    # the whole list's newest comes first, not the newest of the rows loaded so far
    assert model.row_at(0).id == newest
    assert (model.filter.sort, model.filter.descending) == ("id", True)
    assert model.rowCount() == PAGE and model.total == total
    rows = _load_all(model)
    assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)
    assert len({r.id for r in rows}) == total  # pages neither overlap nor skip

    model.sort(COL_NAME, Qt.SortOrder.AscendingOrder)
    by_name = [r.id for r in service.list(sort="name")]
    assert [r.id for r in _load_all(model)] == by_name
    assert model.sort_column() == COL_NAME
    assert model.sort_order() == Qt.SortOrder.AscendingOrder

    model.sort(COL_CPR, Qt.SortOrder.DescendingOrder)  # the stored number, shown masked
    assert [model.row_at(i).id for i in range(model.rowCount())] == \
        [r.id for r in service.list(sort="cpr", descending=True, limit=PAGE)]
    assert all(model.index(i, COL_CPR).data().endswith("-XXXX")
               for i in range(model.rowCount()))

    model.sort(-1)  # no column: back to the deadline
    assert model.sort_column() == COL_DEADLINE
    assert [model.row_at(i).id for i in range(model.rowCount())] == \
        [r.id for r in service.list(limit=PAGE)]


def test_model_sort_keeps_the_filter_and_uses_the_loader(demo_app):
    from hjemmeprove.services.requests import ACTIVE_STATUSES
    from ui.models.requests import COL_MUNI, COL_PLANNED, RequestFilter, RequestTableModel

    service = demo_app.requests
    model = RequestTableModel(service)
    model.sort(COL_MUNI, Qt.SortOrder.DescendingOrder)  # nothing loaded: only remembered
    assert model.rowCount() == 0
    model.load(model.ordered(RequestFilter(status=ACTIVE_STATUSES)))
    assert model.total == service.count(status=ACTIVE_STATUSES)
    assert [model.row_at(i).id for i in range(model.rowCount())] == [
        r.id for r in service.list(status=ACTIVE_STATUSES, sort="municipality",
                                   descending=True, limit=model.rowCount())]
    asked = []
    model.loader = asked.append  # a view loads in the background instead
    model.sort(COL_PLANNED, Qt.SortOrder.AscendingOrder)
    (flt,) = asked
    assert (flt.status, flt.sort, flt.descending) == (ACTIVE_STATUSES, "planned", False)
    assert model.filter.sort == "municipality"  # unchanged until the result is applied
    model.sort(COL_PLANNED, Qt.SortOrder.AscendingOrder)  # the same order: no second load
    assert len(asked) == 1


def test_view_is_active_by_default_and_header_click_sorts_on_the_server(qtbot, window):
    from PySide6.QtCore import QPoint

    from ui.models.requests import COL_NAME, PAGE

    app = window.app
    names = ["Bo Ravn", "Aase Dahl", "Carl Berg", "Dorte Friis"]
    ids = [app.requests.create(request_values(cpr=f"0{i + 1}0150-1234", name=n,
                                              received="2024-03-04"),
                               today=dt.date(2024, 3, 11)) for i, n in enumerate(names)]
    app.requests.cancel(ids[3], dt.datetime(2024, 3, 5, 8), "Hjemmeplejen", "electronic")
    view = window.views["requests"]
    window.show_view("requests")
    view.reload()
    settle(qtbot)
    assert view.status.currentText() == "Aktive"
    assert view.model.total == 3 and view.count_label.text() == "3 henvisninger"
    assert view.model.row_of_id(ids[3]) is None

    header = view.table.horizontalHeader()
    pos = QPoint(header.sectionViewportPosition(COL_NAME) + header.sectionSize(COL_NAME) // 2,
                 header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    settle(qtbot)
    assert view.model.filter.sort == "name"
    first = [view.model.row_at(i).citizen_name for i in range(view.model.rowCount())]
    assert first in (sorted(names[:3]), sorted(names[:3], reverse=True))
    assert header.sortIndicatorSection() == COL_NAME
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    settle(qtbot)
    again = [view.model.row_at(i).citizen_name for i in range(view.model.rowCount())]
    assert again == list(reversed(first))
    # a filter change keeps the order
    view.status.setCurrentIndex(view.status.findData(None))
    settle(qtbot)
    assert view.model.total == 4 <= PAGE
    shown = [view.model.row_at(i).citizen_name for i in range(view.model.rowCount())]
    assert shown == sorted(names, reverse=again[0] > again[-1])


def test_known_cpr_shows_the_stored_citizen_and_a_change_is_asked(qtbot, window):
    """Issue 11: the form shows the stored citizen of a known CPR (typed with full-width
    digits) and fills the empty fields; a different name is saved only after an explicit yes,
    and the earlier request keeps its address."""
    app = window.app
    first = app.requests.create(request_values(name="Grethe Madsen", address="Møllevej 7",
                                               received="2024-03-25"),
                                today=dt.date(2024, 4, 2))
    app.requests.mark_not_eligible(first, "test")  # no open duplicate in the way
    view = window.views["requests"]
    view.new_request()
    form = view.form
    form.set_values({"cpr": "０１０１５０－１２３４", "municipality": "479",
                     "received": "2024-03-28"})
    form.look_up_citizen()
    assert "Grethe Madsen" in form.known_label.text() and form.known_label.isVisibleTo(form)
    assert form.values()["name"] == "Grethe Madsen"
    assert form.values()["address"] == "Møllevej 7"
    form.edits["name"].setText("Grethe Hansen")
    asked = []
    form.ask = lambda text: asked.append(text) or False  # "Nej, ret"
    form.save()
    settle(qtbot)
    assert asked and "navn" in asked[0] and form.isVisible()
    assert app.requests.get(first).name == "Grethe Madsen"
    form.ask = lambda text: asked.append(text) or True  # "Ja, gem"
    form.save()
    settle(qtbot)
    assert not form.isVisible(), form.summary.text()
    new = app.requests.list(search="Grethe")
    assert {r.citizen_name for r in new} == {"Grethe Hansen"}
    assert app.requests.get(first).address == "Møllevej 7"


def test_position_is_placed_on_the_forms_map(qtbot, window):
    from PySide6.QtCore import QPoint
    from PySide6.QtTest import QTest

    view = window.views["requests"]
    view.new_request()
    form = view.form
    form.show()
    settle(qtbot)
    vp = form.map.viewport()
    QTest.mouseDClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      QPoint(vp.width() // 2, vp.height() // 2))
    settle(qtbot)
    lat, lon = float(form.values()["lat"]), float(form.values()["lon"])
    assert 54.0 <= lat <= 58.0 and 8.0 <= lon <= 15.5
