"""What every PDF shares: the embedded font with æøå, Danish number/date formats, page setup.

Danish formats come from babel (1.234,50 kr.); times use HH:MM with a colon, which is what
route sheets and letters in Danish hospitals print (babel's Danish short time is 14.05).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from hjemmeprove import paths
from hjemmeprove.domain import formats

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
LOCALE = "da_DK"
_registered = False


def register_fonts() -> None:
    """Registers the TrueType fonts once; every style below uses them (no Helvetica left)."""
    global _registered
    if _registered:
        return
    pdfmetrics.registerFont(TTFont(FONT, str(paths.resource("fonts", "DejaVuSans.ttf"))))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(paths.resource("fonts", "DejaVuSans-Bold.ttf"))))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT,
                                  boldItalic=FONT_BOLD)
    _registered = True


def styles() -> dict[str, ParagraphStyle]:
    register_fonts()
    base = getSampleStyleSheet()
    out = {}
    for name in ("Normal", "BodyText", "Title", "Heading1", "Heading2", "Heading3", "Italic"):
        st = base[name].clone(name)
        st.fontName = FONT_BOLD if name.startswith(("Title", "Heading")) else FONT
        out[name] = st
    out["Small"] = ParagraphStyle("Small", parent=out["Normal"], fontSize=8, leading=10)
    out["Right"] = ParagraphStyle("Right", parent=out["Normal"], alignment=2)
    return out


DEMO_MARK = "DEMO"
DEMO_NOTE = "DEMO: opdigtede data fra 'hjemmeprove demo'. Ikke et gyldigt dokument."


def stamp_demo(c, w: float, h: float) -> None:
    """The DEMO mark on the current page of canvas ``c`` (``w`` × ``h`` points): a large
    translucent DEMO across the page and a line at the top."""
    register_fonts()
    size = min(w, h) * 0.3
    c.saveState()
    c.setFillColor(colors.HexColor("#c62828"))
    c.setFillAlpha(0.16)
    c.setFont(FONT_BOLD, size)
    c.translate(w / 2, h / 2)
    c.rotate(30)
    c.drawCentredString(0, -size * 0.35, DEMO_MARK)
    c.restoreState()
    c.saveState()
    c.setFillColor(colors.HexColor("#c62828"))
    c.setFont(FONT_BOLD, 8)
    c.drawCentredString(w / 2, h - 5 * mm, DEMO_NOTE)
    c.restoreState()


def mark_demo(pdf, demo: bool) -> None:
    """A document from a demo database (``hjemmeprove demo``) says so on every page, over
    its content: a large translucent DEMO across the page and a line at the top. ``pdf`` is a
    reportlab DocTemplate, before ``build``."""
    if not demo:
        return
    register_fonts()

    def stamp() -> None:
        w, h = pdf.pagesize
        stamp_demo(pdf.canv, w, h)

    pdf.afterPage = stamp


def kr(amount: Decimal) -> str:
    """1.234,50 kr. (no-break space as babel writes it)."""
    return format_currency(amount, "DKK", locale=LOCALE)


# Danish decimal comma, thousands dot, exactly ``decimals`` decimals (``formats.number``)
def number(value, decimals: int = 2) -> str:
    return formats.number(value, decimals)


def date_long(day: dt.date) -> str:
    """'mandag den 23. november 2026'."""
    return format_date(day, "EEEE 'den' d. MMMM y", locale=LOCALE)


def date_short(day: dt.date) -> str:
    """'23.11.2026'."""
    return day.strftime("%d.%m.%Y")


def clock(t: dt.time) -> str:
    return t.strftime("%H:%M")
