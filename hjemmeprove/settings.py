"""Every option of the program, declared in one place with its default (the Picard way).

Values are stored as text in the ``settings`` table; ``Settings`` reads and writes them typed.
Options that belong to one agreement (billing choices) live on the agreement instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hjemmeprove.contact import policy as contact_policy
from hjemmeprove.contact import template as sms_template
from hjemmeprove.domain import formats, labels
from hjemmeprove.domain.calendar import WEEKDAYS, ClosingRules, WorkCalendar
from hjemmeprove.errors import ValidationError


@dataclass(frozen=True)
class Option:
    key: str
    default: Any
    label: str  # Danish, as shown in Indstillinger
    kind: type = str
    choices: dict[str, str] | None = None  # code -> Danish label (``domain/labels.py``)
    shown: bool = True  # False: kept by the program, not edited in Indstillinger
    check: Callable[[str], None] | None = None  # raises ValidationError for a bad value
    bounds: tuple[float, float] | None = None  # a number's smallest and largest value
    web: bool = False  # an address the program sends requests to (``web_address``)

    @property
    def field(self) -> str:
        """The label without its explanation in brackets: how a message names the field."""
        return self.label.split(" (")[0]


DEMO_DATA = "demo.data"

OPTIONS: dict[str, Option] = {
    o.key: o
    for o in [
        Option("closing.constitution_day", True, "Lukket grundlovsdag (5. juni)", bool),
        Option("closing.christmas_eve", True, "Lukket juleaftensdag (24. december)", bool),
        Option("closing.new_years_eve", True, "Lukket nytårsaftensdag (31. december)", bool),
        Option("distance.source", "estimate", "Afstandskilde", choices=labels.DISTANCE_SOURCE),
        Option("distance.url", "", "Adresse på egen rutemaskine (OSRM/Valhalla)", web=True),
        Option("distance.detour_factor", 1.3, "Omvejsfaktor for luftlinje", float,
               bounds=(1, 3)),
        Option("geocoder.url", "", "Online adresseopslag (tom = ingen)", web=True),
        Option("planning.service_minutes", 10, "Ankomst, parkering, udpakning (min)", int,
               bounds=(0, 120)),
        Option("planning.sampling_minutes", 5, "Prøvetagning pr. borger (min)", int,
               bounds=(1, 120)),
        Option("planning.stability_minutes", 240, "Prøvers holdbarhed på vejen (min; 0 = ingen "
               "grænse)", int, bounds=(0, 24 * 60)),
        Option("planning.lunch_minutes", 30, "Frokostpause (min)", int, bounds=(0, 120)),
        Option("planning.area_days", "Langeland=tir;Tåsinge=tir",
               "Områdedage (område=ugedag; ...), f.eks. Langeland=tir",
               check=lambda text: area_days(text)),
        Option("planning.time_limit_s", 10, "Længste beregningstid for ruteplan (sek.)", int,
               bounds=(1, 3600)),
        Option("planning.balance_kr", 100, "Omlægning: udligning af arbejdet mellem "
               "bioanalytikerne (kr. for den travleste)", int, bounds=(0, 100_000)),
        Option("geocoder.address_file", "", "Importeret adresseregister (fil)"),
        Option("reply.window_minutes", 120, "Tidsvindue i svar til kommunen (min)", int,
               bounds=(15, 12 * 60)),
        Option("billing.allocation_rule", "standalone",
               "Fordeling af ruters km for nye aftaler", choices=labels.ALLOCATION_RULE),
        Option("retention.years", 5, "Opbevaring af borgerdata efter sidste faktura (år)", int,
               bounds=(1, 50)),
        Option("invoice.first_number", 1, "Første fakturanummer", int,
               bounds=(1, 999_999_999)),
        # Electronic intake (hjemmeprove/intake): folders the message handler serves.
        Option("intake.inbox", "", "Indbakke: mappe med modtagne MedCom-beskeder"),
        Option("intake.outbox", "", "Udbakke: mappe til kvitteringer og svar"),
        Option("intake.archive", "", "Arkiv: mappe til læste beskeder"),
        Option("intake.csv_folder", "", "Mappe til CSV-filer med henvisninger (tom = ingen)"),
        Option("intake.poll_seconds", 30, "Hvor ofte indbakken læses (sek.)", int,
               bounds=(5, 3600)),

        # Reminders and SMS (hjemmeprove/contact): the department's policy and its gateway.
        Option("contact.channel", "sms", "Påmindelse: kanal (SMS kun med samtykke, ellers "
               "opringning)", choices=labels.REMINDER_CHANNEL),
        Option("contact.days_before", 2, "Påmindelse: hverdage før besøget", int,
               check=contact_policy.check_days_before),
        Option("contact.remind_lettered", False, "Påmind også besøg med svar og brev", bool),
        Option("contact.cancel_phone", "", "Telefon for aflysning (på breve og SMS)"),
        Option("sms.gateway_url", "", "SMS-gateway: adresse (tom = ingen; kun prøvekørsel)",
               web=True),
        Option("sms.auth_header", "", "SMS-gateway: autorisation ('Navn: værdi' eller "
               "'env:VARIABEL')"),
        Option("sms.body_template", '{"to": "{telefon}", "message": "{besked}"}',
               "SMS-gateway: JSON-skabelon", check=sms_template.check_body_template),
        Option("sms.status_path", "status",
               "SMS-gateway: sti til status i svaret (fx data.0.status)"),
        Option("sms.delivered_values", "delivered", "SMS-gateway: statusværdier for leveret"),
        Option("sms.failed_values", "failed,rejected,undeliverable",
               "SMS-gateway: statusværdier for fejlet"),
        Option("sms.timeout_s", 10.0, "SMS-gateway: ventetid pr. forsøg (sek.)", float,
               bounds=(1, 120)),
        Option("sms.max_attempts", 3, "SMS-gateway: forsøg pr. besked", int, bounds=(1, 10)),
        Option("sms.sender", "", "SMS: afsender (tom = sygehusets navn)"),
        Option("sms.message_template", "Påmindelse: Vi kommer på besøg {dato} mellem kl. "
               "{tidsrum}. Kan du ikke være hjemme, så ring {aflys_tlf}. Hilsen {afsender}",
               "SMS-tekst (kun {dato}, {tidsrum}, {aflys_tlf}, {afsender})",
               check=sms_template.check_message_template),
        # Written by ``hjemmeprove demo``: the main window then says the data are made up.
        Option(DEMO_DATA, False, "Databasen indeholder demodata", bool, shown=False),
    ]
}


# Reading needs no ORM: the two tables as plain SQL clauses (their columns as in
# ``db.models.Setting`` and ``ClosingDay``; tests/test_startup.py holds them side by side), so
# a command that only reads the calendar or an option does not load the models. Writes go
# through the models, where the audit trail sees them. ``calendar deadline`` does not even load
# SQLAlchemy on a SQLite file (``read_calendar``): the clauses are made on first use.
def __getattr__(name: str):
    if name in ("SETTINGS_TABLE", "CLOSING_DAYS_TABLE"):
        return _tables()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_TABLES: dict = {}


def _tables() -> dict:
    if not _TABLES:
        from sqlalchemy import Date, String, Text, column, table

        _TABLES["SETTINGS_TABLE"] = table("settings", column("key", String),
                                          column("value", Text))
        _TABLES["CLOSING_DAYS_TABLE"] = table("closing_days", column("day", Date),
                                              column("reason", String))
    return _TABLES


CLOSING_OPTIONS = ("closing.constitution_day", "closing.christmas_eve", "closing.new_years_eve")


def _parse(option: Option, text: str) -> Any:
    if option.kind is bool:
        return text.strip().lower() in ("1", "true", "ja", "yes", "on")
    try:
        return option.kind(text)
    except ValueError:
        raise ValidationError(f"'{text}' er ikke en gyldig værdi", option.key) from None


def web_address(text: str, field: str) -> None:
    """Empty, or an http(s) address with a host: the program sends requests there (a
    "file:" or "ftp:" address would be read by the same library, or fail late with an English
    error at planning or sending)."""
    from urllib.parse import urlsplit

    text = text.strip()
    if not text:
        return
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"'{text}' er ikke en webadresse (http://vært:port eller "
                              "https://…)", field)


def area_days(text: str) -> dict[str, int]:
    """'Langeland=tir;Tåsinge=tir' → {'Langeland': 1, 'Tåsinge': 1}: the islands whose
    visits are kept to one weekday. An island the program does not know (it knows those of
    its ferry and bridge data) or a day that is not a working day is a ValidationError naming
    the part: a typo used to drop the rule without a word, and the island was planned on
    any day."""
    from hjemmeprove.planning.ferries import island_names

    known = {name.lower(): name for name in island_names()}
    out, problems = {}, []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        name, sep, day = part.partition("=")
        name, key = name.strip(), day.strip().lower()[:3]
        if not sep or not name:
            problems.append(f"'{part.strip()}' skal skrives område=ugedag")
        elif name.lower() not in known:
            problems.append(f"'{name}' er ikke en ø programmet kender (" + ", ".join(
                sorted(known.values())) + ")")
        elif key not in WEEKDAYS:
            problems.append(f"'{day.strip()}' er ikke en hverdag (man, tir, ons, tor, fre)")
        else:
            out[known[name.lower()]] = WEEKDAYS[key]
    if problems:
        raise ValidationError("; ".join(problems), OPTIONS["planning.area_days"].label)
    return out


def checked_text(key: str, value: Any) -> str:
    """The text an option's value is stored as, after its checks; raises ValidationError."""
    if key not in OPTIONS:
        raise ValidationError(f"ukendt indstilling '{key}'", "indstilling")
    option = OPTIONS[key]
    text = str(value).lower() if option.kind is bool else str(value)
    value = _parse(option, text)  # refuse a bad value before anything is written
    if option.bounds is not None:  # checked when written: a value stored before still reads
        lo, hi = option.bounds
        if not lo <= value <= hi:  # NaN too
            raise ValidationError(f"'{text}' skal ligge mellem {formats.number(lo)} og {formats.number(hi)}",
                                  option.label)
    if option.web:
        web_address(text, option.field)
    if option.check is not None:
        option.check(text)
    if option.choices is not None and text not in option.choices:
        # the labels the user sees, each with the code a script types
        raise ValidationError(f"'{text}' er ikke et af valgene: " + "; ".join(
            f"{label} ({code})" for code, label in option.choices.items()), option.label)
    return text


def calendar_from(stored: dict[str, str], closing_days) -> WorkCalendar:
    """The working calendar from the stored texts of the ``closing.*`` options (missing ones
    take their defaults) and the department's closing days as (day, reason) pairs."""
    values = {k: (_parse(OPTIONS[k], stored[k]) if k in stored else OPTIONS[k].default)
              for k in CLOSING_OPTIONS}
    extra = {day: reason or "Lukkedag" for day, reason in closing_days}
    rules = ClosingRules(
        constitution_day=values["closing.constitution_day"],
        christmas_eve=values["closing.christmas_eve"],
        new_years_eve=values["closing.new_years_eve"],
        extra_days=frozenset(extra),
    )
    return WorkCalendar(rules, extra)


def read_calendar(url: str | None) -> WorkCalendar | None:
    """The calendar read through SQLite's own driver (``db.lean``), without SQLAlchemy: for
    commands that print a date. None when the database is not a current SQLite file; the
    caller then opens the ``App`` and asks ``Settings.calendar`` (the same rule)."""
    from hjemmeprove.db.lean import current_sqlite

    with current_sqlite(url) as conn:
        if conn is None:
            return None
        marks = ",".join("?" * len(CLOSING_OPTIONS))
        stored = dict(conn.execute(f"SELECT key, value FROM settings WHERE key IN ({marks})",
                                   CLOSING_OPTIONS))
        days = [(dt.date.fromisoformat(day), reason)
                for day, reason in conn.execute("SELECT day, reason FROM closing_days")]
    return calendar_from(stored, days)


def holds_demo_data(session) -> bool:
    """True when ``hjemmeprove demo`` filled this database (made-up citizens and rates)."""
    from sqlalchemy import select

    t = _tables()["SETTINGS_TABLE"]
    value = session.scalar(select(t.c.value).where(t.c.key == DEMO_DATA))
    return value is not None and _parse(OPTIONS[DEMO_DATA], value)


class Settings:
    def __init__(self, store):
        self.store = store

    def get(self, key: str) -> Any:
        from sqlalchemy import select

        t = _tables()["SETTINGS_TABLE"]
        option = OPTIONS[key]
        with self.store.session() as s:
            value = s.scalar(select(t.c.value).where(t.c.key == key))
            return option.default if value is None else _parse(option, value)

    def all(self) -> dict[str, Any]:
        from sqlalchemy import select

        t = _tables()["SETTINGS_TABLE"]
        with self.store.session() as s:
            stored = dict(s.execute(select(t.c.key, t.c.value)).all())
        return {k: (_parse(o, stored[k]) if k in stored else o.default) for k, o in OPTIONS.items()}

    def set(self, key: str, value: Any) -> None:
        self.set_many({key: value})

    def set_many(self, values: dict[str, Any]) -> None:
        """Checks every value first, then writes them all in one transaction (or none)."""
        texts = {key: checked_text(key, value) for key, value in values.items()}
        from hjemmeprove.security import require

        require(self.store, "settings.edit")
        from hjemmeprove.db.models import Setting

        with self.store.session() as s:
            for key, text in texts.items():
                row = s.get(Setting, key)
                if row is None:
                    s.add(Setting(key=key, value=text))
                else:
                    row.value = text

    def calendar(self) -> WorkCalendar:
        from sqlalchemy import select

        t, c = _tables()["SETTINGS_TABLE"], _tables()["CLOSING_DAYS_TABLE"]
        with self.store.session() as s:
            stored = dict(s.execute(select(t.c.key, t.c.value)
                                    .where(t.c.key.in_(CLOSING_OPTIONS))).all())
            days = s.execute(select(c.c.day, c.c.reason)).all()
        return calendar_from(stored, days)

    def add_closing_day(self, day: dt.date, reason: str = "") -> None:
        from hjemmeprove.security import require

        require(self.store, "closing_days.edit")
        from hjemmeprove.db.models import ClosingDay

        with self.store.session() as s:
            s.merge(ClosingDay(day=day, reason=reason))

    def remove_closing_day(self, day: dt.date) -> None:
        from hjemmeprove.security import require

        require(self.store, "closing_days.edit")
        from hjemmeprove.db.models import ClosingDay

        with self.store.session() as s:
            row = s.get(ClosingDay, day)
            if row is not None:
                s.delete(row)
