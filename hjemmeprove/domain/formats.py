"""How dates, times and amounts are written for people: one place for the desktop, the
command line's text output and the services' messages (pure; no Qt, no reportlab).

The rules (docs/DEVELOPING.md, *Dates and times*):

- a date is ``dd.mm.åååå`` (29.11.2026) everywhere a person reads it: tables, forms, messages,
  letters and invoices. Machine formats keep ISO 8601 (``--json``, CSV columns that scripts
  read, e-invoices, file names), and input accepts both;
- a clock time is ``tt:mm`` with a colon (10:00) everywhere, in running text after "kl."
  (``kl. 10:00``); a window is ``10:00–12:00``. One rule, so the citizen's letter, the SMS
  and the coordinator's screen show the same time the same way;
- a number has a decimal comma and a thousands dot (1.234,50), on documents and in
  messages alike (``number``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

DATE = "%d.%m.%Y"
CLOCK = "%H:%M"
DATETIME = f"{DATE} {CLOCK}"
MISSING = "—"
_DANISH_SEPARATORS = str.maketrans({",": ".", ".": ","})


def number(value, decimals: int | None = None) -> str:
    """Danish decimal comma and thousands dot: ``decimals`` decimals exactly (rounded half to
    even, as babel's ``format_decimal(…, "#,##0.00", locale="da_DK")`` writes them), or with
    None as many as the value has (3.600, 1,5). Python's own formatting with the separators
    swapped: a statement prints some 20,000 numbers, and babel's pattern handling was a
    tenth of the month's billing run (``tests/test_startup_billing.py`` holds the two side
    by side)."""
    d = Decimal(str(value))
    spec = ",f" if decimals is None else f",.{int(decimals)}f"
    return format(d.normalize() if decimals is None else d, spec).translate(_DANISH_SEPARATORS)


def date(d: dt.date | None) -> str:
    return "" if d is None else d.strftime(DATE)


def clock(t: dt.time | dt.datetime | None) -> str:
    return "" if t is None else t.strftime(CLOCK)


def datetime(t: dt.datetime | None) -> str:
    return "" if t is None else t.strftime(DATETIME)


MONTHS = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august",
          "september", "oktober", "november", "december"]


def month(ym: str) -> str:
    """``2026-10`` → ``oktober 2026`` (a billing month as a person reads it)."""
    y, m = ym.split("-")
    return f"{MONTHS[int(m) - 1]} {y}"


def window(start: dt.time | None, end: dt.time | None) -> str:
    """``kl. 10:00–12:00``, ``kl. 10:00`` or "" (running text)."""
    if start and end:
        return f"kl. {clock(start)}–{clock(end)}"
    if start or end:
        return f"kl. {clock(start or end)}"
    return ""


DANISH_TIME = ZoneInfo("Europe/Copenhagen")


def local_from_utc(t: dt.datetime | None) -> dt.datetime | None:
    """A stored UTC time (naive, as ``db.models.utcnow`` writes it) as naive Danish local
    time, for showing (as the inbox shows its messages' times)."""
    if t is None:
        return None
    return t.replace(tzinfo=dt.timezone.utc).astimezone(DANISH_TIME).replace(tzinfo=None)


def yes_no(value) -> str:
    return "ja" if value else "nej"
