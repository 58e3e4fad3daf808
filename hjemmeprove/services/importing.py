"""CSV import of booking requests: all rows or none, every bad row named.

Accepts what Danish Excel writes: semicolon (or comma) separated; "CSV UTF-8" (with BOM), plain
UTF-8, or "CSV (semikolonsepareret)", which Danish Excel saves in Windows-1252: a file that is
not valid UTF-8 is read as Windows-1252 (the bytes æøå ÆØÅ of that code page).
Column names are the Danish labels of ``request_input.LABELS`` (case and æøå-spelling
tolerant: ``provepostnr`` is read as ``prøvepostnr``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from pathlib import Path

from hjemmeprove.domain.request_input import LABELS, REQUIRED
from sqlalchemy.exc import IntegrityError

from hjemmeprove.errors import ConflictError, FieldError, ValidationError
from hjemmeprove.fileio import spreadsheet_encoding

MAX_BYTES = 20 * 1024 * 1024


def _fold(name: str) -> str:
    name = name.strip().lower().replace(" ", "_").replace("ø", "oe").replace("æ", "ae")
    name = name.replace("å", "aa")
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


_COLUMN_KEYS = {_fold(label): key for key, label in LABELS.items()}
_COLUMN_KEYS.update({_fold(key): key for key in LABELS})  # English keys work too
_COLUMN_KEYS.update({"provepostnr": "sampling_postcode", "proveadresse": "sampling_address",
                     "proveby": "sampling_city", "kommune": "municipality",
                     "onskede_dage": "preferred_days", "bemarkning": "note"})


def decode(data: bytes) -> tuple[str, str]:
    """(text, "") or ("", Danish problem): UTF-8 with or without BOM, else Windows-1252."""
    if b"\x00" in data:
        return "", ("indeholder NUL-tegn (UTF-16?); gem som 'CSV UTF-8' eller "
                    "'CSV (semikolonsepareret)'")
    encoding = spreadsheet_encoding(data)
    try:
        return data.decode(encoding), ""
    except UnicodeDecodeError as e:
        return "", (f"er hverken UTF-8 eller Windows-1252 (byte {e.start}); gem som "
                    "'CSV UTF-8'")


def read_rows(data: bytes) -> tuple[list[dict[str, str]], list[FieldError]]:
    """Decodes and splits the file; returns rows keyed by field, and header problems."""
    if len(data) > MAX_BYTES:
        return [], [FieldError("fil", "er større end 20 MB")]
    text, problem = decode(data)
    if problem:
        return [], [FieldError("fil", problem)]
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        table = list(reader)
    except csv.Error as e:
        return [], [FieldError("fil", f"kan ikke læses som CSV: {e}")]
    if not table or not any(c.strip() for c in table[0]):
        return [], [FieldError("fil", "er tom; første linje skal være kolonnenavne")]
    header = table[0]
    keys, errors = [], []
    for i, name in enumerate(header, start=1):
        key = _COLUMN_KEYS.get(_fold(name))
        if key is None and name.strip():
            errors.append(FieldError(name.strip(), f"kolonne {i}: ukendt kolonnenavn", 1))
        if key is not None and key in keys:
            errors.append(FieldError(name.strip(), f"kolonne {i}: står to gange", 1))
        keys.append(key)
    missing = [LABELS[k] for k in REQUIRED if k not in keys]
    for label in missing:
        errors.append(FieldError(label, "kolonnen mangler", 1))
    rows = []
    for n, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(keys):
            errors.append(FieldError("række", f"har {len(cells)} felter, overskriften "
                                     f"{len(keys)}", n))
            continue
        row = {k: v for k, v in zip(keys, cells) if k}
        row["_row"] = str(n)
        rows.append(row)
    return rows, errors


def import_requests(service, source: Path | str | bytes, today: dt.date | None = None,
                    update_citizens: bool = False, allow_duplicates: bool = False,
                    report: list | None = None
                    ) -> list[int]:
    """Validates every row, then saves all in one transaction; raises with every bad row.

    A row whose CPR is a stored citizen with another name, address or phone, and a citizen
    who already has an open request from the same municipality, are refused per row
    (NeedsConfirmation) unless the matching flag is given; a deadline already passed is
    flagged on the request. ``report`` receives one FieldError per row that changed a citizen
    or was flagged."""
    today = today or dt.date.today()
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    rows, errors = read_rows(data)
    if errors:
        raise ValidationError(errors)
    if not rows:
        raise ValidationError("indeholder ingen henvisninger", "fil")
    # a passed deadline is flagged on the request and reported per row, not refused: a file
    # is often a backlog; a changed citizen and a second open request need the flag
    confirm = {code for code, on in (("citizen_changed", update_citizens),
                                     ("duplicate", allow_duplicates),
                                     ("deadline_passed", True)) if on}
    try:
        return _save(service, rows, today, confirm, report)
    except IntegrityError:
        # another import or form saved the same citizen between our check and our insert;
        # the database's message would print that row's values: say what happened instead
        raise ConflictError("En anden har gemt en af borgerne i filen samtidig; intet er "
                            "importeret. Importér filen igen.") from None


def _save(service, rows, today, confirm, report) -> list[int]:
    from hjemmeprove.services.requests import _ask

    errors: list[FieldError] = []
    with service.store.session() as s:
        parsed, questions, seen = [], [], {}
        for row in rows:
            n = int(row.pop("_row"))
            data_, row_errors = service.validate(row, today=today, row=n, session=s)
            errors += row_errors
            q = [] if row_errors else service.questions(s, data_, today, row=n, seen=seen)
            questions += q
            parsed.append((data_, {c for c, _ in q}))
        if errors:
            raise ValidationError(errors)
        _ask(questions, confirm)
        if report is not None:
            report += [e for _, e in questions]
        calendar = service.settings.calendar()
        ids = [service.add_validated(s, d, calendar, flags=codes,
                                     update_citizen="citizen_changed" in codes).id
               for d, codes in parsed]
    return ids
