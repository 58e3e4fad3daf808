"""Where a request is: coordinates given, a local address register, a postcode centroid, or an
online geocoder only when the user has named one in the settings (nothing leaves the machine
otherwise; docs/domain.md, Personal data).

The local address register is the open Danish address data (DAR, "Danmarks Adresseregister"),
which the user downloads once and imports:

- from Datafordeleren (datafordeler.dk, free user account): the DAR file download
  ("Totaludtræk", CSV) of *adgangsadresser* with WGS84 coordinates, or any CSV with the columns
  ``vejnavn;husnr;postnr;wgs84koordinat_bredde;wgs84koordinat_længde`` (the column names of the
  former DAWA CSV export, which many municipalities still hand out);
- ``hjemmeprove geo import FILE.csv`` (or ``AddressRegister.import_csv``) builds an index file
  (SQLite) in the user's data folder; the setting ``geocoder.address_file`` points at it.

Postcode centroids (``resources/geodata/postcode_centroids.csv``, computed from the DAGI
postcode polygons, see its SOURCES.md) are the last resort and are marked *approximate*.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hjemmeprove import paths
from hjemmeprove.domain.constants import in_denmark


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    quality: str  # exact | approximate
    source: str


def _norm_street(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().replace(".", ""))


def split_address(address: str) -> tuple[str, str]:
    """'Vestergade 12B, 1. tv' → ('vestergade', '12b')."""
    main = address.split(",")[0].strip()
    m = re.match(r"^(.*?)\s+(\d+\s*[A-Za-zÆØÅæøå]?)\b", main)
    if not m:
        return _norm_street(main), ""
    return _norm_street(m.group(1)), m.group(2).replace(" ", "").lower()


class PostcodeCentroids:
    def __init__(self, path=None):
        self.rows = {}
        self.ranges = []  # inner Copenhagen: one area for 1000-1499 etc.
        with open(path or paths.resource("geodata", "postcode_centroids.csv"),
                  encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter=";"):
                pos = (float(r["lat"]), float(r["lon"]))
                lo, _, hi = r["postnr"].partition("-")
                if hi:
                    self.ranges.append((int(lo), int(hi), pos))
                else:
                    self.rows[r["postnr"]] = pos

    def locate(self, address: str, postcode: str, city: str = "") -> Position | None:
        code = (postcode or "").strip()
        hit = self.rows.get(code)
        if hit is None and code.isdigit():
            hit = next((pos for lo, hi, pos in self.ranges if lo <= int(code) <= hi), None)
        return Position(hit[0], hit[1], "approximate", "postnummer") if hit else None


COLUMN_ALIASES = {
    "street": ("vejnavn", "street", "vej"),
    "number": ("husnr", "husnummer", "number"),
    "postcode": ("postnr", "postnummer", "postcode"),
    "lat": ("wgs84koordinat_bredde", "lat", "breddegrad", "latitude"),
    "lon": ("wgs84koordinat_længde", "wgs84koordinat_laengde", "lon", "længdegrad",
            "longitude"),
}


@dataclass(frozen=True)
class RegisterImport:
    """What ``AddressRegister.import_csv`` did: addresses stored, and rows it left out
    (their count and the first few as "række N: why", in Danish)."""
    imported: int
    skipped: int = 0
    examples: tuple[str, ...] = ()


def _open_text(csv_path: Path):
    """The file as text: UTF-8 (with or without BOM), else Windows-1252, as Danish
    spreadsheets save it; decided on the first megabyte."""
    from hjemmeprove.fileio import spreadsheet_encoding

    with open(csv_path, "rb") as f:
        head = f.read(1 << 20)
    encoding = spreadsheet_encoding(head, whole=len(head) < 1 << 20)
    return open(csv_path, encoding=encoding, newline="")


def _delimiter(first_line: str) -> str | None:
    counts = {d: first_line.count(d) for d in ";,\t"}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


class AddressRegister:
    """An imported address file, indexed in a small SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def import_csv(self, csv_path: str | Path) -> RegisterImport:
        """Reads the address file (read as it streams: the whole country is millions of
        rows) into the index, in one transaction. A file that is not such a CSV is a
        ``ValidationError`` naming what is wrong; rows without a usable address or with
        coordinates outside Denmark are left out and counted."""
        from hjemmeprove.errors import ValidationError
        from hjemmeprove.fileio import ensure_private_dir

        csv_path = Path(csv_path)
        try:
            f = _open_text(csv_path)
        except OSError as e:
            raise ValidationError(f"'{csv_path}' kan ikke læses ({e.strerror})", "fil") from e
        with f:
            try:
                first = f.readline()
                delimiter = _delimiter(first)
                if delimiter is None:
                    raise ValidationError("ikke en CSV-fil med kolonneoverskrifter adskilt af "
                                          "semikolon, komma eller tabulator", "fil")
                header = next(csv.reader([first], delimiter=delimiter))
                fields = {h.strip().lower(): i for i, h in enumerate(header)}
                cols = {}
                for key, names in COLUMN_ALIASES.items():
                    col = next((fields[n] for n in names if n in fields), None)
                    if col is None:
                        raise ValidationError(
                            f"kolonnen mangler (én af {', '.join(names)})", key)
                    cols[key] = col
                rows, skipped, examples = [], 0, []
                reader = csv.reader(f, delimiter=delimiter)
                for line, r in enumerate(reader, start=2):
                    why = None
                    try:
                        street = _norm_street(r[cols["street"]])
                        number = r[cols["number"]].replace(" ", "").lower()
                        postcode = r[cols["postcode"]].strip()
                        lat = float(r[cols["lat"]].replace(",", "."))
                        lon = float(r[cols["lon"]].replace(",", "."))
                    except IndexError:
                        why = "for få kolonner"
                    except ValueError:
                        why = "koordinaten er ikke et tal"
                    else:
                        if not street or not re.fullmatch(r"[0-9]{4}", postcode):
                            why = "mangler vejnavn eller postnummer (fire cifre)"
                        elif not in_denmark(lat, lon):
                            why = (f"{lat:g}, {lon:g} ligger ikke i Danmark (bredde og længde "
                                   "i WGS84 grader)")
                    if why:
                        skipped += 1
                        if len(examples) < 3:
                            examples.append(f"række {line}: {why}")
                        continue
                    rows.append((street, number, postcode, lat, lon))
            except UnicodeDecodeError as e:
                raise ValidationError("filen kan ikke læses som tekst (UTF-8 eller Windows-"
                                      f"1252): {e.reason}", "fil") from e
            except csv.Error as e:
                raise ValidationError(f"ikke en gyldig CSV-fil ({e})", "fil") from e
        if not rows:
            raise ValidationError("ingen brugbare adresser i filen"
                                  + (f" ({examples[0]})" if examples else ""), "fil")
        ensure_private_dir(self.path.parent)
        con = sqlite3.connect(self.path)
        try:
            with con:
                con.execute("CREATE TABLE IF NOT EXISTS adresser (vej TEXT, nr TEXT, "
                            "postnr TEXT, lat REAL, lon REAL, PRIMARY KEY (vej, nr, postnr))")
                con.executemany("INSERT OR REPLACE INTO adresser VALUES (?,?,?,?,?)", rows)
        finally:
            con.close()
        return RegisterImport(len(rows), skipped, tuple(examples))

    def locate(self, address: str, postcode: str, city: str = "") -> Position | None:
        if not self.path.exists():
            return None
        street, number = split_address(address)
        con = sqlite3.connect(self.path)
        try:
            row = con.execute("SELECT lat, lon FROM adresser WHERE vej=? AND nr=? AND postnr=?",
                              (street, number, (postcode or "").strip())).fetchone()
        finally:
            con.close()
        return Position(row[0], row[1], "exact", "adresseregister") if row else None


class OnlineGeocoder:
    """A Nominatim-compatible ``/search`` at the URL the user named (never a default)."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def locate(self, address: str, postcode: str, city: str = "") -> Position | None:
        q = urllib.parse.urlencode({"q": f"{address}, {postcode} {city}, Danmark",
                                    "format": "json", "limit": 1})
        try:
            with urllib.request.urlopen(f"{self.url}/search?{q}", timeout=self.timeout) as r:
                data = json.loads(r.read().decode("utf-8"))
        except Exception:  # noqa: BLE001 - a failed lookup falls through to the next way
            return None
        if not data:
            return None
        return Position(float(data[0]["lat"]), float(data[0]["lon"]), "exact", self.url)


class Geocoder:
    """Tries each way in order: register, online (if named), postcode centroid."""

    def __init__(self, ways: list):
        self.ways = ways

    def locate(self, address: str, postcode: str, city: str = "") -> Position | None:
        for way in self.ways:
            hit = way.locate(address, postcode, city)
            if hit is not None:
                return hit
        return None


def default_register_path() -> Path:
    return paths.data_dir() / "adresseregister.sqlite3"


def geocoder_for_settings(values: dict) -> Geocoder:
    ways = []
    register = values.get("geocoder.address_file") or ""
    if register:
        ways.append(AddressRegister(register))
    elif default_register_path().exists():
        ways.append(AddressRegister(default_register_path()))
    if values.get("geocoder.url"):
        ways.append(OnlineGeocoder(values["geocoder.url"]))
    ways.append(PostcodeCentroids())
    return Geocoder(ways)
