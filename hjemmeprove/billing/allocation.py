"""Allocating a route's km and ferry minutes to the visits on it (docs/domain.md,
Allocating a route to its visits). Pure.

Every visit the bioanalyst drove to carries a share. Rule "standalone" (default): weight
s_i = the stand-alone trip lab→visit→lab; km shares D × s_i / Σs. Ferry minutes go only to the
visits whose stand-alone trip uses a ferry, pro rata to s_i among them. Rule "equal": equal
shares (ferry minutes equally among the ferry visits). Shares are km to 3 decimals and
minutes to 1 decimal, distributed by largest remainder so they add up exactly to D and F.

Shares already locked by an issued invoice are kept; the rest of D and F (what the locked
ones do not cover) is allocated among the others, so the route still adds up exactly.
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


def allocate_route(km: Decimal, ferry_minutes: Decimal, visits: list[VisitWeight],
                   rule: str = "standalone") -> RouteAllocation:
    """The shares of one route's km and ferry minutes among the visits that carry one."""
    if rule not in RULES:
        raise ValueError(f"ukendt fordelingsregel '{rule}'")
    if not visits:
        return RouteAllocation([], rule)
    km = Decimal(km).quantize(Decimal("0.001"))
    ferry_minutes = Decimal(ferry_minutes).quantize(Decimal("0.1"))
    free = [v for v in visits if v.locked_km is None]
    locked_km = sum((v.locked_km for v in visits if v.locked_km is not None), ZERO)
    locked_ferry = sum((v.locked_ferry or ZERO for v in visits if v.locked_km is not None), ZERO)
    rest_km = max(km - locked_km, ZERO)
    rest_ferry = max(ferry_minutes - locked_ferry, ZERO)
    used, notes = rule, []
    if rule == "standalone" and any(v.standalone_km is None or v.standalone_km <= 0
                                    for v in free):
        used = "equal"
        notes.append("enkelttur-afstand mangler: ligelig fordeling")
    weights = [Decimal(1) if used == "equal" else Decimal(v.standalone_km) for v in free]
    km_parts = largest_remainder(rest_km, weights, KM_PLACES) if free else []

    ferry_parts = [ZERO] * len(free)
    if rest_ferry > 0 and free:
        idx = [i for i, v in enumerate(free) if v.ferry_link]
        if not idx:
            idx = list(range(len(free)))
            notes.append("færgeminutter uden kendt færgebesøg: fordelt på alle besøg")
        parts = largest_remainder(rest_ferry, [weights[i] for i in idx], FERRY_PLACES)
        for i, part in zip(idx, parts):
            ferry_parts[i] = part
    by_id = {v.visit_id: (km_parts[i], ferry_parts[i]) for i, v in enumerate(free)}
    shares = []
    for v in visits:
        if v.locked_km is not None:
            shares.append(Share(v.visit_id, v.locked_km, v.locked_ferry or ZERO))
        else:
            k, f = by_id[v.visit_id]
            shares.append(Share(v.visit_id, k, f))
    return RouteAllocation(shares, used, "; ".join(notes))
