"""The monthly billing run: shares, drafts, issuing with gapless numbers, credit notes.

Which visits a month bills (per agreement, by sampling date):
- visits on a route with a recorded outcome that are not already on an issued invoice that
  has not been credited (so two runs never bill a visit twice);
- visits with no recorded outcome yet are *not billable yet*: they are listed on the
  statement as missing and billed by a later run, after the day close;
- a visit's km/ferry share comes from its route: recorded km and ferry minutes, else the
  planned ones (then the item is marked planned). Visits without an outcome still carry their
  share of the route (the bioanalyst is planned to drive there), so shares do not move when
  their outcome arrives.

A draft can be re-run (it is replaced). ``issue`` numbers it from the gapless sequence under
a row lock, locks the visits' shares and stores the documents' bytes, in one transaction.
An issued invoice is never changed: ``credit_note`` credits it in full (and frees its visits
for a new invoice).
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import hashlib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from hjemmeprove.billing.allocation import VisitWeight, allocate_route
from hjemmeprove.billing.docmodel import RULE_TEXT, InvoiceDoc, ItemRow, OUTCOME_TEXT, Party
from hjemmeprove.billing.fees import Line, Quantities, invoice_lines, round2, total
from hjemmeprove.billing.rates import RateService
from hjemmeprove.db.models import (
    DRIVEN_OUTCOMES,
    Agreement,
    Citizen,
    Invoice,
    InvoiceDocument,
    InvoiceItem,
    InvoiceLine,
    NumberSequence,
    Request,
    Route,
    Setting,
    Visit,
)
from hjemmeprove.domain.cpr import mask_cpr
from hjemmeprove.errors import ConflictError, FieldError, NotFound, ValidationError
from hjemmeprove.security import require

ZERO = Decimal("0")
SEQUENCE = "invoice"  # invoices and credit notes share one gapless series
DOC_KINDS = ("invoice_pdf", "statement_pdf", "statement_csv", "oioubl")


@dataclass(frozen=True)
class MissingVisit:
    visit_id: int
    date: dt.date
    citizen_name: str


@dataclass
class Bill:
    """One municipality's month as it would be billed (plain data)."""

    agreement_id: int
    municipality_code: int
    municipality_name: str
    month: str
    lines: list[Line]
    total: Decimal
    vat_amount: Decimal
    items: list[ItemRow]
    missing: list[MissingVisit]
    notes: list[str]
    settings: list[tuple[str, str]]
    planned_km: bool  # some km share comes from planned figures
    example_rates: bool  # a demo (example) wage percentage is behind a rate

    @property
    def billable_count(self) -> int:
        return sum(1 for i in self.items if i.billable)


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
    credited_by_id: int | None = None
    files: dict[str, str] = field(default_factory=dict)


def parse_month(month: str) -> tuple[dt.date, dt.date]:
    m = re.fullmatch(r"(\d{4})-(\d{2})", str(month).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValidationError(f"'{month}' er ikke en måned (ÅÅÅÅ-MM)", "måned")
    y, mo = int(m.group(1)), int(m.group(2))
    return dt.date(y, mo, 1), dt.date(y, mo, _cal.monthrange(y, mo)[1])


def slug(text: str) -> str:
    text = text.replace("æ", "ae").replace("Æ", "Ae").replace("ø", "oe").replace("Ø", "Oe")
    text = text.replace("å", "aa").replace("Å", "Aa")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


class BillingService:
    def __init__(self, store):
        self.store = store
        self.rates = RateService(store)

    # --- computing --------------------------------------------------------------------------
    def preview(self, month: str) -> list[Bill]:
        """Per municipality: the lines and totals a run would bill now; writes nothing."""
        with self.store.session() as s:
            bills, _shares = self._compute(s, month)
            s.rollback()
        return bills

    def _setting(self, s, key: str, default: str) -> str:
        row = s.get(Setting, key)
        return row.value if row is not None else default

    def _compute(self, s, month: str):
        first, last = parse_month(month)
        table = self.rates.table()
        default_rule = self._setting(s, "billing.allocation_rule", "standalone")
        agreements = {a.id: a for a in s.scalars(
            select(Agreement).options(selectinload(Agreement.municipality),
                                      selectinload(Agreement.department)))}
        rows = s.execute(
            select(Visit, Request, Citizen, Route)
            .join(Request, Visit.request_id == Request.id)
            .join(Citizen, Request.citizen_id == Citizen.id)
            .join(Route, Visit.route_id == Route.id)
            .where(Visit.date >= first, Visit.date <= last)
        ).all()
        credited = set(s.scalars(select(Invoice.credits_invoice_id).where(
            Invoice.kind == "credit_note", Invoice.credits_invoice_id.is_not(None))))
        billed = {vid for vid, inv_id in s.execute(
            select(InvoiceItem.visit_id, Invoice.id).join(Invoice)
            .where(Invoice.kind == "invoice", Invoice.status == "issued")) if inv_id not in credited}

        by_route: dict[int, list] = defaultdict(list)
        for row in rows:
            by_route[row[3].id].append(row)
        shares: dict[int, tuple[Decimal, Decimal]] = {}
        route_notes: dict[int, str] = {}
        for route_id, rrows in by_route.items():
            route = rrows[0][3]
            carriers = [r for r in rrows if _carries_share(r[0], r[1])]
            rules = {agreements[r[1].agreement_id].allocation_rule for r in carriers}
            rule = rules.pop() if len(rules) == 1 else default_rule
            weights = [VisitWeight(v.id, v.standalone_km, v.ferry_link or "",
                                   v.km_share if v.shares_locked else None,
                                   (v.ferry_share or ZERO) if v.shares_locked else None)
                       for v, *_ in sorted(carriers, key=lambda r: (r[0].sequence, r[0].id))]
            alloc = allocate_route(route.km or ZERO, route.ferry_minutes or ZERO, weights, rule)
            for sh in alloc.shares:
                shares[sh.visit_id] = (sh.km, sh.ferry_minutes)
            if alloc.note:
                route_notes[route_id] = alloc.note

        per_agreement: dict[int, list] = defaultdict(list)
        for row in rows:
            per_agreement[row[1].agreement_id].append(row)
        bills = []
        for agreement_id in sorted(per_agreement, key=lambda a: agreements[a].municipality.code):
            ag = agreements[agreement_id]
            billable_outcomes = ag.billable_outcome_set
            items, missing, notes, groups = [], [], [], {}
            planned = example = False
            outside = 0
            for v, req, cit, route in sorted(per_agreement[agreement_id],
                                             key=lambda r: (r[0].date, r[0].id)):
                if v.id in billed:
                    continue
                if req.status == "not_eligible" or not ag.in_force(v.date):
                    outside += 1  # §13 / rule 1: never billed
                    continue
                if v.outcome is None:
                    if req.status != "cancelled":
                        missing.append(MissingVisit(v.id, v.date, cit.name))
                    continue
                km, ferry = shares.get(v.id, (ZERO, ZERO))
                is_billable = v.outcome in billable_outcomes
                ekg = v.outcome == "taken" and (
                    v.ekg_done or (req.ekg and route.closed_at is None))
                km_planned = route.km_is_planned and v.id in shares
                cpr = cit.cpr if ag.statement_full_cpr else mask_cpr(cit.cpr)
                items.append(ItemRow(v.id, v.date, cit.name, cpr, v.outcome, is_billable,
                                     km, ferry, km_planned, ekg))
                planned |= km_planned
                if route.id in route_notes and route_notes[route.id] not in notes:
                    notes.append(route_notes[route.id])
                r = table.rates_on(v.date)  # MissingRate refuses the month, naming the figure
                example |= r.example
                key = r.line_rates()
                q = groups.get(key, Quantities())
                groups[key] = q + Quantities(int(is_billable), km, ferry,
                                             int(ekg and ag.ekg_price is not None))
            if outside:
                notes.append(f"{outside} besøg uden for aftalens periode eller ikke omfattet "
                             "faktureres ikke")
            if not any(i.billable or i.km_share or i.ferry_share for i in items):
                continue
            lines = invoice_lines([(q, r) for r, q in groups.items()], ag.ekg_price,
                                  ag.ferry_speed_kmh)
            tot = total(lines)
            vat = round2(tot * ag.vat_percent / 100)
            settings = _settings_rows(ag, month, planned, example, missing, notes, table,
                                      sorted({i.date for i in items}))
            bills.append(Bill(agreement_id, ag.municipality.code, ag.municipality.name, month,
                              lines, tot, vat, items, missing, notes, settings, planned, example))
        return bills, shares

    # --- the run ----------------------------------------------------------------------------
    def run(self, month: str, out_dir: str | Path | None = None, issue: bool = False,
            issue_date: dt.date | None = None) -> list[InvoiceInfo]:
        """Replaces the month's drafts, stores the visits' (unlocked) shares, optionally issues
        each draft, and writes every municipality's files into ``out_dir``."""
        parse_month(month)
        require(self.store, "invoices.draft")
        if issue:
            require(self.store, "invoices.issue")
        with self.store.session() as s:
            bills, shares = self._compute(s, month)
            visits = {v.id: v for v in s.scalars(select(Visit).where(
                Visit.id.in_(list(shares)), Visit.shares_locked.is_(False)))} if shares else {}
            for vid, v in visits.items():
                km, ferry = shares[vid]
                if v.km_share != km or v.ferry_share != ferry:
                    v.km_share, v.ferry_share = km, ferry
            old = list(s.scalars(select(Invoice).where(
                Invoice.month == month, Invoice.status == "draft", Invoice.kind == "invoice")))
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
                              settings_text=_settings_text(b.settings))
                inv.lines = [InvoiceLine(position=i + 1, code=ln.code, text=ln.text,
                                         quantity=ln.quantity, unit=ln.unit, rate=ln.rate,
                                         amount=ln.amount) for i, ln in enumerate(b.lines)]
                inv.items = [InvoiceItem(visit_id=it.visit_id, date=it.date,
                                         citizen_name=it.citizen_name, cpr=it.cpr,
                                         outcome=it.outcome, billable=it.billable,
                                         km_share=it.km_share, ferry_share=it.ferry_share,
                                         km_planned=it.km_planned, ekg=it.ekg)
                             for it in b.items]
                s.add(inv)
                s.flush()
                ids.append(inv.id)
        if issue:  # all or none: check every address before the first number is taken
            with self.store.session() as s:
                for inv_id in ids:
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

    # --- issuing ----------------------------------------------------------------------------
    def _ensure_sequence(self) -> None:
        with self.store.session() as s:
            if s.get(NumberSequence, SEQUENCE) is not None:
                return
            first = int(self._setting(s, "invoice.first_number", "1"))
        try:
            with self.store.session() as s:
                s.add(NumberSequence(name=SEQUENCE, last_value=first - 1))
        except IntegrityError:  # someone else created it at the same moment: fine
            pass

    def _next_number(self, s) -> int:
        seq = s.execute(select(NumberSequence).where(NumberSequence.name == SEQUENCE)
                        .with_for_update()).scalar_one()
        seq.last_value += 1
        return seq.last_value

    def issue(self, invoice_id: int, issue_date: dt.date | None = None,
              user: str | None = None) -> InvoiceInfo:
        """Numbers a draft and locks it, its statement and its visits' shares; one transaction.

        The number comes from NumberSequence incremented under SELECT … FOR UPDATE (on SQLite
        the database write lock serialises it), in the same transaction that sets the
        invoice's number and status, so numbers are gapless and unique however many issue at
        once. Refuses (ConflictError) an invoice that is not a draft, or whose visits another
        issued invoice has billed meanwhile.
        """
        require(self.store, "invoices.issue")
        self._ensure_sequence()
        issue_date = issue_date or dt.date.today()
        with self.store.session(user=user) as s:
            _take_write_lock(s, self.store.is_sqlite)
            inv = _locked_invoice(s, invoice_id)
            if inv.status != "draft":
                raise ConflictError(f"faktura {invoice_id} er allerede udstedt (nr. {inv.number})")
            _check_einvoice_address(inv)
            visit_ids = [it.visit_id for it in inv.items]
            visits = list(s.scalars(select(Visit).where(Visit.id.in_(visit_ids))
                                    .with_for_update())) if visit_ids else []
            locked = [v.id for v in visits if v.shares_locked]
            if locked:
                raise ConflictError(f"{len(locked)} besøg er allerede faktureret på en udstedt "
                                    "faktura; kør måneden igen")
            items = {it.visit_id: it for it in inv.items}
            for v in visits:
                v.km_share, v.ferry_share = items[v.id].km_share, items[v.id].ferry_share
                v.shares_locked = True
            inv.number = self._next_number(s)
            inv.status = "issued"
            inv.issue_date = issue_date
            inv.due_date = issue_date + dt.timedelta(days=inv.department.payment_days or 30)
            inv.issued_by = s.info.get("user", "")
            s.flush()
            self._store_documents(s, inv)
            return self._info(s, inv)

    def credit_note(self, invoice_id: int, reason: str, issue_date: dt.date | None = None,
                    user: str | None = None) -> InvoiceInfo:
        """Credits an issued invoice in full with a numbered credit note that references it,
        and frees its visits for a new invoice (run the month again). One transaction."""
        if not reason or not reason.strip():
            raise ValidationError("angiv hvorfor fakturaen krediteres", "begrundelse")
        require(self.store, "invoices.issue")
        self._ensure_sequence()
        issue_date = issue_date or dt.date.today()
        with self.store.session(user=user) as s:
            _take_write_lock(s, self.store.is_sqlite)
            orig = _locked_invoice(s, invoice_id)
            if orig.kind != "invoice" or orig.status != "issued":
                raise ValidationError("kun en udstedt faktura kan krediteres", "faktura")
            if s.scalar(select(Invoice.id).where(Invoice.credits_invoice_id == orig.id)):
                raise ConflictError(f"faktura nr. {orig.number} er allerede krediteret")
            cn = Invoice(kind="credit_note", agreement_id=orig.agreement_id,
                         municipality_id=orig.municipality_id,
                         department_id=orig.department_id, month=orig.month, status="issued",
                         total=orig.total, vat_amount=orig.vat_amount,
                         credits_invoice_id=orig.id,
                         settings_text=f"Begrundelse: {reason.strip()}\n" + orig.settings_text)
            cn.lines = [InvoiceLine(position=ln.position, code=ln.code, text=ln.text,
                                    quantity=ln.quantity, unit=ln.unit, rate=ln.rate,
                                    amount=ln.amount) for ln in orig.lines]
            cn.items = [InvoiceItem(visit_id=it.visit_id, date=it.date,
                                    citizen_name=it.citizen_name, cpr=it.cpr, outcome=it.outcome,
                                    billable=it.billable, km_share=it.km_share,
                                    ferry_share=it.ferry_share, km_planned=it.km_planned,
                                    ekg=it.ekg) for it in orig.items]
            s.add(cn)
            visit_ids = [it.visit_id for it in orig.items]
            for v in s.scalars(select(Visit).where(Visit.id.in_(visit_ids))):
                v.shares_locked = False
            cn.number = self._next_number(s)
            cn.issue_date = issue_date
            cn.due_date = issue_date
            cn.issued_by = s.info.get("user", "")
            s.flush()
            self._store_documents(s, cn)
            return self._info(s, cn)

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
        return render_all(doc)

    def document(self, invoice_id: int, kind: str) -> bytes:
        if kind not in DOC_KINDS:
            raise ValidationError(f"ukendt dokumenttype '{kind}'", "dokument")
        return self.documents(invoice_id)[kind][1]

    def write_files(self, invoice_id: int, out_dir: str | Path) -> dict[str, str]:
        from hjemmeprove.fileio import write_all_atomic

        out = Path(out_dir)
        docs = self.documents(invoice_id)
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
        credited_by = s.scalar(select(Invoice.id).where(Invoice.credits_invoice_id == inv.id))
        return InvoiceInfo(inv.id, inv.kind, inv.number, inv.status, inv.month,
                           inv.municipality.code, inv.municipality.name, inv.issue_date,
                           inv.due_date, inv.total, inv.vat_amount, _lines(inv),
                           inv.credits_invoice_id, credited_by)


# --- helpers ------------------------------------------------------------------------------------

def _take_write_lock(s, is_sqlite: bool) -> None:
    """Serialise issuing before anything is read. PostgreSQL: the sequence row under
    SELECT … FOR UPDATE (a second officer waits here until the first commits). SQLite: a
    first statement that writes takes the database write lock (waiting up to busy_timeout),
    so a deferred read snapshot can never go stale and fail with 'database is locked'."""
    if is_sqlite:
        s.execute(update(NumberSequence).where(NumberSequence.name == SEQUENCE)
                  .values(last_value=NumberSequence.last_value))
    else:
        s.execute(select(NumberSequence.name).where(NumberSequence.name == SEQUENCE)
                  .with_for_update())


def _check_einvoice_address(inv: Invoice) -> None:
    """A municipality accepts only an e-invoice to its EAN with its person reference."""
    ag = inv.agreement
    ean = ag.invoice_ean or inv.municipality.ean
    errors = []
    if not (ean.isdigit() and len(ean) == 13):
        errors.append(FieldError("EAN", f"{inv.municipality.name} Kommunes EAN-nummer mangler "
                                        "eller er ikke 13 cifre (aftalen eller kommunen)"))
    if not ag.person_reference.strip():
        errors.append(FieldError("personreference", f"aftalen med {inv.municipality.name} "
                                                    "mangler kommunens personreference"))
    if errors:
        raise ValidationError(errors)


def _carries_share(v: Visit, req: Request) -> bool:
    """Driven to (taken, not home, refused), or planned and not yet recorded."""
    if v.outcome is not None:
        return v.outcome in DRIVEN_OUTCOMES
    return req.status != "cancelled"


def _lines(inv: Invoice) -> list[Line]:
    """The stored lines with the decimals they were billed with (Numeric columns pad)."""
    places = {"km": Decimal("0.001"), "min": Decimal("0.1")}
    out = []
    for ln in inv.lines:
        qty = ln.quantity.quantize(places.get(ln.unit, Decimal("1")))
        rate = ln.rate.quantize(Decimal("0.01")) if ln.rate == ln.rate.quantize(
            Decimal("0.01")) else ln.rate.normalize()
        out.append(Line(ln.code, ln.text, qty, ln.unit, rate, ln.amount))
    return out


def _settings_rows(ag: Agreement, month, planned, example, missing, notes, table,
                   dates) -> list[tuple[str, str]]:
    outcomes = ", ".join(OUTCOME_TEXT.get(o, o).lower() for o in sorted(ag.billable_outcome_set))
    rows = [("Fordeling af ruters km og færgetid", RULE_TEXT.get(ag.allocation_rule,
                                                                 ag.allocation_rule)),
            ("Udfald der faktureres som henvisning", outcomes),
            ("Færgetid omregnet", f"1 minut = {_n(ag.ferry_speed_kmh)}/60 km "
                                  f"({_n(ag.ferry_speed_kmh)} km/t)"),
            ("CPR på opgørelsen", "fuldt" if ag.statement_full_cpr else "maskeret"),
            ("Moms", f"{_n(ag.vat_percent)} %" if ag.vat_percent else
                     "ingen (offentlig sundhedsydelse mellem myndigheder)"),
            ("EKG-pris", f"{_n(ag.ekg_price)} kr." if ag.ekg_price is not None else "ikke aftalt")]
    seen = set()
    for d in dates:
        r = table.rates_on(d)
        for label, src in (("Fast pris", r.per_referral_source),
                           ("Transporttid", r.transport_time_source),
                           ("Kørselstakst", r.mileage_source)):
            if (label, src) not in seen:
                seen.add((label, src))
                rows.append((f"Kilde – {label} {d.year}", src))
    if example:
        rows.append(("BEMÆRK", "satserne bygger på EKSEMPEL-procenter (demodata), ikke "
                               "offentliggjorte tal"))
    if planned:
        rows.append(("Planlagte km", "* = rutens km er endnu ikke registreret; planlagte km er brugt"))
    for note in notes:
        rows.append(("Bemærkning", note))
    if missing:
        days = ", ".join(sorted({m.date.strftime("%d.%m.") for m in missing}))
        rows.append(("Mangler udfald", f"{len(missing)} besøg uden registreret udfald "
                                       f"({days}) faktureres ved en senere kørsel"))
    return rows


def _n(d) -> str:
    return format(Decimal(d).normalize(), "f").replace(".", ",")


def _settings_text(rows: list[tuple[str, str]]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in rows)


def _parse_settings(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            out.append((k, v))
    return out


def _doc(s, inv: Invoice) -> InvoiceDoc:
    ag, dept, muni = inv.agreement, inv.department, inv.municipality
    first, last = parse_month(inv.month)
    seller = Party(name=dept.name, unit=dept.hospital, address=dept.lab_address,
                   postcode=dept.lab_postcode, city=dept.lab_city, ean=dept.ean, cvr=dept.cvr,
                   contact_name=dept.contact_name, contact_email=dept.contact_email,
                   contact_phone=dept.contact_phone, bank_reg=dept.bank_reg,
                   bank_account=dept.bank_account)
    buyer = Party(name=f"{muni.name} Kommune", unit=muni.contact_name, address=muni.address,
                  postcode=muni.postcode, city=muni.city, ean=ag.invoice_ean or muni.ean,
                  contact_name=muni.contact_name, contact_email=muni.contact_email,
                  contact_phone=muni.contact_phone, person_reference=ag.person_reference,
                  order_reference=ag.order_reference)
    items = sorted((ItemRow(it.visit_id, it.date, it.citizen_name, it.cpr, it.outcome,
                            it.billable, it.km_share, it.ferry_share, it.km_planned, it.ekg)
                    for it in inv.items), key=lambda i: (i.date, i.citizen_name, i.visit_id))
    settings = _parse_settings(inv.settings_text)
    reason = ""
    if settings and settings[0][0] == "Begrundelse":
        reason = settings[0][1]
    credits_number = credits_date = None
    if inv.credits_invoice_id:
        orig = s.get(Invoice, inv.credits_invoice_id)
        credits_number, credits_date = orig.number, orig.issue_date
    return InvoiceDoc(inv.id, inv.kind, inv.number, inv.status, inv.month, first, last,
                      inv.issue_date, inv.due_date, seller, buyer, muni.code,
                      ag.reference or f"Standardaftale {ag.id}", _lines(inv), inv.total,
                      ag.vat_percent, inv.vat_amount, items, settings, credits_number,
                      credits_date, reason)


def filenames(doc: InvoiceDoc) -> dict[str, str]:
    word = "kreditnota" if doc.is_credit else "faktura"
    base = f"{doc.month}_{doc.municipality_code}-{slug(doc.buyer.name)}_{word}-{doc.ref.lower()}"
    return {"invoice_pdf": f"{base}.pdf", "statement_pdf": f"{base}_opgoerelse.pdf",
            "statement_csv": f"{base}_opgoerelse.csv", "oioubl": f"{base}_oioubl.xml"}


def render_all(doc: InvoiceDoc) -> dict[str, tuple[str, bytes]]:
    from hjemmeprove.documents import einvoice, invoice_pdf, statement

    names = filenames(doc)
    return {"invoice_pdf": (names["invoice_pdf"], invoice_pdf.render(doc)),
            "statement_pdf": (names["statement_pdf"], statement.render_pdf(doc)),
            "statement_csv": (names["statement_csv"], statement.render_csv(doc)),
            "oioubl": (names["oioubl"], einvoice.render(doc))}


def _locked_invoice(s, invoice_id: int) -> Invoice:
    """The invoice row, locked for this transaction (FOR UPDATE on PostgreSQL)."""
    inv = s.execute(select(Invoice).where(Invoice.id == invoice_id)
                    .with_for_update()).scalar_one_or_none()
    if inv is None:
        raise NotFound(f"faktura {invoice_id} findes ikke")
    return inv
