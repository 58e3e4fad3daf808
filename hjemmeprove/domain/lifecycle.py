"""A booking request's life, in one place (pure: no database, no clock).

A request's status is never set by hand: it follows from its facts.

| facts                                                        | status         |
| ------------------------------------------------------------ | -------------- |
| a visit with an outcome the bioanalyst drove to              | ``done``       |
| a cancellation, or a visit with outcome ``cancelled_late``   | ``cancelled``  |
| marked not eligible (a reason is recorded)                   | ``not_eligible`` |
| an *active* visit that is locked (reply sent)                | ``locked``     |
| an *active* visit on a route                                 | ``planned``    |
| none of these                                                | ``open``       |

An **active visit** is a visit without an outcome. A late cancellation keeps its visit (outcome
``cancelled_late``, off the route) for the statement; that visit is not active. The schema
holds the two rules that must never break (migration 0004): at most one active visit per
request, and no active visit for a request that has a cancellation.

The first day a visit may happen is the working day after the day of receipt (receipt is day
0, domain rule 3), or the request's own "not before" day when that is later; the last is the
deadline, or the agreement's end when that comes first (§13). The planner and a manual move
both ask here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hjemmeprove.domain import formats
from hjemmeprove.domain.labels import ACTIVE_STATUSES, DRIVEN_OUTCOMES, status_label

CANCELLED_LATE = "cancelled_late"
FINAL_STATUSES = ("done", "cancelled", "not_eligible")


@dataclass(frozen=True)
class VisitFacts:
    outcome: str | None = None
    locked: bool = False
    on_route: bool = True

    @property
    def active(self) -> bool:
        return is_active_visit(self.outcome)


@dataclass(frozen=True)
class Facts:
    not_eligible: bool = False
    cancelled: bool = False
    visits: tuple[VisitFacts, ...] = ()


def is_active_visit(outcome: str | None) -> bool:
    """A visit still to happen: it has no outcome (a late cancellation's visit has one)."""
    return outcome is None


def status(facts: Facts) -> str:
    """The status that follows from a request's facts (see the table above)."""
    outcomes = {v.outcome for v in facts.visits}
    if outcomes & set(DRIVEN_OUTCOMES):
        return "done"
    if facts.cancelled or CANCELLED_LATE in outcomes:
        return "cancelled"
    if facts.not_eligible:
        return "not_eligible"
    active = [v for v in facts.visits if v.active and v.on_route]
    if any(v.locked for v in active):
        return "locked"
    if active:
        return "planned"
    return "open"


def facts_of(request, visits: Iterable) -> Facts:
    """The facts of a request row and its visit rows (anything with the same attributes:
    ``not_eligible_reason``, ``cancellations``; visits' ``outcome``, ``locked``,
    ``route_id``)."""
    return Facts(
        not_eligible=bool((getattr(request, "not_eligible_reason", "") or "").strip()),
        cancelled=bool(getattr(request, "cancellations", None)),
        visits=tuple(VisitFacts(v.outcome, bool(v.locked), v.route_id is not None)
                     for v in visits))


def settle(request, visits: Iterable) -> str:
    """Sets ``request.status`` from its facts and returns it (the one writer of a status)."""
    new = status(facts_of(request, visits))
    if getattr(request, "status", None) != new:
        request.status = new
    return new


def is_active(status_code: str) -> bool:
    return status_code in ACTIVE_STATUSES


# What a user may do to a request in each status; None where allowed, else why not (Danish).
ACTIONS = ("edit", "cancel", "mark_not_eligible", "plan", "record_outcome", "uncancel")
_ALLOWED = {
    "open": {"edit", "cancel", "mark_not_eligible", "plan"},
    "planned": {"edit", "cancel", "mark_not_eligible", "plan", "record_outcome"},
    "locked": {"edit", "cancel", "mark_not_eligible", "plan", "record_outcome"},
    "done": {"record_outcome"},  # a correction at day close
    # a late cancellation's outcome is corrected at day close; a cancellation may be undone
    # while uncancel_refusal allows it
    "cancelled": {"record_outcome", "uncancel"},
    "not_eligible": set(),
}


def refusal(status_code: str, action: str) -> str | None:
    """None when ``action`` is allowed in ``status_code``, else the Danish reason."""
    if action not in ACTIONS:
        raise ValueError(action)
    if action in _ALLOWED.get(status_code, set()):
        return None
    return f"henvisningen er {status_label(status_code).lower()}"


def uncancel_refusal(*, status_code: str, recorded: bool, visit_day: dt.date | None,
                     today: dt.date, replied: bool, billed: bool) -> str | None:
    """None when a cancellation may still be undone, else why not (Danish).

    Undoing puts the request back as it was before the cancellation (open, or its kept
    late-cancelled visit active again in its locked day and window, for the next plan to put
    on a route). It is refused once that would rewrite what others have acted on:

    - the request is not cancelled, or was cancelled by a visit's outcome at day close
      (``recorded`` False: no recorded cancellation; that outcome is corrected there);
    - the cancelled visit is on an issued invoice (``billed``): a credit note corrects it;
    - the municipality has had a reply about the request since the cancellation (``replied``);
    - the visit's day has passed (``visit_day`` before ``today``): it can no longer happen.
    """
    why = refusal(status_code, "uncancel")
    if why:
        return why
    if not recorded:
        return ("henvisningen blev aflyst ved dagsafslutningen (udfald sent aflyst); "
                "ret udfaldet i Dagsafslutning")
    if billed:
        return "det sent aflyste besøg er faktureret; ret det med en kreditnota"
    if replied:
        return "kommunen har fået svar om henvisningen efter aflysningen"
    if visit_day is not None and visit_day < today:
        return f"besøgsdagen {formats.date(visit_day)} er passeret"
    return None


def first_allowed_day(received: dt.date, earliest: dt.date | None,
                      next_working_day: Callable[[dt.date], dt.date]) -> dt.date:
    """The first day a visit may happen: the working day after receipt (day 0), or the
    request's own 'not before' day when later."""
    first = next_working_day(received)
    if earliest is not None and earliest > first:
        first = earliest
    return first


def last_allowed_day(deadline: dt.date, agreement_end: dt.date | None) -> dt.date:
    """The last day a visit may happen: the deadline, or the agreement's end when earlier."""
    return min(deadline, agreement_end) if agreement_end is not None else deadline


def day_problems(day: dt.date, *, received: dt.date, earliest: dt.date | None,
                 deadline: dt.date, agreement_end: dt.date | None,
                 next_working_day: Callable[[dt.date], dt.date]) -> list[str]:
    """Why a visit may not happen on ``day`` (Danish), the same rule the planner uses."""
    problems = []
    first = first_allowed_day(received, earliest, next_working_day)
    if day < first:
        problems.append(f"for tidligt: tidligst {formats.date(first)}")
    if day > deadline:
        problems.append(f"efter fristen {formats.date(deadline)}")
    if agreement_end is not None and day > agreement_end:
        problems.append(f"aftalen med kommunen ophørte {formats.date(agreement_end)}")
    return problems
