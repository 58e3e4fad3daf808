"""Re-planning that keeps the plan: only what must move moves (no database).

After a cancellation, an absence or an urgent request the coordinator has a plan that
citizens, bioanalysts and municipalities already know. The repair keeps every visit that
still fits on its day, bioanalyst and place in the order (``planner.plan(method="repair")``:
construct.py seeded with the current plan) and inserts only the rest (the absent
bioanalyst's visits, stops that no longer fit, new requests) at their cheapest feasible
place, where a soft cost (``stay_costs``) makes

- another day cost ``move_day_kr`` and another bioanalyst ``move_analyst_kr`` for a visit
  that had a place: the same day with a colleague beats another day;
- a bioanalyst with more visits in the period than the average of those available cost up
  to ``balance_kr`` more (setting ``planning.balance_kr``): the work is spread, not piled on
  whoever happens to be nearest.

"Optimér" is the full optimisation, started from the current plan (warm start); it may
move anything. Either way ``diff`` tells what moved, which bioanalysts' days changed and
which route sheets and letters must be printed again, in Danish (``ReplanSummary``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from hjemmeprove.domain import formats

MOVE_DAY_KR = 150.0
MOVE_ANALYST_KR = 50.0
BALANCE_KR = 100.0


@dataclass(frozen=True)
class Placement:
    """Where one request's active visit is (the summary compares two of these per request)."""
    request_id: int
    visit_id: int
    citizen_name: str
    analyst_id: int
    analyst: str
    date: dt.date
    sequence: int
    arrival: dt.time | None
    window: tuple[dt.time | None, dt.time | None]


@dataclass(frozen=True)
class Move:
    request_id: int
    citizen_name: str
    before: Placement | None  # None: a new visit
    after: Placement | None  # None: taken off the routes (cancelled or not planned)

    @property
    def text(self) -> str:
        """'Borger A: 12.03.2024 Anna → 13.03.2024 Bente' (Danish, for the summary)."""
        def where(p: Placement | None) -> str:
            return "ingen rute" if p is None else f"{formats.date(p.date)} {p.analyst}"

        if self.before is None:
            return f"{self.citizen_name}: nyt besøg {where(self.after)}"
        if self.after is None:
            return f"{self.citizen_name}: {where(self.before)} → taget af ruten"
        return f"{self.citizen_name}: {where(self.before)} → {where(self.after)}"


@dataclass(frozen=True)
class ReplanSummary:
    moves: tuple[Move, ...] = ()
    # (date, bioanalyst id, name) whose route changed (stops, order or times)
    changed_days: tuple[tuple[dt.date, int, str], ...] = ()
    # the route sheets to print again: days in ``changed_days`` that still have a route
    route_sheets: tuple[tuple[dt.date, int, str], ...] = ()
    # visits whose letter (date or time window) changed
    letters: tuple[int, ...] = ()
    unchanged: int = 0  # visits that kept their day and bioanalyst
    kept_order: bool = True  # and, on every route, their order

    @property
    def empty(self) -> bool:
        return not (self.moves or self.changed_days)

    def lines(self) -> list[str]:
        """The summary in Danish, one line per fact."""
        if self.empty:
            return ["Ingen besøg er flyttet; ruterne er uændrede."]
        out = []
        moved = [m for m in self.moves if m.before is not None and m.after is not None]
        added = sum(1 for m in self.moves if m.before is None)
        removed = sum(1 for m in self.moves if m.after is None)
        text = (f"{len(moved)} besøg flyttet til en anden dag eller bioanalytiker; "
                f"{self.unchanged} blev på deres dag hos samme bioanalytiker")
        if added or removed:
            text += f"; {added} nye, {removed} taget af ruterne"
        out.append(text + ".")
        out += [m.text for m in self.moves]
        if self.changed_days:
            out.append("Ændrede dage (besøg, rækkefølge eller tider): " + "; ".join(
                f"{name} {formats.date(d)}" for d, _aid, name in self.changed_days))
        if self.route_sheets or self.letters:
            out.append(f"Udskriv igen: {len(self.route_sheets)} rutesedler og "
                       f"{len(self.letters)} borgerbreve.")
        return out


def stay_costs(current: dict[int, tuple[int, dt.date]], loads: dict[int, int],
               move_day_kr: float = MOVE_DAY_KR, move_analyst_kr: float = MOVE_ANALYST_KR,
               balance_kr: float = BALANCE_KR):
    """The repair's soft cost ``(request, trip) -> kr`` for ``planner.plan(extra_penalty=)``.

    ``current``: request id → (bioanalyst id, date) of its place before the change;
    ``loads``: bioanalyst id → visits in the period, for those available in it."""
    mean = sum(loads.values()) / len(loads) if loads else 0.0
    over = {aid: (balance_kr * max(0.0, n - mean) / mean if mean else 0.0)
            for aid, n in loads.items()}

    def cost(request, trip) -> float:
        kr = over.get(trip.analyst.id, 0.0)
        where = current.get(request.id)
        if where is not None:
            aid, day = where
            if trip.date != day:
                kr += move_day_kr
            if trip.analyst.id != aid:
                kr += move_analyst_kr
        return kr
    return cost


def diff(before: dict[int, Placement], after: dict[int, Placement]) -> ReplanSummary:
    """What a re-plan changed, from each request's place before and after it."""
    moves = []
    for rid in sorted(set(before) | set(after)):
        b, a = before.get(rid), after.get(rid)
        if b is not None and a is not None and (b.date, b.analyst_id) == (a.date, a.analyst_id):
            continue
        name = (a or b).citizen_name
        moves.append(Move(rid, name, b, a))

    def routes(side: dict[int, Placement]) -> dict[tuple, list]:
        out: dict[tuple, list] = {}
        for p in side.values():
            out.setdefault((p.date, p.analyst_id, p.analyst), []).append(
                (p.sequence, p.request_id, p.arrival, p.window))
        return {k: sorted(v) for k, v in out.items()}

    rb, ra = routes(before), routes(after)
    changed = sorted({k for k in set(rb) | set(ra) if rb.get(k) != ra.get(k)},
                     key=lambda k: (k[0], k[2], k[1]))
    sheets = tuple(k for k in changed if k in ra)
    letters = tuple(sorted(a.visit_id for rid, a in after.items()
                           if rid not in before or (before[rid].date, before[rid].window)
                           != (a.date, a.window)))
    unchanged = sum(1 for rid, b in before.items() if rid in after
                    and (after[rid].date, after[rid].analyst_id) == (b.date, b.analyst_id))
    kept_order = True
    for key, stops in rb.items():
        now = [rid for _s, rid, *_ in ra.get(key, [])]
        kept = [rid for _s, rid, *_ in stops if rid in now]
        if kept != [rid for rid in now if rid in set(kept)]:
            kept_order = False
    return ReplanSummary(tuple(moves), tuple(changed), sheets, letters, unchanged, kept_order)


@dataclass
class Loads:
    """Visits per bioanalyst over a period (for ``stay_costs`` and the bench's spread)."""
    visits: dict[int, int] = field(default_factory=dict)
    days: dict[int, set] = field(default_factory=dict)

    def add(self, analyst_id: int, day: dt.date) -> None:
        self.visits[analyst_id] = self.visits.get(analyst_id, 0) + 1
        self.days.setdefault(analyst_id, set()).add(day)
