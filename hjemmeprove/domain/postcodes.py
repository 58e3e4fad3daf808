"""The Danish postcodes and their town names (``resources/data/postnumre.csv``).

A postcode that is not on the list, or a town that is not the postcode's, is refused when a
request is entered: a wrong postcode sends the bioanalyst to the wrong town and places the
visit at the wrong postcode centre. The list is built from the DAGI postcode areas (see
``resources/data/SOURCES.md``) by ``python -m hjemmeprove.domain.postcodes SRC.geojson DEST``.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata

from hjemmeprove import paths


def _fold(text: str) -> str:
    """Compare town names the way people write them: case, spacing, å/aa, full stops."""
    t = unicodedata.normalize("NFKC", text or "").casefold().replace(".", " ")
    t = t.replace("å", "aa")
    return re.sub(r"\s+", " ", t).strip()


@functools.lru_cache(maxsize=1)
def _table() -> tuple[dict[str, str], tuple[tuple[int, int, str], ...]]:
    single, ranges = {}, []
    with open(paths.resource("data", "postnumre.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter=";"):
            lo, hi = int(r["fra"]), int(r["til"])
            if lo == hi:
                single[r["fra"]] = r["by"]
            else:
                ranges.append((lo, hi, r["by"]))
    return single, tuple(ranges)


def town_of(postcode: str) -> str | None:
    """The official town name of a 4-digit postcode, or None when there is no such postcode."""
    postcode = (postcode or "").strip()
    if not re.fullmatch(r"[0-9]{4}", postcode):
        return None
    single, ranges = _table()
    if postcode in single:
        return single[postcode]
    n = int(postcode)
    for lo, hi, town in ranges:
        if lo <= n <= hi:
            return town
    return None


@functools.lru_cache(maxsize=256)
def town_postcodes(term: str) -> tuple[tuple[str, str], ...]:
    """The postcodes (as ranges ``(first, last)``) of the towns a search term names: the town
    itself, its districts ("Odense" for Odense C, M, …), and, from three letters on, every town
    that begins so ("Mars" for Marstal). Empty when the term names no town. Remembered per
    term (a walk through the official list costs a few ms; the request list asks on every
    page), so it is a tuple nobody can change."""
    want = _fold(term)
    if not want or any(ch.isdigit() for ch in want):
        return ()
    single, ranges = _table()
    out = []
    for lo, hi, town in [(c, c, t) for c, t in single.items()] + [
            (f"{lo:04d}", f"{hi:04d}", t) for lo, hi, t in ranges]:
        name = _fold(town)
        if name == want or name.startswith(want + " ") or (
                len(want) >= 3 and name.startswith(want)):
            out.append((lo, hi))
    return tuple(sorted(out))


def check(postcode: str, city: str) -> tuple[str, str] | None:
    """None when postcode and town belong together; else (which field, Danish message).

    The town may be written without the district letters the list carries ("Odense" for
    "Odense C") and with aa for å; any other town is refused, naming the right one.
    """
    town = town_of(postcode)
    if town is None:
        return "postcode", f"{postcode} er ikke et dansk postnummer"
    if not city:
        return None
    want, got = _fold(town), _fold(city)
    if got == want or want.startswith(got + " "):
        return None
    return "city", f"postnummer {postcode} hedder {town}, ikke '{city}'"


def build(src: str, dest: str) -> int:
    """DAGI ``postnumre.geojson`` (POSTNR_TXT, POSTBYNAVN) → ``fra;til;by`` rows."""
    import json

    with open(src, encoding="utf-8") as f:
        features = json.load(f)["features"]
    rows = {}
    for feat in features:
        p = feat["properties"]
        code, town = str(p["POSTNR_TXT"]).strip(), str(p["POSTBYNAVN"]).strip()
        lo, _, hi = code.partition("-")
        rows[(lo, hi or lo)] = town
    with open(dest, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\n")
        w.writerow(["fra", "til", "by"])
        for (lo, hi), town in sorted(rows.items()):
            w.writerow([lo, hi, town])
    return len(rows)


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(build(sys.argv[1], sys.argv[2]), "postnumre")
