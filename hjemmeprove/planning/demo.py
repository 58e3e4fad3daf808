"""Routes, replies and outcomes for the demo data: three months of history and the next days.

A cheap heuristic, not the optimiser (the demo must fill in seconds): each working day takes the
requests that are due (earliest deadline first), splits them between the bioanalysts at work
by angle around the lab (EKG visits to a bioanalyst who takes EKG), orders each route by nearest
neighbour (fasting visits first) and times it with the same distance source as the planner.
Past days get outcomes (mostly taken, a few not at home or refused) and driven km (planned km
± a few per cent).

Today and the coming days are planned by the real planner (a short solve), so that what the
demo shows as locked is a plan the planner itself can keep; replies are sent (and the visits
locked) for today and the next two working days; later days are planned but not replied to.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hjemmeprove.db.models import Bioanalyst, Department, Request, Route, Visit
from hjemmeprove.domain.lifecycle import settle
from hjemmeprove.planning.distances import round_km, round_min, source_for_store
from hjemmeprove.planning.planner import reply_window

PER_ANALYST = 7  # visits per bioanalyst per day at most
LOCKED_AHEAD = 2  # working days after today with replies sent
PLAN_AHEAD = 5  # working days after today that are planned


def _floor30(minutes: float) -> int:
    return int(minutes // 30 * 30)


def _t(minutes: float) -> dt.time:
    m = int(round(minutes))
    m = max(0, min(m, 23 * 60 + 59))
    return dt.time(m // 60, m % 60)


def plan_demo_history(app, today: dt.date, seed: int = 7) -> None:
    rng = random.Random(seed)
    store = app.store
    calendar = app.calendar()
    source = source_for_store(store)
    window = int(app.settings.get("reply.window_minutes"))
    service = int(app.settings.get("planning.service_minutes"))
    sampling = int(app.settings.get("planning.sampling_minutes"))
    with store.session(user="demo") as s:
        dept = s.scalars(select(Department)).first()
        if dept is None:
            return
        lab = (dept.lab_lat, dept.lab_lon)
        analysts = list(s.scalars(select(Bioanalyst).where(Bioanalyst.department_id == dept.id,
                                                           Bioanalyst.active)))
        reqs = list(s.scalars(select(Request).options(joinedload(Request.citizen))
                              .where(Request.status == "open").order_by(Request.received,
                                                                        Request.id)))
        if not reqs:
            return
        first_day = calendar.next_working_day(min(r.received for r in reqs))
        last_day = calendar.add_working_days(today, PLAN_AHEAD)
        locked_until = calendar.add_working_days(today, LOCKED_AHEAD)
        pending: list[Request] = []
        queue = list(reqs)
        qi = 0
        for day in calendar.iter_working_days(first_day, today - dt.timedelta(days=1)):
            while qi < len(queue) and queue[qi].received < day and queue[qi].received <= today:
                pending.append(queue[qi])
                qi += 1
            at_work = [a for a in analysts
                       if not any(x.start <= day <= x.end for x in a.absences)]
            if not at_work or not pending:
                continue
            pending.sort(key=lambda r: (r.deadline, r.id))
            take = pending[: PER_ANALYST * len(at_work)]
            pending = pending[len(take):]
            _plan_day(s, rng, dept, lab, day, today, locked_until, at_work, take, source,
                      window, service, sampling, calendar)
    _plan_coming_days(app, calendar, today, last_day, locked_until)


def _plan_coming_days(app, calendar, today, last_day, locked_until,
                      time_limit_s: float = 1.5) -> None:
    """Day by day, as a coordinator does: each day takes what is due by then."""
    first = today if calendar.is_working_day(today) else calendar.next_working_day(today)
    for day in calendar.iter_working_days(first, last_day):
        app.planning.plan(day, day, time_limit_s=time_limit_s)
    # the demo's own plans are its history, not a re-plan the coordinator just made: the
    # Planlægning view shows the newest re-plan's changes as a banner
    app.planning.last_replan = None
    morning = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(14, 0))
    app.planning.send_replies(first, locked_until, now=morning)


def _plan_day(s, rng, dept, lab, day, today, locked_until, analysts, reqs, source, window,
              service, sampling, calendar) -> None:
    def angle(r):
        return math.atan2(r.effective_lat - lab[0], (r.effective_lon - lab[1]) * 0.57)

    reqs = sorted(reqs, key=angle)
    k = len(analysts)
    chunks = [reqs[i * len(reqs) // k:(i + 1) * len(reqs) // k] for i in range(k)]
    ekg_idx = [i for i, a in enumerate(analysts) if "ekg" in a.skill_set]
    for i, a in enumerate(analysts):
        if "ekg" in a.skill_set or not ekg_idx:
            continue
        for r in [r for r in chunks[i] if r.ekg]:
            chunks[i].remove(r)
            chunks[min(ekg_idx, key=lambda j: len(chunks[j]))].append(r)
    for a, chunk in zip(analysts, chunks):
        if chunk:
            _route(s, rng, dept, lab, day, today, locked_until, a, chunk, source, window,
                   service, sampling, calendar)


def _route(s, rng, dept, lab, day, today, locked_until, analyst, reqs, source, window, service,
           sampling, calendar) -> None:
    pts = [lab] + [(r.effective_lat, r.effective_lon) for r in reqs]
    m = source.matrix(pts)
    todo = list(range(1, len(pts)))
    order = []
    cur = 0
    fasting = [i for i in todo if reqs[i - 1].window_end and reqs[i - 1].window_end <= dt.time(11)]
    while todo:
        pool = [i for i in todo if i in fasting] or todo
        nxt = min(pool, key=lambda j: m.minutes[cur, j])
        order.append(nxt)
        todo.remove(nxt)
        cur = nxt
    clock = analyst.day_start.hour * 60 + analyst.day_start.minute
    start = clock
    prev = 0
    km = ferry = 0.0
    lunch_done = False
    route = Route(bioanalyst_id=analyst.id, department_id=dept.id, date=day,
                  distance_source=source.describe())
    s.add(route)
    s.flush()
    past = day < today
    locked = day <= locked_until
    for seq, i in enumerate(order, start=1):
        leg = m.leg(prev, i)
        clock += leg.minutes
        r = reqs[i - 1]
        if r.window_start:
            clock = max(clock, r.window_start.hour * 60 + r.window_start.minute)
        if not lunch_done and clock >= 11 * 60 + 30:
            clock += 30
            lunch_done = True
        km += leg.km
        ferry += leg.ferry_minutes
        out, back = m.leg(0, i), m.leg(i, 0)
        # the promised window lies inside the request's own times (planner.reply_window)
        rs, re_ = reply_window(int(clock * 60), [r], analyst.day_start, window * 60)
        v = Visit(request_id=r.id, route_id=route.id, sequence=100 + seq, date=day,
                  planned_arrival=_t(clock), window_start=rs, window_end=re_,
                  locked=locked,
                  reply_sent_at=(dt.datetime.combine(calendar.add_working_days(day, 0)
                                                     - dt.timedelta(days=2), dt.time(14, 0))
                                 if locked else None),
                  leg_km=round_km(leg.km), leg_ferry_minutes=round_min(leg.ferry_minutes),
                  standalone_km=round_km(out.km + back.km),
                  ferry_link=out.ferry_link or back.ferry_link)
        if past:
            roll = rng.random()
            v.outcome = "taken" if roll < 0.92 else ("not_home" if roll < 0.97 else "refused")
            v.ekg_done = r.ekg and v.outcome == "taken"
        s.add(v)
        settle(r, [v])
        clock += service + sampling + (10 if r.ekg else 0)
        prev = i
    back = m.leg(prev, 0)
    km += back.km
    ferry += back.ferry_minutes
    clock += back.minutes
    route.planned_km = round_km(km)
    route.planned_ferry_minutes = round_min(ferry)
    route.planned_minutes = int(round(clock - start))
    if past:
        route.driven_km = Decimal(str(round(km * (1 + rng.gauss(0, 0.03)), 1))).quantize(
            Decimal("0.001"))
        route.driven_ferry_minutes = round_min(ferry)
        route.closed_at = dt.datetime.combine(day, dt.time(16, 0))
