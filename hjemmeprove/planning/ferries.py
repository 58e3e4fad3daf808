"""Ferry links of Region Syddanmark and the islands they serve (shipped data with sources).

``resources/data/ferries.csv``: one row per link with both ports' positions and the crossing
minutes (``verified`` = nej marks a starting value the user should check).
``resources/geodata/islands.geojson``: island outlines (DAGI 1:500,000, see SOURCES.md) used to
tell which side of a ferry a position lies on. Islands reached by bridge (Langeland, Tåsinge)
are in the file too, as *areas* (for area days), not as ferry regions.

A position's *region* is the ferry island it lies on, or "" for the mainland (which here means
everything reached by road, Funen and Jutland and the bridged islands alike).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache

from hjemmeprove import paths

MAINLAND = ""


@dataclass(frozen=True)
class FerryLink:
    name: str  # "Svendborg–Ærøskøbing"
    island: str  # the region on the island side
    municipality_code: int
    from_port: str
    from_lat: float
    from_lon: float
    from_region: str  # "" = mainland; else another island (Marstal on Ærø for Birkholm)
    island_port: str
    island_lat: float
    island_lon: float
    crossing_minutes: float
    verified: bool
    source: str


@dataclass(frozen=True)
class Area:
    name: str
    municipality_code: int
    ferry: bool
    rings: tuple  # tuple of rings, each a tuple of (lon, lat)
    bbox: tuple  # (min_lat, max_lat, min_lon, max_lon)


def _inside(lat: float, lon: float, ring) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


COAST_KM = 0.8


def _distance_to_ring_km(lat: float, lon: float, ring) -> float:
    """Shortest distance from a position to a ring's edges (local flat projection)."""
    import math

    kx = 111.32 * math.cos(math.radians(lat))
    ky = 110.57
    best = float("inf")
    px, py = 0.0, 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
        ax, ay = (x0 - lon) * kx, (y0 - lat) * ky
        bx, by = (x1 - lon) * kx, (y1 - lat) * ky
        dx, dy = bx - ax, by - ay
        L = dx * dx + dy * dy
        t = 0.0 if L == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / L))
        cx, cy = ax + t * dx, ay + t * dy
        best = min(best, math.hypot(cx, cy))
    return best


def load_links(path=None) -> list[FerryLink]:
    path = path or paths.resource("data", "ferries.csv")
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    return [FerryLink(r["link"], r["island"], int(r["kommunekode"]), r["from_port"],
                      float(r["from_lat"]), float(r["from_lon"]), r["from_region"] or MAINLAND,
                      r["island_port"], float(r["island_lat"]), float(r["island_lon"]),
                      float(r["crossing_minutes"]), r["verified"].strip() == "ja", r["source"])
            for r in rows]


@lru_cache(maxsize=1)
def island_names() -> tuple[str, ...]:
    """The names of the islands in the program's data (``load_areas``), for checking the
    area days a user types."""
    return tuple(sorted({a.name for a in load_areas()}))


def load_areas(path=None) -> list[Area]:
    path = path or paths.resource("geodata", "islands.geojson")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    areas = []
    for feat in data["features"]:
        p = feat["properties"]
        rings = tuple(tuple((c[0], c[1]) for c in ring) for ring in feat["geometry"]["coordinates"])
        lats = [c[1] for c in rings[0]]
        lons = [c[0] for c in rings[0]]
        areas.append(Area(p["name"], int(p["kommunekode"]), bool(p["ferry"]), rings,
                          (min(lats), max(lats), min(lons), max(lons))))
    return areas


class FerryNetwork:
    """Which region a position is in, and the ferry paths between regions."""

    def __init__(self, links: list[FerryLink] | None = None, areas: list[Area] | None = None):
        self.links = links if links is not None else load_links()
        self.areas = areas if areas is not None else load_areas()
        # smallest areas first: Birkholm lies inside Ærø's bounding box
        self.areas.sort(key=lambda a: (a.bbox[1] - a.bbox[0]) * (a.bbox[3] - a.bbox[2]))
        self._region_cache: dict[tuple, str] = {}
        self._area_cache: dict[tuple, str] = {}
        self.regions = {MAINLAND} | {l.island for l in self.links} | {l.from_region for l in self.links}

    def describe(self) -> dict:
        return {"ferry_links": len(self.links),
                "ferry_data": "resources/data/ferries.csv"}

    def area(self, lat: float, lon: float) -> str:
        """The named island the position lies on (ferry or bridge), "" if none.

        The outlines are drawn at 1:500,000, so a harbour or a house on the shore may fall
        just outside: a position within ``COAST_KM`` of a ferry island's outline counts as on it.
        """
        key = (round(lat, 5), round(lon, 5))
        hit = self._area_cache.get(key)
        if hit is None:
            hit = ""
            for a in self.areas:
                b = a.bbox
                if b[0] <= lat <= b[1] and b[2] <= lon <= b[3] and _inside(lat, lon, a.rings[0]):
                    hit = a.name
                    break
            if not hit:
                pad = COAST_KM / 111.0 * 2
                best = COAST_KM
                for a in self.areas:
                    if not a.ferry:  # bridged islands border the mainland: no buffer
                        continue
                    b = a.bbox
                    if b[0] - pad <= lat <= b[1] + pad and b[2] - 2 * pad <= lon <= b[3] + 2 * pad:
                        d = _distance_to_ring_km(lat, lon, a.rings[0])
                        if d < best:
                            best, hit = d, a.name
            self._area_cache[key] = hit
        return hit

    def region(self, lat: float, lon: float) -> str:
        """The ferry island of a position, or "" (mainland, incl. bridged islands)."""
        key = (round(lat, 5), round(lon, 5))
        hit = self._region_cache.get(key)
        if hit is None:
            name = self.area(lat, lon)
            hit = name if name in self.regions and name != MAINLAND else MAINLAND
            self._region_cache[key] = hit
        return hit

    @lru_cache(maxsize=None)
    def paths(self, a: str, b: str) -> tuple:
        """All simple ferry paths from region a to region b (at most 3 crossings).

        Each path is a tuple of (link, forward) where forward means mainland-side → island.
        """
        if a == b:
            return ((),)
        out = []

        def step(region, path, seen):
            if region == b:
                out.append(tuple(path))
                return
            if len(path) >= 3:
                return
            for link in self.links:
                if link.from_region == region and link.island not in seen:
                    step(link.island, path + [(link, True)], seen | {link.island})
                elif link.island == region and link.from_region not in seen:
                    step(link.from_region, path + [(link, False)], seen | {link.from_region})

        step(a, [], {a})
        return tuple(out)

    def ports(self) -> list[tuple[float, float]]:
        pts = []
        for link in self.links:
            for p in ((link.from_lat, link.from_lon), (link.island_lat, link.island_lon)):
                if p not in pts:
                    pts.append(p)
        return pts


def crossing_points(link: FerryLink, forward: bool):
    """(departure port, arrival port) of a crossing in the given direction."""
    a = (link.from_lat, link.from_lon)
    b = (link.island_lat, link.island_lon)
    return (a, b) if forward else (b, a)


_default: FerryNetwork | None = None


def default_network() -> FerryNetwork:
    global _default
    if _default is None:
        _default = FerryNetwork()
    return _default


__all__ = ["FerryLink", "FerryNetwork", "default_network", "load_links", "crossing_points",
           "MAINLAND"]
