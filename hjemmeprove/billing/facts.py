"""Two facts every part of billing reads the same way: a month's first and last day, and
whether a visit carries a share of its route's km and ferry minutes."""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import re

from hjemmeprove.db.models import Request, Visit
from hjemmeprove.domain.labels import DRIVEN_OUTCOMES
from hjemmeprove.errors import ValidationError


def parse_month(month: str) -> tuple[dt.date, dt.date]:
    m = re.fullmatch(r"(\d{4})-(\d{2})", str(month).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValidationError(f"'{month}' er ikke en måned (ÅÅÅÅ-MM)", "måned")
    y, mo = int(m.group(1)), int(m.group(2))
    return dt.date(y, mo, 1), dt.date(y, mo, _cal.monthrange(y, mo)[1])


def carries_share(v: Visit, req: Request) -> bool:
    """Driven to (taken, not home, refused), or planned and not yet recorded."""
    if v.route_id is None:
        return False
    if v.outcome is not None:
        return v.outcome in DRIVEN_OUTCOMES
    return req.status != "cancelled"
