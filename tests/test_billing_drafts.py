"""A billing run's drafts with files: their documents are made from the bills just saved
(not read back invoice by invoice) and are exactly those read back from the saved drafts;
the second process gets its first invoice before the drafts are committed; the work is
shared as it goes (``render.Lanes``); (``audit.update_rows``, the shares stored from rows read as columns, is tested in
``test_audit_rows``)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from hjemmeprove.billing import render
from hjemmeprove.db.models import Invoice, InvoiceItem, Request
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
