"""Booking requests and cancellations: create, edit, cancel, list, history.

Returns plain dataclasses (RequestRow, RequestDetail), never ORM objects, so the UI and the CLI
never hold a Session.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import asdict, dataclass, field, replace

from sqlalchemy import (ARRAY, Column, Integer, String, Text, and_, any_, case, column, except_,
                        false, func, literal, literal_column, or_, select, table, true, tuple_,
                        union)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.selectable import Join
from sqlalchemy.sql.visitors import replacement_traverse

from hjemmeprove.db.models import (
    CANCEL_CHANNELS,
    PG_SEARCH_COPY,
    REQUEST_STATUSES,
    Agreement,
    AuditEntry,
    Cancellation,
    Citizen,
    IntakeMessage,
    Invoice,
    InvoiceItem,
    Municipality,
    Request,
    Visit,
)
from hjemmeprove.domain import formats, labels
from hjemmeprove.domain.cpr import cpr_digits, mask_cpr
from hjemmeprove.domain.labels import ACTIVE_STATUSES, channel_label
from hjemmeprove.domain.lifecycle import settle, uncancel_refusal
from hjemmeprove.domain.postcodes import town_postcodes
from hjemmeprove.domain.request_input import RequestInput, parse_request
from hjemmeprove.errors import ConflictError, FieldError, NotFound, ValidationError
from hjemmeprove.security import require
from hjemmeprove.services import history as history_text
from hjemmeprove.settings import Settings

LATE_CANCELLATION = dt.timedelta(hours=24)  # §6

# The columns a list can be sorted on (``RequestService.list(sort=...)``). The id always
# follows as a tiebreaker so that pages of a sorted list neither overlap nor skip.
SORT_KEYS = ("id", "cpr", "name", "municipality", "received", "deadline", "status", "planned",
             "address", "ekg", "late")
DEFAULT_SORT = "deadline"


@dataclass(frozen=True)
class RequestRow:
    id: int
    cpr_masked: str
    citizen_name: str
    municipality: str
    municipality_code: int
    received: dt.date
    deadline: dt.date
    status: str
    address: str
    ekg: bool
    late_cancellation: bool
    planned_date: dt.date | None


@dataclass(frozen=True)
class RequestDetail:
    id: int
    version: int
    cpr: str
    name: str
    address: str
    postcode: str
    city: str
    municipality_code: int
    received: dt.date
    deadline: dt.date
    status: str
    sampling_address: str
    sampling_postcode: str
    sampling_city: str
    access_info: str
    presence_required: str
    identity_check: str
    ekg: bool
    requester: str
    preferred_days: str
    earliest: dt.date | None
    window_start: dt.time | None
    window_end: dt.time | None
    stability_minutes: int | None
    note: str
    not_eligible_reason: str
    lat: float | None
    lon: float | None
    cancellations: tuple = ()
    flags: str = ""
    position_quality: str = ""


# What saving a request may need the user's explicit yes for (``confirm=`` of create/update,
# the form's question, the import's flags). The code is stored in ``Request.flags``.
CONFIRMATIONS = {
    "citizen_changed": "opdatér den gemte borger (navn, adresse, telefon)",
    "duplicate": "borgeren har allerede en åben henvisning fra samme kommune",
    "deadline_passed": "fristen er allerede overskredet",
}


class NeedsConfirmation(ValidationError):
    """Saving needs an explicit yes: ``codes`` (keys of CONFIRMATIONS) and one FieldError per
    question, naming the row and field. Pass the codes as ``confirm=`` to save anyway."""

    def __init__(self, errors: list[FieldError], codes: set[str]):
        super().__init__(errors)
        self.codes = set(codes)


@dataclass(frozen=True)
class StoredCitizen:
    """The citizen a CPR already belongs to, as the form shows it."""
    cpr: str
    name: str
    address: str
    postcode: str
    city: str
    phone: str
    lat: float | None
    lon: float | None
    open_requests: tuple = ()  # (request id, municipality code, received) still active


@dataclass(frozen=True)
class CancellationResult:
    request_id: int
    late: bool
    visit_start: dt.datetime | None
    channel: str


@dataclass(frozen=True)
class UncancelResult:
    """A cancellation undone: the request's status now, and the late-cancelled visit made
    active again in its (locked) day and window, if there was one."""
    request_id: int
    status: str
    visit_date: dt.date | None = None
    window_start: dt.time | None = None
    window_end: dt.time | None = None


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime  # local time
    user: str
    table: str
    action: str
    before: dict  # the raw stored values (column -> value), as the audit trail keeps them
    after: dict
    what: str = ""  # "Henvisning ændret" (services/history.py)
    changes: tuple = ()  # (field label, before, after) in the words the screen uses


class RequestService:
    def __init__(self, store):
        self.store = store
        self.settings = Settings(store)

    # --- create and edit -------------------------------------------------------------------

    def validate(self, values: dict[str, str], today: dt.date | None = None,
                 row: int | None = None, session: Session | None = None):
        """All problems with one request, each naming its field; nothing is written."""
        data, errors = parse_request(values, today=today, row=row)
        if not errors:
            if session is None:
                with self.store.session() as s:
                    errors += self._check_agreement(s, data, row)
            else:
                errors += self._check_agreement(session, data, row)
        return data, errors

    def create(self, values: dict[str, str], today: dt.date | None = None,
               confirm=None) -> int:
        """Saves a new request. Raises NeedsConfirmation when the CPR's stored citizen differs
        from the form, or the citizen has an open request from the same municipality, unless
        the matching codes are in ``confirm``. A deadline already passed is asked about too
        when the caller can ask (``confirm`` given: the form, the import); a caller that
        cannot (``confirm=None``: scripts) gets it flagged on the request."""
        today = today or dt.date.today()
        try:
            with self.store.session() as s:
                data, errors = self.validate(values, today=today, session=s)
                if errors:
                    raise ValidationError(errors)
                questions = self.questions(s, data, today)
                _ask(questions, {"deadline_passed"} if confirm is None else confirm)
                return self.add_validated(s, data, flags={c for c, _ in questions},
                                          update_citizen="citizen_changed" in set(confirm or ())
                                          ).id
        except IntegrityError:  # the same CPR saved by someone else meanwhile: never print
            raise ConflictError(  # the database's message (it carries that row's values)
                "En anden har gemt samme borger samtidig; intet er gemt. Gem igen for at se "
                "den gemte borger.") from None

    def stored_citizen(self, cpr: str) -> StoredCitizen | None:
        """The citizen a (possibly half-typed, full-width) CPR belongs to, or None."""
        try:
            from hjemmeprove.domain.cpr import normalise_cpr
            cpr = normalise_cpr(cpr)
        except ValueError:
            return None
        with self.store.session() as s:
            c = s.scalar(select(Citizen).where(Citizen.cpr == cpr))
            if c is None or c.erased_at is not None:
                return None
            rows = s.execute(select(Request.id, Municipality.code, Request.received)
                             .join(Municipality, Request.municipality_id == Municipality.id)
                             .where(Request.citizen_id == c.id,
                                    Request.status.in_(ACTIVE_STATUSES))
                             .order_by(Request.id)).all()
            return StoredCitizen(c.cpr, c.name, c.address, c.postcode, c.city, c.phone,
                                 c.lat, c.lon, tuple(tuple(r) for r in rows))

    def questions(self, s: Session, data: RequestInput, today: dt.date, row: int | None = None,
                  request_id: int | None = None, seen: dict | None = None
                  ) -> list[tuple[str, FieldError]]:
        """What saving ``data`` needs an explicit yes for, each naming its field (never showing
        another citizen's data: only the stored citizen of this very CPR). ``seen`` holds the
        earlier rows of the same import: cpr → (citizen fields, municipality codes)."""
        out: list[tuple[str, FieldError]] = []
        citizen = s.scalar(select(Citizen).where(Citizen.cpr == data.cpr))
        mine = (_fold(data.name), _fold(data.address), data.postcode, _fold(data.city))
        if citizen is not None:
            stored = (_fold(citizen.name), _fold(citizen.address), citizen.postcode,
                      _fold(citizen.city))
            changed = _changed_fields(stored, mine)
            if data.phone and citizen.phone and _fold(data.phone) != _fold(citizen.phone):
                changed.append("telefon")
            if changed:
                out.append(("citizen_changed", FieldError(
                    changed[0], "CPR-nummeret tilhører en gemt borger, og "
                    f"{', '.join(changed)} afviger fra det gemte (gemt: {citizen.name}, "
                    f"{citizen.address}, {citizen.postcode} {citizen.city}); bekræft for at "
                    "opdatere borgeren. Tidligere henvisninger beholder deres adresse", row)))
        if seen is not None and data.cpr in seen:
            earlier, codes = seen[data.cpr]
            changed = _changed_fields(earlier, mine)
            if changed and not any(c == "citizen_changed" for c, _ in out):
                out.append(("citizen_changed", FieldError(
                    changed[0], f"samme CPR som en tidligere række, men {', '.join(changed)} "
                    "afviger", row)))
        dup_q = (select(Request.id).join(Municipality, Request.municipality_id == Municipality.id)
                 .join(Citizen, Request.citizen_id == Citizen.id)
                 .where(Citizen.cpr == data.cpr, Municipality.code == data.municipality,
                        Request.status.in_(("open", "planned", "locked"))))
        if request_id is not None:
            dup_q = dup_q.where(Request.id != request_id)
        dup = s.scalars(dup_q.order_by(Request.id)).first()
        if dup is None and seen is not None and data.cpr in seen \
                and data.municipality in seen[data.cpr][1]:
            dup = "en tidligere række"
        if dup is not None:
            which = f"henvisning {dup}" if isinstance(dup, int) else dup
            out.append(("duplicate", FieldError(
                "cpr", f"borgeren har allerede en åben henvisning fra samme kommune ({which}); "
                "bekræft, hvis det er en ny henvisning", row)))
        if seen is not None:
            seen.setdefault(data.cpr, (mine, set()))[1].add(data.municipality)
        if data.received is not None:
            deadline = self.settings.calendar().deadline(data.received)
            if deadline < today:
                out.append(("deadline_passed", FieldError(
                    "modtaget", f"fristen ({formats.date(deadline)}) er allerede overskredet; "
                    "bekræft for at oprette henvisningen alligevel (den markeres)", row)))
        return out

    def add_validated(self, s: Session, data: RequestInput, calendar=None, flags=(),
                      update_citizen: bool = False) -> Request:
        """Adds one already-validated request inside the caller's session (used by import).

        A known CPR keeps its stored citizen; a different name, address or phone is refused
        unless ``update_citizen`` (an explicit, audited change that never moves earlier
        requests: each keeps the address it was booked with)."""
        if not s.info.get("may_edit_requests"):
            require(self.store, "requests.edit")
            s.info["may_edit_requests"] = True
        agreement = self._agreement_for(s, data.municipality, data.received)
        citizen = self._citizen(s, data, update_citizen)
        calendar = calendar or self.settings.calendar()  # a bulk caller passes one
        req = Request(
            citizen=citizen,
            municipality_id=agreement.municipality_id,
            department_id=agreement.department_id,
            agreement_id=agreement.id,
            received=data.received,
            deadline=calendar.deadline(data.received),
            created_by=s.info.get("user", ""),
            flags=",".join(sorted(set(flags))),
        )
        _apply(req, data, citizen)
        s.add(req)
        s.flush()
        return req

    def update(self, request_id: int, expected_version: int, values: dict[str, str],
               today: dt.date | None = None, confirm=None) -> None:
        """Saves an edit made on ``expected_version``; refused if someone saved in between."""
        require(self.store, "requests.edit")
        today = today or dt.date.today()
        try:
            with self.store.session() as s:
                req = s.get(Request, request_id, with_for_update=not self.store.is_sqlite)
                if req is None:
                    raise NotFound(f"henvisning {request_id} findes ikke")
                if req.version != expected_version:
                    raise self._conflict(req)
                if req.status in ("cancelled", "done"):
                    raise ValidationError(f"henvisningen er {status_label(req.status)} og kan "
                                          "ikke ændres", "status")
                data, errors = self.validate(values, today=today, session=s)
                if errors:
                    raise ValidationError(errors)
                questions = [(c, e) for c, e in self.questions(s, data, today,
                                                               request_id=request_id)
                             if not (c == "deadline_passed" and (
                                 data.received == req.received or c in req.flags))]
                _ask(questions, {"deadline_passed"} if confirm is None else confirm)
                agreement = self._agreement_for(s, data.municipality, data.received)
                req.municipality_id = agreement.municipality_id
                req.agreement_id = agreement.id
                req.department_id = agreement.department_id
                req.received = data.received
                req.deadline = self.settings.calendar().deadline(data.received)
                req.citizen = self._citizen(s, data, "citizen_changed" in set(confirm or ()))
                flags = set(filter(None, req.flags.split(","))) | {c for c, _ in questions}
                req.flags = ",".join(sorted(flags))
                _apply(req, data, req.citizen)
        except StaleDataError:
            with self.store.session() as s:
                raise self._conflict(s.get(Request, request_id)) from None

    def _conflict(self, req: Request) -> ConflictError:
        fresh = asdict(_detail(req))
        fresh.pop("cancellations", None)
        return ConflictError(
            "Henvisningen er ændret af en anden, mens du redigerede. "
            "Dine ændringer er ikke gemt; de nye værdier er vist.",
            fresh,
        )

    def mark_not_eligible(self, request_id: int, reason: str) -> None:
        require(self.store, "requests.edit")
        if not reason.strip():
            raise ValidationError("skal udfyldes", "begrundelse")
        with self.store.session() as s:
            req = self._get(s, request_id)
            if req.status in ("done", "cancelled"):
                raise ValidationError(f"henvisningen er {status_label(req.status)}", "status")
            req.not_eligible_reason = reason.strip()
            for visit in s.scalars(select(Visit).where(Visit.request_id == request_id,
                                                       Visit.outcome.is_(None))):
                s.delete(visit)
            s.flush()
            settle(req, s.scalars(select(Visit).where(Visit.request_id == request_id)))

    # --- cancellation -----------------------------------------------------------------------

    def cancel(self, request_id: int, at: dt.datetime, by: str, channel: str,
               note: str = "", now: dt.datetime | None = None,
               route_changed=None) -> CancellationResult:
        """§6: record who, when, channel; late when under 24 h before the locked window.

        A cancelled visit leaves its route. A late one is kept as outcome ``cancelled_late``
        (off the route) so that it shows on the statement; it is billed only if the agreement
        lists that outcome as billable.
        """
        require(self.store, "requests.cancel")
        errors = []
        if not by.strip():
            errors.append(FieldError("aflyst af", "skal udfyldes"))
        if channel not in CANCEL_CHANNELS:
            errors.append(FieldError("kanal", "skal være " + " eller ".join(
                f"{channel_label(c).lower()} ({c})" for c in CANCEL_CHANNELS)))
        if not isinstance(at, dt.datetime):
            errors.append(FieldError("tidspunkt", "skal være et tidspunkt (dato og klokkeslæt)"))
        elif at.tzinfo is not None:
            errors.append(FieldError("tidspunkt", "skal være lokal tid uden tidszone"))
        elif at > (now or dt.datetime.now()):
            errors.append(FieldError("tidspunkt", f"{formats.datetime(at)} ligger i fremtiden"))
        if errors:
            raise ValidationError(errors)
        # the request row is locked first (a plan being written waits, or is waited for)
        with self.store.session(write=True) as s:
            req = s.get(Request, request_id, with_for_update=not self.store.is_sqlite)
            if req is None:
                raise NotFound(f"henvisning {request_id} findes ikke")
            if req.status in ("cancelled", "done", "not_eligible"):
                raise ValidationError(
                    f"henvisning {request_id} er allerede {status_label(req.status)}", "status")
            visit = s.scalars(select(Visit).where(Visit.request_id == request_id,
                                                  Visit.outcome.is_(None))).first()
            start = _visit_start(visit)
            # a cancellation lies between the receipt and the end of the visit
            if at < dt.datetime.combine(req.received, dt.time(0)):
                raise ValidationError(f"{formats.datetime(at)} ligger før henvisningen blev "
                                      f"modtaget ({formats.date(req.received)})", "tidspunkt")
            end = _visit_end(visit)
            if end is not None and at > end:
                raise ValidationError(f"{formats.datetime(at)} ligger efter besøget "
                                      f"({formats.datetime(end)}); registrér et udfald i "
                                      "stedet", "tidspunkt")
            late = bool(visit is not None and visit.locked and start is not None
                        and at > start - LATE_CANCELLATION)
            left_route = visit.route_id if visit is not None else None
            if visit is not None:  # the visit leaves first: the schema allows no active
                if late:           # visit next to a cancellation
                    visit.outcome = "cancelled_late"
                    visit.route_id = None
                else:
                    s.delete(visit)
                s.flush()
                if route_changed is not None and left_route is not None:
                    route_changed(s, left_route)  # e.g. the route's km, in this transaction
            s.add(Cancellation(request=req, at=at, by=by.strip(), channel=channel, late=late,
                               visit_start=start, recorded_by=s.info.get("user", ""),
                               note=note))
            settle(req, s.scalars(select(Visit).where(Visit.request_id == request_id)))
            return CancellationResult(request_id, late, start, channel)

    def uncancel(self, request_id: int, today: dt.date | None = None) -> UncancelResult:
        """Undoes a recorded cancellation while ``lifecycle.uncancel_refusal`` allows it (else
        a ValidationError naming "aflysning" with the reason). One transaction, audited like
        every change: the cancellation row goes (the audit trail keeps it), a late
        cancellation's kept visit becomes active again in its day and window (still locked,
        off the route until the next plan), a message that asked for the cancellation is
        back in the inbox as not handled, and the status follows (``settle``). Not re-planned
        here: the caller plans (the desktop re-plans the visit's day)."""
        require(self.store, "requests.cancel")
        today = today or dt.date.today()
        with self.store.session(write=True) as s:
            req = s.get(Request, request_id, with_for_update=not self.store.is_sqlite)
            if req is None:
                raise NotFound(f"henvisning {request_id} findes ikke")
            cancellations = sorted(req.cancellations, key=lambda c: c.id)
            last = cancellations[-1] if cancellations else None
            visit = None
            if last is not None and last.late:
                visit = s.scalars(select(Visit).where(Visit.request_id == request_id,
                                                      Visit.outcome == "cancelled_late")
                                  .order_by(Visit.id.desc())).first()
            if visit is not None:
                visit_day = visit.date
            else:
                visit_day = last.visit_start.date() if last and last.visit_start else None
            billed = visit is not None and (visit.shares_locked or s.scalar(
                select(func.count(InvoiceItem.id)).join(
                    Invoice, InvoiceItem.invoice_id == Invoice.id)
                .where(InvoiceItem.visit_id == visit.id, Invoice.status == "issued")) > 0)
            replied = last is not None and self._replied_since(s, request_id, last)
            why = uncancel_refusal(status_code=req.status, recorded=last is not None,
                                   visit_day=visit_day, today=today, replied=replied,
                                   billed=billed)
            if why:
                raise ValidationError(f"aflysningen kan ikke fortrydes: {why}", "aflysning")
            for c in cancellations:  # first: the schema allows no active visit next to one
                s.delete(c)
            s.flush()
            if visit is not None:
                visit.outcome = None
                visit.outcome_note = ""
            for m in s.scalars(select(IntakeMessage).where(
                    IntakeMessage.request_id == request_id,
                    IntakeMessage.handled == "cancellation")):
                m.request_id, m.handled = None, ""
            s.flush()
            s.expire(req, ["cancellations"])
            status = settle(req, s.scalars(select(Visit).where(Visit.request_id == request_id)))
            return UncancelResult(request_id, status, visit.date if visit else None,
                                  visit.window_start if visit else None,
                                  visit.window_end if visit else None)

    @staticmethod
    def _replied_since(s: Session, request_id: int, cancellation: Cancellation) -> bool:
        """Whether a reply about the request went to the municipality after the cancellation
        was recorded (the audit trail's time of its insert; without it, any reply counts)."""
        recorded = s.scalar(select(func.min(AuditEntry.at)).where(
            AuditEntry.table_name == "cancellations",
            AuditEntry.row_key == str(cancellation.id), AuditEntry.action == "insert"))
        q = select(func.count(IntakeMessage.id)).where(IntakeMessage.request_id == request_id,
                                                       IntakeMessage.direction == "out")
        if recorded is not None:
            q = q.where(IntakeMessage.received_at >= recorded)
        return s.scalar(q) > 0

    # --- reading ----------------------------------------------------------------------------

    def get(self, request_id: int) -> RequestDetail:
        with self.store.session() as s:
            return _detail(self._get(s, request_id))

    def list(self, search: str = "", status: str | tuple[str, ...] | None = None,
             municipality_code: int | None = None, deadline_within_days: int | None = None,
             late_cancellations: bool = False, today: dt.date | None = None,
             offset: int = 0, limit: int | None = None, sort: str = DEFAULT_SORT,
             descending: bool = False) -> list[RequestRow]:
        """One page of requests by position (``offset``); ``page`` pages by key and stays fast
        at any depth. ``status`` is one status or a tuple of them (``ACTIVE_STATUSES`` for the
        open, planned and locked ones). ``sort`` is one of ``SORT_KEYS``; CPR sorts on the
        stored number (shown masked), status in its life-cycle order, a missing planned date
        last in both directions. The id follows in the same direction as a tiebreaker."""
        order = _order_by(sort, descending)
        with self.store.session() as s:
            q = self._list_query(s, search=search, status=status,
                                 municipality_code=municipality_code,
                                 deadline_within_days=deadline_within_days,
                                 late_cancellations=late_cancellations, today=today)
            q = q.order_by(*order).offset(offset)
            if limit is not None:
                q = q.limit(limit)
            return [_row(*r[:_ROW_COLUMNS]) for r in s.execute(q)]

    def page(self, search: str = "", status: str | tuple[str, ...] | None = None,
             municipality_code: int | None = None, deadline_within_days: int | None = None,
             late_cancellations: bool = False, today: dt.date | None = None,
             sort: str = DEFAULT_SORT, descending: bool = False,
             after: ListCursor | None = None, limit: int = 200) -> RequestPage:
        """One page of requests by key: the rows that follow ``after`` (the previous page's
        ``next``; None for the first page) in the order ``list`` gives, with the filters of
        ``list``. Each page is a range of an index on (sort key, id), so the 500th page costs
        what the first does. ``next`` is None after the last page."""
        if limit < 1:
            raise ValidationError("skal være mindst 1", "antal")
        segments = _segments(sort, descending, _statuses(status))
        if after is not None and (after.sort, after.descending) != (sort, descending):
            raise ValidationError("siden hører til en anden sortering", "sortering")
        first = after.segment if after is not None else 0
        rows: list = []
        filters = dict(search=search, status=status, municipality_code=municipality_code,
                       deadline_within_days=deadline_within_days,
                       late_cancellations=late_cancellations, today=today)
        direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
        with self.store.session() as s:
            term = _term(search)
            clauses = None
            gathered = None
            pg_search = bool(term) and not _short_text(term) \
                and s.get_bind().dialect.name == "postgresql"
            if pg_search:
                gathered = _pg_gather(s, self._filters(s, **{**filters, "search": ""}),
                                      _search_condition(s, term), segments, first, after,
                                      descending, limit)
            # a PostgreSQL search's list sorted by CPR or name sorts on the request row's
            # copies (migration 0011: the same values): no join of the citizens to walk
            stored = bool(term) and s.get_bind().dialect.name == "postgresql"
            if stored:
                segments = [(w, tuple(_stored_key(k) for k in keys)) for w, keys in segments]
            if gathered is not None:  # the page, in one statement
                rows = gathered
            elif pg_search:  # common, or more than GATHER_LIMIT match: checked per row
                filters["search"] = _RowCheck(term)
                narrow = _narrow(s, self._filters(s, **{**filters, "search": ""}))
            elif term and _short_text(term):  # checked per row: narrow if the rest is
                narrow = _narrow(s, self._filters(s, **{**filters, "search": ""}))
            elif term and (ids := _lookup(s, term)) is None:  # many matches: checked per row
                filters["search"] = _RowCheck(term)
                narrow = _narrow(s, self._filters(s, **{**filters, "search": ""}))
            elif term:  # looked up once in the indexes; up to GATHER_LIMIT ids passed on
                # a few thousand: gathered and sorted; more: the list walked in its order,
                # each row's id probed in the found ones (unless the rest is narrow). Only
                # SQLite comes here: PostgreSQL gathers in one statement (``_pg_gather``)
                gather = SEARCH_GATHER
                if len(ids) <= GATHER_LIMIT:
                    filters["search"] = ids if len(ids) <= gather else _Probe(ids)
                narrow = len(ids) <= gather or _narrow(
                    s, self._filters(s, **{**filters, "search": ""}))
            else:
                clauses = self._filters(s, **filters)
                narrow = _narrow(s, clauses)
            # few rows: gathered through the filters' indexes and sorted; many: read in the
            # sort key's order through its index, the filters only checked
            walk = gathered is None and not narrow
            if clauses is None and gathered is None:
                clauses = self._filters(s, **filters)
            if walk:
                clauses = self._filters(s, **filters, walk=True)
            for i in range(first, len(segments) if gathered is None else 0):
                where, keys = segments[i]
                inner = (select(Request.id, *(k.label(f"k{j}") for j, k in enumerate(keys)))
                         .select_from(_key_source(sort, walk, stored)).where(*clauses))
                if where is not None:
                    inner = inner.where(where)
                if after is not None and i == after.segment:
                    inner = inner.where(_after(keys, after, descending))
                inner = (inner.order_by(*(direction(k) for k in keys), direction(Request.id))
                         .limit(limit - len(rows)).subquery())
                inner_keys = [inner.c[f"k{j}"] for j in range(len(keys))]
                q = (select(*_LIST_COLUMNS, *inner_keys)
                     .join(inner, inner.c.id == Request.id)
                     .join(Citizen, Request.citizen_id == Citizen.id)
                     .join(Municipality, Request.municipality_id == Municipality.id)
                     .order_by(*(direction(k) for k in inner_keys), direction(inner.c.id)))
                rows += [(i, r) for r in s.execute(q)]
                if len(rows) >= limit:
                    break
        out = [_row(*r[:_ROW_COLUMNS]) for _i, r in rows]
        nxt = None
        if len(rows) == limit:
            i, last = rows[-1]
            nxt = ListCursor(sort, descending, i, tuple(last[_ROW_COLUMNS:]), last[0])
        return RequestPage(out, nxt)

    def cursor_for(self, request_id: int, sort: str = DEFAULT_SORT, descending: bool = False,
                   status: str | tuple[str, ...] | None = None) -> ListCursor:
        """The cursor of ``page`` that continues after this request (e.g. to resume a list
        where a row is)."""
        segments = _segments(sort, descending, _statuses(status))
        with self.store.session() as s:
            row = s.execute(select(*_LIST_COLUMNS)
                            .join(Citizen, Request.citizen_id == Citizen.id)
                            .join(Municipality, Request.municipality_id == Municipality.id)
                            .where(Request.id == request_id)).first()
            if row is None:
                raise NotFound(f"henvisning {request_id} findes ikke")
            for i, (where, keys) in enumerate(segments):
                if where is None or s.scalar(select(where).where(Request.id == request_id)):
                    return ListCursor(sort, descending, i, tuple(_key_values(keys, row)),
                                      request_id)
        raise NotFound(f"henvisning {request_id} er ikke i listen")

    def count(self, **filters) -> int:
        """The exact number of requests the list shows under ``filters``."""
        with self.store.session() as s:
            term = _term(filters.get("search"))
            pg = s.get_bind().dialect.name == "postgresql"
            if term and (pg or not _short_text(term)):
                clauses = self._filters(s, **{**filters, "search": ""})
                if not clauses and not cpr_digits(term).isdigit():
                    return _pg_text_count(s, term) if pg else _text_and_rest_count(s, term)
                if pg:
                    # one condition on the request row, each match counted once as PostgreSQL
                    # reads it (a bitmap of the search's and the filters' indexes); as a
                    # union of lookups in two tables, 58,000 ids were hashed
                    return s.scalar(select(func.count()).select_from(Request)
                                    .where(_row_condition(s, term), *clauses))
            # SQLite: one count over the union of the lookups (under other filters, or of a
            # number); a short term checked on each row (``_short_condition``), read from the
            # narrow index of what it is checked on (migration 0012), not the table's rows
            return s.scalar(select(func.count()).select_from(Request)
                            .where(*self._filters(s, **filters)))

    def _list_query(self, s: Session, **filters):
        """The list's rows under the filters (unordered)."""
        return (select(*_LIST_COLUMNS)
                .join(Citizen, Request.citizen_id == Citizen.id)
                .join(Municipality, Request.municipality_id == Municipality.id)
                .where(*self._filters(s, **filters)))

    def _filters(self, s: Session, search="", status=None, municipality_code=None,
                 deadline_within_days=None, late_cancellations=False, today=None,
                 walk: bool = False) -> list:
        """The filters as conditions on the requests table alone. ``walk``: the list is read
        in its sort key's order, so the status is only checked (its index unused)."""
        statuses = _statuses(status)
        status_column = Request.status + "" if walk else Request.status
        # walking, the found ids are probed for each row: as an index constraint, SQLite
        # would read the whole list for each citizen of a sort by name (seconds)
        probe = walk or isinstance(search, _Probe)
        id_column = Request.id + 0 if probe else Request.id
        out = []
        term = "" if isinstance(search, list) else _term(search)
        if isinstance(search, list):  # the ids the search found, already looked up
            out.append(_in_ids(s, id_column, search, probe=probe))
        elif isinstance(search, _RowCheck):  # a common term: checked on each row read
            out.append(_search_condition(s, search))
        elif term and _short_text(term):
            out.append(_short_condition(s, term))
        elif term:
            out.append(id_column.in_(_search_ids(s, term)))
        if len(statuses) == 1:
            out.append(status_column == statuses[0])
        elif statuses:
            out.append(status_column.in_(statuses))
        if municipality_code:
            out.append(Request.municipality_id.in_(
                select(Municipality.id).where(Municipality.code == municipality_code)))
        if deadline_within_days is not None:
            limit_day = (today or dt.date.today()) + dt.timedelta(days=deadline_within_days)
            out += [Request.deadline <= limit_day, status_column.in_(ACTIVE_STATUSES)]
        if late_cancellations:
            out.append(Request.late_cancelled.is_(True))
        return out

    def history(self, request_id: int) -> list[HistoryEntry]:
        """The audit trail of a request, its cancellations and its visits, oldest first."""
        with self.store.session() as s:
            cancel_ids = {str(i) for i in s.scalars(
                select(Cancellation.id).where(Cancellation.request_id == request_id))}
            # and the cancellations undone since (their rows are gone; the trail keeps them)
            mine = (f'%"request_id": {int(request_id)},%', f'%"request_id": {int(request_id)}}}%')
            cancel_ids |= set(s.scalars(select(AuditEntry.row_key).where(
                AuditEntry.table_name == "cancellations", AuditEntry.action == "delete",
                or_(*(AuditEntry.before.like(p) for p in mine)))))
            visit_ids = [str(i) for i in s.scalars(
                select(Visit.id).where(Visit.request_id == request_id))]
            q = select(AuditEntry).where(or_(
                and_(AuditEntry.table_name == "requests", AuditEntry.row_key == str(request_id)),
                and_(AuditEntry.table_name == "cancellations", AuditEntry.row_key.in_(cancel_ids)),
                and_(AuditEntry.table_name == "visits", AuditEntry.row_key.in_(visit_ids)),
            )).order_by(AuditEntry.id)
            raw = [(e.at, e.user, e.table_name, e.action, json.loads(e.before or "{}"),
                    json.loads(e.after or "{}")) for e in s.scalars(q)]
            if not raw and s.get(Request, request_id) is None:
                raise NotFound(f"henvisning {request_id} findes ikke")
            entries = [HistoryEntry(formats.local_from_utc(at), user, table, action, before,
                                    after) for at, user, table, action, before, after in raw]
            names = history_text.Names(s, entries)
            return [replace(e, what=history_text.what(e.table, e.action),
                            changes=history_text.changes(e.table, e.action, e.before, e.after,
                                                         names))
                    for e in entries]

    # --- helpers ----------------------------------------------------------------------------

    def _get(self, s: Session, request_id: int) -> Request:
        req = s.get(Request, request_id, options=[joinedload(Request.citizen)])
        if req is None:
            raise NotFound(f"henvisning {request_id} findes ikke")
        return req

    def _check_agreement(self, s: Session, data: RequestInput, row) -> list[FieldError]:
        muni = s.scalar(select(Municipality).where(Municipality.code == data.municipality))
        if muni is None:
            return [FieldError("kommunekode", f"{data.municipality} er ikke en kendt kommune", row)]
        if self._agreement_for(s, data.municipality, data.received, required=False) is None:
            return [FieldError("kommunekode", f"{muni.name} har ingen aftale i kraft "
                               f"{formats.date(data.received)}", row)]
        return []

    def _agreement_for(self, s: Session, code: int, day: dt.date, required: bool = True):
        q = (select(Agreement).join(Municipality)
             .where(Municipality.code == code, Agreement.start <= day,
                    or_(Agreement.end.is_(None), Agreement.end >= day))
             .order_by(Agreement.start.desc()))
        agreement = s.scalars(q).first()
        if agreement is None and required:
            raise ValidationError(f"ingen aftale i kraft {formats.date(day)}", "kommunekode")
        return agreement

    def _citizen(self, s: Session, data: RequestInput, update: bool = False) -> Citizen:
        """One row per CPR. A known citizen is never silently renamed or moved: a different
        name, address or phone is applied only with ``update`` (audited like every change)."""
        citizen = s.scalar(select(Citizen).where(Citizen.cpr == data.cpr))
        if citizen is None:
            citizen = Citizen(cpr=data.cpr, name=data.name, address=data.address,
                              postcode=data.postcode, city=data.city, phone=data.phone)
            if not data.sampling_address and data.lat is not None:
                citizen.lat, citizen.lon, citizen.position_quality = data.lat, data.lon, "exact"
            s.add(citizen)
            return citizen
        stored = (_fold(citizen.name), _fold(citizen.address), citizen.postcode,
                  _fold(citizen.city))
        mine = (_fold(data.name), _fold(data.address), data.postcode, _fold(data.city))
        changed = _changed_fields(stored, mine)
        phone_changed = bool(data.phone and citizen.phone
                             and _fold(data.phone) != _fold(citizen.phone))
        if (changed or phone_changed) and not update:
            raise NeedsConfirmation([FieldError(
                (changed or ["telefon"])[0], "afviger fra den gemte borger med samme CPR; "
                "bekræft for at opdatere borgeren")], {"citizen_changed"})
        moved = (_fold(citizen.address), citizen.postcode) != (_fold(data.address),
                                                               data.postcode)
        if changed:
            citizen.name = data.name
            citizen.address, citizen.postcode, citizen.city = (data.address, data.postcode,
                                                               data.city)
        if data.phone:
            citizen.phone = data.phone
        if not data.sampling_address and data.lat is not None:
            citizen.lat, citizen.lon, citizen.position_quality = data.lat, data.lon, "exact"
        elif moved:
            citizen.lat = citizen.lon = None
            citizen.position_quality = ""
        return citizen


def _fold(text: str) -> str:
    return " ".join((text or "").split()).casefold()


def _changed_fields(stored: tuple, mine: tuple) -> list[str]:
    """Danish names of the fields (name, address, postcode, town) that differ."""
    names = ("navn", "adresse", "postnr", "by")
    return [n for n, a, b in zip(names, stored, mine) if a != b]


def _ask(questions: list[tuple[str, FieldError]], confirm) -> None:
    """Raises NeedsConfirmation for the questions whose code is not confirmed."""
    confirm = set(confirm or ())
    open_ = [(c, e) for c, e in questions if c not in confirm]
    if open_:
        raise NeedsConfirmation([e for _, e in open_], {c for c, _ in open_})


def status_label(status: str) -> str:
    """A status in running text ("aflyst"); the label comes from domain/labels.py."""
    return labels.status_label(status).lower()


def _apply(req: Request, data: RequestInput, citizen: Citizen) -> None:
    """The request's own fields. Its sampling address is stored on the request also when it is
    the registered one, so a later move of the citizen never moves this request."""
    if data.sampling_address:
        req.address_is_registered = False
        req.address, req.postcode, req.city = (data.sampling_address, data.sampling_postcode,
                                               data.sampling_city)
        pos = (data.lat, data.lon, "exact") if data.lat is not None else None
    else:
        same = (_fold(req.address), req.postcode) == (_fold(data.address), data.postcode)
        keep = (req.lat, req.lon, req.position_quality) if (
            req.address_is_registered and same and req.lat is not None) else None
        req.address_is_registered = True
        req.address, req.postcode, req.city = data.address, data.postcode, data.city
        if data.lat is not None:
            pos = (data.lat, data.lon, "exact")
        elif keep:
            pos = keep
        elif (citizen.lat is not None and (_fold(citizen.address), citizen.postcode)
              == (_fold(data.address), data.postcode)):
            pos = (citizen.lat, citizen.lon, citizen.position_quality)
        else:
            pos = None
    if pos is None:
        req.lat = req.lon = None
        req.position_quality = ""
    else:
        req.lat, req.lon, req.position_quality = pos
    for key in ("access_info", "presence_required", "identity_check", "ekg", "requester",
                "preferred_days", "earliest", "window_start", "window_end", "stability_minutes",
                "note"):
        setattr(req, key, getattr(data, key))


def _statuses(status) -> tuple[str, ...]:
    """``None``/"" (all), one status, or a tuple/list/set of them; unknown ones are refused."""
    if not status:
        return ()
    wanted = (status,) if isinstance(status, str) else tuple(dict.fromkeys(status))
    unknown = [x for x in wanted if x not in REQUEST_STATUSES]
    if unknown:
        raise ValidationError(f"ukendt status {', '.join(map(str, unknown))}; skal være "
                              + ", ".join(REQUEST_STATUSES), "status")
    return wanted


# The list's columns: what a row shows (``_row``), then the stored sort keys a cursor needs.
_LIST_COLUMNS = (Request.id, Citizen.cpr, Citizen.name, Municipality.name, Municipality.code,
                 Request.received, Request.deadline, Request.status, Request.address,
                 Citizen.address, Request.ekg, Request.late_cancelled, Request.planned_date)
_ROW_COLUMNS = len(_LIST_COLUMNS)

# The stored column behind each sort key (status and planned sort by segment, see
# _segments). CPR sorts on the stored number; the address is the request's own (every
# request stores the address it was booked with, migration 0005).
_SORT_COLUMNS = {
    "id": None, "cpr": Citizen.cpr, "name": Citizen.name, "municipality": Municipality.name,
    "received": Request.received, "deadline": Request.deadline, "status": None,
    "planned": Request.planned_date, "address": Request.address, "ekg": Request.ekg,
    "late": Request.late_cancelled,
}


@dataclass(frozen=True)
class ListCursor:
    """Where the next page of ``RequestService.page`` starts: its sort, and the last row's
    segment, sort values and id. Opaque to callers (the values may hold a CPR number: never
    shown, never logged)."""
    sort: str
    descending: bool
    segment: int
    values: tuple = field(repr=False)
    id: int


@dataclass(frozen=True)
class RequestPage:
    rows: list
    next: ListCursor | None  # None after the last page


# Up to this many rows, a filtered list is gathered by its filters and sorted; above, it is
# read in the sort key's order and filtered (the first page is then found early).
GATHER_LIMIT = 10_000


# The request row's copies of its citizen's keys (migration 0011): table columns, not
# mapped (``models.Request``)
_COPIES = Request.__table__.c

# The columns of a request a PostgreSQL search page sorts, filters and pages on: gathered
# with the matches, from the rows the search's index scans read anyway (``_pg_gather``).
# The citizen's CPR and name are the request row's copies (migration 0011).
_GATHERED = (Request.id, Request.citizen_id, Request.municipality_id, Request.status,
             Request.received, Request.deadline, Request.planned_date, Request.address,
             Request.ekg, Request.late_cancelled, _COPIES.citizen_cpr, _COPIES.citizen_name)
# a citizen's sort key and the request row's copy of it (same type, same values)
_STORED_KEYS = {Citizen.__table__.c.cpr: _COPIES.citizen_cpr,
                Citizen.__table__.c.name: _COPIES.citizen_name}


def _pg_gather(s: Session, clauses: list, condition, segments: list, first: int,
               after: ListCursor | None, descending: bool, limit: int) -> list | None:
    """A search's page on PostgreSQL in one statement: the matches of ``condition`` (the
    search on the request row, ``_search_condition``) under the other filters (``clauses``)
    gathered once, up to GATHER_LIMIT, through one bitmap of the search's indexes (the
    trigram index, the postcodes, the CPR copy, ...: each match's row read once, with the
    columns the list sorts on), then sorted, every segment of the sort (a status sort's
    statuses) in the same sort, and only the page's rows joined to their citizen and
    municipality for display. The list's rows (segment, row + its segment's sort values) as
    ``page`` keeps them, or None when more than GATHER_LIMIT match (then the search is
    checked on each row the list reads instead).

    Before migration 0011 the search was a union of lookups in two tables (a town: the
    requests' postcode and their citizens', 90 % the same rows, read twice and
    deduplicated) and a sort by CPR or name looked up the matches' citizens (~8 ms)."""
    # a common search is not gathered at all (a one-time filter: the scan never starts)
    common = _pg_common(condition)
    m = (select(*_GATHERED).where(condition, *clauses, common.is_(False))
         .limit(GATHER_LIMIT + 1).cte("m").prefix_with("MATERIALIZED"))
    keys = next((k for _w, k in segments[first:] if k), ())
    # a municipality's name (22 rows): looked up by primary key for each match
    looked_up = {}
    for k in keys:
        col = k.expression
        if col.table is Municipality.__table__:
            looked_up[col] = select(col).where(Municipality.id == m.c.municipality_id)
    matches = m
    if looked_up:
        m = select(*m.c, *(q.scalar_subquery().label(f"x{i}")
                           for i, q in enumerate(looked_up.values()))).select_from(m)
        m = m.cte("mx").prefix_with("MATERIALIZED")  # each looked up once
    columns = {c: m.c[c.key] for c in Request.__table__.c if c.key in m.c}
    columns.update((cit, m.c[req.key]) for cit, req in _STORED_KEYS.items())
    columns.update((col, m.c[f"x{i}"]) for i, col in enumerate(looked_up))

    def on_m(expr):
        return replacement_traverse(expr, {}, lambda e: columns.get(e)
                                    if isinstance(e, Column) else None)

    keys_m = [on_m(k.expression) for k in keys]
    wheres = [(i, segments[i][0]) for i in range(first, len(segments))]
    if not wheres:  # a cursor past the last segment (of another status filter): no rows
        return []
    if wheres[0][1] is None:
        seg = literal(first)
        where = []
    else:
        seg = case(*((on_m(w), i) for i, w in wheres))
        where = [or_(*(on_m(w) for _i, w in wheres))]
    if after is not None:
        cond = on_m(_after(segments[first][1], after, descending))
        where.append(cond if wheres[0][1] is None
                     else or_(and_(seg == first, cond), seg > first))
    direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
    count = select(func.count()).select_from(matches).scalar_subquery()
    inner = (select(m.c.id, seg.label("seg"), *(k.label(f"k{j}") for j, k in enumerate(keys_m)))
             .select_from(m).where(*where)
             .order_by(seg, *(direction(k) for k in keys_m), direction(m.c.id))
             .limit(limit).subquery("page"))
    inner_keys = [inner.c[f"k{j}"] for j in range(len(keys))]
    page = (select(*(c.label(f"c{j}") for j, c in enumerate(_LIST_COLUMNS)), inner.c.seg,
                   *inner_keys)
            .join(inner, inner.c.id == Request.id)
            .join(Citizen, Request.citizen_id == Citizen.id)
            .join(Municipality, Request.municipality_id == Municipality.id)
            .where(count <= GATHER_LIMIT)  # else never run (a one-time filter)
            .subquery("p"))
    p_keys = [page.c[f"k{j}"] for j in range(len(keys))]
    one = select(literal(1).label("one")).subquery("one")  # the count, with no page
    stmt = (select(count, common, *page.c).select_from(one.outerjoin(page, true()))
            .order_by(page.c.seg, *(direction(k) for k in p_keys), direction(page.c.c0)))
    result = s.connection().execute(stmt).all()
    if not result or result[0][0] > GATHER_LIMIT or result[0][1]:
        return None
    rows = []
    for r in result:
        r = r[1:]
        if r[1] is None:  # nothing matches: the outer join's one empty row
            continue
        row = tuple(r[1:1 + _ROW_COLUMNS])
        i = r[1 + _ROW_COLUMNS]
        rows.append((i, row + (tuple(r[2 + _ROW_COLUMNS:]) if segments[i][1] else ())))
    return rows


# A PostgreSQL search is checked on each row the list reads in its order (instead of
# gathered by its indexes) when at least this share of a sample of the newest rows matches:
# a page's 200 rows then come within 200 / share rows of the walk (2,000 at 10 %), where
# gathering would read every match (10,000 and more, each a row of the heap).
COMMON_SHARE = 0.10
_SAMPLE = 1_000


def _pg_common(condition):
    """Whether a search (``_search_condition``) matches at least COMMON_SHARE of the newest
    _SAMPLE requests (False on a table of fewer rows: there a gather is cheap), as a scalar
    subquery of ``_pg_gather``'s statement: the sample read by primary key in one range
    from the _SAMPLE-th newest id, the condition checked on each row (an aggregate's FILTER,
    never through the search's indexes: a bitmap of every match costs what a gather does).
    Only the choice of plan rests on it: both give the same rows."""
    newest = (select(Request.id).order_by(Request.id.desc()).offset(_SAMPLE - 1).limit(1)
              .scalar_subquery())
    flag = (select(and_(func.count() >= _SAMPLE,
                        func.count().filter(condition) >= COMMON_SHARE * func.count())
                   .label("common"))
            .where(Request.id >= newest).cte("common"))
    return select(flag.c.common).scalar_subquery()


def _narrow(s: Session, clauses: list) -> bool:
    """Whether the filters leave few enough rows to gather and sort (counted up to the limit
    only, through the filters' indexes). An unfiltered list is never narrow."""
    if not clauses:
        return False
    counted = select(Request.id).where(*clauses).limit(GATHER_LIMIT + 1).subquery()
    return s.scalar(select(func.count()).select_from(counted)) <= GATHER_LIMIT


def _stored_key(key):
    """A citizen's sort key as the request row's copy of it (migration 0011), else ``key``."""
    if key is Citizen.cpr:
        return _COPIES.citizen_cpr
    if key is Citizen.name:
        return _COPIES.citizen_name
    return key


def _key_source(key: str, walk: bool, stored: bool = False):
    """The tables a sort key is read from: the requests, joined to the citizens (CPR, name) or
    the municipalities (name) when the key lives there. Walking, that table comes first.
    ``stored``: the citizen's keys are read from the request row's copies."""
    other = {"municipality": (Municipality, Request.municipality_id == Municipality.id)}
    if not stored:
        other.update(cpr=(Citizen, Request.citizen_id == Citizen.id),
                     name=(Citizen, Request.citizen_id == Citizen.id))
    if key not in other:
        return Request.__table__
    table, on = other[key]
    if walk:
        return _InOrder(table.__table__, Request.__table__, on)
    return Request.__table__.join(table.__table__, on)


class _InOrder(Join):
    """An inner join whose left table SQLite reads first (``CROSS JOIN … ON``: SQLite never
    reorders it), so that a list sorted on the left table's column walks that column's
    index; other databases get a plain join."""
    inherit_cache = True


@compiles(_InOrder, "sqlite")
def _in_order_sqlite(join, compiler, asfrom=False, from_linter=None, **kw):
    if from_linter:
        from_linter.edges.update(itertools.product(join.left._from_objects,
                                                   join.right._from_objects))
    return (join.left._compiler_dispatch(compiler, asfrom=True, from_linter=from_linter, **kw)
            + " CROSS JOIN "
            + join.right._compiler_dispatch(compiler, asfrom=True, from_linter=from_linter,
                                            **kw)
            + " ON " + join.onclause._compiler_dispatch(compiler, from_linter=from_linter,
                                                        **kw))


def _check_sort(key: str) -> None:
    if key not in SORT_KEYS:
        raise ValidationError(f"kan ikke sortere efter '{key}'; skal være "
                              + ", ".join(SORT_KEYS), "sortering")


def _segments(key: str, descending: bool, statuses: tuple[str, ...]) -> list[tuple]:
    """The order of a sort key as consecutive segments, each (condition or None, the columns
    it is ordered by before the id), so that every segment is one range of an index: the
    statuses in their life-cycle order one by one (those of the filter only), the requests
    with a planned date before those without (last in both directions)."""
    _check_sort(key)
    if key == "status":
        order = [x for x in REQUEST_STATUSES if not statuses or x in statuses]
        if descending:
            order.reverse()
        return [(Request.status == x, ()) for x in order]
    if key == "planned":
        return [(Request.planned_date.is_not(None), (Request.planned_date,)),
                (Request.planned_date.is_(None), ())]
    column = _SORT_COLUMNS[key]
    return [(None, () if column is None else (column,))]


def _after(keys: tuple, cursor: ListCursor, descending: bool):
    """The rows after the cursor in its segment: (keys..., id) beyond the cursor's, with the
    first key's bound alone too, so that the database starts its index range there."""
    if len(cursor.values) != len(keys):
        raise ValidationError("siden hører til en anden sortering", "sortering")
    if not keys:
        return Request.id < cursor.id if descending else Request.id > cursor.id
    row = tuple_(*keys, Request.id)
    value = tuple_(*(literal(v, k.type) for k, v in zip(keys, cursor.values)),
                   literal(cursor.id, Request.id.type))
    first = literal(cursor.values[0], keys[0].type)
    if descending:
        return and_(keys[0] <= first, row < value)
    return and_(keys[0] >= first, row > value)


def _key_values(keys: tuple, row) -> list:
    by_column = {c: row[i] for i, c in enumerate(_LIST_COLUMNS)}
    return [by_column[k] for k in keys]


# A term this long or longer is looked up in the trigram index (migration 0010); a shorter
# one has no trigram to look up and is checked row by row (see ``_short_text``).
MIN_TRIGRAM = 3

# The search text's trigram index on SQLite (FTS5, rowid = the request's id)
_FTS = table("requests_fts", column("rowid"))
# PostgreSQL: the narrow copy of the request rows that a search's count reads (migration 0013)
_PG_COPY = table(PG_SEARCH_COPY, column("id", Integer), column("municipality_id", Integer),
                 column("postcode", String), column("citizen_postcode", String),
                 column("search_text", Text))


def _term(search: str | None) -> str:
    """A search as typed, trimmed. A NUL character is dropped: no stored text has one
    (PostgreSQL's text cannot hold it) and PostgreSQL refuses one in a query, so pasted into
    the search field it ended in a database error instead of a list."""
    return (search or "").replace("\x00", "").strip()


def _short_text(term: str) -> bool:
    """Whether a search is text too short for the trigram index (1 or 2 characters, not a
    number): it is then a condition checked on each row the list reads, never a lookup."""
    return len(term) < MIN_TRIGRAM and not cpr_digits(term).isdigit()


def _search_ids(s: Session, search: str):
    """The ids of the requests a search matches, as a union of index lookups: a CPR number's
    first digits (a range of the stored numbers), a request number, a postcode, a town (the
    postcodes the official list gives it), and a part of the citizen's name or address or
    the request's address (the stored search text's trigram index, any case) or of the
    municipality's name."""
    parts = _search_parts(s, search)
    return union(*parts) if len(parts) > 1 else parts[0]


@dataclass(frozen=True)
class _Match:
    """What a search term matches, decided once for every query that reads it (the pages'
    lookups, the condition checked on each row, PostgreSQL's condition on the request row):
    the stored search text contains ``text`` (not a number); the municipality is one of
    ``municipalities`` (their names contain it); the citizen's CPR lies in ``cpr`` (the
    digits' range); the request's number is ``number`` (up to 6 digits); the request's or its
    citizen's postcode lies in one of ``postcodes`` (a town's, or 4 digits)."""

    text: str | None
    municipalities: list[int]
    cpr: tuple[str, str | None] | None
    number: int | None
    postcodes: list[tuple[str, str]]


def _match(s: Session, search: str) -> _Match:
    term = search.strip()
    digits = cpr_digits(term)
    number = digits.isdigit()
    ranges = list(town_postcodes(term))
    if number and len(digits) == 4:
        ranges.append((digits, digits))
    return _Match(text=None if number else term,
                  municipalities=[] if number else _municipalities(s, term),
                  cpr=_cpr_range(digits) if number else None,
                  number=int(digits) if number and len(digits) < 7 else None,
                  postcodes=ranges)


def _in_cpr(col, cpr: tuple[str, str | None]):
    lo, hi = cpr
    return col >= lo if hi is None else and_(col >= lo, col < hi)


def _in_postcodes(col, lo: str, hi: str):
    return col == lo if lo == hi else and_(col >= lo, col <= hi)


def _search_parts(s: Session, search: str) -> list:
    """The selects whose union is ``_search_ids``: those that match most first (``_lookup``
    stops at the first that reaches its limit)."""
    m = _match(s, search)
    parts = []
    if m.text is not None:
        parts.append(_text_ids(s, m.text))
    if m.municipalities:
        parts.append(select(Request.id).where(Request.municipality_id.in_(m.municipalities)))
    # the citizen's CPR and postcode from their copies on the request row (0011), each an
    # index of requests: through the citizens it was a second lookup per range
    if m.cpr is not None:
        parts.append(select(Request.id).where(_in_cpr(_COPIES.citizen_cpr, m.cpr)))
    if m.number is not None:
        parts.append(select(Request.id).where(Request.id == m.number))
    for lo, hi in m.postcodes:
        parts.append(select(Request.id).where(_in_postcodes(Request.postcode, lo, hi)))
        parts.append(select(Request.id).where(
            _in_postcodes(_COPIES.citizen_postcode, lo, hi)))
    return parts


# Up to this many matches, a search's rows are gathered and sorted (each match read); from
# there to CHECK_FROM, the list is read in its sort key's order and each row's id probed in
# the matches (found once through the indexes): a page then reads 200 / share rows of an
# index, where gathering would read every match's row. From about CHECK_FROM matches, a
# search is not looked up at all but checked on each row the list reads (in the sort key's
# order, or through the other filters' indexes): its page's rows come soon. Estimated by
# counting up to it (SQLite: PostgreSQL decides by a sample, ``_pg_common``).
SEARCH_GATHER = 2_500
CHECK_FROM = 10_000


class _Probe(list):
    """Found ids too many to gather by: probed on each row the other filters' indexes (or
    the sort key's) give, never driving the read."""


class _RowCheck(str):
    """A search term to check on each row (``_search_condition``), not to look up."""


def _lookup(s: Session, term: str) -> list[int] | None:
    """The ids of the requests a search matches (``_search_ids``), or None when they may be
    about CHECK_FROM or more, from each lookup alone (the trigram index, a postcode range, a
    CPR range, ...), stopping there: a union is deduplicated in full before a LIMIT. Each
    is counted (the ids of a common term never leave the database) and only a search below
    the limit fetched. Through the connection: the ORM's result handling of a few thousand
    ids costs more than their lookup. SQLite's path: ``page`` on PostgreSQL gathers the
    matches in its own statement (``_pg_gather``)."""
    if CHECK_FROM <= 0:
        return None
    conn = s.connection()
    parts = _search_parts(s, term)
    # too many case spellings to check as LIKEs on SQLite: looked up, however many
    if cpr_digits(term).isdigit() or len(_patterns(s, term)) < _MAX_PATTERNS:
        left = CHECK_FROM
        for part in parts:
            left -= conn.execute(select(func.count()).select_from(
                part.limit(left).subquery())).scalar_one()
            if left <= 0:
                return None
    ids = union(*parts) if len(parts) > 1 else parts[0]
    return conn.execute(ids).scalars().all()


def _pg_text_count(s: Session, term: str) -> int:
    """PostgreSQL: the number of requests a text search (any length) matches, no other
    filter. A common term (``_pg_common``) or a short one is checked (``_row_condition``) on
    each row of the search's narrow copy of the request rows (migration 0013: the text, the
    municipality and the postcodes), a rarer one on the requests its indexes find. On the
    request row, the text is the 35th column, and taking each of 100,000 rows apart up to it
    cost more than the match ("vej": 58,664 matches)."""
    m = _row_match(s, term)
    in_copy = select(func.count()).select_from(_PG_COPY).where(
        _row_condition(s, m, _PG_COPY.c)).scalar_subquery()
    if _short_text(term):
        return s.scalar(select(in_copy))
    found = select(func.count()).select_from(Request).where(
        _row_condition(s, m)).scalar_subquery()
    common = _pg_common(_text_condition(s, m.text))
    return s.scalar(select(case((common, in_copy), else_=found)))  # one branch is run


def _text_and_rest_count(s: Session, term: str) -> int:
    """SQLite: the number of requests a text search of 3 letters or more matches (no other
    filter), as the matches of its text (counted in the trigram index alone: FTS5 counts
    52,000 rowids in 2 ms) plus those of its other lookups (a municipality's name, a town's
    postcodes) that the text does not match (their few thousand ids less the text's). Exact:
    |text ∪ rest| = |text| + |rest less text|. As one union, 58,000 ids were gathered and
    deduplicated first (48 ms for "vej")."""
    text, *rest = _search_parts(s, term)  # the text's lookup first (``_search_parts``)
    conn = s.connection()
    n = conn.execute(select(func.count()).select_from(text.subquery())).scalar_one()
    if rest:
        others = (union(*rest) if len(rest) > 1 else rest[0]).subquery()
        beyond = except_(select(others.c.id), text).subquery()
        n += conn.execute(select(func.count()).select_from(beyond)).scalar_one()
    return n


def _search_condition(s: Session, term: str):
    """A search as one condition on the request row (``_search_ids``' matches, both from
    ``_match``): the stored search text contains the term (``_text_condition``), the
    request's or its citizen's postcode is one of a town's (or the 4 digits'), its citizen's
    CPR begins with the digits, its number is them, or its municipality's name contains the
    term. Every column is the request's own (the citizen's are its copies, migration 0011):
    PostgreSQL reads the matches through one bitmap of their indexes (each row once), and
    either engine checks them on each row it walks with no lookup of the citizen (before
    0011 a subquery per row on SQLite; on a join PostgreSQL hashed and sorted every row)."""
    return _row_condition(s, term, short=False)


def _row_condition(s: Session, search: str | _Match, cols=_COPIES, short: bool | None = None):
    """A search (a term, or what it matches: ``_row_match``) as a condition on a row of
    ``cols``: the requests table's columns, or (a text term) those of PostgreSQL's narrow
    copy of them (0013). A 1-2 letter term as ``_short_condition``, a longer one as
    ``_search_condition``."""
    m = search if isinstance(search, _Match) else _row_match(s, search, short)
    out = [] if m.text is None else [_text_condition(s, m.text, cols.search_text)]
    if m.municipalities:
        out.append(cols.municipality_id.in_(m.municipalities))
    if m.cpr is not None:
        out.append(_in_cpr(cols.citizen_cpr, m.cpr))
    if m.number is not None:
        out.append(cols.id == m.number)
    for lo, hi in m.postcodes:
        for col in (cols.postcode, cols.citizen_postcode):
            out.append(_in_postcodes(col, lo, hi))
    return or_(*out)


def _row_match(s: Session, term: str, short: bool | None = None) -> _Match:
    """What ``_row_condition`` checks: a short term (``_short_text``) only in the text and the
    municipality's name (no postcode, CPR or number), a longer one as ``_match``."""
    if short if short is not None else _short_text(term):
        return _Match(text=term, municipalities=_municipalities(s, term), cpr=None,
                      number=None, postcodes=[])
    return _match(s, term)


def _phrase(term: str) -> str:
    """The term as one FTS5 phrase (quoted: its characters are text, never query syntax)."""
    return '"' + term.replace('"', '""') + '"'


def _text_ids(s: Session, term: str):
    """The requests whose citizen's name or address, or whose own address, contains
    ``term``, in any case: a select of their ids from the trigram index of their stored
    search text (migration 0010). A phrase of the FTS5 trigram tokenizer is a substring, case
    folded (Unicode: Æ and æ alike); the term is quoted, so FTS5's query syntax (AND, *, ",
    NEAR) is text. On PostgreSQL the GIN index (gin_trgm_ops) serves the LIKE of
    ``_text_condition``."""
    if s.get_bind().dialect.name == "sqlite" and _SEPARATOR not in term:
        return select(_FTS.c.rowid.label("id")).where(
            literal_column(_FTS.name).op("MATCH")(_phrase(term)))
    return select(Request.id).where(_text_condition(s, term))


# The stored search text holds one line per field: a term with a line break matches none.
_SEPARATOR = "\n"


def _text_condition(s: Session, term: str, column=None):
    """The request's stored search text contains ``term`` in any case, as a condition on
    its row: LIKE in every case spelling on SQLite (``_contains``: its LIKE folds ASCII
    only), LIKE of the lower-cased term on PostgreSQL, where the text is stored lower-cased
    (the pattern in the SQL text: a prepared statement's generic plan cannot use the index).
    ``column``: another column that holds the same text (PostgreSQL's copy, 0013)."""
    column = Request.search_text if column is None else column
    if _SEPARATOR in term:
        return false()
    if s.get_bind().dialect.name == "sqlite":
        return _contains(s, column, term)
    like = literal(f"%{_escape_like(term)}%", literal_execute=True)
    return column.like(func.lower(like), escape="\\")


def _municipalities(s: Session, term: str) -> list[int]:
    """The municipalities whose name contains the term (a few dozen rows: scanned)."""
    return [m for m, in s.execute(select(Municipality.id).where(
        _contains(s, Municipality.name, term)))]


def _contains(s: Session, column, term: str):
    """``column`` contains ``term`` in any case (a scan: for short texts and few rows)."""
    sqlite = s.get_bind().dialect.name == "sqlite"
    return or_(*((column.like(p, escape="\\") if sqlite else column.ilike(p, escape="\\"))
                 for p in _patterns(s, term)))


def _patterns(s: Session, term: str) -> list[str]:
    """LIKE patterns for a part of a text in any case. SQLite's LIKE folds ASCII letters only,
    so the cases of the others (æøå) are spelled out: a short term has few of them."""
    text = _escape_like(term)
    if s.get_bind().dialect.name != "sqlite":
        return [f"%{text}%"]  # used with ILIKE
    options = [(ch,) if ch.isascii() else tuple(dict.fromkeys((ch, ch.lower(), ch.upper())))
               for ch in text]
    variants = itertools.islice(itertools.product(*options), _MAX_PATTERNS)
    return [f"%{''.join(v)}%" for v in variants]


_MAX_PATTERNS = 64


def _short_condition(s: Session, term: str):
    """A 1–2 character search as a condition on each row (no index can look it up): the
    citizen's name or address, the request's address, or the municipality's name contains
    it, in any case. The list reads its rows in the sort key's order and stops at the page's
    end, which comes soon for so short a part of a text (nearly every row has it)."""
    return _row_condition(s, term, short=True)


def _in_ids(s: Session, column, ids: list[int], probe: bool = False):
    """``column`` is one of ``ids``, passed as ONE parameter (a JSON array on SQLite, an array
    on PostgreSQL: ``= ANY``, which its planner probes by index, where ``IN (unnest)`` made
    it hash): a search's few thousand ids would otherwise be as many parameters."""
    if s.get_bind().dialect.name == "sqlite":
        values = func.json_each(literal(json.dumps(ids), String)).table_valued("value")
        return column.in_(select(values.c.value))
    if not ids:
        return false()
    # in the SQL text: a prepared statement's generic plan (psycopg prepares a query run a
    # few times) knows neither the ids nor their number, and chose hash joins of every row
    array = literal(list(ids), ARRAY(Integer), literal_execute=True)
    if probe:  # checked on each row of a walk: hashed once (``= ANY`` searches the array)
        return column.in_(select(func.unnest(array)))
    return column == any_(array)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _cpr_range(digits: str) -> tuple[str, str | None]:
    """The stored CPR numbers (DDMMYY-SSSS) that begin with these digits: [lo, hi), hi None
    when no number can follow (all nines)."""
    digits = digits[:10]

    def stored(d: str) -> str:
        return d if len(d) <= 6 else f"{d[:6]}-{d[6:]}"

    following = str(int(digits) + 1).zfill(len(digits))
    return stored(digits), (None if len(following) > len(digits) else stored(following))


def _order_by(key: str, descending: bool) -> list:
    """The order of ``_segments`` as one ORDER BY (for pages by offset)."""
    _check_sort(key)
    direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
    order = []
    if key == "status":  # life-cycle order, as the statuses are listed
        order.append(direction(case({s: i for i, s in enumerate(REQUEST_STATUSES)},
                                    value=Request.status, else_=len(REQUEST_STATUSES))))
    elif key == "planned":  # requests without a visit last, both ways
        order += [case((Request.planned_date.is_(None), 1), else_=0),
                  direction(Request.planned_date)]
    elif _SORT_COLUMNS[key] is not None:
        order.append(direction(_SORT_COLUMNS[key]))
    order.append(direction(Request.id))
    return order


def _visit_start(visit: Visit | None) -> dt.datetime | None:
    if visit is None:
        return None
    start = visit.window_start or visit.planned_arrival
    return dt.datetime.combine(visit.date, start) if start else None


def _visit_end(visit: Visit | None) -> dt.datetime | None:
    """The latest moment the visit can still be cancelled: its window's end, else its planned
    arrival, else the end of its day."""
    if visit is None:
        return None
    end = visit.window_end or visit.planned_arrival or dt.time(23, 59, 59)
    return dt.datetime.combine(visit.date, end)


def _row(rid, cpr, name, muni, code, received, deadline, status, req_addr, cit_addr, ekg, late,
         planned) -> RequestRow:
    return RequestRow(rid, mask_cpr(cpr), name, muni, code, received, deadline, status,
                      req_addr or cit_addr, bool(ekg), bool(late), planned)


def _detail(req: Request) -> RequestDetail:
    c = req.citizen
    if req.address_is_registered:  # booked at the registered address: show that one
        home = (req.address, req.postcode, req.city)
        other = ("", "", "")
    else:
        home = (c.address, c.postcode, c.city)
        other = (req.address, req.postcode, req.city)
    return RequestDetail(
        id=req.id, version=req.version, cpr=c.cpr, name=c.name, address=home[0],
        postcode=home[1], city=home[2], municipality_code=req.municipality.code,
        received=req.received, deadline=req.deadline, status=req.status,
        sampling_address=other[0], sampling_postcode=other[1], sampling_city=other[2],
        access_info=req.access_info, presence_required=req.presence_required,
        identity_check=req.identity_check, ekg=req.ekg, requester=req.requester,
        preferred_days=req.preferred_days, earliest=req.earliest,
        window_start=req.window_start, window_end=req.window_end,
        stability_minutes=req.stability_minutes, note=req.note,
        not_eligible_reason=req.not_eligible_reason,
        lat=req.effective_lat,
        lon=req.effective_lon,
        cancellations=tuple((x.at, x.by, x.channel, x.late) for x in req.cancellations),
        flags=req.flags or "",
        position_quality=(req.position_quality if req.lat is not None
                          else c.position_quality if req.effective_lat is not None else ""),
    )


def detail_to_form(d: RequestDetail) -> dict[str, str]:
    """A saved request as the text values of the form (round-trips through parse_request)."""
    def t(v):
        if v is None:
            return ""
        if isinstance(v, dt.time):
            return v.strftime("%H:%M")
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, bool):
            return "ja" if v else "nej"
        return str(v)
    keys = ("cpr", "name", "address", "postcode", "city", "received", "sampling_address",
            "sampling_postcode", "sampling_city", "access_info", "presence_required",
            "identity_check", "ekg", "requester", "preferred_days", "earliest", "window_start",
            "window_end", "stability_minutes", "note", "lat", "lon")
    out = {k: t(getattr(d, k)) for k in keys}
    if d.position_quality == "approximate":  # a postcode centre is not the citizen's place:
        out["lat"] = out["lon"] = ""          # saving the form must not make it "exact"
    out["municipality"] = str(d.municipality_code)
    return out
