"""Distances and travel times behind one interface, with ferries as separate segments.

A *road source* answers road km and minutes between positions:

- ``OfflineEstimate``: great-circle distance × detour factor, speed by leg length (built in,
  nothing leaves the machine);
- ``OsrmTable``: OSRM's ``/table`` service at a URL the user sets;
- ``ValhallaMatrix``: Valhalla's ``/sources_to_targets`` at a URL the user sets.

``DistanceSource`` wraps a road source with the ferry network: a leg between two regions
(mainland, Ærø, Fanø, ...) is road to the port + crossing + road from the port, choosing the
quickest link, and reports its ferry minutes and link separately. Remote sources are cached in
the ``distance_cache`` table (positions rounded to 5 decimals, about 1 m); the estimate is
computed each time (computing it is cheaper than reading it back).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from hjemmeprove.errors import HjemmeproveError
from hjemmeprove.planning.ferries import FerryNetwork, crossing_points, default_network
from hjemmeprove.webcall import failure_reason

EARTH_KM = 6371.0088
Point = tuple[float, float]  # (lat, lon)


class DistanceError(HjemmeproveError):
    """The routing engine did not answer (Danish message for the user)."""


@dataclass(frozen=True)
class Leg:
    km: float
    minutes: float  # driving + ferry minutes
    ferry_minutes: float = 0.0
    ferry_link: str = ""


@dataclass
class Matrix:
    """Legs between all pairs of ``points`` (numpy arrays, [from, to])."""

    points: list
    km: np.ndarray
    minutes: np.ndarray
    ferry_minutes: np.ndarray
    ferry_link: np.ndarray  # object array of str

    def leg(self, i: int, j: int) -> Leg:
        return Leg(float(self.km[i, j]), float(self.minutes[i, j]),
                   float(self.ferry_minutes[i, j]), str(self.ferry_link[i, j] or ""))


# --- road sources -----------------------------------------------------------------------------


class RoadSource:
    name = "road"
    cacheable = False

    def parameters(self) -> dict:
        return {}

    def road_matrix(self, points: list[Point]) -> tuple[np.ndarray, np.ndarray]:
        """(km, minutes) between all pairs, by road only."""
        raise NotImplementedError

    def key(self) -> str:
        """What the cache is keyed by: the source and its parameters (≤ 100 chars)."""
        params = ",".join(f"{k}={v}" for k, v in sorted(self.parameters().items()))
        return f"{self.name}({params})"[:100]


def haversine_matrix(points: list[Point]) -> np.ndarray:
    a = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    lat, lon = a[:, 0][:, None], a[:, 1][:, None]
    dlat = lat.T - lat
    dlon = lon.T - lon
    h = np.sin(dlat / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def haversine_km(a: Point, b: Point) -> float:
    return float(haversine_matrix([a, b])[0, 1])


class OfflineEstimate(RoadSource):
    """Great-circle km × detour factor; minutes from a speed that grows with the leg's length:
    the first ``town_km`` at ``town_kmh``, up to ``rural_km`` at ``rural_kmh``, the rest at
    ``highway_kmh`` (town streets, country roads, main roads)."""

    name = "estimate"

    def __init__(self, detour_factor: float = 1.3, town_km: float = 3.0, town_kmh: float = 30.0,
                 rural_km: float = 20.0, rural_kmh: float = 60.0, highway_kmh: float = 80.0):
        self.detour_factor = float(detour_factor)
        self.town_km, self.town_kmh = town_km, town_kmh
        self.rural_km, self.rural_kmh = rural_km, rural_kmh
        self.highway_kmh = highway_kmh

    def parameters(self) -> dict:
        return {"detour_factor": self.detour_factor,
                "speed_kmh": f"{self.town_kmh:g} (<{self.town_km:g} km), "
                             f"{self.rural_kmh:g} (<{self.rural_km:g} km), {self.highway_kmh:g}"}

    def minutes_for(self, km: np.ndarray) -> np.ndarray:
        km = np.asarray(km, dtype=float)
        t1 = np.minimum(km, self.town_km) / self.town_kmh
        t2 = np.clip(km - self.town_km, 0, self.rural_km - self.town_km) / self.rural_kmh
        t3 = np.maximum(km - self.rural_km, 0) / self.highway_kmh
        return (t1 + t2 + t3) * 60.0

    def road_matrix(self, points):
        km = haversine_matrix(points) * self.detour_factor
        return km, self.minutes_for(km)


def _http_json(url: str, data: bytes | None = None, timeout: float = 30.0):
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except Exception as e:  # noqa: BLE001 - any network failure is the same to the user
        # the server only: the path holds the citizens' coordinates, which do not belong in
        # a message that is shown, logged and pasted into support tickets
        parts = urllib.parse.urlsplit(url)
        raise DistanceError(f"rutemaskinen på {parts.scheme}://{parts.netloc} svarede ikke: "
                            f"{failure_reason(e, timeout, 'rutemaskinen')}") from e


class OsrmTable(RoadSource):
    """OSRM's table service (``/table/v1/{profile}/lon,lat;...``) at the user's URL.

    Large matrices are asked for in blocks (osrm-routed's default --max-table-size is 100)."""

    name = "osrm"
    cacheable = True

    def __init__(self, url: str, profile: str = "driving", block: int = 50, timeout: float = 30.0):
        if not url:
            raise DistanceError("OSRM er valgt, men der er ingen adresse på rutemaskinen")
        self.url = url.rstrip("/")
        self.profile = profile
        self.block = block
        self.timeout = timeout

    def parameters(self) -> dict:
        return {"url": self.url, "profile": self.profile}

    def road_matrix(self, points):
        n = len(points)
        km = np.zeros((n, n))
        minutes = np.zeros((n, n))
        blocks = [list(range(i, min(i + self.block, n))) for i in range(0, n, self.block)]
        for src in blocks:
            for dst in blocks:
                idx = src + [j for j in dst if j not in src]
                if len(idx) == 1:
                    continue  # one point to itself: 0 (OSRM wants two coordinates)
                coords = ";".join(f"{points[k][1]:.6f},{points[k][0]:.6f}" for k in idx)
                s_param = ";".join(str(i) for i in range(len(src)))
                d_param = ";".join(str(idx.index(j)) for j in dst)
                url = (f"{self.url}/table/v1/{self.profile}/{coords}?sources={s_param}"
                       f"&destinations={d_param}&annotations=duration,distance")
                data = _http_json(url, timeout=self.timeout)
                if data.get("code") != "Ok":
                    raise DistanceError(f"OSRM svarede {data.get('code')}: {data.get('message', '')}")
                for a, i in enumerate(src):
                    for b, j in enumerate(dst):
                        d = data["distances"][a][b]
                        t = data["durations"][a][b]
                        if d is None or t is None:
                            raise DistanceError(
                                f"OSRM fandt ingen vej mellem {points[i]} og {points[j]}")
                        km[i, j] = d / 1000.0
                        minutes[i, j] = t / 60.0
        return km, minutes


class ValhallaMatrix(RoadSource):
    """Valhalla's ``/sources_to_targets`` (costing auto) at the user's URL."""

    name = "valhalla"
    cacheable = True

    def __init__(self, url: str, costing: str = "auto", timeout: float = 30.0):
        if not url:
            raise DistanceError("Valhalla er valgt, men der er ingen adresse på rutemaskinen")
        self.url = url.rstrip("/")
        self.costing = costing
        self.timeout = timeout

    def parameters(self) -> dict:
        return {"url": self.url, "costing": self.costing}

    def road_matrix(self, points):
        locs = [{"lat": p[0], "lon": p[1]} for p in points]
        body = json.dumps({"sources": locs, "targets": locs, "costing": self.costing,
                           "units": "kilometers"}).encode()
        data = _http_json(f"{self.url}/sources_to_targets", body, self.timeout)
        n = len(points)
        km = np.zeros((n, n))
        minutes = np.zeros((n, n))
        for i, row in enumerate(data["sources_to_targets"]):
            for cell in row:
                j = cell.get("to_index")
                if cell.get("distance") is None:
                    raise DistanceError("Valhalla fandt ingen vej mellem to adresser")
                km[i, j] = cell["distance"]
                minutes[i, j] = cell["time"] / 60.0
        return km, minutes


# --- the source the planner uses ----------------------------------------------------------------


class DistanceSource:
    """Road source + ferry network (+ optional database cache): the one interface."""

    def __init__(self, road: RoadSource | None = None, ferries: FerryNetwork | None = None,
                 store=None):
        self.road = road or OfflineEstimate()
        self.ferries = ferries if ferries is not None else default_network()
        self.store = store if self.road.cacheable else None

    @property
    def name(self) -> str:
        return self.road.name

    def parameters(self) -> dict:
        return {**self.road.parameters(), **self.ferries.describe()}

    def describe(self) -> str:
        """Text naming the source and its parameters (stored on each route)."""
        params = ", ".join(f"{k}={v}" for k, v in self.road.parameters().items())
        return f"{self.road.name} ({params}); færger: ferries.csv"[:200]

    def as_json(self) -> dict:
        return {"source": self.road.name, **self.parameters()}

    def leg(self, a: Point, b: Point) -> Leg:
        return self.matrix([a, b]).leg(0, 1)

    def matrix(self, points: list[Point]) -> Matrix:
        points = [(float(p[0]), float(p[1])) for p in points]
        if self.store is not None:
            cached = self._from_cache(points)
            if cached is not None:
                return cached
        m = self._compute(points)
        if self.store is not None:
            self._to_cache(m)
        return m

    # -- composition with ferries

    def _compute(self, points: list[Point]) -> Matrix:
        n = len(points)
        regions = [self.ferries.region(*p) for p in points]
        used = sorted(set(regions))
        need_ports = len(used) > 1
        ports = self.ferries.ports() if need_ports else []
        all_pts = points + [p for p in ports]
        rkm, rmin = self.road.road_matrix(all_pts) if n else (np.zeros((0, 0)), np.zeros((0, 0)))
        km = rkm[:n, :n].copy()
        minutes = rmin[:n, :n].copy()
        ferry = np.zeros((n, n))
        links = np.full((n, n), "", dtype=object)
        if need_ports:
            port_index = {p: n + k for k, p in enumerate(ports)}
            reg_idx = {r: np.array([i for i in range(n) if regions[i] == r]) for r in used}
            for ra in used:
                for rb in used:
                    if ra == rb:
                        continue
                    ia, ib = reg_idx[ra], reg_idx[rb]
                    best_t = np.full((len(ia), len(ib)), np.inf)
                    best_k = np.zeros((len(ia), len(ib)))
                    best_f = np.zeros((len(ia), len(ib)))
                    best_l = np.full((len(ia), len(ib)), "", dtype=object)
                    for path in self.ferries.paths(ra, rb):
                        if not path:
                            continue
                        # fixed middle part between the first departure and last arrival port
                        mid_t = mid_k = fmin = 0.0
                        first_dep = crossing_points(*path[0])[0]
                        last_arr = crossing_points(*path[-1])[1]
                        prev_arr = None
                        for link, fwd in path:
                            dep, arr = crossing_points(link, fwd)
                            if prev_arr is not None:
                                mid_t += rmin[port_index[prev_arr], port_index[dep]]
                                mid_k += rkm[port_index[prev_arr], port_index[dep]]
                            fmin += link.crossing_minutes
                            prev_arr = arr
                        d0, d1 = port_index[first_dep], port_index[last_arr]
                        t = (rmin[ia, d0][:, None] + mid_t + fmin + rmin[d1, ib][None, :])
                        k = rkm[ia, d0][:, None] + mid_k + rkm[d1, ib][None, :]
                        better = t < best_t
                        best_t = np.where(better, t, best_t)
                        best_k = np.where(better, k, best_k)
                        best_f = np.where(better, fmin, best_f)
                        best_l[better] = " + ".join(link.name for link, _ in path)
                    sel = np.ix_(ia, ib)
                    minutes[sel] = best_t
                    km[sel] = best_k
                    ferry[sel] = best_f
                    links[sel] = best_l
        np.fill_diagonal(km, 0.0)
        np.fill_diagonal(minutes, 0.0)
        return Matrix(points, km, minutes, ferry, links)

    # -- cache (remote sources)

    @staticmethod
    def _key(p: Point) -> str:
        return f"{p[0]:.5f},{p[1]:.5f}"

    def _from_cache(self, points) -> Matrix | None:
        from sqlalchemy import select

        from hjemmeprove.db.models import DistanceCacheEntry as E

        keys = [self._key(p) for p in points]
        pos = {k: i for i, k in enumerate(keys)}
        n = len(points)
        found = {}
        uniq = list(pos)
        with self.store.session() as s:
            for c in range(0, len(uniq), 400):
                chunk = uniq[c:c + 400]
                for e in s.scalars(select(E).where(E.source == self.road.key(),
                                                   E.from_key.in_(chunk), E.to_key.in_(uniq))):
                    found[(e.from_key, e.to_key)] = e
        km, minutes, ferry = np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n))
        links = np.full((n, n), "", dtype=object)
        for i, a in enumerate(keys):
            for j, b in enumerate(keys):
                if a == b:
                    continue
                e = found.get((a, b))
                if e is None:
                    return None
                km[i, j], minutes[i, j], ferry[i, j] = e.km, e.minutes, e.ferry_minutes
                links[i, j] = e.ferry_link
        return Matrix(points, km, minutes, ferry, links)

    def _to_cache(self, m: Matrix) -> None:
        from sqlalchemy import delete

        from hjemmeprove.db.models import DistanceCacheEntry as E

        keys = [self._key(p) for p in m.points]
        rows = {}
        for i, a in enumerate(keys):
            for j, b in enumerate(keys):
                if a != b:
                    rows[(a, b)] = dict(source=self.road.key(), from_key=a, to_key=b,
                                        km=float(m.km[i, j]), minutes=float(m.minutes[i, j]),
                                        ferry_minutes=float(m.ferry_minutes[i, j]),
                                        ferry_link=str(m.ferry_link[i, j] or "")[:100])
        if not rows:
            return
        uniq = sorted(set(keys))
        with self.store.session() as s:
            for c in range(0, len(uniq), 400):
                s.execute(delete(E).where(E.source == self.road.key(),
                                          E.from_key.in_(uniq[c:c + 400]), E.to_key.in_(uniq)))
            s.execute(E.__table__.insert(), list(rows.values()))


def source_from_settings(values: dict, store=None) -> DistanceSource:
    kind = (values.get("distance.source") or "estimate").strip().lower()
    url = values.get("distance.url") or ""
    if kind == "osrm":
        road = OsrmTable(url)
    elif kind == "valhalla":
        road = ValhallaMatrix(url)
    else:
        road = OfflineEstimate(float(values.get("distance.detour_factor") or 1.3))
    return DistanceSource(road, store=store)


def source_for_store(store) -> DistanceSource:
    from hjemmeprove.settings import Settings

    return source_from_settings(Settings(store).all(), store=store)


def _d(value: float, places: str) -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def standalone_trip(store_or_source, department, lat: float, lon: float
                    ) -> tuple[Decimal, Decimal, str]:
    """lab → position → lab by the planning source: (km 3 dp, ferry minutes 1 dp, ferry link).

    ``department`` is a Department row, anything with ``lab_lat``/``lab_lon``, or (lat, lon).
    """
    source = (store_or_source if isinstance(store_or_source, DistanceSource)
              else source_for_store(store_or_source))
    lab = (department if isinstance(department, tuple)
           else (department.lab_lat, department.lab_lon))
    m = source.matrix([lab, (lat, lon)])
    out, back = m.leg(0, 1), m.leg(1, 0)
    return (_d(out.km + back.km, "0.001"), _d(out.ferry_minutes + back.ferry_minutes, "0.1"),
            out.ferry_link or back.ferry_link)


def round_km(value: float) -> Decimal:
    return _d(value, "0.001")


def round_min(value: float) -> Decimal:
    return _d(value, "0.1")


__all__ = ["DistanceSource", "RoadSource", "OfflineEstimate", "OsrmTable", "ValhallaMatrix",
           "Leg", "Matrix", "standalone_trip", "source_for_store", "source_from_settings",
           "haversine_km", "DistanceError"]
