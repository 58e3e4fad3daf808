"""The reminder policy as pure rules (no database): which visits a day's contact list holds,
and by which channel each citizen is reminded.

The department's policy (settings ``contact.*``): one channel (letter, SMS or phone call),
how many working days before the visit, and whether a visit whose reply is sent and whose
citizen already has a letter is reminded too. A citizen's own preference (with consent to
SMS, recorded with a date) wins over the policy's channel where it can be kept:

- SMS needs consent and a number; without them the citizen is called, and without a number
  gets a letter;
- a call needs a number; without one, a letter;
- "none": the citizen asked not to be reminded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hjemmeprove.domain.calendar import WorkCalendar
from hjemmeprove.errors import ValidationError

DONE = ("sent", "delivered", "reached")  # a reminder that reached the citizen (or left us)
RETRY = ("failed", "not_reached")  # tried, not reached: stays on the list while time is left


@dataclass(frozen=True)
class Policy:
    channel: str = "sms"
    days_before: int = 2
    remind_lettered: bool = False


@dataclass(frozen=True)
class Preference:
    channel: str = ""  # "" = the policy's
    sms_consent: bool = False
    mobile: str = ""
    recorded_on: dt.date | None = None


def visit_dates(cal: WorkCalendar, day: dt.date, days_before: int
                ) -> tuple[dt.date, dt.date] | None:
    """The visit dates a list made on ``day`` covers: after ``day`` up to and including the
    ``days_before``-th working day after it. Later days come on later lists; earlier ones that
    were not reminded yet (planned late, or a day skipped) are caught up. None on a day that is
    not a working day: nobody reminds on a weekend or holiday, the next working day's list
    covers the visits."""
    if days_before < 1:
        raise ValueError("days_before must be >= 1")
    if not cal.is_working_day(day):
        return None
    return day + dt.timedelta(days=1), cal.add_working_days(day, days_before)


def channel_for(policy: Policy, pref: Preference | None, phone: str) -> tuple[str | None, str]:
    """(channel, why) for one citizen; channel None when they asked for no reminder.
    ``phone`` is the number on the citizen's record."""
    pref = pref or Preference()
    wanted = pref.channel or policy.channel
    if wanted == "none":
        return None, "ønsker ingen påmindelse"
    number = pref.mobile or phone
    if wanted == "sms":
        if not pref.sms_consent:
            wanted, why = ("phone", "intet samtykke til SMS") if phone else \
                ("letter", "intet samtykke til SMS og intet telefonnummer")
            return wanted, why
        if not number:
            return "letter", "intet mobilnummer"
    if wanted == "phone" and not phone and not pref.mobile:
        return "letter", "intet telefonnummer"
    return wanted, ""


def number_for(channel: str | None, pref: Preference | None, phone: str) -> str:
    pref = pref or Preference()
    if channel == "sms":
        return pref.mobile or phone
    if channel == "phone":
        return phone or pref.mobile
    return ""


def include(day: dt.date, reminder_status: str | None, reminder_list_date: dt.date | None,
            lettered: bool, policy: Policy) -> bool:
    """Whether a visit in the covered dates is on ``day``'s list.

    - reminded on an earlier list and it reached the citizen (sent, delivered, reached): no;
    - anything done from this very list: yes (it shows with its status);
    - tried before and failed / not reached: yes, while the visit is still ahead;
    - replied-to, locked and the citizen already has a letter: only if the policy says so.
    """
    if reminder_status is not None:
        if reminder_list_date == day:
            return True
        return reminder_status not in DONE
    if lettered and not policy.remind_lettered:
        return False
    return True


def check_days_before(text: str, field: str = "Påmindelse: hverdage før besøget") -> None:
    """The policy's working days before a visit, checked when saved: 1 to 10 (the span of
    the §6 deadline)."""
    if not 1 <= int(text) <= 10:
        raise ValidationError("skal være mellem 1 og 10 hverdage", field)
