"""What a message's free text suggests for the booking request: dates, fasting, EKG, a time
window, a cancellation and the request it names. Pure text rules; the suggestions are shown
to the coordinator and applied only when accepted.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "maj": 5, "jun": 6, "jul": 7, "aug": 8,
          "sep": 9, "okt": 10, "nov": 11, "dec": 12}
FASTING_BEFORE = dt.time(10, 0)  # docs/domain.md, Booking request: fasting, before 10:00


@dataclass(frozen=True)
class Hint:
    """A proposed form value: the field key (as in the request form), its text value, and
    the words in the message it comes from."""

    field: str
    value: str
    label: str
    source: str


_CANCEL = re.compile(r"\b(aflys\w*|afbestil\w*|annuller\w*)", re.IGNORECASE)
_NUMBER = re.compile(r"(?:henvisning(?:snummer|snr\.?)?|rekvisition|nr\.?|#)\s*(\d{1,9})\b",
                     re.IGNORECASE)
_DATE_NUM = re.compile(r"\b(\d{1,2})[./-](\d{1,2})(?:[./-](\d{2,4}))?\b")
_DATE_WORD = re.compile(r"\b(\d{1,2})\.?\s+(jan|feb|mar|apr|maj|jun|jul|aug|sep|okt|nov|dec)"
                        r"[a-zæøå]*\.?(?:\s+(\d{4}))?", re.IGNORECASE)
_TIME = r"(\d{1,2})(?:[:.](\d{2}))?"
_BETWEEN = re.compile(rf"\b(?:mellem|ml\.?|kl\.?|fra)\s*(?:kl\.?\s*)?{_TIME}\s*(?:-|–|og|til)\s*"
                      rf"(?:kl\.?\s*)?{_TIME}", re.IGNORECASE)
_BEFORE = re.compile(rf"\b(?:før|inden|senest)\s+(?:kl\.?\s*)?{_TIME}", re.IGNORECASE)
_AFTER = re.compile(rf"\b(?:efter|tidligst)\s+(?:kl\.?\s*)?{_TIME}", re.IGNORECASE)
_FASTING = re.compile(r"\bfast(?:ende|e|er)\b", re.IGNORECASE)
_EKG = re.compile(r"\b(?:ekg|elektrokardiogram)\b", re.IGNORECASE)


def asks_to_cancel(text: str) -> bool:
    return bool(_CANCEL.search(text or ""))


def cancellation_request_number(text: str) -> int | None:
    m = _NUMBER.search(text or "")
    return int(m.group(1)) if m else None


def _time(h: str, m: str | None) -> dt.time | None:
    hour, minute = int(h), int(m or 0)
    if 0 <= hour <= 23 and 0 <= minute <= 59:
        return dt.time(hour, minute)
    return None


def _dates(text: str, today: dt.date) -> list[tuple[dt.date, str]]:
    found = []
    for m in _DATE_NUM.finditer(text):
        d, mo, y = m.groups()
        if y is None and re.search(r"kl\.?\s*$", text[:m.start()]):
            continue  # "kl. 8.30" is a time
        year = int(y) + (2000 if y and len(y) == 2 else 0) if y else today.year
        try:
            day = dt.date(year, int(mo), int(d))
        except ValueError:
            continue
        if y is None and day < today:
            day = day.replace(year=day.year + 1)
        found.append((day, m.group(0)))
    for m in _DATE_WORD.finditer(text):
        d, mon, y = m.groups()
        try:
            day = dt.date(int(y) if y else today.year, MONTHS[mon.lower()[:3]], int(d))
        except ValueError:
            continue
        if y is None and day < today:
            day = day.replace(year=day.year + 1)
        found.append((day, m.group(0)))
    return found


def find_hints(text: str, received: dt.date) -> list[Hint]:
    """Suggestions from the text; ``received`` anchors dates written without a year."""
    text = text or ""
    hints: list[Hint] = []
    dates = sorted({d for d, _ in _dates(text, received) if d >= received})
    sources = {d: s for d, s in _dates(text, received)}
    if dates:
        hints.append(Hint("earliest", dates[0].isoformat(), "Tidligst dato",
                          sources.get(dates[0], "")))
        hints.append(Hint("preferred_days", ",".join(d.isoformat() for d in dates),
                          "Ønskede dage", ", ".join(sources.get(d, "") for d in dates)))
    window_start = window_end = None
    src = ""
    if (m := _BETWEEN.search(text)):
        window_start, window_end = _time(m.group(1), m.group(2)), _time(m.group(3), m.group(4))
        src = m.group(0)
        if window_start and window_end and window_start >= window_end:
            window_start = window_end = None
    else:
        if (m := _AFTER.search(text)):
            window_start, src = _time(m.group(1), m.group(2)), m.group(0)
        if (m := _BEFORE.search(text)):
            window_end = _time(m.group(1), m.group(2))
            src = f"{src}; {m.group(0)}" if src else m.group(0)
    if (m := _FASTING.search(text)):
        hints.append(Hint("fasting", "ja", "Fastende", m.group(0)))
        if window_end is None or window_end > FASTING_BEFORE:
            window_end = FASTING_BEFORE
            src = f"{src}; {m.group(0)}" if src else m.group(0)
    if window_start:
        hints.append(Hint("window_start", window_start.strftime("%H:%M"), "Tidligst kl.", src))
    if window_end:
        hints.append(Hint("window_end", window_end.strftime("%H:%M"), "Senest kl.", src))
    if (m := _EKG.search(text)):
        hints.append(Hint("ekg", "ja", "EKG", m.group(0)))
    if asks_to_cancel(text):
        hints.append(Hint("cancel", "ja", "Aflysning", _CANCEL.search(text).group(0)))
    return hints


def apply_hints(values: dict[str, str], hints: list[Hint]) -> dict[str, str]:
    """The form values with the accepted hints filled in (form fields only)."""
    out = dict(values)
    for h in hints:
        if h.field in ("earliest", "preferred_days", "window_start", "window_end", "ekg"):
            out[h.field] = h.value
    return out
