"""Computing a month's bills from the facts: which visits, their shares, the lines, and what
still stands in the way of issuing. Reads only; nothing here writes.

Which visits a month bills (per agreement, by sampling date):
- visits with a recorded outcome that are not on an issued invoice (or were credited off it);
  a late cancellation counts whatever way it was entered (day close, or ``requests cancel``,
  which keeps it off the route): billed as a referral when the agreement lists
  ``cancelled_late`` as billable, never with a km or ferry share;
- visits with no outcome yet are *not billable yet*: listed as missing;
- a visit's km/ferry share comes from its route (recorded figures, else planned, then marked).
  Ferry minutes follow the crossings (see ``allocation``); minutes no visit explains are a
  problem until the coordinator resolves them (``FerryResolution``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from hjemmeprove.billing.allocation import VisitWeight, allocate_route
from hjemmeprove.billing.documents import settings_rows as _settings_rows
from hjemmeprove.billing.facts import carries_share, parse_month  # noqa: F401 (re-exported)
from hjemmeprove.documents.model import ItemRow
from hjemmeprove.billing.fees import Line, Quantities, invoice_lines, round2, total
from hjemmeprove.db.models import (
    Agreement,
    Bioanalyst,
    Citizen,
    DuplicateDecision,
    FerryResolution,
    Invoice,
    InvoiceItem,
    Request,
    Route,
    Setting,
    Visit,
)
from hjemmeprove.domain.cpr import mask_cpr
from hjemmeprove.domain.labels import outcome_label

ZERO = Decimal("0")

FERRY_RULE_TEXT = (
    "hver færgeoverfart henføres til besøgene på den ø, overfarten betjener (efter "
    "færgedata), højst øens overfart frem og tilbage pr. tur, og fordeles mellem øens besøg "
    "efter aftalens regel; besøg, der nås ad landevej, bærer aldrig færgetid, og to øer på "
    "samme rute deles aldrig; færgeminutter, som intet besøg forklarer, faktureres ikke, før "
    "koordinatoren har rettet tallet eller henført dem til et besøg")


@dataclass(frozen=True)
class MissingVisit:
    visit_id: int
    date: dt.date
    citizen_name: str


@dataclass(frozen=True)
class DuplicateGroup:
    """Billable visits of one citizen on one day for one municipality."""

    date: dt.date
    citizen_name: str
    visit_ids: tuple[int, ...]
    decisions: dict  # visit id -> "bill" | "drop" (missing = undecided)

    @property
    def decided(self) -> bool:
        return all(v in self.decisions for v in self.visit_ids)

    @property
    def text(self) -> str:
        ids = ", ".join(str(v) for v in self.visit_ids)
        state = ("besluttet: " + ", ".join(
            f"{v} {'faktureres' if self.decisions[v] == 'bill' else 'droppes'}"
            for v in self.visit_ids)) if self.decided else "mangler beslutning"
        return (f"Dublet: {self.citizen_name} {self.date:%d.%m.%Y} har {len(self.visit_ids)} "
                f"fakturerbare besøg ({ids}); {state}")


@dataclass(frozen=True)
class RouteFerry:
    """A route's ferry minutes that no visit explains."""

    route_id: int
    date: dt.date
    analyst: str
    minutes: Decimal

    @property
    def text(self) -> str:
        return (f"{self.analyst} {self.date:%d.%m.%Y} (rute {self.route_id}): "
                f"{_n(self.minutes)} færgeminutter, som intet besøg på ruten forklarer")


@dataclass
class Bill:
    """One municipality's month as it would be billed (plain data)."""

    agreement_id: int
    municipality_code: int
    municipality_name: str
    month: str
    lines: list[Line]
    total: Decimal
    vat_amount: Decimal
    items: list[ItemRow]
    missing: list[MissingVisit]
    notes: list[str]
    settings: list[tuple[str, str]]
    planned_km: bool  # some km share comes from planned figures
    example_rates: bool  # a demo (example) wage percentage is behind a rate
    # what stands in the way of issuing (Danish, naming the visit or route); empty = complete
    problems: list[str] = field(default_factory=list)
    duplicates: list[DuplicateGroup] = field(default_factory=list)

    @property
    def billable_count(self) -> int:
        return sum(1 for i in self.items if i.billable)

    @property
    def complete(self) -> bool:
        return not self.problems


class VisitFacts(NamedTuple):
    """The columns of a visit that billing reads (a month is thousands of visits: as ORM
    objects, loading them was a third of a billing run)."""

    id: int
    date: dt.date
    outcome: str | None
    ekg_done: bool
    sequence: int
    standalone_km: Decimal | None
    ferry_link: str
    km_share: Decimal | None
    ferry_share: Decimal | None
    shares_locked: bool
    route_id: int | None
    request_id: int
    version: int


class RequestFacts(NamedTuple):
    id: int
    status: str
    agreement_id: int
    ekg: bool
    municipality_reference: str | None


class CitizenFacts(NamedTuple):
    id: int
    name: str
    cpr: str


@dataclass
class MonthFacts:
    """What a computation found besides the bills (for day close and issuing)."""

    shares: dict[int, tuple[Decimal, Decimal]]
    unexplained: dict[int, RouteFerry]  # route id -> unexplained minutes
    route_ids: set[int]
    visit_ids: set[int]
    visits: dict[int, VisitFacts] = field(default_factory=dict)  # the month's, as read


def setting(s, key: str):
    """A setting's value through its one declaration (``hjemmeprove.settings``)."""
    from hjemmeprove.settings import OPTIONS, _parse

    option = OPTIONS[key]
    row = s.get(Setting, key)
    return option.default if row is None else _parse(option, row.value)


# --- ferry data ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _links() -> dict:
    from hjemmeprove.planning.ferries import load_links

    return {link.name: link for link in load_links()}


def crossing(ferry_link: str) -> tuple[str, Decimal | None]:
    """(island, minutes of the crossings there and back) of a stand-alone trip's ferry link
    ("A" or "A + B" for a trip over two ferries). Unknown links: (the text, None)."""
    if not ferry_link:
        return "", None
    names = [n.strip() for n in ferry_link.split("+") if n.strip()]
    links = _links()
    known = [links[n] for n in names if n in links]
    if len(known) != len(names):
        return ferry_link, None
    via = {link.from_region for link in known}
    island = next((link.island for link in known if link.island not in via), known[-1].island)
    minutes = sum((Decimal(str(link.crossing_minutes)) for link in known), ZERO) * 2
    return island, minutes


# --- billed visits ---------------------------------------------------------------------------

def billed_visits(s, visit_ids=None) -> dict[int, tuple[int, int | None]]:
    """visit id -> (invoice id, number) for visits on an issued invoice that no credit note
    has credited them off (the facts of these visits are final)."""
    q = (select(InvoiceItem.visit_id, Invoice.id, Invoice.number).join(Invoice)
         .where(Invoice.kind == "invoice", Invoice.status == "issued"))
    if visit_ids is not None:
        visit_ids = _ids(visit_ids)
        if isinstance(visit_ids, list) and not visit_ids:
            return {}
        q = q.where(InvoiceItem.visit_id.in_(visit_ids))
    on_invoice = {vid: (inv_id, number) for vid, inv_id, number in s.execute(q)}
    if not on_invoice:
        return {}
    credited = set(s.execute(
        select(Invoice.credits_invoice_id, InvoiceItem.visit_id).join(InvoiceItem)
        .where(Invoice.kind == "credit_note", Invoice.credits_invoice_id.is_not(None),
               InvoiceItem.visit_id.in_(list(on_invoice)))).all())
    return {vid: ref for vid, ref in on_invoice.items() if (ref[0], vid) not in credited}


def _ids(visit_ids):
    """Visit ids as a list, or as the SELECT that gives them (a month's thousands of ids as
    one subquery, not as thousands of bound parameters)."""
    return visit_ids if isinstance(visit_ids, Select) else list(visit_ids)


def credited_visits(s, visit_ids) -> dict[int, tuple[int, int]]:
    """visit id -> (credit note number, invoice number) for visits credited off an issued
    invoice (the latest credit note), i.e. those a new invoice bills as a replacement."""
    visit_ids = _ids(visit_ids)
    if isinstance(visit_ids, list) and not visit_ids:
        return {}
    out = {}
    for vid, cn_number, inv_id in s.execute(
            select(InvoiceItem.visit_id, Invoice.number, Invoice.credits_invoice_id)
            .join(Invoice).where(Invoice.kind == "credit_note",
                                 InvoiceItem.visit_id.in_(visit_ids))
            .order_by(Invoice.number)):
        out[vid] = (cn_number, s.get(Invoice, inv_id).number)
    return out


# --- shares ----------------------------------------------------------------------------------

def route_shares(s, routes_rows, agreements, default_rule):
    """Allocates each route (rows: (Visit, Request, Citizen, Route)) and returns
    (shares, notes per route, unexplained per route, crossings per route)."""
    by_route: dict[int, list] = defaultdict(list)
    for row in routes_rows:
        if row[3] is not None:
            by_route[row[3].id].append(row)
    resolutions = {r.route_id: r for r in s.scalars(select(FerryResolution).where(
        FerryResolution.route_id.in_(list(by_route))))} if by_route else {}
    analysts = {b.id: b.name for b in s.scalars(select(Bioanalyst))}
    shares: dict[int, tuple[Decimal, Decimal]] = {}
    notes: dict[int, list[str]] = defaultdict(list)
    unexplained: dict[int, RouteFerry] = {}
    for route_id in sorted(by_route):
        rrows = by_route[route_id]
        route = rrows[0][3]
        carriers = sorted((r for r in rrows if carries_share(r[0], r[1])),
                          key=lambda r: (r[0].sequence, r[0].id))
        rules = {agreements[r[1].agreement_id].allocation_rule for r in carriers}
        rule = rules.pop() if len(rules) == 1 else default_rule
        weights = []
        for v, *_ in carriers:
            island, minutes = crossing(v.ferry_link or "")
            weights.append(VisitWeight(
                v.id, v.standalone_km, v.ferry_link or "",
                v.km_share if v.shares_locked else None,
                (v.ferry_share or ZERO) if v.shares_locked else None,
                island=island, crossing_minutes=minutes, trip=(v.sequence or 0) // 100))
        alloc = allocate_route(route.km or ZERO, route.ferry_minutes or ZERO, weights, rule)
        for sh in alloc.shares:
            shares[sh.visit_id] = (sh.km, sh.ferry_minutes)
        if alloc.note:
            notes[route_id].append(alloc.note)
        label = f"{analysts.get(route.bioanalyst_id, '')} {route.date:%d.%m.%Y}"
        if alloc.crossings:
            notes[route_id].append(f"Færge på ruten {label}: " + ", ".join(
                f"{island} {_n(m)} min" for island, m in alloc.crossings))
        if alloc.unexplained_ferry > 0:
            res = resolutions.get(route_id)
            named = {r[0].id: r for r in carriers}
            if res is not None and res.minutes == alloc.unexplained_ferry \
                    and res.visit_id in named:
                km, ferry = shares[res.visit_id]
                shares[res.visit_id] = (km, ferry + res.minutes)
                notes[route_id].append(
                    f"{_n(res.minutes)} færgeminutter på ruten {label} henført til besøget hos "
                    f"{named[res.visit_id][2].name} af koordinatoren")
            else:
                unexplained[route_id] = RouteFerry(
                    route_id, route.date, analysts.get(route.bioanalyst_id, ""),
                    alloc.unexplained_ferry)
    return shares, notes, unexplained


_VISIT_COLUMNS = [getattr(Visit, f) for f in VisitFacts._fields]
_REQUEST_COLUMNS = [getattr(Request, f) for f in RequestFacts._fields]
_CITIZEN_COLUMNS = [getattr(Citizen, f) for f in CitizenFacts._fields]


def _month_visits(q, first: dt.date, last: dt.date):
    """``q`` limited to the visits a month bills or lists: dated in the month, on a route or
    cancelled late."""
    return q.where(Visit.date >= first, Visit.date <= last,
                   or_(Visit.route_id.is_not(None), Visit.outcome == "cancelled_late"))


def _rows(s, first: dt.date, last: dt.date):
    """The month's visits as (VisitFacts, RequestFacts, CitizenFacts, Route or None): plain
    rows read as columns; the routes (a few hundred) as objects, for their rules (``km``,
    ``ferry_minutes``, ``km_is_planned``)."""
    routes = {r.id: r for r in s.scalars(select(Route).where(Route.id.in_(
        select(Visit.route_id).where(Visit.date >= first, Visit.date <= last,
                                     Visit.route_id.is_not(None)))))}
    nv, nr = len(_VISIT_COLUMNS), len(_VISIT_COLUMNS) + len(_REQUEST_COLUMNS)
    out = []
    for row in s.execute(_month_visits(
            select(*_VISIT_COLUMNS, *_REQUEST_COLUMNS, *_CITIZEN_COLUMNS)
            .join(Request, Visit.request_id == Request.id)
            .join(Citizen, Request.citizen_id == Citizen.id), first, last)
            .order_by(Visit.date, Visit.id)):
        v = VisitFacts._make(row[:nv])
        out.append((v, RequestFacts._make(row[nv:nr]), CitizenFacts._make(row[nr:]),
                    routes.get(v.route_id) if v.route_id is not None else None))
    return out


def compute(s, month: str, table, today: dt.date | None = None):
    """(bills, MonthFacts) for a month, per agreement in municipality-code order."""

    first, last = parse_month(month)
    today = today or dt.date.today()
    default_rule = setting(s, "billing.allocation_rule")
    agreements = {a.id: a for a in s.scalars(
        select(Agreement).options(selectinload(Agreement.municipality),
                                  selectinload(Agreement.department)))}
    rows = _rows(s, first, last)
    month_ids = _month_visits(select(Visit.id), first, last)  # the ids of ``rows``
    billed = billed_visits(s, month_ids) if rows else {}
    shares, route_notes, unexplained = route_shares(s, rows, agreements, default_rule)
    analysts = {b.id: b.name for b in s.scalars(select(Bioanalyst))}
    decisions = {d.visit_id: d.decision for d in s.scalars(select(DuplicateDecision).where(
        DuplicateDecision.visit_id.in_(month_ids)))} if rows else {}
    rebilled = credited_visits(s, month_ids) if rows else {}

    rates: dict[dt.date, object] = {}  # a day's rates, looked up once for all its visits
    per_agreement: dict[int, list] = defaultdict(list)
    for row in rows:
        per_agreement[row[1].agreement_id].append(row)
    bills = []
    for agreement_id in sorted(per_agreement, key=lambda a: agreements[a].municipality.code):
        ag = agreements[agreement_id]
        billable_outcomes = ag.billable_outcome_set
        candidates, missing, notes, problems = [], [], [], []
        outside = 0
        routes_of_ag: dict[int, Route] = {}
        for v, req, cit, route in per_agreement[agreement_id]:
            if v.id in billed:
                continue
            if req.status == "not_eligible" or not ag.in_force(v.date):
                outside += 1  # §13 / rule 1: never billed
                continue
            if route is not None:
                routes_of_ag[route.id] = route
            if v.outcome is None:
                if req.status != "cancelled":
                    missing.append(MissingVisit(v.id, v.date, cit.name))
                continue
            candidates.append((v, req, cit, route))

        # duplicates: one citizen, one day, more than one billable visit
        groups: dict[tuple, list] = defaultdict(list)
        for v, req, cit, route in candidates:
            if v.outcome in billable_outcomes:
                groups[(cit.id, v.date)].append((v, cit))
        duplicates = []
        dropped = set()
        for (_cid, day), members in sorted(groups.items(), key=lambda kv: kv[0][1]):
            if len(members) < 2:
                continue
            ids = tuple(sorted(v.id for v, _ in members))
            g = DuplicateGroup(day, members[0][1].name, ids,
                               {i: decisions[i] for i in ids if i in decisions})
            duplicates.append(g)
            if g.decided:
                dropped |= {i for i in ids if g.decisions[i] == "drop"}

        items, qty = [], {}
        planned = example = False
        for v, req, cit, route in candidates:
            km, ferry = shares.get(v.id, (ZERO, ZERO))
            is_billable = v.outcome in billable_outcomes and v.id not in dropped
            ekg = v.outcome == "taken" and route is not None and (
                v.ekg_done or (req.ekg and route.closed_at is None))
            km_planned = route is not None and route.km_is_planned and v.id in shares
            cpr = cit.cpr if ag.statement_full_cpr else mask_cpr(cit.cpr)
            items.append(ItemRow(v.id, v.date, cit.name, cpr, v.outcome, is_billable,
                                 km, ferry, km_planned, ekg, req.id,
                                 req.municipality_reference or "", v.route_id))
            planned |= km_planned
            if route is not None:
                for note in route_notes.get(route.id, []):
                    if note not in notes:
                        notes.append(note)
            r = rates.get(v.date)
            if r is None:  # MissingRate refuses the month, naming the figure
                r = rates[v.date] = table.rates_on(v.date)
            example |= r.example
            key = r.line_rates()
            qty[key] = qty.get(key, Quantities()) + Quantities(
                int(is_billable), km, ferry, int(ekg and ag.ekg_price is not None))
        if outside:
            notes.append(f"{outside} besøg uden for aftalens periode eller ikke omfattet "
                         "faktureres ikke")
        late = [i for i in items if i.outcome == "cancelled_late"]
        if late:
            notes.append(f"{len(late)} sent aflyste besøg: "
                         + ("faktureres som henvisning" if "cancelled_late" in billable_outcomes
                            else "faktureres ikke") + " (uden km-andel)")
        if dropped:
            notes.append(f"{len(dropped)} dublet-besøg droppet efter økonomis beslutning")
        for (cn_number, inv_number), n in sorted(Counter(
                rebilled[i.visit_id] for i in items if i.visit_id in rebilled).items()):
            notes.append(f"Erstatning: {n} besøg krediteret fra faktura nr. {inv_number} ved "
                         f"kreditnota nr. {cn_number} faktureres her efter de rettede oplysninger")
        if not any(i.billable or i.km_share or i.ferry_share for i in items):
            continue

        # what stands in the way of issuing, by name
        if today <= last:
            problems.append(f"Måneden slutter {last:%d.%m.%Y}: der kan udstedes fra "
                            f"{last + dt.timedelta(days=1):%d.%m.%Y}")
        for m in missing:
            problems.append(f"Udfald mangler: {m.citizen_name} {m.date:%d.%m.%Y} "
                            f"(besøg {m.visit_id})")
        for route in sorted(routes_of_ag.values(), key=lambda r: (r.date, r.id)):
            if route.driven_km is None:
                problems.append(f"Kørte km mangler: {analysts.get(route.bioanalyst_id, '')} "
                                f"{route.date:%d.%m.%Y} (rute {route.id})")
            if route.id in unexplained:
                problems.append("Færgeminutter uden forklaring: " + unexplained[route.id].text)
        for g in duplicates:
            if not g.decided:
                problems.append(g.text)

        lines = invoice_lines([(q, r) for r, q in qty.items()], ag.ekg_price,
                              ag.ferry_speed_kmh)
        tot = total(lines)
        vat = round2(tot * ag.vat_percent / 100)
        settings = _settings_rows(ag, month, planned, example, missing, notes, table,
                                  sorted({i.date for i in items}))
        settings.append(("Færgetid", FERRY_RULE_TEXT))
        settings.append(("Sent aflyste besøg", "faktureres som henvisning uden km-andel"
                         if "cancelled_late" in billable_outcomes else
                         "faktureres ikke (" + outcome_label("cancelled_late").lower()
                         + " er ikke et fakturerbart udfald i aftalen)"))
        bills.append(Bill(agreement_id, ag.municipality.code, ag.municipality.name, month,
                          lines, tot, vat, items, missing, notes, settings, planned, example,
                          problems, duplicates))
    facts = MonthFacts(shares, unexplained, {r[3].id for r in rows if r[3] is not None},
                       {r[0].id for r in rows}, {r[0].id: r[0] for r in rows})
    return bills, facts


def _n(d) -> str:
    return format(Decimal(d).normalize(), "f").replace(".", ",")
