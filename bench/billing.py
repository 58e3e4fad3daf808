"""Benchmark: bill a month of 5,000 visits over 22 municipalities (all files).

Builds a fresh SQLite database with one department, 20 bioanalysts, the 22 municipalities of
Region Syddanmark with agreements, and ~440 closed routes in October 2026 whose visits mix
municipalities (so shares cross municipality borders), then times:

  run   — BillingService.run(month, out_dir): shares, drafts, and for every municipality the
          invoice PDF, statement PDF, statement CSV and OIOUBL XML written to disk;
  peer  — the same month's statement CSVs written by a plain loop: one SQL query, csv module,
          Decimal, no allocation, no PDFs, no XML (the cheapest thing that could be called
          "a statement").

Prints both times, the ratio run/peer, and the cost per visit.

    .venv/bin/python bench/billing.py [--visits 5000] [--keep DIR] [--profile FILE]
                                      [--processes 1|2]

Wall and CPU time (``process_time``) are both printed: on a shared machine the CPU time is
the steadier figure. A large run renders part of its documents in a second process: its CPU
time is printed separately ("+ … s in a second process"); ``--processes 1`` runs without it.
``--profile`` writes a cProfile of the billing run (pstats format; this process only).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MONTH = "2026-10"
# The program's modules are imported inside the functions: the second process that renders
# part of the documents is started with "spawn", which imports this script again in it.


def build(app, n_visits: int, seed: int = 7) -> None:
    from sqlalchemy import select

    from hjemmeprove.db.models import (
        Agreement, Bioanalyst, Citizen, Department, Municipality, Request, Route, Visit,
        WageIndex)
    from hjemmeprove.services.reference import load_defaults

    rng = random.Random(seed)
    load_defaults(app.store)
    cal = app.calendar()
    days = list(cal.iter_working_days(dt.date(2026, 10, 1), dt.date(2026, 10, 31)))
    with app.store.session() as s:
        dept = Department(name="Klinisk Biokemisk Afdeling", hospital="Benchmark-sygehus",
                          lab_address="Baagøes Allé 15", lab_postcode="5700",
                          lab_city="Svendborg", lab_lat=55.06, lab_lon=10.59, cvr="29190925",
                          ean="5798000000013", bank_reg="0216", bank_account="4069063213")
        s.add(dept)
        s.flush()
        analysts = [Bioanalyst(name=f"Bioanalytiker {i}", department_id=dept.id)
                    for i in range(20)]
        s.add_all(analysts)
        agreements = []
        for m in s.scalars(select(Municipality).order_by(Municipality.code)):
            m.ean = f"5798000{m.code:03d}999"[:13]
            ag = Agreement(municipality_id=m.id, department_id=dept.id,
                           start=dt.date(2020, 1, 1), reference=f"BENCH-{m.code}",
                           invoice_ean=m.ean, person_reference=f"P{m.code}",
                           ekg_price=Decimal("95.00") if m.code % 2 else None)
            s.add(ag)
            agreements.append(ag)
        for year in range(2021, 2027):
            s.add(WageIndex(year=year, percent=Decimal("3.0"), source="EKSEMPEL (benchmark)",
                            example=True))
        s.flush()
        routes = [(a, d) for d in days for a in analysts]
        per_route = defaultdict(int)
        for i in range(n_visits):
            per_route[i % len(routes)] += 1
        n = 0
        for r_index, (analyst, day) in enumerate(routes):
            k = per_route[r_index]
            if not k:
                continue
            stand = [Decimal(rng.randrange(4000, 90000)) / 1000 for _ in range(k)]
            route = Route(bioanalyst_id=analyst.id, department_id=dept.id, date=day,
                          planned_km=sum(stand) / 2, driven_km=(sum(stand) / 2).quantize(
                              Decimal("0.1")), driven_ferry_minutes=Decimal(
                              rng.choice([0, 0, 0, 0, 70, 140])),
                          closed_at=dt.datetime.combine(day, dt.time(16)))
            s.add(route)
            s.flush()
            for j in range(k):
                ag = agreements[rng.randrange(len(agreements))]
                n += 1
                cit = Citizen(cpr=f"{1 + n % 28:02d}{1 + n % 12:02d}4{n % 10}-{n % 10000:04d}",
                              name=f"Borger {n} Ærøsen", address="Vej 1", postcode="5700",
                              city="Svendborg")
                req = Request(citizen=cit, municipality_id=ag.municipality_id,
                              department_id=dept.id, agreement_id=ag.id,
                              received=day - dt.timedelta(days=5), deadline=day,
                              status="done")
                outcome = rng.choices(["taken", "not_home", "refused", "cancelled_late"],
                                      [90, 5, 3, 2])[0]
                s.add(Visit(request=req, route_id=route.id, sequence=j, date=day,
                            outcome=outcome, ekg_done=rng.random() < 0.05,
                            standalone_km=stand[j],
                            ferry_link="Svendborg–Ærøskøbing" if route.driven_ferry_minutes
                            and j == 0 else ""))
        s.flush()


def peer(app, out: Path) -> int:
    """Plain loop: one query, csv + Decimal, one CSV per municipality."""
    from sqlalchemy import select

    from hjemmeprove.db.models import Citizen, Municipality, Request, Visit

    out.mkdir(parents=True, exist_ok=True)
    first, last = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    rows = defaultdict(list)
    with app.store.session() as s:
        q = (select(Municipality.code, Visit.date, Citizen.name, Citizen.cpr, Visit.outcome,
                    Visit.km_share, Visit.ferry_share)
             .join(Request, Visit.request_id == Request.id)
             .join(Citizen, Request.citizen_id == Citizen.id)
             .join(Municipality, Request.municipality_id == Municipality.id)
             .where(Visit.date >= first, Visit.date <= last, Visit.outcome.is_not(None))
             .order_by(Municipality.code, Visit.date))
        for code, day, name, cpr, outcome, km, ferry in s.execute(q):
            rows[code].append((day, name, cpr[:7] + "XXXX", outcome, km or Decimal(0),
                               ferry or Decimal(0)))
    n = 0
    for code, items in rows.items():
        with open(out / f"{code}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter=";")
            total_km = Decimal(0)
            for day, name, cpr, outcome, km, ferry in items:
                w.writerow([day.isoformat(), name, cpr, outcome, f"{km:.3f}", f"{ferry:.1f}"])
                total_km += km
                n += 1
            w.writerow(["I alt", "", "", "", f"{total_km:.3f}", ""])
    return n


def _children_cpu() -> float:
    """CPU seconds of this process's ended child processes (0 where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from hjemmeprove.app import App

    ap = argparse.ArgumentParser()
    ap.add_argument("--visits", type=int, default=5000)
    ap.add_argument("--keep", help="keep the database and files in this folder")
    ap.add_argument("--profile", help="write a cProfile of the billing run to this file")
    ap.add_argument("--processes", type=int, choices=(1, 2), default=2,
                    help="1: render every document in this process (no second process)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-billing-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.sqlite3"
    if db.exists():
        db.unlink()
    app = App(f"sqlite:///{db}", user="bench")
    t0 = time.perf_counter()
    build(app, args.visits)
    t_build = time.perf_counter() - t0

    app.billing.render_processes = args.processes
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        results = prof.runcall(app.billing.run, MONTH, work / "run")
        prof.dump_stats(args.profile)
    else:
        results = app.billing.run(MONTH, work / "run")
    t_run, c_run = time.perf_counter() - t0, time.process_time() - c0
    k_run = _children_cpu() - k0  # the second process that renders part of the documents
    files = sum(len(r.files) for r in results)
    items = sum(len(app.billing.document_data(r.id).items) for r in results)

    t0, c0 = time.perf_counter(), time.process_time()
    n_peer = peer(app, work / "peer")
    t_peer, c_peer = time.perf_counter() - t0, time.process_time() - c0

    total = sum((r.total for r in results), Decimal(0))
    print(f"data: {args.visits} visits, {len(results)} municipalities billed, "
          f"{items} statement rows, {files} files, total {total} kr. (built in {t_build:.1f} s)")
    print(f"billing run (all files):      {t_run:8.2f} s  ({1000 * t_run / items:.2f} ms/visit), "
          f"cpu {c_run:.2f} s" + (f" + {k_run:.2f} s in a second process" if k_run else ""))
    print(f"peer: plain csv/Decimal loop: {t_peer:8.2f} s  ({n_peer} rows), cpu {c_peer:.2f} s")
    print(f"ratio run/peer: {t_run / t_peer:.1f}x (cpu {c_run / max(c_peer, 1e-9):.1f}x)")
    try:
        from reportlab.lib import rl_accel

        accel = "fp_str" in getattr(rl_accel, "_c_funcs", {})
    except ImportError:
        accel = False
    print(f"reportlab's C accelerator (rl_accel): {'in use' if accel else 'NOT in use'}")
    app.close()


if __name__ == "__main__":
    main()
