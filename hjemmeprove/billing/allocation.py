"""Allocating a route's km and ferry minutes to the visits on it (docs/domain.md,
Allocating a route to its visits). Pure.

Every visit the bioanalyst drove to carries a share. Rule "standalone" (default): weight
s_i = the stand-alone trip lab→visit→lab; km shares D × s_i / Σs. Rule "equal": equal shares.
Ferry time belongs to the crossing: each island's crossings go to the visits on that island
(split among them by the same rule), never to a visit reached by road, and two islands on one
route are never pooled; minutes no visited island explains are reported, not spread. Shares
are km to 3 decimals and minutes to 1 decimal, distributed by largest remainder so they add
up exactly to D and to the explained part of F.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

ZERO = Decimal("0")
KM_PLACES = 3
FERRY_PLACES = 1
RULES = ("standalone", "equal")


def largest_remainder(total: Decimal, weights: list[Decimal], places: int) -> list[Decimal]:
    """Splits ``total`` (rounded to ``places``) in proportion to ``weights`` so that the parts,
    each with ``places`` decimals, add up exactly. Ties go to the earlier position. All-zero
    (or no positive) weights split equally."""
    n = len(weights)
    if n == 0:
        return []
    quantum = Decimal(1).scaleb(-places)
    units = int((Decimal(total) / quantum).to_integral_value())
    if any(w < 0 for w in weights):
        raise ValueError("negative vægte")
    wsum = sum(weights, ZERO)
    if wsum <= 0:
        weights = [Decimal(1)] * n
        wsum = Decimal(n)
    sign = 1 if units >= 0 else -1
    units = abs(units)
    quotas = [Decimal(units) * w / wsum for w in weights]
    floors = [int(q.to_integral_value(rounding=ROUND_FLOOR)) for q in quotas]
    left = units - sum(floors)
    order = sorted(range(n), key=lambda i: (-(quotas[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [(Decimal(sign * f) * quantum).quantize(quantum) for f in floors]


@dataclass(frozen=True)
class VisitWeight:
    visit_id: int
    standalone_km: Decimal | None  # lab→visit→lab; None when the planner gave none
    ferry_link: str = ""  # the ferry the stand-alone trip uses, '' if none
    locked_km: Decimal | None = None  # shares of an issued invoice: kept as they are
    locked_ferry: Decimal | None = None
    island: str = ""  # the ferry island the visit lies on; '' = by road (defaults to the link)
    crossing_minutes: Decimal | None = None  # the island's crossings there and back (ferry data)
    trip: int = 0  # the route's trip from the lab (a route may go out more than once)

    @property
    def region(self) -> str:
        return self.island or self.ferry_link


@dataclass(frozen=True)
class Share:
    visit_id: int
    km: Decimal
    ferry_minutes: Decimal


@dataclass(frozen=True)
class RouteAllocation:
    shares: list[Share]
    rule: str  # the rule actually used
    note: str = ""  # e.g. fallback to equal shares; printed on the statement
    # recorded ferry minutes that the crossings to the visited islands do not explain: never
    # spread, shown at day close and blocking issuing until the coordinator resolves them
    unexplained_ferry: Decimal = ZERO
    crossings: tuple = ()  # (island, minutes attributed) in route order


def allocate_route(km: Decimal, ferry_minutes: Decimal, visits: list[VisitWeight],
                   rule: str = "standalone") -> RouteAllocation:
    """The shares of one route's km and ferry minutes among the visits that carry one.

    Ferry time belongs to the crossing: the route's ferry minutes are attributed per island to
    the visits on that island (a visit reached by road never carries any), at most the
    island's crossings there and back per trip; two islands on one route are never pooled.
    When the route has fewer minutes than those crossings, each island gets its pro rata
    part; minutes beyond them are *unexplained* and left unallocated.

    Shares already locked by an issued invoice are kept. The whole route is allocated from its
    facts first; when the locked shares are exactly that allocation's (the usual case: the
    facts are final once billed), the others get theirs from the same allocation, so a run
    that issues part of a month and is resumed gives the same øre as one that does not.
    Otherwise the rest of D and F is allocated among the others.
    """
    if rule not in RULES:
        raise ValueError(f"ukendt fordelingsregel '{rule}'")
    if not visits:
        return RouteAllocation([], rule, unexplained_ferry=Decimal(ferry_minutes).quantize(
            Decimal("0.1")) if ferry_minutes else ZERO)
    km = Decimal(km).quantize(Decimal("0.001"))
    ferry_minutes = Decimal(ferry_minutes).quantize(Decimal("0.1"))
    full = _allocate(km, ferry_minutes, visits, rule)
    locked = [v for v in visits if v.locked_km is not None]
    if not locked:
        return full
    by_id = {sh.visit_id: sh for sh in full.shares}
    if all(by_id[v.visit_id].km == v.locked_km
           and by_id[v.visit_id].ferry_minutes == (v.locked_ferry or ZERO) for v in locked):
        return full
    free = [v for v in visits if v.locked_km is None]
    locked_km = sum((v.locked_km for v in locked), ZERO)
    locked_ferry = sum((v.locked_ferry or ZERO for v in locked), ZERO)
    rest = _allocate(max(km - locked_km, ZERO), max(ferry_minutes - locked_ferry, ZERO),
                     free, rule) if free else RouteAllocation([], rule)
    rest_by_id = {sh.visit_id: sh for sh in rest.shares}
    shares = [Share(v.visit_id, v.locked_km, v.locked_ferry or ZERO) if v.locked_km is not None
              else rest_by_id[v.visit_id] for v in visits]
    return RouteAllocation(shares, rest.rule, rest.note, rest.unexplained_ferry, rest.crossings)


def _allocate(km: Decimal, ferry_minutes: Decimal, visits: list[VisitWeight],
              rule: str) -> RouteAllocation:
    used, notes = rule, []
    if rule == "standalone" and any(v.standalone_km is None or v.standalone_km <= 0
                                    for v in visits):
        used = "equal"
        notes.append("enkelttur-afstand mangler: ligelig fordeling")
    weights = [Decimal(1) if used == "equal" else Decimal(v.standalone_km) for v in visits]
    km_parts = largest_remainder(km, weights, KM_PLACES)

    ferry_parts = [ZERO] * len(visits)
    unexplained = ZERO
    crossings: list[tuple[str, Decimal]] = []
    if ferry_minutes > 0:
        islands: dict[str, list[int]] = {}
        for i, v in enumerate(visits):
            if v.region:
                islands.setdefault(v.region, []).append(i)
        if not islands:
            unexplained = ferry_minutes
        else:
            expected = []
            for idx in islands.values():
                per_trip: dict[int, Decimal | None] = {}
                for i in idx:
                    per_trip.setdefault(visits[i].trip, visits[i].crossing_minutes)
                known = [m for m in per_trip.values() if m is not None]
                expected.append(sum(known, ZERO) if len(known) == len(per_trip) else None)
            if any(e is None for e in expected):
                # crossing times unknown: the ferry visits share pro rata (as before)
                idx = [i for ids in islands.values() for i in ids]
                parts = largest_remainder(ferry_minutes, [weights[i] for i in idx],
                                          FERRY_PLACES)
                for i, part in zip(idx, parts):
                    ferry_parts[i] = part
            else:
                total_expected = sum(expected, ZERO)
                if ferry_minutes <= total_expected:
                    per_island = largest_remainder(ferry_minutes, expected, FERRY_PLACES)
                else:
                    per_island = [e.quantize(Decimal("0.1")) for e in expected]
                    unexplained = ferry_minutes - sum(per_island, ZERO)
                for (island, idx), minutes in zip(islands.items(), per_island):
                    crossings.append((island, minutes))
                    parts = largest_remainder(minutes, [weights[i] for i in idx],
                                              FERRY_PLACES)
                    for i, part in zip(idx, parts):
                        ferry_parts[i] = part
    shares = [Share(v.visit_id, km_parts[i], ferry_parts[i]) for i, v in enumerate(visits)]
    return RouteAllocation(shares, used, "; ".join(notes), unexplained, tuple(crossings))
