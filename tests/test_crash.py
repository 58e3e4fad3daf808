"""Nothing lost: a writer killed (SIGKILL) at random moments while it saves requests, edits them
and issues invoice numbers leaves a SQLite database that opens, passes integrity_check and
holds every change the writer reported saved (it prints only after the commit returned).

HJEMMEPROVE_CRASH_KILLS sets the number of kills (default 60).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hjemmeprove.app import App
from hjemmeprove.services.reference import load_defaults
from tests.factories import add_department
from tests.test_concurrency import _drafts

KILLS = int(os.environ.get("HJEMMEPROVE_CRASH_KILLS", "60"))
ROOT = Path(__file__).resolve().parent.parent

WRITER = textwrap.dedent("""
    import datetime as dt, os, random, sys
    sys.path.insert(0, {root!r})
    from sqlalchemy import select
    from hjemmeprove.app import App
    from hjemmeprove.db.models import Request
    from tests.factories import request_values
    from tests.test_concurrency import issue_next

    app = App({url!r}, user="writer", upgrade=False)
    rng = random.Random(int(sys.argv[1]))
    seq = int(sys.argv[1]) * 100000
    app.billing.list_invoices()  # imports done before the clock starts
    from hjemmeprove.billing import service as _s  # noqa: F401
    from hjemmeprove.documents import statement as _d  # noqa: F401
    app.billing.preview("2020-01")  # issuing recomputes the month: warm its queries too
    _warm = [i.id for i in app.billing.list_invoices() if i.status == "draft"][:1]
    if _warm:
        app.billing.documents(_warm[0])  # and renders PDFs: fonts and number formats loaded
    print("ready", flush=True)
    while True:
        seq += 1
        op = rng.random()
        if op < 0.5:
            d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(30, 99)
            cpr = f"{{d:02d}}{{m:02d}}{{y:02d}}-{{seq % 10000:04d}}"
            try:
                rid = app.requests.create(request_values(cpr=cpr, note=f"c{{seq}}"),
                                          today=dt.date(2024, 3, 20))
            except Exception as e:  # a CPR drawn twice: not a fault of the store
                continue
            print(f"created {{rid}} c{{seq}}", flush=True)
        elif op < 0.8:
            with app.store.session() as s:
                ids = s.scalars(select(Request.id).where(Request.status == "open")).all()
            if not ids:
                continue
            rid = rng.choice(ids)
            detail = app.requests.get(rid)
            from hjemmeprove.services.requests import detail_to_form
            form = detail_to_form(detail)
            form["note"] = f"u{{seq}}"
            app.requests.update(rid, detail.version, form, today=dt.date(2024, 3, 20))
            print(f"updated {{rid}} {{detail.version + 1}}", flush=True)
        else:
            drafts = [i.id for i in app.billing.list_invoices() if i.status == "draft"]
            if drafts:  # the real issue step while drafts last, then the bare counter
                number = app.billing.issue(rng.choice(drafts),
                                           issue_date=dt.date(2021, 1, 4)).number
            else:
                number = issue_next(app.store)
            print(f"issued {{number}}", flush=True)
""")


def _prepare(url) -> None:
    a = App(url, user="test")
    load_defaults(a.store)
    add_department(a)
    _drafts(a, 12)  # 36 drafts for BillingService.issue
    a.close()


def _kill_loop(url, tmp_path, kills) -> dict:
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT), url=url))
    rng = random.Random(20261123)
    created: dict[int, str] = {}
    updated: dict[int, int] = {}
    issued: set[int] = set()
    survived = mid_run = 0
    engine = create_engine(url)
    try:
        for k in range(kills):
            proc = subprocess.Popen([sys.executable, str(script), str(k + 1)], cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            time.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate()
            assert proc.returncode == -signal.SIGKILL, err  # killed while still writing
            lines = out.splitlines()
            if lines and not out.endswith("\n"):
                lines.pop()  # a half-printed last line: not reported
            mid_run += bool(lines)
            for line in lines:
                kind, *rest = line.split()
                if kind == "created":
                    created[int(rest[0])] = rest[1]
                elif kind == "updated":
                    updated[int(rest[0])] = max(updated.get(int(rest[0]), 0), int(rest[1]))
                elif kind == "issued":
                    issued.add(int(rest[0]))
            _check(engine, created, updated, issued)
            survived += 1
        with engine.connect() as con:
            # the real issue step ran too, and each invoice it issued kept its 4 documents
            real = con.execute(text(
                "SELECT i.id, (SELECT count(*) FROM invoice_documents d WHERE d.invoice_id = i.id)"
                " FROM invoices i WHERE status = 'issued' AND issue_date = :d"),
                {"d": dt.date(2021, 1, 4)}).all()
    finally:
        engine.dispose()
    assert real and all(n == 4 for _, n in real), real
    assert survived == kills
    assert mid_run > kills // 2  # most kills hit a writer that was saving
    assert created and updated and issued
    return {"kills": survived, "created": len(created), "edited": len(updated),
            "issued": len(issued), "issued_by_billing": len(real)}


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_killed_writer_loses_nothing_reported_saved(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    _prepare(url)
    stats = _kill_loop(url, tmp_path, KILLS)
    print(f"\ncrash (SQLite, WAL): {stats}; nothing lost, integrity_check ok after every kill")


@pytest.mark.slow
@pytest.mark.postgres
def test_killed_writer_loses_nothing_on_postgres(pg_url, tmp_path):
    _prepare(pg_url)
    stats = _kill_loop(pg_url, tmp_path, max(10, KILLS // 3))
    print(f"\ncrash (PostgreSQL): {stats}; nothing lost")


def _check(engine, created, updated, issued) -> None:
    with engine.connect() as con:
        if engine.dialect.name == "sqlite":
            assert con.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert con.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        rows = {rid: (note, version) for rid, note, version in
                con.execute(text("SELECT id, note, version FROM requests"))}
        for rid, token in created.items():
            assert rid in rows, f"request {rid} reported saved is missing"
            if rid not in updated:
                assert rows[rid][1] > 1 or rows[rid][0] == token
        for rid, version in updated.items():
            assert rows[rid][1] >= version, f"edit of request {rid} (v{version}) lost"
        audit = {int(r[0]) for r in con.execute(text(
            "SELECT row_key FROM audit_log WHERE table_name='requests' AND action='insert'"))}
        assert set(rows) <= audit  # every saved request has its audit entry
        numbers = sorted(n for (n,) in con.execute(text(
            "SELECT number FROM invoices WHERE number IS NOT NULL")))
        assert issued <= set(numbers)
        assert numbers == list(range(1, len(numbers) + 1))  # unique and gapless
        last = con.execute(text(
            "SELECT last_value FROM number_sequences WHERE name='invoice'")).scalar() or 0
        assert last == len(numbers)
