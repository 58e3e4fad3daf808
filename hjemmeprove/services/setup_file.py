"""The department's set-up as a file (TOML): ``hjemmeprove setup export|import`` and the
buttons "Eksportér opsætning…"/"Importér opsætning…" in Indstillinger.

The file holds the department (lab, position, invoice details), the program options a
department sets up (``SETTING_KEYS``: distance source, visit minutes, area days, closing
rules), the department's own closing days, the municipalities (EAN, contacts), the agreements
with their dates and billing settings, and the bioanalysts with skills, hours and absences.
README.md ("Opsætning som fil") describes the format with an example.

Import is all or nothing in one transaction. Every value is checked by the same rules as
Indstillinger's dialogs (``services.admin``'s ``*_errors`` and ``settings.checked_text``);
an error names the file's key, e.g. ``bioanalytikere[2].arbejdstid_slut`` (rows numbered
from 1 in the file's order).

Matching (natural keys): the department is the database's one department (created when there
is none); a municipality by its code; an agreement by municipality code and start date; a
bioanalyst by name (trimmed, any case); an absence by its bioanalyst and dates; a closing day by its date. A
matched row is updated, a new one added. A key left out of a table keeps the row's current
value (a new row's default); ``slut = ""`` and ``ekg_pris = ""`` mean none. Nothing is
deleted: rows the file does not mention are left as they are (remove them in Indstillinger).
Absences are recorded without re-planning (run ``hjemmeprove plan`` afterwards).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import select

from hjemmeprove.db.models import (
    Absence,
    Agreement,
    Bioanalyst,
    ClosingDay,
    Department,
    Municipality,
    Setting,
)
from hjemmeprove.errors import FieldError, HjemmeproveError, ValidationError
from hjemmeprove.fileio import write_atomic
from hjemmeprove.security import require
from hjemmeprove.services.admin import (
    AbsenceRow,
    AgreementRow,
    BioanalystRow,
    ClosingDayRow,
    DepartmentRow,
    MunicipalityRow,
    absence_errors,
    agreement_errors,
    bioanalyst_errors,
    department_errors,
    municipality_errors,
    overlap_problem,
)
from hjemmeprove.settings import OPTIONS, Settings, checked_text

FORMAT = 1
HEADER = ("# hjemmeprøve: afdelingens opsætning. Læses ind med "
          "'hjemmeprove setup import FIL.toml'\n"
          "# (alt eller intet); formatet er beskrevet i README.md, 'Opsætning som fil'.\n\n")

# [indstillinger]: file key -> option (hjemmeprove/settings.py); nothing secret (SMS keys)
# and nothing machine-specific (folders) is in the file.
SETTING_KEYS = {
    "afstandskilde": "distance.source",
    "afstandskilde_adresse": "distance.url",
    "omvejsfaktor": "distance.detour_factor",
    "ankomst_minutter": "planning.service_minutes",
    "proevetagning_minutter": "planning.sampling_minutes",
    "holdbarhed_minutter": "planning.stability_minutes",
    "frokost_minutter": "planning.lunch_minutes",
    "omraadedage": "planning.area_days",
    "svarvindue_minutter": "reply.window_minutes",
    "lukket_grundlovsdag": "closing.constitution_day",
    "lukket_juleaftensdag": "closing.christmas_eve",
    "lukket_nytaarsaftensdag": "closing.new_years_eve",
}


@dataclass(frozen=True)
class Key:
    """One key of a table in the file: the row attribute it fills and its kind."""

    name: str
    attr: str
    kind: str  # text | int | decimal | float | bool | date | time | codes (+ "?": "" = none)
    labels: tuple[str, ...] = ()  # the Danish field names admin's checks use for it


DEPARTMENT_KEYS = [
    Key("navn", "name", "text", ("navn",)), Key("hospital", "hospital", "text", ("hospital",)),
    Key("adresse", "lab_address", "text", ("laboratoriets adresse",)),
    Key("postnr", "lab_postcode", "text", ("postnr",)), Key("by", "lab_city", "text", ("by",)),
    Key("breddegrad", "lab_lat", "float", ("position",)),
    Key("laengdegrad", "lab_lon", "float"),
    Key("cvr", "cvr", "text", ("CVR",)), Key("ean", "ean", "text", ("EAN",)),
    Key("reg_nr", "bank_reg", "text"), Key("kontonr", "bank_account", "text"),
    Key("kontakt", "contact_name", "text"), Key("email", "contact_email", "text"),
    Key("telefon", "contact_phone", "text"),
    Key("betalingsfrist_dage", "payment_days", "int", ("betalingsfrist",)),
]
MUNICIPALITY_KEYS = [
    Key("kode", "code", "int", ("kommunekode",)), Key("navn", "name", "text", ("navn",)),
    Key("ean", "ean", "text", ("EAN",)), Key("adresse", "address", "text"),
    Key("postnr", "postcode", "text", ("postnr",)), Key("by", "city", "text"),
    Key("kontakt", "contact_name", "text"), Key("email", "contact_email", "text"),
    Key("telefon", "contact_phone", "text"),
]
AGREEMENT_KEYS = [
    Key("kommune", "municipality_id", "int"),  # the code; resolved to the row
    Key("start", "start", "date"), Key("slut", "end", "date?", ("slutdato",)),
    Key("reference", "reference", "text"),
    Key("fakturerbare_udfald", "billable_outcomes", "codes", ("fakturerbare udfald",)),
    Key("fordeling", "allocation_rule", "text", ("fordeling",)),
    Key("ekg_pris", "ekg_price", "decimal?", ("EKG-pris",)),
    Key("faergehastighed_kmt", "ferry_speed_kmh", "decimal", ("færgehastighed",)),
    Key("moms_procent", "vat_percent", "decimal", ("moms %",)),
    Key("personoplysninger", "statement_personal_data", "text",
        ("personoplysninger på opgørelsen",)),
    Key("fuldt_cpr", "statement_full_cpr", "bool"),
    Key("faktura_ean", "invoice_ean", "text", ("faktura-EAN",)),
    Key("personreference", "person_reference", "text"),
    Key("ordrereference", "order_reference", "text"),
    Key("svarvindue_minutter", "reply_window_minutes", "int", ("svarvindue",)),
]
BIOANALYST_KEYS = [
    Key("navn", "name", "text", ("navn",)),
    Key("arbejdstid_start", "day_start", "time"),
    Key("arbejdstid_slut", "day_end", "time", ("arbejdstid slut",)),
    Key("kompetencer", "skills", "codes"), Key("kapacitet", "capacity", "int", ("kapacitet",)),
    Key("telefon", "phone", "text"), Key("aktiv", "active", "bool"),
]
ABSENCE_KEYS = [Key("fra", "start", "date"), Key("til", "end", "date", ("til",)),
                Key("aarsag", "reason", "text")]
CLOSING_DAY_KEYS = [Key("dato", "day", "date"), Key("aarsag", "reason", "text")]

_MODELS = {id(DEPARTMENT_KEYS): Department, id(MUNICIPALITY_KEYS): Municipality,
           id(AGREEMENT_KEYS): Agreement, id(BIOANALYST_KEYS): Bioanalyst,
           id(ABSENCE_KEYS): Absence, id(CLOSING_DAY_KEYS): ClosingDay}
SECTIONS = ("format", "afdeling", "indstillinger", "lukkedage", "kommuner", "aftaler",
            "bioanalytikere")


@dataclass
class ImportResult:
    """What an import did, per kind of row (Danish plural as key): new, changed, unchanged."""

    added: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    new_absences: int = 0

    def count(self, kind: str, before, after) -> None:
        bucket = self.added if before is None else (
            self.unchanged if before == after else self.changed)
        bucket[kind] = bucket.get(kind, 0) + 1

    def lines(self) -> list[str]:
        order = ("afdeling", "indstillinger", "lukkedage", "kommuner", "aftaler",
                 "bioanalytikere", "fravær")
        kinds = sorted({*self.added, *self.changed, *self.unchanged}, key=order.index)
        return [f"{k}: {self.added.get(k, 0)} nye, {self.changed.get(k, 0)} ændrede, "
                f"{self.unchanged.get(k, 0)} uændrede" for k in kinds]


# --- export -----------------------------------------------------------------------------------


def _out(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind.startswith("codes"):
        return [c.strip() for c in value.split(",") if c.strip()]
    if kind.startswith("time"):
        return f"{value:%H:%M}"
    if kind.startswith("decimal"):
        return Decimal(value).quantize(Decimal("0.01"))
    if kind.startswith("float"):
        return float(value)
    return value


def _table(obj, keys: list[Key], skip=()) -> dict[str, Any]:
    return {k.name: _out(getattr(obj, k.attr), k.kind) for k in keys if k.name not in skip}


def export_setup(store) -> str:
    """The set-up of the database's department as TOML text (the same data give the same
    bytes: rows in a fixed order, every key written)."""
    values = Settings(store).all()
    doc: dict[str, Any] = {"format": FORMAT}
    with store.session() as s:
        departments = list(s.scalars(select(Department).order_by(Department.id)))
        if len(departments) > 1:
            raise HjemmeproveError(f"databasen har {len(departments)} afdelinger; en "
                                   "opsætningsfil beskriver én")
        if departments:
            doc["afdeling"] = _table(departments[0], DEPARTMENT_KEYS)
        doc["indstillinger"] = {name: values[key] for name, key in SETTING_KEYS.items()}
        doc["lukkedage"] = [_table(c, CLOSING_DAY_KEYS)
                            for c in s.scalars(select(ClosingDay).order_by(ClosingDay.day))]
        munis = list(s.scalars(select(Municipality).order_by(Municipality.code)))
        codes = {m.id: m.code for m in munis}
        doc["kommuner"] = [_table(m, MUNICIPALITY_KEYS) for m in munis]
        agreements = sorted(s.scalars(select(Agreement)),
                            key=lambda a: (codes[a.municipality_id], a.start))
        doc["aftaler"] = [{"kommune": codes[a.municipality_id],
                           **_table(a, AGREEMENT_KEYS, skip=("kommune",))} for a in agreements]
        analysts = []
        # sorted here, not by the database: the same order on SQLite and PostgreSQL
        for b in sorted(s.scalars(select(Bioanalyst)), key=lambda b: (b.name, b.id)):
            row = _table(b, BIOANALYST_KEYS)
            row["fravaer"] = [_table(a, ABSENCE_KEYS)
                              for a in sorted(b.absences, key=lambda a: (a.start, a.end))]
            analysts.append(row)
        doc["bioanalytikere"] = analysts
    return HEADER + tomli_w.dumps(doc)


def export_setup_file(store, path: str | Path) -> Path:
    """Writes the set-up to ``path`` (whole or not at all, owner-only)."""
    return write_atomic(path, export_setup(store).encode("utf-8"))


# --- reading and checking -----------------------------------------------------------------------


class _Problems:
    """Every problem found in the file, each naming its key."""

    def __init__(self):
        self.errors: list[FieldError] = []

    def add(self, key: str, message: str) -> None:
        self.errors.append(FieldError(key, message))

    def extend(self, path: str, errors: list[FieldError], keys: list[Key]) -> None:
        by_label = {label: k.name for k in keys for label in k.labels}
        for e in errors:
            name = by_label.get(e.field, e.field)
            self.add(f"{path}.{name}", e.message)


_TIME = re.compile(r"(\d{1,2})[:.](\d{2})")


def _value(raw: Any, kind: str, length: int | None) -> tuple[Any, str | None]:
    """(value, None) or (None, the problem in Danish) for one value of the file."""
    if kind.endswith("?"):
        if raw == "":
            return None, None
        kind = kind[:-1]
    if kind == "text":
        if not isinstance(raw, str):
            return None, "skal være tekst i anførselstegn"
        if length is not None and len(raw) > length:
            return None, f"højst {length} tegn"
        return raw, None
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            return None, "skal være et helt tal"
        return raw, None
    if kind in ("decimal", "float"):
        if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
            return None, "skal være et tal (med punktum som decimaltegn)"
        if not Decimal(raw).is_finite():
            return None, "skal være et tal"
        return (Decimal(raw) if kind == "decimal" else float(raw)), None
    if kind == "bool":
        if not isinstance(raw, bool):
            return None, "skal være true eller false"
        return raw, None
    if kind == "date":
        if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
            return raw, None
        if isinstance(raw, str):
            try:
                return dt.date.fromisoformat(raw), None
            except ValueError:
                pass
        return None, "skal være en dato (ÅÅÅÅ-MM-DD)"
    if kind == "time":
        if isinstance(raw, dt.time):
            return raw.replace(second=0, microsecond=0), None
        m = _TIME.fullmatch(raw) if isinstance(raw, str) else None
        if m and int(m[1]) < 24 and int(m[2]) < 60:
            return dt.time(int(m[1]), int(m[2])), None
        return None, "skal være et klokkeslæt (TT:MM)"
    if kind == "codes":
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            return None, "skal være en liste af tekster, fx [\"ekg\"]"
        text = ",".join(i.strip() for i in items if i.strip())
        if length is not None and len(text) > length:
            return None, f"højst {length} tegn i alt"
        return text, None
    raise AssertionError(kind)


def _read(raw: Any, keys: list[Key], path: str, problems: _Problems,
          required: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """A table of the file as {attribute: value} for the keys it holds; None if not a table."""
    if not isinstance(raw, dict):
        problems.add(path, "skal være en tabel")
        return None
    model = _MODELS[id(keys)]
    known = {k.name: k for k in keys}
    out = {}
    for name, value in raw.items():
        if name in extra:
            continue
        key = known.get(name)
        if key is None:
            problems.add(f"{path}.{name}", f"ukendt nøgle (kendte: {', '.join([*known, *extra])})")
            continue
        column = model.__table__.c.get(key.attr)
        length = getattr(column.type, "length", None) if column is not None else None
        v, problem = _value(value, key.kind, length)
        if problem:
            problems.add(f"{path}.{name}", problem)
        else:
            out[key.attr] = v
    for name in required:
        if name not in raw:
            problems.add(f"{path}.{name}", "mangler")
    return out


def _list(raw: Any, path: str, problems: _Problems) -> list:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(path, f"skal være en liste af tabeller ([[{path}]])")
        return []
    return raw


def _read_list(raw: Any, path: str, keys: list[Key], p: _Problems, required: tuple[str, ...],
               natural_key, key_name: str, extra: tuple[str, ...] = ()
               ) -> list[tuple[int, dict[str, Any]]]:
    """An array of tables ([[path]]) as (number from 1, {attribute: value}) for the rows that
    have their required keys; a natural key given twice is a problem."""
    out = []
    seen = set()
    for i, item in enumerate(_list(raw, path, p), 1):
        v = _read(item, keys, f"{path}[{i}]", p, required=required, extra=extra)
        if v is None or any(next(k.attr for k in keys if k.name == r) not in v
                            for r in required):
            continue
        natural = natural_key(v)
        if natural in seen:
            p.add(f"{path}[{i}].{key_name}", "samme række står der to gange (samme "
                                             f"{', '.join(required)})")
        seen.add(natural)
        if isinstance(item, dict):
            v.update({name: item[name] for name in extra if name in item})
        out.append((i, v))
    return out


def _read_settings(doc: dict, p: _Problems) -> dict[str, str]:
    """[indstillinger] as {option key: the text it is stored as}, each checked by its option."""
    if "indstillinger" not in doc:
        return {}
    raw = doc["indstillinger"]
    if not isinstance(raw, dict):
        p.add("indstillinger", "skal være en tabel")
        return {}
    out = {}
    for name, value in raw.items():
        key = SETTING_KEYS.get(name)
        if key is None:
            p.add(f"indstillinger.{name}", f"ukendt nøgle (kendte: {', '.join(SETTING_KEYS)})")
            continue
        problem = _setting_problem(key, value)
        if problem is None:
            try:
                out[key] = checked_text(key, _setting_value(key, value))
            except ValidationError as e:
                problem = "; ".join(err.message for err in e.errors)
        if problem:
            p.add(f"indstillinger.{name}", problem)
    return out


def _parse(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as e:
        where = re.search(r"line (\d+), column (\d+)", str(e))
        place = f" i linje {where[1]}, kolonne {where[2]}" if where else ""
        reason = re.sub(r"\s*\(at .*\)$", "", str(e))
        raise ValidationError(f"ikke gyldig TOML{place} ({reason})", "fil") from None


# --- import -----------------------------------------------------------------------------------


def _row_of(row_cls, obj, **extra):
    names = {f.name for f in fields(row_cls)}
    return row_cls(**{n: getattr(obj, n) for n in names if hasattr(obj, n) and n not in extra},
                   **extra)


def _write(s, model, obj, row, skip=("id",)):
    obj = obj if obj is not None else model()
    for f in fields(row):
        if f.name not in skip and hasattr(model, f.name):
            setattr(obj, f.name, getattr(row, f.name))
    s.add(obj)
    return obj


def import_setup(store, text: str) -> ImportResult:
    """Reads a set-up file's text into the database: all of it, or nothing (ValidationError
    with every problem, each naming its key)."""
    doc = _parse(text)
    p = _Problems()
    for name in doc:
        if name not in SECTIONS:
            p.add(name, f"ukendt nøgle (kendte: {', '.join(SECTIONS)})")
    if type(doc.get("format")) is not int or doc["format"] != FORMAT:
        p.add("format", f"skal være {FORMAT} (filens formatversion)" if "format" in doc
              else f"mangler (format = {FORMAT})")

    # 1. the file's own values, typed (nothing from the database yet)
    dept_values = (_read(doc["afdeling"], DEPARTMENT_KEYS, "afdeling", p)
                   if "afdeling" in doc else None)
    settings = _read_settings(doc, p)
    closing = _read_list(doc.get("lukkedage"), "lukkedage", CLOSING_DAY_KEYS, p, ("dato",),
                         lambda v: v.get("day"), "dato")
    munis = _read_list(doc.get("kommuner"), "kommuner", MUNICIPALITY_KEYS, p, ("kode",),
                       lambda v: v.get("code"), "kode")
    agreements = _read_list(doc.get("aftaler"), "aftaler", AGREEMENT_KEYS, p,
                            ("kommune", "start"),
                            lambda v: (v.get("municipality_id"), v.get("start")), "start")
    analysts = []
    for i, v in _read_list(doc.get("bioanalytikere"), "bioanalytikere", BIOANALYST_KEYS, p,
                           ("navn",), lambda v: (v.get("name") or "").strip().lower(), "navn",
                           extra=("fravaer",)):
        path = f"bioanalytikere[{i}]"
        v["name"] = v["name"].strip()
        absences = _read_list(v.pop("fravaer", None), f"{path}.fravaer", ABSENCE_KEYS, p,
                              ("fra", "til"), lambda a: (a.get("start"), a.get("end")), "fra")
        analysts.append((i, v, absences))

    result = ImportResult()
    with store.session(write=True) as s:
        # 2. matched against the database, checked by Indstillinger's rules, then written
        rights: set[str] = set()
        dept = _department(s, dept_values, p, result, rights)
        muni_by_code = {m.code: m for m in s.scalars(select(Municipality))}
        new_munis = []
        for i, v in munis:
            obj = muni_by_code.get(v["code"])
            before = _row_of(MunicipalityRow, obj) if obj else None
            row = replace(before or MunicipalityRow(None, v["code"], ""), **v)
            p.extend(f"kommuner[{i}]", municipality_errors(row), MUNICIPALITY_KEYS)
            result.count("kommuner", before, row)
            if before != row:
                rights.add("municipalities.edit")
            new_munis.append((obj, row))
        file_codes = {row.code for _o, row in new_munis}

        existing_agreements = list(s.scalars(select(Agreement)))
        by_key = {(a.municipality_id, a.start): a for a in existing_agreements}
        planned = []  # (index, obj or None, row with code in municipality_id)
        for i, v in agreements:
            code = v["municipality_id"]
            known = muni_by_code.get(code)
            if known is None and code not in file_codes:
                p.add(f"aftaler[{i}].kommune", f"ukendt kommune {code} (hverken i databasen "
                                                "eller under [[kommuner]])")
                continue
            obj = by_key.get((known.id, v["start"])) if known is not None else None
            before = _row_of(AgreementRow, obj) if obj else None
            base = before or AgreementRow(None, 0, dept.id if dept else 0, v["start"])
            row = replace(base, **{**v, "municipality_id": base.municipality_id})
            p.extend(f"aftaler[{i}]", agreement_errors(row), AGREEMENT_KEYS)
            result.count("aftaler", before, row)
            if before != row:
                rights.add("agreements.edit")
            planned.append((i, obj, code, row))
        if planned and dept is None and dept_values is None:
            p.add("afdeling", "mangler: databasen har ingen afdeling at knytte aftaler til")
        _check_overlaps(existing_agreements, muni_by_code, planned, p)

        by_name: dict[str, list[Bioanalyst]] = {}
        for b in s.scalars(select(Bioanalyst)):
            by_name.setdefault(b.name.strip().lower(), []).append(b)
        new_analysts = []
        for i, v, absences in analysts:
            path = f"bioanalytikere[{i}]"
            same = by_name.get(v["name"].lower(), [])
            if len(same) > 1:
                p.add(f"{path}.navn", f"{len(same)} bioanalytikere i databasen hedder "
                                      f"{v['name']}; ret navnene i Indstillinger først")
                continue
            obj = same[0] if same else None
            before = _row_of(BioanalystRow, obj) if obj else None
            row = replace(before or BioanalystRow(None, v["name"], dept.id if dept else 0), **v)
            p.extend(path, bioanalyst_errors(row), BIOANALYST_KEYS)
            result.count("bioanalytikere", before, row)
            if before != row:
                rights.add("bioanalysts.edit")
            known_abs = {(a.start, a.end): a for a in (obj.absences if obj else [])}
            abs_rows = []
            for j, av in absences:
                a_obj = known_abs.get((av["start"], av["end"]))
                a_before = _row_of(AbsenceRow, a_obj) if a_obj else None
                a_row = replace(a_before or AbsenceRow(None, 0, av["start"], av["end"]), **av)
                p.extend(f"{path}.fravaer[{j}]", absence_errors(a_row), ABSENCE_KEYS)
                result.count("fravær", a_before, a_row)
                if a_before != a_row:
                    rights.add("bioanalysts.edit")
                    result.new_absences += a_before is None
                abs_rows.append((a_obj, a_row))
            new_analysts.append((obj, row, abs_rows))
        if new_analysts and dept is None and dept_values is None:
            p.add("afdeling", "mangler: databasen har ingen afdeling at knytte bioanalytikere "
                              "til")

        closing_rows = []
        for _i, v in closing:
            obj = s.get(ClosingDay, v["day"])
            before = ClosingDayRow(obj.day, obj.reason) if obj else None
            row = replace(before or ClosingDayRow(v["day"]), **v)
            row = replace(row, reason=row.reason.strip())
            result.count("lukkedage", before, row)
            if before != row:
                rights.add("closing_days.edit")
            closing_rows.append((obj, row))

        stored = {r.key: r for r in s.scalars(select(Setting))}
        changed_settings = {k: t for k, t in settings.items()
                            if (stored[k].value if k in stored
                                else checked_text(k, OPTIONS[k].default)) != t}
        if settings:
            result.changed["indstillinger"] = len(changed_settings)
            result.unchanged["indstillinger"] = len(settings) - len(changed_settings)
        if changed_settings:
            rights.add("settings.edit")

        if p.errors:
            raise ValidationError(p.errors)
        for right in sorted(rights):
            require(store, right)

        # 3. write (one transaction: the session commits all of it, or nothing)
        dept_id = dept.obj.id if dept is not None and dept.obj is not None else None
        if dept is not None and dept_values is not None:
            obj = _write(s, Department, dept.obj, dept.row)
            s.flush()
            dept_id = obj.id
        ids = {m.code: m.id for m in muni_by_code.values()}
        for obj, row in new_munis:
            obj = _write(s, Municipality, obj, row)
            s.flush()
            ids[obj.code] = obj.id
        for _i, obj, code, row in planned:
            row = replace(row, municipality_id=ids[code],
                          department_id=row.department_id or dept_id)
            _write(s, Agreement, obj, row, skip=("id", "municipality_name", "department_name"))
        for obj, row, abs_rows in new_analysts:
            row = replace(row, department_id=row.department_id or dept_id)
            obj = _write(s, Bioanalyst, obj, row)
            s.flush()
            for a_obj, a_row in abs_rows:
                _write(s, Absence, a_obj, replace(a_row, bioanalyst_id=obj.id),
                       skip=("id", "bioanalyst_name"))
        for obj, row in closing_rows:
            _write(s, ClosingDay, obj, row, skip=())
        for key, text_ in changed_settings.items():
            if key in stored:
                stored[key].value = text_
            else:
                s.add(Setting(key=key, value=text_))
    return result


def import_setup_file(store, path: str | Path) -> ImportResult:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ValidationError(f"{path} kan ikke læses ({e.strerror or type(e).__name__})",
                              "fil") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("filen er ikke UTF-8-tekst", "fil") from None
    return import_setup(store, text)


@dataclass
class _Dept:
    obj: Department | None  # None: a new department
    row: DepartmentRow

    @property
    def id(self) -> int | None:
        return self.obj.id if self.obj is not None else None


def _department(s, values, p: _Problems, result: ImportResult, rights: set) -> _Dept | None:
    """The department the file sets up: the database's one (or a new one)."""
    rows = list(s.scalars(select(Department).order_by(Department.id)))
    if len(rows) > 1:
        name = (values or {}).get("name")
        rows = [d for d in rows if d.name == name]
        if len(rows) != 1:
            p.add("afdeling.navn", "databasen har flere afdelinger; navnet skal være en af dem")
            return None
    obj = rows[0] if rows else None
    if values is None:
        return _Dept(obj, _row_of(DepartmentRow, obj)) if obj else None
    before = _row_of(DepartmentRow, obj) if obj else None
    row = replace(before or DepartmentRow(None, "", "", "", "", "", 0.0, 0.0), **values)
    p.extend("afdeling", department_errors(row), DEPARTMENT_KEYS)
    result.count("afdeling", before, row)
    if before != row:
        rights.add("departments.edit")
    return _Dept(obj, row)


def _check_overlaps(existing, muni_by_code, planned, p: _Problems) -> None:
    """Agreements with one municipality may not share a day: the file's against each other
    and against the database's agreements the file leaves as they are."""
    code_of = {m.id: code for code, m in muni_by_code.items()}
    touched = {obj.id for _i, obj, _c, _r in planned if obj is not None}
    periods: dict[int, list[tuple[int | None, dt.date, dt.date | None]]] = {}
    for a in existing:
        if a.id not in touched:
            periods.setdefault(code_of[a.municipality_id], []).append((None, a.start, a.end))
    for i, _obj, code, row in planned:
        periods.setdefault(code, []).append((i, row.start, row.end))
    for code, items in periods.items():
        for i, start, end in items:
            if i is None:
                continue
            others = [(o_start, o_end) for j, o_start, o_end in items if j != i]
            problem = overlap_problem(start, end, others)
            if problem:
                p.add(f"aftaler[{i}].start", problem)


def _setting_problem(key: str, value: Any) -> str | None:
    kind = OPTIONS[key].kind
    if kind is bool:
        return None if isinstance(value, bool) else "skal være true eller false"
    if kind is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else \
            "skal være et helt tal"
    if kind is float:
        return None if isinstance(value, int | Decimal) and not isinstance(value, bool) else \
            "skal være et tal (med punktum som decimaltegn)"
    return None if isinstance(value, str) else "skal være tekst i anførselstegn"


def _setting_value(key: str, value: Any) -> Any:
    return float(value) if OPTIONS[key].kind is float else value


__all__ = ["ImportResult", "SETTING_KEYS", "export_setup", "export_setup_file", "import_setup",
           "import_setup_file"]
