"""Benchmark: the Henvisninger list on 100,000 requests, keyset pages against offset pages.

Builds a database (SQLite file, or ``--db`` PostgreSQL URL that must be empty) with one
department, the 22 municipalities of Region Syddanmark with agreements, ~60,000 citizens and
``--requests`` requests over five years (most done, some cancelled — a quarter of those late —
a few not eligible, the last weeks' open, planned and locked), each with its visit. Rows are
written by bulk inserts (no ORM); SQLite's triggers fill the stored sort keys and the search
text, on PostgreSQL the load runs with row triggers off and fills them in one statement, as
migrations 0008 and 0010 do (the search text by its trigger, which 0013's trigger copies
into the narrow table a search's count reads). The search text's trigram index (migration
0010) fills as the rows go in, as in the program: on SQLite the FTS5 table by its triggers,
on PostgreSQL the GIN index itself. On PostgreSQL the load ends with ``VACUUM
(ANALYZE)``: the department's server runs autovacuum, which has visited a table this size
long before anyone searches it; a bench that never vacuumed would time a state (no
statistics, no visibility map) that users never meet.

Then, in the same run and on the same database, times one page (``--page`` rows, the table
view's 200 by default) of:

  old — the query the list ran before keyset paging (``OFFSET``, the planned date and late
        flag computed per row by correlated subqueries, CPR digits by ``replace()``, a
        search as one ``OR`` of ``LIKE``s), copied here as it was;
  new — ``RequestService.page``: keyset pages over stored, indexed sort keys, search by
        indexed lookups.

for every sort key in both directions (first page, a middle page, the last page), under
"Aktive" and "Alle statusser", and for searches (CPR digits, name, street, town, postcode,
request number). Each figure is the median of ``--repeat`` runs, in milliseconds, with the
ratio old/new. The goal is ≤ 50 ms per page for new.

    .venv/bin/python bench/requests_list.py [--requests 100000] [--page 200] [--repeat 3]
                                            [--db URL] [--keep DIR] [--only first|deep|search]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import (and_, case, exists, func, insert, or_, select, text)  # noqa: E402

from hjemmeprove.app import App  # noqa: E402
from hjemmeprove.db.models import (  # noqa: E402
    REQUEST_STATUSES, Agreement, Bioanalyst, Cancellation, Citizen, Department, Municipality,
    Request, Route, Visit)
from hjemmeprove.domain.cpr import cpr_digits  # noqa: E402
from hjemmeprove.domain.labels import ACTIVE_STATUSES  # noqa: E402
from hjemmeprove.services.reference import load_defaults  # noqa: E402
from hjemmeprove.services.requests import SORT_KEYS  # noqa: E402

TODAY = dt.date(2026, 11, 27)
FIRST = ["Anna", "Bent", "Carl", "Dorte", "Erik", "Frede", "Grethe", "Hans", "Inge", "Jens",
         "Karen", "Lars", "Mette", "Niels", "Ole", "Poul", "Rita", "Søren", "Tove", "Ulla",
         "Vagn", "Aase", "Birthe", "Kirsten", "Jørgen", "Else", "Henning", "Lis", "Preben",
         "Ruth", "Svend", "Gunnar", "Edith", "Knud", "Ingrid", "Arne", "Bodil", "Willy",
         "Yvonne", "Ærø"]
LAST = ["Hansen", "Jensen", "Nielsen", "Pedersen", "Andersen", "Christensen", "Larsen",
        "Sørensen", "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen",
        "Thomsen", "Christiansen", "Poulsen", "Johansen", "Møller", "Mortensen", "Knudsen",
        "Jakobsen", "Mikkelsen", "Frederiksen", "Holm", "Lund", "Berg", "Friis", "Juul",
        "Kok", "Dahl", "Skov", "Bach", "Vestergaard", "Iversen", "Lauridsen", "Kjær",
        "Østergaard", "Svendsen", "Winther"]
STREETS = ["Algade", "Bygade", "Cypresvej", "Digevej", "Egevej", "Fjordvej", "Gl. Skolevej",
           "Havnegade", "Industrivej", "Jernbanegade", "Kirkevej", "Lindevej", "Møllevej",
           "Nørregade", "Opnæsgyden", "Præstegårdsvej", "Rosenvænget", "Skolegade",
           "Torvet", "Vestergade", "Østergade", "Åboulevarden", "Bøgevej", "Engvej"]
# (postcode, town) in Region Syddanmark, Marstal among them
TOWNS = [("5000", "Odense C"), ("5200", "Odense V"), ("5220", "Odense SØ"),
         ("5300", "Kerteminde"), ("5500", "Middelfart"), ("5600", "Faaborg"),
         ("5700", "Svendborg"), ("5750", "Ringe"), ("5800", "Nyborg"), ("5900", "Rudkøbing"),
         ("5960", "Marstal"), ("5970", "Ærøskøbing"), ("6000", "Kolding"),
         ("6100", "Haderslev"), ("6200", "Aabenraa"), ("6400", "Sønderborg"),
         ("6700", "Esbjerg"), ("6800", "Varde"), ("7000", "Fredericia"), ("7100", "Vejle"),
         ("6270", "Tønder"), ("5450", "Otterup")]


# --- data ---------------------------------------------------------------------------------


def build(app, n_requests: int, seed: int = 12) -> dict:
    """Bulk-inserts the data set; returns a few values the searches use."""
    rng = random.Random(seed)
    load_defaults(app.store)
    with app.store.session() as s:
        dept = Department(name="Klinisk Biokemisk Afdeling", hospital="Benchmark-sygehus",
                          lab_address="Baagøes Allé 15", lab_postcode="5700",
                          lab_city="Svendborg", lab_lat=55.06, lab_lon=10.59)
        s.add(dept)
        s.flush()
        analysts = [Bioanalyst(name=f"Bioanalytiker {i}", department_id=dept.id)
                    for i in range(20)]
        s.add_all(analysts)
        agreements = []
        for m in s.scalars(select(Municipality).order_by(Municipality.code)):
            ag = Agreement(municipality_id=m.id, department_id=dept.id,
                           start=dt.date(2020, 1, 1), reference=f"BENCH-{m.code}")
            s.add(ag)
            agreements.append(ag)
        s.flush()
        dept_id = dept.id
        analyst_ids = [a.id for a in analysts]
        ags = [(a.id, a.municipality_id) for a in agreements]

    n_citizens = max(1, n_requests * 3 // 5)
    cprs: set[str] = set()
    citizens = []
    while len(citizens) < n_citizens:
        cpr = (f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(20, 60):02d}-"
               f"{rng.randint(0, 9999):04d}")
        if cpr in cprs:
            continue
        cprs.add(cpr)
        postcode, town = rng.choice(TOWNS)
        citizens.append(dict(id=len(citizens) + 1, cpr=cpr,
                             name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                             address=f"{rng.choice(STREETS)} {rng.randint(1, 150)}",
                             postcode=postcode, city=town, lat=None, lon=None,
                             position_quality="", phone="", digital_post_exempt=False))
    start = dt.date(2022, 1, 3)
    span = (TODAY - start).days
    requests, visits, cancellations, routes = [], [], [], {}
    for i in range(n_requests):
        cit = citizens[rng.randrange(n_citizens)] if i >= n_citizens else citizens[i]
        received = start + dt.timedelta(days=rng.randrange(span))
        deadline = received + dt.timedelta(days=14)
        ag_id, muni_id = ags[rng.randrange(len(ags))]
        rid = i + 1
        recent = received > TODAY - dt.timedelta(days=18)
        roll = rng.random()
        late = False
        if recent:
            status = "open" if roll < 0.4 else "planned" if roll < 0.75 else "locked"
        else:
            status = ("done" if roll < 0.93 else "cancelled" if roll < 0.985
                      else "not_eligible")
        visit_day = received + dt.timedelta(days=rng.randint(2, 13))
        if status == "cancelled":
            late = rng.random() < 0.25
            cancellations.append(dict(request_id=rid, at=dt.datetime.combine(
                visit_day - dt.timedelta(days=0 if late else 3), dt.time(7)), by="Hjemmeplejen",
                channel="telephone" if late else "electronic", late=late,
                visit_start=None, recorded_by="bench", note=""))
        sampling = rng.random() < 0.1
        postcode, town = rng.choice(TOWNS) if sampling else (cit["postcode"], cit["city"])
        requests.append(dict(
            id=rid, citizen_id=cit["id"], municipality_id=muni_id, department_id=dept_id,
            agreement_id=ag_id, received=received, earliest=None, deadline=deadline,
            address=f"{rng.choice(STREETS)} {rng.randint(1, 150)}" if sampling
            else cit["address"], postcode=postcode, city=town, lat=None, lon=None,
            position_quality="", access_info="", presence_required="", identity_check="",
            ekg=rng.random() < 0.08, requester="", preferred_days="", window_start=None,
            window_end=None, stability_minutes=None, note="", municipality_reference="",
            status=status, not_eligible_reason="Akut" if status == "not_eligible" else "",
            address_is_registered=not sampling, flags="", created_at=dt.datetime(2026, 1, 1),
            created_by="bench", version=1))
        if status in ("done", "planned", "locked") or late:
            analyst = analyst_ids[rid % len(analyst_ids)]
            on_route = status != "cancelled"
            route_id = None
            if on_route:
                route_id = routes.setdefault((analyst, visit_day), len(routes) + 1)
            visits.append(dict(
                request_id=rid, route_id=route_id, sequence=0, date=visit_day,
                planned_arrival=dt.time(9), window_start=dt.time(9), window_end=dt.time(11),
                locked=status in ("locked", "done") or late, reply_sent_at=None,
                leg_km=0, leg_ferry_minutes=0,
                outcome="taken" if status == "done" else "cancelled_late" if late else None,
                outcome_note="", ekg_done=False, standalone_km=None, ferry_link="",
                km_share=None, ferry_share=None, shares_locked=False, version=1))
    with app.store.engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        if pg:  # row triggers off for the bulk load (as a restore does); the keys set below
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(insert(Citizen), citizens)
        conn.execute(insert(Route), [dict(id=i, bioanalyst_id=a, department_id=dept_id,
                                          date=d, planned_km=0, planned_minutes=0,
                                          planned_ferry_minutes=0, distance_source="",
                                          version=1)
                                     for (a, d), i in routes.items()])
        conn.execute(insert(Request), requests)
        conn.execute(insert(Visit), visits)
        conn.execute(insert(Cancellation), cancellations)
        if pg:
            conn.execute(text("ANALYZE visits, cancellations"))
            # row triggers on again for the one statement that fills the stored keys: the
            # search text's trigger (migration 0010) writes it as the statement touches it,
            # and the citizen's keys' trigger (0011) the citizen's CPR, name and postcode
            conn.execute(text("SET LOCAL session_replication_role = origin"))
            conn.execute(text(
                "UPDATE requests SET planned_date = (SELECT min(v.date) FROM visits v "
                "WHERE v.request_id = requests.id), late_cancelled = EXISTS (SELECT 1 FROM "
                "cancellations c WHERE c.request_id = requests.id AND c.late), "
                "search_text = '', citizen_cpr = ''"))
            for table in ("citizens", "routes", "requests", "visits", "cancellations"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    if app.store.engine.dialect.name == "postgresql":  # as autovacuum would have by now
        # (statistics, and the visibility map that lets an index-only scan skip the rows);
        # the program never runs ANALYZE on SQLite, so neither does the bench
        with app.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") \
                as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    some = citizens[len(citizens) // 2]
    return dict(cpr=some["cpr"], n_citizens=n_citizens, n_visits=len(visits))


def reused(app, n_requests: int) -> dict:
    """``build``'s values from a database it built earlier (the same seed's rows)."""
    n_citizens = max(1, n_requests * 3 // 5)
    with app.store.session() as s:
        if s.scalar(select(func.count()).select_from(Request)) != n_requests:
            raise SystemExit(f"--reuse: the database does not hold {n_requests:,} requests")
        return dict(cpr=s.scalar(select(Citizen.cpr).where(Citizen.id == n_citizens // 2 + 1)),
                    n_citizens=n_citizens,
                    n_visits=s.scalar(select(func.count()).select_from(Visit)))


# --- the list before keyset paging, as it was -------------------------------------------


def _old_late():
    return exists().where(and_(Cancellation.request_id == Request.id, Cancellation.late))


def _old_planned():
    return select(func.min(Visit.date)).where(Visit.request_id == Request.id).scalar_subquery()


def old_query(search="", status=None):
    q = (select(Request.id, Citizen.cpr, Citizen.name, Municipality.name, Municipality.code,
                Request.received, Request.deadline, Request.status, Request.address,
                Citizen.address, Request.ekg, _old_late().label("late"),
                _old_planned().label("planned"))
         .join(Citizen, Request.citizen_id == Citizen.id)
         .join(Municipality, Request.municipality_id == Municipality.id))
    if search:
        like = f"%{search.strip()}%"
        digits = "".join(ch for ch in cpr_digits(search) if ch in "0123456789")
        clauses = [Citizen.name.ilike(like), Citizen.address.ilike(like),
                   Request.address.ilike(like), Municipality.name.ilike(like)]
        if digits:
            clauses.append(func.replace(Citizen.cpr, "-", "").like(f"{digits}%"))
            if digits.isdigit() and len(digits) < 7:
                clauses.append(Request.id == int(digits))
        q = q.where(or_(*clauses))
    if status:
        q = q.where(Request.status.in_(status) if isinstance(status, tuple)
                    else Request.status == status)
    return q


def _old_sort_expr(key: str):
    return {
        "id": Request.id, "cpr": Citizen.cpr, "name": Citizen.name,
        "municipality": Municipality.name, "received": Request.received,
        "deadline": Request.deadline,
        "status": case({s: i for i, s in enumerate(REQUEST_STATUSES)}, value=Request.status,
                       else_=len(REQUEST_STATUSES)),
        "planned": _old_planned(),
        "address": case((Request.address != "", Request.address), else_=Citizen.address),
        "ekg": case((Request.ekg, 1), else_=0),
        "late": case((_old_late(), 1), else_=0),
    }[key]


def old_page(app, key, descending, offset, limit, search="", status=None):
    expr = _old_sort_expr(key)
    order = []
    if key == "planned":
        order.append(case((expr.is_(None), 1), else_=0))
    order.append(expr.desc() if descending else expr.asc())
    if key != "id":
        order.append(Request.id.desc() if descending else Request.id.asc())
    with app.store.session() as s:
        return s.execute(old_query(search, status).order_by(*order).offset(offset)
                         .limit(limit)).all()


def old_count(app, search="", status=None):
    with app.store.session() as s:
        return s.scalar(old_query(search, status).with_only_columns(func.count(Request.id))
                        .order_by(None))


# --- timing -------------------------------------------------------------------------------


# CPU time of the last ``timed`` call (median, ms): this process's, plus on PostgreSQL the
# on-CPU time of the database's client backends (``/proc/<pid>/schedstat``, the server runs
# on this machine; a parallel query's short-lived workers are not counted). Unlike the wall
# time it hardly moves with the load other processes put on the cores.
CPU = {"engine": None, "last": 0.0}


def _server_ns(pids) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def _backends() -> list[int]:
    engine = CPU["engine"]
    if engine is None or engine.dialect.name != "postgresql":
        return []
    with engine.connect() as c:
        return list(c.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")).scalars())


def timed(fn, repeat: int) -> tuple[float, object]:
    times, cpus, result = [], [], None
    for _ in range(repeat):
        pids = _backends()
        s0, c0 = _server_ns(pids), time.process_time()
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000 + (_server_ns(pids) - s0) / 1e6)
    CPU["last"] = statistics.median(cpus)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--page", type=int, default=200, help="rows per page (the view's 200)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    ap.add_argument("--db", help="an empty PostgreSQL database URL (default: a SQLite file)")
    ap.add_argument("--keep", help="keep the SQLite database in this folder")
    ap.add_argument("--only", choices=("first", "deep", "search"), help="one part only")
    ap.add_argument("--reuse", action="store_true",
                    help="time a database an earlier run built (--db, or --keep's file), "
                         "upgraded to this tree's schema, instead of building one: two trees "
                         "timed in turn on the same rows")
    args = ap.parse_args()
    if args.db:
        url = args.db
    else:
        work = Path(args.keep or tempfile.mkdtemp(prefix="bench-requests-"))
        work.mkdir(parents=True, exist_ok=True)
        db = work / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm") if not args.reuse else ():
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db}"
    app = App(url, user="bench")
    if app.store.engine.dialect.name == "postgresql":  # its own connection: never timed
        from sqlalchemy import create_engine
        CPU["engine"] = create_engine(url, poolclass=__import__("sqlalchemy.pool").pool.NullPool)
    t0 = time.perf_counter()
    info = reused(app, args.requests) if args.reuse else build(app, args.requests)
    print(f"data: {args.requests:,} requests, {info['n_citizens']:,} citizens, "
          f"{info['n_visits']:,} visits on {app.store.engine.dialect.name} "
          f"(built in {time.perf_counter() - t0:.1f} s); page {args.page} rows, median of "
          f"{args.repeat}")
    print("load average: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    run(app, args, info)
    print("load average: %.2f %.2f %.2f" % os.getloadavg())
    app.close()


# the sorts a search's pages are also timed under (new only)
SEARCH_SORTS = (("deadline", False), ("name", True), ("planned", False), ("status", False),
                ("address", False), ("cpr", True))


def run(app, args, info) -> None:
    service, n, rep = app.requests, args.page, args.repeat
    figures = []

    def line(label: str, old_ms: float, new_ms: float, cpu_ms: float | None = None) -> None:
        figures.append(new_ms)
        cpu = "" if cpu_ms is None else f" {cpu_ms:9.1f}"
        print(f"{label:<44} {old_ms:9.1f} {new_ms:9.1f} {old_ms / max(new_ms, 1e-6):8.1f}x"
              f"{cpu}", flush=True)

    print(f"{'':<44} {'old ms':>9} {'new ms':>9} {'old/new':>9} {'new cpu':>9}")
    groups = (("Alle", None), ("Aktive", ACTIVE_STATUSES))
    if args.only in (None, "first"):
        print("-- first page, every sort")
        for key in SORT_KEYS:
            for descending in (False, True):
                for name, status in groups:
                    old_ms, old_rows = timed(lambda: old_page(
                        app, key, descending, 0, n, status=status), rep)
                    new_ms, page = timed(lambda: service.page(
                        sort=key, descending=descending, status=status, limit=n), rep)
                    assert [r[0] for r in old_rows] == [r.id for r in page.rows], key
                    line(f"{key} {'↓' if descending else '↑'} {name}", old_ms, new_ms)
    if args.only in (None, "deep"):
        print("-- deep pages (Alle): the middle and the last page, by offset and by key")
        total = service.count()
        for key in SORT_KEYS:
            for descending, depth in ((False, total // 2), (False, total - n), (True, total // 2)):
                before = old_page(app, key, descending, depth - 1, 1)[0][0]
                cursor = service.cursor_for(before, key, descending)
                old_ms, old_rows = timed(lambda: old_page(app, key, descending, depth, n), rep)
                new_ms, page = timed(lambda: service.page(sort=key, descending=descending,
                                                          after=cursor, limit=n), rep)
                assert [r[0] for r in old_rows] == [r.id for r in page.rows], key
                line(f"{key} {'↓' if descending else '↑'} from row {depth:,}", old_ms, new_ms)
    if args.only in (None, "search"):
        print("-- searches (Alle, by deadline): the first page, then the count")
        cpr = info["cpr"]
        for label, term in (("CPR, birth date", cpr[:6]), ("CPR, 4 digits", cpr[:4]),
                            ("CPR, whole", cpr), ("name", "Hansen"), ("street", "Algade"),
                            ("town", "Marstal"), ("postcode", "5960"),
                            ("request number", str(args.requests // 3)),
                            ("nothing matches", "Xyzzy"), ("name, any case", "øSTERGAARD"),
                            ("text in half the rows", "vej"), ("two letters", "an")):
            old_ms, old_rows = timed(lambda: old_page(app, "deadline", False, 0, n,
                                                      search=term), rep)
            new_ms, page = timed(lambda: service.page(search=term, limit=n), rep)
            page_cpu = CPU["last"]
            if label not in ("town", "postcode", "name, any case", "text in half the rows"):
                # before, a town or postcode found only addresses, and SQLite's LIKE folded
                # ASCII only ("vej" names the towns Vejle, Vejen, … now)
                assert [r[0] for r in old_rows] == [r.id for r in page.rows], label
            found = service.count(search=term)
            line(f"{label} '{term}' page ({found:,} found)", old_ms, new_ms, page_cpu)
            old_ms, _ = timed(lambda: old_count(app, search=term), rep)
            new_ms, _ = timed(lambda: service.count(search=term), rep)
            line(f"{label} '{term}' count", old_ms, new_ms, CPU["last"])
            # new only: the slowest page of the same search under other sorts, "Aktive" and
            # "Alle", the first page and the one after it
            worst, where, worst_cpu, where_cpu = 0.0, "", 0.0, ""
            for key, descending in SEARCH_SORTS:
                for name, status in groups:
                    ms, page = timed(lambda: service.page(
                        search=term, sort=key, descending=descending, status=status,
                        limit=n), rep)
                    pages = [(ms, CPU["last"], "first")]
                    if page.next is not None:
                        pages.append((timed(lambda: service.page(
                            search=term, sort=key, descending=descending, status=status,
                            after=page.next, limit=n), rep)[0], CPU["last"], "next"))
                    for ms, cpu, which in pages:
                        at = f"{which}, {key} {'↓' if descending else '↑'} {name}"
                        if ms > worst:
                            worst, where = ms, at
                        if cpu > worst_cpu:
                            worst_cpu, where_cpu = cpu, at
            figures.append(worst)
            print(f"{'  slowest page (' + where + ')':<44} {'':>9} {worst:9.1f}", flush=True)
            print(f"{'  most CPU (' + where_cpu + ')':<44} {'':>9} {'':>9} {'':>9} "
                  f"{worst_cpu:9.1f}", flush=True)
    if figures:
        worst = max(figures)
        print(f"new: worst {worst:.1f} ms, median {statistics.median(figures):.1f} ms; "
              f"{sum(f <= 50 for f in figures)} of {len(figures)} figures ≤ 50 ms")


if __name__ == "__main__":
    main()
