"""Money a municipality can trust (issue 9): ferry time belongs to the crossing, issuing
recomputes under locks and refuses a stale or incomplete draft, a billed fact is final, late
cancellations follow the agreement whatever the entry path, duplicates need a decision, a
draft is never sendable, and a resumed run bills the same øre."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from hjemmeprove.billing import issuing
from hjemmeprove.cli import main
from hjemmeprove.db.models import (
    Agreement,
    AuditEntry,
    Invoice,
    Municipality,
    Request,
    Route,
    Visit,
)
from hjemmeprove.errors import ConflictError, PermissionDenied, ValidationError
from tests.test_invoice_fixtures import add_route, set_2020_rates, visits_of

MARCH = "2020-03"
DAY = dt.date(2020, 3, 10)
AERO = "Svendborg–Ærøskøbing"  # 75 min each way in resources/data/ferries.csv
LYO = "Faaborg–Lyø"  # 40 min each way


def _bill(app, code, month=MARCH):
    return next(b for b in app.billing.preview(month) if b.municipality_code == code)


def _line(bill, code):
    return next((ln for ln in bill.lines if ln.code == code), None)


def _draft(app, code, month=MARCH):
    return next(i for i in app.billing.run(month) if i.municipality_code == code)


def _items(bill):
    return {i.visit_id: i for i in bill.items}


# --- ferry time belongs to the crossing -----------------------------------------------------

def test_cancelled_aero_visits_minutes_never_land_on_mainland_visits(department_app):
    """The Ærø visit was cancelled after the day's 150 ferry minutes were recorded: the two
    mainland visits carry none; the minutes are a problem at day close and block issuing
    until the coordinator corrects the figure."""
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, DAY, [dict(code=479, standalone="8"), dict(code=479, standalone="12")],
                    km="25.9", ferry="150")
    bill = _bill(app, 479)
    assert _line(bill, "ferry") is None
    assert all(i.ferry_share == 0 for i in bill.items)
    assert any("150 færgeminutter" in p for p in bill.problems)
    status = app.day_close.status(DAY)
    (ferry,) = [m for m in status.missing if m.kind == "ferry"]
    assert ferry.route_id == rid and "150" in ferry.text and not status.complete
    (draft,) = app.billing.run(MARCH)
    with pytest.raises(ValidationError, match="færgeminutter"):
        app.billing.issue(draft.id)
    assert app.billing.get(draft.id).status == "draft"

    app.day_close.record_route(rid, "25.9", "0")  # the coordinator corrects the figure
    assert not [m for m in app.day_close.status(DAY).missing if m.kind == "ferry"]
    (draft,) = app.billing.run(MARCH)
    info = app.billing.issue(draft.id)
    assert info.status == "issued" and "ferry" not in {ln.code for ln in info.lines}


def test_unexplained_minutes_named_to_a_visit_by_the_coordinator(department_app):
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, DAY, [dict(code=479, standalone="8"), dict(code=492, standalone="90")],
                    km="60", ferry="30")
    vids = [v.id for v in visits_of(app, rid)]
    assert app.day_close.unexplained_ferry(rid) == D("30")
    with pytest.raises(ValidationError, match="ikke på ruten"):
        app.day_close.resolve_ferry(rid, 999999)
    assert app.day_close.resolve_ferry(rid, vids[1], "Strynø-færgen manglede i færgedata") \
        == D("30")
    assert app.day_close.unexplained_ferry(rid) == 0
    bill = _bill(app, 492)
    assert _items(bill)[vids[1]].ferry_share == D("30") and bill.complete
    assert _items(_bill(app, 479))[vids[0]].ferry_share == 0
    with app.store.session() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.table_name == "ferry_resolutions"))
    # a new figure leaves another amount unexplained: the old answer no longer applies
    app.day_close.record_route(rid, "60", "45")
    assert app.day_close.unexplained_ferry(rid) == D("45")


def test_lyo_and_aero_on_one_route_are_not_pooled(department_app):
    """Lyø's 2 × 40 min go to the Lyø visit (Faaborg-Midtfyn), Ærø's 2 × 75 to Ærø; the
    mainland visit carries none, whatever the road km."""
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, DAY, [dict(code=430, standalone="60", ferry_link=LYO),
                               dict(code=479, standalone="10"),
                               dict(code=492, standalone="90", ferry_link=AERO)],
                    km="160", ferry="230")
    lyo, land, aero = (v.id for v in visits_of(app, rid))
    assert _items(_bill(app, 430))[lyo].ferry_share == D("80.0")
    assert _items(_bill(app, 492))[aero].ferry_share == D("150.0")
    assert _items(_bill(app, 479))[land].ferry_share == 0
    assert _line(_bill(app, 430), "ferry").quantity == D("80.0")
    assert all(b.complete for b in app.billing.preview(MARCH))
    # the statement says how ferry time is attributed
    settings = dict(_bill(app, 430).settings)
    assert "øen" in settings["Færgetid"] or "ø" in settings["Færgetid"]
    assert any("Lyø 80 min" in n and "Ærø 150 min" in n for n in _bill(app, 430).notes)


def test_fewer_minutes_than_the_crossings_are_split_by_island(department_app):
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, DAY, [dict(code=430, standalone="60", ferry_link=LYO),
                               dict(code=492, standalone="90", ferry_link=AERO),
                               dict(code=492, standalone="95", ferry_link=AERO)],
                    km="160", ferry="115")  # half of 80 + 150
    lyo, a1, a2 = (v.id for v in visits_of(app, rid))
    bills = {b.municipality_code: b for b in app.billing.preview(MARCH)}
    assert _items(bills[430])[lyo].ferry_share == D("40.0")
    aero = _items(bills[492])
    assert aero[a1].ferry_share + aero[a2].ferry_share == D("75.0")
    assert aero[a1].ferry_share < aero[a2].ferry_share  # by stand-alone km within the island


# --- issuing computes, compares and commits at once -----------------------------------------

def test_a_correction_after_the_draft_refuses_the_stale_draft(department_app):
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, DAY, [dict(code=479, name="Karen Jensen"), dict(code=479)], km="30")
    (draft,) = app.billing.run(MARCH)
    vid = visits_of(app, rid)[0].id
    app.day_close.record_outcome(vid, "not_home")
    with pytest.raises(ConflictError, match="Karen Jensen.*taget → ikke hjemme") as e:
        app.billing.issue(draft.id)
    assert "Dan kladden igen" in str(e.value)
    assert "for marts 2020 er ikke udstedt" in str(e.value)  # the month as users write it
    assert app.billing.get(draft.id).status == "draft"
    (draft,) = app.billing.run(MARCH)
    info = app.billing.issue(draft.id)
    assert {ln.code: ln.quantity for ln in info.lines}["per_referral"] == 1


@pytest.mark.slow
def test_a_correction_while_issuing_waits_and_is_then_refused(department_app, monkeypatch):
    """The coordinator saves "not home" while finance is issuing: the correction waits for
    the issuing transaction (locks) and is then refused, naming the invoice; the invoice bills
    what the facts were when it was numbered."""
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, DAY, [dict(code=479), dict(code=479)], km="30")
    (draft,) = app.billing.run(MARCH)
    vid = visits_of(app, rid)[0].id
    from hjemmeprove.app import App

    other = App(app.store.url, user="test")
    result = {}

    def correct():
        try:
            other.day_close.record_outcome(vid, "not_home")
            result["ok"] = True
        except Exception as exc:  # noqa: BLE001 - the refusal is the point
            result["error"] = exc

    real = issuing.compute
    started = threading.Thread(target=correct)

    def compute_then_race(*args, **kwargs):
        out = real(*args, **kwargs)
        started.start()
        time.sleep(0.5)  # the correction is now waiting for the locks
        return out

    monkeypatch.setattr(issuing, "compute", compute_then_race)
    info = app.billing.issue(draft.id)
    started.join(30)
    other.close()
    assert isinstance(result.get("error"), ValidationError), result
    assert f"faktura nr. {info.number}" in str(result["error"])
    assert {ln.code: ln.quantity for ln in info.lines}["per_referral"] == 2
    assert visits_of(app, rid)[0].outcome == "taken"


def test_resumed_run_bills_the_same_ore(department_app):
    """`invoice run --issue` killed after the first municipality and run again bills every
    municipality what one uninterrupted run bills (the rest is not re-split)."""
    app = department_app
    set_2020_rates(app)
    add_route(app, DAY, [dict(code=492, standalone="12"), dict(code=479, standalone="2"),
                         dict(code=479, standalone="4"), dict(code=430, standalone="23")],
              km="77.926")
    expected = {b.municipality_code: b.total for b in app.billing.preview(MARCH)}
    drafts = {i.municipality_code: i for i in app.billing.run(MARCH)}
    app.billing.issue(drafts[430].id)  # ... and then the run was killed
    resumed = app.billing.run(MARCH, issue=True)
    got = {i.municipality_code: i.total for i in app.billing.list_invoices(MARCH)
           if i.status == "issued"}
    assert {i.municipality_code for i in resumed} == {479, 492}
    assert got == expected


# --- a billed fact is final -----------------------------------------------------------------

def _issued(app, stops, km="30", ferry=None):
    rid = add_route(app, DAY, stops, km=km, ferry=ferry)
    info = app.billing.issue(app.billing.run(MARCH)[0].id)
    return rid, info


def test_day_km_and_outcome_after_issuing_are_refused_naming_the_invoice(department_app,
                                                                         capsys):
    app = department_app
    set_2020_rates(app)
    rid, info = _issued(app, [dict(code=479), dict(code=479)])
    vid = visits_of(app, rid)[0].id
    with pytest.raises(ValidationError, match=f"faktura nr. {info.number}"):
        app.day_close.record_route(rid, "44.3", "0", confirm=True)
    with pytest.raises(ValidationError, match=f"faktura nr. {info.number}"):
        app.day_close.record_outcome(vid, "not_home")
    with pytest.raises(ValidationError, match=f"faktura nr. {info.number}"):
        app.day_close.clear_outcome(vid)
    url = app.store.url
    assert main(["--db", url, "day", "km", str(rid), "--km", "44.3", "--bekraeft"]) == 2
    assert f"faktura nr. {info.number}" in capsys.readouterr().err
    with app.store.session() as s:
        assert s.get(Route, rid).driven_km == D("30")
    # the correction path: credit the visit, correct it, bill it again
    cn = app.billing.credit_note(info.id, "ikke hjemme", visit_ids=[vid])
    assert cn.reason == "ikke hjemme"
    with app.store.session() as s:
        assert s.get(Invoice, cn.id).credit_reason == "ikke hjemme"
    app.day_close.record_outcome(vid, "not_home")
    (replacement,) = app.billing.run(MARCH)
    assert [i.visit_id for i in app.billing.document_data(replacement.id).items] == [vid]
    bill = _bill(app, 479)
    assert any(f"kreditnota nr. {cn.number}" in n and f"faktura nr. {info.number}" in n
               for n in bill.notes)


def test_partial_credit_notes_then_the_rest_add_up_to_the_invoice(department_app, capsys):
    app = department_app
    set_2020_rates(app)
    rid, info = _issued(app, [dict(code=479, standalone=s) for s in ("5", "7", "9")],
                        km="40.3")
    vids = [v.id for v in visits_of(app, rid)]
    url = app.store.url
    assert main(["--db", url, "invoice", "credit", str(info.id), "--reason", "dublet",
                 "--visit", str(vids[0]), "--json"]) == 0
    part = json.loads(capsys.readouterr().out)
    assert part["kind"] == "credit_note" and D(part["total"]) < info.total
    with pytest.raises(ValidationError, match="allerede krediteret"):
        app.billing.credit_note(info.id, "igen", visit_ids=[vids[0]])
    rest = app.billing.credit_note(info.id, "resten")
    assert D(part["total"]) + rest.total == info.total
    with pytest.raises(ConflictError, match="allerede krediteret"):
        app.billing.credit_note(info.id, "tredje gang")
    assert app.billing.get(info.id).fully_credited
    with app.store.session() as s:
        assert not any(v.shares_locked for v in s.scalars(select(Visit)))


# --- issue only what is complete ------------------------------------------------------------

def test_issuing_before_the_month_has_ended_is_refused(department_app, monkeypatch):
    app = department_app
    set_2020_rates(app)
    add_route(app, DAY, [dict(code=479)], km="30")
    monkeypatch.setattr(issuing, "today", lambda: dt.date(2020, 3, 31))
    (draft,) = app.billing.run(MARCH)
    with pytest.raises(ValidationError, match="Måneden slutter 31.03.2020"):
        app.billing.issue(draft.id)
    monkeypatch.setattr(issuing, "today", lambda: dt.date(2020, 4, 1))
    with pytest.raises(ValidationError, match="udstedelsesdatoen"):
        app.billing.issue(draft.id, issue_date=dt.date(2020, 3, 31))
    assert app.billing.issue(draft.id).number == 1


def test_missing_outcomes_and_km_are_listed_by_name_and_block_issuing(department_app):
    app = department_app
    set_2020_rates(app)
    add_route(app, DAY, [dict(code=479), dict(code=479, outcome=None, name="Ole Hansen")],
              km=None, planned_km="30", closed=False)
    (draft,) = app.billing.run(MARCH)
    with pytest.raises(ValidationError) as e:
        app.billing.issue(draft.id)
    text = str(e.value)
    assert "Ole Hansen" in text and "Kørte km mangler: Mette Holm 10.03.2020" in text


def test_administrator_override_is_explicit_audited_and_covers_only_its_problems(
        department_app, monkeypatch):
    app = department_app
    set_2020_rates(app)
    add_route(app, DAY, [dict(code=479), dict(code=479, outcome=None, name="Ole Hansen")],
              km="30", closed=False)
    (draft,) = app.billing.run(MARCH)
    with pytest.raises(ValidationError, match="begrundelse"):
        app.billing.allow_incomplete(MARCH, 479, " ")
    covered = app.billing.allow_incomplete(MARCH, 479, "Kommunen har bedt om fakturaen nu")
    assert any("Ole Hansen" in p for p in covered)
    info = app.billing.issue(draft.id)
    assert "Kommunen har bedt om fakturaen nu" in info.override_reason
    assert "Ole Hansen" in info.override_reason
    with app.store.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.table_name == "issue_overrides"))
        assert entry is not None and entry.user == "test" and "Kommunen" in entry.after


def test_an_override_does_not_cover_new_problems(department_app):
    app = department_app
    set_2020_rates(app)
    add_route(app, DAY, [dict(code=479), dict(code=479, outcome=None, name="Ole Hansen")],
              km="30", closed=False)
    app.billing.allow_incomplete(MARCH, 479, "hastesag")
    add_route(app, dt.date(2020, 3, 12), [dict(code=479, outcome=None, name="Ny Borger")],
              km="10", analyst=1, closed=False)
    (draft,) = app.billing.run(MARCH)
    with pytest.raises(ValidationError, match="Ny Borger"):
        app.billing.issue(draft.id)


@pytest.mark.sqlite_only
def test_only_the_administrator_may_override(department_app):
    from hjemmeprove.app import App
    from hjemmeprove.security import add_user

    app = department_app
    set_2020_rates(app)
    add_route(app, DAY, [dict(code=479), dict(code=479, outcome=None)], km="30", closed=False)
    add_user(app.store, "test", "administrator")
    add_user(app.store, "okonomi", "finance")
    finance = App(app.store.url, user="okonomi")
    try:
        with pytest.raises(PermissionDenied, match="administrator"):
            finance.billing.allow_incomplete(MARCH, 479, "nu")
    finally:
        finance.close()


# --- late cancellations ---------------------------------------------------------------------

def _late_cancellation_via_cli(app):
    rid = add_route(app, DAY, [dict(code=479), dict(code=479, outcome=None)], km="30")
    vid = visits_of(app, rid)[1].id
    with app.store.session() as s:
        v = s.get(Visit, vid)
        v.locked, v.window_start, v.window_end = True, dt.time(10), dt.time(12)
        s.get(Request, v.request_id).status = "locked"
        request_id = v.request_id
    assert main(["--db", app.store.url, "requests", "cancel", str(request_id),
                 "--at", "2020-03-10T08:00", "--by", "Hjemmeplejen",
                 "--channel", "telephone"]) == 0
    with app.store.session() as s:
        v = s.get(Visit, vid)
        assert (v.outcome, v.route_id) == ("cancelled_late", None)
    return vid


@pytest.mark.parametrize("billed", [True, False])
def test_a_late_cancellation_via_the_cli_follows_the_agreement(department_app, billed):
    app = department_app
    set_2020_rates(app)
    if billed:
        with app.store.session() as s:
            ag = s.scalar(select(Agreement).join(Municipality).where(Municipality.code == 479))
            ag.billable_outcomes = "taken,cancelled_late"
    vid = _late_cancellation_via_cli(app)
    bill = _bill(app, 479)
    item = _items(bill)[vid]
    assert item.billable is billed and item.km_share == 0 and item.ferry_share == 0
    assert _line(bill, "per_referral").quantity == (2 if billed else 1)
    assert sum(i.km_share for i in bill.items) == D("30")  # the taken visit carries the route
    (draft,) = app.billing.run(MARCH)
    app.billing.issue(draft.id)
    assert app.billing.run(MARCH) == []  # exactly once


# --- duplicates -----------------------------------------------------------------------------

def test_a_duplicate_on_the_draft_needs_a_decision_before_issuing(department_app):
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, DAY, [dict(code=479, name="Karen Jensen"), dict(code=479),
                               dict(code=479)], km="30")
    a, b, _c = (v.id for v in visits_of(app, rid))
    with app.store.session() as s:  # two referrals for the same citizen, visited the same day
        va, vb = s.get(Visit, a), s.get(Visit, b)
        s.get(Request, vb.request_id).citizen_id = s.get(Request, va.request_id).citizen_id
    bill = _bill(app, 479)
    (group,) = bill.duplicates
    assert group.visit_ids == (a, b) and not group.decided
    assert any("Dublet: Karen Jensen" in p for p in bill.problems)
    (draft,) = app.billing.run(MARCH)
    with pytest.raises(ValidationError, match="Dublet"):
        app.billing.issue(draft.id)
    app.billing.decide_duplicates(bill=[a], drop=[b], note="samme prøve, to henvisninger")
    bill = _bill(app, 479)
    assert bill.duplicates[0].decided and bill.complete
    assert _line(bill, "per_referral").quantity == 2
    assert not _items(bill)[b].billable
    (draft,) = app.billing.run(MARCH)
    app.billing.issue(draft.id)
    with app.store.session() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.table_name == "duplicate_decisions"))
    with pytest.raises(ValidationError, match="faktura nr. 1"):
        app.billing.decide_duplicates(bill=[a, b])


# --- drafts are never sendable --------------------------------------------------------------

def test_a_draft_is_never_exported_as_an_einvoice(department_app, tmp_path, capsys):
    app = department_app
    set_2020_rates(app)
    add_route(app, DAY, [dict(code=479)], km="30")
    (draft,) = app.billing.run(MARCH, tmp_path / "run")
    assert "oioubl" not in draft.files
    assert not list((tmp_path / "run").glob("*.xml"))
    with pytest.raises(ValidationError, match="kladde"):
        app.billing.document(draft.id, "oioubl")
    assert main(["--db", app.store.url, "invoice", "export", str(draft.id),
                 "--out", str(tmp_path / "export")]) == 0
    assert not list((tmp_path / "export").glob("*.xml"))
    assert "ingen e-faktura" in capsys.readouterr().out
    pdf = app.billing.document(draft.id, "invoice_pdf")
    assert pdf.startswith(b"%PDF")
    info = app.billing.issue(draft.id)
    assert app.billing.document(info.id, "oioubl").lstrip().startswith(b"<?xml")


# --- by roles on PostgreSQL -----------------------------------------------------------------

@pytest.mark.postgres
def test_the_decisions_by_roles_fit_the_database_privileges(pg_url):
    """The coordinator names the ferry visit, finance decides the duplicate, the
    administrator overrides a missing outcome, finance issues: each on its own login."""
    import uuid

    from sqlalchemy.engine import make_url

    from hjemmeprove.app import App
    from hjemmeprove.db import pg_roles
    from hjemmeprove.security import add_user
    from hjemmeprove.services.reference import load_defaults
    from tests.factories import add_department
    from tests.test_security_pg import _drop_logins

    owner = App(pg_url, user="test")
    load_defaults(owner.store)
    add_department(owner)
    pg_roles.setup(owner.store)
    suffix = uuid.uuid4().hex[:6]
    logins = {role: f"hp_{role[:5]}_{suffix}" for role in ("coordinator", "finance",
                                                           "administrator")}
    for role, login in logins.items():
        add_user(owner.store, login, role)
    base = make_url(pg_url)
    apps = {role: App(base.set(username=login).render_as_string(hide_password=False),
                      user=role, upgrade=False) for role, login in logins.items()}
    try:
        set_2020_rates(owner)
        rid = add_route(owner, DAY, [dict(code=479, name="Karen Jensen"), dict(code=479),
                                     dict(code=492)], km="50", ferry="20")
        add_route(owner, dt.date(2020, 3, 12), [dict(code=479, outcome=None, name="Ole")],
                  km="10", analyst=1, closed=False)
        a, b, aero = (v.id for v in visits_of(owner, rid))
        with owner.store.session() as s:
            va, vb = s.get(Visit, a), s.get(Visit, b)
            s.get(Request, vb.request_id).citizen_id = s.get(Request, va.request_id).citizen_id
        apps["coordinator"].day_close.resolve_ferry(rid, aero)
        apps["finance"].billing.decide_duplicates(bill=[a], drop=[b])
        apps["administrator"].billing.allow_incomplete(MARCH, 479, "kommunen beder om den")
        drafts = apps["finance"].billing.run(MARCH)
        issued = [apps["finance"].billing.issue(d.id) for d in drafts]
        assert sorted(i.number for i in issued) == [1, 2]
        with pytest.raises(ValidationError, match="faktura nr."):
            apps["coordinator"].day_close.record_route(rid, "55", "20")
    finally:
        for x in apps.values():
            x.close()
        owner.close()
        _drop_logins(pg_url, logins.values())


def test_cli_problems_duplicate_allow_and_issue_all(department_app, capsys, tmp_path):
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, DAY, [dict(code=479, name="Karen Jensen"), dict(code=479),
                               dict(code=492)], km="30")
    add_route(app, dt.date(2020, 3, 12), [dict(code=492, outcome=None, name="Ole")],
              km="10", analyst=1, closed=False)
    a, b, _ = (v.id for v in visits_of(app, rid))
    with app.store.session() as s:
        va, vb = s.get(Visit, a), s.get(Visit, b)
        s.get(Request, vb.request_id).citizen_id = s.get(Request, va.request_id).citizen_id
    url = app.store.url
    assert main(["--db", url, "invoice", "problems", "--month", MARCH, "--json"]) == 0
    problems = {p["municipality"]: p for p in json.loads(capsys.readouterr().out)}
    assert problems[479]["duplicates"][0]["visits"] == [a, b]
    assert any("Ole" in p for p in problems[492]["problems"])
    assert main(["--db", url, "invoice", "duplicate", "--bill", str(a), "--bill", str(b)]) == 0
    assert main(["--db", url, "invoice", "allow", "--month", MARCH, "--municipality", "492",
                 "--reason", "hastesag"]) == 0
    assert "Ole" in capsys.readouterr().out
    assert main(["--db", url, "invoice", "run", "--month", MARCH, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["--db", url, "invoice", "issue-all", "--month", MARCH, "--json"]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert [i["number"] for i in issued] == [1, 2]
    assert {ln["text"]: ln["quantity"] for ln in issued[0]["lines"]}[
        "Faste priser pr. henvisning"] == "2"
