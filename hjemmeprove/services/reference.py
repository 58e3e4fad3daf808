"""Default data shipped in resources/data: municipalities and mileage rates, with sources."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from hjemmeprove import paths
from hjemmeprove.db.models import MileageRate, Municipality


def default_municipalities() -> list[tuple[int, str]]:
    with open(paths.resource("data", "municipalities.csv"), encoding="utf-8") as f:
        return [(int(r["code"]), r["name"]) for r in csv.DictReader(f, delimiter=";")]


def default_mileage_rates() -> list[tuple[dt.date, Decimal, str]]:
    rows = []
    with open(paths.resource("data", "mileage_rates.csv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            if line.strip():
                valid_from, amount, source = line.rstrip("\n").split(";", 2)
                rows.append((dt.date.fromisoformat(valid_from), Decimal(amount), source))
    return rows


def load_defaults(store) -> None:
    """Adds the shipped municipalities and mileage rates that are not there yet."""
    with store.session() as s:
        known = set(s.scalars(select(Municipality.code)))
        for code, name in default_municipalities():
            if code not in known:
                s.add(Municipality(code=code, name=name))
        rates = set(s.scalars(select(MileageRate.valid_from)))
        for valid_from, amount, source in default_mileage_rates():
            if valid_from not in rates:
                s.add(MileageRate(valid_from=valid_from, amount=amount, source=source))
