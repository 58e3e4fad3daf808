"""E-invoices NemHandel accepts: a month of demo data, issued and partly credited, passes the
OIOUBL 2.1 schemas and the official OIOUBL schematron with zero errors, and an independent
recomputation from the stored facts agrees with every invoice's totals to the øre."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal as D

import pytest
from sqlalchemy import select
from lxml import etree
from sqlalchemy import text

from hjemmeprove.documents.einvoice import (
    CAC,
    CBC,
    check_danish_rules,
    check_schematron,
    validate,
)
from hjemmeprove.domain.ean import ean_problem

NS = {"cac": CAC, "cbc": CBC}
MONTH = "2026-10"


def r2(x: D) -> D:
    return x.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def _year_rates(conn, year: int) -> tuple[D, D]:
    """P(Y), T(Y) from the 2020 base (Bilag 2), written out again here: an announced rate
    wins, else the previous year's rate × (1 + w/100), rounded half up."""
    p, t = D("147.38"), D("5.16")
    wages = dict(conn.execute(text("SELECT year, percent FROM wage_indexes")).all())
    announced = {(y, k): D(str(a)) for y, k, a in conn.execute(
        text("SELECT year, kind, amount FROM announced_rates")).all()}
    for y in range(2021, year + 1):
        w = D(str(wages[y])) if y in wages else None
        p = announced.get((y, "per_referral")) or r2(p * (1 + w / 100))
        t = announced.get((y, "transport_time")) or r2(t * (1 + w / 100))
    return p, t


def _mileage(conn, day: dt.date) -> D:
    rows = conn.execute(text("SELECT valid_from, amount FROM mileage_rates")).all()
    valid = [(dt.date.fromisoformat(str(f)[:10]), D(str(a))) for f, a in rows]
    return max((f, a) for f, a in valid if f <= day)[1]


def _recompute(conn, invoice_id: int) -> D:
    """The invoice's total from its billed visits and the rate tables, without the billing
    code: quantities are added per rate, each line rounded half up, then summed."""
    ekg_price, speed = conn.execute(text(
        "SELECT a.ekg_price, a.ferry_speed_kmh FROM invoices i JOIN agreements a "
        "ON a.id = i.agreement_id WHERE i.id = :i"), {"i": invoice_id}).one()
    acc: dict[tuple[str, D], D] = defaultdict(D)
    for day, billable, km, ferry, ekg in conn.execute(text(
            "SELECT date, billable, km_share, ferry_share, ekg FROM invoice_items "
            "WHERE invoice_id = :i"), {"i": invoice_id}).all():
        day = dt.date.fromisoformat(str(day)[:10])
        p, t = _year_rates(conn, day.year)
        km, ferry = D(str(km)), D(str(ferry))
        acc[("per_referral", p)] += 1 if billable else 0
        acc[("transport_km", t)] += km
        acc[("ferry", t)] += ferry
        acc[("mileage", _mileage(conn, day))] += km
        if ekg_price is not None:
            acc[("ekg", D(str(ekg_price)))] += 1 if ekg else 0
    factor = D(str(speed)) / 60
    return sum((r2(q * rate * (factor if code == "ferry" else 1))
                for (code, rate), q in acc.items()), D(0))


def _errors(xml: bytes) -> list[str]:
    return validate(xml) + check_schematron(xml) + check_danish_rules(xml)


def test_demo_month_issued_and_credited_passes_xsd_and_schematron(demo_app):
    app = demo_app
    if not app.billing.preview(MONTH):
        pytest.skip(f"demo data has no routes for {MONTH}")
    from tests.test_invoice_demo import _correct_unexplained_ferry

    _correct_unexplained_ferry(app, MONTH)  # the demo's one unexplained ferry figure
    issued = app.billing.run(MONTH, issue=True, issue_date=dt.date(2026, 11, 5))
    assert len(issued) >= 3
    credits = [app.billing.credit_note(inv.id, "Forkert udfald registreret",
                                       issue_date=dt.date(2026, 11, 6))
               for inv in issued[:2]]  # part of the month is credited in full ...
    with app.store.session() as s:  # ... and one invoice for two of its visits
        from hjemmeprove.db.models import InvoiceItem
        two = list(s.scalars(select(InvoiceItem.visit_id)
                             .where(InvoiceItem.invoice_id == issued[2].id,
                                    InvoiceItem.billable.is_(True))
                             .order_by(InvoiceItem.visit_id).limit(2)))
    credits.append(app.billing.credit_note(issued[2].id, "To besøg var ikke hjemme",
                                           issue_date=dt.date(2026, 11, 6), visit_ids=two))
    with app.store.engine.connect() as conn:
        for inv in issued + credits:
            xml = app.billing.document(inv.id, "oioubl")
            assert _errors(xml) == [], (inv.kind, inv.number)
            root = etree.fromstring(xml)
            # NemHandel's address: both endpoints are EANs with a valid check digit, and the
            # buyer has a real postal address
            for party in ("AccountingSupplierParty", "AccountingCustomerParty"):
                ean = root.findtext(f"cac:{party}/cac:Party/cbc:EndpointID", namespaces=NS)
                assert ean_problem(ean) is None, (party, ean)
            addr = root.find("cac:AccountingCustomerParty/cac:Party/cac:PostalAddress", NS)
            assert "-" not in [addr.findtext(f"cbc:{f}", namespaces=NS)
                               for f in ("StreetName", "CityName", "PostalZone")]
            # the independent recomputation agrees to the øre, with the stored total and the
            # e-invoice's amounts
            total = _recompute(conn, inv.id)
            assert total == inv.total, (inv.number, total, inv.total)
            payable = D(root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=NS))
            assert payable == total + inv.vat_amount
            line_tag = "cac:CreditNoteLine" if inv.kind == "credit_note" else "cac:InvoiceLine"
            assert sum(D(e.text) for e in root.findall(f"{line_tag}/cbc:LineExtensionAmount",
                                                       NS)) == total
    assert [c.kind for c in credits] == ["credit_note"] * 3
    assert 0 < credits[2].total < issued[2].total


def test_schematron_finds_what_nemhandel_would_refuse(department_app):
    """The rules really run: a wrong profile and a payable amount that does not add up."""
    from tests.test_einvoice import _setup

    drafts = _setup(department_app)
    from hjemmeprove.documents import einvoice

    # a draft is never sendable; its data through the renderer is what issuing would send
    root = etree.fromstring(einvoice.render(department_app.billing.document_data(drafts[479].id)))
    assert check_schematron(etree.tostring(root)) == []
    root.find("cbc:ProfileID", NS).text = "nonsense"
    root.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS).text = "1.00"
    errors = " ".join(check_schematron(etree.tostring(root)))
    assert "F-LIB302" in errors and "F-INV133" in errors
