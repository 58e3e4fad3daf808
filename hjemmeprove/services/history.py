"""A request's audit trail in the words the user sees: field labels from the form
(``labels.AUDIT_FIELD``), codes as their Danish labels, dates and times as every screen shows
them (``domain/formats.py``), and names instead of ids (the agreement, the municipality, the
route's bioanalyst and day). The audit trail itself (``db/audit.py``) keeps the raw values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from hjemmeprove.db.models import Agreement, Bioanalyst, Department, Municipality, Route
from hjemmeprove.domain import formats, labels

# never shown: bookkeeping, and what the row's own heading already says
HIDDEN = {"version", "id", "created_at", "request_id", "citizen_id"}
_CODES = {
    "status": labels.status_label,
    "outcome": labels.outcome_label,
    "channel": labels.channel_label,
    "position_quality": lambda c: labels.POSITION_QUALITY.get(c or "", c or ""),
}
_DATES = {"received", "deadline", "earliest", "date"}
_TIMES = {"window_start", "window_end", "planned_arrival"}
_DATETIMES = {"at", "visit_start", "reply_sent_at"}
_NUMBERS = {"leg_km": 1, "standalone_km": 1, "km_share": 1, "leg_ferry_minutes": 0,
            "ferry_share": 1}
_IDS = ("agreement_id", "municipality_id", "department_id", "route_id")


def what(table: str, action: str) -> str:
    """"Henvisning ændret", "Aflysning fortrudt", ..."""
    if (table, action) == ("cancellations", "delete"):
        return "Aflysning fortrudt"  # the only way a cancellation row goes
    return (f"{labels.AUDIT_TABLE.get(table, table.capitalize())} "
            f"{labels.AUDIT_ACTION.get(action, action)}")


class Names:
    """The names behind the ids an audit entry holds, looked up once for a whole history."""

    def __init__(self, s: Session, entries: Iterable):
        wanted: dict[str, set[int]] = {k: set() for k in _IDS}
        for e in entries:
            for side in (e.before, e.after):
                for key in _IDS:
                    if isinstance(side.get(key), int):
                        wanted[key].add(side[key])
        self.names: dict[tuple[str, int], str] = {}
        if wanted["municipality_id"] or wanted["agreement_id"]:
            for m in s.scalars(select(Municipality)):
                self.names[("municipality_id", m.id)] = m.name
        if wanted["agreement_id"]:
            for a in s.scalars(select(Agreement).where(Agreement.id.in_(wanted["agreement_id"]))):
                muni = self.names.get(("municipality_id", a.municipality_id), "")
                ref = f" ({a.reference})" if a.reference else ""
                self.names[("agreement_id", a.id)] = \
                    f"{muni}{ref} fra {formats.date(a.start)}".strip()
        if wanted["department_id"]:
            for d in s.scalars(select(Department).where(Department.id.in_(
                    wanted["department_id"]))):
                self.names[("department_id", d.id)] = d.name
        if wanted["route_id"]:
            rows = s.execute(select(Route.id, Route.date, Bioanalyst.name)
                             .join(Bioanalyst, Route.bioanalyst_id == Bioanalyst.id)
                             .where(Route.id.in_(wanted["route_id"]))).all()
            for rid, day, name in rows:
                self.names[("route_id", rid)] = f"{name}, {formats.date(day)}"

    def get(self, key: str, value) -> str | None:
        return self.names.get((key, value))


def value_text(key: str, value, names: Names | None = None) -> str:
    """One stored value as the screen shows it ("—" for nothing)."""
    if value is None or value == "":
        return labels.MISSING
    if key in _CODES:
        return _CODES[key](value)
    if isinstance(value, bool):
        return formats.yes_no(value)
    if key in _IDS:
        name = names.get(key, value) if names is not None else None
        if name:
            return name
        return f"nr. {value}"
    try:
        if key in _DATES:
            return formats.date(dt.date.fromisoformat(str(value)))
        if key in _TIMES:
            return formats.clock(dt.time.fromisoformat(str(value)))
        if key in _DATETIMES:
            return formats.datetime(dt.datetime.fromisoformat(str(value)))
        if key in _NUMBERS:
            return _number(Decimal(str(value)), _NUMBERS[key])
    except (ValueError, InvalidOperation):
        pass
    if key == "flags":
        return ", ".join(labels.CONFIRMED.get(c, c) for c in str(value).split(",") if c)
    if key == "preferred_days":
        return ", ".join(_preferred(p) for p in str(value).split(",") if p)
    return str(value)


def changes(table: str, action: str, before: dict, after: dict,
            names: Names | None = None) -> tuple[tuple[str, str, str], ...]:
    """(field label, before, after) for each shown field: on an insert the values given, on a
    delete the values it had, on an update what changed."""
    out = []
    if action == "insert":
        for k, v in after.items():
            if k not in HIDDEN and v not in (None, "", False) and not _zero(k, v):
                out.append((labels.audit_field_label(table, k), "", value_text(k, v, names)))
    elif action == "delete":
        for k, v in before.items():
            if k not in HIDDEN and v not in (None, "", False):
                out.append((labels.audit_field_label(table, k), value_text(k, v, names), ""))
    else:
        for k, v in after.items():
            if k in HIDDEN or before.get(k) == v:
                continue
            out.append((labels.audit_field_label(table, k), value_text(k, before.get(k), names),
                        value_text(k, v, names)))
    order = list(labels.AUDIT_FIELD.get(table, {}).values())
    out.sort(key=lambda c: order.index(c[0]) if c[0] in order else len(order))
    return tuple(out)


def changes_text(action: str, changes: tuple) -> str:
    """One line for the desktop's table and the command line: "Status: Åben → Planlagt; …"
    for a change, "Kanal: Telefonisk; …" for what was created or removed."""
    if action == "update":
        return "; ".join(f"{f}: {b} → {a}" for f, b, a in changes)
    return "; ".join(f"{f}: {a or b}" for f, b, a in changes)


def _zero(key: str, value) -> bool:
    """A number that is 0 when a row is created says nothing (km of a stop not measured)."""
    if key not in _NUMBERS and key != "sequence":
        return False
    try:
        return Decimal(str(value)) == 0
    except InvalidOperation:
        return False


def _number(value: Decimal, decimals: int) -> str:
    q = Decimal(1).scaleb(-decimals)
    text = f"{value.quantize(q):,.{decimals}f}"
    return text.replace(",", "\u00a0").replace(".", ",").replace("\u00a0", ".")


def _preferred(part: str) -> str:
    try:
        return formats.date(dt.date.fromisoformat(part))
    except ValueError:
        return part
