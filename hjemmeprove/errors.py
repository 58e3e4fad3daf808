"""Errors the user can act on. Each names the field (or row) and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field


class HjemmeproveError(Exception):
    """Base for errors shown to a user; the CLI maps them to exit status 1."""


@dataclass
class FieldError:
    field: str
    message: str
    row: int | None = None

    def __str__(self) -> str:
        where = f"række {self.row}, " if self.row is not None else ""
        return f"{where}{self.field}: {self.message}"


class ValidationError(HjemmeproveError):
    """Bad input (CLI exit status 2). Carries every problem found, not just the first."""

    def __init__(self, errors: list[FieldError] | FieldError | str, field_name: str | None = None):
        if isinstance(errors, str):
            errors = [FieldError(field_name or "input", errors)]
        elif isinstance(errors, FieldError):
            errors = [errors]
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

    @property
    def fields(self) -> set[str]:
        return {e.field for e in self.errors}


class NotFound(HjemmeproveError):
    pass


class ConflictError(HjemmeproveError):
    """Someone else saved the record first; carries the fresh values."""

    def __init__(self, message: str, fresh: dict | None = None):
        super().__init__(message)
        self.fresh = fresh or {}


class PermissionDenied(HjemmeproveError):
    pass


class MissingRate(ValidationError):
    """A year or date has no figure for a rate; billing refuses it (never assumes 0 %)."""

    def __init__(self, figure: str, year_or_date):
        self.figure = figure
        self.when = year_or_date
        super().__init__(
            FieldError(figure, f"mangler for {year_or_date}: indtast den, før der kan faktureres")
        )


@dataclass
class ImportReport:
    rows: int = 0
    errors: list[FieldError] = field(default_factory=list)
