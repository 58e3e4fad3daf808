"""JSON output for the CLI: money as strings with two decimals, dates ISO; Danish amounts.

Nothing heavy is imported here: every command's module imports this one when the parser is
built, so the documents' formatting (babel, and reportlab through ``documents.common``) is
imported only when a command prints an amount."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from decimal import Decimal


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON: {type(value)}")


def print_json(value) -> None:
    json.dump(value, sys.stdout, default=_default, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def parse_date_arg(text: str, field: str) -> dt.date:
    from hjemmeprove.errors import ValidationError

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"'{text}' er ikke en dato (ÅÅÅÅ-MM-DD)", field) from None


def kr(value) -> str:
    """An amount in Danish form ("1.234,50 kr."), as on the documents."""
    from hjemmeprove.documents.common import kr as _kr

    return _kr(value)


def number(value, places: int = 2) -> str:
    """A number in Danish form, as on the documents (no reportlab imported for it)."""
    from hjemmeprove.domain.formats import number as danish

    return danish(value, places)
