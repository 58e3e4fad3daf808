"""ContactService: the day's contact list, consent and preferred channel, marking calls, the
SMS outbox, and which visits' citizens could not be reached (for the planning board).

Every method opens its own short session and returns plain dataclasses (as services/ do).
Rules of who is reminded and how: ``contact/policy.py``; what an SMS may say:
``contact/template.py``; the HTTP POST: ``contact/gateway.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass

from babel.dates import format_date
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from hjemmeprove.contact import gateway, navigation, template
from hjemmeprove.contact.policy import (
    Policy,
    Preference,
    channel_for,
    include,
    number_for,
    visit_dates,
)
from hjemmeprove.db.models import (
    Citizen,
    ContactPreference,
    Department,
    LetterRecord,
    Reminder,
    Request,
    Route,
    SmsMessage,
    Visit,
    utcnow,
)
from hjemmeprove.domain import labels
from hjemmeprove.domain.cpr import mask_cpr
from hjemmeprove.errors import FieldError, ValidationError
from hjemmeprove.fileio import write_all_atomic, write_atomic
from hjemmeprove.security import require
from hjemmeprove.settings import Settings

MARKS = ("reached", "not_reached", "sent", "todo")  # what the coordinator may set by hand
NOT_REACHED = ("not_reached", "failed")  # flagged on the planning board
CSV_DANGER = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ContactRow:
    visit_id: int
    request_id: int
    citizen_id: int
    visit_date: dt.date
    window_start: dt.time | None
    window_end: dt.time | None
    analyst: str
    citizen_name: str
    cpr_masked: str
    phone: str
    channel: str | None  # letter | sms | phone; None: the citizen wants no reminder
    channel_note: str  # why the channel differs from the wish ("intet samtykke til SMS")
    status: str  # labels.REMINDER_STATUSES
    attempts: int
    note: str
    locked: bool
    replied: bool
    lettered: bool
    sms_error: str = ""
    preference: Preference | None = None  # the citizen's newest recorded wish and consent

    @property
    def window_text(self) -> str:
        if self.window_start and self.window_end:
            return f"{self.window_start:%H:%M}-{self.window_end:%H:%M}"
        return ""

    def as_json(self) -> dict:
        return {"visit": self.visit_id, "request": self.request_id,
                "visit_date": self.visit_date, "window": [self.window_start, self.window_end],
                "analyst": self.analyst, "citizen": self.citizen_name, "cpr": self.cpr_masked,
                "phone": self.phone, "channel": self.channel, "channel_note": self.channel_note,
                "status": self.status, "attempts": self.attempts, "note": self.note,
                "locked": self.locked, "replied": self.replied, "lettered": self.lettered,
                "sms_error": self.sms_error,
                "preference": None if self.preference is None else {
                    "channel": self.preference.channel,
                    "sms_consent": self.preference.sms_consent,
                    "mobile": self.preference.mobile,
                    "recorded_on": self.preference.recorded_on}}


@dataclass(frozen=True)
class ContactList:
    day: dt.date
    first: dt.date | None  # visit dates covered (None on a closed day)
    last: dt.date | None
    closed: str | None  # why ``day`` is not a working day
    policy: Policy
    rows: list[ContactRow]

    def as_json(self) -> dict:
        return {"date": self.day, "visit_dates": [self.first, self.last], "closed": self.closed,
                "policy": {"channel": self.policy.channel,
                           "days_before": self.policy.days_before,
                           "remind_lettered": self.policy.remind_lettered},
                "rows": [r.as_json() for r in self.rows]}


@dataclass(frozen=True)
class SendSummary:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    errors: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {"sent": self.sent, "delivered": self.delivered, "failed": self.failed,
                "errors": list(self.errors)}


def date_text(day: dt.date) -> str:
    """'tirsdag den 5. marts' (the SMS's {dato})."""
    return format_date(day, "EEEE 'den' d. MMMM", locale="da_DK")


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_DANGER) else text


def csv_bytes(header: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(header)
    for row in rows:
        w.writerow([safe_cell(c) for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


class ContactService:
    def __init__(self, store):
        self.store = store
        self.settings = Settings(store)

    # --- policy and preferences ----------------------------------------------------------

    def policy(self) -> Policy:
        v = self.settings.all()
        return Policy(channel=v["contact.channel"], days_before=int(v["contact.days_before"]),
                      remind_lettered=bool(v["contact.remind_lettered"]))

    def preference(self, citizen_id: int) -> Preference | None:
        with self.store.session() as s:
            return _preferences(s, {citizen_id}).get(citizen_id)

    def set_preference(self, request_id: int, channel: str = "", sms_consent: bool = False,
                       mobile: str = "", on: dt.date | None = None, note: str = "") -> int:
        """Records the citizen's consent and wish, from ``on`` (today), on the citizen of the
        request (kept with the request's id). Returns the citizen's id."""
        errors = []
        if channel not in labels.PREFERENCE_CHANNEL:
            errors.append(FieldError("kanal", f"'{channel}' er ikke et af valgene: "
                                     + ", ".join(c for c in labels.PREFERENCE_CHANNEL if c)))
        mobile = (mobile or "").strip()
        if mobile and not _phone_ok(mobile):
            errors.append(FieldError("mobilnummer", f"'{mobile}' er ikke et telefonnummer"))
        if errors:
            raise ValidationError(errors)
        require(self.store, "requests.edit")
        with self.store.session() as s:
            req = s.get(Request, request_id)
            if req is None:
                raise ValidationError(f"henvisning {request_id} findes ikke", "henvisning")
            if channel == "sms" and not sms_consent:
                raise ValidationError("SMS kræver borgerens samtykke", "samtykke")
            s.add(ContactPreference(citizen_id=req.citizen_id, request_id=req.id,
                                    channel=channel, sms_consent=sms_consent, mobile=mobile,
                                    recorded_on=on or dt.date.today(),
                                    recorded_by=self.store.user, note=note[:200]))
            return req.citizen_id

    # --- the day's list ------------------------------------------------------------------

    def day_list(self, day: dt.date) -> ContactList:
        policy = self.policy()
        cal = self.settings.calendar()
        span = visit_dates(cal, day, policy.days_before)
        if span is None:
            return ContactList(day, None, None, cal.why_closed(day), policy, [])
        first, last = span
        with self.store.session() as s:
            rows = self._rows(s, day, first, last, policy)
        return ContactList(day, first, last, None, policy, rows)

    def _rows(self, s: Session, day: dt.date, first: dt.date, last: dt.date,
              policy: Policy) -> list[ContactRow]:
        visits = list(s.scalars(
            select(Visit).options(joinedload(Visit.request).joinedload(Request.citizen),
                                  joinedload(Visit.route).joinedload(Route.bioanalyst))
            .join(Request, Visit.request_id == Request.id)
            .where(Visit.date.between(first, last), Visit.route_id.is_not(None),
                   Visit.outcome.is_(None), Request.status.in_(("planned", "locked")))
            .order_by(Visit.date, Visit.route_id, Visit.sequence)).unique())
        if not visits:
            return []
        keys = {(v.request_id, v.date) for v in visits}
        req_ids = {k[0] for k in keys}
        reminders = {(r.request_id, r.visit_date): r for r in s.scalars(
            select(Reminder).where(Reminder.request_id.in_(req_ids),
                                   Reminder.visit_date.between(first, last)))}
        letters = {(r.request_id, r.visit_date) for r in s.scalars(
            select(LetterRecord).where(LetterRecord.request_id.in_(req_ids)))}
        outbox = {m.reminder_id: m for m in s.scalars(
            select(SmsMessage).where(SmsMessage.reminder_id.in_(
                [r.id for r in reminders.values()])))} if reminders else {}
        prefs = _preferences(s, {v.request.citizen_id for v in visits})
        out = []
        for v in visits:
            req, c = v.request, v.request.citizen
            rem = reminders.get((v.request_id, v.date))
            replied = v.reply_sent_at is not None
            lettered = v.locked and replied and (v.request_id, v.date) in letters
            if not include(day, rem.status if rem else None, rem.list_date if rem else None,
                           lettered, policy):
                continue
            pref = prefs.get(c.id)
            channel, why = channel_for(policy, pref, c.phone)
            if channel is None and rem is None:
                continue  # asked for no reminder
            msg = outbox.get(rem.id) if rem else None
            if rem is not None and (rem.status != "todo" or msg is not None):
                channel = rem.channel  # what was done (or queued) stays as it was done
            out.append(ContactRow(
                visit_id=v.id, request_id=req.id, citizen_id=c.id, visit_date=v.date,
                window_start=v.window_start or v.planned_arrival,
                window_end=v.window_end or v.planned_arrival,
                analyst=v.route.bioanalyst.name if v.route else "",
                citizen_name=c.name, cpr_masked=mask_cpr(c.cpr),
                phone=rem.phone if rem and rem.phone else number_for(channel, pref, c.phone),
                channel=channel, channel_note=why, status=rem.status if rem else "todo",
                attempts=rem.attempts if rem else 0, note=rem.note if rem else "",
                locked=v.locked, replied=replied, lettered=lettered,
                sms_error=msg.last_error if msg else "", preference=pref))
        return out

    def _row(self, day: dt.date, visit_id: int) -> ContactRow:
        for row in self.day_list(day).rows:
            if row.visit_id == visit_id:
                return row
        raise ValidationError(f"besøg {visit_id} er ikke på kontaktlisten for {day}", "besøg")

    # --- marking -------------------------------------------------------------------------

    def mark(self, visit_id: int, status: str, day: dt.date | None = None,
             note: str = "") -> ContactRow:
        """The coordinator's mark on the day's list: reached / not reached after a call, a
        letter sent, or back to "to do"."""
        if status not in MARKS:
            raise ValidationError(f"'{status}' er ikke et af valgene: {', '.join(MARKS)}",
                                  "status")
        require(self.store, "planning.edit")
        day = day or dt.date.today()
        row = self._row(day, visit_id)
        with self.store.session() as s:
            rem = s.scalar(select(Reminder).where(Reminder.request_id == row.request_id,
                                                  Reminder.visit_date == row.visit_date))
            if rem is None:
                rem = Reminder(request_id=row.request_id, visit_date=row.visit_date,
                               channel=row.channel or "phone", phone=row.phone, attempts=0)
                s.add(rem)
            rem.list_date = day
            rem.status = status
            if status in ("reached", "not_reached"):
                rem.channel = "phone"
                rem.attempts = (rem.attempts or 0) + 1
            if note:
                rem.note = note[:200]
            rem.updated_at = utcnow()
            rem.updated_by = self.store.user
        return self._row(day, visit_id)

    def reminder_letters(self, day: dt.date, path) -> int:
        """The day's reminders by letter: the citizen letters of the list's letter rows still
        to do, in one PDF at ``path``; once the file exists in full they are marked sent."""
        from hjemmeprove.documents import citizen_letter
        from hjemmeprove.services.planning import PlanningService

        require(self.store, "planning.edit")
        rows = [r for r in self.day_list(day).rows if r.channel == "letter" and r.status == "todo"]
        if not rows:
            return 0
        letters = PlanningService(self.store).letters(day, visit_ids=[r.visit_id for r in rows],
                                                      written=day)
        write_atomic(path, citizen_letter.render_many(letters))
        with self.store.session() as s:
            for r in rows:
                rem = s.scalar(select(Reminder).where(Reminder.request_id == r.request_id,
                                                      Reminder.visit_date == r.visit_date))
                if rem is None:
                    rem = Reminder(request_id=r.request_id, visit_date=r.visit_date,
                                   channel="letter", phone="", attempts=0)
                    s.add(rem)
                rem.list_date, rem.channel, rem.status = day, "letter", "sent"
                rem.updated_at, rem.updated_by = utcnow(), self.store.user
        return len(rows)

    def not_reached(self, first: dt.date, last: dt.date) -> dict[int, str]:
        """{visit id: status} of visits in first..last whose citizen was not reached (a call
        not answered, an SMS that failed): the planning board flags them."""
        with self.store.session() as s:
            q = (select(Visit.id, Reminder.status)
                 .join(Reminder, (Reminder.request_id == Visit.request_id)
                       & (Reminder.visit_date == Visit.date))
                 .where(Visit.date.between(first, last), Reminder.status.in_(NOT_REACHED)))
            return {vid: st for vid, st in s.execute(q)}

    # --- SMS -----------------------------------------------------------------------------

    def _message_values(self, s: Session) -> dict[str, str]:
        v = self.settings.all()
        sender = v["sms.sender"]
        if not sender:
            d = s.scalars(select(Department).order_by(Department.id)).first()
            sender = d.hospital if d else ""
        return {"aflys_tlf": v["contact.cancel_phone"], "afsender": sender}

    def queue_sms(self, day: dt.date) -> int:
        """Puts an SMS in the outbox for every row of the day's list whose channel is SMS and
        that has none yet. One transaction: a message that would break the rules for SMS
        (``contact/template.py``) stops the whole batch, naming the visit."""
        require(self.store, "planning.edit")
        rows = [r for r in self.day_list(day).rows if r.channel == "sms" and r.status == "todo"]
        tmpl = self.settings.get("sms.message_template")
        n = 0
        with self.store.session() as s:
            base = self._message_values(s)
            if not base["aflys_tlf"]:
                raise ValidationError("mangler: en SMS skal sige, hvordan man aflyser",
                                      "Telefon for aflysning")
            errors = []
            for r in rows:
                rem = s.scalar(select(Reminder).where(Reminder.request_id == r.request_id,
                                                      Reminder.visit_date == r.visit_date))
                if rem is not None and s.scalar(select(SmsMessage.id).where(
                        SmsMessage.reminder_id == rem.id)):
                    continue
                req = s.get(Request, r.request_id)
                c = s.get(Citizen, req.citizen_id)
                try:
                    text = template.build_message(
                        tmpl, {**base, "dato": date_text(r.visit_date), "tidsrum": r.window_text},
                        never=(c.cpr, c.cpr.replace("-", ""), c.name, c.address,
                               req.address, req.note, req.access_info))
                except ValidationError as e:
                    errors.append(FieldError("SMS-tekst", f"besøg {r.visit_id}: {e}"))
                    continue
                if rem is None:
                    rem = Reminder(request_id=r.request_id, visit_date=r.visit_date,
                                   channel="sms", phone=r.phone, attempts=0)
                    s.add(rem)
                rem.list_date, rem.channel, rem.phone, rem.status = day, "sms", r.phone, "todo"
                rem.updated_at, rem.updated_by = utcnow(), self.store.user
                s.flush()
                s.add(SmsMessage(reminder_id=rem.id, phone=r.phone, text=text, status="queued",
                                 attempts=0, last_error="", gateway_status=""))
                n += 1
            if errors:
                raise ValidationError(errors)
        return n

    def outbox(self, statuses: tuple[str, ...] | None = None) -> list[dict]:
        with self.store.session() as s:
            q = select(SmsMessage, Reminder).join(Reminder, SmsMessage.reminder_id == Reminder.id)
            if statuses:
                q = q.where(SmsMessage.status.in_(statuses))
            return [{"id": m.id, "request": r.request_id, "visit_date": r.visit_date,
                     "phone": m.phone, "text": m.text, "status": m.status,
                     "attempts": m.attempts, "gateway_status": m.gateway_status,
                     "error": m.last_error, "sent_at": m.sent_at}
                    for m, r in s.execute(q.order_by(SmsMessage.id))]

    def dry_run(self, path, day: dt.date | None = None) -> int:
        """Writes the queued messages (of ``day``'s visits, or all) to a CSV instead of
        sending them; they stay queued."""
        msgs = [m for m in self.outbox(("queued",)) if day is None or m["visit_date"] >= day]
        write_atomic(path, csv_bytes(
            ["besked", "henvisning", "besøgsdato", "telefon", "tekst"],
            [[m["id"], m["request"], m["visit_date"].isoformat(), m["phone"], m["text"]]
             for m in msgs]))
        return len(msgs)

    def retry_failed(self) -> int:
        """Failed messages back in the queue (after the number or the gateway was fixed)."""
        require(self.store, "planning.edit")
        with self.store.session() as s:
            res = s.execute(update(SmsMessage).where(SmsMessage.status == "failed")
                            .values(status="queued", last_error=""))
            return res.rowcount or 0

    def send_sms(self, sleep: Callable[[float], None] = time.sleep,
                 config: gateway.GatewayConfig | None = None) -> SendSummary:
        """Sends every queued message through the department's gateway, one POST each
        (retried with back-off), storing each result as it comes. A message is claimed
        (queued → sending) in its own transaction first, so two senders never send it twice."""
        require(self.store, "planning.edit")
        config = config or gateway.GatewayConfig.from_settings(self.settings.all())
        if not config.url:
            raise ValidationError("ingen SMS-gateway er valgt (brug prøvekørsel eller sæt "
                                  "sms.gateway_url)", "SMS-gateway: adresse")
        config.headers()  # a bad authorisation setting stops before anything is claimed
        with self.store.session() as s:
            ids = list(s.scalars(select(SmsMessage.id).where(SmsMessage.status == "queued")
                                 .order_by(SmsMessage.id)))
            base = self._message_values(s)
        counts = {"sent": 0, "delivered": 0, "failed": 0}
        errors = []
        for mid in ids:
            with self.store.session() as s:
                claimed = s.execute(update(SmsMessage).where(SmsMessage.id == mid,
                                                             SmsMessage.status == "queued")
                                    .values(status="sending")).rowcount
                msg = s.get(SmsMessage, mid)
                rem = s.get(Reminder, msg.reminder_id)
                visit = s.scalars(select(Visit).where(Visit.request_id == rem.request_id,
                                                      Visit.date == rem.visit_date)).first()
                window = ""
                if visit is not None and visit.window_start and visit.window_end:
                    window = f"{visit.window_start:%H:%M}-{visit.window_end:%H:%M}"
                values = {**base, "telefon": msg.phone, "besked": msg.text,
                          "reference": f"hp-{msg.id}", "dato": date_text(rem.visit_date),
                          "tidsrum": window}
                # queued earlier: the visit may since have been cancelled, done or moved
                still = (visit is not None and visit.route_id is not None
                         and visit.outcome is None
                         and s.get(Request, rem.request_id).status in ("planned", "locked"))
            if not claimed:
                continue
            if not still:
                result = gateway.SendResult("failed", 0, error="ikke sendt: besøget er aflyst "
                                                               "eller flyttet")
            else:
                try:
                    result = gateway.send(config, values, sleep=sleep)
                except ValidationError as e:
                    result = gateway.SendResult("failed", 0, error=str(e))
            with self.store.session() as s:
                msg = s.get(SmsMessage, mid)
                rem = s.get(Reminder, msg.reminder_id)
                msg.status = result.status
                msg.attempts = (msg.attempts or 0) + result.attempts
                msg.gateway_status = result.gateway_status
                msg.last_error = result.error[:300]
                if result.status != "failed":
                    msg.sent_at = utcnow()
                rem.status = result.status
                rem.attempts = (rem.attempts or 0) + result.attempts
                rem.updated_at, rem.updated_by = utcnow(), self.store.user
            counts[result.status] += 1
            if result.error:
                errors.append(f"besked {mid} til henvisning {rem.request_id}: {result.error}")
        return SendSummary(counts["sent"], counts["delivered"], counts["failed"], tuple(errors))


# --- the route on the bioanalyst's phone ----------------------------------------------------

EXPORT_FORMATS = {"ics": ".ics", "gpx": ".gpx", "links": ".txt"}


def lab_point(store) -> "navigation.Point":
    with store.session() as s:
        d = s.scalars(select(Department).order_by(Department.id)).first()
        if d is None:
            return navigation.Point("Laboratoriet", "")
        return navigation.Point("Laboratoriet", f"{d.lab_address}, {d.lab_postcode} {d.lab_city}",
                                d.lab_lat, d.lab_lon)


def export_routes(store, day: dt.date, fmt: str, out_dir, analyst: str | None = None
                  ) -> list[tuple[object, str]]:
    """Writes one file per route of ``day`` (ICS, GPX or a text file of links) into
    ``out_dir``; returns (path, content as text) per route."""
    from pathlib import Path

    from hjemmeprove.services.planning import PlanningService

    if fmt not in EXPORT_FORMATS:
        raise ValidationError(f"'{fmt}' er ikke et af valgene: {', '.join(EXPORT_FORMATS)}",
                              "format")
    routes = [r for r in PlanningService(store).routes(day, day)
              if not analyst or str(r.analyst_id) == analyst
              or r.analyst.lower() == analyst.lower()]
    if not routes:
        raise ValidationError(f"ingen ruter {day}", "dato")
    lab = lab_point(store)
    files = {}
    for r in routes:
        data = {"ics": lambda: navigation.ics(r), "gpx": lambda: navigation.gpx(r, lab),
                "links": lambda: navigation.links_text(r, lab).encode("utf-8")}[fmt]()
        slug = "".join(ch if ch.isalnum() else "_" for ch in r.analyst)
        files[Path(out_dir) / f"rute-{day}-{slug}{EXPORT_FORMATS[fmt]}"] = data
    written = write_all_atomic(files)
    return [(p, files[p].decode("utf-8")) for p in written]


def erase_contact_data(s: Session, citizen_ids: list[int], request_ids: list[int]) -> None:
    """Retention (services/retention.py): the erased citizens' numbers, notes and SMS texts go;
    dates, channels and statuses stay (they are not personal data on their own)."""
    from hjemmeprove.domain.constants import ERASED

    for i in range(0, len(citizen_ids), 500):
        chunk = citizen_ids[i:i + 500]
        s.execute(update(ContactPreference).where(ContactPreference.citizen_id.in_(chunk))
                  .values(mobile="", note=""))
    for i in range(0, len(request_ids), 500):
        chunk = request_ids[i:i + 500]
        reminder_ids = select(Reminder.id).where(Reminder.request_id.in_(chunk))
        s.execute(update(SmsMessage).where(SmsMessage.reminder_id.in_(reminder_ids))
                  .values(phone="", text=ERASED))
        s.execute(update(Reminder).where(Reminder.request_id.in_(chunk))
                  .values(phone="", note="", version=Reminder.version + 1))


def _preferences(s: Session, citizen_ids: set[int]) -> dict[int, Preference]:
    if not citizen_ids:
        return {}
    out: dict[int, Preference] = {}
    q = (select(ContactPreference).where(ContactPreference.citizen_id.in_(citizen_ids))
         .order_by(ContactPreference.recorded_on, ContactPreference.id))
    for p in s.scalars(q):  # the newest wins
        out[p.citizen_id] = Preference(p.channel, p.sms_consent, p.mobile, p.recorded_on)
    return out


def _phone_ok(text: str) -> bool:
    digits = "".join(ch for ch in text if ch.isdigit())
    return 8 <= len(digits) <= 15 and all(ch.isdigit() or ch in "+ -()" for ch in text)
