"""Why a request could not be planned, naming the binding rule and the way out (no database).

The solver only knows that a stop was left out; the coordinator needs the cause and the
smallest change that would make the visit plannable. ``explain`` checks one request alone,
against the same rules the planner's model keeps (planner.py, model.py), from the most
specific cause to the least:

1. no position for the address;
2. the agreement ends, or the deadline falls, before the first day the visit may happen;
3. the skill (EKG): no bioanalyst with it at work on an allowed day;
4. the samples' stability against the way back to the lab (a ferry crossing often is most
   of it): "med 90 min holdbarhed kan besøget planlægges";
5. the citizen's time window against the bioanalysts' working hours and the drive;
6. otherwise, when the solver found no room: capacity (the days up to the deadline are full).

The smallest change is rounded up to a whole quarter of an hour (times, minutes). Times in
prose are written "kl. 10:00", dates dd.mm.åååå (domain/formats.py's rule).
"""

from __future__ import annotations

import datetime as dt
import math

from hjemmeprove.domain import formats
from hjemmeprove.domain.lifecycle import first_allowed_day, last_allowed_day
from hjemmeprove.planning.distances import DistanceError

QUARTER = 15  # minutes: a way out is rounded up to this


def _kl(seconds: float) -> str:
    seconds = int(seconds) % 86400
    return f"kl. {formats.clock(dt.time(seconds // 3600, seconds % 3600 // 60))}"


def _sec(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _up(minutes: float) -> int:
    return int(math.ceil(minutes / QUARTER - 1e-9) * QUARTER)


def explain_all(lab, days: list[dt.date], analysts: list, requests: list, source, cfg,
                unplanned, next_working_day) -> dict[int, str]:
    """request id → the reason (Danish) for each unplanned request a check explains.
    ``unplanned``: the planner's (request id, reason) pairs or just ids."""
    pairs = [(u, "") if isinstance(u, int) else (u[0], u[1]) for u in unplanned]
    if not pairs or not days:
        return {}
    by_id = {r.id: r for r in requests}
    chosen = [by_id[rid] for rid, _w in pairs if rid in by_id]
    placed = [r for r in chosen if r.lat is not None and r.lon is not None]
    matrix = None
    if placed and lab[0] is not None:
        try:
            matrix = source.matrix([lab] + [(r.lat, r.lon) for r in placed])
        except DistanceError:  # the routing service is away: the checks without distances
            matrix = None
    index = {r.id: k + 1 for k, r in enumerate(placed)}
    out = {}
    for rid, why in pairs:
        r = by_id.get(rid)
        if r is None:
            continue
        text = explain(r, days, analysts, cfg, next_working_day, matrix, index.get(rid), why)
        if text:
            out[rid] = text
    return out


def explain(r, days: list[dt.date], analysts: list, cfg, next_working_day, matrix=None,
            loc: int | None = None, planner_reason: str = "") -> str | None:
    """The binding rule for request ``r`` (planner.PlanRequest) and the way out, or None
    when no check finds one (the planner's own reason then stands). ``matrix``/``loc``: the
    lab at 0 and ``r``'s position at ``loc``."""
    if r.lat is None or r.lon is None:
        return ("ingen position for adressen: geokod adressen eller indtast koordinater, så "
                "kan besøget planlægges")
    if r.locked_date is not None:
        return None  # a locked visit's reason is its locked time (the planner says it)
    first_ok = first_allowed_day(r.received, r.earliest, next_working_day)
    if r.agreement_end is not None and r.agreement_end < first_ok:
        return (f"aftalen med kommunen ophører {formats.date(r.agreement_end)}, før første mulige "
                f"prøvedag {formats.date(first_ok)}: forlæng aftalen til mindst "
                f"{formats.date(first_ok)}, så kan besøget planlægges")
    if r.deadline < first_ok:
        return (f"fristen {formats.date(r.deadline)} ligger før første mulige prøvedag "
                f"{formats.date(first_ok)}: med frist {formats.date(first_ok)} kan besøget planlægges")
    last_ok = last_allowed_day(r.deadline, r.agreement_end)
    allowed = [d for d in days if first_ok <= d <= last_ok]
    if not allowed:
        return None  # not due in this period, or its days lie outside it
    at_work = [(a, d) for d in allowed for a in analysts if d not in a.absent]
    if not at_work:
        return (f"ingen bioanalytiker er på arbejde {formats.date(allowed[0])}–"
                f"{formats.date(allowed[-1])} før fristen {formats.date(r.deadline)}")
    if r.ekg:
        ekg = [(a, d) for a, d in at_work if "ekg" in a.skills]
        if not ekg:
            who = [a.name for a in analysts if "ekg" in a.skills]
            way = (f" ({', '.join(who)} er fraværende): flyt fraværet eller giv en anden "
                   "bioanalytiker EKG" if who else ": giv en bioanalytiker EKG")
            return (f"fristen {formats.date(r.deadline)} kan ikke overholdes: ingen bioanalytiker "
                    f"med EKG er på arbejde {formats.date(allowed[0])}–{formats.date(allowed[-1])}"
                    f"{way}, så kan besøget planlægges")
        at_work = ekg
    if matrix is None or loc is None:
        return None
    to = matrix.leg(0, loc)
    back = matrix.leg(loc, 0)
    stab = min(x for x in (r.stability_minutes, cfg.stability_minutes) if x) \
        if (r.stability_minutes or cfg.stability_minutes) else None
    if stab and back.minutes > stab:
        ferry = (f" (heraf færgen {back.ferry_link} {back.ferry_minutes:.0f} min)"
                 if back.ferry_minutes else "")
        return (f"prøverne holder {stab} min, men turen tilbage til laboratoriet tager "
                f"{back.minutes:.0f} min{ferry}: med {_up(back.minutes)} min holdbarhed kan "
                "besøget planlægges")
    n = 1
    service = (cfg.service_minutes + cfg.sampling_minutes * n
               + (cfg.ekg_minutes if r.ekg else 0)) * 60
    ws = _sec(r.window_start) if r.window_start else 0
    we = _sec(r.window_end) if r.window_end else 86400
    best_early = None  # the earliest service start any bioanalyst can make
    best_late = None  # the latest service start that still gets back in time
    for a, _d in at_work:
        start, end = _sec(a.day_start), _sec(a.day_end)
        lo = start + to.minutes * 60
        hi = end - service - back.minutes * 60
        if max(lo, ws) <= min(hi, we - service):
            return None  # the window fits someone's day: not the binding rule
        best_early = lo if best_early is None else min(best_early, lo)
        best_late = hi if best_late is None else max(best_late, hi)
    if best_early is not None and we - service < best_early:
        need = _up((best_early + service) / 60) * 60
        return (f"tidsvinduet slutter {_kl(we)}, men den tidligste ankomst er "
                f"{_kl(best_early)} (arbejdstiden begynder, og turen derud tager "
                f"{to.minutes:.0f} min): med senest {_kl(need)} kan besøget planlægges")
    if best_late is not None and ws > best_late:
        need = best_late // 900 * 900
        if need >= 0:
            return (f"tidsvinduet begynder {_kl(ws)}, men bioanalytikerne skal være tilbage på "
                    f"laboratoriet inden arbejdstidens slutning ({back.minutes:.0f} min "
                    f"kørsel): med tidligst {_kl(need)} kan besøget planlægges")
    if best_late is not None and best_early is not None and best_early > best_late:
        return (f"besøget og turen frem og tilbage ({to.minutes + back.minutes:.0f} min "
                "kørsel) kan ikke nås inden for bioanalytikernes arbejdstid")
    if "ikke plads" in planner_reason:
        return (f"ikke plads på ruterne {formats.date(allowed[0])}–{formats.date(allowed[-1])} før "
                f"fristen {formats.date(r.deadline)} (tid eller kapacitet): flyt et andet besøg, "
                "giv en bioanalytiker længere arbejdstid eller ryk fristen")
    return None
