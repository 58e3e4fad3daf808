"""Rebuilds resources/geodata/islands.geojson and postcode_centroids.csv from the DAGI files.

    python -m hjemmeprove.planning.build_geodata DAGI_DIR [--out DIR]

DAGI_DIR holds ``kommuner.geojson`` and ``postnumre.geojson`` of the DAGI data set (where to
get them: resources/geodata/SOURCES.md); it may also come from the environment variable
GEODATA_DIR. The files are written to ``--out`` (default: the repository's resources/geodata).

islands.geojson: for each island, the outline (first ring, rounded to 5 decimals) of the
smallest municipal polygon whose bounding box holds the island's probe point.
postcode_centroids.csv: per postcode the area centroid of its largest polygon (the first vertex
when the centroid falls outside it, e.g. a crescent-shaped coast).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "resources" / "geodata"

# (name, kommunekode, probe lat, probe lon, ferry?)
ISLANDS = [
    ("Fanø", "0563", 55.40, 8.40, True), ("Ærø", "0492", 54.88, 10.35, True),
    ("Skarø", "0479", 55.01, 10.47, True), ("Drejø", "0479", 54.973, 10.40, True),
    ("Hjortø", "0479", 54.964, 10.485, True), ("Lyø", "0430", 55.045, 10.15, True),
    ("Avernakø", "0430", 55.02, 10.28, True), ("Bjørnø", "0430", 55.063, 10.25, True),
    ("Strynø", "0482", 54.905, 10.61, True), ("Birkholm", "0492", 54.932, 10.51, True),
    ("Baagø", "0420", 55.31, 9.81, True), ("Årø", "0510", 55.262, 9.75, True),
    ("Langeland", "0482", 55.0, 10.8, False), ("Tåsinge", "0479", 55.0, 10.6, False),
]


def inside(lat, lon, ring) -> bool:
    c = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            c = not c
        j = i
    return c


def _polygons(geometry):
    return geometry["coordinates"] if geometry["type"] == "MultiPolygon" \
        else [geometry["coordinates"]]


def islands(kommuner: dict) -> dict:
    feats = []
    for name, code, la, lo, ferry in ISLANDS:
        found, found_size = None, None
        for f in kommuner["features"]:
            if f["properties"]["KOMKODE"] != code:
                continue
            for poly in _polygons(f["geometry"]):
                lats = [c[1] for c in poly[0]]
                lons = [c[0] for c in poly[0]]
                if min(lats) <= la <= max(lats) and min(lons) <= lo <= max(lons):
                    size = (max(lats) - min(lats)) * (max(lons) - min(lons))
                    if found is None or size < found_size:
                        found, found_size = poly, size
        if found is None:
            raise SystemExit(f"{name}: no polygon of municipality {code} holds the probe point")
        ring = [[round(c[0], 5), round(c[1], 5)] for c in found[0]]
        feats.append({"type": "Feature",
                      "properties": {"name": name, "kommunekode": int(code), "ferry": ferry},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": feats}


def area_centroid(ring):
    a = cx = cy = 0
    for i in range(len(ring) - 1):
        x0, y0 = ring[i][0], ring[i][1]
        x1, y1 = ring[i + 1][0], ring[i + 1][1]
        cr = x0 * y1 - x1 * y0
        a += cr
        cx += (x0 + x1) * cr
        cy += (y0 + y1) * cr
    if a == 0:
        return 0, ring[0][0], ring[0][1]
    return abs(a / 2), cx / (3 * a), cy / (3 * a)


def postcode_centroids(postnumre: dict) -> dict[str, tuple]:
    best: dict[str, tuple] = {}
    for f in postnumre["features"]:
        p = f["properties"]
        for poly in _polygons(f["geometry"]):
            ar, x, y = area_centroid(poly[0])
            if not inside(y, x, poly[0]):
                x, y = poly[0][0][0], poly[0][0][1]  # the first vertex lies on the polygon
            key = p["POSTNR_TXT"]
            if key not in best or ar > best[key][0]:
                best[key] = (ar, x, y, p["POSTBYNAVN"])
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m hjemmeprove.planning.build_geodata",
        description="Rebuild islands.geojson and postcode_centroids.csv from the DAGI files "
                    "kommuner.geojson and postnumre.geojson (see resources/geodata/SOURCES.md).")
    ap.add_argument("dagi_dir", nargs="?", default=os.environ.get("GEODATA_DIR"),
                    help="folder with kommuner.geojson and postnumre.geojson "
                         "(default: the environment variable GEODATA_DIR)")
    ap.add_argument("--out", type=Path, default=OUT,
                    help="where to write the two files (default: resources/geodata in the "
                         "repository)")
    args = ap.parse_args(argv)
    if not args.dagi_dir:
        ap.error("name the folder with the DAGI files (DAGI_DIR or GEODATA_DIR)")
    src = Path(args.dagi_dir)
    with open(src / "kommuner.geojson", encoding="utf-8") as fh:
        feats = islands(json.load(fh))
    with open(src / "postnumre.geojson", encoding="utf-8") as fh:
        best = postcode_centroids(json.load(fh))
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "islands.geojson", "w", encoding="utf-8") as fh:
        json.dump(feats, fh, ensure_ascii=False)
    with open(args.out / "postcode_centroids.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["postnr", "by", "lat", "lon"])
        for k in sorted(best):
            w.writerow([k, best[k][3], round(best[k][2], 5), round(best[k][1], 5)])
    print(f"{len(feats['features'])} islands, {len(best)} postcodes -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
