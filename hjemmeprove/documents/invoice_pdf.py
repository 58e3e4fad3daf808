"""The invoice (or credit note) as PDF: seller, buyer, number, dates, lines, total (Danish)."""

from __future__ import annotations

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hjemmeprove.documents.model import VAT_EXEMPT_TEXT, InvoiceDoc
from hjemmeprove.documents.common import (
    FONT,
    FONT_BOLD,
    date_short,
    kr,
    mark_demo,
    number,
    styles,
)

HEAD = colors.HexColor("#e8eef4")


def render(doc: InvoiceDoc) -> bytes:
    st = styles()
    buf = io.BytesIO()
    word = "Kreditnota" if doc.is_credit else "Faktura"
    pdf = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm, invariant=1,
                            initialFontName=FONT,
                            title=f"{word} {doc.ref}", author=doc.seller.name)
    mark_demo(pdf, doc.demo)
    n, small = st["Normal"], st["Small"]
    s, b = doc.seller, doc.buyer
    e = _e
    seller = (f"<b>{e(s.unit)}</b><br/>{e(s.name)}<br/>{e(s.address)}<br/>{e(s.postcode)} "
              f"{e(s.city)}<br/>CVR-nr. {e(s.cvr)}<br/>EAN-nr. {e(s.ean)}"
              + (f"<br/>{e(s.contact_name)}" if s.contact_name else "")
              + (f"<br/>{e(s.contact_email)}" if s.contact_email else "")
              + (f"<br/>Tlf. {e(s.contact_phone)}" if s.contact_phone else ""))
    buyer = (f"<b>{e(b.name)}</b>" + (f"<br/>{e(b.unit)}" if b.unit else "")
             + (f"<br/>{e(b.address)}" if b.address else "")
             + (f"<br/>{e(b.postcode)} {e(b.city)}" if b.postcode else "")
             + f"<br/>EAN-nr. {e(b.ean)}"
             + (f"<br/>Personreference: {e(b.person_reference)}" if b.person_reference else "")
             + (f"<br/>Ordrenr.: {e(b.order_reference)}" if b.order_reference else ""))
    head = Table([[Paragraph("<b>Sælger</b>", small), Paragraph("<b>Køber</b>", small)],
                  [Paragraph(seller, n), Paragraph(buyer, n)]], colWidths=[85 * mm, 85 * mm])
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONT", (0, 0), (-1, -1), FONT)]))
    draft = doc.number is None
    facts = [
        [f"{word}nr.", doc.ref if not draft else "KLADDE – ikke udstedt"],
        [f"{word}dato", date_short(doc.issue_date) if doc.issue_date else "–"],
        ["Periode", f"{date_short(doc.period_start)} – {date_short(doc.period_end)}"],
        ["Aftale", doc.agreement_reference],
    ]
    if doc.is_credit:
        facts.append(["Krediterer faktura nr.", str(doc.credits_number)])
        facts.append(["Begrundelse", doc.reason])
    else:
        facts.append(["Forfaldsdato", date_short(doc.due_date) if doc.due_date else
                      "fastsættes ved udstedelse"])
    ft = Table([[Paragraph(e(k), n), Paragraph(e(v), n)] for k, v in facts],
               colWidths=[45 * mm, 125 * mm], splitInRow=1)
    ft.setStyle(TableStyle([("TOPPADDING", (0, 0), (-1, -1), 1), ("FONT", (0, 0), (-1, -1), FONT),
                            ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))

    rows = [["Tekst", "Antal", "Enhed", "Pris", "Beløb"]]
    for ln in doc.lines:
        places = 3 if ln.unit == "km" else 1 if ln.unit == "min" else 0
        rate = kr(ln.rate) if ln.rate == ln.rate.quantize(Decimal("0.01")) else \
            number(ln.rate, 4) + "\xa0kr."
        rows.append([Paragraph(e(ln.text), n), number(ln.quantity, places), ln.unit, rate,
                     kr(ln.amount)])
    if doc.vat_percent:
        rows.append(["Subtotal", "", "", "", kr(doc.total)])
        rows.append([f"Moms {number(doc.vat_percent, 2)} %", "", "", "", kr(doc.vat_amount)])
    rows.append(["I alt at betale" if not doc.is_credit else "I alt krediteret", "", "", "",
                 kr(doc.payable)])
    lt = Table(rows, colWidths=[72 * mm, 26 * mm, 14 * mm, 26 * mm, 32 * mm], splitInRow=1)
    lt.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9.5), ("FONT", (0, 0), (-1, 0), FONT_BOLD, 9.5),
        ("FONT", (0, -1), (-1, -1), FONT_BOLD, 10.5), ("BACKGROUND", (0, 0), (-1, 0), HEAD),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"), ("ALIGN", (2, 0), (2, -1), "LEFT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ("LINEBELOW", (0, -1), (-1, -1), 0.8, colors.black)]))
    vat_text = f"{VAT_EXEMPT_TEXT[0].upper()}{VAT_EXEMPT_TEXT[1:]}." if not doc.vat_percent else ""
    story = [Paragraph(f"{word}{' (KLADDE)' if draft else ''}", st["Title"]), head,
             Spacer(1, 6 * mm), ft, Spacer(1, 6 * mm), lt, Spacer(1, 4 * mm)]
    if vat_text:
        story.append(Paragraph(vat_text, small))
    for key, value in doc.settings:
        if key in ("BEMÆRK", "Planlagte km"):
            story.append(Paragraph(f'<font color="#b00000"><b>{e(key)}:</b> {e(value)}</font>',
                                   small))
    story.append(Paragraph(
        f"Blodprøvetagning i eget hjem efter rammeaftale og standardaftale "
        f"{e(doc.agreement_reference)}, beregnet efter Bilag 2. Specifikation: se den "
        f"specificerede opgørelse for samme periode ({len(doc.items)} besøg).", small))
    if not doc.is_credit:
        story += [Spacer(1, 4 * mm), Paragraph(
            f"<b>Betaling</b> senest {date_short(doc.due_date) if doc.due_date else '–'} til "
            + (f"reg.nr. {e(s.bank_reg)} konto {e(s.bank_account)}" if s.bank_account else
               "afdelingens konto (bankoplysninger er ikke indtastet)")
            + f", mærket {word.lower()} nr. {doc.ref}. Fakturaen sendes elektronisk (OIOUBL) "
            f"til EAN {e(b.ean)}.", n)]
    pdf.build(story)
    return buf.getvalue()


def _e(text) -> str:
    return escape(str(text or ""))
