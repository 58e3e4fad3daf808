"""A request's life, as one table: every transition from each status by each event, and the
first and last day a visit may happen (the planner and a manual move agree)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from hjemmeprove.domain import lifecycle
from hjemmeprove.domain.labels import REQUEST_STATUSES
from hjemmeprove.domain.lifecycle import Facts, VisitFacts

NONE = ()
ON_ROUTE = (VisitFacts(None, False, True),)
LOCKED = (VisitFacts(None, True, True),)
OFF_ROUTE = (VisitFacts(None, False, False),)

# facts that give each status
STATE = {
    "open": Facts(),
    "planned": Facts(visits=ON_ROUTE),
    "locked": Facts(visits=LOCKED),
    "done": Facts(visits=(VisitFacts("taken", True, True),)),
    "cancelled": Facts(cancelled=True),
    "not_eligible": Facts(not_eligible=True),
}


def _event(facts: Facts, event: str) -> Facts:
    """What each event does to the facts (as the services do it)."""
    active = [v for v in facts.visits if v.active]
    rest = tuple(v for v in facts.visits if not v.active)
    if event == "plan":
        return Facts(facts.not_eligible, facts.cancelled,
                     rest + ((VisitFacts(None, active[0].locked, True),) if active
                             else ON_ROUTE))
    if event == "unplan":  # re-plan leaves it out (an unlocked visit goes)
        return Facts(facts.not_eligible, facts.cancelled,
                     rest + tuple(v for v in active if v.locked))
    if event == "reply":  # reply sent: the visit is locked
        return Facts(facts.not_eligible, facts.cancelled,
                     rest + tuple(VisitFacts(None, True, v.on_route) for v in active))
    if event == "unlock":
        return Facts(facts.not_eligible, facts.cancelled,
                     rest + tuple(VisitFacts(None, False, v.on_route) for v in active))
    if event in ("taken", "not_home", "refused"):
        return Facts(facts.not_eligible, facts.cancelled,
                     rest + tuple(VisitFacts(event, v.locked, v.on_route) for v in active))
    if event == "cancel_early":  # the visit goes
        return Facts(facts.not_eligible, True, rest)
    if event == "cancel_late":  # the visit stays, off the route, with outcome cancelled_late
        return Facts(facts.not_eligible, True,
                     rest + tuple(VisitFacts("cancelled_late", v.locked, False) for v in active))
    if event == "not_eligible":
        return Facts(True, facts.cancelled, rest)
    raise AssertionError(event)


EVENTS = ("plan", "unplan", "reply", "unlock", "taken", "not_home", "refused", "cancel_early",
          "cancel_late", "not_eligible")

# (from, event) → to; "-" where the services refuse the event in that status
TRANSITIONS = {
    ("open", "plan"): "planned", ("open", "unplan"): "open", ("open", "reply"): "open",
    ("open", "unlock"): "open", ("open", "taken"): "open", ("open", "not_home"): "open",
    ("open", "refused"): "open", ("open", "cancel_early"): "cancelled",
    ("open", "cancel_late"): "cancelled", ("open", "not_eligible"): "not_eligible",

    ("planned", "plan"): "planned", ("planned", "unplan"): "open",
    ("planned", "reply"): "locked", ("planned", "unlock"): "planned",
    ("planned", "taken"): "done", ("planned", "not_home"): "done",
    ("planned", "refused"): "done", ("planned", "cancel_early"): "cancelled",
    ("planned", "cancel_late"): "cancelled", ("planned", "not_eligible"): "not_eligible",

    ("locked", "plan"): "locked", ("locked", "unplan"): "locked",  # a lock survives re-plan
    ("locked", "reply"): "locked", ("locked", "unlock"): "planned",
    ("locked", "taken"): "done", ("locked", "not_home"): "done",
    ("locked", "refused"): "done", ("locked", "cancel_early"): "cancelled",
    ("locked", "cancel_late"): "cancelled", ("locked", "not_eligible"): "not_eligible",
}
for _s in ("done", "cancelled", "not_eligible"):  # final: the services refuse these events
    for _e in EVENTS:
        TRANSITIONS[(_s, _e)] = "-"


def test_every_status_has_facts_that_give_it():
    assert set(STATE) == set(REQUEST_STATUSES)
    for code, facts in STATE.items():
        assert lifecycle.status(facts) == code


@pytest.mark.parametrize("start,event", sorted(TRANSITIONS))
def test_transition(start, event):
    expected = TRANSITIONS[(start, event)]
    if expected == "-":
        action = {"plan": "plan", "unplan": "plan", "reply": "plan", "unlock": "plan",
                  "taken": "record_outcome", "not_home": "record_outcome",
                  "refused": "record_outcome", "cancel_early": "cancel",
                  "cancel_late": "cancel", "not_eligible": "mark_not_eligible"}[event]
        if action != "record_outcome":
            assert lifecycle.refusal(start, action), (start, event)
        return
    assert lifecycle.status(_event(STATE[start], event)) == expected


def test_the_table_lists_every_status_and_event():
    assert {s for s, _ in TRANSITIONS} == set(REQUEST_STATUSES)
    assert {e for _, e in TRANSITIONS} == set(EVENTS)
    assert len(TRANSITIONS) == len(REQUEST_STATUSES) * len(EVENTS)


def test_precedence_of_facts():
    # a visit the bioanalyst drove to wins over anything else
    assert lifecycle.status(Facts(cancelled=True, visits=(VisitFacts("taken"),))) == "done"
    # a late cancellation's visit is not active: no 'planned' next to it
    assert lifecycle.status(Facts(visits=(VisitFacts("cancelled_late", True, False),))) \
        == "cancelled"
    # an active visit not (yet) on a route does not make a request planned
    assert lifecycle.status(Facts(visits=OFF_ROUTE)) == "open"
    assert lifecycle.is_active_visit(None) and not lifecycle.is_active_visit("cancelled_late")


def _next_working_day(d: dt.date) -> dt.date:
    d += dt.timedelta(days=1)
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d


FRI = dt.date(2024, 3, 8)
MON = dt.date(2024, 3, 11)


@pytest.mark.parametrize("received,earliest,first", [
    (FRI, None, MON),                      # day 0 is the day of receipt
    (FRI, FRI, MON),                       # an own 'not before' day earlier than that: ignored
    (FRI, dt.date(2024, 3, 13), dt.date(2024, 3, 13)),  # a later one wins
])
def test_first_allowed_day(received, earliest, first):
    assert lifecycle.first_allowed_day(received, earliest, _next_working_day) == first


def test_last_allowed_day_and_day_problems():
    deadline = dt.date(2024, 3, 22)
    assert lifecycle.last_allowed_day(deadline, None) == deadline
    assert lifecycle.last_allowed_day(deadline, dt.date(2024, 3, 15)) == dt.date(2024, 3, 15)
    kw = dict(received=FRI, earliest=FRI, deadline=deadline, agreement_end=None,
              next_working_day=_next_working_day)
    assert lifecycle.day_problems(FRI, **kw) == ["for tidligt: tidligst 11.03.2024"]
    assert lifecycle.day_problems(MON, **kw) == []
    assert lifecycle.day_problems(dt.date(2024, 3, 25), **kw) == ["efter fristen 22.03.2024"]


def test_statuses_are_written_only_through_the_lifecycle():
    """No service sets a request's status by hand any more (grep, as the issue did)."""
    root = __import__("pathlib").Path(__file__).resolve().parent.parent
    out = subprocess.run(["grep", "-rnE", r"(req|request|r)\.status = ", "hjemmeprove"],
                         cwd=root, capture_output=True, text=True).stdout
    offenders = [line for line in out.splitlines() if "lifecycle.py" not in line]
    assert offenders == [], offenders


def test_a_manual_move_refuses_the_day_the_planner_refuses(department_app):
    """Received Friday with its own 'not before' day the same Friday: the planner's first day
    is Monday, and a manual move to that Friday is refused too."""
    from tests.factories import request_values

    app = department_app
    rid = app.requests.create(request_values(received="2024-03-08", earliest="2024-03-08"))
    result = app.planning.plan(MON, dt.date(2024, 3, 15), time_limit_s=1.0)
    stop = next(st for r in result.routes for st in r.stops if st.request_id == rid)
    route = next(r for r in result.routes if stop in r.stops)
    assert route.date >= MON
    res = app.planning.move_visit(stop.visit_id, route.analyst_id, FRI)
    assert not res.ok
    assert any("for tidligt: tidligst 11.03.2024" in p for p in res.problems), res.problems
    assert app.planning.route(route.route_id).date == route.date  # nothing moved
    print(f"\nmove to {FRI}: refused ({res.problems}); python {sys.version_info[:2]}")
