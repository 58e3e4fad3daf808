"""A booking request as entered (form or CSV row): text in, checked values or field errors out.

The same function serves the desktop form and the CSV import, so both say the same thing
about the same mistake. Checks that need the database (an agreement in force) are the
service's; everything here is pure.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from hjemmeprove.domain import formats, postcodes
from hjemmeprove.domain.calendar import WEEKDAYS
from hjemmeprove.domain.constants import DENMARK_LAT, DENMARK_LON
from hjemmeprove.domain.cpr import parse_cpr
from hjemmeprove.errors import FieldError

# field key -> Danish label used in messages, the form and as CSV column name
LABELS: dict[str, str] = {
    "cpr": "cpr",
    "name": "navn",
    "address": "adresse",
    "postcode": "postnr",
    "city": "by",
    "municipality": "kommunekode",
    "received": "modtaget",
    "sampling_address": "prøveadresse",
    "sampling_postcode": "prøvepostnr",
    "sampling_city": "prøveby",
    "access_info": "adgang",
    "presence_required": "tilstede",
    "identity_check": "identifikation",
    "ekg": "ekg",
    "requester": "rekvirent",
    "preferred_days": "ønskede_dage",
    "earliest": "tidligst_dato",
    "window_start": "tidligst_kl",
    "window_end": "senest_kl",
    "stability_minutes": "holdbarhed_min",
    "note": "bemærkning",
    "lat": "lat",
    "lon": "lon",
    "phone": "telefon",
}
REQUIRED = ("cpr", "name", "address", "postcode", "city", "municipality", "received")
# the database columns' lengths (PostgreSQL refuses longer text); free text is Text (2000)
_MAX_LENGTH = {"note": 2000, "access_info": 2000, "city": 100, "sampling_city": 100,
               "phone": 40}
_TRUE = {"1", "ja", "j", "x", "yes", "true", "sand"}
_FALSE = {"", "0", "nej", "n", "no", "false", "falsk"}


@dataclass
class RequestInput:
    cpr: str = ""
    name: str = ""
    address: str = ""
    postcode: str = ""
    city: str = ""
    municipality: int = 0  # kommunekode
    received: dt.date | None = None
    sampling_address: str = ""
    sampling_postcode: str = ""
    sampling_city: str = ""
    access_info: str = ""
    presence_required: str = ""
    identity_check: str = ""
    ekg: bool = False
    requester: str = ""
    preferred_days: str = ""
    earliest: dt.date | None = None
    window_start: dt.time | None = None
    window_end: dt.time | None = None
    stability_minutes: int | None = None
    note: str = ""
    lat: float | None = None
    lon: float | None = None
    phone: str = ""
    extra: dict = field(default_factory=dict)


def parse_date(text: str) -> dt.date:
    """ISO (2024-03-28) or Danish (28-03-2024, 28.03.2024, 28/03/2024)."""
    text = text.strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if m:
        y, mo, d = map(int, m.groups())
    else:
        m = re.fullmatch(r"(\d{1,2})[-./](\d{1,2})[-./](\d{4})", text)
        if not m:
            raise ValueError(f"'{text}' er ikke en dato (skriv ÅÅÅÅ-MM-DD eller DD-MM-ÅÅÅÅ)")
        d, mo, y = map(int, m.groups())
    try:
        return dt.date(y, mo, d)
    except ValueError:
        raise ValueError(f"'{text}' er ikke en gyldig dato") from None


def parse_time(text: str) -> dt.time:
    m = re.fullmatch(r"(\d{1,2})[:.](\d{2})", text.strip())
    if not m:
        raise ValueError(f"'{text}' er ikke et klokkeslæt (skriv TT:MM)")
    h, mi = map(int, m.groups())
    if not (0 <= h <= 23 and 0 <= mi <= 59):
        raise ValueError(f"'{text}' er ikke et gyldigt klokkeslæt")
    return dt.time(h, mi)


def _parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError(f"'{text}' skal være ja eller nej")


def _parse_float(text: str) -> float:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"'{text}' er ikke et tal") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"'{text}' er ikke et tal")
    return value


def _parse_preferred(text: str) -> str:
    """Preferred days: weekday names (man, tir, ...) and/or dates; normalised to text."""
    parts = [p.strip() for p in re.split(r"[ ,;]+", text) if p.strip()]
    out = []
    for p in parts:
        key = p.lower()[:3]
        if key in WEEKDAYS:
            out.append(list(WEEKDAYS)[WEEKDAYS[key]])
        else:
            out.append(parse_date(p).isoformat())
    return ",".join(out)


def parse_request(values: dict[str, str], today: dt.date | None = None,
                  row: int | None = None) -> tuple[RequestInput, list[FieldError]]:
    """Checks every field and returns all problems, each naming its field."""
    today = today or dt.date.today()
    errors: list[FieldError] = []
    out = RequestInput()

    def err(key: str, message: str) -> None:
        errors.append(FieldError(LABELS.get(key, key), message, row))

    raw = {k: ("" if v is None else str(v)).strip() for k, v in values.items()}
    for key in REQUIRED:
        if not raw.get(key):
            err(key, "skal udfyldes")

    def take(key, parser):
        text = raw.get(key, "")
        if not text:
            return None
        try:
            return parser(text)
        except ValueError as e:
            err(key, str(e))
            return None

    if raw.get("cpr"):
        try:
            out.cpr = parse_cpr(raw["cpr"])[0]
        except ValueError as e:
            err("cpr", str(e))
    for key in ("name", "address", "city", "sampling_address", "sampling_city", "access_info",
                "presence_required", "identity_check", "requester", "note", "phone"):
        text = raw.get(key, "")
        if len(text) > _MAX_LENGTH.get(key, 200):
            err(key, "er for lang")
        elif any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text):
            err(key, "indeholder kontroltegn")
        else:
            setattr(out, key, text)
    for key in ("postcode", "sampling_postcode"):
        text = raw.get(key, "")
        if text and not re.fullmatch(r"[0-9]{4}", text):
            err(key, f"'{text}' skal være et postnummer på 4 cifre")
        elif text:
            setattr(out, key, text)
    if raw.get("sampling_address") and not (raw.get("sampling_postcode") and
                                            raw.get("sampling_city")):
        err("sampling_postcode", "skal udfyldes, når der er en anden prøveadresse")
    # the official postcode list: a postcode that exists, and its own town
    for pkey, ckey in (("postcode", "city"), ("sampling_postcode", "sampling_city")):
        if getattr(out, pkey):
            problem = postcodes.check(getattr(out, pkey), getattr(out, ckey))
            if problem:
                err(pkey if problem[0] == "postcode" else ckey, problem[1])
    if raw.get("municipality"):
        text = raw["municipality"]
        if re.fullmatch(r"[0-9]{1,4}", text):
            out.municipality = int(text)
        else:
            err("municipality", f"'{text}' skal være en kommunekode (fx 461)")
    out.received = take("received", parse_date)
    if out.received and out.received > today:
        err("received", f"{formats.date(out.received)} ligger i fremtiden")
    out.earliest = take("earliest", parse_date)
    out.ekg = bool(take("ekg", _parse_bool))
    out.preferred_days = take("preferred_days", _parse_preferred) or ""
    if len(out.preferred_days) > 100:
        err("preferred_days", "for mange dage (højst 100 tegn)")
        out.preferred_days = ""
    out.window_start = take("window_start", parse_time)
    out.window_end = take("window_end", parse_time)
    if out.window_start and out.window_end and out.window_start >= out.window_end:
        err("window_end", "skal ligge efter det tidligste klokkeslæt")
    stab = take("stability_minutes", _parse_float)
    if stab is not None:
        if not (30 <= stab <= 24 * 60) or stab != int(stab):
            err("stability_minutes", "skal være et helt antal minutter mellem 30 og 1440")
        else:
            out.stability_minutes = int(stab)
    out.lat = take("lat", _parse_float)
    out.lon = take("lon", _parse_float)
    for key, value, (lo, hi) in (("lat", out.lat, DENMARK_LAT), ("lon", out.lon, DENMARK_LON)):
        if value is not None and not lo <= value <= hi:
            err(key, f"ligger ikke i Danmark ({lo:g}–{hi:g})".replace(".", ","))
    if (out.lat is None) != (out.lon is None):
        err("lon" if out.lon is None else "lat", "lat og lon skal udfyldes begge eller ingen")
    return out, errors
