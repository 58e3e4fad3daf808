"""Planlægning: the re-plan summary after an absence (and one click to print what changed),
undo of a move, a move by keyboard and by the context menu, a lock that says so."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt

from tests.ui.conftest import settle
from tests.ui.test_other_views import DAY, _requests
from ui.signals import emit_changed

WEEK = [DAY + dt.timedelta(days=k) for k in range(3)]  # Tuesday to Thursday


def _board(qtbot, window, n=4, days=1):
    app = window.app
    ids = _requests(app, n)
    app.planning.plan(DAY, DAY, time_limit_s=1.0)
    view = window.show_view("planning")
    view.set_period(DAY, days)
    settle(qtbot)
    settle(qtbot)
    return app, view, ids


def _place(app, visit_id, first=DAY, last=DAY):
    for r in app.planning.routes(first, last):
        for st in r.stops:
            if st.visit_id == visit_id:
                return r.analyst_id, r.date
    return None


def test_summary_after_an_absence_and_print_what_changed(qtbot, window):
    app, view, _ids = _board(qtbot, window, 4)
    route = next(r for r in app.planning.routes(DAY, DAY) if r.stops)
    moved = {st.request_id for st in route.stops}
    # recorded where absences are (Indstillinger), which re-plans and tells the board
    result = app.planning.add_absence(route.analyst_id, DAY, DAY, "syg")
    emit_changed("settings", "planning")
    settle(qtbot)
    settle(qtbot)
    assert view.summary.isVisible()
    assert view.shown_changes is result
    text = view.summary_text.text()
    assert "Omlægning" in text
    assert f"{DAY:%d.%m.%Y} {route.analyst} →" in text
    assert {m.request_id for m in result.changes.moves} == moved
    assert "Udskriv igen" in text
    # one click: the changed route sheets and letters, ready to print or save
    assert view.reprint_button.isEnabled()
    view.reprint_button.click()
    settle(qtbot)
    names = [d[1] for d in view.changed_documents]
    assert len(view.changed_documents) == len(result.changes.route_sheets) + (
        1 if result.changes.letters else 0)
    assert any(n.startswith("koerselsliste-") for n in names)
    assert "klar til udskrift" in view.last_status


def test_undo_a_move(qtbot, window):
    app, view, _ids = _board(qtbot, window, 2)
    route = next(r for r in app.planning.routes(DAY, DAY) if r.stops)
    visit = route.stops[0].visit_id
    other = next(a for a in view.analysts if a.id != route.analyst_id)
    view.move_visit(visit, other.id, DAY)
    settle(qtbot)
    settle(qtbot)
    assert view.last_move.ok, view.last_move.problems
    assert _place(app, visit) == (other.id, DAY)
    assert "flyttet" in view.last_status and view.undo_button.isEnabled()
    view.undo_button.click()
    settle(qtbot)
    settle(qtbot)
    assert view.last_undo.ok, view.last_undo.problems
    assert _place(app, visit) == (route.analyst_id, DAY)
    assert view.last_status.startswith("Fortrudt")
    # nothing left to undo: the button is off and Ctrl+Z says so
    assert not view.undo_button.isEnabled()
    view.undo()
    assert view.last_status == "Der er intet at fortryde."


def test_undo_is_refused_once_replied(qtbot, window):
    app, view, _ids = _board(qtbot, window, 2)
    route = next(r for r in app.planning.routes(DAY, DAY) if r.stops)
    visit = route.stops[0].visit_id
    other = next(a for a in view.analysts if a.id != route.analyst_id)
    view.move_visit(visit, other.id, DAY)
    settle(qtbot)
    settle(qtbot)
    app.planning.send_replies(DAY, DAY, now=dt.datetime(2024, 3, 11, 12))
    view.undo()
    settle(qtbot)
    assert not view.last_undo.ok
    assert "svaret er sendt" in view.last_status
    assert _place(app, visit) == (other.id, DAY)


def test_move_by_keyboard(qtbot, window):
    app, view, _ids = _board(qtbot, window, 2)
    route = next(r for r in app.planning.routes(DAY, DAY) if r.stops)
    visit = route.stops[0].visit_id
    ids = [a.id for a in view.analysts]
    step = 1 if ids.index(route.analyst_id) == 0 else -1
    card = view.cards[(route.analyst_id, DAY)]
    card.stops.setFocus()
    card.stops.setCurrentRow(0)
    key = Qt.Key.Key_Down if step == 1 else Qt.Key.Key_Up
    qtbot.keyClick(card.stops, key, Qt.KeyboardModifier.AltModifier)
    settle(qtbot)
    settle(qtbot)
    target = ids[ids.index(route.analyst_id) + step]
    assert view.last_move is not None
    assert view.last_move.ok, view.last_move.problems
    assert _place(app, visit) == (target, DAY)
    assert "flyttet" in view.last_status
    # off the board's edge: said, nothing asked of the core
    edge = Qt.Key.Key_Left  # the period has one day: there is no day before
    card = next(c for c in view.cards.values() if c.stops.count())
    card.stops.setCurrentRow(0)
    qtbot.keyClick(card.stops, edge, Qt.KeyboardModifier.AltModifier)
    assert "ingen bioanalytiker eller dag i den retning" in view.last_status


def test_context_menu_moves_and_locks(qtbot, window):
    app, view, _ids = _board(qtbot, window, 2)
    route = next(r for r in app.planning.routes(DAY, DAY) if r.stops)
    card = view.cards[(route.analyst_id, DAY)]
    item = card.stops.item(0)
    visit = route.stops[0].visit_id
    menu = view.context_menu(card.stops, item)
    texts = [a.text() for a in menu.actions()]
    assert texts[0] == "Flyt til…" and "Lås" in texts
    other = next(a for a in view.analysts if a.id != route.analyst_id)
    move = menu.actions()[0].menu()
    target = next(a for a in move.actions() if a.text().startswith(other.name))
    target.trigger()
    settle(qtbot)
    settle(qtbot)
    assert view.last_move is not None
    assert view.last_move.ok, view.last_move.problems
    assert _place(app, visit) == (other.id, DAY)
    # locking says what it means, in the view and in the status bar
    view.set_locked(True, visit)
    settle(qtbot)
    settle(qtbot)
    assert "er låst" in view.last_status and "tidsvindue" in view.message.text()
    assert window.statusBar().currentMessage() == view.last_status
    view.undo()  # the lock is taken back
    settle(qtbot)
    settle(qtbot)
    assert view.last_undo.ok
    assert not any(st.locked for r in app.planning.routes(DAY, DAY) for st in r.stops)


def test_optimize_shows_planned_of_total_and_its_result(qtbot, window):
    app = window.app
    _requests(app, 4)
    view = window.show_view("planning")
    view.time_limit_s = 120.0  # ended by Annullér below
    view.set_period(DAY, 2)
    settle(qtbot)
    view.optimize()
    dlg = view.optimize_op._dialog
    qtbot.waitUntil(lambda: "Planlagt:" in dlg.labelText(), timeout=30000)
    assert dlg.maximum() == 4 and 0 <= dlg.value() <= 4
    assert "af 4 besøg" in dlg.labelText()
    from PySide6.QtWidgets import QPushButton
    dlg.findChild(QPushButton).click()
    settle(qtbot, timeout=40)
    assert view.last_plan is not None
    assert view.summary.isVisible() and "Optimering" in view.summary_text.text()
    assert "4 nye" in view.summary_text.text()
    assert view.last_status.startswith("Optimeret")


def test_a_cancellation_shows_only_its_own_visit_moved(qtbot, window):
    app, view, ids = _board(qtbot, window, 4)
    before = app.planning.placements(DAY, DAY)
    victim = ids[1]
    # what the request form's "Aflys" does, then the board is told
    app.planning.cancel_and_replan(victim, dt.datetime(2024, 3, 11, 9), "Hjemmeplejen",
                                   "telephone")
    emit_changed("requests", "planning")
    settle(qtbot)
    settle(qtbot)
    after = app.planning.placements(DAY, DAY)
    for rid, p in before.items():
        if rid != victim:
            assert (after[rid].date, after[rid].analyst_id) == (p.date, p.analyst_id)
    changes = view.shown_changes.changes
    assert [m.request_id for m in changes.moves] == [victim]
    text = view.summary_text.text()
    assert "Omlægning" in text and "taget af ruten" in text
    assert "0 besøg flyttet til en anden dag eller bioanalytiker" in text


def test_ctrl_z_on_the_board_undoes(qtbot, window):
    app, view, _ids = _board(qtbot, window, 2)
    route = next(r for r in app.planning.routes(DAY, DAY) if r.stops)
    visit = route.stops[0].visit_id
    other = next(a for a in view.analysts if a.id != route.analyst_id)
    view.move_visit(visit, other.id, DAY)
    settle(qtbot)
    settle(qtbot)
    card = next(c for c in view.cards.values() if c.stops.count())
    card.stops.setFocus()
    qtbot.keyClick(card.stops, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot)
    settle(qtbot)
    assert view.last_undo.ok and _place(app, visit) == (route.analyst_id, DAY)
