"""A re-plan that keeps the plan (repair) is written like any plan: a cancellation made
while it is computed wins. Both engines (HJEMMEPROVE_TEST_PG), as tests/test_races.py."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

from tests.test_races import PLANNER, ROOT, _add, _consistent, _visits, _wait_for, dept  # noqa: F401

REPLANNER = PLANNER.replace("app.planning.plan(dt.date.fromisoformat(first), "
                            "dt.date.fromisoformat(last),\n",
                            "app.planning.replan(dt.date.fromisoformat(first), "
                            "dt.date.fromisoformat(last),\n").replace(
    "progress=progress, time_limit_s=2.0)", "progress=progress)")


def test_a_cancellation_during_a_repair_wins(dept, db_url, tmp_path):  # noqa: F811
    assert "planning.replan(" in REPLANNER and "time_limit_s" not in REPLANNER
    app = dept
    mon, fri = dt.date(2024, 3, 4), dt.date(2024, 3, 8)
    ids = _add(app, 6, "2024-03-01", tag="3")
    app.planning.plan(mon, fri, time_limit_s=1.0)
    planned = [rid for rid in ids if _visits(app, rid)]
    cancel_me = planned[0]
    script = tmp_path / "replanner.py"
    script.write_text(REPLANNER.format(root=str(ROOT)))
    marker, go = tmp_path / "solving", tmp_path / "go"
    proc = subprocess.Popen([sys.executable, str(script), db_url, mon.isoformat(),
                             fri.isoformat(), str(marker), str(go)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(marker, proc)
        app.requests.cancel(cancel_me, dt.datetime(2024, 3, 1, 9), "Hjemmeplejen",
                            "electronic")
        go.write_text("go")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert app.requests.get(cancel_me).status == "cancelled"
    assert [v for v in _visits(app, cancel_me) if v.outcome is None] == []
    assert "aflyst" in dict((rid, why) for rid, why in result["skipped"])[cancel_me]
    assert all(app.requests.get(r).status == "planned" for r in planned[1:])
    _consistent(app)
