"""CPR numbers: format, a real birth date, masking.

Modulus 11 is not checked: CPR numbers issued since October 2007 need not pass it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

_CPR = re.compile(r"^([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{4})$")
# what may stand between the digits: spaces and dashes of any width (after NFKC)
_SEPARATORS = set(" \t-\u2010\u2011\u2012\u2013\u2014\u2212\u00a0")


def cpr_digits(value) -> str:
    """The CPR as typed, reduced to ASCII digits: NFKC (full-width ０-９ become 0-9), any
    Unicode decimal digit read as its value, spaces and dashes dropped. Anything else
    (letters, other punctuation) is kept so that the format check refuses it."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    out = []
    for ch in text:
        if ch in _SEPARATORS:
            continue
        digit = unicodedata.decimal(ch, None)
        out.append(str(digit) if digit is not None else ch)
    return "".join(out)


def _century(yy: int, seventh: int) -> int:
    """The century from the 7th digit, per the CPR office's table."""
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    # 5-8
    return 2000 if yy <= 57 else 1800


def parse_cpr(value: str) -> tuple[str, dt.date]:
    """Returns (normalised 'DDMMYY-SSSS', birth date) or raises ValueError in Danish."""
    if value is None:
        raise ValueError("mangler")
    m = _CPR.match(cpr_digits(value))
    if not m:
        raise ValueError("skal være 10 cifre som DDMMÅÅ-XXXX")
    dd, mm, yy, serial = m.groups()
    year = _century(int(yy), int(serial[0])) + int(yy)
    try:
        born = dt.date(year, int(mm), int(dd))
    except ValueError:
        raise ValueError(f"{dd}{mm}{yy} er ikke en gyldig fødselsdato") from None
    if born > dt.date.today():
        raise ValueError("fødselsdatoen ligger i fremtiden")
    return f"{dd}{mm}{yy}-{serial}", born


def normalise_cpr(value: str) -> str:
    return parse_cpr(value)[0]


_STORED = re.compile(r"[0-9]{6}-[0-9]{4}")


def mask_cpr(cpr: str) -> str:
    """DDMMYY-XXXX: lists, logs and error messages never show the serial part."""
    if cpr and _STORED.fullmatch(cpr):  # as stored: the list masks 200 of these per page
        return f"{cpr[:6]}-XXXX"
    digits = re.sub(r"[^0-9]", "", cpr_digits(cpr or ""))
    if len(digits) < 6:
        return "XXXXXX-XXXX"
    return f"{digits[:6]}-XXXX"


_ANY_CPR = re.compile(r"\b(\d{6})-?(\d{4})\b")


def mask_cpr_in_text(text: str) -> str:
    """Masks anything shaped like a CPR number in free text (logs, error messages)."""
    return _ANY_CPR.sub(lambda m: f"{m.group(1)}-XXXX", text)
