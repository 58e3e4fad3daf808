"""The monthly run on the demo data (routes and outcomes from the planner's demo history)."""

from decimal import Decimal as D

import pytest

from hjemmeprove.documents.einvoice import check_danish_rules, validate


def test_demo_month_bills_every_municipality_with_valid_files(demo_app, tmp_path):
    preview = demo_app.billing.preview("2026-10")
    if not preview:
        pytest.skip("demo data has no routes for 2026-10")
    # the demo's day whose Ærø visit was cancelled after its ferry minutes were recorded: the
    # minutes are a problem to resolve, never spread over the mainland visits
    _correct_unexplained_ferry(demo_app, "2026-10")
    preview = demo_app.billing.preview("2026-10")
    assert all(b.complete for b in preview), [b.problems for b in preview]
    results = demo_app.billing.run("2026-10", tmp_path, issue=True)
    assert [r.number for r in results] == list(range(1, len(results) + 1))
    for r, b in zip(results, preview):
        assert r.total == b.total == sum((ln.amount for ln in r.lines), D(0))
        xml = open(r.files["oioubl"], "rb").read()
        assert validate(xml) == [] and check_danish_rules(xml) == []
        assert open(r.files["statement_pdf"], "rb").read(5) == b"%PDF-"
    # example wage percentages are labelled as such on the statement
    csv_text = open(results[0].files["statement_csv"], encoding="utf-8-sig").read()
    assert "EKSEMPEL" in csv_text
    assert demo_app.billing.run("2026-10") == []  # nothing billed twice


def _correct_unexplained_ferry(app, month):
    import datetime as dt

    from sqlalchemy import select

    from hjemmeprove.db.models import Route

    first = dt.date.fromisoformat(month + "-01")
    with app.store.session() as s:
        routes = [(r.id, r.driven_km, r.driven_ferry_minutes) for r in s.scalars(
            select(Route).where(Route.date >= first, Route.date < first + dt.timedelta(days=31)))]
    corrected = 0
    for route_id, km, ferry in routes:
        extra = app.day_close.unexplained_ferry(route_id)
        if extra:
            app.day_close.record_route(route_id, km, ferry - extra)
            corrected += 1
    assert corrected >= 1
