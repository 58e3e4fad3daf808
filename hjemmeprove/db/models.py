"""The data model (SQLAlchemy 2.x typed mappings).

Money is Numeric (Decimal in Python), never Float. Kilometres and ferry minutes that end up on
an invoice are Numeric too, with the decimals docs/domain.md prescribes (km 3, minutes 1).
Schema changes go through Alembic (``hjemmeprove/db/migrations``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    JSON,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    Index,
    false,
    text,
)
from sqlalchemy.orm import (DeclarativeBase, Mapped, Unmapped, mapped_column, relationship,
                            unmapped_column)

MONEY = Numeric(12, 2)
KM = Numeric(10, 3)
MINUTES = Numeric(8, 1)


class Base(DeclarativeBase):
    pass


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# --- Organisation -----------------------------------------------------------------------


class Department(Base):
    """A clinical biochemistry department: the seller on invoices and the routes' depot (lab)."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    hospital: Mapped[str] = mapped_column(String(200))
    lab_address: Mapped[str] = mapped_column(String(200))
    lab_postcode: Mapped[str] = mapped_column(String(4))
    lab_city: Mapped[str] = mapped_column(String(100))
    lab_lat: Mapped[float] = mapped_column(Float)
    lab_lon: Mapped[float] = mapped_column(Float)
    cvr: Mapped[str] = mapped_column(String(8), default="")
    ean: Mapped[str] = mapped_column(String(13), default="")
    bank_reg: Mapped[str] = mapped_column(String(4), default="")
    bank_account: Mapped[str] = mapped_column(String(10), default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    payment_days: Mapped[int] = mapped_column(Integer, default=30)


class Municipality(Base):
    """A kommune: the buyer. Ships as default data (the 22 of Region Syddanmark)."""

    __tablename__ = "municipalities"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[int] = mapped_column(Integer, unique=True)  # kommunekode, e.g. 461 Odense
    name: Mapped[str] = mapped_column(String(100))
    ean: Mapped[str] = mapped_column(String(13), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(4), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")

    # the request list sorts on the name (read from here first, see services/requests.py)
    __table_args__ = (Index("ix_municipalities_name", "name", "id"),)


class Agreement(Base):
    """A standard agreement (Bilag 1) between one municipality and one department.

    The billing settings docs/domain.md marks **(choice)** live here, with their defaults, and are
    printed on every statement.
    """

    __tablename__ = "agreements"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    reference: Mapped[str] = mapped_column(String(100), default="")  # the agreement's own id
    ekg_price: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    # (choice) which outcomes are billed: comma list of outcome codes; default "taken" only
    billable_outcomes: Mapped[str] = mapped_column(String(100), default="taken")
    # (choice) "standalone" (default) or "equal"
    allocation_rule: Mapped[str] = mapped_column(String(20), default="standalone")
    # (choice) ferry minutes become km-equivalents at this speed (60 km/h)
    ferry_speed_kmh: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("60"))
    # (choice) the specified statement masks CPR unless this is set
    statement_full_cpr: Mapped[bool] = mapped_column(Boolean, default=False)
    # (choice) personal data on a statement line: "referral" (the referral number only,
    # default), "name", "name_cpr" (CPR masked unless statement_full_cpr)
    statement_personal_data: Mapped[str] = mapped_column(String(20), default="referral")
    # (choice) VAT percentage; 0 = public health service between authorities (ZeroRated)
    vat_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    # e-invoice: the municipality's EAN for this unit, its person reference, order reference
    invoice_ean: Mapped[str] = mapped_column(String(13), default="")
    person_reference: Mapped[str] = mapped_column(String(100), default="")
    order_reference: Mapped[str] = mapped_column(String(100), default="")
    reply_window_minutes: Mapped[int] = mapped_column(Integer, default=120)
    version: Mapped[int] = mapped_column(Integer, default=1)

    municipality: Mapped[Municipality] = relationship()
    department: Mapped[Department] = relationship()

    __mapper_args__ = {"version_id_col": version}

    def in_force(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    @property
    def billable_outcome_set(self) -> set[str]:
        return {o.strip() for o in self.billable_outcomes.split(",") if o.strip()}


# --- People -----------------------------------------------------------------------------


class Citizen(Base):
    __tablename__ = "citizens"
    id: Mapped[int] = mapped_column(primary_key=True)
    cpr: Mapped[str] = mapped_column(String(11), unique=True)  # stored as DDMMYY-SSSS
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(200))  # registered address (folkeregister)
    postcode: Mapped[str] = mapped_column(String(4))
    city: Mapped[str] = mapped_column(String(100))
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    position_quality: Mapped[str] = mapped_column(String(20), default="")  # exact|approximate
    phone: Mapped[str] = mapped_column(String(40), default="")
    digital_post_exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    # the request list sorts and searches by name, and finds a town's citizens by postcode
    __table_args__ = (Index("ix_citizens_name", "name", "id"),
                      Index("ix_citizens_postcode", "postcode"))


class Bioanalyst(Base):
    __tablename__ = "bioanalysts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    day_start: Mapped[dt.time] = mapped_column(Time, default=dt.time(8, 0))
    day_end: Mapped[dt.time] = mapped_column(Time, default=dt.time(15, 0))
    skills: Mapped[str] = mapped_column(String(200), default="")  # comma list, e.g. "ekg"
    capacity: Mapped[int] = mapped_column(Integer, default=24)  # samples the cool box holds
    phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Department] = relationship()
    absences: Mapped[list[Absence]] = relationship(
        back_populates="bioanalyst", cascade="all, delete-orphan"
    )

    @property
    def skill_set(self) -> set[str]:
        return {s.strip().lower() for s in self.skills.split(",") if s.strip()}


class Absence(Base):
    __tablename__ = "absences"
    id: Mapped[int] = mapped_column(primary_key=True)
    bioanalyst_id: Mapped[int] = mapped_column(ForeignKey("bioanalysts.id"))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")

    bioanalyst: Mapped[Bioanalyst] = relationship(back_populates="absences")


# The request list's free-text search (migration 0010) reads a trigram index of
# ``requests.search_text`` that is not mapped here: on SQLite the FTS5 table below (rowid =
# the request's id; FTS5 keeps shadow tables named after it), kept by triggers; on
# PostgreSQL the GIN index below (pg_trgm), and a narrow copy of the text that a search's
# exact count reads (``PG_SEARCH_COPY``, migration 0013: the request's id, municipality,
# postcodes and text, kept by a trigger). ``migrations/env.py`` leaves these names out of ``alembic check``.
PG_SEARCH_COPY = "requests_text"
SEARCH_TABLES = ("requests_fts", PG_SEARCH_COPY)
SEARCH_INDEXES = ("ix_requests_search_text_trgm",)


# Indexes of the models built on SQLite only (``Index.ddl_if``; migration 0012):
# ``migrations/env.py`` leaves them out of ``alembic check`` on other databases.
SQLITE_ONLY_INDEXES = ("ix_requests_search_count",)


def is_search_index(name: str, type_: str) -> bool:
    """Whether a reflected table or index is one of the search's unmapped ones."""
    if type_ == "table":
        return any(name == t or name.startswith(t + "_") for t in SEARCH_TABLES)
    return type_ == "index" and name in SEARCH_INDEXES


# --- Requests ---------------------------------------------------------------------------

REQUEST_STATUSES = ("open", "planned", "locked", "done", "cancelled", "not_eligible")
CANCEL_CHANNELS = ("electronic", "telephone")


class Request(Base):
    """A booking request (henvisning): one referral, one sampling visit, one fixed fee."""

    __tablename__ = "requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    received: Mapped[dt.date] = mapped_column(Date)
    earliest: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # not before this day
    deadline: Mapped[dt.date] = mapped_column(Date)  # 10th working day after received
    # sampling address when not the registered one (§5); empty = registered address
    address: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(4), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    position_quality: Mapped[str] = mapped_column(String(20), default="")
    access_info: Mapped[str] = mapped_column(Text, default="")  # key box, code, staff present
    presence_required: Mapped[str] = mapped_column(String(200), default="")  # staff/relative
    identity_check: Mapped[str] = mapped_column(String(200), default="")  # bracelet, staff
    ekg: Mapped[bool] = mapped_column(Boolean, default=False)
    requester: Mapped[str] = mapped_column(String(200), default="")  # GP or hospital dept
    preferred_days: Mapped[str] = mapped_column(String(100), default="")  # ISO dates or mon..fri
    window_start: Mapped[dt.time | None] = mapped_column(Time, nullable=True)
    window_end: Mapped[dt.time | None] = mapped_column(Time, nullable=True)  # fasting: 10:00
    stability_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # the municipality's own reference for the referral, when it gave one (on the statement)
    municipality_reference: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(20), default="open")
    not_eligible_reason: Mapped[str] = mapped_column(String(200), default="")
    # the address above is the citizen's registered one as it was at booking
    address_is_registered: Mapped[bool] = mapped_column(Boolean, default=False,
                                                        server_default=false())
    # what the coordinator confirmed at booking: comma list (deadline_passed, duplicate, ...)
    flags: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Stored sort keys of the request list, kept by the database's triggers (migration 0008)
    # in the transaction that changes their inputs, whoever writes them: the first day of the
    # request's visits, and whether a cancellation of it was late. Never written by the code.
    planned_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    late_cancelled: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=false())
    # The text the list's search reads (migration 0010): the citizen's name, the citizen's
    # address and the request's own address, one line each (lower-cased on PostgreSQL).
    # Written by the database's triggers whenever a request or its citizen changes; never
    # written (nor loaded) by the code.
    search_text: Mapped[str] = mapped_column(Text, server_default="", deferred=True)
    # Copies of the citizen's CPR, name and postcode (migration 0011), so that a search (a
    # CPR's digits, a town, a postcode) and a search's sort by CPR or name read the request
    # row alone. Written by the database's triggers when a request is made or moved to
    # another citizen and when its citizen changes; any other write is refused. Columns of
    # the table, not attributes of the class (``unmapped_column``): the ORM never
    # loads or writes them, and the audit trail, which records a row's attributes, never
    # copies a CPR or name into an entry the retention's erasure would not redact. The
    # queries read them as ``Request.__table__.c``.
    citizen_cpr: Unmapped[str] = unmapped_column(String(11), server_default="")
    citizen_name: Unmapped[str] = unmapped_column(String(200), server_default="")
    citizen_postcode: Unmapped[str] = unmapped_column(String(4), server_default="")

    citizen: Mapped[Citizen] = relationship()
    municipality: Mapped[Municipality] = relationship()
    department: Mapped[Department] = relationship()
    agreement: Mapped[Agreement] = relationship()
    cancellations: Mapped[list[Cancellation]] = relationship(back_populates="request")

    __mapper_args__ = {"version_id_col": version}
    # The list's sort keys, each with the id that breaks its ties (keyset pages walk these),
    # the joins it sorts and searches through, and the postcode a town search looks up.
    __table_args__ = (
        Index("ix_requests_deadline", "deadline", "id"),
        Index("ix_requests_status", "status", "id"),
        Index("ix_requests_received", "received", "id"),
        Index("ix_requests_planned_date", "planned_date", "id"),
        Index("ix_requests_late_cancelled", "late_cancelled", "id"),
        Index("ix_requests_ekg", "ekg", "id"),
        Index("ix_requests_address", "address", "id"),
        Index("ix_requests_citizen_id", "citizen_id", "id"),
        Index("ix_requests_municipality_id", "municipality_id", "id"),
        Index("ix_requests_postcode", "postcode"),
        Index("ix_requests_citizen_cpr", "citizen_cpr", "id"),
        Index("ix_requests_citizen_name", "citizen_name", "id"),
        Index("ix_requests_citizen_postcode", "citizen_postcode"),
        # a list of one status (or a few: "Aktive") sorted on a column of its own: the
        # status's rows in order, read from the index alone
        Index("ix_requests_status_deadline", "status", "deadline", "id"),
        Index("ix_requests_status_received", "status", "received", "id"),
        Index("ix_requests_status_planned_date", "status", "planned_date", "id"),
        Index("ix_requests_status_late_cancelled", "status", "late_cancelled", "id"),
        Index("ix_requests_status_ekg", "status", "ekg", "id"),
        Index("ix_requests_status_address", "status", "address", "id"),
        # what a 1–2 letter search is checked on (migration 0012), on SQLite only: its
        # count reads this index from end to end instead of the table's wide rows; nothing
        # is looked up in it. PostgreSQL's planner reads the table (as cheap there)
        Index("ix_requests_search_count", "search_text", "municipality_id", "status"
              ).ddl_if(dialect="sqlite"),
    )

    @property
    def effective_lat(self) -> float | None:
        # a request with its own (booked) address never takes the citizen's current position
        return self.lat if self.lat is not None or self.address else self.citizen.lat

    @property
    def effective_lon(self) -> float | None:
        return self.lon if self.lon is not None or self.address else self.citizen.lon

    @property
    def sampling_address(self) -> str:
        if self.address:
            return f"{self.address}, {self.postcode} {self.city}"
        c = self.citizen
        return f"{c.address}, {c.postcode} {c.city}"


class Cancellation(Base):
    """A cancellation (§6): electronic up to 24 h before, by telephone after; late flagged."""

    __tablename__ = "cancellations"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)  # when the municipality cancelled
    by: Mapped[str] = mapped_column(String(200))  # who called/wrote
    channel: Mapped[str] = mapped_column(String(20))  # electronic | telephone
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    visit_start: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")

    request: Mapped[Request] = relationship(back_populates="cancellations")


# --- Routes and visits ------------------------------------------------------------------

OUTCOMES = ("taken", "not_home", "refused", "cancelled_late")
DRIVEN_OUTCOMES = ("taken", "not_home", "refused")  # the bioanalyst drove there


class Route(Base):
    """One bioanalyst's day from the lab and back."""

    __tablename__ = "routes"
    id: Mapped[int] = mapped_column(primary_key=True)
    bioanalyst_id: Mapped[int] = mapped_column(ForeignKey("bioanalysts.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    planned_km: Mapped[Decimal] = mapped_column(KM, default=Decimal("0"))
    planned_minutes: Mapped[int] = mapped_column(Integer, default=0)
    planned_ferry_minutes: Mapped[Decimal] = mapped_column(MINUTES, default=Decimal("0"))
    driven_km: Mapped[Decimal | None] = mapped_column(KM, nullable=True)  # odometer
    driven_ferry_minutes: Mapped[Decimal | None] = mapped_column(MINUTES, nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    distance_source: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    bioanalyst: Mapped[Bioanalyst] = relationship()
    visits: Mapped[list[Visit]] = relationship(
        back_populates="route", order_by="Visit.sequence"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("bioanalyst_id", "date"),)

    @property
    def km(self) -> Decimal:
        """Recorded km, else planned (domain rule 7)."""
        return self.driven_km if self.driven_km is not None else self.planned_km

    @property
    def ferry_minutes(self) -> Decimal:
        if self.driven_ferry_minutes is not None:
            return self.driven_ferry_minutes
        return self.planned_ferry_minutes

    @property
    def km_is_planned(self) -> bool:
        return self.driven_km is None


class Visit(Base):
    """A request placed on a route: planned arrival, reply window, outcome, billing shares."""

    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id"), nullable=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    planned_arrival: Mapped[dt.time | None] = mapped_column(Time, nullable=True)
    window_start: Mapped[dt.time | None] = mapped_column(Time, nullable=True)  # reply window
    window_end: Mapped[dt.time | None] = mapped_column(Time, nullable=True)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)  # reply sent: keep in window
    reply_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    leg_km: Mapped[Decimal] = mapped_column(KM, default=Decimal("0"))
    leg_ferry_minutes: Mapped[Decimal] = mapped_column(MINUTES, default=Decimal("0"))
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    outcome_note: Mapped[str] = mapped_column(String(200), default="")
    ekg_done: Mapped[bool] = mapped_column(Boolean, default=False)
    # billing shares: stand-alone weight and allocated km/ferry minutes (docs/domain.md)
    standalone_km: Mapped[Decimal | None] = mapped_column(KM, nullable=True)
    ferry_link: Mapped[str] = mapped_column(String(100), default="")
    km_share: Mapped[Decimal | None] = mapped_column(KM, nullable=True)
    ferry_share: Mapped[Decimal | None] = mapped_column(MINUTES, nullable=True)
    shares_locked: Mapped[bool] = mapped_column(Boolean, default=False)  # issued invoice
    version: Mapped[int] = mapped_column(Integer, default=1)

    request: Mapped[Request] = relationship()
    route: Mapped[Route | None] = relationship(back_populates="visits")

    __mapper_args__ = {"version_id_col": version}
    # One referral, one visit: at most one *active* visit (no outcome yet) per request. A late
    # cancellation's visit (outcome cancelled_late) is not active. Migration 0004 adds a
    # trigger on both engines: a request with a cancellation has no active visit.
    __table_args__ = (
        Index("ux_visits_one_active", "request_id", unique=True,
              sqlite_where=text("outcome IS NULL"), postgresql_where=text("outcome IS NULL")),
    )


# --- Rates --------------------------------------------------------------------------------


class WageIndex(Base):
    """Fremskrivningsprocent for løn for one year, entered by finance with its source."""

    __tablename__ = "wage_indexes"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    percent: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    source: Mapped[str] = mapped_column(String(300), default="")
    example: Mapped[bool] = mapped_column(Boolean, default=False)  # demo figure, labelled


class AnnouncedRate(Base):
    """An officially announced rate for a year; wins over indexation (kind: per_referral |
    transport_time)."""

    __tablename__ = "announced_rates"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    source: Mapped[str] = mapped_column(String(300), default="")


class MileageRate(Base):
    """Statens høje takst from a date on."""

    __tablename__ = "mileage_rates"
    valid_from: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    source: Mapped[str] = mapped_column(String(300), default="")


# --- Invoices -----------------------------------------------------------------------------

INVOICE_KINDS = ("invoice", "credit_note")


class Invoice(Base):
    """An invoice or credit note for one municipality (agreement) and month.

    Drafts can be re-run; issuing sets the gapless number and locks it for good.
    """

    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="invoice")
    number: Mapped[int | None] = mapped_column(Integer, unique=True, nullable=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft|issued
    issue_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    vat_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    credits_invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoices.id"), nullable=True
    )
    # the statement's terms (settings used, sources, notes): [[label, value], ...]
    terms: Mapped[list] = mapped_column(JSON, default=list)
    credit_reason: Mapped[str] = mapped_column(Text, default="")  # a credit note's reason
    # issued although incomplete: the administrator's override (reason and what was missing)
    override_reason: Mapped[str] = mapped_column(Text, default="")
    issued_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )
    items: Mapped[list[InvoiceItem]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan"
    )
    documents: Mapped[list[InvoiceDocument]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan"
    )
    agreement: Mapped[Agreement] = relationship()
    municipality: Mapped[Municipality] = relationship()
    department: Mapped[Department] = relationship()


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(30))  # per_referral|transport_km|ferry|mileage|ekg
    text: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit: Mapped[str] = mapped_column(String(20), default="")
    rate: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    amount: Mapped[Decimal] = mapped_column(MONEY)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceItem(Base):
    """One visit on an invoice, with the figures as billed (so a re-print is identical)."""

    __tablename__ = "invoice_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    citizen_name: Mapped[str] = mapped_column(String(200))
    cpr: Mapped[str] = mapped_column(String(11))
    outcome: Mapped[str] = mapped_column(String(20))
    billable: Mapped[bool] = mapped_column(Boolean)
    km_share: Mapped[Decimal] = mapped_column(KM)
    ferry_share: Mapped[Decimal] = mapped_column(MINUTES)
    km_planned: Mapped[bool] = mapped_column(Boolean, default=False)
    ekg: Mapped[bool] = mapped_column(Boolean, default=False)

    invoice: Mapped[Invoice] = relationship(back_populates="items")


class InvoiceDocument(Base):
    """The files of an issued invoice, stored so that they can be re-sent byte for byte."""

    __tablename__ = "invoice_documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    kind: Mapped[str] = mapped_column(String(30))  # invoice_pdf|statement_pdf|statement_csv|oioubl
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))

    invoice: Mapped[Invoice] = relationship(back_populates="documents")


class FerryResolution(Base):
    """The coordinator's answer to ferry minutes that no visit on a route explains: the
    ``minutes`` (the unexplained part when resolved) belong to ``visit_id``. When the route's
    figures change so that another amount is unexplained, the resolution no longer applies."""

    __tablename__ = "ferry_resolutions"
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"), primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    minutes: Mapped[Decimal] = mapped_column(MINUTES)
    note: Mapped[str] = mapped_column(String(200), default="")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (CheckConstraint("minutes > 0", name="ck_ferry_resolution_minutes"),)


DUPLICATE_DECISIONS = ("bill", "drop")


class DuplicateDecision(Base):
    """Finance's decision on a visit flagged as a duplicate (same citizen, municipality and
    day as another billable visit): ``bill`` it, or ``drop`` its fee."""

    __tablename__ = "duplicate_decisions"
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    decision: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(String(200), default="")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (CheckConstraint("decision IN ('bill', 'drop')",
                                      name="ck_duplicate_decision"),)


class IssueOverride(Base):
    """The administrator's explicit permission to issue an incomplete month for one agreement:
    the reason and the problems it covers (one a line). New problems are not covered."""

    __tablename__ = "issue_overrides"
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    month: Mapped[str] = mapped_column(String(7))
    reason: Mapped[str] = mapped_column(Text)
    problems: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("agreement_id", "month"),
                      CheckConstraint("length(reason) > 0", name="ck_issue_override_reason"))


class NumberSequence(Base):
    """Gapless counters (invoice numbers). Incremented under a row lock when issuing."""

    __tablename__ = "number_sequences"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


# --- Settings, users, audit -----------------------------------------------------------------


class Setting(Base):
    """One option, by key; every option and its default is declared in hjemmeprove.settings."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ClosingDay(Base):
    """A date the department adds as closed (staff day, the Friday after Ascension, ...)."""

    __tablename__ = "closing_days"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(String(200), default="")


class User(Base):
    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AuditEntry(Base):
    """Who changed what and when, before and after (written by an ORM hook, never edited)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user: Mapped[str] = mapped_column(String(100))
    table_name: Mapped[str] = mapped_column(String(50))
    row_key: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(10))  # insert|update|delete
    before: Mapped[str] = mapped_column(Text, default="")  # JSON
    after: Mapped[str] = mapped_column(Text, default="")  # JSON

    __table_args__ = (Index("ix_audit_row", "table_name", "row_key"),)


class DistanceCacheEntry(Base):
    """A cached leg from a distance source (rounded positions as key)."""

    __tablename__ = "distance_cache"
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    from_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    to_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    km: Mapped[float] = mapped_column(Float)
    minutes: Mapped[float] = mapped_column(Float)
    ferry_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    ferry_link: Mapped[str] = mapped_column(String(100), default="")


# --- Electronic intake (MedCom CareCommunication) -----------------------------------------
#
# Messages from the municipalities' systems, stored whole (raw bytes) and as parsed fields;
# threads follow Communication.identifier; a message links to the request or cancellation it
# became (``hjemmeprove/intake``).

INTAKE_ACTIVITIES = ("new-message", "reply-message", "forward-message")
INTAKE_OUTCOMES = ("ok", "duplicate", "fatal-error", "acknowledgement", "sent")
INTAKE_HANDLED = ("", "request", "cancellation", "dismissed")


class IntakeSender(Base):
    """A sender organisation (SOR and/or EAN from the message handler) and the municipality
    it speaks for; a message from an organisation not listed here is refused."""

    __tablename__ = "intake_senders"
    id: Mapped[int] = mapped_column(primary_key=True)
    sor: Mapped[str | None] = mapped_column(String(20), unique=True, nullable=True)
    ean: Mapped[str | None] = mapped_column(String(13), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"))

    municipality: Mapped[Municipality] = relationship()


class IntakeThread(Base):
    """One conversation: every message with the same Communication.identifier."""

    __tablename__ = "intake_threads"
    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(100), unique=True)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"),
                                                        nullable=True)
    patient_id: Mapped[str] = mapped_column(String(40), default="")  # CPR or replacement
    patient_name: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(60), default="")
    topic: Mapped[str] = mapped_column(String(200), default="")
    last_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    unread: Mapped[bool] = mapped_column(Boolean, default=True)

    messages: Mapped[list[IntakeMessage]] = relationship(
        back_populates="thread", order_by="IntakeMessage.id")
    segments: Mapped[list[IntakeSegment]] = relationship(
        back_populates="thread", order_by="(IntakeSegment.at, IntakeSegment.id)")


class IntakeMessage(Base):
    """One received (or sent) CareCommunication, raw and parsed."""

    __tablename__ = "intake_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("intake_threads.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3), default="in")  # in | out
    bundle_id: Mapped[str] = mapped_column(String(100))
    header_id: Mapped[str] = mapped_column(String(100), unique=True)  # MessageHeader.id
    activity: Mapped[str] = mapped_column(String(20), default="new-message")
    previous_header_id: Mapped[str] = mapped_column(String(100), default="")
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime)  # Bundle.timestamp, UTC
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    filename: Mapped[str] = mapped_column(String(255), default="")
    format: Mapped[str] = mapped_column(String(4))  # json | xml
    raw: Mapped[bytes] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    sender_sor: Mapped[str] = mapped_column(String(20), default="")
    sender_ean: Mapped[str] = mapped_column(String(13), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    receiver_sor: Mapped[str] = mapped_column(String(20), default="")
    receiver_ean: Mapped[str] = mapped_column(String(13), default="")
    receiver_name: Mapped[str] = mapped_column(String(200), default="")
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipalities.id"),
                                                        nullable=True)
    cpr: Mapped[str] = mapped_column(String(11), default="")  # DDMMYY-SSSS, or empty
    other_ids: Mapped[str] = mapped_column(String(300), default="")  # replacement CPRs
    patient_name: Mapped[str] = mapped_column(String(200), default="")
    patient_address: Mapped[str] = mapped_column(String(200), default="")
    patient_postcode: Mapped[str] = mapped_column(String(10), default="")
    patient_city: Mapped[str] = mapped_column(String(100), default="")
    patient_phone: Mapped[str] = mapped_column(String(40), default="")
    category: Mapped[str] = mapped_column(String(60), default="")
    priority: Mapped[str] = mapped_column(String(20), default="")
    topic: Mapped[str] = mapped_column(String(200), default="")
    episode_of_care: Mapped[str] = mapped_column(String(100), default="")
    ack_code: Mapped[str] = mapped_column(String(20), default="")
    ack_json: Mapped[str] = mapped_column(Text, default="")  # the acknowledgement, re-sent
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    handled: Mapped[str] = mapped_column(String(20), default="")  # INTAKE_HANDLED
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), nullable=True,
                                                   index=True)

    thread: Mapped[IntakeThread] = relationship(back_populates="messages")


class IntakeSegment(Base):
    """A message segment (text or attachment), once per thread however often it is quoted."""

    __tablename__ = "intake_segments"
    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("intake_threads.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("intake_messages.id"))  # first seen in
    identifier: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(DateTime)  # UTC
    kind: Mapped[str] = mapped_column(String(10), default="text")  # text | attachment
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    author_role: Mapped[str] = mapped_column(String(200), default="")
    author_phone: Mapped[str] = mapped_column(String(40), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(300), default="")
    content_type: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    initiator: Mapped[bool] = mapped_column(Boolean, default=False)  # the thread's first sender

    thread: Mapped[IntakeThread] = relationship(back_populates="segments")
    message: Mapped[IntakeMessage] = relationship()

    __table_args__ = (UniqueConstraint("thread_id", "identifier"),)


class IntakeLogEntry(Base):
    """Every file the inbox read and what became of it (refused ones included)."""

    __tablename__ = "intake_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    bundle_id: Mapped[str] = mapped_column(String(100), default="")
    header_id: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[str] = mapped_column(String(20))  # INTAKE_OUTCOMES
    problem: Mapped[str] = mapped_column(Text, default="")
    ack_file: Mapped[str] = mapped_column(String(255), default="")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("intake_messages.id"),
                                                   nullable=True)

    message: Mapped[IntakeMessage | None] = relationship()

# --- Reminders and contact (hjemmeprove/contact) ------------------------------------------
# A visit is keyed by (request, visit date), not by the visit row: planning deletes and
# re-creates unlocked visits, and a reminder for a day that moved must not count for the new one.

REMINDER_CHANNELS = ("letter", "sms", "phone")
PREFERENCE_CHANNELS = ("", "letter", "sms", "phone", "none")  # "" = the department's policy
REMINDER_STATUSES = ("todo", "sent", "delivered", "failed", "reached", "not_reached")
OUTBOX_STATUSES = ("queued", "sending", "sent", "delivered", "failed")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ContactPreference(Base):
    """A citizen's consent to SMS and preferred reminder channel, from a date. Rows are
    history: the newest (recorded_on, id) counts."""

    __tablename__ = "contact_preferences"
    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), nullable=True)
    channel: Mapped[str] = mapped_column(String(10), default="")
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    mobile: Mapped[str] = mapped_column(String(40), default="")  # empty: the citizen's phone
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (CheckConstraint(_in("channel", PREFERENCE_CHANNELS),
                                      name="ck_contact_preferences_channel"),)


class Reminder(Base):
    """One reminder of one visit (request, visit date): channel, number used, status."""

    __tablename__ = "reminders"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    visit_date: Mapped[dt.date] = mapped_column(Date, index=True)
    list_date: Mapped[dt.date] = mapped_column(Date)  # the day's contact list it was made from
    channel: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(15), default="todo")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("request_id", "visit_date", name="uq_reminders_visit"),
        CheckConstraint(_in("channel", REMINDER_CHANNELS), name="ck_reminders_channel"),
        CheckConstraint(_in("status", REMINDER_STATUSES), name="ck_reminders_status"),
    )


class SmsMessage(Base):
    """The SMS outbox: one message per reminder, its text as sent and the gateway's answer."""

    __tablename__ = "sms_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    reminder_id: Mapped[int] = mapped_column(ForeignKey("reminders.id"), unique=True)
    phone: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(480))
    status: Mapped[str] = mapped_column(String(15), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    gateway_status: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (CheckConstraint(_in("status", OUTBOX_STATUSES),
                                      name="ck_sms_outbox_status"),)


class LetterRecord(Base):
    """A citizen letter made for a visit (Digital Post or paper): the citizen has it."""

    __tablename__ = "letter_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    visit_date: Mapped[dt.date] = mapped_column(Date)
    paper: Mapped[bool] = mapped_column(Boolean, default=False)
    filename: Mapped[str] = mapped_column(String(200), default="")
    made_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("request_id", "visit_date", name="uq_letter_records_visit"),)
