"""The route sheet (kørselsliste): one bioanalyst's day, in order, for the road.

Per stop: planned time and the window promised to the citizen, citizen with the **full** CPR
number (a clinical document handed to the person who takes the sample: identity is checked
against it and the tubes are labelled with it; the footer says so, and every other output keeps
CPR masked), address, how to get in, who must be present, how identity is checked, EKG, phone
and notes; a stop placed only by its postcode is marked; returns to the lab between trips;
ferry crossings; the day's planned km.
"""

from __future__ import annotations

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from hjemmeprove.documents.common import (
    FONT,
    FONT_BOLD,
    clock,
    date_long,
    mark_demo,
    number,
    styles,
)

GRID = colors.HexColor("#b0b0b0")
HEAD = colors.HexColor("#e8eef4")
LAB_ROW = colors.HexColor("#fff4d6")


def _t(t) -> str:
    return clock(t) if t else ""


def render(route, department_name: str = "", lab_address: str = "") -> bytes:
    """``route`` is a services.planning.RouteInfo."""
    st = styles()
    small = st["Small"]
    tiny = ParagraphStyle("Tiny", parent=small, fontSize=7, leading=8.5)
    buf = io.BytesIO()
    title = f"Kørselsliste – {route.analyst} – {date_long(route.date)}"
    pdf = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm,
                            rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=14 * mm,
                            title=title, author=department_name, invariant=1,
                            initialFontName=FONT)
    mark_demo(pdf, getattr(route, "demo", False))
    head = (f"<b>Bioanalytiker:</b> {escape(route.analyst)}"
            + (f" (tlf. {escape(route.analyst_phone)})" if route.analyst_phone else "")
            + f" &nbsp; <b>Afgang og retur:</b> {escape(lab_address or 'laboratoriet')}"
            + f" &nbsp; <b>Besøg:</b> {len(route.stops)}"
            + f" &nbsp; <b>Planlagt:</b> {number(route.km, 1)} km, "
              f"{route.minutes // 60} t {route.minutes % 60:02d} min"
            + (f", heraf færge {number(route.ferry_minutes, 0)} min"
               if route.ferry_minutes else ""))
    story = [Paragraph(escape(title), st["Heading1"]), Paragraph(head, st["Normal"]),
             Spacer(1, 3 * mm)]
    rows = [["Nr.", "Tid", "Vindue", "Borger", "Adresse og adgang", "Til stede / ID", "EKG",
             "Telefon", "Bemærkning", "Udført"]]
    styles_extra = []
    prev_trip = None
    n = 0
    for s in route.stops:
        if prev_trip is not None and s.trip != prev_trip:
            rows.append(["", "", "", Paragraph("<b>Retur til laboratoriet</b> – aflever prøverne"
                                               " (og frokost ved middagstid)", small),
                         "", "", "", "", "", ""])
            styles_extra.append(("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1),
                                 LAB_ROW))
            styles_extra.append(("SPAN", (3, len(rows) - 1), (-1, len(rows) - 1)))
        prev_trip = s.trip
        n += 1
        address = f"<b>{escape(s.address)}</b>"
        if s.leg_ferry_minutes and Decimal(s.leg_ferry_minutes) > 0:
            address = (f"<i>Færge: {escape(s.ferry_link or 'se færgeplan')} "
                       f"({number(s.leg_ferry_minutes, 0)} min)</i><br/>") + address
        if s.access_info:
            address += f"<br/>Adgang: {escape(s.access_info)}"
        if s.position_quality == "approximate":
            address += ("<br/><i>≈ Omtrentlig position (kun postnummer): tiden er usikker, "
                        "find adressen</i>")
        presence = "<br/>".join(escape(x) for x in (s.presence_required, s.identity_check) if x)
        rows.append([
            str(n), _t(s.arrival), f"{_t(s.window[0])}–{_t(s.window[1])}",
            Paragraph(f"{escape(s.citizen_name)}<br/>"
                      f"{escape(getattr(s, 'cpr', '') or s.cpr_masked)}", small),
            Paragraph(address, small), Paragraph(presence, small),
            "EKG" if s.ekg else "", s.phone or "", Paragraph(escape(s.note or ""), small),
            Paragraph("☐ taget<br/>☐ ikke hjemme<br/>☐ afvist", tiny),
        ])
    widths = [9 * mm, 13 * mm, 22 * mm, 38 * mm, 66 * mm, 34 * mm, 11 * mm, 24 * mm, 28 * mm,
              28 * mm]
    table_style = [
        ("FONT", (0, 0), (-1, -1), FONT, 8.5), ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD), ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("GRID", (0, 0), (-1, -1), 0.3, GRID), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    t = LongTable(rows, colWidths=widths, repeatRows=1, splitInRow=1)
    t.setStyle(TableStyle(table_style + styles_extra))
    home_ferry = Decimal(route.ferry_minutes or 0) - sum(
        (Decimal(s.leg_ferry_minutes or 0) for s in route.stops), Decimal(0))
    if home_ferry > 0:
        link = next((s.ferry_link for s in reversed(route.stops) if s.ferry_link), "")
        rows.append(["", "", "", Paragraph(f"<b>Hjem til laboratoriet</b> – færge {escape(link)} "
                                           f"({number(home_ferry, 0)} min)", small),
                     "", "", "", "", "", ""])
        t = None
    if t is None or home_ferry > 0:
        t = LongTable(rows, colWidths=widths, repeatRows=1, splitInRow=1)
        t.setStyle(TableStyle(table_style + styles_extra
                              + [("SPAN", (3, len(rows) - 1), (-1, len(rows) - 1)),
                                 ("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1),
                                  LAB_ROW)]))
    story += [t, Spacer(1, 4 * mm),
              Paragraph("Kørsel ved dagens afslutning: km-tæller ________ km &nbsp;&nbsp; "
                        "færgetid ________ min &nbsp;&nbsp; underskrift ________________",
                        st["Normal"])]
    if route.distance_source:
        story.append(Paragraph(f"Planlagt med afstandskilde: {escape(route.distance_source)}",
                               small))
    from hjemmeprove.contact.qr import navigation_block  # QR: the route on the phone
    story += navigation_block(route, lab_address)

    def footer(canvas, _doc):
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        # two lines: the document's name, then why it carries the full CPR
        canvas.drawString(12 * mm, 10 * mm, f"{department_name} · {title} · "
                                            "Fortroligt: personoplysninger")
        canvas.drawString(12 * mm, 6.5 * mm, "Fuldt CPR-nummer til identifikation og mærkning "
                                             "af prøverør; opbevares og destrueres som "
                                             "journalmateriale")
        canvas.drawRightString(landscape(A4)[0] - 12 * mm, 7 * mm, f"Side {_doc.page}")
        canvas.restoreState()

    pdf.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
