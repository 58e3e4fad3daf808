"""The specified statement (§10): every visit behind an invoice, as PDF and as CSV, in a form
the municipality's finance officer can check line by line.

- a totals box: the amount, the visits, the referrals billed, km and ferry minutes;
- every visit: date, the referral number the municipality's reply quoted (``reply.py``), the
  municipality's own reference when it gave one, outcome, billed or not, EKG, its route, its
  km and ferry share (* = planned km). Name and CPR only as far as the agreement's setting
  says (minimal by default: the referral number alone identifies the visit);
- every route the visits were on: its total km and ferry minutes (recorded, else planned),
  how many visits shared it and this municipality's part, so a share can be recomputed;
- the invoice lines, and the settings and sources used.

All text from the database is escaped before it reaches a reportlab Paragraph, and long texts
wrap and flow on to the next page. The CSV goes through ``csvsafe`` (formula-safe text cells).
"""

from __future__ import annotations

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from hjemmeprove.documents import csvsafe
from hjemmeprove.documents.common import (
    FONT,
    FONT_BOLD,
    date_short,
    kr,
    mark_demo,
    number,
    styles,
)
from hjemmeprove.documents.model import InvoiceDoc
from hjemmeprove.documents.rowtable import RowSpec, row_table
from hjemmeprove.domain import formats
from hjemmeprove.domain.labels import outcome_label

GRID = colors.HexColor("#b0b0b0")
HEAD = colors.HexColor("#e8eef4")
BOX = colors.HexColor("#f3f6f9")
ZERO = Decimal(0)


def _title(doc: InvoiceDoc) -> str:
    word = "Kreditnota" if doc.is_credit else "Faktura"
    nr = f"nr. {doc.number}" if doc.number is not None else "(KLADDE – ikke udstedt)"
    return f"Specificeret opgørelse – {word} {nr}"


def _period(doc: InvoiceDoc) -> str:
    return f"{date_short(doc.period_start)} – {date_short(doc.period_end)}"


def _e(text) -> str:
    return escape(str(text or ""))


CELL_PADDING = 6  # reportlab's default left and right padding of a table cell


def _text_cell(text, style, width: float):
    """A visit's free text (the municipality's reference, the citizen's name) in a column
    ``width`` wide: the plain string when it fits on one line (the table draws it directly,
    in the column's font), a Paragraph that wraps only when it does not. Thousands of
    Paragraphs were a third of a month's statement PDFs; the page looks the same."""
    text = str(text or "")
    if "\n" not in text and stringWidth(text, style.fontName, style.fontSize) \
            <= width - 2 * CELL_PADDING:
        return text
    return Paragraph(_e(text), style)


def _route_label(route_id) -> str:
    return f"Rute {route_id}" if route_id is not None else "–"


class Totals:
    def __init__(self, doc: InvoiceDoc):
        self.visits = len(doc.items)
        self.billed = sum(1 for i in doc.items if i.billable)
        self.ekg = sum(1 for i in doc.items if i.ekg)
        self.km = sum((i.km_share for i in doc.items), ZERO)
        self.ferry = sum((i.ferry_share for i in doc.items), ZERO)
        self.shared_routes = sum(1 for r in doc.routes if r.shared)


def render_pdf(doc: InvoiceDoc) -> bytes:
    st = styles()
    buf = io.BytesIO()
    pdf = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=15 * mm,
                            rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm,
                            title=_title(doc), author=doc.seller.name, invariant=1,
                            initialFontName=FONT,
                            subject=f"{doc.buyer.name} {formats.month(doc.month)}")
    mark_demo(pdf, doc.demo)
    small, normal = st["Small"], st["Normal"]
    st["Heading3"].keepWithNext = 1  # a heading never ends a page alone
    story = [Paragraph(_e(_title(doc)), st["Heading1"]),
             Paragraph(f"<b>Fra:</b> {_e(doc.seller.name)}, {_e(doc.seller.unit)} &nbsp; "
                       f"<b>Til:</b> {_e(doc.buyer.name)} (EAN {_e(doc.buyer.ean)}) &nbsp; "
                       f"<b>Periode:</b> {_period(doc)} &nbsp; "
                       f"<b>Aftale:</b> {_e(doc.agreement_reference)}", normal)]
    if doc.is_credit:
        story.append(Paragraph(f"Krediterer faktura nr. {_e(doc.credits_number)}. "
                               f"Begrundelse: {_e(doc.reason)}", normal))
    story += [Spacer(1, 3 * mm), _totals_box(doc, st), Spacer(1, 4 * mm),
              Paragraph("Besøg", st["Heading3"]),
              Paragraph("Henv.nr. er henvisningens nummer fra vores svar på henvisningen. "
                        + ("Personoplysninger vises efter aftalens indstilling."
                           if doc.shows_name else
                           "Efter aftalens indstilling vises kun henvisningsnummeret (ingen "
                           "navne eller CPR-numre)."), small),
              Spacer(1, 1.5 * mm), _visits_table(doc, small)]
    if doc.routes:
        story += [Spacer(1, 5 * mm), Paragraph("Ruter og jeres andel", st["Heading3"]),
                  Paragraph("En rute er én bioanalytikers dag fra laboratoriet og tilbage. Rutens "
                            "km og færgeminutter (registreret, ellers planlagt *) fordeles på "
                            "de besøg, der blev kørt til, også andre kommuners; jeres andel er "
                            "summen af jeres besøgs andele ovenfor.", small),
                  Spacer(1, 1.5 * mm), _routes_table(doc, small)]
    story += [Spacer(1, 5 * mm),
              KeepTogether([Paragraph("Fakturalinjer", st["Heading3"]), _lines_table(doc)]),
              Spacer(1, 5 * mm), Paragraph("Anvendte indstillinger og kilder", st["Heading3"])]
    # a text that fits its column is drawn as it is, in the Paragraph's font and leading
    story.append(Table([[_text_cell(k, small, 70 * mm), _text_cell(v, small, 180 * mm)]
                        for k, v in doc.settings] or [["", ""]],
                       colWidths=[70 * mm, 180 * mm], splitInRow=1, hAlign="LEFT",
                       style=TableStyle([
                           ("VALIGN", (0, 0), (-1, -1), "TOP"),
                           ("FONT", (0, 0), (-1, -1), small.fontName, small.fontSize,
                            small.leading),
                           ("TOPPADDING", (0, 0), (-1, -1), 1),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])))

    def footer(canvas, _doc):
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(15 * mm, 8 * mm, f"{doc.seller.name} · {doc.buyer.name} · "
                                           f"{formats.month(doc.month)} · {_title(doc)}")
        canvas.drawRightString(landscape(A4)[0] - 15 * mm, 8 * mm, f"Side {_doc.page}")
        canvas.restoreState()

    pdf.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _totals_box(doc: InvoiceDoc, st) -> Table:
    t = Totals(doc)
    word = "krediteret" if doc.is_credit else "at betale"
    left = [["Besøg på opgørelsen", number(t.visits, 0)],
            ["Henvisninger faktureret", number(t.billed, 0)],
            ["EKG", number(t.ekg, 0)],
            ["Ruter (heraf delte)", f"{number(len(doc.routes), 0)} ({number(t.shared_routes, 0)})"]]
    right = [["Km-andel i alt", f"{number(t.km, 3)} km"],
             ["Færgetid i alt", f"{number(t.ferry, 1)} min"],
             ["Beløb ekskl. moms" if doc.vat_percent else "Beløb (momsfrit)", kr(doc.total)],
             [f"I alt {word}", kr(doc.payable)]]
    if doc.vat_percent:
        right.insert(3, [f"Moms {number(doc.vat_percent, 2)} %", kr(doc.vat_amount)])
        left.append(["", ""])
    rows = [[a[0], a[1], "", b[0], b[1]] for a, b in zip(left, right)]
    box = Table(rows, colWidths=[50 * mm, 30 * mm, 20 * mm, 50 * mm, 40 * mm])
    box.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9), ("FONT", (3, -1), (4, -1), FONT_BOLD, 10),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"), ("ALIGN", (4, 0), (4, -1), "RIGHT"),
        ("BOX", (0, 0), (-1, -1), 0.8, colors.black), ("BACKGROUND", (0, 0), (-1, -1), BOX),
        ("LINEABOVE", (3, -1), (4, -1), 0.6, colors.black),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    box.hAlign = "LEFT"
    return box


def _visits_table(doc: InvoiceDoc, small):
    head = ["Dato", "Henv.nr.", "Kommunens ref."]
    widths = [21 * mm, 17 * mm, 38 * mm]
    if doc.shows_name:
        head.append("Borger")
        widths.append(55 * mm if doc.shows_cpr else 75 * mm)
    if doc.shows_cpr:
        head.append("CPR-nr.")
        widths.append(24 * mm)
    head += ["Udfald", "Faktureres", "EKG", "Rute", "Km-andel", "Færge-min."]
    widths += [30 * mm, 20 * mm, 11 * mm, 18 * mm, 24 * mm, 22 * mm]
    rows = []
    for it in doc.items:
        row = [date_short(it.date), str(it.request_id or "–"),
               _text_cell(it.municipality_reference, small, widths[2])]
        if doc.shows_name:
            row.append(_text_cell(it.citizen_name, small, widths[3]))
        if doc.shows_cpr:
            row.append(it.cpr)
        row += [outcome_label(it.outcome), "ja" if it.billable else "nej",
                "ja" if it.ekg else "", _route_label(it.route_id),
                number(it.km_share, 3) + (" *" if it.km_planned else ""),
                number(it.ferry_share, 1) if it.ferry_share else ""]
        rows.append(row)
    t = Totals(doc)
    total = ["I alt", f"{t.visits} besøg", ""] + [""] * (doc.shows_name + doc.shows_cpr)
    total += ["", str(t.billed), str(t.ekg) if t.ekg else "", "", number(t.km, 3),
              number(t.ferry, 1)]
    first_num = len(head) - 6
    spec = RowSpec(widths=widths, right={1, *range(first_num + 1, len(head))}, font=FONT,
                   bold=FONT_BOLD, size=8.5, head_fill=HEAD, middle=True,
                   # the free-text columns in the size of their wrapped form (``_text_cell``)
                   column_fonts={c: (small.fontName, small.fontSize)
                                 for c in range(2, 3 + doc.shows_name)})
    return row_table(spec, head, rows, total)


def _routes_table(doc: InvoiceDoc, small):
    head = ["Dato", "Rute", "Km i alt", "Færge-min. i alt", "Besøg i alt", "Heraf jeres",
            "Jeres km", "Jeres færge-min.", ""]
    rows = []
    for r in doc.routes:
        rows.append([date_short(r.date), _route_label(r.route_id),
                     number(r.km, 3) + (" *" if r.km_planned else ""),
                     number(r.ferry_minutes, 1), str(r.visits), str(r.own_visits),
                     number(r.own_km, 3), number(r.own_ferry, 1),
                     "delt med andre besøg" if r.shared else "kun jeres besøg"])
    spec = RowSpec(widths=[21 * mm, 18 * mm, 24 * mm, 30 * mm, 22 * mm, 22 * mm, 24 * mm,
                           30 * mm, 42 * mm],
                   right=set(range(2, 8)), font=FONT, bold=FONT_BOLD, size=8.5, head_fill=HEAD)
    return row_table(spec, head, rows)


def _lines_table(doc: InvoiceDoc) -> Table:
    st = styles()
    rows = [["Linje", "Antal", "Enhed", "Sats", "Beløb"]]
    for ln in doc.lines:
        rows.append([Paragraph(_e(ln.text), st["Small"]),
                     number(ln.quantity, 3 if ln.unit == "km" else 1 if ln.unit == "min" else 0),
                     ln.unit, kr(ln.rate) if ln.rate == ln.rate.quantize(Decimal("0.01"))
                     else number(ln.rate, 4) + " kr.", kr(ln.amount)])
    rows.append(["I alt" + (" (ekskl. moms)" if doc.vat_percent else ""), "", "", "",
                 kr(doc.total)])
    if doc.vat_percent:
        rows.append([f"Moms {number(doc.vat_percent, 2)} %", "", "", "", kr(doc.vat_amount)])
        rows.append(["I alt inkl. moms", "", "", "", kr(doc.payable)])
    t = Table(rows, colWidths=[100 * mm, 30 * mm, 18 * mm, 30 * mm, 35 * mm], hAlign="LEFT")
    t.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9), ("FONT", (0, 0), (-1, 0), FONT_BOLD, 9),
        ("FONT", (0, -1), (-1, -1), FONT_BOLD, 9), ("BACKGROUND", (0, 0), (-1, 0), HEAD),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"), ("ALIGN", (2, 0), (2, -1), "LEFT"),
        ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black)]))
    return t


def render_csv(doc: InvoiceDoc) -> bytes:
    """Semicolon-separated, decimal comma, UTF-8 with BOM (opens in Danish Excel). First the
    visits, then after a blank row the routes, the invoice lines and the settings used.
    Name and CPR columns are empty unless the agreement's setting shows them."""
    num = csvsafe.number
    out = io.StringIO()
    w = csvsafe.writer(out)
    w.writerow([_title(doc), doc.buyer.name, f"EAN {doc.buyer.ean}", _period(doc),
                f"Aftale {doc.agreement_reference}"])
    w.writerow(["dato", "henvisning", "kommunens_reference", "borger", "cpr", "udfald",
                "henvisning_faktureres", "ekg", "rute", "km_andel", "faerge_minutter",
                "km_planlagt", "besoeg_id"])
    for it in doc.items:
        w.writerow([it.date.isoformat(), it.request_id or "", it.municipality_reference,
                    it.citizen_name if doc.shows_name else "", it.cpr if doc.shows_cpr else "",
                    outcome_label(it.outcome), "ja" if it.billable else "nej",
                    "ja" if it.ekg else "nej", it.route_id or "", num(it.km_share, 3),
                    num(it.ferry_share, 1), "ja" if it.km_planned else "nej", it.visit_id])
    t = Totals(doc)
    w.writerow(["I alt", t.visits, "", "", "", "", t.billed, t.ekg, "", num(t.km, 3),
                num(t.ferry, 1), "", ""])
    w.writerow([])
    w.writerow(["rute", "dato", "rute_km", "rute_faerge_minutter", "rute_km_planlagt",
                "besoeg_paa_ruten", "heraf_kommunens", "kommunens_km_andel",
                "kommunens_faerge_minutter", "delt"])
    for r in doc.routes:
        w.writerow([r.route_id, r.date.isoformat(), num(r.km, 3), num(r.ferry_minutes, 1),
                    "ja" if r.km_planned else "nej", r.visits, r.own_visits, num(r.own_km, 3),
                    num(r.own_ferry, 1), "ja" if r.shared else "nej"])
    w.writerow([])
    w.writerow(["linje", "antal", "enhed", "sats", "beloeb"])
    for ln in doc.lines:
        w.writerow([ln.text, num(ln.quantity, 3), ln.unit, num(ln.rate, 4), num(ln.amount, 2)])
    w.writerow(["I alt", "", "", "", num(doc.total, 2)])
    if doc.vat_percent:
        w.writerow(["Moms", "", "", num(doc.vat_percent, 2), num(doc.vat_amount, 2)])
    w.writerow(["I alt at betale" if not doc.is_credit else "I alt krediteret", "", "", "",
                num(doc.payable, 2)])
    w.writerow([])
    w.writerow(["indstilling", "vaerdi"])
    for k, v in doc.settings:
        w.writerow([k, v])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
