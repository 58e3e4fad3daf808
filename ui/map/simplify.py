"""Makes resources/geodata/kommuner-syd.geojson from the national municipal boundaries.

Keeps only Region Syddanmark's 22 municipalities, drops the dummy third coordinate, simplifies
each ring with Douglas-Peucker (tolerance in degrees) and rounds to 4 decimals (~10 m), so the
shipped file is small. Run: ``python -m ui.map.simplify SRC DEST``.
"""

from __future__ import annotations

import json
import sys

SYD_CODES = {410, 420, 430, 440, 450, 461, 479, 480, 482, 492, 510, 530, 540, 550, 561, 563,
             573, 575, 580, 607, 621, 630}


def _perp(p, a, b) -> float:
    (x, y), (x1, y1), (x2, y2) = p, a, b
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return ((x - x1) ** 2 + (y - y1) ** 2) ** 0.5
    return abs(dy * x - dx * y + x2 * y1 - y2 * x1) / (dx * dx + dy * dy) ** 0.5


def douglas_peucker(points: list, tol: float) -> list:
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        i, j = stack.pop()
        best, index = 0.0, None
        for k in range(i + 1, j):
            d = _perp(points[k], points[i], points[j])
            if d > best:
                best, index = d, k
        if index is not None and best > tol:
            keep[index] = True
            stack += [(i, index), (index, j)]
    return [p for p, k in zip(points, keep) if k]


def simplify(src: str, dest: str, tol: float = 0.002) -> int:
    data = json.load(open(src, encoding="utf-8"))
    out = []
    for f in data["features"]:
        code = int(f["properties"]["KOMKODE"])
        if code not in SYD_CODES:
            continue
        geom = f["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        new_polys = []
        for poly in polys:
            rings = []
            for ring in poly:
                pts = douglas_peucker([(p[0], p[1]) for p in ring], tol)
                if len(pts) >= 4:
                    rings.append([[round(x, 4), round(y, 4)] for x, y in pts])
            if rings:
                new_polys.append(rings)
        if not new_polys:
            continue  # an islet smaller than the tolerance
        out.append({"type": "Feature",
                    "properties": {"code": code, "name": f["properties"]["KOMNAVN"]},
                    "geometry": {"type": "MultiPolygon", "coordinates": new_polys}})
    with open(dest, "w", encoding="utf-8") as fh:
        json.dump({"type": "FeatureCollection", "features": out}, fh, ensure_ascii=False,
                  separators=(",", ":"))
    return len(out)


if __name__ == "__main__":
    print(simplify(sys.argv[1], sys.argv[2]))
