"""Planlægning, Fakturering, Opfølgning, Indstillinger and the window: their main paths."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from PySide6.QtCore import QSettings

from tests.factories import request_values
from tests.ui.conftest import make_window, settle

DAY = dt.date(2024, 3, 12)  # a Tuesday


def _requests(app, n=4):
    towns = [("Vestergade 3", "5700", "Svendborg", "479", 55.06, 10.61),
             ("Østergade 9", "5600", "Faaborg", "430", 55.095, 10.24),
             ("Skovvej 1", "5700", "Svendborg", "479", 55.07, 10.58),
             ("Strandvejen 4", "5762", "Vester Skerninge", "479", 55.074, 10.452)]
    ids = []
    for i, (addr, pc, city, code, lat, lon) in enumerate(towns[:n]):
        ids.append(app.requests.create(request_values(
            cpr=f"0101{50 + i}-12{30 + i}", name=f"Borger {i}", address=addr, postcode=pc,
            city=city, municipality=code, received="2024-03-08", lat=str(lat), lon=str(lon)),
            today=dt.date(2024, 3, 11)))
    return ids


def test_plan_a_day_and_see_the_route(qtbot, window, dialogs):
    app = window.app
    ids = _requests(app)
    view = window.show_view("planning")
    view.time_limit_s = 1.0
    view.set_period(DAY, 1)
    settle(qtbot)
    assert sum(card.stops.count() for card in view.cards.values()) == 0
    view.optimize()
    settle(qtbot, timeout=60)
    settle(qtbot)
    assert view.last_plan is not None and not view.last_plan.unplanned
    routes = app.planning.routes(DAY, DAY)
    planned = sorted(s.request_id for r in routes for s in r.stops)
    assert planned == sorted(ids)
    # the board shows each route's stops, km and the map draws them
    for r in routes:
        card = view.cards[(r.analyst_id, DAY)]
        assert card.stops.count() == len(r.stops)
        assert f"{len(r.stops)} besøg" in card.header.text()
        assert "km" in card.header.text()
    assert len(view.map.stop_items) == len(ids)
    assert "Optimeret" in view.message.text()


def test_optimize_can_be_cancelled(qtbot, window, dialogs):
    app = window.app
    _requests(app, 4)
    view = window.show_view("planning")
    view.time_limit_s = 120.0  # far beyond the wait below: only Annullér ends it in time
    view.set_period(DAY, 3)
    settle(qtbot)
    view.optimize()
    assert not view.optimize_button.isEnabled()
    dlg = view.optimize_op._dialog  # the progress dialog: best cost so far, Annullér
    qtbot.waitUntil(lambda: "Bedste omkostning indtil nu" in dlg.labelText(), timeout=30000)
    assert "kr." in dlg.labelText()
    from PySide6.QtWidgets import QPushButton
    dlg.findChild(QPushButton).click()  # the user presses Annullér
    settle(qtbot, timeout=40)
    assert view.optimize_button.isEnabled()
    assert view.last_plan is not None and view.last_plan.status == "afbrudt"


def test_drag_to_another_analyst_is_checked_by_the_core(qtbot, window, dialogs):
    app = window.app
    _requests(app, 2)
    app.planning.plan(DAY, DAY, time_limit_s=1.0)
    view = window.show_view("planning")
    view.set_period(DAY, 1)
    settle(qtbot)
    route = app.planning.routes(DAY, DAY)[0]
    visit = route.stops[0]
    other = next(a for a in view.analysts if a.id != route.analyst_id)
    # a drop on another analyst's card for the same day
    view.cards[(other.id, DAY)].stops.dropped.emit(visit.visit_id, other.id, DAY)
    settle(qtbot)
    settle(qtbot)
    assert view.last_move is not None
    moved_to = {s.visit_id: r.analyst_id for r in app.planning.routes(DAY, DAY)
                for s in r.stops}
    if view.last_move.ok:
        assert moved_to[visit.visit_id] == other.id
        assert "flyttet" in view.message.text()
    else:
        assert moved_to[visit.visit_id] == route.analyst_id
        assert view.last_move.problems[0] in view.message.text()
    # to a Sunday: never allowed, nothing written, the reason shown
    sunday = dt.date(2024, 3, 17)
    view.move_visit(visit.visit_id, other.id, sunday)
    settle(qtbot)
    assert view.last_move.ok is False and view.last_move.problems
    assert "kan ikke flyttes" in view.message.text()


def test_lock_and_unlock_a_visit(qtbot, window):
    app = window.app
    _requests(app, 1)
    app.planning.plan(DAY, DAY, time_limit_s=1.0)
    view = window.show_view("planning")
    view.set_period(DAY, 1)
    settle(qtbot)
    route = app.planning.routes(DAY, DAY)[0]
    card = view.cards[(route.analyst_id, DAY)]
    card.stops.setCurrentRow(0)
    view.set_locked(True)
    settle(qtbot)
    settle(qtbot)
    assert app.planning.routes(DAY, DAY)[0].stops[0].locked
    card = view.cards[(route.analyst_id, DAY)]
    from ui.views.planning import LOCKED_ROLE
    assert card.stops.item(0).data(LOCKED_ROLE) is True
    card.stops.setCurrentRow(0)
    view.set_locked(False)
    settle(qtbot)
    assert not app.planning.routes(DAY, DAY)[0].stops[0].locked


def test_run_a_month_and_see_the_core_total(qtbot, window, dialogs):
    from tests.test_invoice_fixtures import add_route, set_2020_rates

    app = window.app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(standalone=s) for s in ("5", "6", "7", "8", "9")],
              km="40.3")
    add_route(app, dt.date(2020, 3, 11), [dict(standalone="4")] * 5, km="44.0")
    view = window.show_view("billing")
    settle(qtbot)
    view.set_month("2020-03")
    settle(qtbot)
    bill = view.bill_for(479)
    assert bill is not None and bill.total == Decimal("2205.53")  # docs/domain.md's worked example
    assert "2.205,53" in view.status.text()
    lines = [view.line_model.index(r, 3).data() for r in range(view.line_model.rowCount())]
    assert any("1.473,80" in x for x in lines)
    view.run_month()
    settle(qtbot)
    settle(qtbot)
    (inv,) = view.invoices
    assert inv.status == "draft" and inv.total == Decimal("2205.53")
    settle(qtbot)
    assert view.preview.data.startswith(b"%PDF")
    qtbot.waitUntil(lambda: view.preview.page_count() >= 1, timeout=5000)
    # what the finance officer sees: the page drawn, not a white sheet (QPdfView's threaded
    # renderer left it white inside the window)
    img = view.preview.grab().toImage()
    w, h = img.width(), img.height()
    assert any(img.pixelColor(x, y).lightness() < 100
               for x in range(0, w, 3) for y in range(0, h // 2, 3))
    assert view.issue_button.isEnabled() and not view.credit_button.isEnabled()
    view.ask = lambda *_a: True  # "Udsted fakturaen til Svendborg …?" – yes
    view.issue()
    settle(qtbot)
    settle(qtbot)
    (inv,) = view.invoices
    assert inv.status == "issued" and inv.number is not None
    settle(qtbot)
    assert view.credit_button.isEnabled()
    view.credit("Forkert antal km")
    settle(qtbot)
    settle(qtbot)
    kinds = sorted(i.kind for i in view.invoices)
    assert kinds == ["credit_note", "invoice"]
    credit = next(i for i in view.invoices if i.kind == "credit_note")
    assert credit.total == Decimal("2205.53")  # the credited amount, as the core stores it
    assert credit.credits_invoice_id == inv.id


def test_export_einvoice(qtbot, window, tmp_path, dialogs):
    from tests.test_invoice_fixtures import add_route, set_2020_rates

    app = window.app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(standalone="5")], km="10")
    (draft,) = app.billing.run("2020-03")
    app.billing.issue(draft.id)  # a draft is never exported as an e-invoice
    view = window.show_view("billing")
    view.set_month("2020-03")
    settle(qtbot)
    settle(qtbot)
    path = tmp_path / "faktura.xml"
    view.export_einvoice(str(path))
    settle(qtbot)
    assert b"<Invoice" in path.read_bytes() or b":Invoice" in path.read_bytes()


def test_followup_counts_and_chart(qtbot, window, tmp_path, dialogs):
    app = window.app
    _requests(app, 3)
    view = window.show_view("followup")
    view.year.setValue(2024)
    settle(qtbot)
    data = view.stats_data
    assert data.total.requests_received == 3
    rows = {view.model.index(r, 0).data(): r for r in range(view.model.rowCount())}
    svendborg = rows["Svendborg (479)"]
    assert view.model.index(svendborg, 3).data() == "2"  # March
    assert view.model.index(svendborg, 13).data() == "2"  # the year
    assert len(view.chart.series()) == 1 and view.chart.series()[0].count() == len(rows)
    out = tmp_path / "opf.csv"
    view.export("csv", str(out))
    settle(qtbot)
    assert "Svendborg" in out.read_text("utf-8-sig")


def test_settings_edit_municipality_ean_with_error_at_the_field(qtbot, window):
    view = window.show_view("settings")
    settle(qtbot)
    page = view.pages["municipalities"]
    proxy = page.table.model()
    row = next(r for r in range(proxy.rowCount()) if proxy.index(r, 0).data() == "461")
    page.table.selectRow(row)
    page.edit(page.current())
    dlg = page.dialog
    dlg.set_text("ean", "12ab")
    dlg.save()
    settle(qtbot)
    assert dlg.isVisible() and "13 cifre" in dlg.field_error("ean")
    dlg.set_text("ean", "5798000000125")  # a wrong GS1 check digit
    dlg.save()
    settle(qtbot)
    assert dlg.isVisible() and "kontrolciffer" in dlg.field_error("ean")
    dlg.set_text("ean", "5798000000124")
    dlg.save()
    settle(qtbot)
    settle(qtbot)
    assert not dlg.isVisible()
    odense = next(m for m in window.app.admin.list_municipalities() if m.code == 461)
    assert odense.ean == "5798000000124"


def test_settings_wage_index_changes_the_year_rate(qtbot, window):
    view = window.show_view("settings")
    settle(qtbot)
    page = view.pages["rates"]
    page.set_wage()
    dlg = page.dialog
    dlg.set_text("year", "2021")
    dlg.set_text("percent", "2,0")
    dlg.set_text("source", "test")
    dlg.save()
    settle(qtbot)
    settle(qtbot)
    years = {r.year: r for r in page.year_model.rows}
    assert years[2021].per_referral.startswith("150,33")  # docs/domain.md's indexation example
    assert years[2022].per_referral == "mangler"


def test_layout_is_remembered(qtbot, department_app, qsettings, dialogs):
    w = make_window(qtbot, department_app, qsettings)
    w.show_view("billing")
    w.resize(1290, 800)
    qtbot.wait(50)
    size = w.size()
    assert size.width() != 1360  # not the default
    w.close()
    qsettings.sync()
    w2 = make_window(qtbot, department_app, QSettings(qsettings.fileName(),
                                                      QSettings.Format.IniFormat))
    assert w2.current_key() == "billing"
    # the stored geometry was applied (the offscreen screen clamps it to its own size)
    assert qsettings.value("main/geometry") is not None
    assert w2.size().width() != 1360 and w2.size().height() != 860


def test_unexpected_error_in_background_is_shown_and_logged(qtbot, window, dialogs, caplog):
    from ui.ops import Op

    def boom():
        raise RuntimeError("noget gik galt")

    Op(window, boom).run_in_background()
    settle(qtbot)
    assert dialogs and dialogs[-1][0] == "Uventet fejl" and "noget gik galt" in dialogs[-1][1]
    assert "noget gik galt" in caplog.text


def test_close_a_day(qtbot, window, dialogs):
    from tests.test_invoice_fixtures import add_route

    app = window.app
    day = dt.date(2024, 3, 20)
    rid = add_route(app, day, [dict(outcome=None), dict(outcome=None)], planned_km="42.5",
                    closed=False)
    view = window.show_view("day_close")
    view.set_day(day)
    settle(qtbot)
    assert "Mangler" in view.summary.text() and "2 besøg uden udfald" in view.summary.text()
    assert view.model.index(0, 1).data() == "Mangler km og 2 udfald"
    assert view.route.route_id == rid
    view.km.setText("47,3")
    view.ferry.setText("0")
    view.visits.cellWidget(0, 3).setCurrentIndex(view.visits.cellWidget(0, 3).findData("taken"))
    view.visits.cellWidget(1, 3).setCurrentIndex(
        view.visits.cellWidget(1, 3).findData("not_home"))
    view.save()
    settle(qtbot)
    settle(qtbot)
    status = app.day_close.status(day)
    assert status.missing == []
    (route,) = app.planning.routes(day, day)
    assert route.driven_km == Decimal("47.3") and route.closed
    assert [s.outcome for s in route.stops] == ["taken", "not_home"]
    assert "Alt er registreret" in view.summary.text()
    assert view.model.index(0, 1).data() == "Afsluttet"


def test_day_close_refuses_bad_km_at_the_field(qtbot, window, dialogs):
    from tests.test_invoice_fixtures import add_route

    app = window.app
    day = dt.date(2024, 3, 20)
    add_route(app, day, [dict(outcome=None)], planned_km="10", closed=False)
    view = window.show_view("day_close")
    view.set_day(day)
    settle(qtbot)
    view.km.setText("ti")
    view.save()
    settle(qtbot)
    assert "kørt km" in view.error.text()
    assert app.planning.routes(day, day)[0].driven_km is None


def test_day_close_refused_by_the_service_saves_no_outcome(qtbot, window, dialogs):
    """All or nothing: km the service refuses (over 2000) keeps the outcomes unsaved too."""
    from tests.test_invoice_fixtures import add_route

    app = window.app
    day = dt.date(2024, 3, 20)
    add_route(app, day, [dict(outcome=None), dict(outcome=None)], planned_km="10",
              closed=False)
    view = window.show_view("day_close")
    view.set_day(day)
    settle(qtbot)
    view.km.setText("2500")
    view._all_taken()
    view.save()
    settle(qtbot)
    assert "km" in view.error.text() and "2000" in view.error.text()
    assert not dialogs
    (route,) = app.planning.routes(day, day)
    assert route.driven_km is None and not route.closed
    assert [s.outcome for s in route.stops] == [None, None]
    assert len(app.day_close.status(day).missing) == 3
    view.km.setText("12,5")
    view.save()
    settle(qtbot)
    settle(qtbot)
    (route,) = app.planning.routes(day, day)
    assert route.driven_km == Decimal("12.5") and route.closed
    assert [s.outcome for s in route.stops] == ["taken", "taken"]


def test_print_route_sheets_letters_and_replies(qtbot, window, dialogs, tmp_path):
    app = window.app
    _requests(app, 2)
    app.planning.plan(DAY, DAY, time_limit_s=1.0)
    view = window.show_view("planning")
    view.set_period(DAY, 1)
    settle(qtbot)
    view.print_documents("route_sheets")
    settle(qtbot)
    dlg = view.document_dialog
    n_routes = len(app.planning.routes(DAY, DAY))
    assert dlg.tabs.count() == n_routes
    assert all(data.startswith(b"%PDF") for _t, _f, data in dlg.documents)
    dlg.save_pdf(str(tmp_path / "rute.pdf"))
    assert (tmp_path / "rute.pdf").read_bytes().startswith(b"%PDF")
    dlg.close()
    view.print_documents("letters")
    settle(qtbot)
    assert view.document_dialog.documents[0][2].startswith(b"%PDF")
    view.document_dialog.close()
    view.reply_folder = str(tmp_path / "svar")
    view.send_replies()
    settle(qtbot)
    settle(qtbot)
    assert len(view.last_replies) == 2
    assert {p.suffix for p in (tmp_path / "svar").iterdir()} == {".csv", ".pdf"}
    assert all(s.locked for r in app.planning.routes(DAY, DAY) for s in r.stops)
    assert view.document_dialog.documents[0][2].startswith(b"%PDF")


def test_settings_new_absence_is_saved_and_listed(qtbot, window):
    view = window.show_view("settings")
    settle(qtbot)
    page = view.pages["bioanalysts"]
    page.new_absence()
    dlg = page.dialog
    from PySide6.QtCore import QDate
    dlg.edits["start"].setDate(QDate(2024, 4, 15))
    dlg.edits["end"].setDate(QDate(2024, 4, 12))
    dlg.save()
    settle(qtbot)
    assert dlg.isVisible()  # end before start: refused, nothing written
    assert window.app.admin.list_absences() == []
    dlg.edits["end"].setDate(QDate(2024, 4, 17))
    dlg.edits["reason"].setText("Kursus")
    dlg.save()
    settle(qtbot)
    settle(qtbot)
    (absence,) = window.app.admin.list_absences()
    assert (absence.start, absence.end, absence.reason) == (dt.date(2024, 4, 15),
                                                            dt.date(2024, 4, 17), "Kursus")
    assert page.absence_model.rowCount() == 1


def test_demo_data_is_marked_in_the_title_and_status_bar(qtbot, demo_window, window):
    """A database filled by ``hjemmeprove demo`` says so; a department's own does not."""
    assert "DEMODATA" in demo_window.windowTitle()
    assert demo_window.demo_mark.isVisible()
    assert "DEMODATA" not in window.windowTitle()
    assert not window.demo_mark.isVisible()


def test_settings_options_show_distance_sources_by_their_labels(qtbot, window):
    from PySide6.QtWidgets import QComboBox

    from hjemmeprove.domain import labels

    view = window.show_view("settings")
    settle(qtbot)
    page = view.pages["options"]
    combo = page.edits["distance.source"]
    assert isinstance(combo, QComboBox)
    shown = [combo.itemText(i) for i in range(combo.count())]
    assert shown == [labels.DISTANCE_SOURCE[c] for c in labels.DISTANCE_SOURCES]
    assert combo.currentData() == "estimate"
    assert "demo.data" not in page.edits  # kept by the program, not edited here
    # the fields take the options' own bounds: a detour factor of 0 or a first invoice
    # number above 100.000 was offered where the program refuses or needs it
    detour, first = page.edits["distance.detour_factor"], page.edits["invoice.first_number"]
    assert (detour.minimum(), detour.maximum()) == (1, 3)
    assert (first.minimum(), first.maximum()) == (1, 999_999_999)


def test_a_bug_in_a_route_sheet_is_shown_not_replaced_by_another_document(
        qtbot, window, dialogs, monkeypatch):
    """An AttributeError while rendering used to switch silently to an HTML copy."""
    from hjemmeprove.documents import route_sheet

    app = window.app
    _requests(app, 2)
    app.planning.plan(DAY, DAY, time_limit_s=1.0)
    view = window.show_view("planning")
    view.set_period(DAY, 1)
    settle(qtbot)

    def broken(*_a, **_k):
        raise AttributeError("'RouteSheet' object has no attribute 'lab'")

    monkeypatch.setattr(route_sheet, "render", broken)
    view.print_documents("route_sheets")
    settle(qtbot)
    assert getattr(view, "document_dialog", None) is None
    assert dialogs and "lab" in " ".join(text for _t, text in dialogs)
