"""Rates in force on a sampling date: P(Y), T(Y) by wage indexation from the 2020 base or
as officially announced, M(d) the state high mileage rate by effective date (docs/domain.md,
The fee model).

A year whose wage percentage (or announced rate) is missing cannot be billed: ``rates_on``
raises ``MissingRate`` naming the figure and the year; it never assumes 0 %.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from hjemmeprove.billing.fees import LineRates, dec, round2
from hjemmeprove.db.models import AnnouncedRate, MileageRate, WageIndex
from hjemmeprove.errors import FieldError, MissingRate, ValidationError
from hjemmeprove.security import require

BASE_YEAR = 2020
BASE = {"per_referral": Decimal("147.38"), "transport_time": Decimal("5.16")}
BASE_SOURCE = "Rammeaftalen, Bilag 2 (2020-niveau)"
KINDS = ("per_referral", "transport_time")
KIND_NAMES = {"per_referral": "fast pris pr. henvisning",
              "transport_time": "transporttid pr. km"}
WAGE_FIGURE = "fremskrivningsprocent for løn"
MILEAGE_FIGURE = "statens høje takst (kørsel)"
HELP_TEXT = (
    "Bilag 2: 24,4 ekstra minutter pr. henvisning × 309,56 kr./t (281,56 effektiv "
    "gennemsnitsløn + 28,00 lokalt tillæg) = 125,89 kr.; + 9,50 kr. porto (50 % af brevene à "
    "19 kr.) = 135,39 kr. (2016-niveau). 309,56 kr./t ÷ 60 km/t = 5,16 kr./km. Fra 2020-"
    "niveau (147,38 kr. og 5,16 kr./km) fremskrives årligt med fremskrivningsprocenten for løn; "
    "en officielt meddelt takst for et år går forud og er grundlag for året efter.")


@dataclass(frozen=True)
class Rates:
    """The rates in force on one date, with where each figure came from."""

    date: dt.date
    per_referral: Decimal
    transport_time_per_km: Decimal
    mileage_per_km: Decimal
    mileage_from: dt.date
    per_referral_source: str
    transport_time_source: str
    mileage_source: str
    example: bool = False  # a wage percentage behind these rates is a demo example

    def line_rates(self) -> LineRates:
        return LineRates(self.per_referral, self.transport_time_per_km, self.mileage_per_km,
                         self.mileage_from)


@dataclass(frozen=True)
class WageIndexRow:
    year: int
    percent: Decimal
    source: str
    example: bool


@dataclass(frozen=True)
class AnnouncedRow:
    year: int
    kind: str
    amount: Decimal
    source: str


@dataclass(frozen=True)
class MileageRow:
    valid_from: dt.date
    amount: Decimal
    source: str


class RateTable:
    """All rate figures in memory; computes rates for any date (pure, cached per year)."""

    def __init__(self, wages: list[WageIndexRow], announced: list[AnnouncedRow],
                 mileage: list[MileageRow]):
        self.wages = {w.year: w for w in wages}
        self.announced = {(a.year, a.kind): a for a in announced}
        self.mileage = sorted(mileage, key=lambda m: m.valid_from)
        self._starts = [m.valid_from for m in self.mileage]
        self._year: dict[tuple[int, str], tuple[Decimal, str, bool]] = {}

    def year_rate(self, year: int, kind: str) -> tuple[Decimal, str, bool]:
        """(amount, source, example) of P (per_referral) or T (transport_time) for a year."""
        key = (year, kind)
        if key in self._year:
            return self._year[key]
        announced = self.announced.get(key)
        if announced is not None:
            result = (announced.amount, f"meddelt takst {year}: {announced.source}", False)
        elif year == BASE_YEAR:
            result = (BASE[kind], BASE_SOURCE, False)
        elif year < BASE_YEAR:
            raise MissingRate(KIND_NAMES[kind], year)
        else:
            for y in range(BASE_YEAR + 1, year):  # name the earliest missing year first
                if (y, kind) not in self._year:
                    self.year_rate(y, kind)
            wage = self.wages.get(year)
            if wage is None:
                raise MissingRate(WAGE_FIGURE, year)
            prev, _src, prev_example = self.year_rate(year - 1, kind)
            amount = round2(prev * (1 + wage.percent / 100))
            label = "EKSEMPEL " if wage.example else ""
            result = (amount, f"{label}fremskrevet {_pct(wage.percent)} % fra {year - 1} "
                      f"({wage.source or 'ingen kilde angivet'})", prev_example or wage.example)
        self._year[key] = result
        return result

    def mileage_on(self, day: dt.date) -> MileageRow:
        i = bisect.bisect_right(self._starts, day) - 1
        if i < 0:
            raise MissingRate(MILEAGE_FIGURE, day.isoformat())
        return self.mileage[i]

    def rates_on(self, day: dt.date) -> Rates:
        p, p_src, p_ex = self.year_rate(day.year, "per_referral")
        t, t_src, t_ex = self.year_rate(day.year, "transport_time")
        m = self.mileage_on(day)
        return Rates(day, p, t, m.amount, m.valid_from, p_src, t_src,
                     f"statens høje takst fra {m.valid_from:%d.%m.%Y}: {m.source}", p_ex or t_ex)


def _pct(p: Decimal) -> str:
    return format(p.normalize(), "f").replace(".", ",")


def _parse_decimal(value, field: str) -> Decimal:
    if isinstance(value, float):
        value = str(value)
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise ValidationError(f"'{value}' er ikke et tal", field) from None
    if not d.is_finite():
        raise ValidationError(f"'{value}' er ikke et tal", field)
    return d


def _check_year(year, field: str = "år") -> int:
    try:
        y = int(year)
    except (TypeError, ValueError):
        raise ValidationError(f"'{year}' er ikke et årstal", field) from None
    if not 2000 <= y <= 2100:
        raise ValidationError(f"{y} ligger uden for 2000-2100", field)
    return y


USUAL_WAGE_INDEX = (Decimal("0"), Decimal("10"))  # % a year; outside it, ask


def wage_index_concerns(percent: Decimal | None, source: str) -> list[str]:
    """What saving a wage index needs a yes for (the window asks; ``rates set wage-index``
    saves and warns, so scripts keep working): a figure outside the usual 0–10 % (a typo such
    as 35 for 3,5 raises every price of the year) and a figure without its source."""
    from hjemmeprove.domain.formats import number

    out = []
    low, high = USUAL_WAGE_INDEX
    if percent is not None and not low <= (percent := Decimal(str(percent))) <= high:
        out.append(f"Fremskrivningen er {number(percent, 2)} %, uden for det sædvanlige "
                   f"{number(low, 0)}–{number(high, 0)} %. Den ændrer alle årets takster.")
    if not (source or "").strip():
        out.append("Der er ingen kilde. Skriv hvor procenten er meddelt (fx KL's "
                   "cirkulære), så taksten kan efterprøves.")
    return out


class RateService:
    """Finance's rates: wage percentages, announced rates, mileage rates (each with source)."""

    def __init__(self, store):
        self.store = store

    # --- entering figures -----------------------------------------------------------------
    def set_wage_index(self, year, percent, source: str = "", example: bool = False) -> None:
        require(self.store, "rates.edit")
        y = _check_year(year)
        errors = []
        if y <= BASE_YEAR:
            errors.append(FieldError("år", f"fremskrivning gælder årene efter {BASE_YEAR}"))
        p = _parse_decimal(percent, "procent")
        if not Decimal("-20") <= p <= Decimal("50"):
            errors.append(FieldError("procent", f"{p} % er urimeligt (tilladt -20 til 50)"))
        if p != p.quantize(Decimal("0.001")):
            errors.append(FieldError("procent", "højst 3 decimaler"))
        if errors:
            raise ValidationError(errors)
        with self.store.session() as s:
            row = s.get(WageIndex, y)
            if row is None:
                s.add(WageIndex(year=y, percent=p, source=source.strip(), example=example))
            else:
                row.percent, row.source, row.example = p, source.strip(), example

    def set_announced(self, year, kind: str, amount, source: str = "") -> None:
        require(self.store, "rates.edit")
        y = _check_year(year)
        if kind not in KINDS:
            raise ValidationError(f"ukendt takst '{kind}' (per_referral, transport_time)", "takst")
        a = _parse_decimal(amount, "beløb")
        if a <= 0 or a != round2(a):
            raise ValidationError("skal være et positivt beløb med højst 2 decimaler", "beløb")
        with self.store.session() as s:
            row = s.get(AnnouncedRate, (y, kind))
            if row is None:
                s.add(AnnouncedRate(year=y, kind=kind, amount=a, source=source.strip()))
            else:
                row.amount, row.source = a, source.strip()

    def set_mileage(self, valid_from: dt.date, amount, source: str = "") -> None:
        require(self.store, "rates.edit")
        if not isinstance(valid_from, dt.date):
            raise ValidationError("skal være en dato", "fra")
        a = _parse_decimal(amount, "beløb")
        if a <= 0 or a > 20 or a != round2(a):
            raise ValidationError("skal være et beløb pr. km (0-20 kr.) med højst 2 decimaler",
                                  "beløb")
        with self.store.session() as s:
            row = s.get(MileageRate, valid_from)
            if row is None:
                s.add(MileageRate(valid_from=valid_from, amount=a, source=source.strip()))
            else:
                row.amount, row.source = a, source.strip()

    # --- reading ---------------------------------------------------------------------------
    def table(self) -> RateTable:
        with self.store.session() as s:
            wages = [WageIndexRow(w.year, w.percent, w.source, w.example)
                     for w in s.scalars(select(WageIndex))]
            announced = [AnnouncedRow(a.year, a.kind, a.amount, a.source)
                         for a in s.scalars(select(AnnouncedRate))]
            mileage = [MileageRow(m.valid_from, m.amount, m.source)
                       for m in s.scalars(select(MileageRate))]
        return RateTable(wages, announced, mileage)

    def rates_on(self, day: dt.date) -> Rates:
        """The rates in force on ``day``, or MissingRate naming the figure and year."""
        return self.table().rates_on(day)

    def wage_indexes(self) -> list[WageIndexRow]:
        return sorted(self.table().wages.values(), key=lambda w: w.year)

    def announced_rates(self) -> list[AnnouncedRow]:
        return sorted(self.table().announced.values(), key=lambda a: (a.year, a.kind))

    def mileage_rates(self) -> list[MileageRow]:
        return list(self.table().mileage)


__all__ = ["RateService", "RateTable", "Rates", "HELP_TEXT", "dec"]
