"""Working days and the 10-working-day deadline (§6), around the movable holidays."""

import datetime as dt

import pytest

from hjemmeprove.domain.calendar import ClosingRules, WorkCalendar, public_holidays

D = dt.date
cal = WorkCalendar()


@pytest.mark.parametrize("received, deadline, why", [
    # Friday before Easter 2024 (Good Friday itself is 29 March): Maundy Thu 28/3, Good Fri
    # 29/3 and Easter Monday 1/4 are not working days.
    (D(2024, 3, 22), D(2024, 4, 10), "Easter 2024 skips Thu, Fri and Mon"),
    (D(2024, 3, 29), D(2024, 4, 15), "received on Good Friday: day 0 is the holiday itself"),
    # Great Prayer Day: 5 May 2023 was a holiday; 26 April 2024 is an ordinary Friday.
    (D(2023, 4, 28), D(2023, 5, 15), "Great Prayer Day 2023 (Fri 5 May) is skipped"),
    (D(2024, 4, 19), D(2024, 5, 3), "no Great Prayer Day from 2024 (Fri 26 April works)"),
    # Christmas 2025: 24 (closing day), 25, 26 Dec and 31 Dec (closing day), 1 Jan.
    (D(2025, 12, 19), D(2026, 1, 9), "Christmas and New Year"),
    (D(2025, 6, 2), D(2025, 6, 18), "Constitution Day (Thu 5 June) and Whit Monday (9 June)"),
    # Ascension 2025 (Thu 29 May) and Whit Monday (9 June)
    (D(2025, 5, 26), D(2025, 6, 12), "Ascension, Constitution Day and Whit Monday"),
    (D(2026, 11, 20), D(2026, 12, 4), "a plain fortnight: two weekends"),
])
def test_deadline(received, deadline, why):
    assert cal.deadline(received) == deadline, why


def test_great_prayer_day_only_through_2023():
    assert D(2023, 5, 5) in public_holidays(2023)
    assert D(2024, 4, 26) not in public_holidays(2024)
    assert cal.is_working_day(D(2024, 4, 26))
    assert not cal.is_working_day(D(2023, 5, 5))


def test_easter_dates_from_dateutil():
    h = public_holidays(2026)
    assert h[D(2026, 4, 2)] == "Skærtorsdag"
    assert h[D(2026, 4, 3)] == "Langfredag"
    assert h[D(2026, 4, 6)] == "2. påskedag"
    assert h[D(2026, 5, 14)] == "Kristi himmelfartsdag"
    assert h[D(2026, 5, 25)] == "2. pinsedag"


def test_closing_days_are_settings():
    open_on_christmas_eve = WorkCalendar(ClosingRules(christmas_eve=False))
    assert open_on_christmas_eve.is_working_day(D(2024, 12, 24))
    assert not cal.is_working_day(D(2024, 12, 24))
    staff_day = WorkCalendar(ClosingRules(extra_days=frozenset({D(2024, 5, 10)})))
    assert not staff_day.is_working_day(D(2024, 5, 10))  # Friday after Ascension
    # Mon 6 May 2024: Ascension (9th) and Whit Monday (20th) fall in the window already
    assert cal.deadline(D(2024, 5, 6)) == D(2024, 5, 22)
    assert staff_day.deadline(D(2024, 5, 6)) == D(2024, 5, 23)


def test_workdays_inclusive():
    days = cal.working_days(D(2024, 3, 25), D(2024, 4, 2))
    assert days == [D(2024, 3, 25), D(2024, 3, 26), D(2024, 3, 27), D(2024, 4, 2)]


def test_department_closing_day_from_database(app):
    app.settings.add_closing_day(D(2024, 5, 10), "Personaledag")
    calendar = app.calendar()
    assert calendar.why_closed(D(2024, 5, 10)) == "Personaledag"
    app.settings.set("closing.constitution_day", False)
    assert app.calendar().is_working_day(D(2024, 6, 5))
