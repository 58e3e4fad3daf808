"""Wide-window variants of Solomon instances from the tuning half, for tuning the planner on
the kind of instance where its plans stayed far above PyVRP's (long trips, wide windows:
RC208 in the held-out half) without tuning on the held-out half itself.

    .venv/bin/python bench/solomon_wide.py --data DIR --out OUT [SPEC ...]
    .venv/bin/python bench/solomon.py --data OUT --instances RC207W3,RC203W2,...

A SPEC is ``BASE:FACTOR`` (default: the set used in issue 12's tuning, ``DEFAULT``): each
customer's window keeps its centre and gets ``FACTOR`` times its width, clipped to the day
and to the latest start from which the lab is still reached in time; ``FACTOR`` 0 drops the
windows (any time of the day). The variant is written as ``<BASE>W<FACTOR>.txt`` (``W0``
without windows), same customers, demands, fleet and capacity. Only odd-numbered (tuning
half) bases are accepted, so the held-out half stays unseen.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import solomon  # noqa: E402

# the first eleven: the set regret insertion was kept on (issue 12); RC203:4 and RC207:1.5
# end on one trip fewer than PyVRP in some runs, as RC208 does (docs/libraries.md)
DEFAULT = ("RC207:3", "RC203:2", "RC203:3", "RC201:4", "RC205:3", "RC205:4", "RC207:2",
           "RC207:0", "R211:0", "R209:3", "R207:3", "RC203:4", "RC207:1.5")


def widen(rows: list[list[float]], factor: float) -> list[list[float]]:
    """``rows`` (depot first) with every customer's window ``factor`` times as wide."""
    depot = rows[0]
    out = [list(depot)]
    for r in rows[1:]:
        back = math.hypot(r[1] - depot[1], r[2] - depot[2])
        latest = math.floor(depot[5] - back - r[6])  # the last start that still gets home
        if factor == 0:
            a, b = 0.0, float(latest)
        else:
            centre, half = (r[4] + r[5]) / 2, (r[5] - r[4]) * factor / 2
            a, b = max(0.0, math.floor(centre - half)), min(float(latest),
                                                            math.floor(centre + half))
            if b < a:
                a, b = 0.0, float(latest)
        out.append([r[0], r[1], r[2], r[3], a, b, r[6]])
    return out


def write(path: Path, name: str, nveh: int, cap: int, rows: list[list[float]]) -> None:
    lines = [name, "", "VEHICLE", "NUMBER     CAPACITY", f"  {nveh}         {cap}", "",
             "CUSTOMER",
             "CUST NO.   XCOORD.   YCOORD.   DEMAND    READY TIME   DUE DATE   SERVICE TIME",
             ""]
    lines += ["%5d %5d %5d %5d %5d %5d %5d" % tuple(int(x) for x in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*", default=list(DEFAULT), help="BASE:FACTOR ...")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("SOLOMON_DIR")
                                                      or solomon.DATA))
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for spec in a.specs:
        base, _, factor = spec.partition(":")
        base = base.strip().upper()
        if not solomon._tuned(base):
            sys.exit(f"{base} is in the held-out half (even-numbered): not a base for tuning")
        f = float(factor or 0)
        _n, nveh, cap, rows = solomon.read(a.data / f"{base}.txt")
        name = f"{base}W{f:g}"
        write(a.out / f"{name}.txt", name, nveh, cap, widen(rows, f))
        print(a.out / f"{name}.txt")


if __name__ == "__main__":
    main()
