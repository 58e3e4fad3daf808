"""Replies to a municipality (§5): per booking request the date and approximate time window,
as CSV (for the municipality's system) and as a PDF list. CPR is masked; the request number
identifies the booking on both sides.
"""

from __future__ import annotations

import io
from itertools import groupby
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from hjemmeprove.documents import csvsafe
from hjemmeprove.documents.common import (
    FONT,
    FONT_BOLD,
    clock,
    date_long,
    date_short,
    mark_demo,
    styles,
)

HEADER = ["kommunekode", "kommune", "henvisning", "borger", "cpr", "adresse", "dato",
          "fra", "til"]


def by_municipality(rows) -> dict[int, list]:
    rows = sorted(rows, key=lambda r: r.municipality_code)
    return {code: list(g) for code, g in groupby(rows, key=lambda r: r.municipality_code)}


def render_csv(rows) -> bytes:
    buf = io.StringIO()
    w = csvsafe.writer(buf)
    w.writerow(HEADER)
    for r in rows:
        w.writerow([r.municipality_code, r.municipality, r.request_id, r.citizen_name,
                    r.cpr_masked, r.address, r.date.isoformat(), clock(r.window_start),
                    clock(r.window_end)])
    return buf.getvalue().encode("utf-8-sig")


def render_pdf(rows, department: str = "") -> bytes:
    st = styles()
    small = st["Small"]
    buf = io.BytesIO()
    muni = rows[0].municipality if rows else ""
    title = f"Svar på henvisninger – {muni}"
    pdf = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, title=title,
                            author=department, invariant=1, initialFontName=FONT)
    mark_demo(pdf, any(getattr(r, "demo", False) for r in rows))
    sent = rows[0].sent_at if rows else None
    story = [Paragraph(escape(title), st["Heading1"]),
             Paragraph(f"Fra {escape(department)}" + (f", sendt {date_short(sent.date())} kl. "
                                                     f"{sent:%H:%M}" if sent else ""),
                       st["Normal"]),
             Paragraph("Tidspunktet er et omtrentligt tidsvindue. Aflysning: elektronisk indtil "
                       "24 timer før, derefter telefonisk (§6).", small), Spacer(1, 4 * mm)]
    data = [["Henv.", "Borger", "CPR-nr.", "Adresse", "Dato", "Tidsvindue"]]
    for r in rows:
        data.append([str(r.request_id), Paragraph(escape(r.citizen_name), small), r.cpr_masked,
                     Paragraph(escape(r.address), small), date_short(r.date),
                     f"{clock(r.window_start)}–{clock(r.window_end)}"])
    t = LongTable(data, colWidths=[14 * mm, 38 * mm, 24 * mm, 60 * mm, 22 * mm, 22 * mm],
                  repeatRows=1, splitInRow=1)
    t.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 8.5), ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#b0b0b0")),
        ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(t)
    if rows:
        story += [Spacer(1, 3 * mm),
                  Paragraph(f"{len(rows)} besøg fra {date_long(min(r.date for r in rows))} til "
                            f"{date_long(max(r.date for r in rows))}.", small)]
    pdf.build(story)
    return buf.getvalue()
