"""Re-planning keeps the plan: after an absence or a cancellation only what must move
moves, the summary says what moved, and an unplanned request's reason names the rule and the
way out. Undo of a move and of a lock."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from hjemmeprove.db.models import Request, Visit
from tests.test_planning_service import MARSTAL, SVENDBORG, add, analyst_id

MON = dt.date(2024, 3, 4)
FRI = dt.date(2024, 3, 8)


def _spread(app, n=12):
    """n requests spread over Monday to Wednesday (preferred days) around Svendborg."""
    ids = [add(app, i, SVENDBORG, 55.03 + (i % 4) * 0.012, 10.55 + (i // 4) * 0.02,
               received="2024-03-01", preferred_days=("man", "tir", "ons")[i % 3])
           for i in range(n)]
    app.planning.plan(MON, FRI, time_limit_s=2.0)
    return ids


def _order(placements):
    """(date, bioanalyst) → requests in their order."""
    out: dict = {}
    for p in sorted(placements.values(), key=lambda p: p.sequence):
        out.setdefault((p.date, p.analyst_id), []).append(p.request_id)
    return out


def test_an_absence_moves_only_the_absent_bioanalysts_visits(department_app):
    app = department_app
    _spread(app)
    before = app.planning.placements(MON, FRI)
    assert len(before) == 12
    # the bioanalyst with a route on Tuesday (or any day) falls ill that day
    day, aid = next((p.date, p.analyst_id) for p in sorted(before.values(),
                                                            key=lambda p: p.date))
    gone = {rid for rid, p in before.items() if (p.date, p.analyst_id) == (day, aid)}
    assert 0 < len(gone) < len(before)
    result = app.planning.add_absence(aid, day, day, "syg")
    after = app.planning.placements(MON, FRI)
    ch = result.changes
    assert result.mode == "repair"
    assert {m.request_id for m in ch.moves} == gone
    for rid, p in before.items():
        if rid in gone:
            assert rid in after and (after[rid].date, after[rid].analyst_id) != (day, aid)
        else:  # everyone else keeps day, bioanalyst and order
            assert (after[rid].date, after[rid].analyst_id) == (p.date, p.analyst_id), rid
    ob, oa = _order(before), _order(after)
    for key, rids in ob.items():
        if key != (day, aid):
            assert [r for r in oa[key] if r in rids] == rids
    # the summary, in Danish with the names and dates
    name = next(p.analyst for p in before.values() if p.analyst_id == aid)
    text = "\n".join(ch.lines())
    assert f"{day:%d.%m.%Y} {name} →" in text
    assert (day, aid, name) in ch.changed_days
    assert (day, aid, name) not in ch.route_sheets  # no route that day any more
    # a letter tells the day and the time window (not who comes): those changed are printed
    assert set(ch.letters) == {a.visit_id for r, a in after.items()
                               if (a.date, a.window) != (before[r].date, before[r].window)}
    assert ch.letters
    assert app.planning.last_replan is result


def test_a_cancellation_moves_nothing_but_the_cancelled_visit(department_app):
    app = department_app
    ids = _spread(app)
    before = app.planning.placements(MON, FRI)
    victim = ids[5]
    vday, vaid = before[victim].date, before[victim].analyst_id
    app.planning.cancel_and_replan(victim, dt.datetime(2024, 3, 1, 13), "Hjemmeplejen",
                                   "electronic")
    after = app.planning.placements(MON, FRI)
    assert victim not in after
    for rid, p in before.items():
        if rid != victim:
            assert (after[rid].date, after[rid].analyst_id) == (p.date, p.analyst_id), rid
    ob, oa = _order(before), _order(after)
    for key, rids in ob.items():
        kept = [r for r in rids if r != victim]
        assert [r for r in oa.get(key, []) if r in kept] == kept
    ch = app.planning.last_replan.changes
    assert [m.request_id for m in ch.moves] == [victim]
    assert "taget af ruten" in ch.moves[0].text
    assert {(d, a) for d, a, _n in ch.changed_days} == {(vday, vaid)}


def test_the_ferry_against_a_short_stability_names_the_way_out(department_app):
    app = department_app
    rid = add(app, 0, MARSTAL, 54.89, 10.41, received="2024-03-01")  # Ærøskøbing
    with app.store.session() as s:
        s.get(Request, rid).stability_minutes = 60
    result = app.planning.plan(MON, FRI, time_limit_s=1.0)
    reason = {u.request_id: u.reason for u in result.unplanned}[rid]
    assert "Ærøskøbing" in reason and "færgen" in reason, reason
    m = re.search(r"med (\d+) min holdbarhed kan besøget planlægges", reason)
    assert m and int(m.group(1)) > 75, reason
    # and it is the way out: with that stability the visit is planned
    with app.store.session() as s:
        s.get(Request, rid).stability_minutes = int(m.group(1))
    result = app.planning.plan(MON, FRI, time_limit_s=1.0)
    assert rid not in {u.request_id for u in result.unplanned}


def test_a_window_before_the_working_day_names_the_way_out(department_app):
    app = department_app
    rid = add(app, 0, SVENDBORG, 55.06, 10.61, received="2024-03-01",
              window_end="07:00")
    result = app.planning.plan(MON, FRI, time_limit_s=1.0)
    reason = {u.request_id: u.reason for u in result.unplanned}[rid]
    assert "tidsvinduet slutter kl. 07:00" in reason and "med senest kl." in reason, reason


def test_undo_a_move_and_refused_once_replied(department_app):
    app = department_app
    _spread(app, 4)
    before = app.planning.placements(MON, FRI)
    rid, p = next(iter(before.items()))
    other = next(a for a in (analyst_id(app, "Mette Holm"), analyst_id(app, "Louise Friis"))
                 if a != p.analyst_id)
    moved = app.planning.move_visit(p.visit_id, other, p.date)
    assert moved.ok and moved.undo[1:3] == (p.analyst_id, p.date)
    back = app.planning.undo_move(moved.undo)
    assert back.ok, back.problems
    now = app.planning.placements(MON, FRI)[rid]
    assert (now.date, now.analyst_id) == (p.date, p.analyst_id)
    with app.store.session() as s:
        from hjemmeprove.db.models import AuditEntry  # the trail has both steps
        n = len(list(s.scalars(select(AuditEntry).where(AuditEntry.table_name == "visits"))))
    assert n >= 2
    # moved again, then replied to: the undo is refused with the reason
    moved = app.planning.move_visit(p.visit_id, other, p.date)
    app.planning.send_replies(p.date, p.date, now=dt.datetime(2024, 3, 1, 12))
    refused = app.planning.undo_move(moved.undo)
    assert not refused.ok and "svaret er sendt" in refused.problems[0]


def test_undo_a_lock(department_app):
    app = department_app
    _spread(app, 2)
    p = next(iter(app.planning.placements(MON, FRI).values()))
    app.planning.lock([p.visit_id])
    assert app.planning.undo_lock([p.visit_id], locked_before=False).ok
    with app.store.session() as s:
        assert s.get(Visit, p.visit_id).locked is False
    app.planning.send_replies(MON, FRI, now=dt.datetime(2024, 3, 1, 12))
    refused = app.planning.undo_lock([p.visit_id], locked_before=False)
    assert not refused.ok and "låsen kan ikke fortrydes: svaret er sendt" in refused.problems[0]


def test_an_agreement_ending_before_the_first_day_names_the_way_out(department_app):
    from hjemmeprove.db.models import Agreement, Municipality

    app = department_app
    rid = add(app, 0, SVENDBORG, 55.06, 10.61, received="2024-03-01")  # first day: 04.03
    with app.store.session() as s:
        s.scalars(select(Agreement).join(Municipality)
                  .where(Municipality.code == 479)).one().end = dt.date(2024, 3, 1)
    result = app.planning.plan(MON, FRI, time_limit_s=1.0)
    reason = {u.request_id: u.reason for u in result.unplanned}[rid]
    assert reason == ("aftalen med kommunen ophører 01.03.2024, før første mulige prøvedag "
                      "04.03.2024: forlæng aftalen til mindst 04.03.2024, så kan besøget "
                      "planlægges")


def test_optimise_starts_from_the_current_plan(department_app, monkeypatch):
    from hjemmeprove.planning import planner

    app = department_app
    _spread(app, 4)
    before = app.planning.placements(MON, FRI)
    seen = {}
    real = planner.plan

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(planner, "plan", spy)
    result = app.planning.plan(MON, FRI, time_limit_s=1.0)
    assert seen["method"] == "solve" and result.mode == "optimise"
    assert {rid: c[:2] for rid, c in seen["current"].items()} == \
        {rid: (p.analyst_id, p.date) for rid, p in before.items()}
