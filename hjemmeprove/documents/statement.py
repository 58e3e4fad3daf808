"""The specified statement (§10): every visit behind an invoice, as PDF and as CSV.

Each visit: date, citizen (name, CPR masked unless the agreement asks for the full number),
outcome, km share, ferry share (* = planned km); the totals per invoice line; the settings
used (allocation rule, billable outcomes, sources of the rates).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, LongTable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hjemmeprove.billing.docmodel import OUTCOME_TEXT, InvoiceDoc
from hjemmeprove.documents.common import FONT, FONT_BOLD, date_short, kr, number, styles

GRID = colors.HexColor("#b0b0b0")
HEAD = colors.HexColor("#e8eef4")


def _title(doc: InvoiceDoc) -> str:
    word = "Kreditnota" if doc.is_credit else "Faktura"
    nr = f"nr. {doc.number}" if doc.number is not None else "(KLADDE – ikke udstedt)"
    return f"Specificeret opgørelse – {word} {nr}"


def _period(doc: InvoiceDoc) -> str:
    return f"{date_short(doc.period_start)} – {date_short(doc.period_end)}"


def render_pdf(doc: InvoiceDoc) -> bytes:
    st = styles()
    buf = io.BytesIO()
    pdf = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=15 * mm,
                            rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm,
                            title=_title(doc), author=doc.seller.name, invariant=1,
                            initialFontName=FONT,
                            subject=f"{doc.buyer.name} {doc.month}")
    small = st["Small"]
    story = [Paragraph(_title(doc), st["Heading1"]),
             Paragraph(f"<b>Fra:</b> {doc.seller.name}, {doc.seller.unit} &nbsp; "
                       f"<b>Til:</b> {doc.buyer.name} (EAN {doc.buyer.ean}) &nbsp; "
                       f"<b>Periode:</b> {_period(doc)} &nbsp; "
                       f"<b>Aftale:</b> {doc.agreement_reference}", st["Normal"])]
    if doc.is_credit:
        story.append(Paragraph(f"Krediterer faktura nr. {doc.credits_number}. "
                               f"Begrundelse: {doc.reason}", st["Normal"]))
    story.append(Spacer(1, 4 * mm))

    rows = [["Dato", "Borger", "CPR-nr.", "Udfald", "Henvisning", "EKG", "Km-andel",
             "Færge-min."]]
    for it in doc.items:
        rows.append([date_short(it.date), Paragraph(it.citizen_name, small), it.cpr,
                     OUTCOME_TEXT.get(it.outcome, it.outcome), "ja" if it.billable else "nej",
                     "ja" if it.ekg else "", number(it.km_share, 3) + (" *" if it.km_planned
                                                                       else ""),
                     number(it.ferry_share, 1) if it.ferry_share else ""])
    km = sum((i.km_share for i in doc.items), Decimal(0))
    ferry = sum((i.ferry_share for i in doc.items), Decimal(0))
    rows.append(["I alt", f"{len(doc.items)} besøg", "", "",
                 str(sum(1 for i in doc.items if i.billable)),
                 str(sum(1 for i in doc.items if i.ekg)) or "", number(km, 3), number(ferry, 1)])
    widths = [22 * mm, 70 * mm, 28 * mm, 38 * mm, 24 * mm, 14 * mm, 28 * mm, 26 * mm]
    t = LongTable(rows, colWidths=widths, repeatRows=1)
    t.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 8.5), ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
        ("FONT", (0, -1), (-1, -1), FONT_BOLD, 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD), ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#f6f6f6")]),
        ("ALIGN", (4, 0), (-1, -1), "RIGHT"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))
    story += [t, Spacer(1, 5 * mm),
              KeepTogether([Paragraph("Fakturalinjer", st["Heading3"]), _lines_table(doc)]),
              Spacer(1, 5 * mm), Paragraph("Anvendte indstillinger og kilder", st["Heading3"])]
    story.append(Table([[Paragraph(k, small), Paragraph(v, small)] for k, v in doc.settings],
                       colWidths=[70 * mm, 180 * mm], style=TableStyle([
                           ("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONT", (0, 0), (-1, -1), FONT),
                           ("TOPPADDING", (0, 0), (-1, -1), 1),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])))

    def footer(canvas, _doc):
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(15 * mm, 8 * mm, f"{doc.seller.name} · {doc.buyer.name} · "
                                           f"{doc.month} · {_title(doc)}")
        canvas.drawRightString(landscape(A4)[0] - 15 * mm, 8 * mm, f"Side {_doc.page}")
        canvas.restoreState()

    pdf.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _lines_table(doc: InvoiceDoc) -> Table:
    rows = [["Linje", "Antal", "Enhed", "Sats", "Beløb"]]
    for ln in doc.lines:
        rows.append([ln.text, number(ln.quantity, 3 if ln.unit == "km" else
                                     1 if ln.unit == "min" else 0),
                     ln.unit, kr(ln.rate) if ln.rate == ln.rate.quantize(Decimal("0.01"))
                     else number(ln.rate, 4) + " kr.", kr(ln.amount)])
    rows.append(["I alt" + (" (ekskl. moms)" if doc.vat_percent else ""), "", "", "",
                 kr(doc.total)])
    if doc.vat_percent:
        rows.append([f"Moms {number(doc.vat_percent, 2)} %", "", "", "", kr(doc.vat_amount)])
        rows.append(["I alt inkl. moms", "", "", "", kr(doc.payable)])
    t = Table(rows, colWidths=[100 * mm, 30 * mm, 18 * mm, 30 * mm, 35 * mm])
    t.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9), ("FONT", (0, 0), (-1, 0), FONT_BOLD, 9),
        ("FONT", (0, -1), (-1, -1), FONT_BOLD, 9), ("BACKGROUND", (0, 0), (-1, 0), HEAD),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"), ("ALIGN", (2, 0), (2, -1), "LEFT"),
        ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black)]))
    return t


def _csv_num(d, places: int) -> str:
    return f"{Decimal(d):.{places}f}".replace(".", ",")


def render_csv(doc: InvoiceDoc) -> bytes:
    """Semicolon-separated, decimal comma, UTF-8 with BOM (opens in Danish Excel). First the
    visits, then after a blank row the invoice lines, then the settings used."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow([_title(doc), doc.buyer.name, f"EAN {doc.buyer.ean}", _period(doc),
                f"Aftale {doc.agreement_reference}"])
    w.writerow(["dato", "borger", "cpr", "udfald", "henvisning_faktureres", "ekg", "km_andel",
                "faerge_minutter", "km_planlagt", "besoeg_id"])
    for it in doc.items:
        w.writerow([it.date.isoformat(), it.citizen_name, it.cpr,
                    OUTCOME_TEXT.get(it.outcome, it.outcome), "ja" if it.billable else "nej",
                    "ja" if it.ekg else "nej", _csv_num(it.km_share, 3),
                    _csv_num(it.ferry_share, 1), "ja" if it.km_planned else "nej", it.visit_id])
    w.writerow([])
    w.writerow(["linje", "antal", "enhed", "sats", "beloeb"])
    for ln in doc.lines:
        w.writerow([ln.text, _csv_num(ln.quantity, 3), ln.unit, _csv_num(ln.rate, 4),
                    _csv_num(ln.amount, 2)])
    w.writerow(["I alt", "", "", "", _csv_num(doc.total, 2)])
    if doc.vat_percent:
        w.writerow(["Moms", "", "", _csv_num(doc.vat_percent, 2), _csv_num(doc.vat_amount, 2)])
    w.writerow([])
    w.writerow(["indstilling", "vaerdi"])
    for k, v in doc.settings:
        w.writerow([k, v])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
