"""What every PDF shares: the embedded font with æøå, Danish number/date formats, page setup.

Danish formats come from babel (1.234,50 kr.); times use HH:MM with a colon, which is what
route sheets and letters in Danish hospitals print (babel's Danish short time is 14.05).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from hjemmeprove import paths

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


def kr(amount: Decimal) -> str:
    """1.234,50 kr. (no-break space as babel writes it)."""
    return format_currency(amount, "DKK", locale=LOCALE)


_DANISH_SEPARATORS = str.maketrans({",": ".", ".": ","})


def number(value, decimals: int = 2) -> str:
    """Danish decimal comma, thousands dot, exactly ``decimals`` decimals.

    What babel's ``format_decimal(…, "#,##0.00", locale="da_DK")`` writes (the same rounding,
    half to even, and sign), by Python's own formatting with the separators swapped: a
    statement prints some 20,000 numbers, and babel's pattern handling was a tenth of the
    month's billing run. ``tests/test_startup_billing.py`` holds the two side by side."""
    return format(Decimal(str(value)), f",.{int(decimals)}f").translate(_DANISH_SEPARATORS)


def date_long(day: dt.date) -> str:
    """'mandag den 23. november 2026'."""
    return format_date(day, "EEEE 'den' d. MMMM y", locale=LOCALE)


def date_short(day: dt.date) -> str:
    """'23.11.2026'."""
    return day.strftime("%d.%m.%Y")


def clock(t: dt.time) -> str:
    return t.strftime("%H:%M")
