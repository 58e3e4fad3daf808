"""The fee model of docs/domain.md (§11 and Bilag 2), exactly. Pure: no database, no floats.

``invoice_lines`` turns a month's quantities, grouped by the rates in force on their sampling
dates, into invoice lines: one line per distinct rate, so a month that spans a change of the
mileage rate gets two mileage lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
CENT = Decimal("0.01")
DEFAULT_FERRY_SPEED = Decimal("60")

TEXTS = {
    "per_referral": "Faste priser pr. henvisning",
    "transport_km": "Transporttid, kørsel",
    "ferry": "Transporttid, færge",
    "mileage": "Kørsel (statens høje takst)",
    "ekg": "EKG",
}
UNITS = {"per_referral": "stk.", "transport_km": "km", "ferry": "min", "mileage": "km",
         "ekg": "stk."}
ORDER = ("per_referral", "transport_km", "ferry", "mileage", "ekg")


def round2(x) -> Decimal:
    """Half up to 0.01 kr. (docs/domain.md, The fee model)."""
    if isinstance(x, float):
        raise TypeError("penge må aldrig være float")
    return Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)


def dec(value) -> Decimal:
    if isinstance(value, float):
        raise TypeError("float er ikke tilladt i beløb")
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class Quantities:
    """What a month (or a part of it under one set of rates) consists of."""

    referrals: int = 0  # visits with a billable outcome
    km: Decimal = ZERO  # sum of km shares
    ferry_minutes: Decimal = ZERO  # sum of ferry-minute shares
    ekg: int = 0

    def __add__(self, other: Quantities) -> Quantities:
        return Quantities(self.referrals + other.referrals, self.km + other.km,
                          self.ferry_minutes + other.ferry_minutes, self.ekg + other.ekg)


@dataclass(frozen=True)
class LineRates:
    """The rates one group of visits is billed at (a subset of billing.rates.Rates)."""

    per_referral: Decimal
    transport_time_per_km: Decimal
    mileage_per_km: Decimal
    mileage_from: object = None  # date the mileage rate took effect (for the line text)


@dataclass(frozen=True)
class Line:
    code: str
    text: str
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal


def invoice_lines(groups: Iterable[tuple[Quantities, LineRates]], ekg_price: Decimal | None = None,
                  ferry_speed_kmh: Decimal = DEFAULT_FERRY_SPEED) -> list[Line]:
    """The invoice lines for quantities grouped by the rates in force.

    Quantities under the same rate are added before rounding; each line's amount is
    round2(quantity × rate) (the ferry line: round2(F × v/60 × T)). Lines with nothing to bill
    are left out; the EKG line appears only with an agreed price and at least one EKG.
    """
    ferry_factor = dec(ferry_speed_kmh) / Decimal(60)
    acc: dict[tuple[str, Decimal], Decimal] = {}
    mileage_dates: dict[Decimal, object] = {}
    for q, r in groups:
        for code, qty, rate in (
            ("per_referral", Decimal(q.referrals), r.per_referral),
            ("transport_km", dec(q.km), r.transport_time_per_km),
            ("ferry", dec(q.ferry_minutes), r.transport_time_per_km),
            ("mileage", dec(q.km), r.mileage_per_km),
            ("ekg", Decimal(q.ekg), dec(ekg_price) if ekg_price is not None else None),
        ):
            if rate is None:
                continue
            key = (code, dec(rate))
            acc[key] = acc.get(key, ZERO) + qty
            if code == "mileage" and r.mileage_from is not None:
                prev = mileage_dates.get(key[1])
                if prev is None or (qty and r.mileage_from < prev):
                    mileage_dates[key[1]] = r.mileage_from
    lines: list[Line] = []
    for code in ORDER:
        keys = [k for k in acc if k[0] == code and acc[k] != 0]
        for _, rate in keys:
            qty = acc[(code, rate)]
            text = TEXTS[code]
            if code == "ferry":
                amount = round2(qty * ferry_factor * rate)
                shown_rate = rate * ferry_factor
                text += f" (1 min = {_plain(ferry_factor)} km)" if ferry_factor != 1 else ""
            else:
                amount = round2(qty * rate)
                shown_rate = rate
            if len(keys) > 1 and code == "mileage" and mileage_dates.get(rate) is not None:
                text += f", takst fra {mileage_dates[rate]:%d.%m.%Y}"
            elif len(keys) > 1:
                text += f", sats {_plain(rate)}"
            lines.append(Line(code, text, qty, UNITS[code], shown_rate, amount))
    return lines


def total(lines: Iterable[Line]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


def quote(quantities: Quantities, rates: LineRates, ekg_price: Decimal | None = None,
          ferry_speed_kmh: Decimal = DEFAULT_FERRY_SPEED) -> tuple[list[Line], Decimal]:
    """What a month with these totals costs at these rates (cli ``fees quote``)."""
    lines = invoice_lines([(quantities, rates)], ekg_price, ferry_speed_kmh)
    return lines, total(lines)


def _plain(d: Decimal) -> str:
    return format(d.normalize(), "f").replace(".", ",")
