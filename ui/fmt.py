"""Danish display formats shared by the views (no Qt here). Dates and times follow the one
rule of ``hjemmeprove/domain/formats.py`` (dd.mm.åååå, tt:mm); codes become labels through
``hjemmeprove/domain/labels.py``, which views import directly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hjemmeprove.domain import formats, labels

# Codes -> Danish labels live in hjemmeprove/domain/labels.py; this name stays for the views
# that still look a channel up here (views/requests.py).
CHANNEL_DA = labels.CHANNEL
MONTHS_DA = formats.MONTHS
MONTHS_SHORT_DA = [m[:3] for m in MONTHS_DA]
WEEKDAYS_DA = ["man", "tir", "ons", "tor", "fre", "lør", "søn"]


# Qt's display formats for date and time fields, the same rule as formats.DATE/CLOCK
QT_DATE = "dd.MM.yyyy"
QT_DAY = "dddd dd.MM.yyyy"
QT_DATETIME = "dd.MM.yyyy HH:mm"
QT_CLOCK = "HH:mm"
DATE_PLACEHOLDER = "DD.MM.ÅÅÅÅ"

date = formats.date
datetime = formats.datetime
clock = formats.clock
window = formats.window


def day_label(d: dt.date) -> str:
    """A day with its weekday, "man 02.12.2026" (the one date format, domain/formats.py)."""
    return f"{WEEKDAYS_DA[d.weekday()]} {date(d)}"


def kr(amount) -> str:
    if amount is None:
        return ""
    from hjemmeprove.documents.common import kr as _kr  # babel and reportlab: on first use

    return _kr(Decimal(str(amount)))


def num(value, decimals: int = 1) -> str:
    if value is None:
        return ""
    from hjemmeprove.documents.common import number as _number

    return _number(value, decimals)


def month(ym: str) -> str:
    return formats.month(ym)
