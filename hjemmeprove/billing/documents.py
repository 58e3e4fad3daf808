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
    from hjemmeprove.billing.fees import Line

    places = {"km": Decimal("0.001"), "min": Decimal("0.1")}
    out = []
    for ln in inv.lines:
        qty = ln.quantity.quantize(places.get(ln.unit, Decimal("1")))
        rate = ln.rate.quantize(Decimal("0.01")) if ln.rate == ln.rate.quantize(
            Decimal("0.01")) else ln.rate.normalize()
        out.append(Line(ln.code, ln.text, qty, ln.unit, rate, ln.amount))
    return out


def doc_for(s, inv: Invoice, route_facts: dict | None = None) -> InvoiceDoc:
    """The plain data every document of ``inv`` is rendered from. ``route_facts``: a dict the
    caller keeps across the invoices it builds in one unchanging session (a billing run's
    drafts), so a route that several municipalities share is read once, not once each."""
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
    items.sort(key=lambda i: (i.date, i.request_id or 0, i.visit_id))

    own: dict[int, list[ItemRow]] = defaultdict(list)
    for i in items:
        if i.route_id is not None:
            own[i.route_id].append(i)
    routes = []
    if own:
        facts = route_facts if route_facts is not None else {}
        missing = [rid for rid in own if rid not in facts]
        if missing:
            facts.update(_route_facts(s, missing))
        for rid, mine in own.items():
            date, km, ferry, planned, carriers = facts[rid]
            routes.append(RouteRow(
                rid, date, km, ferry, planned, max(carriers, len(mine)), len(mine),
                sum((i.km_share for i in mine), ZERO), sum((i.ferry_share for i in mine), ZERO)))
        routes.sort(key=lambda r: (r.date, r.route_id))

    credits_number = credits_date = None
    if inv.credits_invoice_id:
        orig = s.get(Invoice, inv.credits_invoice_id)
        credits_number, credits_date = orig.number, orig.issue_date
    lines = [DocLine(ln.code, ln.text, ln.quantity, ln.unit, ln.rate, ln.amount)
             for ln in lines_of(inv)]
    return InvoiceDoc(inv.id, inv.kind, inv.number, inv.status, inv.month, first, last,
                      inv.issue_date, inv.due_date, seller, buyer, muni.code,
                      ag.reference or f"Standardaftale {ag.id}", lines, inv.total,
                      ag.vat_percent, inv.vat_amount, items,
                      [(k, v) for k, v in (inv.terms or [])], credits_number, credits_date,
                      inv.credit_reason or "", routes, ag.statement_personal_data,
                      demo=holds_demo_data(s))


def _route_facts(s, route_ids: list[int]) -> dict[int, tuple]:
    """Per route: (date, km, ferry minutes, km is planned, visits that carry a share)."""
    carriers: dict[int, int] = defaultdict(int)
    # only the three columns carries_share reads (a row has them by the same names): the
    # routes' visits of every municipality, as whole objects, were a fifth of a billing run
    for row in s.execute(select(Visit.route_id, Visit.outcome, Request.status)
                         .join(Request, Visit.request_id == Request.id)
                         .where(Visit.route_id.in_(route_ids))):
        if carries_share(row, row):
            carriers[row.route_id] += 1
    return {r.id: (r.date, r.km or ZERO, r.ferry_minutes or ZERO, r.km_is_planned,
                   carriers[r.id])
            for r in s.scalars(select(Route).where(Route.id.in_(route_ids)))}


# --- files ----------------------------------------------------------------------------------

def render_all(doc: InvoiceDoc) -> dict[str, tuple[str, bytes]]:
    from hjemmeprove.documents import einvoice, invoice_pdf, statement

    names = filenames(doc)
    return {"invoice_pdf": (names["invoice_pdf"], invoice_pdf.render(doc)),
            "statement_pdf": (names["statement_pdf"], statement.render_pdf(doc)),
            "statement_csv": (names["statement_csv"], statement.render_csv(doc)),
            "oioubl": (names["oioubl"], einvoice.render(doc))}
