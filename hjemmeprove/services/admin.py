"""Plain read/write of the reference tables behind Indstillinger (settings screens).

Departments, municipalities (with EAN), agreements and their billing settings, bioanalysts and
their absences, closing days. Each ``list_*`` returns frozen dataclasses; each ``save_*`` takes
one, checks it (every problem as a FieldError naming the Danish field), inserts when ``id`` is
None or updates otherwise, and returns the id. Nothing is written when a check fails
or the user lacks the right (``security.require``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from hjemmeprove.db.models import (
    Absence,
    Agreement,
    Bioanalyst,
    ClosingDay,
    Department,
    Municipality,
    OUTCOMES,
)
from hjemmeprove.domain.constants import in_denmark
from hjemmeprove.domain.ean import ean_problem
from hjemmeprove.domain import labels
from hjemmeprove.domain.labels import PERSONAL_DATA_LEVELS
from hjemmeprove.errors import FieldError, NotFound, ValidationError
from hjemmeprove.security import require

ALLOCATION_RULES = ("standalone", "equal")


@dataclass(frozen=True)
class DepartmentRow:
    id: int | None
    name: str
    hospital: str
    lab_address: str
    lab_postcode: str
    lab_city: str
    lab_lat: float
    lab_lon: float
    cvr: str = ""
    ean: str = ""
    bank_reg: str = ""
    bank_account: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    payment_days: int = 30


@dataclass(frozen=True)
class MunicipalityRow:
    id: int | None
    code: int
    name: str
    ean: str = ""
    address: str = ""
    postcode: str = ""
    city: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""


@dataclass(frozen=True)
class AgreementRow:
    id: int | None
    municipality_id: int
    department_id: int
    start: dt.date
    end: dt.date | None = None
    reference: str = ""
    ekg_price: Decimal | None = None
    billable_outcomes: str = "taken"
    allocation_rule: str = "standalone"
    ferry_speed_kmh: Decimal = Decimal("60")
    statement_full_cpr: bool = False
    statement_personal_data: str = "referral"  # labels.PERSONAL_DATA_LEVELS; minimal
    vat_percent: Decimal = Decimal("0")
    invoice_ean: str = ""
    person_reference: str = ""
    order_reference: str = ""
    reply_window_minutes: int = 120
    municipality_name: str = ""  # read-only, for lists
    department_name: str = ""


@dataclass(frozen=True)
class BioanalystRow:
    id: int | None
    name: str
    department_id: int
    day_start: dt.time = dt.time(8, 0)
    day_end: dt.time = dt.time(15, 0)
    skills: str = ""
    capacity: int = 24
    phone: str = ""
    active: bool = True


@dataclass(frozen=True)
class AbsenceRow:
    id: int | None
    bioanalyst_id: int
    start: dt.date
    end: dt.date
    reason: str = ""
    bioanalyst_name: str = ""


@dataclass(frozen=True)
class ClosingDayRow:
    day: dt.date
    reason: str = ""


def _copy(row_cls, obj, **extra):
    names = {f.name for f in fields(row_cls)}
    values = {n: getattr(obj, n) for n in names if hasattr(obj, n) and n not in extra}
    return row_cls(**values, **extra)


def _assign(obj, row, skip=("id",)) -> None:
    for f in fields(row):
        if f.name not in skip and hasattr(type(obj), f.name):
            setattr(obj, f.name, getattr(row, f.name))


def _save(s, model, row, what: str, skip=("id",)) -> int:
    """Inserts a new row (``row.id`` None) or updates the existing one; returns its id."""
    obj = model() if row.id is None else s.get(model, row.id)
    if obj is None:
        raise NotFound(f"{what} {row.id} findes ikke")
    _assign(obj, row, skip=skip)
    s.add(obj)
    s.flush()
    return obj.id


def _ean_errors(label: str, ean: str) -> list[FieldError]:
    """An EAN/GLN may be left empty here; one that is given must be 13 digits with a valid
    GS1 check digit (issuing requires one)."""
    problem = ean_problem(ean) if ean else None
    return [FieldError(label, problem)] if problem else []


class AdminService:
    def __init__(self, store):
        self.store = store

    # --- departments ------------------------------------------------------------------------

    def list_departments(self) -> list[DepartmentRow]:
        with self.store.session() as s:
            return [_copy(DepartmentRow, d) for d in s.scalars(select(Department).order_by(
                Department.id))]

    def save_department(self, row: DepartmentRow) -> int:
        require(self.store, "departments.edit")
        errors = department_errors(row)
        if errors:
            raise ValidationError(errors)
        with self.store.session() as s:
            return _save(s, Department, row, "afdeling")

    # --- municipalities ---------------------------------------------------------------------

    def list_municipalities(self) -> list[MunicipalityRow]:
        with self.store.session() as s:
            return [_copy(MunicipalityRow, m)
                    for m in s.scalars(select(Municipality).order_by(Municipality.code))]

    def save_municipality(self, row: MunicipalityRow) -> int:
        require(self.store, "municipalities.edit")
        errors = municipality_errors(row)
        with self.store.session() as s:
            other = s.scalar(select(Municipality).where(Municipality.code == row.code))
            if other is not None and other.id != row.id:
                errors.append(FieldError("kommunekode", f"{row.code} findes allerede"))
            if errors:
                raise ValidationError(errors)
            return _save(s, Municipality, row, "kommune")

    # --- agreements -------------------------------------------------------------------------

    def list_agreements(self) -> list[AgreementRow]:
        with self.store.session() as s:
            q = (select(Agreement, Municipality.name, Department.name)
                 .join(Municipality, Agreement.municipality_id == Municipality.id)
                 .join(Department, Agreement.department_id == Department.id)
                 .order_by(Municipality.code, Agreement.start))
            return [_copy(AgreementRow, a, municipality_name=m, department_name=d)
                    for a, m, d in s.execute(q)]

    def save_agreement(self, row: AgreementRow) -> int:
        require(self.store, "agreements.edit")
        errors = agreement_errors(row)
        if errors:
            raise ValidationError(errors)
        with self.store.session() as s:
            others = s.scalars(select(Agreement).where(
                Agreement.municipality_id == row.municipality_id,
                Agreement.department_id == row.department_id, Agreement.id != (row.id or 0)))
            problem = overlap_problem(row.start, row.end, [(a.start, a.end) for a in others])
            if problem:
                raise ValidationError(problem, "startdato")
            return _save(s, Agreement, row, "aftale",
                         skip=("id", "municipality_name", "department_name"))

    # --- bioanalysts and absences ----------------------------------------------------------

    def list_bioanalysts(self, active_only: bool = False) -> list[BioanalystRow]:
        with self.store.session() as s:
            q = select(Bioanalyst).order_by(Bioanalyst.name)
            if active_only:
                q = q.where(Bioanalyst.active)
            return [_copy(BioanalystRow, b) for b in s.scalars(q)]

    def save_bioanalyst(self, row: BioanalystRow) -> int:
        require(self.store, "bioanalysts.edit")
        errors = bioanalyst_errors(row)
        if errors:
            raise ValidationError(errors)
        with self.store.session() as s:
            return _save(s, Bioanalyst, replace(row, name=row.name.strip()), "bioanalytiker")

    def list_absences(self, bioanalyst_id: int | None = None) -> list[AbsenceRow]:
        with self.store.session() as s:
            q = (select(Absence, Bioanalyst.name).join(Bioanalyst)
                 .order_by(Absence.start, Bioanalyst.name))
            if bioanalyst_id is not None:
                q = q.where(Absence.bioanalyst_id == bioanalyst_id)
            return [_copy(AbsenceRow, a, bioanalyst_name=n) for a, n in s.execute(q)]

    def save_absence(self, row: AbsenceRow) -> int:
        require(self.store, "bioanalysts.edit")
        errors = absence_errors(row)
        if errors:
            raise ValidationError(errors)
        with self.store.session() as s:
            if s.get(Bioanalyst, row.bioanalyst_id) is None:
                raise ValidationError("ukendt bioanalytiker", "bioanalytiker")
            return _save(s, Absence, row, "fravær", skip=("id", "bioanalyst_name"))

    def delete_absence(self, absence_id: int) -> None:
        require(self.store, "bioanalysts.edit")
        with self.store.session() as s:
            obj = s.get(Absence, absence_id)
            if obj is not None:
                s.delete(obj)

    # --- closing days -----------------------------------------------------------------------

    def list_closing_days(self) -> list[ClosingDayRow]:
        with self.store.session() as s:
            return [ClosingDayRow(c.day, c.reason)
                    for c in s.scalars(select(ClosingDay).order_by(ClosingDay.day))]

    def save_closing_day(self, row: ClosingDayRow) -> None:
        require(self.store, "closing_days.edit")
        with self.store.session() as s:
            s.merge(ClosingDay(day=row.day, reason=row.reason.strip()))

    def delete_closing_day(self, day: dt.date) -> None:
        require(self.store, "closing_days.edit")
        with self.store.session() as s:
            obj = s.get(ClosingDay, day)
            if obj is not None:
                s.delete(obj)


# --- the checks: Indstillinger's dialogs and ``setup import`` both use these ----------------


def department_errors(row: DepartmentRow) -> list[FieldError]:
    errors = []
    for label, value in (("navn", row.name), ("hospital", row.hospital),
                         ("laboratoriets adresse", row.lab_address),
                         ("by", row.lab_city)):
        if not str(value).strip():
            errors.append(FieldError(label, "skal udfyldes"))
    if not re.fullmatch(r"\d{4}", row.lab_postcode or ""):
        errors.append(FieldError("postnr", "skal være 4 cifre"))
    if not in_denmark(row.lab_lat, row.lab_lon):
        errors.append(FieldError("position", "ligger ikke i Danmark"))
    if row.cvr and not re.fullmatch(r"\d{8}", row.cvr):
        errors.append(FieldError("CVR", "skal være 8 cifre"))
    errors += _ean_errors("EAN", row.ean)
    if not 0 <= row.payment_days <= 365:
        errors.append(FieldError("betalingsfrist", "skal være 0 til 365 dage"))
    return errors


def municipality_errors(row: MunicipalityRow) -> list[FieldError]:
    """The row's own checks; a code another municipality has is checked when saving."""
    errors = []
    if not row.name.strip():
        errors.append(FieldError("navn", "skal udfyldes"))
    if not (100 <= int(row.code) <= 999):
        errors.append(FieldError("kommunekode", "skal være et tal mellem 100 og 999"))
    errors += _ean_errors("EAN", row.ean)
    if row.postcode and not re.fullmatch(r"\d{4}", row.postcode):
        errors.append(FieldError("postnr", "skal være 4 cifre"))
    return errors


def agreement_errors(row: AgreementRow) -> list[FieldError]:
    errors = []
    if row.end is not None and row.end < row.start:
        errors.append(FieldError("slutdato", "ligger før startdato"))
    unknown = {o.strip() for o in row.billable_outcomes.split(",") if o.strip()} - set(
        OUTCOMES)
    if unknown or not row.billable_outcomes.strip():
        errors.append(FieldError("fakturerbare udfald", "vælg mindst ét af " + ", ".join(
            f"{labels.outcome_label(o).lower()} ({o})" for o in OUTCOMES)))
    if row.allocation_rule not in ALLOCATION_RULES:
        errors.append(FieldError("fordeling", "skal være " + " eller ".join(
            f"{labels.allocation_rule_label(r).lower()} ({r})" for r in ALLOCATION_RULES)))
    try:
        if Decimal(row.ferry_speed_kmh) <= 0:
            errors.append(FieldError("færgehastighed", "skal være større end 0"))
        if not (0 <= Decimal(row.vat_percent) <= 100):
            errors.append(FieldError("moms %", "skal ligge mellem 0 og 100"))
        if row.ekg_price is not None and Decimal(row.ekg_price) < 0:
            errors.append(FieldError("EKG-pris", "kan ikke være negativ"))
    except (InvalidOperation, TypeError):
        errors.append(FieldError("beløb", "er ikke et tal"))
    errors += _ean_errors("faktura-EAN", row.invoice_ean)
    if row.statement_personal_data not in PERSONAL_DATA_LEVELS:
        errors.append(FieldError("personoplysninger på opgørelsen", "skal være en af " + ", ".join(
            f"{labels.personal_data_label(x).lower()} ({x})" for x in PERSONAL_DATA_LEVELS)))
    if not (15 <= row.reply_window_minutes <= 600):
        errors.append(FieldError("svarvindue", "skal være 15–600 minutter"))
    return errors


def overlap_problem(start: dt.date, end: dt.date | None,
                    others: list[tuple[dt.date, dt.date | None]]) -> str | None:
    """Two agreements between the same municipality and department may not share a day
    (a request takes the one in force on its day); the problem in Danish, or None."""
    for o_start, o_end in sorted(others):
        if (o_end is None or start <= o_end) and (end is None or o_start <= end):
            period = f"{o_start:%d.%m.%Y}–" + (f"{o_end:%d.%m.%Y}" if o_end else "")
            return (f"perioden overlapper en anden aftale med samme kommune ({period}); "
                    "sæt en slutdato på den første")
    return None


def bioanalyst_errors(row: BioanalystRow) -> list[FieldError]:
    errors = []
    if not row.name.strip():
        errors.append(FieldError("navn", "skal udfyldes"))
    if row.day_end <= row.day_start:
        errors.append(FieldError("arbejdstid slut", "skal ligge efter start"))
    if not (1 <= row.capacity <= 200):
        errors.append(FieldError("kapacitet", "skal være 1–200 prøver"))
    return errors


def absence_errors(row: AbsenceRow) -> list[FieldError]:
    return [FieldError("til", "slutdato ligger før startdato")] if row.end < row.start else []
