"""The working day's polish (issue 13): tables sort by value, forms ask before throwing input
away, sensible defaults, questions for unusual figures, a distance source tried when saved,
undo of a cancellation, and the history in the screen's words."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from tests.factories import request_values
from tests.ui.conftest import settle

# --- tables sort by value --------------------------------------------------------------------


def _sorted_texts(columns, rows, header: str, order=Qt.SortOrder.AscendingOrder):
    from ui.models.table import RowTableModel
    from ui.widgets import SortProxy

    model = RowTableModel(columns, rows)
    proxy = SortProxy(model)
    col = [c.header for c in columns].index(header)
    proxy.sort(col, order)
    return [proxy.index(r, col).data().replace("\xa0", " ") for r in range(proxy.rowCount())]


def test_money_columns_sort_by_amount_not_text(qapp):
    from ui.views.billing import INVOICE_COLUMNS, LINE_COLUMNS

    lines = [SimpleNamespace(text=t, quantity=Decimal(q), unit="stk.", rate=Decimal(r),
                             amount=Decimal(a))
             for t, q, r, a in (("A", "3", "9.50", "1234.50"), ("B", "12", "150.33", "98.00"),
                                ("C", "2", "1000.00", "20000.00"))]
    assert _sorted_texts(LINE_COLUMNS, lines, "Beløb") == \
        ["98,00 kr.", "1.234,50 kr.", "20.000,00 kr."]
    assert _sorted_texts(LINE_COLUMNS, lines, "Beløb", Qt.SortOrder.DescendingOrder) == \
        ["20.000,00 kr.", "1.234,50 kr.", "98,00 kr."]
    assert _sorted_texts(LINE_COLUMNS, lines, "Sats") == ["9,50", "150,33", "1.000,00"]
    invoices = [SimpleNamespace(number=n, kind="invoice", municipality_name="X", status="issued",
                                fully_credited=False, credited_by_id=None, issue_date=d,
                                due_date=d + dt.timedelta(days=30), total=Decimal(t))
                for n, d, t in ((1, dt.date(2024, 2, 5), "900"), (2, dt.date(2023, 12, 28), "80"),
                                (3, dt.date(2024, 1, 15), "10000"))]
    # dd.mm.åååå as text would put 05.02.2024 first
    assert _sorted_texts(INVOICE_COLUMNS, invoices, "Udstedt") == \
        ["28.12.2023", "15.01.2024", "05.02.2024"]
    assert _sorted_texts(INVOICE_COLUMNS, invoices, "I alt")[0].startswith("80,00")


def test_every_table_uses_the_value_sort_proxy(qtbot, window):
    """One proxy for every table (the request list sorts in the service, page by page)."""
    from PySide6.QtWidgets import QTableView

    from ui.widgets import SortProxy

    for key, view in window.views.items():
        for table in view.findChildren(QTableView):
            if key == "requests" and table is view.table:
                continue
            if type(table).__name__ == "QTableWidget" or not table.isSortingEnabled():
                continue
            assert isinstance(table.model(), SortProxy), (key, table.model())


# --- forms ------------------------------------------------------------------------------------


def test_new_request_defaults_to_a_municipality_with_an_agreement(qtbot, window):
    view = window.views["requests"]
    view.new_request()
    combo = view.form.edits["municipality"]
    with_agreement = {a.municipality_id for a in window.app.admin.list_agreements()}
    codes = {m.code for m in window.app.admin.list_municipalities() if m.id in with_agreement}
    assert combo.currentData() in codes  # department_app: 430, 479 or 492; never Middelfart
    assert combo.currentData() == min(codes)
    middelfart = combo.findData(410)
    if middelfart >= 0:
        assert "ingen aftale" in combo.itemText(middelfart)
    view.form.reject()


def test_escape_on_a_changed_form_asks_before_throwing_it_away(qtbot, window):
    view = window.views["requests"]
    view.new_request()
    form = view.form
    asked = []
    form.ask_discard = lambda: asked.append(1) or False  # "Fortsæt redigering"
    qtbot.keyClick(form, Qt.Key.Key_Escape)  # unchanged: closes without a question
    assert not form.isVisible() and asked == []

    view.new_request()
    form = view.form
    form.ask_discard = lambda: asked.append(1) or False
    form.edits["name"].setText("Karen Jensen")
    qtbot.keyClick(form, Qt.Key.Key_Escape)
    assert asked == [1] and form.isVisible()  # kept, with what was typed
    assert form.edits["name"].text() == "Karen Jensen"
    form.close()  # closing the window asks too
    assert asked == [1, 1] and form.isVisible()
    form.ask_discard = lambda: asked.append(1) or True  # "Kassér ændringerne"
    qtbot.keyClick(form, Qt.Key.Key_Escape)
    assert asked == [1, 1, 1] and not form.isVisible()
    assert window.app.requests.count() == 0


def test_escape_on_a_changed_settings_dialog_asks(qtbot, window):
    view = window.show_view("settings")
    settle(qtbot)
    page = view.pages["rates"]
    page.set_wage()
    dlg = page.dialog
    asked = []
    dlg.ask_discard = lambda: asked.append(1) or False
    dlg.set_text("percent", "3,1")
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert asked == [1] and dlg.isVisible()


@pytest.mark.parametrize("percent, source, asks", [
    ("35", "", ["35,00 %", "ingen kilde"]),
    ("35", "KL 2021", ["35,00 %"]),
    ("-1", "KL 2021", ["-1,00 %"]),
    ("2,0", "", ["ingen kilde"]),
    ("2,0", "KL 2021", []),
])
def test_an_unusual_wage_index_asks_before_saving(qtbot, window, percent, source, asks):
    view = window.show_view("settings")
    settle(qtbot)
    page = view.pages["rates"]
    page.set_wage()
    dlg = page.dialog
    questions = []
    dlg.ask_confirm = lambda text: questions.append(text) or False  # "Nej, ret"
    dlg.set_text("year", "2021")
    dlg.set_text("percent", percent)
    dlg.set_text("source", source)
    dlg.save()
    settle(qtbot)
    if asks:
        assert len(questions) == 1 and all(a in questions[0] for a in asks), questions
        assert dlg.isVisible() and 2021 not in window.app.rates.table().wages
        dlg.ask_confirm = lambda text: True  # "Ja, gem"
        dlg.save()
        settle(qtbot)
    else:
        assert questions == []
    assert not dlg.isVisible()
    assert 2021 in window.app.rates.table().wages


# --- a distance source is tried when saved -------------------------------------------------


class _FakeOsrm(BaseHTTPRequestHandler):
    mode = "ok"
    paths: list = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).paths.append(self.path)
        if self.mode == "error":
            self.send_response(500)
            self.end_headers()
            return
        body = ({"code": "Ok", "distances": [[0, 1500.0], [1500.0, 0]],
                 "durations": [[0, 120.0], [120.0, 0]]} if self.mode == "ok"
                else {"hello": "not osrm"})
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args):
        pass


@pytest.fixture
def fake_osrm():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOsrm)
    _FakeOsrm.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _FakeOsrm
    server.shutdown()
    server.server_close()


def _save_options(qtbot, page, source: str, url: str) -> None:
    combo = page.edits["distance.source"]
    combo.setCurrentIndex(combo.findData(source))
    page.edits["distance.url"].setText(url)
    page.save()
    settle(qtbot)


def test_a_road_engine_is_tried_before_it_is_saved(qtbot, window, dialogs, fake_osrm,
                                                   monkeypatch):
    from ui.views.settings import options

    monkeypatch.setattr(options, "PROBE_TIMEOUT_S", 2.0)
    url, handler = fake_osrm
    settings = window.app.settings
    view = window.show_view("settings")
    settle(qtbot)
    page = view.pages["options"]

    _save_options(qtbot, page, "osrm", "")  # no address
    assert "skal udfyldes" in page.error.text() and "Adresse på egen rutemaskine" in \
        page.error.text()
    assert settings.get("distance.source") == "estimate" and handler.paths == []

    handler.mode = "error"
    _save_options(qtbot, page, "osrm", url)
    assert "svarede ikke" in page.error.text() and "intet er gemt" in page.error.text()
    assert settings.get("distance.source") == "estimate"

    handler.mode = "not a matrix"
    _save_options(qtbot, page, "osrm", url)
    assert "intet er gemt" in page.error.text(), page.error.text()
    assert settings.get("distance.source") == "estimate"

    handler.mode = "ok"
    _save_options(qtbot, page, "osrm", url)
    assert page.error.text() == ""
    assert (settings.get("distance.source"), settings.get("distance.url")) == ("osrm", url)
    assert handler.paths and handler.paths[-1].startswith("/table/v1/driving/")


def test_choices_are_named_by_label_in_errors(app):
    from hjemmeprove.errors import ValidationError

    with pytest.raises(ValidationError) as e:
        app.settings.set("distance.source", "google")
    assert "Indbygget skøn (offline) (estimate)" in str(e.value)


# --- undo of a cancellation, history in Danish -------------------------------------------


def test_undo_of_a_cancellation_in_the_requests_view(qtbot, window, dialogs):
    app = window.app
    rid = app.requests.create(request_values(received="2024-03-27"), today=dt.date(2024, 4, 2))
    app.requests.cancel(rid, dt.datetime(2024, 4, 1, 9, 0), "Hjemmeplejen", "electronic",
                        now=dt.datetime(2024, 4, 1, 10, 0))
    view = window.show_view("requests")
    view.status.setCurrentIndex(view.status.findData("cancelled"))
    settle(qtbot)
    view.select_request(rid)
    settle(qtbot)
    assert view.uncancel_button.isEnabled() and not view.cancel_button.isEnabled()
    view.uncancel_request()
    settle(qtbot)
    settle(qtbot)
    assert app.requests.get(rid).status == "open"
    message = window.statusBar().currentMessage()
    assert f"Aflysningen af henvisning {rid} er fortrudt" in message, message
    assert not dialogs
    # the history says so, in Danish
    view.status.setCurrentIndex(view.status.findData(None))
    settle(qtbot)
    view.select_request(rid)
    settle(qtbot)
    assert not view.uncancel_button.isEnabled()
    view.show_history()
    settle(qtbot)
    model = view.history_dialog.model
    whats = [model.index(r, 2).data() for r in range(model.rowCount())]
    changes = "\n".join(model.index(r, 3).data() for r in range(model.rowCount()))
    assert "Aflysning oprettet" in whats and "Aflysning fortrudt" in whats
    assert "Status: Åben → Aflyst" in changes and "Status: Aflyst → Åben" in changes
    assert "Kanal: Elektronisk" in changes and "Modtaget: 27.03.2024" in changes
    for raw in ("status:", "open", "cancelled", "agreement_id", "2024-03-27", "electronic"):
        assert raw not in changes, (raw, changes)


def test_a_refused_undo_says_why(qtbot, window, dialogs):
    from hjemmeprove.db.models import Request, Visit

    app = window.app
    rid = app.requests.create(request_values(received="2024-03-04"), today=dt.date(2024, 3, 11))
    with app.store.session() as s:
        s.add(Visit(request_id=rid, date=dt.date(2024, 3, 12), window_start=dt.time(9, 0),
                    window_end=dt.time(11, 0), locked=True))
        s.get(Request, rid).status = "locked"
    app.requests.cancel(rid, dt.datetime(2024, 3, 11, 16, 0), "X", "telephone",
                        now=dt.datetime(2024, 3, 11, 17, 0))  # late; the day (12.03) has passed
    view = window.show_view("requests")
    view.status.setCurrentIndex(view.status.findData("cancelled"))
    settle(qtbot)
    view.select_request(rid)
    settle(qtbot)
    view.uncancel_request()
    settle(qtbot)
    assert app.requests.get(rid).status == "cancelled"
    assert dialogs and "besøgsdagen 12.03.2024 er passeret" in dialogs[-1][1], dialogs


def test_billable_outcomes_are_chosen_by_label_not_typed_as_codes(qtbot, window):
    from PySide6.QtWidgets import QCheckBox

    view = window.show_view("settings")
    settle(qtbot)
    page = view.pages["agreements"]
    agreement = window.app.admin.list_agreements()[0]
    page.edit(agreement)
    dlg = page.dialog
    boxes = {b.text(): b for b in dlg.edits["billable_outcomes"].findChildren(QCheckBox)}
    assert set(boxes) == {"Taget", "Ikke hjemme", "Afvist/ikke muligt", "Sent aflyst"}
    assert boxes["Taget"].isChecked() and not boxes["Sent aflyst"].isChecked()
    boxes["Sent aflyst"].setChecked(True)
    dlg.save()
    settle(qtbot)
    settle(qtbot)
    assert not dlg.isVisible(), dlg.summary.text()
    saved = next(a for a in window.app.admin.list_agreements() if a.id == agreement.id)
    assert set(saved.billable_outcomes.split(",")) == {"taken", "cancelled_late"}


def test_an_agreement_without_billable_outcomes_is_named_by_label(qtbot, window):
    from PySide6.QtWidgets import QCheckBox

    view = window.show_view("settings")
    settle(qtbot)
    page = view.pages["agreements"]
    page.edit(window.app.admin.list_agreements()[0])
    dlg = page.dialog
    for box in dlg.edits["billable_outcomes"].findChildren(QCheckBox):
        box.setChecked(False)
    dlg.save()
    settle(qtbot)
    text = dlg.field_error("billable_outcomes")
    assert dlg.isVisible() and "Vælg mindst ét af taget (taken)" in text, text


def test_every_view_fits_a_small_laptop_screen(qtbot, demo_window):
    """A 1366×768 laptop at 125 % scaling gives about 1093×574 free pixels: with every view
    built (the demo's data in them) the window must fit, and its first size must not reach
    past the screen (before: 1360×860 with a 1,252-pixel minimum from the request list's one
    filter row, 942 from the contact list's day summary)."""
    from PySide6.QtWidgets import QApplication

    from tests.ui.conftest import settle
    from ui.main import apply_style
    from ui.mainwindow import NAV

    # in the program's own style and font (what users see), whichever test ran before:
    # DejaVu Sans 10 made the billing view's notes taller than the default font did
    qapp = QApplication.instance()
    kept = (qapp.style().name(), qapp.font(), qapp.styleSheet())
    apply_style(qapp)
    try:
        w = demo_window
        free = w.screen().availableGeometry()
        assert w.height() <= free.height()
        for row in range(len(NAV)):
            w.nav.setCurrentRow(row)
            settle(qtbot)
        assert len(w.views.built()) == len(NAV)
        settle(qtbot)
        need = w.minimumSizeHint()
        assert need.width() <= 1093 and need.height() <= 574, need
    finally:
        qapp.setStyle(kept[0])
        qapp.setFont(kept[1])
        qapp.setStyleSheet(kept[2])
