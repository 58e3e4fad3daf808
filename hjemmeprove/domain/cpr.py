"""CPR numbers: format, a real birth date, masking.

Modulus 11 is not checked: CPR numbers issued since October 2007 need not pass it.
"""

from __future__ import annotations

import datetime as dt
import re

_CPR = re.compile(r"^\s*(\d{2})(\d{2})(\d{2})-?(\d{4})\s*$")


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
    m = _CPR.match(str(value))
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


def mask_cpr(cpr: str) -> str:
    """DDMMYY-XXXX: lists, logs and error messages never show the serial part."""
    digits = re.sub(r"\D", "", cpr or "")
    if len(digits) < 6:
        return "XXXXXX-XXXX"
    return f"{digits[:6]}-XXXX"


_ANY_CPR = re.compile(r"\b(\d{6})-?(\d{4})\b")


def mask_cpr_in_text(text: str) -> str:
    """Masks anything shaped like a CPR number in free text (logs, error messages)."""
    return _ANY_CPR.sub(lambda m: f"{m.group(1)}-XXXX", text)
