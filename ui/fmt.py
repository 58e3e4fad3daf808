"""Danish display formats shared by the views (no Qt here). Codes become labels through
``hjemmeprove/domain/labels.py``, which views import directly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hjemmeprove.domain import labels

# Codes -> Danish labels live in hjemmeprove/domain/labels.py; this name stays for the views
# that still look a channel up here (views/requests.py).
CHANNEL_DA = labels.CHANNEL
MONTHS_DA = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
             "september", "oktober", "november", "december"]
MONTHS_SHORT_DA = [m[:3] for m in MONTHS_DA]
WEEKDAYS_DA = ["man", "tir", "ons", "tor", "fre", "lør", "søn"]


def date(d: dt.date | None) -> str:
    return "" if d is None else d.strftime("%d.%m.%Y")


def day_label(d: dt.date) -> str:
    return f"{WEEKDAYS_DA[d.weekday()]} {d.day}/{d.month}"


def datetime(t: dt.datetime | None) -> str:
    return "" if t is None else t.strftime("%d.%m.%Y %H:%M")


def clock(t: dt.time | None) -> str:
    return "" if t is None else t.strftime("%H:%M")


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
    y, m = ym.split("-")
    return f"{MONTHS_DA[int(m) - 1]} {y}"
