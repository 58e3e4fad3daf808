"""Small builders for tests: a department with agreements, and request form values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from hjemmeprove.db.models import Agreement, Bioanalyst, Department, Municipality
from hjemmeprove.domain.ean import with_check_digit

SVENDBORG_LAB = (55.0587, 10.5931)
# the town halls' postal addresses (a buyer address is required to issue)
TOWN_HALLS = {479: ("Ramsherred 5", "5700", "Svendborg"), 492: ("Statene 2", "5970", "Ærøskøbing"),
              430: ("Tinghøj Allé 2", "5750", "Ringe")}


def municipality_ean(code: int) -> str:
    """A valid (GS1 check digit) made-up EAN for the municipality with ``code``."""
    return with_check_digit(f"579800000{code:03d}")


def add_department(app, codes=(479, 492, 430), start=dt.date(2020, 1, 1)) -> int:
    with app.store.session() as s:
        dept = Department(name="KBA Svendborg", hospital="OUH", lab_address="Baagøes Allé 15",
                          lab_postcode="5700", lab_city="Svendborg", lab_lat=SVENDBORG_LAB[0],
                          lab_lon=SVENDBORG_LAB[1], cvr="29190925", ean="5798000000018",
                          bank_reg="0216", bank_account="4069063213")
        s.add(dept)
        s.flush()
        s.add_all([Bioanalyst(name="Mette Holm", department_id=dept.id, skills="ekg"),
                   Bioanalyst(name="Louise Friis", department_id=dept.id)])
        for code in codes:
            muni = s.scalar(select(Municipality).where(Municipality.code == code))
            muni.ean = municipality_ean(code)
            muni.address, muni.postcode, muni.city = TOWN_HALLS.get(
                code, ("Rådhuspladsen 1", "5000", "Odense"))
            s.add(Agreement(municipality_id=muni.id, department_id=dept.id, start=start,
                            invoice_ean=muni.ean, person_reference=f"P{code}",
                            ekg_price=Decimal("95.00") if code == 479 else None))
        return dept.id


def request_values(**overrides) -> dict[str, str]:
    values = {
        "cpr": "010150-1234", "name": "Karen Jensen", "address": "Vestergade 3",
        "postcode": "5700", "city": "Svendborg", "municipality": "479",
        "received": "2024-03-01", "lat": "55.06", "lon": "10.61",
    }
    values.update(overrides)
    return values
