"""Benchmark: what starting costs — CLI commands and the desktop window's first paint.

Each measurement is a fresh process (as a user starts it), repeated ``--rounds`` times and
reported as the median wall time and the median CPU time of the process (user + system, from
``wait4``: steadier than wall time on a shared machine). Peers in the same run give the
figures a scale: ``python -c pass`` (the interpreter alone) and ``hjemmeprove --help`` (the
command line without any work).

  --help                the parser only
  calendar deadline     one query for the closing days (goal: ≤ 0.2 s)
  requests list --json  the request service and a list query
  gui first paint       ``hjemmeprove gui`` offscreen, until the main window's first paint
                        event (goal: ≤ 1 s); also prints which heavy modules were loaded by then
  gui list shown        the same, until the request list (the first view) shows its rows:
                        what moving work after the paint must not make much worse

``--against DIR`` runs the same commands from another checkout of the program (e.g.
``git archive <rev> | tar -x -C DIR``), interleaved round by round with this one, and prints
this/that ratios: a before/after on the same machine in the same minute.

    .venv/bin/python bench/startup.py [--rounds 7] [--against DIR] [--db URL]

The database is a small demo (one month) made in a temporary folder unless ``--db`` names
one (it must be at the newest schema, or the first round migrates it). Byte-code caching is
on (as in an installed program) and one warm-up round is not counted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("ortools", "reportlab", "babel", "lxml", "alembic", "PySide6.QtCharts", "PySide6.QtPdf",
         "hjemmeprove.planning.planner", "sqlalchemy", "hjemmeprove.db.models")

PAINT_PROBE = r"""
import os, sys, time
T0 = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

qapp = QApplication(sys.argv[:1])


class FirstPaint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and type(obj).__name__ == "MainWindow":
            heavy = HEAVY
            loaded = ",".join(m for m in heavy if m in sys.modules)
            print(f"PAINTED {time.perf_counter() - T0:.4f} {loaded}", flush=True)
            QTimer.singleShot(0, lambda: os._exit(0))
        return False


probe = FirstPaint()
qapp.installEventFilter(probe)
from hjemmeprove.cli import main

sys.exit(main(["--db", sys.argv[1], "gui"]))
""".replace("HEAVY", repr(HEAVY))

# Until the request list shows rows: when the list view (object name ``view_requests``) is
# first shown, its model's reset is watched (no polling, which would take turns with the
# loading threads for Python); any version of the window whose list model resets on a load.
ROWS_PROBE = r"""
import os, sys, time
T0 = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

qapp = QApplication(sys.argv[:1])
QTimer.singleShot(120_000, lambda: os._exit(3))  # never shown: run_once reports the code


class ListShown(QObject):
    def __init__(self):
        super().__init__()
        self.model = None

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Show and self.model is None \
                and obj.objectName() == "view_requests":
            self.model = obj.model
            self.model.modelReset.connect(self.check)
            self.model.rowsInserted.connect(self.check)
            self.check()
        return False

    def check(self, *_args):
        if self.model.rowCount() > 0:
            print(f"SHOWN {time.perf_counter() - T0:.4f} {self.model.rowCount()}", flush=True)
            os._exit(0)


probe = ListShown()
qapp.installEventFilter(probe)
from hjemmeprove.cli import main

sys.exit(main(["--db", sys.argv[1], "gui"]))
"""


def run_once(argv: list[str], env: dict, cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                            cwd=cwd)
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} ended with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, out.decode("utf-8", "replace")


def environment(source: Path, tmp: Path) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed program has its byte code
    env["PYTHONPATH"] = str(source)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["XDG_CONFIG_HOME"] = str(tmp / "config")  # the window's remembered layout: none
    env["XDG_DATA_HOME"] = str(tmp / "data")
    return env


def commands(db: str) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "python -c pass": [py, "-c", "pass"],
        "--help": [py, "-m", "hjemmeprove", "--help"],
        "calendar deadline": [py, "-m", "hjemmeprove", "--db", db, "calendar", "deadline",
                              "2026-11-20"],
        "requests list": [py, "-m", "hjemmeprove", "--db", db, "requests", "list", "--json"],
        "gui first paint": [py, "-c", PAINT_PROBE, db],
        "gui list shown": [py, "-c", ROWS_PROBE, db],
    }


def make_db(tmp: Path) -> str:
    sys.path.insert(0, str(ROOT))
    from hjemmeprove.app import App
    from hjemmeprove.demo import fill_demo

    url = f"sqlite:///{tmp / 'startup.sqlite3'}"
    app = App(url, user="bench")
    fill_demo(app, seed=1, today=dt.date(2026, 11, 23), months=1, per_working_day=8)
    app.close()
    return url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--db", help="SQLAlchemy URL of a database at the newest schema")
    ap.add_argument("--against", type=Path, help="another checkout to compare with")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    db = args.db or make_db(tmp)
    sources = {"this": ROOT} | ({"that": args.against.resolve()} if args.against else {})
    cmds = commands(db)
    wall: dict = {(s, c): [] for s in sources for c in cmds}
    cpu: dict = {(s, c): [] for s in sources for c in cmds}
    loaded: dict = {}
    for rnd in range(args.rounds + 1):  # round 0 warms the byte-code caches
        for name, argv in cmds.items():
            for src, path in sources.items():
                w, c, out = run_once(argv, environment(path, tmp), path)
                if name == "gui first paint":
                    line = next(ln for ln in out.splitlines() if ln.startswith("PAINTED "))
                    parts = line.split(" ")
                    loaded[src] = parts[2] if len(parts) > 2 else ""
                if rnd:
                    wall[src, name].append(w)
                    cpu[src, name].append(c)
    load = os.getloadavg()[0]
    print(f"startup, {args.rounds} rounds, median per command "
          f"(load average {load:.1f} on {os.cpu_count()} CPUs)")
    for src, path in sources.items():
        print(f"\n[{src}: {path}]")
        base_w = statistics.median(wall[src, "python -c pass"])
        help_w = statistics.median(wall[src, "--help"])
        print(f"{'':22} {'wall s':>8} {'cpu s':>8} {'× pass':>8} {'× --help':>9}")
        for name in cmds:
            w = statistics.median(wall[src, name])
            c = statistics.median(cpu[src, name])
            print(f"{name:22} {w:8.3f} {c:8.3f} {w / base_w:8.1f} {w / help_w:9.2f}")
        print(f"heavy modules loaded at first paint: {loaded.get(src) or 'none'}")
    if args.against:
        print("\nthis / that (wall, cpu):")
        for name in cmds:
            rw = statistics.median(wall["this", name]) / statistics.median(wall["that", name])
            rc = statistics.median(cpu["this", name]) / statistics.median(cpu["that", name])
            print(f"  {name:22} {rw:6.2f} {rc:6.2f}")


if __name__ == "__main__":
    main()
