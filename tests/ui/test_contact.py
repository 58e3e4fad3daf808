"""Kontakt: the day's list in the window, marking a call, consent, a dry run of the SMS."""

from __future__ import annotations

import datetime as dt

from tests.test_contact import add_visit
from tests.ui.conftest import settle

TODAY = dt.date(2024, 4, 2)  # the window fixture's today, a Tuesday
WED, THU = dt.date(2024, 4, 3), dt.date(2024, 4, 4)


def test_contact_list_marks_calls_and_consent(qtbot, window, dialogs, tmp_path):
    app = window.app
    a = add_visit(app, WED, "010150-1234", "Anna Andersen")
    b = add_visit(app, THU, "020250-1234", "Bent Bæk", phone="")
    add_visit(app, dt.date(2024, 4, 5), "030350-1234", "Carl Later")  # 3 days ahead: not yet
    view = window.show_view("contact")
    view.set_day(TODAY)
    settle(qtbot)
    rows = {r.visit_id: r for r in view.model.rows}
    assert set(rows) == {a, b}
    assert rows[a].channel == "phone" and rows[b].channel == "letter"
    assert "2</b> borgere" in view.summary.text()
    view.select_visit(a)
    view.note.setText("telefonsvarer")
    view.not_reached_button.click()
    settle(qtbot)
    settle(qtbot)
    rows = {r.visit_id: r for r in view.model.rows}
    assert rows[a].status == "not_reached" and rows[a].note == "telefonsvarer"
    assert "ikke nået" in view.summary.text()
    assert app.contact.not_reached(WED, WED) == {a: "not_reached"}
    # consent to SMS for Bent, with a mobile number: his channel becomes SMS
    view.select_visit(b)
    view.pref_channel.setCurrentIndex(view.pref_channel.findData("sms"))
    view.pref_consent.setChecked(True)
    view.pref_mobile.setText("20304050")
    view.pref_save.click()
    settle(qtbot)
    settle(qtbot)
    rows = {r.visit_id: r for r in view.model.rows}
    assert rows[b].channel == "sms" and rows[b].phone == "20304050"
    # a dry run writes the SMS to a CSV and sends nothing
    app.settings.set("contact.cancel_phone", "62223000")
    out = tmp_path / "sms.csv"
    view.dry_run(str(out))
    settle(qtbot)
    assert "20304050" in out.read_text(encoding="utf-8-sig")
    assert not view.error.isVisibleTo(view), view.error.text()
    # Bent has SMS now; a citizen without a phone gets a letter, printed and marked sent
    c = add_visit(app, WED, "040450-1234", "Cecilie Carlsen", phone="")
    view.reload()
    settle(qtbot)
    view.reminder_letters(str(tmp_path / "breve.pdf"))
    settle(qtbot)
    settle(qtbot)
    assert (tmp_path / "breve.pdf").exists()
    assert {r.visit_id: r.status for r in view.model.rows}[c] == "sent"
    assert dialogs == []


def test_closed_day_says_so(qtbot, window, dialogs):
    view = window.show_view("contact")
    view.set_day(dt.date(2024, 4, 6))  # a Saturday
    settle(qtbot)
    assert "Lørdag" in view.summary.text() and view.model.rows == []


def test_not_reached_is_flagged_on_the_board(qtbot, window, dialogs):
    from ui.views.contact import NOT_REACHED_MARK
    from ui.views.planning import VISIT_ROLE

    app = window.app
    a = add_visit(app, WED, "010150-1234", "Anna Andersen")
    b = add_visit(app, WED, "020250-1234", "Bent Bæk", start=dt.time(11))
    app.contact.mark(a, "not_reached", TODAY)
    board = window.show_view("planning")
    board.set_period(WED, 1)
    settle(qtbot)
    settle(qtbot)
    texts = {}
    for card in board.cards.values():
        for i in range(card.stops.count()):
            item = card.stops.item(i)
            texts[item.data(VISIT_ROLE)] = (item.text(), item.toolTip())
    assert texts[a][0].startswith(NOT_REACHED_MARK) and "ikke nået" in texts[a][1]
    assert not texts[b][0].startswith(NOT_REACHED_MARK)
