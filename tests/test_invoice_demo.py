"""The monthly run on the demo data (routes and outcomes from the planner's demo history)."""

from decimal import Decimal as D

import pytest

from hjemmeprove.documents.einvoice import check_danish_rules, validate


def test_demo_month_bills_every_municipality_with_valid_files(demo_app, tmp_path):
    preview = demo_app.billing.preview("2026-10")
    if not preview:
        pytest.skip("demo data has no routes for 2026-10")
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
