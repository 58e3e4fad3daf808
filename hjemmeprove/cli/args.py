"""Checked command-line values: every option's ``type=`` comes from here.

A bad value ends the command before it touches anything, with exit status 2 and a Danish
message that names the option (``DanishArgumentParser``), never a traceback. Each checker
returns the value *as text* when the command parses the text itself (dates, amounts, paths),
so commands that already read ``args.x`` as text keep working; ids and counts come back as int.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import re
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

FIRST_YEAR, LAST_YEAR = 2000, 2200  # the program's dates; year 9999 is a typing slip
MAX_ID = 2**31 - 1  # ids are INTEGER columns (SQLite and PostgreSQL)


class DanishArgumentParser(argparse.ArgumentParser):
    """argparse with its usage errors in Danish and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's interface
        message = (message.replace("argument ", "").replace("the following arguments are "
                                                              "required", "mangler")
                   .replace("invalid choice", "ugyldigt valg").replace("choose from",
                                                                        "vælg mellem")
                   .replace("unrecognized arguments", "ukendte argumenter")
                   .replace("expected one argument", "mangler en værdi"))
        self.print_usage(sys.stderr)
        self.exit(2, f"fejl: {message}\n")


def _bad(message: str):
    return argparse.ArgumentTypeError(message)


def _year_ok(year: int) -> bool:
    return FIRST_YEAR <= year <= LAST_YEAR


def named(check, label: str):
    """The same check, its message starting with the value's Danish name (fra, til, dato)."""
    def wrapped(text: str):
        try:
            return check(text)
        except argparse.ArgumentTypeError as e:
            raise _bad(f"{label}: {e}") from None
    wrapped.__name__ = label
    return wrapped


def date_text(text: str) -> str:
    """ÅÅÅÅ-MM-DD between 2000 and 2200; returned as given."""
    try:
        day = dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise _bad(f"'{text}' er ikke en dato (ÅÅÅÅ-MM-DD)") from None
    if not _year_ok(day.year):
        raise _bad(f"'{text}': året skal ligge mellem {FIRST_YEAR} og {LAST_YEAR}")
    return str(text).strip()


def datetime_text(text: str) -> str:
    """ÅÅÅÅ-MM-DDTTT:MM local time, no time zone (the database keeps local time)."""
    try:
        when = dt.datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise _bad(f"'{text}' er ikke et tidspunkt (ÅÅÅÅ-MM-DDTTT:MM)") from None
    if when.tzinfo is not None:
        raise _bad(f"'{text}': skriv lokal tid uden tidszone (fx 2024-03-05T09:30)")
    if not _year_ok(when.year):
        raise _bad(f"'{text}': året skal ligge mellem {FIRST_YEAR} og {LAST_YEAR}")
    return str(text).strip()


def year_text(text: str) -> str:
    t = str(text).strip()
    if not re.fullmatch(r"[0-9]{4}", t) or not _year_ok(int(t)):
        raise _bad(f"'{text}' er ikke et år mellem {FIRST_YEAR} og {LAST_YEAR}")
    return t


def year_int(text: str) -> int:
    return int(year_text(text))


def month_text(text: str) -> str:
    t = str(text).strip()
    m = re.fullmatch(r"([0-9]{4})-([0-9]{2})", t)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise _bad(f"'{text}' er ikke en måned (ÅÅÅÅ-MM)")
    if not _year_ok(int(m.group(1))):
        raise _bad(f"'{text}': året skal ligge mellem {FIRST_YEAR} og {LAST_YEAR}")
    return t


def id_int(text: str) -> int:
    """A record number: 1 to 2³¹−1."""
    t = str(text).strip()
    if not re.fullmatch(r"[0-9]{1,10}", t) or not 1 <= int(t) <= MAX_ID:
        raise _bad(f"'{text}' er ikke et gyldigt nummer (1–{MAX_ID})")
    return int(t)


def count_int(text: str) -> int:
    t = str(text).strip()
    if not re.fullmatch(r"[0-9]{1,7}", t):
        raise _bad(f"'{text}' skal være et helt tal fra 0 til 9.999.999")
    return int(t)


def seed_int(text: str) -> int:
    t = str(text).strip()
    if not re.fullmatch(r"-?[0-9]{1,9}", t):
        raise _bad(f"'{text}' skal være et helt tal")
    return int(t)


def amount(places: int, maximum: Decimal = Decimal("1e9"), negative: bool = False):
    """A number with at most ``places`` decimals (comma or point), finite and below
    ``maximum`` (``1e400`` is refused); returned as text with a point."""
    def check(text: str) -> str:
        t = str(text).strip().replace(",", ".")
        try:
            d = Decimal(t)
        except (InvalidOperation, ValueError):
            raise _bad(f"'{text}' er ikke et tal") from None
        if not d.is_finite() or abs(d) >= maximum:
            raise _bad(f"'{text}' er uden for det tilladte (under {maximum:,.0f})"
                       .replace(",", "."))
        if d < 0 and not negative:
            raise _bad(f"'{text}' må ikke være negativ")
        if d != d.quantize(Decimal(1).scaleb(-places)):
            raise _bad(f"'{text}': højst {places} decimaler")
        return t
    check.__name__ = "tal"
    return check


def seconds_float(text: str) -> float:
    try:
        value = float(str(text).strip().replace(",", "."))
    except ValueError:
        raise _bad(f"'{text}' er ikke et tal") from None
    if not math.isfinite(value) or not 0 < value <= 3600:
        raise _bad(f"'{text}' skal være mellem 0 og 3600 sekunder")
    return value


def text(max_length: int = 200):
    def check(value: str) -> str:
        if len(value) > max_length:
            raise _bad(f"er for lang (højst {max_length} tegn)")
        if any(ord(ch) < 32 and ch not in "\t" for ch in value):
            raise _bad("indeholder kontroltegn")
        return value
    check.__name__ = "tekst"
    return check


def _is(test, p: Path) -> bool:
    """``p.is_dir()``/``is_file()``, False where the system refuses the name (too long)."""
    try:
        return test(p)
    except OSError:
        return False


def _usable_dir(p: Path) -> str | None:
    """Why ``p`` cannot be (made into) a writable folder, or None."""
    from hjemmeprove.fileio import os_error_reason

    probe = p
    try:
        while not probe.exists():  # a name past the system's limit raises, not False
            if probe.parent == probe:
                return "findes ikke"
            probe = probe.parent
    except OSError as e:
        return os_error_reason(e)
    if not probe.is_dir():
        return f"{probe} er ikke en mappe"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"ingen skriveadgang til {probe}"
    return None


def out_dir(value: str) -> str:
    """A folder to write into: existing and writable, or creatable."""
    if not value or "\x00" in value or len(value) > 4000:
        raise _bad("er ikke en brugbar sti")
    why = _usable_dir(Path(value))
    if why:
        raise _bad(f"'{value}': kan ikke skrive her ({why})")
    return value


def out_file(value: str) -> str:
    """A file to write: not a folder, in a folder that exists or can be made."""
    if not value or "\x00" in value or len(value) > 4000:
        raise _bad("er ikke en brugbar sti")
    p = Path(value)
    if len(p.name.encode()) > 255:
        raise _bad(f"'{value}': filnavnet er for langt")
    if _is(Path.is_dir, p):
        raise _bad(f"'{value}' er en mappe; angiv et filnavn")
    why = _usable_dir(p.parent if str(p.parent) else Path("."))
    if why:
        raise _bad(f"'{value}': kan ikke skrive her ({why})")
    return value


def in_file(value: str) -> str:
    if not value or "\x00" in value:
        raise _bad("er ikke en brugbar sti")
    p = Path(value)
    if not _is(Path.is_file, p):
        raise _bad(f"'{value}' findes ikke eller er ikke en fil")
    return value
