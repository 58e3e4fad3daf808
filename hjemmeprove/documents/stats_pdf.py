"""One page for the follow-up committees: a bar chart per municipality (requests received and
samplings done per month) with the year's totals in its title."""

from __future__ import annotations

import io
import math

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdfcanvas

from hjemmeprove.documents.common import FONT, FONT_BOLD, number, register_fonts, stamp_demo

MONTHS = ["j", "f", "m", "a", "m", "j", "j", "a", "s", "o", "n", "d"]
REQ = colors.HexColor("#9fb8d0")
TAKEN = colors.HexColor("#2f5d87")


def _n(v: int) -> str:
    return number(v, 0)


def _chart(ms, w: float, h: float, ymax: int) -> Drawing:
    d = Drawing(w, h)
    t = ms.year_total
    d.add(String(2, h - 10, f"{ms.code} {ms.name}", fontName=FONT_BOLD, fontSize=8))
    d.add(String(2, h - 20, f"{_n(t.requests_received)} henv. · {_n(t.samplings_done)} prøver · "
                            f"{_n(t.distinct_citizens)} borgere", fontName=FONT, fontSize=6.5))
    bc = VerticalBarChart()
    bc.x, bc.y, bc.width, bc.height = 22, 14, w - 28, h - 42
    bc.data = [[c.requests_received for c in ms.months.values()],
               [c.samplings_done for c in ms.months.values()]]
    bc.bars[0].fillColor, bc.bars[1].fillColor = REQ, TAKEN
    for i in (0, 1):
        bc.bars[i].strokeColor = None
        bc.bars[i].strokeWidth = 0
    bc.groupSpacing, bc.barSpacing = 1.5, 0
    bc.valueAxis.valueMin = 0
    bc.valueAxis.valueMax = ymax
    bc.valueAxis.valueStep = max(1, _nice(ymax / 3))
    bc.valueAxis.labels.fontName, bc.valueAxis.labels.fontSize = FONT, 5.5
    bc.valueAxis.labelTextFormat = lambda v: _n(int(v))
    bc.categoryAxis.categoryNames = MONTHS
    bc.categoryAxis.labels.fontName, bc.categoryAxis.labels.fontSize = FONT, 5.5
    bc.categoryAxis.labels.dy = -1
    d.add(bc)
    return d


def _nice(x: float) -> int:
    if x <= 1:
        return 1
    p = 10 ** int(math.floor(math.log10(x)))
    for m in (1, 2, 5, 10):
        if m * p >= x:
            return int(m * p)
    return int(10 * p)


def render(stats) -> bytes:
    register_fonts()
    buf = io.BytesIO()
    page_w, page_h = landscape(A4)
    c = pdfcanvas.Canvas(buf, pagesize=(page_w, page_h), invariant=1, initialFontName=FONT)
    c.setTitle(f"Opfølgning {stats.year}: blodprøvetagning i eget hjem")
    c.setFont(FONT_BOLD, 14)
    c.drawString(15 * mm, page_h - 15 * mm,
                 f"Blodprøvetagning i eget hjem – opfølgning {stats.year}")
    t = stats.total
    c.setFont(FONT, 9)
    c.drawString(15 * mm, page_h - 21 * mm,
                 f"Alle kommuner: {_n(t.requests_received)} henvisninger modtaget, "
                 f"{_n(t.samplings_done)} prøvetagninger, {_n(t.distinct_citizens)} forskellige "
                 f"borgere.")
    c.setFillColor(REQ)
    c.rect(200 * mm, page_h - 21.6 * mm, 3 * mm, 3 * mm, stroke=0, fill=1)
    c.setFillColor(TAKEN)
    c.rect(242 * mm, page_h - 21.6 * mm, 3 * mm, 3 * mm, stroke=0, fill=1)
    c.setFillColor(colors.black)
    c.drawString(204 * mm, page_h - 21 * mm, "henvisninger modtaget")
    c.drawString(246 * mm, page_h - 21 * mm, "prøvetagninger")
    n = max(1, len(stats.municipalities))
    cols = 1 if n == 1 else 2 if n <= 4 else 3 if n <= 9 else 4 if n <= 16 else 6
    rows = math.ceil(n / cols)
    top, bottom, left = page_h - 26 * mm, 12 * mm, 12 * mm
    cw = (page_w - 2 * left) / cols
    ch = min((top - bottom) / rows, 70 * mm)
    ymax = max([1] + [max(cc.requests_received, cc.samplings_done)
                      for m in stats.municipalities for cc in m.months.values()])
    ymax = int(math.ceil(ymax / _nice(ymax / 3)) * _nice(ymax / 3))
    for i, ms in enumerate(stats.municipalities):
        r, k = divmod(i, cols)
        d = _chart(ms, cw - 4, ch - 4, ymax)
        d.drawOn(c, left + k * cw, top - (r + 1) * ch)
    if not stats.municipalities:
        c.drawString(15 * mm, page_h - 40 * mm, "Ingen henvisninger eller prøvetagninger i året.")
    c.setFont(FONT, 7)
    c.drawString(15 * mm, 7 * mm, "Samme skala i alle diagrammer. Forskellige borgere i året "
                                  "tælles én gang pr. kommune (ikke summen af månederne).")
    if getattr(stats, "demo", False):
        stamp_demo(c, page_w, page_h)
    c.showPage()
    c.save()
    return buf.getvalue()
