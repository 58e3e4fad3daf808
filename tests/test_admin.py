"""The settings screens' plain read/write service (hjemmeprove.services.admin)."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from hjemmeprove.errors import ValidationError
from hjemmeprove.services.admin import (
    AbsenceRow,
    AdminService,
    BioanalystRow,
    ClosingDayRow,
    MunicipalityRow,
)


def test_municipality_ean_saved_and_bad_ean_refused(department_app):
    admin = AdminService(department_app.store)
    odense = next(m for m in admin.list_municipalities() if m.code == 461)
    admin.save_municipality(replace(odense, ean="5798000000124"))
    assert next(m for m in admin.list_municipalities() if m.code == 461).ean == "5798000000124"
    with pytest.raises(ValidationError) as e:
        admin.save_municipality(replace(odense, ean="12ab"))
    assert "EAN" in e.value.fields
    assert next(m for m in admin.list_municipalities() if m.code == 461).ean == "5798000000124"


def test_duplicate_municipality_code_refused(department_app):
    admin = AdminService(department_app.store)
    with pytest.raises(ValidationError) as e:
        admin.save_municipality(MunicipalityRow(None, 461, "Odense igen"))
    assert "kommunekode" in e.value.fields


def test_agreement_billing_settings_round_trip(department_app):
    admin = AdminService(department_app.store)
    a = admin.list_agreements()[0]
    assert a.municipality_name and a.department_name
    admin.save_agreement(replace(a, billable_outcomes="taken,not_home", allocation_rule="equal",
                                 ekg_price=Decimal("120.00")))
    b = next(x for x in admin.list_agreements() if x.id == a.id)
    assert (b.billable_outcomes, b.allocation_rule, b.ekg_price) == (
        "taken,not_home", "equal", Decimal("120.00"))
    with pytest.raises(ValidationError) as e:
        admin.save_agreement(replace(a, billable_outcomes="taken,maybe",
                                     end=a.start - dt.timedelta(days=1)))
    assert {"fakturerbare udfald", "slutdato"} <= e.value.fields


def test_bioanalyst_and_absence(department_app):
    admin = AdminService(department_app.store)
    dept = admin.list_departments()[0]
    bid = admin.save_bioanalyst(BioanalystRow(None, "Ny Analytiker", dept.id, skills="ekg"))
    assert any(b.id == bid and b.skills == "ekg" for b in admin.list_bioanalysts())
    with pytest.raises(ValidationError):
        admin.save_bioanalyst(BioanalystRow(None, "X", dept.id, day_start=dt.time(15),
                                            day_end=dt.time(8)))
    aid = admin.save_absence(AbsenceRow(None, bid, dt.date(2026, 12, 1), dt.date(2026, 12, 3),
                                        "Kursus"))
    rows = admin.list_absences(bid)
    assert [(r.id, r.bioanalyst_name, r.reason) for r in rows] == [(aid, "Ny Analytiker",
                                                                    "Kursus")]
    with pytest.raises(ValidationError):
        admin.save_absence(AbsenceRow(None, bid, dt.date(2026, 12, 3), dt.date(2026, 12, 1)))
    admin.delete_absence(aid)
    assert admin.list_absences(bid) == []


def test_closing_day_changes_the_calendar(department_app):
    admin = AdminService(department_app.store)
    day = dt.date(2026, 5, 15)  # a Friday
    assert department_app.calendar().is_working_day(day)
    admin.save_closing_day(ClosingDayRow(day, "Personaledag"))
    assert admin.list_closing_days() == [ClosingDayRow(day, "Personaledag")]
    assert not department_app.settings.calendar().is_working_day(day)
    admin.delete_closing_day(day)
    assert admin.list_closing_days() == []


@pytest.mark.sqlite_only  # on PostgreSQL the database login's role decides (test_security_pg)
def test_saving_needs_the_right_role(department_app):
    from hjemmeprove.db.models import User
    from hjemmeprove.errors import PermissionDenied

    with department_app.store.session() as s:
        s.add(User(username="test", role="coordinator"))
    admin = AdminService(department_app.store)
    a = admin.list_agreements()[0]
    with pytest.raises(PermissionDenied):
        admin.save_agreement(replace(a, reference="X"))
    admin.save_closing_day(ClosingDayRow(dt.date(2026, 5, 15), "Personaledag"))  # coordinator may
