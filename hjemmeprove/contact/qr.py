"""QR codes on the route sheet: the day's navigation legs (Google Maps, addresses only) and a
``geo:`` link per stop, drawn with reportlab's own QR widget (no image files, no extra
package). ``documents/route_sheet.py`` adds ``navigation_block(...)`` under its table."""

from __future__ import annotations

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table, TableStyle

from hjemmeprove.contact import navigation
from hjemmeprove.documents.common import styles

LEG_SIZE = 40 * mm
STOP_SIZE = 21 * mm


def qr_drawing(value: str, size: float) -> Drawing:
    widget = QrCodeWidget(value, barLevel="L")
    x0, y0, x1, y1 = widget.getBounds()
    d = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    d.add(widget)
    return d


def _cell(value: str, size: float, caption: str, style) -> Table:
    t = Table([[qr_drawing(value, size)], [Paragraph(caption, style)]], colWidths=[size + 4])
    t.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"),
                           ("LEFTPADDING", (0, 0), (-1, -1), 1),
                           ("RIGHTPADDING", (0, 0), (-1, -1), 1),
                           ("TOPPADDING", (0, 0), (-1, -1), 0),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return t


def _rows(cells: list[tuple[Table, float]], width: float) -> list[Table]:
    """The cells left to right, wrapped at ``width`` (one Table per line)."""
    lines, line, used = [], [], 0.0
    for cell, w in cells:
        if line and used + w > width:
            lines.append(line)
            line, used = [], 0.0
        line.append((cell, w))
        used += w
    if line:
        lines.append(line)
    out = []
    for line in lines:
        t = Table([[c for c, _ in line]], colWidths=[w for _, w in line], hAlign="LEFT")
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
        out.append(t)
    return out


def qr_values(route, lab_address: str) -> list[str]:
    """What the codes hold, in the order they are drawn (legs, then stops)."""
    lab = navigation.Point("Laboratoriet", lab_address or "")
    return ([leg.url for leg in navigation.legs(route, lab)]
            + [navigation.geo_link(p) for p in navigation.stop_points(route)])


def navigation_block(route, lab_address: str, width: float = 270 * mm) -> list:
    """Flowables: a heading, one QR per navigation leg, one small QR per stop."""
    if not route.stops:
        return []
    st = styles()
    small = st["Small"]
    caption = ParagraphStyle("QrCaption", parent=small, alignment=1)
    lab = navigation.Point("Laboratoriet", lab_address or "")
    leg_cells = []
    for n, leg in enumerate(navigation.legs(route, lab), start=1):
        stops = leg.stops
        span = f"stop {stops[0]}–{stops[-1]}" if stops else "retur"
        leg_cells.append((_cell(leg.url, LEG_SIZE, f"<b>Del {n}</b> ({span})", caption),
                          LEG_SIZE + 8 * mm))
    stop_cells = [(_cell(navigation.geo_link(p), STOP_SIZE, f"Nr. {p.stop}", caption),
                   STOP_SIZE + 5 * mm) for p in navigation.stop_points(route)]
    return [Spacer(1, 4 * mm), KeepTogether([
        Paragraph("Navigation på telefonen", st["Heading3"]),
        Paragraph("Scan <b>Del 1, 2 …</b> for hele dagens rute i Google Maps (adresserne, i "
                  "rækkefølge; højst 9 mellemstop pr. del) og et nummer for ét stop i "
                  "telefonens kortprogram (geo:).", small),
        Spacer(1, 1 * mm), *_rows(leg_cells + stop_cells, width)])]
