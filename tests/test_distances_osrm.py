"""OsrmTable against a real osrm-routed on 127.0.0.1, over a street grid this test writes.

The OSRM executables come from the osrm-bindings wheel (tools/fetch_osrm.sh); the test skips
with the reason when they cannot be fetched. Never a public server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from hjemmeprove.planning.distances import DistanceSource, OsrmTable, haversine_km

ROOT = Path(__file__).resolve().parents[1]
LAT0, LON0 = 55.05, 10.58  # a made-up grid near Svendborg, on the mainland
STEP = 0.004  # degrees between streets
N = 6


@pytest.fixture(scope="module")
def osrm_bin(tmp_path_factory):
    dest = tmp_path_factory.getbasetemp().parent / "osrm-cache"
    cached = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hjemmeprove/osrm"
    if (cached / "bin" / "osrm-routed").exists():
        return cached
    try:
        out = subprocess.run(["bash", str(ROOT / "tools/fetch_osrm.sh"), str(dest)],
                             capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"OSRM-programmerne kunne ikke hentes: {e}")
    if out.returncode != 0:
        pytest.skip(f"OSRM-programmerne kunne ikke hentes: {out.stderr.strip()[-300:]}")
    return dest


def _grid_osm(path: Path) -> None:
    nodes, ways = [], []
    nid = lambda i, j: 1 + i * N + j  # noqa: E731
    for i in range(N):
        for j in range(N):
            nodes.append(f'<node id="{nid(i, j)}" version="1" lat="{LAT0 + i * STEP:.6f}" '
                         f'lon="{LON0 + j * STEP:.6f}"/>')
    wid = 1000
    for i in range(N):  # east-west streets
        refs = "".join(f'<nd ref="{nid(i, j)}"/>' for j in range(N))
        ways.append(f'<way id="{wid}" version="1">{refs}<tag k="highway" v="residential"/>'
                    f'<tag k="name" v="Østvej {i}"/></way>')
        wid += 1
    for j in range(N):  # north-south streets
        refs = "".join(f'<nd ref="{nid(i, j)}"/>' for i in range(N))
        ways.append(f'<way id="{wid}" version="1">{refs}<tag k="highway" v="residential"/>'
                    f'<tag k="name" v="Nordvej {j}"/></way>')
        wid += 1
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
                    + "\n".join(nodes + ways) + "\n</osm>\n", encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def osrm_url(osrm_bin, tmp_path_factory):
    work = tmp_path_factory.mktemp("osrm")
    osm = work / "grid.osm"
    _grid_osm(osm)
    profile = osrm_bin / "profiles" / "car.lua"
    if not profile.exists():
        found = list(Path(osrm_bin).rglob("car.lua"))
        if not found:
            pytest.skip("car.lua findes ikke i OSRM-hjulet")
        profile = found[0]
    bin_dir = osrm_bin / "bin"
    for cmd in ([str(bin_dir / "osrm-extract"), "-p", str(profile), str(osm)],
                [str(bin_dir / "osrm-contract"), str(work / "grid.osrm")]):
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=work, timeout=120)
        if r.returncode != 0:
            pytest.skip(f"{Path(cmd[0]).name} fejlede: {r.stderr[-300:] or r.stdout[-300:]}")
    port = _free_port()
    proc = subprocess.Popen([str(bin_dir / "osrm-routed"), "--ip", "127.0.0.1", "--port",
                             str(port), "--algorithm", "ch", str(work / "grid.osrm")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/nearest/v1/driving/{LON0},{LAT0}", timeout=1)
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.1)
        else:
            pytest.skip("osrm-routed startede ikke")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_osrm_table_answers_grid_distances(osrm_url):
    src = OsrmTable(osrm_url)
    a = (LAT0, LON0)
    b = (LAT0 + 3 * STEP, LON0 + 2 * STEP)  # 3 blocks north, 2 east: Manhattan distance
    km, minutes = src.road_matrix([a, b, a])
    manhattan = haversine_km(a, (b[0], a[1])) + haversine_km((b[0], a[1]), b)
    assert km[0, 1] == pytest.approx(manhattan, rel=0.03)
    assert km[0, 1] > haversine_km(a, b) * 1.1  # road, not straight line
    assert minutes[0, 1] > 0
    assert km[0, 2] == pytest.approx(0, abs=1e-3)


def test_osrm_blocks_match_one_request(osrm_url):
    pts = [(LAT0 + i * STEP, LON0 + j * STEP) for i in range(0, N, 2) for j in range(0, N, 2)]
    whole = OsrmTable(osrm_url, block=100).road_matrix(pts)[0]
    blocked = OsrmTable(osrm_url, block=4).road_matrix(pts)[0]
    assert (abs(whole - blocked) < 1e-6).all()


def test_osrm_through_the_source_is_cached(osrm_url, department_app, monkeypatch):
    app = department_app
    app.settings.set("distance.source", "osrm")
    app.settings.set("distance.url", osrm_url)
    src = app.planning.distance_source()
    assert isinstance(src, DistanceSource) and src.name == "osrm"
    pts = [(LAT0, LON0), (LAT0 + 5 * STEP, LON0 + 5 * STEP)]
    first = src.matrix(pts)
    # the engine may not be asked again: the answer must come from the distance_cache table
    def refuse(self, points):
        raise AssertionError("asked OSRM again")

    monkeypatch.setattr(OsrmTable, "road_matrix", refuse)
    again = app.planning.distance_source().matrix(pts)
    assert again.km[0, 1] == pytest.approx(first.km[0, 1])
    assert "osrm" in app.planning.distance_source().describe()


def test_unreachable_osrm_is_a_danish_error():
    from hjemmeprove.planning.distances import DistanceError

    with pytest.raises(DistanceError, match="svarede ikke") as e:
        OsrmTable("http://127.0.0.1:9", timeout=1).road_matrix([(LAT0, LON0), (LAT0, LON0 + STEP)])
    # the server and why, in Danish; never the positions (a citizen's home) of the request
    assert "http://127.0.0.1:9 svarede ikke: forbindelsen blev afvist" in str(e.value)
    assert f"{LON0:.4f}"[:5] not in str(e.value), str(e.value)
