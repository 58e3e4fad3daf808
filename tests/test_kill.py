"""Killed at any moment: `plan`, `routes replies` and `invoice run --issue` are run as the CLI in
a real subprocess, stopped (SIGKILL) at named moments, and the database and the output folder
must show the state before or after, never between; a retry completes. A full disk
(RLIMIT_FSIZE in the subprocess, SIGXFSZ ignored so that writes fail with EFBIG) loses nothing.

Each moment is reached deterministically: the subprocess writes a marker file there and waits;
the test kills it once the marker exists. Both engines (HJEMMEPROVE_TEST_PG).
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from hjemmeprove.app import App
from hjemmeprove.db.models import Visit
from hjemmeprove.services.reference import load_defaults
from tests.factories import add_department, request_values
from tests.test_races import _consistent

ROOT = Path(__file__).resolve().parent.parent
KILLS: dict[str, int] = {}

DRIVER = textwrap.dedent("""
    import os, sys, time, pathlib
    sys.path.insert(0, {root!r})
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    from hjemmeprove.db.models import Invoice, Route, Visit

    moment, marker = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]

    def pause(name):
        if name == moment:
            pathlib.Path(marker).write_text(name)
            while True:
                time.sleep(1)

    @event.listens_for(Session, "before_flush")
    def spot(session, ctx, objs):
        for o in list(session.new) + list(session.dirty) + list(session.deleted):
            if isinstance(o, (Visit, Route)):
                session.info["plan"] = True
            if isinstance(o, Visit) and o.reply_sent_at is not None:
                session.info["reply"] = True
            if isinstance(o, Invoice) and o.status == "issued":
                session.info["issue"] = True

    real_commit = Session.commit

    def commit(self):
        self.flush()
        touched = [k for k in ("plan", "reply", "issue") if self.info.get(k)]
        if touched:
            pause("commit")
        real_commit(self)
        if touched:
            pause("after-commit")

    Session.commit = commit
    real_replace = os.replace

    def replace(a, b, *rest, **kw):
        pause("rename")
        return real_replace(a, b, *rest, **kw)

    os.replace = replace
    from hjemmeprove.services import planning as P
    real_plan = P.PlanningService.plan

    def plan(self, first, last, progress=None, **kw):
        def prog(p):
            pause("solve")
            if progress is not None:
                progress(p)
        return real_plan(self, first, last, progress=prog, **kw)

    P.PlanningService.plan = plan
    from hjemmeprove.cli import main
    sys.exit(main(args))
""")


def _engine(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _kill_at(script: Path, moment: str, args: list[str], tmp_path: Path) -> bool:
    """Runs the CLI with ``args``; kills it where it reaches ``moment``. True if killed there,
    False if it ended without reaching it."""
    marker = tmp_path / f"at-{moment}-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, str(script), moment, str(marker)] + args, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    limit = time.time() + 120
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            return False
        if time.time() > limit:
            proc.kill()
            raise AssertionError(f"{moment} never reached")
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return True


def _run(args: list[str]) -> subprocess.CompletedProcess:
    """The CLI in this process (a retry needs no new process: same code, less time)."""
    import contextlib
    import io

    from hjemmeprove.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def _cli(args: list[str], fsize: int | None = None) -> subprocess.CompletedProcess:
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run([sys.executable, "-m", "hjemmeprove"] + args, cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=limit if fsize is not None else None,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))


def _dump(url: str) -> dict:
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            return {
                "requests": sorted(c.execute(text("SELECT id, status FROM requests")).all()),
                "visits": sorted(c.execute(text(
                    "SELECT id, request_id, route_id, date, sequence, outcome, locked, "
                    "reply_sent_at, planned_arrival FROM visits")).all()),
                "routes": sorted(c.execute(text(
                    "SELECT id, bioanalyst_id, date, planned_km, planned_ferry_minutes "
                    "FROM routes")).all()),
                "invoices": sorted(c.execute(text(
                    "SELECT id, status, number FROM invoices")).all()),
            }
    finally:
        eng.dispose()


def _visible(folder: Path) -> list[Path]:
    """Files a user would take for output (temporary ones start with a dot)."""
    return sorted(p for p in folder.glob("*") if not p.name.startswith(".")) \
        if folder.exists() else []


def _complete(path: Path) -> bool:
    data = path.read_bytes()
    if path.suffix == ".pdf":
        return data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    if path.suffix == ".xml":
        from lxml import etree

        etree.fromstring(data)
        return True
    if path.suffix == ".csv":
        return data.endswith(b"\r\n") or data.endswith(b"\n")
    return True


@pytest.fixture
def planned(db_url, tmp_path):
    """Twelve requests over a week, planned once (so a re-plan has something to lose)."""
    a = App(db_url, user="test")
    load_defaults(a.store)
    add_department(a)
    for i in range(12):
        a.requests.create(request_values(
            cpr=f"{1 + i:02d}0340-{2000 + i:04d}", name=f"Borger {i}",
            address=f"Vestergade {i + 1}", received="2024-03-01",
            lat=str(55.045 + i * 0.004), lon=str(10.57 + (i % 4) * 0.012)))
    a.planning.plan(dt.date(2024, 3, 4), dt.date(2024, 3, 8), time_limit_s=1.0)
    yield a
    a.close()


@pytest.mark.slow
def test_killed_plan_leaves_the_plan_before(planned, db_url, tmp_path):
    """`plan` killed while it solves and while its write is flushed but not committed: the
    database is exactly as before (statuses, visits, routes, km); a re-run completes."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(root=str(ROOT)))
    args = ["--db", db_url, "plan", "--from", "2024-03-04", "--to", "2024-03-08",
            "--time-limit", "1"]
    before = _dump(db_url)
    assert before["visits"] and before["routes"]
    kills = 0
    for moment in ("solve", "commit", "solve"):
        assert _kill_at(script, moment, args, tmp_path), moment
        kills += 1
        assert _dump(db_url) == before, f"killed at {moment}: not the state before"
        _consistent(planned)
    done = _run(args)
    assert done.returncode == 0, done.stderr
    after = _dump(db_url)
    assert {s for _, s in after["requests"]} == {"planned"}
    _consistent(planned)
    KILLS[f"plan/{_engine(db_url)}"] = kills
    print(f"\nkill -9 of plan ({_engine(db_url)}): {kills} kills, state before after each")


def _replies_state(url: str, folder: Path, first: dt.date, last: dt.date) -> str:
    with _app(url) as a:
        with a.store.session() as s:
            visits = list(s.scalars(select(Visit).where(Visit.date.between(first, last),
                                                        Visit.route_id.is_not(None))))
    sent = [v for v in visits if v.reply_sent_at is not None]
    files = _visible(folder)
    assert all(_complete(p) for p in files), files
    if not sent:  # files written but not yet recorded are allowed: the retry re-creates
        return "before"  # them; a record without its files is not
    assert len(sent) == len(visits) and all(v.locked for v in sent)
    assert files, "recorded as sent, but no reply file"
    rows = sum(len(p.read_bytes().splitlines()) - 1 for p in files if p.suffix == ".csv")
    assert rows == len(sent), (rows, len(sent))
    return "after"


def _unsend(app, folder: Path) -> None:
    """Back to 'not replied to' (for the next kill): visits unlocked, files removed."""
    from sqlalchemy import update

    with app.store.session() as s:
        ids = list(s.scalars(select(Visit.id).where(Visit.reply_sent_at.is_not(None))))
        s.execute(update(Visit).values(reply_sent_at=None))
    if ids:
        app.planning.unlock(ids)
    for p in folder.glob("*") if folder.exists() else []:
        p.unlink()


class _app:
    def __init__(self, url):
        self.a = App(url, user="test", upgrade=False)

    def __enter__(self):
        return self.a

    def __exit__(self, *exc):
        self.a.close()


@pytest.mark.slow
def test_killed_replies_are_all_sent_or_none(planned, db_url, tmp_path):
    """`routes replies` killed before its files are renamed, before its commit and after it:
    either no reply is recorded and no file exists, or every visit is recorded and its
    reply file exists in full; the retry completes. Old code recorded first (after-commit
    kill: recorded, no files, and a retry sends nothing)."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(root=str(ROOT)))
    out = tmp_path / "svar"
    kills = 0
    first, last = dt.date(2024, 3, 4), dt.date(2024, 3, 8)
    args = ["--db", db_url, "routes", "replies", "--from", first.isoformat(), "--to",
            last.isoformat(), "--out", str(out)]
    for moment in ("rename", "commit", "after-commit"):
        _unsend(planned, out)
        if _kill_at(script, moment, args, tmp_path):
            kills += 1
        assert _replies_state(db_url, out, first, last) in ("before", "after")
        retry = _run(args)
        assert retry.returncode == 0, retry.stderr
        assert _replies_state(db_url, out, first, last) == "after"
    days = [first]
    assert kills == 3
    # "Send igen": the replies already recorded are created again, changing nothing
    first = [p for p in _visible(out) if p.suffix == ".csv"][0]
    old = first.read_bytes()
    first.unlink()
    before = _dump(db_url)
    again = _run(["--db", db_url, "routes", "replies", "--from", days[0].isoformat(),
                  "--to", days[-1].isoformat(), "--out", str(out), "--again", "--json"])
    assert again.returncode == 0, again.stderr
    assert _dump(db_url) == before
    assert first.read_bytes() == old  # the same reply, its original send time
    KILLS[f"replies/{_engine(db_url)}"] = kills
    print(f"\nkill -9 of replies ({_engine(db_url)}): {kills} kills, before-or-after each; "
          f"send again re-created {len(_visible(out))} files ({len(old)} bytes gone and back)")


def test_full_disk_during_replies_loses_nothing(planned, db_url, tmp_path):
    """The reply files cannot be written whole (RLIMIT_FSIZE): exit 1 with a Danish message,
    no reply recorded, no file under its final name; the retry sends them all."""
    out = tmp_path / "svar"
    day = "2024-03-04"
    args = ["--db", db_url, "routes", "replies", "--from", day, "--to", "2024-03-08", "--out",
            str(out)]
    full = _cli(args, fsize=2048)
    assert full.returncode == 1, full.stderr
    assert "uventet fejl" not in full.stderr
    assert _visible(out) == []
    with _app(db_url) as a:
        with a.store.session() as s:
            assert s.scalar(select(Visit.id).where(Visit.reply_sent_at.is_not(None))) is None
    retry = _run(args)
    assert retry.returncode == 0, retry.stderr
    files = _visible(out)
    assert files and all(_complete(p) for p in files)
    with _app(db_url) as a:
        with a.store.session() as s:
            assert all(v.reply_sent_at is not None for v in s.scalars(
                select(Visit).where(Visit.route_id.is_not(None))))


@pytest.fixture
def months(db_url):
    """Three months, each with a closed route visiting three municipalities."""
    from tests.test_invoice_fixtures import add_route, set_2020_rates

    a = App(db_url, user="test")
    load_defaults(a.store)
    add_department(a)
    set_2020_rates(a)
    for m in (3, 4, 5, 6):
        add_route(a, dt.date(2020, m, 10), [{"code": c} for c in (479, 492, 430)], km="42.5")
    yield a
    a.close()


def _invoice_state(app, folder: Path, month: str) -> None:
    infos = [i for i in app.billing.list_invoices(month)]
    numbers = sorted(i.number for i in app.billing.list_invoices() if i.number is not None)
    assert numbers == list(range(1, len(numbers) + 1))  # gapless, unique
    for p in _visible(folder):
        assert _complete(p), p  # never a truncated file under its final name
    return infos


def _all_files_written(app, folder: Path, month: str) -> None:
    issued = [i for i in app.billing.list_invoices(month) if i.status == "issued"]
    assert len(issued) == 3
    for inv in issued:
        for _kind, (name, content) in app.billing.documents(inv.id).items():
            assert (folder / name).read_bytes() == content, name


@pytest.mark.slow
def test_killed_issuing_completes_on_retry(months, db_url, tmp_path):
    """`invoice run --issue` killed before an issue commits, after it commits (files not yet
    written) and while renaming its files: numbers stay gapless, no file under a final name is
    truncated, and the re-run leaves every issued invoice with all its files."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(root=str(ROOT)))
    kills = 0
    for month, moment in (("2020-03", "commit"), ("2020-04", "after-commit"),
                          ("2020-05", "rename")):
        out = tmp_path / month
        args = ["--db", db_url, "invoice", "run", "--month", month, "--issue", "--out",
                str(out)]
        assert _kill_at(script, moment, args, tmp_path), moment
        kills += 1
        _invoice_state(months, out, month)
        retry = _run(args)
        assert retry.returncode == 0, retry.stderr
        _invoice_state(months, out, month)
        _all_files_written(months, out, month)
    KILLS[f"issue/{_engine(db_url)}"] = kills
    print(f"\nkill -9 of invoice run --issue ({_engine(db_url)}): {kills} kills, "
          "gapless, files complete after the retry")


def test_full_disk_during_invoice_files_loses_nothing(months, db_url, tmp_path):
    if db_url.startswith("sqlite"):
        pytest.skip("the limit would hit the SQLite database file first; see the PG run")
    out = tmp_path / "2020-06"
    args = ["--db", db_url, "invoice", "run", "--month", "2020-06", "--issue", "--out",
            str(out)]
    full = _cli(args, fsize=4096)
    assert full.returncode == 1, full.stderr
    assert "uventet fejl" not in full.stderr and "fejl:" in full.stderr
    _invoice_state(months, out, "2020-06")
    retry = _run(args)
    assert retry.returncode == 0, retry.stderr
    _all_files_written(months, out, "2020-06")
