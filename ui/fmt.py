"""Danish display formats shared by the views (no Qt here)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hjemmeprove.documents.common import kr as _kr
from hjemmeprove.documents.common import number as _number

OUTCOME_DA = {"taken": "Taget", "not_home": "Ikke hjemme", "refused": "Afvist/ikke muligt",
              "cancelled_late": "Sent aflyst", None: "—", "": "—"}
CHANNEL_DA = {"electronic": "Elektronisk", "telephone": "Telefonisk"}
MONTHS_DA = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
             "september", "oktober", "november", "december"]
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
    return "" if amount is None else _kr(Decimal(str(amount)))


def num(value, decimals: int = 1) -> str:
    return "" if value is None else _number(value, decimals)


def month(ym: str) -> str:
    y, m = ym.split("-")
    return f"{MONTHS_DA[int(m) - 1]} {y}"
