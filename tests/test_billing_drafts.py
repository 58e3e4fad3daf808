"""A billing run's drafts with files: their documents are made from the bills just saved
(not read back invoice by invoice) and are exactly those read back from the saved drafts;
the second process gets its first invoice before the drafts are committed; the work is
shared as it goes (``render.Lanes``); the shares are stored from rows read as columns
(``audit.update_rows``) with the audit rows a flush would write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select, update

from hjemmeprove.billing import render
from hjemmeprove.db import audit
from hjemmeprove.db.models import AuditEntry, Invoice, InvoiceItem, Request, Visit
from tests.test_documents_trust import set_agreement
from tests.test_invoice_fixtures import add_route, set_2020_rates

MARCH = "2020-03"
AERO = "Svendborg–Ærøskøbing"


def _varied_month(app):
    """Shared routes; a route with only planned km; ferry to Ærø; a late cancellation and a
    visit not at home; full CPR and names on one statement; the municipality's references."""
    set_2020_rates(app)
    set_agreement(app, 479, statement_personal_data="name_cpr", statement_full_cpr=True)
    set_agreement(app, 430, statement_personal_data="name")
    add_route(app, dt.date(2020, 3, 10),
              [dict(code=479, standalone="7.5", name="Åse Ørum"),
               dict(code=430, standalone="12", outcome="not_home"),
               dict(code=492, standalone="30", ferry_link=AERO),
               dict(code=479, standalone="4", outcome="cancelled_late")],
              km="61.3", ferry="150")
    add_route(app, dt.date(2020, 3, 11),
              [dict(code=479, standalone="3"), dict(code=430, standalone="9.25", ekg=True)],
              km=None, planned_km="17.8", analyst=1)
    add_route(app, dt.date(2020, 3, 12),
              [dict(code=c, standalone=str(2 + i)) for i, c in enumerate((430, 479, 430))],
              km="20")
    with app.store.session() as s:
        for i, req in enumerate(s.scalars(select(Request).order_by(Request.id))):
            if i % 2:
                req.municipality_reference = f"KOM-{i}"


def _record_docs(monkeypatch):
    made = []
    real = render.draft_documents

    def draft_documents(doc):
        made.append(doc)
        return real(doc)

    monkeypatch.setattr(render, "draft_documents", draft_documents)
    return made


def test_draft_documents_from_the_bills_are_those_read_back(department_app, tmp_path,
                                                             monkeypatch):
    app = department_app
    _varied_month(app)
    made = _record_docs(monkeypatch)
    monkeypatch.setattr(render, "MIN_ITEMS", 10 ** 9)  # this process renders all of them
    infos = app.billing.run(MARCH, tmp_path / "out")
    assert len(infos) == 3 and len(made) == 3
    for info in infos:
        doc = next(d for d in made if d.invoice_id == info.id)
        # repr shows every Decimal's places: the data is the same to the digit
        assert repr(doc) == repr(app.billing.document_data(info.id))
        for kind, (name, content) in app.billing.documents(info.id).items():
            assert (tmp_path / "out" / name).read_bytes() == content, (info.id, kind)
        read_back = app.billing.get(info.id)
        assert (info.total, info.vat_amount, info.lines, info.status, info.number) == (
            read_back.total, read_back.vat_amount, read_back.lines, "draft", None)
        assert (info.municipality_code, info.municipality_name) == (
            read_back.municipality_code, read_back.municipality_name)
    # a re-run replaces the drafts (their items too, none left over)
    again = app.billing.run(MARCH, tmp_path / "again")
    assert len(again) == 3
    with app.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Invoice)) == 3
        assert s.scalar(select(func.count()).select_from(InvoiceItem)) == sum(
            len(app.billing.document_data(i.id).items) for i in again) == 9
    for info in again:
        for kind, (name, content) in app.billing.documents(info.id).items():
            assert (tmp_path / "again" / name).read_bytes() == content, (info.id, kind)


@pytest.fixture
def two_processes(monkeypatch):
    monkeypatch.setattr(render, "MIN_ITEMS", 0)
    monkeypatch.setattr(render.os, "cpu_count", lambda: 2)


def test_the_second_process_gets_its_first_invoice_before_the_drafts_are_committed(
        department_app, tmp_path, monkeypatch, two_processes):
    app = department_app
    _varied_month(app)
    seen = []
    real = render.Helper.submit

    def submit(self, doc):
        if doc is not None and not seen:
            with app.store.session() as s:  # what another user sees at that moment
                seen.append(s.scalar(select(func.count()).select_from(Invoice)
                                     .where(Invoice.month == MARCH)))
        real(self, doc)

    monkeypatch.setattr(render.Helper, "submit", submit)
    infos = app.billing.run(MARCH, tmp_path / "out")
    assert seen == [0]  # rendering began while the drafts were still being saved
    assert len(infos) == 3
    for info in infos:
        for kind, (name, content) in app.billing.documents(info.id).items():
            assert (tmp_path / "out" / name).read_bytes() == content


class FakeHelper:
    """Stands in for the second process: records what it is sent; answers when told."""

    def __init__(self):
        self.sent, self.answered, self.on_result = [], 0, None

    def submit(self, doc):
        self.sent.append(doc)

    def answer(self):
        doc = self.sent[self.answered]
        self.answered += 1
        self.on_result({"there": doc})

    def wait(self, done):
        while not done():
            self.answer()


def test_lanes_share_the_invoices_as_they_go_largest_waiting_first(monkeypatch):
    here = []
    monkeypatch.setattr(render, "draft_documents", lambda doc: here.append(doc) or {"here": doc})
    helper = FakeHelper()
    lanes = render.Lanes(helper)
    sizes = {"a": 10, "b": 50, "c": 300, "d": 20, "e": 200, "f": 5}
    for doc, n in sizes.items():
        lanes.add(doc, n)
    assert helper.sent == ["a", "b"]  # as soon as they exist, two at a time
    helper.answer()  # it answers one: it gets the largest waiting
    assert helper.sent == ["a", "b", "c"]
    out = lanes.finish()  # this process takes the rest, largest first
    assert here == ["e", "d", "f"]
    assert helper.sent[-1] is None  # then the second process is told it is done
    assert out == [{"there": "a"}, {"there": "b"}, {"there": "c"}, {"here": "d"},
                   {"here": "e"}, {"here": "f"}]
    assert (lanes.rendered_here, lanes.rendered_there) == (3, 3)


def test_lanes_without_a_second_process_render_everything_here(monkeypatch):
    monkeypatch.setattr(render, "draft_documents", lambda doc: {"here": doc})
    lanes = render.Lanes(None)
    for doc in "xyz":
        lanes.add(doc, 1)
    assert lanes.finish() == [{"here": "x"}, {"here": "y"}, {"here": "z"}]


def _audit(app):
    with app.store.session() as s:
        return [(e.user, e.row_key, e.before, e.after) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.table_name == "visits",
                                     AuditEntry.action == "update").order_by(AuditEntry.id))]


def test_update_rows_writes_what_update_many_writes(department_app):
    """``audit.update_rows`` (a run's shares from visits read as columns): the same audit
    rows, values and version counter as ``update_many``; an object of such a row loaded in
    the session gets the new values; a row changed meanwhile is refused."""
    from sqlalchemy.orm.exc import StaleDataError

    app = department_app
    rid = add_route(app, dt.date(2020, 3, 10), [dict(standalone="5")] * 4, km="20")
    with app.store.session(user="objects") as s:
        a, b = list(s.scalars(select(Visit).where(Visit.route_id == rid).order_by(Visit.id)))[:2]
        audit.update_many(s, {a: {"km_share": D("5.000"), "ferry_share": D("0")},
                              b: {"km_share": D("5.000"), "ferry_share": None}})
    with app.store.session(user="rows") as s:
        rows = s.execute(select(Visit.id, Visit.version, Visit.km_share, Visit.ferry_share)
                         .where(Visit.route_id == rid).order_by(Visit.id)).all()[2:]
        loaded = s.get(Visit, rows[0].id)
        audit.update_rows(s, Visit, [
            (r.id, r.version, {"km_share": r.km_share, "ferry_share": r.ferry_share},
             {"km_share": D("5.000"), "ferry_share": ferry})
            for r, ferry in zip(rows, (D("0"), None))])
        assert loaded.km_share == D("5.000") and loaded.version == 2 and loaded not in s.dirty
    entries = _audit(app)
    by_user = {}
    for user, _key, before, after in entries:
        by_user.setdefault(user, []).append((before, after))
    assert by_user["objects"] == by_user["rows"] and len(by_user["rows"]) == 2
    assert [int(k) for _u, k, _b, _a in entries if _u == "rows"] == [r.id for r in rows]
    with app.store.session() as s:
        assert [(v.km_share, v.ferry_share, v.version) for v in s.scalars(
            select(Visit).where(Visit.route_id == rid).order_by(Visit.id))] == [
            (D("5.000"), D("0.0"), 2), (D("5.000"), None, 2)] * 2
    with app.store.session() as s:
        r = s.execute(select(Visit.id, Visit.version, Visit.km_share, Visit.ferry_share)
                      .where(Visit.route_id == rid).order_by(Visit.id)).first()
        with app.store.session() as other:  # changed and committed by someone else meanwhile
            other.execute(update(Visit).where(Visit.id == r.id)
                          .values(version=Visit.version + 1))
        if app.store.engine.dialect.supports_sane_multi_rowcount:
            with pytest.raises(StaleDataError):
                audit.update_rows(s, Visit, [(r.id, r.version, {"km_share": r.km_share},
                                              {"km_share": D("1.000")})])
        s.rollback()
