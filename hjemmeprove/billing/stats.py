"""Follow-up counts for the committees (KLU, SOF): per municipality and month, and the year.

- requests received: booking requests by date received (all of them, including cancelled
  and not eligible ones: they were received);
- samplings done: visits with outcome "taken", by sampling date;
- distinct citizens sampled: distinct citizens with a taken visit in the month; the year
  total counts each citizen once over the year (so it is not the sum of the months).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from hjemmeprove.db.models import Municipality, Request, Visit
from hjemmeprove.errors import ValidationError
from hjemmeprove.settings import holds_demo_data


@dataclass
class Counts:
    requests_received: int = 0
    samplings_done: int = 0
    distinct_citizens: int = 0


@dataclass
class MunicipalityStats:
    code: int
    name: str
    months: dict[str, Counts] = field(default_factory=dict)  # "YYYY-MM" -> counts
    year_total: Counts = field(default_factory=Counts)


@dataclass
class YearStats:
    year: int
    municipalities: list[MunicipalityStats]
    total: Counts
    demo: bool = False  # from a demo database: the PDF says DEMO (documents.common.stamp_demo)

    def as_json(self) -> dict:
        def c(x: Counts) -> dict:
            return {"requests_received": x.requests_received,
                    "samplings_done": x.samplings_done,
                    "distinct_citizens": x.distinct_citizens}
        return {"year": self.year,
                "municipalities": [{"code": m.code, "name": m.name,
                                    "months": [{"month": k, **c(v)} for k, v in m.months.items()],
                                    "year_total": c(m.year_total)}
                                   for m in self.municipalities],
                "total": c(self.total)}

    def csv_rows(self) -> list[list]:
        rows = [["kommunekode", "kommune", "maaned", "henvisninger_modtaget",
                 "proevetagninger", "forskellige_borgere"]]
        for m in self.municipalities:
            for k, v in m.months.items():
                rows.append([m.code, m.name, k, v.requests_received, v.samplings_done,
                             v.distinct_citizens])
            t = m.year_total
            rows.append([m.code, m.name, f"{self.year} i alt", t.requests_received,
                         t.samplings_done, t.distinct_citizens])
        t = self.total
        rows.append(["", "Alle kommuner", f"{self.year} i alt", t.requests_received,
                     t.samplings_done, t.distinct_citizens])
        return rows


class StatsService:
    def __init__(self, store):
        self.store = store

    def year(self, year: int, only_active: bool = True) -> YearStats:
        try:
            year = int(year)
        except (TypeError, ValueError):
            raise ValidationError(f"'{year}' er ikke et årstal", "år") from None
        if not 2000 <= year <= 2100:
            raise ValidationError(f"{year} ligger uden for 2000-2100", "år")
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        months = [f"{year}-{m:02d}" for m in range(1, 13)]
        received: dict[tuple[int, str], int] = defaultdict(int)
        taken: dict[tuple[int, str], int] = defaultdict(int)
        citizens: dict[tuple[int, str], set] = defaultdict(set)
        year_citizens: dict[int, set] = defaultdict(set)
        with self.store.session() as s:
            demo = holds_demo_data(s)
            munis = {m.id: (m.code, m.name) for m in s.scalars(select(Municipality))}
            for mid, day in s.execute(select(Request.municipality_id, Request.received)
                                      .where(Request.received >= first,
                                             Request.received <= last)):
                received[(mid, f"{day:%Y-%m}")] += 1
            for mid, cid, day in s.execute(
                    select(Request.municipality_id, Request.citizen_id, Visit.date)
                    .join(Visit, Visit.request_id == Request.id)
                    .where(Visit.outcome == "taken", Visit.date >= first, Visit.date <= last)):
                key = (mid, f"{day:%Y-%m}")
                taken[key] += 1
                citizens[key].add(cid)
                year_citizens[mid].add(cid)
        active = {k[0] for k in received} | {k[0] for k in taken}
        out = []
        all_citizens: set = set()
        total = Counts()
        for mid in sorted(munis, key=lambda i: munis[i][0]):
            if only_active and mid not in active:
                continue
            code, name = munis[mid]
            ms = MunicipalityStats(code, name)
            for m in months:
                ms.months[m] = Counts(received[(mid, m)], taken[(mid, m)],
                                      len(citizens[(mid, m)]))
            ms.year_total = Counts(sum(c.requests_received for c in ms.months.values()),
                                   sum(c.samplings_done for c in ms.months.values()),
                                   len(year_citizens[mid]))
            total.requests_received += ms.year_total.requests_received
            total.samplings_done += ms.year_total.samplings_done
            all_citizens |= year_citizens[mid]
            out.append(ms)
        total.distinct_citizens = len(all_citizens)
        return YearStats(year, out, total, demo)

    def pdf(self, year: int) -> bytes:
        from hjemmeprove.documents.stats_pdf import render

        return render(self.year(year))
