"""The monthly run: shares, lines, drafts, issuing, credit notes, never billing twice."""

import datetime as dt
import hashlib
import json
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from hjemmeprove.cli import main
from hjemmeprove.db.models import Invoice, InvoiceDocument, InvoiceItem, Visit
from hjemmeprove.errors import ConflictError, MissingRate
from tests.test_invoice_fixtures import add_route, set_2020_rates, visits_of

MARCH = "2020-03"


def _lines(bill):
    return {ln.code: ln for ln in bill.lines}


def _worked_example(app):
    """10 visits taken in March 2020 for Svendborg whose km shares add up to 84.3."""
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(standalone=s) for s in ("5", "6", "7", "8", "9")],
              km="40.3")
    add_route(app, dt.date(2020, 3, 11), [dict(standalone="4")] * 5, km="44.0")


def test_worked_example_through_the_run(department_app, tmp_path):
    app = department_app
    _worked_example(app)
    (bill,) = app.billing.preview(MARCH)
    lines = _lines(bill)
    assert lines["per_referral"].quantity == 10
    assert lines["transport_km"].quantity == D("84.3")
    assert [lines[c].amount for c in ("per_referral", "transport_km", "mileage")] == [
        D("1473.80"), D("434.99"), D("296.74")]
    assert "ferry" not in lines and "ekg" not in lines
    assert bill.total == D("2205.53")
    (info,) = app.billing.run(MARCH, tmp_path)
    assert info.total == D("2205.53") and info.status == "draft" and info.number is None
    assert set(info.files) == {"invoice_pdf", "statement_pdf", "statement_csv"}  # no OIOUBL: a draft is never sendable
    csv_text = (tmp_path / info.files["statement_csv"].split("/")[-1]).read_text("utf-8-sig")
    assert "2205,53" in csv_text and "enkelttur" in csv_text and "taget" in csv_text


def test_standalone_shares_are_stored_with_the_visits(department_app):
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, dt.date(2020, 3, 10), [dict(standalone="10"), dict(standalone="30")],
                    km="50")
    app.billing.run(MARCH)
    assert [v.km_share for v in visits_of(app, rid)] == [D("12.500"), D("37.500")]


def test_shared_route_across_two_municipalities_adds_up_exactly(department_app):
    app = department_app
    set_2020_rates(app)
    stops = [dict(code=479, standalone="7.1"), dict(code=430, standalone="13.3"),
             dict(code=479, standalone="9.9"), dict(code=430, standalone="22.2"),
             dict(code=479, standalone="3.3", outcome="not_home"),
             dict(code=430, standalone="40", outcome="cancelled_late")]
    rid = add_route(app, dt.date(2020, 3, 10), stops, km="77.777")
    bills = {b.municipality_code: b for b in app.billing.preview(MARCH)}
    km = {c: _lines(b)["transport_km"].quantity for c, b in bills.items()}
    assert km[479] + km[430] == D("77.777")
    assert _lines(bills[479])["per_referral"].quantity == 2  # not_home: share but no fee
    assert _lines(bills[430])["per_referral"].quantity == 2
    app.billing.run(MARCH)
    shares = {v.outcome: v.km_share for v in visits_of(app, rid)}
    assert shares["cancelled_late"] is None  # the bioanalyst did not drive there
    assert sum(v.km_share or 0 for v in visits_of(app, rid)) == D("77.777")


def test_ferry_visit_gets_the_ferry_minutes(department_app):
    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 12),
              [dict(code=479, standalone="8"),
               dict(code=492, standalone="60", ferry_link="Svendborg–Ærøskøbing")],
              km="70", ferry="150")
    bills = {b.municipality_code: b for b in app.billing.preview(MARCH)}
    assert "ferry" not in _lines(bills[479])
    ferry = _lines(bills[492])["ferry"]
    assert ferry.quantity == D("150.0") and ferry.amount == D("774.00")  # 150 × 60/60 × 5.16


def test_month_spanning_a_mileage_change(department_app):
    app = department_app
    set_2020_rates(app)
    app.rates.set_mileage(dt.date(2020, 3, 16), "3.60", "test: ændret midt i måneden")
    add_route(app, dt.date(2020, 3, 13), [dict(standalone="5")] * 2, km="20.005")
    add_route(app, dt.date(2020, 3, 16), [dict(standalone="5")] * 3, km="30.005")
    (bill,) = app.billing.preview(MARCH)
    mileage = [ln for ln in bill.lines if ln.code == "mileage"]
    assert [(m.rate, m.quantity, m.amount) for m in mileage] == [
        (D("3.52"), D("20.005"), D("70.42")), (D("3.60"), D("30.005"), D("108.02"))]
    assert len([ln for ln in bill.lines if ln.code == "transport_km"]) == 1


def test_month_with_a_missing_index_is_refused_and_nothing_written(department_app, tmp_path):
    app = department_app
    add_route(app, dt.date(2021, 3, 10), [dict(standalone="5")], km="10")
    with pytest.raises(MissingRate) as e:
        app.billing.run("2021-03", tmp_path / "out")
    assert e.value.when == 2021 and "fremskrivningsprocent" in str(e.value)
    assert not (tmp_path / "out").exists()
    with app.store.session() as s:
        assert s.scalar(select(Invoice.id)) is None
    assert main(["--db", app.store.url, "invoice", "run", "--month", "2021-03",
                 "--out", str(tmp_path / "cli")]) == 2


def test_unrecorded_outcomes_are_not_billed_yet_and_planned_km_is_marked(department_app):
    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(standalone="5"), dict(standalone="5",
                                                                      outcome=None)],
              planned_km="12", closed=False)
    (bill,) = app.billing.preview(MARCH)
    assert len(bill.items) == 1 and len(bill.missing) == 1
    assert bill.items[0].km_planned and bill.items[0].km_share == D("6.000")
    assert bill.planned_km
    assert any(k == "Mangler udfald" for k, _ in bill.settings)


def test_ekg_billed_for_taken_visits_with_ekg_when_agreed(department_app):
    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10),
              [dict(code=479, ekg=True), dict(code=479, ekg=True, outcome="not_home"),
               dict(code=430, ekg=True)], km="30")
    bills = {b.municipality_code: b for b in app.billing.preview(MARCH)}
    assert _lines(bills[479])["ekg"].quantity == 1  # not at home: no EKG
    assert _lines(bills[479])["ekg"].amount == D("95.00")
    assert "ekg" not in _lines(bills[430])  # no EKG price in 430's agreement


def test_issue_numbers_gaplessly_locks_and_reprints_identically(department_app, tmp_path):
    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(code=479), dict(code=430)], km="20")
    drafts = app.billing.run(MARCH, tmp_path / "draft")
    issued = [app.billing.issue(d.id, issue_date=dt.date(2020, 4, 1)) for d in drafts]
    assert [i.number for i in issued] == [1, 2]
    assert issued[0].due_date == dt.date(2020, 5, 1)
    with pytest.raises(ConflictError):
        app.billing.issue(drafts[0].id)
    with app.store.session() as s:
        assert all(v.shares_locked for v in s.scalars(select(Visit)))
        stored = {d.kind: d for d in s.scalars(select(InvoiceDocument).where(
            InvoiceDocument.invoice_id == issued[0].id))}
    assert set(stored) == {"invoice_pdf", "statement_pdf", "statement_csv", "oioubl"}
    for kind, doc in stored.items():
        again = app.billing.document(issued[0].id, kind)
        assert again == doc.content and hashlib.sha256(again).hexdigest() == doc.sha256
    # a second run of the month bills nothing again
    assert app.billing.run(MARCH) == []


def test_two_runs_never_bill_a_visit_twice(department_app):
    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict()] * 3, km="30")
    (first,) = app.billing.run(MARCH)
    app.billing.issue(first.id, issue_date=dt.date(2020, 4, 1))
    add_route(app, dt.date(2020, 3, 25), [dict()] * 2, km="20", analyst=1)  # recorded later
    (second,) = app.billing.run(MARCH)
    assert {ln.code: ln.quantity for ln in second.lines}["per_referral"] == 2
    with app.store.session() as s:
        visit_ids = list(s.scalars(select(InvoiceItem.visit_id)))
    assert len(visit_ids) == len(set(visit_ids)) == 5


def test_rerunning_a_draft_replaces_it(department_app):
    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict()] * 2, km="30")
    (a,) = app.billing.run(MARCH)
    add_route(app, dt.date(2020, 3, 11), [dict()], km="10")
    (b,) = app.billing.run(MARCH)
    assert b.total > a.total
    with app.store.session() as s:
        assert len(list(s.scalars(select(Invoice)))) == 1
        assert len(list(s.scalars(select(InvoiceItem)))) == 3


def test_credit_note_references_invoice_and_frees_visits_for_a_new_invoice(department_app,
                                                                           tmp_path):
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, dt.date(2020, 3, 10), [dict()] * 2, km="30")
    (draft,) = app.billing.run(MARCH)
    inv = app.billing.issue(draft.id, issue_date=dt.date(2020, 4, 1))
    # the odometer figure was wrong: correct it, credit, bill again
    from hjemmeprove.db.models import Route
    with app.store.session() as s:
        s.get(Route, rid).driven_km = D("20")
    assert app.billing.run(MARCH) == []  # still billed by the issued invoice
    cn = app.billing.credit_note(inv.id, "forkert km-tal", issue_date=dt.date(2020, 4, 3))
    assert cn.kind == "credit_note" and cn.number == inv.number + 1
    assert cn.credits_invoice_id == inv.id and cn.total == inv.total
    with pytest.raises(ConflictError):
        app.billing.credit_note(inv.id, "igen")
    xml = app.billing.document(cn.id, "oioubl")
    assert f"<cbc:ID>{inv.number}</cbc:ID>".encode() in xml
    (new,) = app.billing.run(MARCH)
    new = app.billing.issue(new.id, issue_date=dt.date(2020, 4, 3))
    assert new.number == cn.number + 1
    assert {ln.code: ln.quantity for ln in new.lines}["transport_km"] == D("20.000")
    # the original stays as issued, byte for byte
    assert app.billing.get(inv.id).total == inv.total
    assert app.billing.get(inv.id).credited_by_id == cn.id


def test_cli_invoice_run_json_and_issue(department_app, tmp_path, capsys):
    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(code=479)] * 2, km="30")
    url = app.store.url
    assert main(["--db", url, "invoice", "run", "--month", MARCH, "--out", str(tmp_path),
                 "--issue", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (m,) = out["municipalities"]
    assert m["municipality"] == 479 and m["number"] == 1 and m["status"] == "issued"
    assert m["total"] == f"{sum(D(ln['amount']) for ln in m['lines']):.2f}"
    for path in m["files"].values():
        assert (tmp_path / path.split("/")[-1]).exists()


def test_full_cpr_only_when_the_agreement_asks(department_app):
    from hjemmeprove.db.models import Agreement
    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(code=479, cpr="010150-1234"),
                                          dict(code=430, cpr="020250-2345")], km="10")
    with app.store.session() as s:
        for ag in s.scalars(select(Agreement)):
            ag.statement_full_cpr = ag.municipality.code == 430
    cprs = {b.municipality_code: b.items[0].cpr for b in app.billing.preview(MARCH)}
    assert cprs == {479: "010150-XXXX", 430: "020250-2345"}


def test_concurrent_issuing_gives_unique_gapless_numbers(department_app):
    """Two finance officers issuing at the same moment (threads, separate sessions)."""
    import threading

    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(code=c) for c in (479, 492, 430)], km="30")
    drafts = app.billing.run(MARCH)
    numbers, errors = [], []
    barrier = threading.Barrier(len(drafts))

    def worker(inv_id):
        barrier.wait()
        try:
            numbers.append(app.billing.issue(inv_id, issue_date=dt.date(2020, 4, 1)).number)
        except Exception as e:  # pragma: no cover - the assertion below shows it
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(d.id,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == [1, 2, 3]


def test_issuing_refused_without_the_municipalitys_ean_or_person_reference(department_app):
    from hjemmeprove.db.models import Agreement, Municipality
    from hjemmeprove.errors import ValidationError

    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(code=430)], km="10")
    with app.store.session() as s:
        ag = s.scalar(select(Agreement).join(Municipality).where(Municipality.code == 430))
        ag.invoice_ean, ag.municipality.ean, ag.person_reference = "", "", ""
    (draft,) = app.billing.run(MARCH)
    with pytest.raises(ValidationError) as e:
        app.billing.issue(draft.id)
    assert e.value.fields == {"EAN", "personreference"}
    assert app.billing.get(draft.id).status == "draft" and app.billing.get(draft.id).number is None


def test_visits_outside_the_agreement_period_are_not_billed(department_app):
    from hjemmeprove.db.models import Agreement, Municipality

    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(code=430), dict(code=430)], km="10")
    add_route(app, dt.date(2020, 3, 20), [dict(code=430)], km="10")
    with app.store.session() as s:
        ag = s.scalar(select(Agreement).join(Municipality).where(Municipality.code == 430))
        ag.end = dt.date(2020, 3, 15)  # terminated
    (bill,) = app.billing.preview(MARCH)
    assert len(bill.items) == 2
    assert any("uden for aftalens periode" in n for n in bill.notes)
