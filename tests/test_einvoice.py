"""OIOUBL 2.1: every generated invoice and credit note validates against the official
schemas (shipped in resources/einvoice), plus the Danish rules the schema cannot check."""

import datetime as dt
from decimal import Decimal as D

from lxml import etree
from sqlalchemy import select

from hjemmeprove.db.models import Agreement
from hjemmeprove.documents.einvoice import CAC, CBC, check_danish_rules, validate
from tests.factories import municipality_ean
from tests.test_invoice_fixtures import add_route, set_2020_rates

NS = {"cac": CAC, "cbc": CBC}


def _xml(app, invoice_id):
    """The OIOUBL the renderer makes of an invoice's data (a draft is never exported as one)."""
    from hjemmeprove.documents import einvoice

    return einvoice.render(app.billing.document_data(invoice_id))


def _setup(app, order_ref=""):
    set_2020_rates(app)
    with app.store.session() as s:
        for ag in s.scalars(select(Agreement)):
            if ag.municipality.code == 492:
                ag.order_reference = order_ref
    add_route(app, dt.date(2020, 3, 10),
              [dict(code=479, ekg=True), dict(code=479),
               dict(code=492, standalone="60", ferry_link="Svendborg–Ærøskøbing")],
              km="90.5", ferry="140")
    return {i.municipality_code: i for i in app.billing.run("2020-03")}


def test_draft_issued_and_credit_note_validate_against_the_schema(department_app):
    app = department_app
    drafts = _setup(app, order_ref="ORD-77")
    docs = [_xml(app, d.id) for d in drafts.values()]
    inv = app.billing.issue(drafts[492].id, issue_date=dt.date(2020, 4, 1))
    docs.append(app.billing.document(inv.id, "oioubl"))
    cn = app.billing.credit_note(inv.id, "test", issue_date=dt.date(2020, 4, 2))
    cn_xml = app.billing.document(cn.id, "oioubl")
    docs.append(cn_xml)
    for xml in docs:
        assert validate(xml) == []
        assert check_danish_rules(xml) == []
    assert etree.QName(etree.fromstring(cn_xml)).localname == "CreditNote"


def test_buyer_endpoint_contact_order_reference_and_zero_rated(department_app):
    app = department_app
    drafts = _setup(app, order_ref="ORD-77")
    inv = app.billing.issue(drafts[492].id, issue_date=dt.date(2020, 4, 1))
    root = etree.fromstring(app.billing.document(inv.id, "oioubl"))
    party = root.find("cac:AccountingCustomerParty/cac:Party", NS)
    ep = party.find("cbc:EndpointID", NS)
    assert (ep.text, ep.get("schemeID")) == (municipality_ean(492), "GLN")
    contacts = party.findall("cac:Contact", NS)
    assert len(contacts) == 1 and contacts[0].findtext("cbc:ID", namespaces=NS) == "P492"
    assert root.findtext("cac:OrderReference/cbc:ID", namespaces=NS) == "ORD-77"
    assert root.findtext("cbc:ID", namespaces=NS) == str(inv.number)
    cat = root.find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", NS)
    assert cat.findtext("cbc:ID", namespaces=NS) == "ZeroRated"
    assert D(cat.findtext("cbc:Percent", namespaces=NS)) == 0
    payable = D(root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=NS))
    assert payable == inv.total
    lines = root.findall("cac:InvoiceLine", NS)
    assert sum(D(ln.findtext("cbc:LineExtensionAmount", namespaces=NS)) for ln in lines) == \
        inv.total
    # no order reference where the municipality gave none
    other = etree.fromstring(_xml(app, drafts[479].id))
    assert other.find("cac:OrderReference", NS) is None


def test_vat_when_the_agreement_sets_it(department_app):
    app = department_app
    set_2020_rates(app)
    with app.store.session() as s:
        for ag in s.scalars(select(Agreement)):
            ag.vat_percent = D("25")
    add_route(app, dt.date(2020, 3, 10), [dict(code=479)], km="10")
    (d,) = app.billing.run("2020-03")
    xml = _xml(app, d.id)
    assert validate(xml) == [] and check_danish_rules(xml) == []
    root = etree.fromstring(xml)
    assert root.findtext("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID",
                         namespaces=NS) == "StandardRated"
    assert D(root.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=NS)) == d.vat_amount > 0


def test_own_checks_catch_what_the_schema_does_not(department_app):
    app = department_app
    drafts = _setup(app)
    root = etree.fromstring(_xml(app, drafts[479].id))
    party = root.find("cac:AccountingCustomerParty/cac:Party", NS)
    # no buyer contact, a wrong endpoint scheme and totals that do not add up: schema-valid
    party.remove(party.find("cac:Contact", NS))
    party.find("cbc:EndpointID", NS).set("schemeID", "DK:CVR")
    root.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS).text = "1.00"
    xml = etree.tostring(root)
    assert validate(xml) == []
    errors = " ".join(check_danish_rules(xml))
    assert "præcis én kontakt" in errors and "EndpointID" in errors and "PayableAmount" in errors


def test_schema_rejects_a_broken_document(department_app):
    app = department_app
    drafts = _setup(app)
    root = etree.fromstring(_xml(app, drafts[479].id))
    root.remove(root.find("cac:LegalMonetaryTotal", NS))
    root.append(etree.Element(f"{{{CBC}}}Nonsense"))
    assert validate(etree.tostring(root))
