"""Working days (hverdage), docs/domain.md "The calendar": Monday–Friday that is neither a
Danish public holiday nor a department closing day.

Movable holidays come from python-dateutil's ``easter()``; the ``holidays`` package is not used
because it pins python-dateutil<3 (docs/libraries.md, Calendar).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from dateutil.easter import easter

DEADLINE_WORKING_DAYS = 10  # §6: "senest 10 hverdage efter" receipt; receipt is day 0
GREAT_PRAYER_DAY_LAST_YEAR = 2023  # store bededag abolished from 2024
# A working day as people type it: the first three letters of its Danish (or English) name
WEEKDAYS = {"man": 0, "tir": 1, "ons": 2, "tor": 3, "fre": 4,
            "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4}


@lru_cache(maxsize=256)
def public_holidays(year: int) -> dict[dt.date, str]:
    e = easter(year)
    days = {
        dt.date(year, 1, 1): "Nytårsdag",
        e - dt.timedelta(days=3): "Skærtorsdag",
        e - dt.timedelta(days=2): "Langfredag",
        e: "Påskedag",
        e + dt.timedelta(days=1): "2. påskedag",
        e + dt.timedelta(days=39): "Kristi himmelfartsdag",
        e + dt.timedelta(days=49): "Pinsedag",
        e + dt.timedelta(days=50): "2. pinsedag",
        dt.date(year, 12, 25): "Juledag",
        dt.date(year, 12, 26): "2. juledag",
    }
    if year <= GREAT_PRAYER_DAY_LAST_YEAR:
        days[e + dt.timedelta(days=26)] = "Store bededag"  # 4th Friday after Easter
    return days


@dataclass(frozen=True)
class ClosingRules:
    """Department closing days (a choice; each a setting, all on by default)."""

    constitution_day: bool = True  # 5 June
    christmas_eve: bool = True  # 24 December
    new_years_eve: bool = True  # 31 December
    extra_days: frozenset[dt.date] = field(default_factory=frozenset)

    def closing_days(self, year: int) -> dict[dt.date, str]:
        days: dict[dt.date, str] = {}
        if self.constitution_day:
            days[dt.date(year, 6, 5)] = "Grundlovsdag"
        if self.christmas_eve:
            days[dt.date(year, 12, 24)] = "Juleaftensdag"
        if self.new_years_eve:
            days[dt.date(year, 12, 31)] = "Nytårsaftensdag"
        for d in self.extra_days:
            if d.year == year:
                days[d] = "Lukkedag"
        return days


class WorkCalendar:
    def __init__(self, rules: ClosingRules | None = None, extra_reasons: dict | None = None):
        self.rules = rules or ClosingRules()
        self._extra_reasons = extra_reasons or {}

    def why_closed(self, day: dt.date) -> str | None:
        """None on a working day, else the reason in Danish (for the UI and messages)."""
        if day.weekday() >= 5:
            return "Lørdag" if day.weekday() == 5 else "Søndag"
        holiday = public_holidays(day.year).get(day)
        if holiday:
            return holiday
        closed = self.rules.closing_days(day.year).get(day)
        if closed:
            return self._extra_reasons.get(day, closed)
        return None

    def is_working_day(self, day: dt.date) -> bool:
        return self.why_closed(day) is None

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after ``start`` (``start`` itself is day 0)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day = start
        counted = 0
        while counted < n:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day

    def deadline(self, received: dt.date) -> dt.date:
        """§6: the last allowed sampling day, the 10th working day after receipt."""
        return self.add_working_days(received, DEADLINE_WORKING_DAYS)

    def working_days(self, first: dt.date, last: dt.date) -> list[dt.date]:
        return list(self.iter_working_days(first, last))

    def iter_working_days(self, first: dt.date, last: dt.date) -> Iterator[dt.date]:
        day = first
        while day <= last:
            if self.is_working_day(day):
                yield day
            day += dt.timedelta(days=1)

    def next_working_day(self, day: dt.date) -> dt.date:
        return self.add_working_days(day, 1)


def default_calendar(extra_days: Iterable[dt.date] = ()) -> WorkCalendar:
    return WorkCalendar(ClosingRules(extra_days=frozenset(extra_days)))
