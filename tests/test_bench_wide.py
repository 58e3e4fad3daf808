"""bench/solomon_wide.py: the wide-window tuning variants keep the customers and widen only
the windows, and refuse a base from the held-out half."""

import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import solomon  # noqa: E402
import solomon_wide  # noqa: E402


def test_a_variant_widens_windows_about_their_centre_and_keeps_the_rest(tmp_path):
    out = tmp_path / "wide"
    subprocess.run([sys.executable, str(ROOT / "bench" / "solomon_wide.py"), "--out", str(out),
                    "RC201:3", "RC201:0"], check=True, capture_output=True)
    _n, nveh, cap, base = solomon.read(solomon.DATA / "RC201.txt")
    name, nveh3, cap3, wide = solomon.read(out / "RC201W3.txt")
    assert (name, nveh3, cap3, len(wide)) == ("RC201W3", nveh, cap, len(base))
    depot = base[0]
    widened = 0
    for b, w in zip(base[1:], wide[1:]):
        assert w[:4] == b[:4] and w[6] == b[6]  # place, demand, service
        latest = depot[5] - math.hypot(b[1] - depot[1], b[2] - depot[2]) - b[6]
        assert w[4] <= b[4] and w[5] >= min(b[5], math.floor(latest))  # holds the old one
        assert w[5] - w[4] <= 3 * (b[5] - b[4]) + 1
        assert w[5] <= latest  # still home by the lab's closing
        widened += (w[5] - w[4]) > (b[5] - b[4])
    assert widened > 50
    _n, _v, _c, none = solomon.read(out / "RC201W0.txt")
    assert all(r[4] == 0 and r[5] > 800 for r in none[1:])


def test_a_held_out_base_is_refused(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "solomon_wide.py"), "--out",
                        str(tmp_path), "RC208:3"], capture_output=True, text=True)
    assert r.returncode != 0 and "held-out" in r.stderr
    assert not list(tmp_path.iterdir())


def test_widen_keeps_a_window_that_cannot_grow():
    rows = [[0, 0, 0, 0, 0, 100, 0], [1, 30, 40, 5, 40, 40, 10]]  # 50 from the lab
    assert solomon_wide.widen(rows, 3)[1][4:6] == [40, 40]
    assert solomon_wide.widen(rows, 0)[1][4:6] == [0.0, 40.0]
