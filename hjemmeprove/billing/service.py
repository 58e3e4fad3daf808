"""The monthly billing run: the façade over computing (``compute``), issuing and crediting
(``issuing``) and the documents.

A draft can be re-run (it is replaced). ``issue`` recomputes from the current facts under
locks, compares with the draft and numbers it from the gapless sequence, in one transaction;
``credit_note`` credits an issued invoice in full or for selected visits. A draft is never
sendable: no OIOUBL file is made for it (the PDFs say KLADDE).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, func, insert, select

from hjemmeprove.billing import issuing, render
from hjemmeprove.billing.compute import Bill, compute, parse_month
from hjemmeprove.billing.documents import check_einvoice_address as _check_einvoice_address
from hjemmeprove.billing.documents import DraftHead, RouteFacts, draft_doc, stored_item
from hjemmeprove.billing.documents import billed_lines as _billed_lines
from hjemmeprove.billing.documents import doc_for as _doc
from hjemmeprove.billing.documents import render_all, terms_json
from hjemmeprove.billing.documents import lines_of as _lines
from hjemmeprove.billing.fees import Line
from hjemmeprove.billing.rates import RateService
from hjemmeprove.db import audit
from hjemmeprove.db.models import (
    Agreement,
    Invoice,
    InvoiceDocument,
    InvoiceItem,
    InvoiceLine,
    Visit,
)
from hjemmeprove.documents.model import InvoiceDoc
from hjemmeprove.errors import NotFound, ValidationError
from hjemmeprove.security import require

ZERO = Decimal("0")
DOC_KINDS = ("invoice_pdf", "statement_pdf", "statement_csv", "oioubl")
DRAFT_NOT_SENDABLE = ("en kladde kan ikke sendes som e-faktura (OIOUBL): udsted den først; "
                      "kladdens PDF er mærket KLADDE")


@dataclass
class InvoiceInfo:
    id: int
    kind: str
    number: int | None
    status: str
    month: str
    municipality_code: int
    municipality_name: str
    issue_date: dt.date | None
    due_date: dt.date | None
    total: Decimal
    vat_amount: Decimal
    lines: list[Line]
    credits_invoice_id: int | None = None
    credited_by_id: int | None = None  # the first credit note (full or partial)
    files: dict[str, str] = field(default_factory=dict)
    fully_credited: bool = False
    reason: str = ""  # a credit note's reason
    override_reason: str = ""  # issued although incomplete (administrator's override)


class BillingService:
    # processes that render a large run's drafts (``render``): 1 = this one only
    render_processes = 2

    def __init__(self, store):
        self.store = store
        self.rates = RateService(store)

    # --- computing --------------------------------------------------------------------------
    def preview(self, month: str) -> list[Bill]:
        """Per municipality: the lines and totals a run would bill now; writes nothing."""
        with self.store.session() as s:
            bills, _facts = self._compute(s, month)
            s.rollback()
        return bills

    def _compute(self, s, month: str):
        return compute(s, month, self.rates.table(), today=issuing.today())

    # --- the run ----------------------------------------------------------------------------
    def run(self, month: str, out_dir: str | Path | None = None, issue: bool = False,
            issue_date: dt.date | None = None) -> list[InvoiceInfo]:
        """Replaces the month's drafts, stores the visits' (unlocked) shares, optionally issues
        each draft, and writes every municipality's files into ``out_dir``."""
        parse_month(month)
        require(self.store, "invoices.draft")
        if issue:
            require(self.store, "invoices.issue")
        issuing.ensure_sequence(self.store)  # the row every billing transaction locks first
        # One run of a month at a time: a second officer's run waits for the first to finish
        # (drafts, numbers and files), then finds what is left to do.
        with self.store.exclusive(f"invoice-run:{month}"):
            return self._run(month, out_dir, issue, issue_date)

    def _run(self, month: str, out_dir, issue: bool, issue_date) -> list[InvoiceInfo]:
        with contextlib.ExitStack() as stack:
            return self._run_in(stack, month, out_dir, issue, issue_date)

    def _run_in(self, stack, month: str, out_dir, issue: bool,
                issue_date) -> list[InvoiceInfo]:
        helper = None  # the second process that renders part of the drafts' documents
        with self.store.session() as s:
            # the same locks in the same order as issuing (sequence, routes, visits), so a
            # draft run and an officer's "Udsted" of the month never wait on each other
            issuing.take_write_lock(s, self.store.is_sqlite)
            issuing.lock_month(s, month, self.store.is_sqlite)
            if out_dir is not None and not issue and render.worth_a_helper(
                    _visits_in(s, month), self.render_processes):
                helper = stack.enter_context(render.Helper())  # starts while bills are made
            bills, facts = self._compute(s, month)
            old = list(s.scalars(select(Invoice).where(
                Invoice.month == month, Invoice.status == "draft", Invoice.kind == "invoice")))
            if old:  # a re-run: the old drafts' thousands of items in one statement (not
                # audited, as their insert), the invoice rows through the session (audited)
                s.execute(delete(InvoiceItem).where(
                    InvoiceItem.invoice_id.in_([inv.id for inv in old])))
            for inv in old:
                s.delete(inv)
            s.flush()
            ids = []
            for b in bills:
                ag = s.get(Agreement, b.agreement_id)
                inv = Invoice(kind="invoice", agreement_id=ag.id,
                              municipality_id=ag.municipality_id,
                              department_id=ag.department_id, month=month, status="draft",
                              total=b.total, vat_amount=b.vat_amount,
                              terms=terms_json(b.settings))
                inv.lines = [InvoiceLine(position=i + 1, code=ln.code, text=ln.text,
                                         quantity=ln.quantity, unit=ln.unit, rate=ln.rate,
                                         amount=ln.amount) for i, ln in enumerate(b.lines)]
                s.add(inv)
                s.flush()
                ids.append(inv.id)
            items = [[stored_item(it) for it in b.items] for b in bills]
            drafts = None
            if out_dir is not None and not issue:
                # each draft's documents are made from its bill as soon as it is saved (the
                # second process starts rendering now), not read back invoice by invoice
                drafts = _Drafts(s, month, ids, bills, items, helper)
            # the shares in one executemany with their audit rows, from the visits as
            # compute read them (columns, not thousands of objects loaded again); after the
            # drafts' documents are on their way, as the items below
            now = facts.visits
            audit.update_rows(s, Visit, [
                (vid, now[vid].version,
                 {"km_share": now[vid].km_share, "ferry_share": now[vid].ferry_share},
                 {"km_share": km, "ferry_share": ferry})
                for vid, (km, ferry) in sorted(facts.shares.items())
                if not now[vid].shares_locked
                and (now[vid].km_share, now[vid].ferry_share) != (km, ferry)])
            # the visits in one executemany, not an ORM object each (a month's items are
            # thousands of rows and not audited; the invoice rows above are)
            rows = [{"invoice_id": inv_id, "visit_id": it.visit_id, "date": it.date,
                     "citizen_name": it.citizen_name, "cpr": it.cpr, "outcome": it.outcome,
                     "billable": it.billable, "km_share": it.km_share,
                     "ferry_share": it.ferry_share, "km_planned": it.km_planned, "ekg": it.ekg}
                    for inv_id, its in zip(ids, items) for it in its]
            if rows:
                s.execute(insert(InvoiceItem), rows)
        if drafts is not None:  # drafts with files: written once every one is rendered
            return drafts.write(out_dir) + self._complete_files(month, out_dir, set(ids))
        if issue:  # all or none: check every one before the first number is taken
            day = issue_date or issuing.today()
            with self.store.session() as s:
                for inv_id, b in zip(ids, bills):
                    issuing.refuse_incomplete(s, b, day)
                    _check_einvoice_address(s.get(Invoice, inv_id))
        results = []
        for inv_id in ids:
            if issue:
                self.issue(inv_id, issue_date=issue_date)
            info = self.get(inv_id)
            if out_dir is not None:
                info.files = self.write_files(inv_id, out_dir)
            results.append(info)
        if out_dir is not None:  # a run cut short (killed, disk full) is completed here:
            results += self._complete_files(month, out_dir, set(ids))  # issued, files missing
        return results

    def _complete_files(self, month: str, out_dir, skip: set[int]) -> list[InvoiceInfo]:
        """The month's issued invoices whose files are not (all) in ``out_dir``: written
        from their stored bytes, so a re-run after an interrupted one leaves every file."""
        out = []
        with self.store.session() as s:
            issued = [(inv.id, [d.filename for d in inv.documents]) for inv in s.scalars(
                select(Invoice).where(Invoice.month == month, Invoice.status == "issued")
                .order_by(Invoice.id))]
        for inv_id, names in issued:
            if inv_id in skip or all((Path(out_dir) / n).is_file() for n in names):
                continue
            info = self.get(inv_id)
            info.files = self.write_files(inv_id, out_dir)
            out.append(info)
        return out

    # --- issuing (billing.issuing) -----------------------------------------------------------
    def issue(self, invoice_id: int, issue_date: dt.date | None = None,
              user: str | None = None) -> InvoiceInfo:
        """Recomputes, compares with the draft and numbers it; see ``issuing.issue``."""
        return issuing.issue(self, invoice_id, issue_date, user)

    def issue_month(self, month: str, issue_date: dt.date | None = None,
                    user: str | None = None) -> list[InvoiceInfo]:
        """Issues every draft of the month ("Udsted alle"), one transaction each, in
        municipality order; stops at the first refusal (those issued stay issued)."""
        drafts = [i for i in self.list_invoices(month)
                  if i.status == "draft" and i.kind == "invoice"]
        return [self.issue(i.id, issue_date, user)
                for i in sorted(drafts, key=lambda i: i.municipality_code)]

    def credit_note(self, invoice_id: int, reason: str, issue_date: dt.date | None = None,
                    user: str | None = None, visit_ids=None) -> InvoiceInfo:
        """Credits an issued invoice in full, or the selected visits (``visit_ids``)."""
        return issuing.credit_note(self, invoice_id, reason, issue_date, user, visit_ids)

    def allow_incomplete(self, month: str, municipality_code: int, reason: str,
                         user: str | None = None) -> list[str]:
        """The administrator's audited override for an incomplete month."""
        return issuing.allow_incomplete(self, month, municipality_code, reason, user)

    def decide_duplicates(self, bill=(), drop=(), note: str = "",
                          user: str | None = None) -> None:
        """Finance's decision on visits flagged as duplicates on the draft."""
        issuing.decide_duplicates(self, bill, drop, note, user)

    # --- documents --------------------------------------------------------------------------
    def _store_documents(self, s, inv: Invoice) -> None:
        doc = _doc(s, inv)
        for kind, (filename, content) in render_all(doc).items():
            s.add(InvoiceDocument(invoice_id=inv.id, kind=kind, filename=filename,
                                  content=content, sha256=hashlib.sha256(content).hexdigest()))

    def document_data(self, invoice_id: int) -> InvoiceDoc:
        with self.store.session() as s:
            inv = s.get(Invoice, invoice_id)
            if inv is None:
                raise NotFound(f"faktura {invoice_id} findes ikke")
            return _doc(s, inv)

    def documents(self, invoice_id: int) -> dict[str, tuple[str, bytes]]:
        """kind -> (filename, bytes): the stored bytes of an issued invoice (a re-print is
        byte-identical), freshly rendered for a draft."""
        with self.store.session() as s:
            inv = s.get(Invoice, invoice_id)
            if inv is None:
                raise NotFound(f"faktura {invoice_id} findes ikke")
            if inv.status == "issued":
                return {d.kind: (d.filename, d.content) for d in inv.documents}
            doc = _doc(s, inv)
        return render.draft_documents(doc)

    def document(self, invoice_id: int, kind: str) -> bytes:
        if kind not in DOC_KINDS:
            raise ValidationError(f"ukendt dokumenttype '{kind}'", "dokument")
        docs = self.documents(invoice_id)
        if kind not in docs:
            raise ValidationError(DRAFT_NOT_SENDABLE, "e-faktura")
        return docs[kind][1]

    def write_files(self, invoice_id: int, out_dir: str | Path) -> dict[str, str]:
        return self._write(self.documents(invoice_id), out_dir)

    @staticmethod
    def _write(docs: dict[str, tuple[str, bytes]], out_dir: str | Path) -> dict[str, str]:
        from hjemmeprove.fileio import write_all_atomic

        out = Path(out_dir)
        write_all_atomic({out / filename: content for filename, content in docs.values()})
        return {kind: str(out / filename) for kind, (filename, _c) in docs.items()}

    # --- lists ------------------------------------------------------------------------------
    def get(self, invoice_id: int) -> InvoiceInfo:
        with self.store.session() as s:
            inv = s.get(Invoice, invoice_id)
            if inv is None:
                raise NotFound(f"faktura {invoice_id} findes ikke")
            return self._info(s, inv)

    def list_invoices(self, month: str | None = None) -> list[InvoiceInfo]:
        with self.store.session() as s:
            q = select(Invoice).order_by(Invoice.month, Invoice.number, Invoice.id)
            if month:
                parse_month(month)
                q = q.where(Invoice.month == month)
            return [self._info(s, inv) for inv in s.scalars(q)]

    def _info(self, s, inv: Invoice) -> InvoiceInfo:
        credits = list(s.scalars(select(Invoice).where(Invoice.credits_invoice_id == inv.id)
                                 .order_by(Invoice.id)))
        credited = {it.visit_id for cn in credits for it in cn.items}
        return InvoiceInfo(inv.id, inv.kind, inv.number, inv.status, inv.month,
                           inv.municipality.code, inv.municipality.name, inv.issue_date,
                           inv.due_date, inv.total, inv.vat_amount, _lines(inv),
                           inv.credits_invoice_id, credits[0].id if credits else None,
                           fully_credited=bool(credits) and all(
                               it.visit_id in credited for it in inv.items),
                           reason=inv.credit_reason, override_reason=inv.override_reason)


class _Drafts:
    """A run's drafts' documents, made from the bills just saved (in the run's transaction)
    and rendered here and in the second process (``render.Lanes``) as they are made; their
    ``InvoiceInfo`` from the same rows. The documents are those ``doc_for`` reads back from
    the saved drafts (their own columns and lines are read back as stored; the items are
    stored as ``stored_item`` gives them)."""

    def __init__(self, s, month: str, ids: list[int], bills: list[Bill], items, helper):
        from hjemmeprove.settings import holds_demo_data

        self.month, self.ids, self.bills = month, ids, bills
        heads = {r.id: r for r in s.execute(
            select(Invoice.id, Invoice.total, Invoice.vat_amount, Invoice.terms)
            .where(Invoice.id.in_(ids)))} if ids else {}
        lines: dict[int, list] = {i: [] for i in ids}
        for row in s.execute(select(InvoiceLine.invoice_id, InvoiceLine.code,
                                    InvoiceLine.text, InvoiceLine.quantity, InvoiceLine.unit,
                                    InvoiceLine.rate, InvoiceLine.amount)
                             .where(InvoiceLine.invoice_id.in_(ids))
                             .order_by(InvoiceLine.invoice_id, InvoiceLine.position)):
            lines[row.invoice_id].append(row)
        self.lines = {i: _billed_lines(rows) for i, rows in lines.items()}
        self.heads = {i: DraftHead(i, month, h.total, h.vat_amount, h.terms)
                      for i, h in heads.items()}
        routes, demo = RouteFacts(s), holds_demo_data(s)
        routes.read({it.route_id for its in items for it in its if it.route_id is not None})
        self.lanes = render.Lanes(helper)
        for inv_id, b, its in zip(ids, bills, items):
            self.lanes.add(draft_doc(self.heads[inv_id], s.get(Agreement, b.agreement_id), its,
                                     self.lines[inv_id], routes, demo), len(its))

    def write(self, out_dir) -> list[InvoiceInfo]:
        """Renders what is left, then writes every draft's files at once."""
        rendered = self.lanes.finish()
        results = []
        for inv_id, b, files in zip(self.ids, self.bills, rendered):
            h = self.heads[inv_id]
            info = InvoiceInfo(inv_id, "invoice", None, "draft", self.month, b.municipality_code,
                               b.municipality_name, None, None, h.total, h.vat_amount,
                               self.lines[inv_id])
            info.files = {kind: str(Path(out_dir) / name) for kind, (name, _c) in files.items()}
            results.append(info)
        from hjemmeprove.fileio import write_all_atomic

        write_all_atomic({Path(out_dir) / name: content
                          for files in rendered for name, content in files.values()})
        return results


def _visits_in(s, month: str) -> int:
    """The month's visits (a cheap count): whether a run is large enough for two processes."""
    first, last = parse_month(month)
    return s.scalar(select(func.count()).select_from(Visit)
                    .where(Visit.date >= first, Visit.date <= last))
