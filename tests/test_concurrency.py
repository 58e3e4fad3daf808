"""Several users at once, on the real PostgreSQL server CI starts (HJEMMEPROVE_TEST_PG), with
real concurrent connections (one engine per user, threads released together by a barrier).

- two coordinators saving the same request: one wins, the other is refused with a message and
  the fresh values, never a silent overwrite;
- finance officers issuing at the same moment: invoice numbers unique and gapless.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hjemmeprove.app import App
from hjemmeprove.db.models import Agreement, Invoice, NumberSequence
from hjemmeprove.errors import ConflictError
from hjemmeprove.services.reference import load_defaults
from hjemmeprove.services.requests import detail_to_form
from tests.factories import add_department, request_values

TODAY = dt.date(2024, 3, 20)


def issue_next(store, sequence: str = "invoice") -> int:
    """Issues one invoice the way billing does: the counter row locked (SELECT ... FOR UPDATE),
    incremented, and the number set on the invoice, in one transaction. A stand-in used until
    (and where) BillingService is not at hand."""
    ins = pg_insert if not store.is_sqlite else sqlite_insert
    with store.session() as s:
        s.execute(ins(NumberSequence).values(name=sequence, last_value=0)
                  .on_conflict_do_nothing())
        counter = s.scalars(select(NumberSequence).where(NumberSequence.name == sequence)
                            .with_for_update()).one()
        agreement = s.scalars(select(Agreement).order_by(Agreement.id)).first()
        counter.last_value += 1
        number = counter.last_value
        s.add(Invoice(agreement_id=agreement.id, municipality_id=agreement.municipality_id,
                      department_id=agreement.department_id, month="2024-03", status="issued",
                      number=number, issue_date=TODAY))
    return number


def _users(url, n):
    apps = [App(url, user=f"bruger{i}", upgrade=False) for i in range(n)]
    for a in apps:
        a.store.engine.pool.dispose()
    return apps


def _run_together(fns):
    barrier = threading.Barrier(len(fns))
    results: list = [None] * len(fns)

    def run(i, fn):
        barrier.wait()
        try:
            results[i] = fn()
        except BaseException as e:  # collected and judged by the test
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


@pytest.fixture
def pg_dept(pg_url):
    a = App(pg_url, user="test")
    load_defaults(a.store)
    add_department(a)
    yield a
    a.close()


@pytest.mark.postgres
def test_two_coordinators_editing_one_request_never_overwrite(pg_dept, pg_url):
    rid = pg_dept.requests.create(request_values(note="først"), today=TODAY)
    rounds = 20
    outcomes = Counter()
    a, b = _users(pg_url, 2)
    try:
        for r in range(rounds):
            da, db = a.requests.get(rid), b.requests.get(rid)  # both open the same version
            assert da.version == db.version
            fa, fb = detail_to_form(da), detail_to_form(db)
            fa["note"], fb["note"] = f"A{r}", f"B{r}"
            res = _run_together([
                lambda: a.requests.update(rid, da.version, fa, today=TODAY),
                lambda: b.requests.update(rid, db.version, fb, today=TODAY),
            ])
            wins = [i for i, x in enumerate(res) if x is None]
            losses = [x for x in res if isinstance(x, ConflictError)]
            assert len(wins) == 1 and len(losses) == 1, res
            winner_note = ("A", "B")[wins[0]] + str(r)
            now = pg_dept.requests.get(rid)
            assert now.note == winner_note and now.version == da.version + 1
            assert losses[0].fresh["note"] == winner_note  # the loser sees the fresh values
            assert losses[0].fresh["version"] == now.version
            assert "ændret af en anden" in str(losses[0])
            outcomes["ABCD"[wins[0]]] += 1
    finally:
        for x in (a, b):
            x.close()
    history = pg_dept.requests.history(rid)
    notes = [h.after.get("note") for h in history if h.action == "update"]
    assert len(notes) == rounds  # one saved edit per round, none lost, none doubled
    print(f"\nconcurrent edits: {rounds} rounds, {rounds} refused with fresh values, "
          f"winners {dict(outcomes)}")


def test_stale_save_is_refused_with_fresh_values(department_app):
    """The same rule on either backend, without threads: a save on an old version."""
    app = department_app
    rid = app.requests.create(request_values(note="v1"), today=TODAY)
    old = app.requests.get(rid)
    first = detail_to_form(old) | {"note": "kollega"}
    app.requests.update(rid, old.version, first, today=TODAY)
    mine = detail_to_form(old) | {"note": "mig"}
    with pytest.raises(ConflictError) as e:
        app.requests.update(rid, old.version, mine, today=TODAY)
    assert e.value.fresh["note"] == "kollega"
    assert app.requests.get(rid).note == "kollega"


def _drafts(app, months: int) -> list[int]:
    """One draft per municipality (3) and month, through the real monthly run."""
    from tests.test_invoice_fixtures import add_route, set_2020_rates

    set_2020_rates(app)
    ids = []
    for m in range(1, months + 1):
        day = dt.date(2020, m, 10)
        add_route(app, day, [{"code": c} for c in (479, 492, 430)], km="42.5")
        ids += [info.id for info in app.billing.run(f"2020-{m:02d}")]
    return ids


@pytest.mark.slow
def test_finance_officers_issuing_at_once_get_unique_gapless_numbers(db_url):
    """Four officers (own connections) issue the same 36 drafts at the same moment, each in
    its own random order, through BillingService.issue: each draft is issued once, the others
    are refused, and the numbers are 1..36 without gaps or duplicates."""
    import random

    owner = App(db_url, user="test")
    load_defaults(owner.store)
    add_department(owner)
    drafts = _drafts(owner, 12)
    assert len(drafts) == 36
    officers = _users(db_url, 4)

    def work(app, seed):
        order = drafts[:]
        random.Random(seed).shuffle(order)
        got, refused = [], 0
        for inv_id in order:
            try:
                got.append(app.billing.issue(inv_id, issue_date=dt.date(2021, 1, 4)).number)
            except ConflictError:
                refused += 1
        return got, refused

    try:
        res = _run_together([lambda a=a, i=i: work(a, i) for i, a in enumerate(officers)])
    finally:
        for a in officers:
            a.close()
    errors = [r for r in res if isinstance(r, BaseException)]
    assert not errors, errors
    numbers = sorted(n for got, _ in res for n in got)
    refused = sum(r for _, r in res)
    infos = owner.billing.list_invoices()
    owner.close()
    stored = sorted(i.number for i in infos if i.number is not None)
    gaps = len(set(range(1, len(drafts) + 1)) - set(stored))
    print(f"\nBillingService.issue at once: 4 officers x {len(drafts)} drafts = "
          f"{4 * len(drafts)} attempts, {len(numbers)} issued, {refused} refused as already "
          f"issued, {gaps} gaps, {len(stored) - len(set(stored))} duplicates")
    assert numbers == list(range(1, len(drafts) + 1))
    assert stored == numbers
    assert refused == 3 * len(drafts)
    assert all(i.status == "issued" for i in infos)


@pytest.mark.postgres
def test_counter_alone_under_load_stays_gapless(pg_dept, pg_url):
    """The bare counter (SELECT ... FOR UPDATE and increment), 4 connections x 15."""
    officers, per_officer = 4, 15
    users = _users(pg_url, officers)
    try:
        res = _run_together([
            (lambda u=u: [issue_next(u.store) for _ in range(per_officer)]) for u in users])
    finally:
        for u in users:
            u.close()
    assert not [r for r in res if isinstance(r, BaseException)], res
    numbers = sorted(n for r in res for n in r)
    assert numbers == list(range(1, officers * per_officer + 1))
