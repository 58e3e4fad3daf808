"""Erasure of citizen data after the retention period; the invoices' figures stay.

A citizen is *expired* when the later of
  - the issue date of the last issued invoice they appear on, and
  - the day the last request for them was received
lies more than ``retention.years`` (default 5, the accounting retention period) before today,
and no request of theirs is still open, planned or locked, and none of their visits sits on a
draft invoice.

Erasing an expired citizen (one transaction for the whole run):
  - ``citizens``: CPR becomes ``SLET`` + the row id (unique, not a CPR number), name and
    address the marker ``[slettet]``, postcode, city, phone and position emptied, ``erased_at``
    set. The row stays, so statistics still count distinct citizens;
  - their requests: sampling address, position, access info, presence, identity check, note
    and reason emptied; cancellations' "by" (often a relative's name and phone) and free
    text, and visits' notes, emptied; dates, status, EKG and every figure stay;
  - invoice items (the billed statement lines): citizen name and CPR become ``[slettet]``;
    km/ferry shares, outcome and every invoice line and total stay untouched;
  - statements (``invoice_documents`` of kind ``statement*``) of invoices issued before the
    cut-off *and* more than 5 years ago are deleted: they print names and CPR numbers, and
    they are past the accounting retention period. The invoice PDF and e-invoice stay;
  - cached distances (``distance_cache``, keyed by positions to ~1 m) from or to their
    homes are deleted, unless a citizen who is kept has the same position;
  - the audit trail: in every entry about the citizen, their requests, cancellations and
    visits, the values of the personal fields are replaced by ``[slettet]`` (the keys stay, so
    the trail still shows *that* a field changed and when and by whom). One new entry per
    citizen, action ``erase``, records that the erasure happened, by whom, and the date it was
    computed from, with no personal data. On PostgreSQL the audit_log trigger allows exactly
    this redaction and nothing else.

The changes are made with SQL statements, not ORM objects, on purpose: the ORM audit hook
would otherwise write the erased values into a new audit entry.

After the transaction, the old row versions that still hold the erased values are dropped
from the database files: on PostgreSQL ``VACUUM FULL`` of every touched table (an UPDATE
leaves the old version in the table's data files until a vacuum; plain VACUUM only marks its
space reusable, FULL writes the table anew; it also rebuilds the search's GIN index), run
outside a transaction; on SQLite the search's FTS5 index is merged first (``optimize``: a
deleted row's trigrams are otherwise only marked deleted in its segments), then a checkpoint
of the write-ahead log and ``VACUUM`` (the file is rewritten without free pages).
What remains elsewhere: backups made before the run, and PostgreSQL's WAL archive if one is
kept, hold the data until they expire (README, "Personoplysninger").
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace

from sqlalchemy import and_, func, insert, or_, select, true, update

from hjemmeprove.db.models import (
    AuditEntry,
    Cancellation,
    Citizen,
    Invoice,
    InvoiceDocument,
    InvoiceItem,
    Request,
    Visit,
    utcnow,
)
from hjemmeprove.domain.constants import ERASED
from hjemmeprove.errors import ValidationError
from hjemmeprove.security import require
from hjemmeprove.settings import Settings

ACCOUNTING_YEARS = 5  # bogføringsloven: accounting records are kept 5 years

# audited table -> the fields whose values are personal data
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "citizens": ("cpr", "name", "address", "postcode", "city", "lat", "lon", "phone"),
    # search_text: the audit trail no longer records it, but entries written before it
    # stopped hold the citizen's name and address in it
    "requests": ("address", "postcode", "city", "lat", "lon", "access_info",
                 "presence_required", "identity_check", "note", "not_eligible_reason",
                 "search_text"),
    "cancellations": ("note", "by"),
    "visits": ("outcome_note",),
}


@dataclass(frozen=True)
class RetentionResult:
    cutoff: dt.date
    citizens: int
    requests: int
    invoice_items: int
    statements_deleted: int
    audit_entries_redacted: int
    dry_run: bool
    distance_cache_rows: int = 0
    vacuumed: tuple = ()  # the tables whose old row versions were dropped afterwards
    vacuum_problem: str = ""  # why that could not be done (e.g. not the tables' owner)


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def erasure_cpr(citizen_id: int) -> str:
    return f"SLET{citizen_id:07d}"


class RetentionService:
    def __init__(self, store):
        self.store = store

    def cutoff(self, today: dt.date | None = None) -> dt.date:
        years = Settings(self.store).get("retention.years")
        if years < 1:
            raise ValidationError("skal være mindst 1 år", "retention.years")
        return years_before(today or dt.date.today(), years)

    def expired_citizens(self, today: dt.date | None = None) -> list[int]:
        cutoff = self.cutoff(today)
        with self.store.session() as s:
            return self._expired(s, cutoff)

    def _expired(self, s, cutoff: dt.date) -> list[int]:
        last_invoice = (
            select(Request.citizen_id.label("cid"), func.max(Invoice.issue_date).label("d"))
            .join(Visit, Visit.request_id == Request.id)
            .join(InvoiceItem, InvoiceItem.visit_id == Visit.id)
            .join(Invoice, Invoice.id == InvoiceItem.invoice_id)
            .where(Invoice.status == "issued")
            .group_by(Request.citizen_id).subquery())
        last_request = (select(Request.citizen_id.label("cid"), func.max(Request.received)
                               .label("d")).group_by(Request.citizen_id).subquery())
        active = select(Request.id).where(Request.citizen_id == Citizen.id,
                                          Request.status.in_(("open", "planned", "locked")))
        on_draft = (select(InvoiceItem.id)
                    .join(Invoice, Invoice.id == InvoiceItem.invoice_id)
                    .join(Visit, Visit.id == InvoiceItem.visit_id)
                    .join(Request, Request.id == Visit.request_id)
                    .where(Request.citizen_id == Citizen.id, Invoice.status != "issued"))
        q = (select(Citizen.id)
             .outerjoin(last_invoice, last_invoice.c.cid == Citizen.id)
             .outerjoin(last_request, last_request.c.cid == Citizen.id)
             .where(Citizen.erased_at.is_(None),
                    or_(last_invoice.c.d.is_not(None), last_request.c.d.is_not(None)),
                    or_(last_invoice.c.d.is_(None), last_invoice.c.d < cutoff),
                    or_(last_request.c.d.is_(None), last_request.c.d < cutoff),
                    ~active.exists(), ~on_draft.exists())
             .order_by(Citizen.id))
        return list(s.scalars(q))

    def erase_expired(self, today: dt.date | None = None, dry_run: bool = False
                      ) -> RetentionResult:
        today = today or dt.date.today()
        if not dry_run:
            require(self.store, "citizens.erase")
        cutoff = self.cutoff(today)
        statements_before = min(cutoff, years_before(today, ACCOUNTING_YEARS))
        with self.store.session() as s:
            citizens = self._expired(s, cutoff)
            request_ids = _ids(s, select(Request.id).where(Request.citizen_id.in_(citizens)))
            visit_ids = _ids(s, select(Visit.id).where(Visit.request_id.in_(request_ids)))
            cancel_ids = _ids(s, select(Cancellation.id)
                              .where(Cancellation.request_id.in_(request_ids)))
            item_ids = _ids(s, select(InvoiceItem.id).where(InvoiceItem.visit_id.in_(visit_ids)))
            statements = _ids(s, select(InvoiceDocument.id)
                              .join(Invoice, Invoice.id == InvoiceDocument.invoice_id)
                              .where(InvoiceDocument.kind.like("statement%"),
                                     Invoice.status == "issued",
                                     Invoice.issue_date < statements_before))
            keys = {"citizens": citizens, "requests": request_ids,
                    "cancellations": cancel_ids, "visits": visit_ids}
            entries = s.execute(select(AuditEntry.id, AuditEntry.table_name, AuditEntry.before,
                                       AuditEntry.after)
                                .where(or_(*[and_(AuditEntry.table_name == t,
                                                  AuditEntry.row_key.in_([str(i) for i in ids]))
                                             for t, ids in keys.items() if ids]))
                                ).all() if citizens else []
            redactions = []
            for entry in entries:
                fields = PERSONAL_FIELDS[entry.table_name]
                before, after = _redact(entry.before, fields), _redact(entry.after, fields)
                if (before, after) != (entry.before, entry.after):
                    redactions.append({"eid": entry.id, "b": before, "a": after})
            result = RetentionResult(cutoff, len(citizens), len(request_ids), len(item_ids),
                                     len(statements), len(redactions), dry_run)
            if dry_run or not (citizens or statements):
                return result
            now = utcnow()
            user = s.info.get("user", "")
            cache_rows = _drop_cached_positions(s, citizens, request_ids)
            _erase_intake(s, citizens, request_ids, cutoff)
            for cid in citizens:
                s.execute(update(Citizen).where(Citizen.id == cid).values(
                    cpr=erasure_cpr(cid), name=ERASED, address=ERASED, postcode="", city="",
                    lat=None, lon=None, position_quality="", phone="", erased_at=now))
            for chunk in _chunks(request_ids):
                s.execute(update(Request).where(Request.id.in_(chunk)).values(
                    address="", postcode="", city="", lat=None, lon=None, position_quality="",
                    access_info="", presence_required="", identity_check="", note="",
                    not_eligible_reason="", version=Request.version + 1))
            for chunk in _chunks(cancel_ids):
                s.execute(update(Cancellation).where(Cancellation.id.in_(chunk))
                          .values(note="", by=ERASED))
            for chunk in _chunks(visit_ids):
                s.execute(update(Visit).where(Visit.id.in_(chunk))
                          .values(outcome_note="", version=Visit.version + 1))
            from hjemmeprove.contact.service import erase_contact_data  # phones, SMS texts
            erase_contact_data(s, citizens, request_ids)
            for chunk in _chunks(item_ids):
                s.execute(update(InvoiceItem).where(InvoiceItem.id.in_(chunk))
                          .values(citizen_name=ERASED, cpr=ERASED))
            if redactions:
                table = AuditEntry.__table__
                from sqlalchemy import bindparam

                s.execute(update(table).where(table.c.id == bindparam("eid"))
                          .values(before=bindparam("b"), after=bindparam("a")), redactions)
            log = [{"at": now, "user": user, "table_name": "citizens", "row_key": str(cid),
                    "action": "erase", "before": "",
                    "after": json.dumps({"grund": "opbevaringsperioden er udløbet",
                                         "skæringsdato": cutoff.isoformat()},
                                        ensure_ascii=False)}
                   for cid in citizens]
            for doc_id, kind, filename, sha in s.execute(
                    select(InvoiceDocument.id, InvoiceDocument.kind, InvoiceDocument.filename,
                           InvoiceDocument.sha256).where(InvoiceDocument.id.in_(statements))):
                log.append({"at": now, "user": user, "table_name": "invoice_documents",
                            "row_key": str(doc_id), "action": "delete",
                            "before": json.dumps({"kind": kind, "filename": filename,
                                                  "sha256": sha}), "after": ""})
            for chunk in _chunks(statements):
                s.execute(InvoiceDocument.__table__.delete()
                          .where(InvoiceDocument.__table__.c.id.in_(chunk)))
            if log:
                s.execute(insert(AuditEntry.__table__), log)
            result = replace(result, distance_cache_rows=cache_rows)
        tables, problem = drop_old_row_versions(self.store)
        return replace(result, vacuumed=tables, vacuum_problem=problem)


TOUCHED_TABLES = ("citizens", "requests", "cancellations", "visits", "invoice_items",
                  "intake_messages", "intake_segments", "intake_threads",
                  "contact_preferences", "reminders", "sms_outbox", "letter_records",
                  "invoice_documents", "distance_cache")


def drop_old_row_versions(store) -> tuple[tuple, str]:
    """Makes the database files forget the erased values (see the module's docstring).
    Returns (tables done, Danish problem or "")."""
    import logging

    from sqlalchemy import text

    tables = TOUCHED_TABLES + (AuditEntry.__tablename__,)
    try:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if store.is_sqlite:
                # the search's FTS5 index only marks a deleted row's trigrams as deleted
                # until its segments merge; VACUUM copies them as they are
                from hjemmeprove.db.models import SEARCH_TABLES

                present = set(conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'table'").scalars())
                for fts in SEARCH_TABLES:
                    if fts in present:
                        conn.exec_driver_sql(f"INSERT INTO {fts}({fts}) VALUES ('optimize')")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.exec_driver_sql("VACUUM")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                return ("alle",), ""
            # VACUUM skips (with a warning only) a table the login does not own
            mine = set(conn.execute(text(
                "SELECT relname FROM pg_class WHERE relname = ANY(:t) AND relkind = 'r' "
                "AND pg_has_role(current_user, relowner, 'USAGE')"), {"t": list(tables)})
                .scalars())
            done = []
            for table in tables:
                if table in mine:
                    conn.execute(text(f'VACUUM (FULL) "{table}"'))
                    done.append(table)
            missing = [t for t in tables if t not in mine]
            if missing:
                return tuple(done), ("de slettede værdier kan stadig ligge i databasens filer "
                                     f"for {', '.join(missing)}: kør VACUUM FULL som "
                                     "tabellernes ejer")
            return tuple(done), ""
    except Exception as e:  # noqa: BLE001 - the erasure itself is committed; say what is left
        logging.getLogger(__name__).warning("oprydning efter sletning mislykkedes: %s",
                                            type(e).__name__)
        return (), ("de slettede værdier kan stadig ligge i databasens filer, indtil den "
                    "ryddes op (VACUUM FULL som tabellernes ejer): "
                    f"{type(e).__name__}")


def _position_keys(rows) -> set[str]:
    # the distance cache's key: a position to 5 decimals (about a metre: a home)
    return {f"{lat:.5f},{lon:.5f}" for lat, lon in rows if lat is not None and lon is not None}


def _drop_cached_positions(s, citizens, request_ids) -> int:
    """Cached distances from or to the erased citizens' homes, unless someone kept lives
    there too (a nursing home)."""
    from hjemmeprove.db.models import DistanceCacheEntry as E

    gone = set()
    for chunk in _chunks(citizens):
        gone |= _position_keys(s.execute(select(Citizen.lat, Citizen.lon)
                                         .where(Citizen.id.in_(chunk))))
    for chunk in _chunks(request_ids):
        gone |= _position_keys(s.execute(select(Request.lat, Request.lon)
                                         .where(Request.id.in_(chunk))))
    if not gone:
        return 0
    kept = _position_keys(s.execute(select(Citizen.lat, Citizen.lon).where(
        Citizen.id.not_in(citizens) if citizens else true(), Citizen.erased_at.is_(None))))
    kept |= _position_keys(s.execute(select(Request.lat, Request.lon).where(
        Request.id.not_in(request_ids) if request_ids else true())))
    gone -= kept
    removed = 0
    keys = sorted(gone)
    for i in range(0, len(keys), 400):
        chunk = keys[i:i + 400]
        removed += s.execute(E.__table__.delete().where(
            or_(E.__table__.c.from_key.in_(chunk), E.__table__.c.to_key.in_(chunk)))).rowcount
    return removed


def _ids(s, q) -> list[int]:
    return list(s.scalars(q))


def _chunks(ids, size=500):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _redact(text: str, fields) -> str:
    if not text:
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict):
        return text
    changed = False
    for key in fields:
        if data.get(key) is not None and data[key] != ERASED:
            data[key] = ERASED
            changed = True
    return json.dumps(data, ensure_ascii=False, sort_keys=True) if changed else text


def _erase_intake(s, citizens, request_ids, cutoff: dt.date) -> int:
    """Electronic intake holds the same person's data: the received bytes, the patient's
    CPR, name, address and phone, and the text segments. Erased for messages about an expired
    citizen (by CPR) or linked to one of their requests, and for messages that never became a
    request and were received before the cutoff. The thread, its dates and the
    acknowledgement codes stay, as the invoices' figures do."""
    from hjemmeprove.db.models import IntakeMessage, IntakeSegment, IntakeThread

    cprs = list(s.scalars(select(Citizen.cpr).where(Citizen.id.in_(citizens)))) if citizens else []
    limit = dt.datetime.combine(cutoff, dt.time(0))
    conditions = [and_(IntakeMessage.request_id.is_(None), IntakeMessage.sent_at < limit)]
    if cprs:
        conditions.append(IntakeMessage.cpr.in_(cprs))
    if request_ids:
        conditions.append(IntakeMessage.request_id.in_(request_ids))
    rows = s.execute(select(IntakeMessage.id, IntakeMessage.thread_id)
                     .where(or_(*conditions), IntakeMessage.patient_name != ERASED)).all()
    message_ids = [m for m, _t in rows]
    for chunk in _chunks(message_ids):
        s.execute(update(IntakeMessage).where(IntakeMessage.id.in_(chunk)).values(
            raw=b"", cpr="", other_ids="", patient_name=ERASED, patient_address="",
            patient_postcode="", patient_city="", patient_phone="", topic=""))
        s.execute(update(IntakeSegment).where(IntakeSegment.message_id.in_(chunk)).values(
            text=ERASED, author="", author_role="", author_phone="", title="", url=""))
    for chunk in _chunks(sorted({t for _m, t in rows})):
        s.execute(update(IntakeThread).where(IntakeThread.id.in_(chunk)).values(
            patient_id="", patient_name=ERASED, topic=""))
    return len(message_ids)
