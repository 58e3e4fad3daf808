"""From the database to the invoice documents: assembles an ``InvoiceDoc`` (plain data, see
``documents.model``) for an invoice or credit note, names and renders its files, and checks
that the buyer can receive an e-invoice (EAN with a valid check digit, person reference,
postal address) before a number is taken.

The statement's terms (settings used, sources of the rates, notes) are kept as structured
rows on the invoice (``Invoice.terms``, a JSON list of [label, value]); a credit note's reason
has its own column. Nothing is flattened into text and parsed back.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from hjemmeprove.billing.facts import carries_share, parse_month
from hjemmeprove.db.models import Agreement, Invoice, InvoiceItem, Request, Route, Visit
from hjemmeprove.documents.model import (
    DocLine,
    InvoiceDoc,
    ItemRow,
    Party,
    RouteRow,
    VAT_EXEMPT_TEXT,
    filenames,
)
from hjemmeprove.domain.ean import ean_problem
from hjemmeprove.domain.labels import allocation_rule_label, outcome_label, personal_data_label
from hjemmeprove.errors import FieldError, ValidationError
from hjemmeprove.settings import holds_demo_data

ZERO = Decimal("0")


# --- the e-invoice address ------------------------------------------------------------------

def check_einvoice_address(inv: Invoice) -> None:
    """A municipality accepts only an e-invoice to its EAN (GS1 check digit right) with its
    person reference and its postal address (street, postcode, city), from a department with
    a valid EAN and, on an invoice, the bank account to pay to."""
    ag, muni = inv.agreement, inv.municipality
    ean = ag.invoice_ean or muni.ean
    who = f"{muni.name} Kommune"
    errors = []
    problem = ean_problem(ean)
    if problem:
        errors.append(FieldError("EAN", f"{who}s EAN-nummer (aftalen eller kommunen): {problem}"))
    problem = ean_problem(inv.department.ean)
    if problem:
        errors.append(FieldError("afdelingens EAN", f"{inv.department.name}: {problem}"))
    dept = inv.department
    if inv.kind == "invoice" and not (re.fullmatch(r"\d{4}", dept.bank_reg or "")
                                      and re.fullmatch(r"\d{1,10}", dept.bank_account or "")):
        errors.append(FieldError("bankkonto", f"{dept.name} mangler reg.nr. (4 cifre) og "
                                              "kontonummer, som kommunen betaler til"))
    if not ag.person_reference.strip():
        errors.append(FieldError("personreference", f"aftalen med {who} mangler kommunens "
                                                    "personreference"))
    for label, value in (("adresse", muni.address), ("postnr", muni.postcode),
                         ("by", muni.city)):
        if not (value or "").strip() or (value or "").strip() == "-":
            errors.append(FieldError(label, f"{who} mangler {label} (fakturaadressen)"))
    if errors:
        raise ValidationError(errors)


# --- the statement's terms ------------------------------------------------------------------

def settings_rows(ag: Agreement, month, planned, example, missing, notes, table,
                  dates) -> list[tuple[str, str]]:
    """The settings and sources a bill was computed with, as (label, value) rows."""
    outcomes = ", ".join(outcome_label(o).lower() for o in sorted(ag.billable_outcome_set))
    cpr = "fuldt" if ag.statement_full_cpr else "maskeret"
    personal = personal_data_label(ag.statement_personal_data).lower()
    if ag.statement_personal_data == "name_cpr":
        personal += f" ({cpr})"
    rows = [("Fordeling af ruters km og færgetid", allocation_rule_label(ag.allocation_rule)),
            ("Sådan fordeles en rute",
             "en rutes km (registreret, ellers planlagt) fordeles på de besøg, bioanalytikeren "
             "kørte til, efter aftalens regel; andele i km med 3 decimaler og færgeminutter med "
             "1 decimal, så andelene summer præcis til rutens tal; opgørelsen viser hver rutes "
             "km og færgeminutter i alt og jeres andel"),
            ("Udfald der faktureres som henvisning", outcomes),
            ("Færgetid omregnet", f"1 minut = {_n(ag.ferry_speed_kmh)}/60 km "
                                  f"({_n(ag.ferry_speed_kmh)} km/t)"),
            ("Personoplysninger på opgørelsen", personal),
            ("Moms", f"{_n(ag.vat_percent)} %" if ag.vat_percent else VAT_EXEMPT_TEXT),
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


def terms_json(rows) -> list[list[str]]:
    """The rows as stored in ``Invoice.terms``."""
    return [[str(k), str(v)] for k, v in rows]


def _n(d) -> str:
    return format(Decimal(d).normalize(), "f").replace(".", ",")


# --- lines and the document -----------------------------------------------------------------

def lines_of(inv: Invoice):
    """The stored lines with the decimals they were billed with (Numeric columns pad)."""
    return billed_lines(inv.lines)


def billed_lines(rows):
    """``Line``s from stored invoice lines (objects or rows with code, text, quantity, unit,
    rate, amount as the database gives them), with the decimals they were billed with."""
    from hjemmeprove.billing.fees import Line

    places = {"km": Decimal("0.001"), "min": Decimal("0.1")}
    out = []
    for ln in rows:
        qty = ln.quantity.quantize(places.get(ln.unit, Decimal("1")))
        rate = ln.rate.quantize(Decimal("0.01")) if ln.rate == ln.rate.quantize(
            Decimal("0.01")) else ln.rate.normalize()
        out.append(Line(ln.code, ln.text, qty, ln.unit, rate, ln.amount))
    return out


class RouteFacts:
    """Per route: (date, km, ferry minutes, km is planned, visits that carry a share), read
    once for every invoice built in one unchanging session (a billing run's drafts: a route
    several municipalities share is read once, not once each). The one home of what a
    statement's route rows say, for drafts and issued invoices alike."""

    def __init__(self, s):
        self.s = s
        self.known: dict[int, tuple] = {}

    def rows(self, items: list[ItemRow]) -> list[RouteRow]:
        """The route rows of a statement's (sorted) items: each route's totals and the
        items' share of them."""
        own: dict[int, list[ItemRow]] = defaultdict(list)
        for i in items:
            if i.route_id is not None:
                own[i.route_id].append(i)
        self.read(own)
        routes = []
        for rid, mine in own.items():
            date, km, ferry, planned, carriers = self.known[rid]
            routes.append(RouteRow(
                rid, date, km, ferry, planned, max(carriers, len(mine)), len(mine),
                sum((i.km_share for i in mine), ZERO), sum((i.ferry_share for i in mine), ZERO)))
        routes.sort(key=lambda r: (r.date, r.route_id))
        return routes

    def read(self, route_ids) -> None:
        """Reads the routes not yet known (a run reads all its invoices' routes at once)."""
        route_ids = [rid for rid in route_ids if rid not in self.known]
        if not route_ids:
            return
        s = self.s
        carriers: dict[int, int] = defaultdict(int)
        # only the three columns carries_share reads (a row has them by the same names): the
        # routes' visits of every municipality, as whole objects, were a fifth of a run
        for row in s.execute(select(Visit.route_id, Visit.outcome, Request.status)
                             .join(Request, Visit.request_id == Request.id)
                             .where(Visit.route_id.in_(route_ids))):
            if carries_share(row, row):
                carriers[row.route_id] += 1
        self.known.update({r.id: (r.date, r.km or ZERO, r.ferry_minutes or ZERO,
                                  r.km_is_planned, carriers[r.id])
                           for r in s.scalars(select(Route).where(Route.id.in_(route_ids)))})


def _parties(ag: Agreement, dept, muni) -> tuple[Party, Party]:
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
    return seller, buyer


def _assemble(inv, ag, dept, muni, items: list[ItemRow], lines, routes: RouteFacts,
              demo: bool, credits_number=None, credits_date=None) -> InvoiceDoc:
    """The ``InvoiceDoc`` of ``inv`` (an Invoice, or a draft's ``DraftHead``) and its items
    as stored; the one place a document's data is put together."""
    first, last = parse_month(inv.month)
    seller, buyer = _parties(ag, dept, muni)
    items = sorted(items, key=lambda i: (i.date, i.request_id or 0, i.visit_id))
    doc_lines = [DocLine(ln.code, ln.text, ln.quantity, ln.unit, ln.rate, ln.amount)
                 for ln in lines]
    return InvoiceDoc(inv.id, inv.kind, inv.number, inv.status, inv.month, first, last,
                      inv.issue_date, inv.due_date, seller, buyer, muni.code,
                      ag.reference or f"Standardaftale {ag.id}", doc_lines, inv.total,
                      ag.vat_percent, inv.vat_amount, items,
                      [(k, v) for k, v in (inv.terms or [])], credits_number, credits_date,
                      inv.credit_reason or "", routes.rows(items), ag.statement_personal_data,
                      demo=demo)


def doc_for(s, inv: Invoice, routes: RouteFacts | None = None) -> InvoiceDoc:
    """The plain data every document of ``inv`` is rendered from, read from the database.
    ``routes``: a ``RouteFacts`` the caller keeps across the invoices it builds in one
    unchanging session."""
    # the items with their visit's referral and route, as columns: a month's statements
    # are thousands of items, and an ORM object each was a tenth of a billing run
    items = [ItemRow(*row[:10], row.request_id, row.municipality_reference or "",
                     row.route_id)
             for row in s.execute(
                 select(InvoiceItem.visit_id, InvoiceItem.date, InvoiceItem.citizen_name,
                        InvoiceItem.cpr, InvoiceItem.outcome, InvoiceItem.billable,
                        InvoiceItem.km_share, InvoiceItem.ferry_share, InvoiceItem.km_planned,
                        InvoiceItem.ekg, Request.id.label("request_id"),
                        Request.municipality_reference, Visit.route_id)
                 .outerjoin(Visit, InvoiceItem.visit_id == Visit.id)
                 .outerjoin(Request, Visit.request_id == Request.id)
                 .where(InvoiceItem.invoice_id == inv.id).order_by(InvoiceItem.id))]
    credits_number = credits_date = None
    if inv.credits_invoice_id:
        orig = s.get(Invoice, inv.credits_invoice_id)
        credits_number, credits_date = orig.number, orig.issue_date
    return _assemble(inv, inv.agreement, inv.department, inv.municipality, items,
                     lines_of(inv), routes if routes is not None else RouteFacts(s),
                     holds_demo_data(s), credits_number, credits_date)


# the columns of an invoice item as stored: a draft's items are stored and documented alike
KM_PLACES, MINUTE_PLACES = Decimal("0.001"), Decimal("0.1")


def stored_item(it: ItemRow) -> ItemRow:
    """A bill's item as its ``InvoiceItem`` row stores it (km and minutes at the columns'
    decimals), so a draft's documents made from its bill are those read back from it."""
    return ItemRow(it.visit_id, it.date, it.citizen_name, it.cpr, it.outcome, it.billable,
                   Decimal(it.km_share).quantize(KM_PLACES),
                   Decimal(it.ferry_share).quantize(MINUTE_PLACES), it.km_planned, it.ekg,
                   it.request_id, it.municipality_reference, it.route_id)


@dataclass
class DraftHead:
    """A just-saved draft invoice's own columns as the database gives them back."""

    id: int
    month: str
    total: Decimal
    vat_amount: Decimal
    terms: list
    kind: str = "invoice"
    number: int | None = None
    status: str = "draft"
    issue_date: object = None
    due_date: object = None
    credit_reason: str = ""


def draft_doc(head: DraftHead, ag: Agreement, items: list[ItemRow], lines,
              routes: RouteFacts, demo: bool) -> InvoiceDoc:
    """A draft's documents' data from the bill it was just saved from (``items`` as
    ``stored_item`` gives them, ``lines`` and ``head`` read back as stored): the same
    ``InvoiceDoc`` as ``doc_for`` reads back, without reading the invoice's thousands of
    items again."""
    return _assemble(head, ag, ag.department, ag.municipality, items, lines, routes, demo)


# --- files ----------------------------------------------------------------------------------

def render_all(doc: InvoiceDoc) -> dict[str, tuple[str, bytes]]:
    from hjemmeprove.documents import einvoice, invoice_pdf, statement

    names = filenames(doc)
    return {"invoice_pdf": (names["invoice_pdf"], invoice_pdf.render(doc)),
            "statement_pdf": (names["statement_pdf"], statement.render_pdf(doc)),
            "statement_csv": (names["statement_csv"], statement.render_csv(doc)),
            "oioubl": (names["oioubl"], einvoice.render(doc))}
