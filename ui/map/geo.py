"""The offline map background: Region Syddanmark's municipal boundaries (no Qt here).

Positions are projected to a flat plane in km (equirectangular around 55.3° N), which is
accurate to well under 1 % across the region; y grows southwards as on screen.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache

from hjemmeprove import paths

LAT0 = 55.3
KX = 111.32 * math.cos(math.radians(LAT0))  # km per degree of longitude
KY = 110.57  # km per degree of latitude
ATTRIBUTION = ("Kort: Indeholder data fra Styrelsen for Dataforsyning og Infrastruktur / "
               "Klimadatastyrelsen (DAGI 1:500.000)")


def project(lat: float, lon: float) -> tuple[float, float]:
    return lon * KX, -lat * KY


@dataclass(frozen=True)
class Shape:
    code: int
    name: str
    polygons: tuple  # of tuples of rings; each ring a tuple of (x, y) in km
    centroid: tuple[float, float]
    area: float


def _ring_area_centroid(ring) -> tuple[float, float, float]:
    a = cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1]):
        cross = x1 * y2 - x2 * y1
        a += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    a /= 2
    if abs(a) < 1e-12:
        return 0.0, ring[0][0], ring[0][1]
    return abs(a), cx / (6 * a), cy / (6 * a)


@lru_cache(maxsize=1)
def load_municipalities() -> tuple[Shape, ...]:
    path = paths.resource("geodata", "kommuner-syd.geojson")
    data = json.loads(path.read_text(encoding="utf-8"))
    by_code: dict[int, dict] = {}
    for f in data["features"]:
        code = int(f["properties"]["code"])
        entry = by_code.setdefault(code, {"name": f["properties"]["name"], "polys": []})
        for poly in f["geometry"]["coordinates"]:
            entry["polys"].append(tuple(tuple(project(lat, lon) for lon, lat in ring)
                                        for ring in poly))
    shapes = []
    for code, e in sorted(by_code.items()):
        best = (0.0, 0.0, 0.0)
        total = 0.0
        for poly in e["polys"]:
            area, cx, cy = _ring_area_centroid(list(poly[0]))
            total += area
            if area > best[0]:
                best = (area, cx, cy)
        shapes.append(Shape(code, e["name"], tuple(e["polys"]), (best[1], best[2]), total))
    return tuple(shapes)
