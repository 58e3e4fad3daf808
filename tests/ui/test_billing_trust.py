"""The billing and day-close views after issue 9: issuing asks first (municipality, lines,
amount), "Udsted alle", the issued invoice stays selected, a draft is never exported as an
e-invoice, duplicates are decided in the view, far-off km are questioned."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal


from hjemmeprove.db.models import Request, Visit
from tests.test_invoice_fixtures import add_route, set_2020_rates, visits_of
from tests.ui.conftest import settle

MARCH = "2020-03"


def _two_municipalities(app):
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(code=479), dict(code=492)], km="40")
    app.billing.run(MARCH)


def _billing(qtbot, window):
    view = window.show_view("billing")
    settle(qtbot)
    view.set_month(MARCH)
    settle(qtbot)
    settle(qtbot)
    return view


def test_issuing_asks_naming_municipality_lines_and_amount_and_keeps_the_selection(
        qtbot, window, dialogs):
    app = window.app
    _two_municipalities(app)
    view = _billing(qtbot, window)
    aero = next(i for i in view.invoices if i.municipality_code == 492)
    view.select_invoice(aero.id)
    asked = []
    view.ask = lambda _title, text: (asked.append(text), False)[1]
    view.issue()
    settle(qtbot)
    assert "Ærø" in asked[0] and f"{len(aero.lines)} linjer" in asked[0]
    assert "kr" in asked[0] and app.billing.get(aero.id).status == "draft"
    view.ask = lambda *_a: True
    view.issue()
    settle(qtbot)
    settle(qtbot)
    settle(qtbot)
    assert app.billing.get(aero.id).status == "issued"
    current = view.current_invoice()
    assert current is not None and current.id == aero.id and current.status == "issued"
    assert view.export_button.isEnabled()


def test_issue_all_issues_every_draft_of_the_month(qtbot, window, dialogs):
    app = window.app
    _two_municipalities(app)
    view = _billing(qtbot, window)
    assert view.issue_all_button.isEnabled()
    asked = []
    view.ask = lambda _title, text: (asked.append(text), True)[1]
    view.issue_all()
    settle(qtbot)
    settle(qtbot)
    assert "2 fakturaer" in asked[0]
    assert sorted(i.number for i in app.billing.list_invoices(MARCH)) == [1, 2]
    settle(qtbot)
    assert not view.issue_all_button.isEnabled()


def test_a_draft_is_not_exported_as_an_einvoice(qtbot, window, dialogs, tmp_path):
    app = window.app
    _two_municipalities(app)
    view = _billing(qtbot, window)
    assert view.current_invoice().status == "draft"
    assert not view.export_button.isEnabled()
    path = tmp_path / "kladde.xml"
    view.export_einvoice(str(path))
    settle(qtbot)
    assert not path.exists()
    assert dialogs and "kladde" in dialogs[-1][1]


def test_a_duplicate_is_shown_and_decided_in_the_view(qtbot, window, dialogs):
    app = window.app
    set_2020_rates(app)
    rid = add_route(app, dt.date(2020, 3, 10), [dict(code=479, name="Karen Jensen"),
                                                dict(code=479)], km="30")
    a, b = (v.id for v in visits_of(app, rid))
    with app.store.session() as s:
        va, vb = s.get(Visit, a), s.get(Visit, b)
        s.get(Request, vb.request_id).citizen_id = s.get(Request, va.request_id).citizen_id
    view = _billing(qtbot, window)
    assert "Dublet: Karen Jensen" in view.notes.text()
    assert view.duplicate_button.isEnabled()
    assert view.bill_for(479).complete is False
    view.decide_duplicate("drop")
    settle(qtbot)
    settle(qtbot)
    bill = view.bill_for(479)
    assert bill.complete and bill.billable_count == 1
    assert not view.duplicate_button.isEnabled()


def test_day_close_questions_km_far_from_the_plan(qtbot, window, dialogs):
    app = window.app
    day = dt.date(2024, 3, 20)
    add_route(app, day, [dict(outcome=None)], planned_km="10", closed=False)
    view = window.show_view("day_close")
    view.set_day(day)
    settle(qtbot)
    asked = []
    view.ask = lambda _title, text: (asked.append(text), False)[1]
    view.km.setText("40")
    view._all_taken()
    view.save()
    settle(qtbot)
    assert asked and "langt fra de planlagte 10 km" in asked[0]
    assert app.planning.routes(day, day)[0].driven_km is None
    view.ask = lambda *_a: True
    view.save()
    settle(qtbot)
    settle(qtbot)
    assert app.planning.routes(day, day)[0].driven_km == Decimal("40")


def test_day_close_shows_unexplained_ferry_and_names_the_visit(qtbot, window, dialogs):
    app = window.app
    day = dt.date(2024, 3, 20)
    rid = add_route(app, day, [dict(code=479), dict(code=492)], km="50", ferry="150")
    view = window.show_view("day_close")
    view.set_day(day)
    settle(qtbot)
    assert "150 færgeminutter" in view.summary.text()
    assert view.ferry_button.isEnabled()
    vid = visits_of(app, rid)[1].id
    view.resolve_ferry(vid)
    settle(qtbot)
    settle(qtbot)
    assert app.day_close.unexplained_ferry(rid) == 0
    assert "færgeminutter" not in view.summary.text()
    assert not view.ferry_button.isEnabled()


def test_day_close_of_a_billed_route_is_refused_naming_the_invoice(qtbot, window, dialogs):
    app = window.app
    set_2020_rates(app)
    day = dt.date(2020, 3, 10)
    add_route(app, day, [dict(code=479)], km="30", planned_km="30")
    (draft,) = app.billing.run(MARCH)
    info = app.billing.issue(draft.id)
    view = window.show_view("day_close")
    view.set_day(day)
    settle(qtbot)
    view.km.setText("35")
    view.save()
    settle(qtbot)
    assert f"faktura nr. {info.number}" in view.error.text()
    assert app.planning.routes(day, day)[0].driven_km == Decimal("30")


def test_partial_credit_note_from_the_view(qtbot, window, dialogs):
    app = window.app
    set_2020_rates(app)
    rid = add_route(app, dt.date(2020, 3, 10), [dict(code=479, standalone="5"),
                                                dict(code=479, standalone="9")], km="28")
    (draft,) = app.billing.run(MARCH)
    info = app.billing.issue(draft.id)
    view = _billing(qtbot, window)
    view.select_invoice(info.id)
    vid = visits_of(app, rid)[0].id
    view.credit("ikke hjemme", visit_ids=[vid])
    settle(qtbot)
    settle(qtbot)
    (cn,) = [i for i in view.invoices if i.kind == "credit_note"]
    assert 0 < cn.total < info.total and cn.reason == "ikke hjemme"
    current = view.current_invoice()
    assert current.id == info.id and current.credited_by_id and not current.fully_credited
    assert view.credit_button.isEnabled()  # the rest can still be credited
