"""OIOUBL 2.1 e-invoice and credit note (lxml), for Danish municipalities via NemHandel.

The municipality's EAN (GLN) is the buyer's endpoint; the buyer party has exactly one
contact whose ID is the municipality's person reference; the order reference is given where
the municipality gave one; VAT-exempt services are ZeroRated at 0 % (OIOUBL has no exempt
category). In OIOUBL (unlike plain UBL) LegalMonetaryTotal/TaxExclusiveAmount is the total
VAT amount. ``validate`` checks a document against the OIOUBL 2.1 schemas shipped in
resources/einvoice, ``check_schematron`` against the official OIOUBL schematron rules, and
``check_danish_rules`` checks what a municipality needs besides (endpoint, one contact).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from functools import lru_cache

from lxml import etree

from hjemmeprove import paths
from hjemmeprove.documents.model import InvoiceDoc

NS_INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CN = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NSMAP_CAC_CBC = {"cac": CAC, "cbc": CBC}
UUID_NAMESPACE = uuid.UUID("0b6f4c52-6a57-4b8e-9c1f-4d1f3c2a9e10")
UNIT_CODES = {"stk.": "EA", "km": "KTM", "min": "MIN"}
TAX_SCHEME = ("63", "Moms")
VAT_EXEMPTION_REASON = "Momsfri sundhedsydelse, jf. momsloven § 13, stk. 1, nr. 1"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


class _B:
    """Tiny builder: sub(parent, 'cbc:ID', text, **attrs)."""

    @staticmethod
    def sub(parent, name: str, text=None, **attrs):
        prefix, tag = name.split(":")
        el = etree.SubElement(parent, _q(CAC if prefix == "cac" else CBC, tag))
        for k, v in attrs.items():
            el.set(k, str(v))
        if text is not None:
            el.text = str(text)
        return el


sub = _B.sub


def money(d: Decimal) -> str:
    return f"{Decimal(d).quantize(Decimal('0.01')):f}"


def _qty(d: Decimal) -> str:
    d = Decimal(d)
    return f"{d.normalize():f}" if d == d.to_integral_value() else f"{d:f}"


def _address(parent, party, tag="cac:PostalAddress"):
    addr = sub(parent, tag)
    sub(addr, "cbc:AddressFormatCode", "StructuredDK", listAgencyID="320",
        listID="urn:oioubl:codelist:addressformatcode-1.1")
    street, _, number = (party.address or "").rpartition(" ")
    if street and number[:1].isdigit():
        sub(addr, "cbc:StreetName", street)
        sub(addr, "cbc:BuildingNumber", number)
    else:
        sub(addr, "cbc:StreetName", party.address or party.name)
        sub(addr, "cbc:BuildingNumber", "-")
    sub(addr, "cbc:CityName", party.city or "-")
    sub(addr, "cbc:PostalZone", party.postcode or "-")
    country = sub(addr, "cac:Country")
    sub(country, "cbc:IdentificationCode", "DK")


def _tax_scheme(parent):
    ts = sub(parent, "cac:TaxScheme")
    sub(ts, "cbc:ID", TAX_SCHEME[0], schemeAgencyID="320",
        schemeID="urn:oioubl:id:taxschemeid-1.1")
    sub(ts, "cbc:Name", TAX_SCHEME[1])


def _tax_category(parent, percent: Decimal):
    cat = sub(parent, "cac:TaxCategory")
    sub(cat, "cbc:ID", "StandardRated" if percent else "ZeroRated", schemeAgencyID="320",
        schemeID="urn:oioubl:id:taxcategoryid-1.1")
    sub(cat, "cbc:Percent", _qty(percent) if percent else "0")
    if not percent:
        sub(cat, "cbc:TaxExemptionReason", VAT_EXEMPTION_REASON)
    _tax_scheme(cat)


def _tax_total(parent, taxable: Decimal, tax: Decimal, percent: Decimal):
    tt = sub(parent, "cac:TaxTotal")
    sub(tt, "cbc:TaxAmount", money(tax), currencyID="DKK")
    st = sub(tt, "cac:TaxSubtotal")
    sub(st, "cbc:TaxableAmount", money(taxable), currencyID="DKK")
    sub(st, "cbc:TaxAmount", money(tax), currencyID="DKK")
    _tax_category(st, percent)


def render(doc: InvoiceDoc) -> bytes:
    """The OIOUBL 2.1 Invoice (or CreditNote) for one invoice, as UTF-8 bytes."""
    credit = doc.is_credit
    root_ns = NS_CN if credit else NS_INV
    root = etree.Element(_q(root_ns, "CreditNote" if credit else "Invoice"),
                         nsmap={None: root_ns, **NSMAP_CAC_CBC})
    sub(root, "cbc:UBLVersionID", "2.0")
    sub(root, "cbc:CustomizationID", "OIOUBL-2.01")
    sub(root, "cbc:ProfileID", "urn:www.nesubl.eu:profiles:profile5:ver2.0",
        schemeAgencyID="320", schemeID="urn:oioubl:id:profileid-1.2")
    sub(root, "cbc:ID", doc.ref)
    sub(root, "cbc:CopyIndicator", "false")
    sub(root, "cbc:UUID", str(uuid.uuid5(UUID_NAMESPACE,
                                         f"{doc.kind}:{doc.ref}:{doc.invoice_id}")))
    sub(root, "cbc:IssueDate", (doc.issue_date or doc.period_end).isoformat())
    if not credit:
        sub(root, "cbc:InvoiceTypeCode", "380", listAgencyID="320",
            listID="urn:oioubl:codelist:invoicetypecode-1.1")
    note = (f"Blodprøvetagning i eget hjem, {doc.period_start:%d.%m.%Y}–"
            f"{doc.period_end:%d.%m.%Y}. Aftale {doc.agreement_reference}.")
    if credit:
        note = (f"Kreditnota til faktura nr. {doc.credits_number}. "
                f"Begrundelse: {doc.reason}. " + note)
    if not doc.vat_percent:
        note += f" {VAT_EXEMPTION_REASON}."
    sub(root, "cbc:Note", note)
    sub(root, "cbc:DocumentCurrencyCode", "DKK")
    period = sub(root, "cac:InvoicePeriod")
    sub(period, "cbc:StartDate", doc.period_start.isoformat())
    sub(period, "cbc:EndDate", doc.period_end.isoformat())
    if credit:
        dr = sub(root, "cac:DiscrepancyResponse")
        sub(dr, "cbc:ReferenceID", str(doc.credits_number))
        sub(dr, "cbc:Description", doc.reason or "Kreditering")
    if doc.buyer.order_reference:
        orf = sub(root, "cac:OrderReference")
        sub(orf, "cbc:ID", doc.buyer.order_reference)
    if credit:
        br = sub(root, "cac:BillingReference")
        idr = sub(br, "cac:InvoiceDocumentReference")
        sub(idr, "cbc:ID", str(doc.credits_number))
        if doc.credits_issue_date:
            sub(idr, "cbc:IssueDate", doc.credits_issue_date.isoformat())
    cref = sub(root, "cac:ContractDocumentReference")
    sub(cref, "cbc:ID", doc.agreement_reference)

    # seller
    sp = sub(sub(root, "cac:AccountingSupplierParty"), "cac:Party")
    sub(sp, "cbc:EndpointID", doc.seller.ean, schemeAgencyID="9", schemeID="GLN")
    pid = sub(sp, "cac:PartyIdentification")
    sub(pid, "cbc:ID", f"DK{doc.seller.cvr}", schemeID="DK:CVR")
    sub(sub(sp, "cac:PartyName"), "cbc:Name", f"{doc.seller.unit}, {doc.seller.name}"
        if doc.seller.unit else doc.seller.name)
    _address(sp, doc.seller)
    pts = sub(sp, "cac:PartyTaxScheme")
    sub(pts, "cbc:CompanyID", f"DK{doc.seller.cvr}", schemeID="DK:SE")
    _tax_scheme(pts)
    ple = sub(sp, "cac:PartyLegalEntity")
    sub(ple, "cbc:RegistrationName", doc.seller.unit or doc.seller.name)
    sub(ple, "cbc:CompanyID", f"DK{doc.seller.cvr}", schemeID="DK:CVR")
    if doc.seller.contact_name or doc.seller.contact_email:
        c = sub(sp, "cac:Contact")
        sub(c, "cbc:ID", "Økonomi")
        if doc.seller.contact_name:
            sub(c, "cbc:Name", doc.seller.contact_name)
        if doc.seller.contact_phone:
            sub(c, "cbc:Telephone", doc.seller.contact_phone)
        if doc.seller.contact_email:
            sub(c, "cbc:ElectronicMail", doc.seller.contact_email)

    # buyer: EAN as endpoint, exactly one contact = person reference
    bp = sub(sub(root, "cac:AccountingCustomerParty"), "cac:Party")
    sub(bp, "cbc:EndpointID", doc.buyer.ean, schemeAgencyID="9", schemeID="GLN")
    bid = sub(bp, "cac:PartyIdentification")
    sub(bid, "cbc:ID", doc.buyer.ean, schemeAgencyID="9", schemeID="GLN")
    sub(sub(bp, "cac:PartyName"), "cbc:Name", doc.buyer.name)
    _address(bp, doc.buyer)
    bc = sub(bp, "cac:Contact")
    sub(bc, "cbc:ID", doc.buyer.person_reference)
    if doc.buyer.unit:
        sub(bc, "cbc:Name", doc.buyer.unit)
    if doc.buyer.contact_email:
        sub(bc, "cbc:ElectronicMail", doc.buyer.contact_email)

    if not credit and doc.seller.bank_reg and doc.seller.bank_account:
        # a bank transfer to the department's account (issuing requires the account; a
        # draft without one has no payment means rather than a made-up account)
        pm = sub(root, "cac:PaymentMeans")
        sub(pm, "cbc:ID", "1")
        sub(pm, "cbc:PaymentMeansCode", "42")
        if doc.due_date:
            sub(pm, "cbc:PaymentDueDate", doc.due_date.isoformat())
        sub(pm, "cbc:PaymentChannelCode", "DK:BANK", listAgencyID="320",
            listID="urn:oioubl:codelist:paymentchannelcode-1.1")
        acc = sub(pm, "cac:PayeeFinancialAccount")
        sub(acc, "cbc:ID", doc.seller.bank_account)
        br = sub(acc, "cac:FinancialInstitutionBranch")
        sub(br, "cbc:ID", doc.seller.bank_reg)

    _tax_total(root, doc.total, doc.vat_amount, doc.vat_percent)
    lmt = sub(root, "cac:LegalMonetaryTotal")
    sub(lmt, "cbc:LineExtensionAmount", money(doc.total), currencyID="DKK")
    sub(lmt, "cbc:TaxExclusiveAmount", money(doc.vat_amount), currencyID="DKK")  # OIOUBL: VAT
    sub(lmt, "cbc:TaxInclusiveAmount", money(doc.payable), currencyID="DKK")
    sub(lmt, "cbc:PayableAmount", money(doc.payable), currencyID="DKK")

    for i, line in enumerate(doc.lines, 1):
        el = sub(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
        sub(el, "cbc:ID", str(i))
        unit = UNIT_CODES.get(line.unit, "EA")
        sub(el, "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity",
            _qty(line.quantity), unitCode=unit)
        sub(el, "cbc:LineExtensionAmount", money(line.amount), currencyID="DKK")
        line_vat = (line.amount * doc.vat_percent / 100).quantize(Decimal("0.01")) \
            if doc.vat_percent else Decimal("0")
        _tax_total(el, line.amount, line_vat, doc.vat_percent)
        item = sub(el, "cac:Item")
        sub(item, "cbc:Description", line.text)
        sub(item, "cbc:Name", line.text[:40])
        sid = sub(item, "cac:SellersItemIdentification")
        sub(sid, "cbc:ID", line.code)
        price = sub(el, "cac:Price")
        sub(price, "cbc:PriceAmount", f"{Decimal(line.rate).normalize():f}"
            if Decimal(line.rate) != Decimal(line.rate).quantize(Decimal("0.01"))
            else money(line.rate), currencyID="DKK")
        sub(price, "cbc:BaseQuantity", "1", unitCode=unit)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- validation -----------------------------------------------------------------------------

@lru_cache(maxsize=2)
def schema(kind: str = "invoice") -> etree.XMLSchema:
    name = "UBL-Creditnote-2.0.xsd" if kind == "credit_note" else "UBL-Invoice-2.0.xsd"
    path = paths.resource("einvoice", "oioubl-2.1-xsd", name)
    return etree.XMLSchema(etree.parse(str(path)))


def validate(xml: bytes) -> list[str]:
    """Schema errors (empty list = valid) against the shipped OIOUBL 2.1 schemas."""
    root = etree.fromstring(xml)
    kind = "credit_note" if etree.QName(root).localname == "CreditNote" else "invoice"
    xsd = schema(kind)
    if xsd.validate(root):
        return []
    return [f"linje {e.line}: {e.message[:300]}" for e in xsd.error_log]


@lru_cache(maxsize=2)
def _schematron(kind: str) -> etree.XSLT:
    name = ("OIOUBL_CreditNote_Schematron.xsl" if kind == "credit_note"
            else "OIOUBL_Invoice_Schematron.xsl")
    return etree.XSLT(etree.parse(str(paths.resource("einvoice", "schematron", name))))


def check_schematron(xml: bytes) -> list[str]:
    """The official OIOUBL 2.1 schematron rules (the Agency's, compiled to XSLT 1.0, shipped
    in resources/einvoice/schematron): each error as "[rule id] text (where)". An empty list
    is what NemHandel's own validation requires. It does not check an EAN's check digit;
    ``domain.ean`` does."""
    root = etree.fromstring(xml)
    kind = "credit_note" if etree.QName(root).localname == "CreditNote" else "invoice"
    report = _schematron(kind)(etree.ElementTree(root)).getroot()
    return [f"{e.findtext('Description', '').strip()} ({e.findtext('Xpath', '')})"
            for e in report.iter("Error")]


def check_danish_rules(xml: bytes) -> list[str]:
    """The rules for an invoice to a Danish municipality the schema cannot check."""
    root = etree.fromstring(xml)
    ns = {"cac": CAC, "cbc": CBC}
    errors = []
    ep = root.findall("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", ns)
    if len(ep) != 1 or ep[0].get("schemeID") != "GLN" or ep[0].get("schemeAgencyID") != "9":
        errors.append("køberens EndpointID skal være ét EAN-nummer (schemeID GLN, agency 9)")
    elif not (ep[0].text or "").isdigit() or len(ep[0].text) != 13:
        errors.append(f"køberens EAN '{ep[0].text}' er ikke 13 cifre")
    contacts = (root.findall("cac:AccountingCustomerParty/cac:Party/cac:Contact", ns)
                + root.findall("cac:AccountingCustomerParty/cac:BuyerContact", ns))
    if len(contacts) != 1:
        errors.append(f"køberen skal have præcis én kontakt (har {len(contacts)})")
    elif not (contacts[0].findtext("cbc:ID", namespaces=ns) or "").strip():
        errors.append("køberkontaktens ID (personreference) mangler")

    def amount(path):
        el = root.find(path, ns)
        return Decimal(el.text) if el is not None else None

    line_tag = "CreditNoteLine" if etree.QName(root).localname == "CreditNote" else "InvoiceLine"
    lines = [Decimal(e.text) for e in root.findall(f"cac:{line_tag}/cbc:LineExtensionAmount", ns)]
    lext = amount("cac:LegalMonetaryTotal/cbc:LineExtensionAmount")
    tax = amount("cac:TaxTotal/cbc:TaxAmount")
    tax_excl = amount("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount")
    incl = amount("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount")
    payable = amount("cac:LegalMonetaryTotal/cbc:PayableAmount")
    if lext != sum(lines, Decimal(0)):
        errors.append(f"linjesum {sum(lines, Decimal(0))} ≠ LineExtensionAmount {lext}")
    subtotals = sum((Decimal(e.text) for e in root.findall(
        "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount", ns)), Decimal(0))
    if tax != subtotals or tax_excl != tax:
        errors.append("momsbeløbene stemmer ikke overens")
    if lext is not None and tax is not None and incl != lext + tax:
        errors.append(f"TaxInclusiveAmount {incl} ≠ {lext} + {tax}")
    if payable != incl:
        errors.append("PayableAmount ≠ TaxInclusiveAmount")
    for cat in root.iter(_q(CAC, "TaxCategory")):
        cid = cat.findtext("cbc:ID", namespaces=ns)
        pct = Decimal(cat.findtext("cbc:Percent", default="0", namespaces=ns))
        if (cid == "ZeroRated") != (pct == 0):
            errors.append(f"momskategori {cid} med {pct} %: fritaget skal være ZeroRated 0 %")
    return errors
